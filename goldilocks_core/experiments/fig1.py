"""Chapter 1's reading of Fig. 1: the zone on each curve, the per-seed table and the claims rows.

Works on :func:`goldilocks_core.experiments.zone.fig1`'s table (columns ``model, seed, sweep,
alpha, temperature, pc_hessian, lc_hessian``). The criteria are fixed in :func:`claims_rows`
(from the chapter's settings ``end_fraction`` and ``tied_rtol``) before any number is seen.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from .. import claims
from .curves import half_peak_interval, peak, relative_spread

__all__ = ["PEAK_DECADES", "LC_MARGIN", "mean_curves", "zones", "setup_table", "per_seed", "claims_rows"]

# criteria decided before looking (Fig. 1 shows the peak at α = 1 and T = 1 on log axes)
PEAK_DECADES = 0.5  # the peak within half a decade of α = 1 (of T = 1 on the temperature ray)
LC_MARGIN = 0.05  # local convexity at the peak above both ends of the α grid by at least this


def _check(df: pd.DataFrame, columns) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(f"the table has no column(s) {', '.join(missing)}")


def mean_curves(df: pd.DataFrame, sweep: str) -> pd.DataFrame:
    """Seed means of ``pc_hessian`` and ``lc_hessian`` along one ray, sorted by its variable."""
    _check(df, ("model", "sweep", "alpha", "temperature", "pc_hessian", "lc_hessian"))
    sub = df[df["sweep"] == sweep]
    if sub.empty:
        raise ValueError(f"the table has no {sweep!r} rows")
    x = "temperature" if sweep == "temperature" else "alpha"
    return (sub.groupby(["model", x], as_index=False, sort=True)[["pc_hessian", "lc_hessian"]].mean())


def zones(df: pd.DataFrame) -> dict[str, tuple[float, float]]:
    """{model: α-interval where the seed-mean positive curvature at T = 1 is ≥ half its peak}."""
    curves = mean_curves(df, "alpha")
    return {m: half_peak_interval(c["alpha"], c["pc_hessian"]) for m, c in curves.groupby("model", sort=False)}


def setup_table(df: pd.DataFrame) -> pd.DataFrame:
    """N, P, L, d and the number of seeds per model (index ``model``)."""
    _check(df, ("model", "seed", "num_samples", "num_params", "degree", "subspace_dim"))
    out = df.groupby("model", sort=False)[["num_samples", "num_params", "degree", "subspace_dim"]].first()
    out["seeds"] = df.groupby("model", sort=False)["seed"].nunique()
    return out.rename(columns={"num_samples": "N", "num_params": "P", "degree": "L", "subspace_dim": "d"})


def per_seed(df: pd.DataFrame, sweep: str = "alpha", column: str = "pc_hessian", digits: int = 2) -> pd.DataFrame:
    """``column`` along one ray, one column per (model, seed), rounded to ``digits``."""
    _check(df, ("model", "seed", "sweep", column))
    x = "temperature" if sweep == "temperature" else "alpha"
    out = df[df["sweep"] == sweep].pivot_table(index=x, columns=["model", "seed"], values=column)
    out.index = [f"{v:.3g}" for v in out.index]
    out.index.name = x
    return out.round(digits) + 0.0  # no "-0.0"


def claims_rows(df: pd.DataFrame, cfg: Mapping[str, Any]) -> list[claims.Claim]:
    """The claims of Fig. 1 for every model, with their verdicts.

    Parameters
    ----------
    df : pandas.DataFrame
        :func:`~goldilocks_core.experiments.zone.fig1`'s table (all three rays).
    cfg : mapping
        Reads ``end_fraction`` (|positive curvature| at both ends of the α grid at most this
        fraction of the peak) and ``tied_rtol`` (largest relative spread along T = α^L).

    Returns
    -------
    list of Claim
        Per model: the α-peak within :data:`PEAK_DECADES` of α = 1; ≈ 0 at both ends of the α
        grid; constant along T = α^L (worst seed's (max − min)/|mean|, Eq. 5 on explicitly
        scaled weights); the T-peak within :data:`PEAK_DECADES` of T = 1; local convexity at
        the α-peak at least :data:`LC_MARGIN` above both ends.
    """
    end_fraction, rtol = float(cfg["end_fraction"]), float(cfg["tied_rtol"])
    alpha, temp = mean_curves(df, "alpha"), mean_curves(df, "temperature")
    tied = df[df["sweep"] == "tied"]
    rows = []
    for model, a in alpha.groupby("model", sort=False):
        a_peak, pc_peak = peak(a["alpha"], a["pc_hessian"])
        ends = a["pc_hessian"].to_numpy()[[0, -1]]
        worst_end = float(np.abs(ends).max())
        t = temp[temp["model"] == model]
        t_peak, _ = peak(t["temperature"], t["pc_hessian"])
        spread = max(relative_spread(v) for _, v in tied[tied["model"] == model].groupby("seed")["pc_hessian"])
        lc = a["lc_hessian"].to_numpy()
        lc_at_peak = float(a.loc[a["alpha"] == a_peak, "lc_hessian"].iloc[0])
        lo, hi = a["alpha"].iloc[0], a["alpha"].iloc[-1]
        rows += [
            claims.check(f"{model}: zone centred on α = 1", source="Fig. 1 left, §3",
                         paper="peak near α = 1", here=f"peak {pc_peak:.2f} at α = {a_peak:.3g}",
                         holds=claims.within_decades(a_peak, 1.0, PEAK_DECADES),
                         criterion=f"peak within {PEAK_DECADES:g} decade of α = 1"),
            claims.check(f"{model}: ≈ 0 outside the zone", source="Fig. 1 left",
                         paper=f"≈ 0 at α = {lo:g} and {hi:g}", here=f"max |pc| {worst_end:.2f}",
                         holds=claims.at_most(worst_end, end_fraction * pc_peak),
                         criterion=f"|pc| at both ends ≤ {end_fraction:g} × peak"),
            claims.check(f"{model}: constant along T = α^L", source="Fig. 1 middle, Eq. 5",
                         paper="same curvature at every norm", here=f"spread {claims.fmt(spread, 1)}",
                         holds=claims.at_most(spread, rtol),
                         criterion=f"(max − min)/mean ≤ {rtol:.0e}, worst seed"),
            claims.check(f"{model}: T alone recreates the zone", source="Fig. 1 right",
                         paper="peak near T = 1", here=f"peak at T = {t_peak:.3g}",
                         holds=claims.within_decades(t_peak, 1.0, PEAK_DECADES),
                         criterion=f"peak within {PEAK_DECADES:g} decade of T = 1"),
            claims.check(f"{model}: local convexity marks the zone", source="§2",
                         paper="high inside the zone", here=f"{lc_at_peak:.2f} vs {lc[0]:.2f}, {lc[-1]:.2f}",
                         holds=claims.at_least(lc_at_peak - max(lc[0], lc[-1]), LC_MARGIN),
                         criterion=f"at the peak ≥ both ends + {LC_MARGIN:g}"),
        ]
    return rows
