"""Chapter 3, "Revisiting the Goldilocks zone": what the chapter reads off its runs.

Vysogorets, Dawid & Kempe (ICML 2024), §3. The runs themselves are
:func:`~goldilocks_core.experiments.zone.fig2` (Fig. 2) and
:func:`~goldilocks_core.experiments.zone.identity_checks` (Eq. 3 and Eq. 5 against explicitly
scaled weights); this module turns their tables into the chapter's numbers and claims rows:

* :func:`eq5_summary` — the errors of Eq. 5 split by whether the softmax has collapsed;
* :func:`zone_locations` — the zone from curvature against the strip ‖G‖₂ ≥ ‖H-term‖₂ (Eq. 6);
* :func:`fig2_summary` — per model: norms at α = 1 and at both ends, where the G-term's
  positive curvature peaks, how monotone it is;
* :func:`claims_rows` — the claims table, with criteria fixed before any number was seen.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from .. import claims
from . import curves

__all__ = ["gradient_table", "eq5_table", "zone_table", "eq5_summary", "zone_locations", "fig2_summary", "claims_rows",
           "COLLAPSED_EXPONENT", "G_TERM_EPS_FACTOR", "JACCARD_MIN", "PEAK_ALPHA_MAX", "MONOTONE_TOL"]

# a softmax counts as collapsed where β·max_n(max_k z − min_k z) > 1e3 (one-hot up to e^(−1000))
COLLAPSED_EXPONENT = 1e3
# the G-term of a collapsed softmax is conditioned like its probabilities: allowed error
# rtol + G_TERM_EPS_FACTOR·ε·β·max|z| (a rounding error δ in z is a relative error β·δ in e^(−βΔz))
G_TERM_EPS_FACTOR = 100.0
# criteria fixed before the quick-profile numbers were seen
JACCARD_MIN = 0.5  # zone and strip overlap by more than half their joint extent in log α
PEAK_ALPHA_MAX = 0.1  # "highest positive curvature [of the G-term] at low initialization scales"
MONOTONE_TOL = 0.01  # "positive curvature of the G-term monotonically decreases": no rise above this

_EPS = float(np.finfo(np.float64).eps)


# ----------------------------------------------------------------------------- Eq. 3 and Eq. 5
def eq5_summary(hessians: pd.DataFrame, *, rtol: float) -> dict[str, float]:
    """The errors of :func:`~goldilocks_core.experiments.zone.eq5_errors`, classified (Eq. 5).

    Parameters
    ----------
    hessians : DataFrame
        Rows of ``eq5_errors`` (columns ``err_*``, ``beta``, ``exponent_range``, ``logit_scale``,
        ``log10_norm_g_term``).
    rtol : float
        The relative tolerance of the identity in float64 (the chapter's ``identity_rtol``).

    Returns
    -------
    dict
        ``num_points``, ``num_collapsed`` (β·max Δz > :data:`COLLAPSED_EXPONENT`);
        ``worst_not_collapsed`` (every matrix and gradient where the softmax has not collapsed);
        ``worst_hessian_h_term_grad`` (Hessian, H-term and gradient, every point);
        ``worst_g_term_over_bound`` (max of the G-term error / (rtol + :data:`G_TERM_EPS_FACTOR`·ε·β·max|z|):
        ≤ 1 where the G-term agrees within its conditioning); ``g_term_error_per_beta_z`` (G-term
        error / (β·max|z|) at collapsed points, NaN if none); ``worst_tied`` (H' = α⁻²H at
        T = α^L); ``min_log10_norm_g_term``.
    """
    if rtol <= 0:
        raise ValueError(f"rtol must be positive, got {rtol!r}")
    need = ["err_engine_g_term", "err_formula_g_term", "err_tied_hessian", "beta", "exponent_range",
            "logit_scale", "log10_norm_g_term"]
    missing = [c for c in need if c not in hessians.columns]
    if missing or hessians.empty:
        raise ValueError(f"hessians must be eq5_errors rows; missing {', '.join(missing) or 'rows'}")
    err_cols = [c for c in hessians.columns if c.startswith("err_")]
    g_cols = ["err_engine_g_term", "err_formula_g_term"]
    other = [c for c in err_cols if c not in (*g_cols, "err_tied_hessian")]
    collapsed = hessians["exponent_range"] > COLLAPSED_EXPONENT
    g_err = hessians[g_cols].max(axis=1)
    bz = hessians["beta"] * hessians["logit_scale"]
    well = hessians.loc[~collapsed, [c for c in err_cols if c != "err_tied_hessian"]]
    tied = hessians["err_tied_hessian"].dropna()
    return {
        "num_points": int(len(hessians)),
        "num_collapsed": int(collapsed.sum()),
        "worst_not_collapsed": float(well.max().max()) if len(well) else 0.0,
        "worst_hessian_h_term_grad": float(hessians[other].max().max()),
        "worst_g_term_over_bound": float((g_err / (rtol + G_TERM_EPS_FACTOR * _EPS * bz)).max()),
        "g_term_error_per_beta_z": float((g_err / bz)[collapsed].max()) if collapsed.any() else math.nan,
        "worst_tied": float(tied.max()) if len(tied) else math.nan,
        "min_log10_norm_g_term": float(hessians["log10_norm_g_term"].min()),
    }


def gradient_table(grads: pd.DataFrame) -> pd.DataFrame:
    """Eq. 3's check as a table: model, α, T = α^L and the relative error as a power-of-ten bound
    (:func:`~goldilocks_core.experiments.curves.error_bound`, no rounding noise)."""
    out = grads[["model", "alpha", "temperature"]].copy()
    out["temperature"] = [f"{t:.3g}" for t in out["temperature"]]
    out["relative error"] = grads["rel_error"].map(curves.error_bound)
    return out.reset_index(drop=True)


def eq5_table(hessians: pd.DataFrame) -> pd.DataFrame:
    """Eq. 5's check as a table: the largest relative error over (α, T) of each comparison
    (rows: engine/formula × Hessian/G-term/H-term, gradient, tied) for each model (columns),
    as power-of-ten bounds."""
    cols = [c for c in hessians.columns if c.startswith("err_")]
    if not cols or "model" not in hessians.columns:
        raise ValueError("hessians must be identity_checks rows with a model column")
    t = hessians.groupby("model", sort=False)[cols].max().T
    t.index = [c.removeprefix("err_").replace("_", " ") for c in cols]
    return t.apply(lambda column: column.map(curves.error_bound))


def zone_table(locations: Mapping[str, curves.ZoneLocation]) -> pd.DataFrame:
    """The zone from curvature against the strip ‖G‖₂ ≥ ‖H-term‖₂, one row per model."""
    rows = []
    for model, loc in locations.items():
        rows.append({"model": model, "peak pc": round(loc.peak_value, 2), "peak at α": f"{loc.peak_alpha:.3g}",
                     "zone (α)": f"[{loc.zone[0]:.2f}, {loc.zone[1]:.2f}]",
                     "strip (α)": ", ".join(f"[{lo:.2f}, {hi:.2f}]" for lo, hi in loc.strips) or "none",
                     "Jaccard": round(loc.overlap, 2)})
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------------- Fig. 2
def _means(df: pd.DataFrame) -> pd.DataFrame:
    cols = ["pc_hessian", "pc_g_term", "pc_h_term", "log10_norm_hessian", "log10_norm_g_term",
            "log10_norm_h_term"]
    missing = [c for c in ("model", "alpha", *cols) if c not in df.columns]
    if missing:
        raise ValueError(f"the table has no column(s) {', '.join(missing)}")
    # log10 norms averaged: the geometric mean of the norms over seeds
    return df.groupby(["model", "alpha"], sort=False, as_index=False)[cols].mean()


def zone_locations(df: pd.DataFrame, *, fraction: float = 0.5) -> dict[str, curves.ZoneLocation]:
    """:func:`~goldilocks_core.experiments.curves.locate_zone` on the seed-mean curves of each model.

    The zone is where mean positive curvature (Eq. 2) of the Hessian is ≥ ``fraction`` of its
    peak; the strip where the seed-mean log10 ‖G‖₂ ≥ log10 ‖H-term‖₂ (Eq. 6).
    """
    out = {}
    for model, curve in _means(df).groupby("model", sort=False):
        curve = curve.sort_values("alpha")
        out[model] = curves.locate_zone(curve["alpha"], curve["pc_hessian"], curve["log10_norm_g_term"],
                                      curve["log10_norm_h_term"], fraction=fraction)
    return out


def fig2_summary(df: pd.DataFrame) -> pd.DataFrame:
    """Per model, the numbers behind the paper's statements about Fig. 2 (seed means).

    Returns
    -------
    DataFrame indexed by model, columns: ``N, L, seeds``; ``log10_gap_at_1`` (log10 ‖G‖₂ −
    log10 ‖H-term‖₂ at the α closest to 1), ``alpha_min``, ``log10_gap_at_min`` (at the smallest α),
    ``alpha_max``, ``log10_gap_at_max`` (at the largest α; −inf if the G-term vanished);
    ``pc_g_peak``, ``pc_g_peak_alpha`` (where the G-term's positive curvature is highest);
    ``pc_g_largest_rise`` (largest increase of the G-term's positive curvature between
    neighbouring α: ≤ 0 for a monotonically decreasing curve).
    """
    rows = {}
    means = _means(df)
    for model, c in means.groupby("model", sort=False):
        c = c.sort_values("alpha").reset_index(drop=True)
        gap = (c["log10_norm_g_term"] - c["log10_norm_h_term"]).to_numpy()
        i1 = int(np.argmin(np.abs(np.log10(c["alpha"].to_numpy()))))
        ipk = int(np.argmax(c["pc_g_term"].to_numpy()))
        sub = df[df["model"] == model]
        rows[model] = {
            "N": int(sub["num_samples"].iloc[0]) if "num_samples" in sub else -1,
            "L": int(sub["degree"].iloc[0]) if "degree" in sub else -1,
            "seeds": int(sub["seed"].nunique()) if "seed" in sub else 1,
            "log10_gap_at_1": float(gap[i1]),
            "alpha_min": float(c["alpha"].iloc[0]), "log10_gap_at_min": float(gap[0]),
            "alpha_max": float(c["alpha"].iloc[-1]), "log10_gap_at_max": float(gap[-1]),
            "pc_g_peak": float(c["pc_g_term"].iloc[ipk]), "pc_g_peak_alpha": float(c["alpha"].iloc[ipk]),
            "pc_g_largest_rise": float(np.diff(c["pc_g_term"].to_numpy()).max()) if len(c) > 1 else 0.0,
        }
    return pd.DataFrame.from_dict(rows, orient="index")


def claims_rows(grads: pd.DataFrame, hessians: pd.DataFrame, df: pd.DataFrame, cfg: Mapping[str, Any],
                *, comparable: Mapping[str, bool] | None = None) -> list[claims.Claim]:
    """The claims table of chapter 3: Eq. 3 and Eq. 5 (against explicit scaling), then Fig. 2.

    Parameters
    ----------
    grads, hessians : DataFrame
        :func:`~goldilocks_core.experiments.zone.identity_checks` output.
    df : DataFrame
        :func:`~goldilocks_core.experiments.zone.fig2` output.
    cfg : mapping
        The chapter's settings (``identity_rtol``, ``zone_fraction``).
    comparable : mapping model → bool, optional
        ``False`` for a model whose data differ from the paper's so that its number is not
        comparable (default: every model comparable).

    Returns
    -------
    list of :class:`~goldilocks_core.claims.Claim`
    """
    rtol = float(cfg["identity_rtol"])
    fraction = float(cfg.get("zone_fraction", 0.5))
    comparable = dict(comparable or {})
    e5 = eq5_summary(hessians, rtol=rtol)
    worst_grad = float(grads["rel_error"].max())
    rows = [
        claims.check("∇θ'ℓ = α⁻¹∇θℓ at T = α^L, explicit scaling vs Eq. 3", source="Eq. 3",
                     paper="identity", here=f"max rel. error {curves.error_bound(worst_grad)}",
                     holds=claims.at_most(worst_grad, rtol), criterion=f"≤ {rtol:.0e} (float64)"),
        claims.check("Eq. 5: Hessian, H-term and gradient of explicitly scaled weights", source="Eq. 5",
                     paper="identity", here=f"max rel. error {curves.error_bound(e5['worst_hessian_h_term_grad'])}",
                     holds=claims.at_most(e5["worst_hessian_h_term_grad"], rtol),
                     criterion=f"≤ {rtol:.0e} at every (α, T)"),
        claims.check("Eq. 5: G-term of explicitly scaled weights", source="Eq. 5", paper="identity",
                     here=f"max error / bound {claims.fmt(e5['worst_g_term_over_bound'], 2)}",
                     holds=claims.at_most(e5["worst_g_term_over_bound"], 1.0),
                     criterion=f"≤ {rtol:.0e} + {G_TERM_EPS_FACTOR:g}·ε·β·max|z| (conditioning)"),
        claims.check("at T = α^L the Hessian is α⁻² times the unscaled one", source="Eq. 5",
                     paper="H' = α⁻²H", here=f"max rel. error {curves.error_bound(e5['worst_tied'])}",
                     holds=claims.at_most(e5["worst_tied"], rtol), criterion=f"≤ {rtol:.0e}"),
    ]
    locs = zone_locations(df, fraction=fraction)
    summary = fig2_summary(df)
    for model, loc in locs.items():
        s, ok = summary.loc[model], comparable.get(model, True)
        name = model
        rows += [
            claims.check(f"{name}: the zone is where ‖G‖₂ ≥ ‖H-term‖₂", source="Eq. 6, Fig. 2",
                         paper="exact correspondence", here=f"Jaccard {loc.overlap:.2f} in log α",
                         holds=bool(loc.overlap > JACCARD_MIN),
                         criterion=f"zone (≥ {fraction:.0%} of peak) and strip overlap > {JACCARD_MIN}",
                         comparable=ok),
            claims.check(f"{name}: curvature peak inside the strip", source="Fig. 2",
                         paper="peak in the strip", here=f"peak at α = {loc.peak_alpha:.3g}, "
                         f"{'inside' if loc.peak_in_strip else 'outside'}", holds=loc.peak_in_strip,
                         criterion="peak α within a strip", comparable=ok),
            claims.check(f"{name}: G-term dominates at α = 1", source="§3, Fig. 2 (bottom)",
                         paper="‖G‖₂ > ‖H-term‖₂", here=f"log10 ratio {s.log10_gap_at_1:+.2f}",
                         holds=s.log10_gap_at_1 > 0, criterion="log10 ‖G‖₂/‖H-term‖₂ > 0", comparable=ok),
            claims.check(f"{name}: H-term dominates at small α", source="§3, Fig. 2 (bottom)",
                         paper="‖G‖₂ decays faster", here=f"log10 ratio {s.log10_gap_at_min:+.2f} at "
                         f"α = {s.alpha_min:.3g}", holds=s.log10_gap_at_min < 0,
                         criterion="log10 ratio < 0 at the smallest α", comparable=ok),
            claims.check(f"{name}: G-term plummets at large α", source="§3, Fig. 2 (bottom)",
                         paper="‖G‖₂ → 0", here=f"log10 ratio {claims.fmt(s.log10_gap_at_max)} at "
                         f"α = {s.alpha_max:.3g}", holds=s.log10_gap_at_max < 0,
                         criterion="log10 ratio < 0 at the largest α", comparable=ok),
            claims.check(f"{name}: G-term curvature highest at low α", source="§3, Fig. 2 (top)",
                         paper="highest at low α", here=f"peak {s.pc_g_peak:.2f} at α = {s.pc_g_peak_alpha:.3g}",
                         holds=claims.at_most(s.pc_g_peak_alpha, PEAK_ALPHA_MAX),
                         criterion=f"peak at α ≤ {PEAK_ALPHA_MAX:g}", comparable=ok),
            claims.check(f"{name}: G-term curvature decreases monotonically", source="§4, Fig. 2 (top)",
                         paper="monotone in α", here=f"largest rise {s.pc_g_largest_rise:+.3f}",
                         holds=claims.at_most(s.pc_g_largest_rise, MONOTONE_TOL),
                         criterion=f"no rise > {MONOTONE_TOL:g} between grid points", comparable=ok),
        ]
    return rows
