"""Measured numbers and claims rows of the Kalra & Barkeshli chapter.

:func:`fcn_numbers` and :func:`uv_numbers` reduce the drivers' tables
(:mod:`goldilocks_core.experiments.kalra_barkeshli`) to the numbers the page quotes;
:func:`fcn_claims_rows` and :func:`uv_claims_rows` compare them with the paper. The thresholds
below were written down before the chapter was first run on Fashion-MNIST.
"""
from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd

from .. import claims as C
from .kalra_barkeshli import ordering_fraction, phase_summary, uv_summary

__all__ = ["RHO_MIN", "ORDER_MIN", "OPENING_MIN", "DROP_FACTOR", "C_MAX_UV_RTOL", "fcn_numbers",
           "fcn_claims_rows", "uv_numbers", "uv_claims_rows", "glue_numbers"]

# Criteria fixed before the quick profile was run.
RHO_MIN = 0.7  # "increases with d/w": Spearman ρ between d/w (or 1/w) and the mean constant
UV_RHO_MIN = 0.9  # the uv model is noiseless up to initialisation averages
ORDER_MIN = 0.9  # "c_loss ≤ c_sharp ≤ c_max typically holds": in ≥ 90 % of initialisations
OPENING_MIN = 2.0  # "opens significantly": ⟨c_loss⟩ at the largest d/w ≥ 2 × at the smallest
DROP_FACTOR = 0.8  # "particularly significant drop": median λ_T/λ₀ at 2 < c < c_loss ≤ 0.8 × at c < 2
C_MAX_UV_RTOL = 0.03  # ⟨c_max⟩ = 4 at every width: within 3 % (the c grid steps by 1.4 %)
C_LOSS_UV_MAX = 2.1  # ⟨c_loss⟩ → 2 at large width: within [2, 2.1] at the widest uv model


def _spearman(x, y) -> float:
    from scipy.stats import spearmanr

    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if x.size < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return math.nan
    return float(spearmanr(x, y).statistic)


def _final_sharpness(trajectories: pd.DataFrame) -> pd.DataFrame:
    """Per run (arch, init, c): the last step's λ_t/λ₀ and ℓ_t/ℓ₀, and whether λ ever rose."""
    keys = ["depth", "width", "init", "c"]
    t = trajectories.sort_values("step")
    g = t.groupby(keys, as_index=False)
    out = g.agg(sharpness_final=("sharpness_ratio", "last"), loss_final=("loss_ratio", "last"),
                sharpness_peak=("sharpness_ratio", "max"), diverged=("diverged", "first"))
    out["sharpness_rose"] = np.round(out["sharpness_peak"], 2) > 1.0
    up = t[np.round(t["sharpness_ratio"], 2) > 1.0].groupby(keys)["step"].min().rename("rise_step")
    out = out.merge(up.reset_index(), on=keys, how="left")
    before = t.merge(out[keys + ["rise_step"]], on=keys)
    before = before[before["step"] < before["rise_step"].fillna(np.inf)]
    dip = before.groupby(keys)["sharpness_ratio"].min().rename("dip")
    return out.merge(dip.reset_index(), on=keys, how="left")


def fcn_numbers(constants: pd.DataFrame, trajectories: pd.DataFrame) -> dict[str, float]:
    """The numbers one loss's phase diagram is judged by.

    ``constants``, ``trajectories``: :func:`~goldilocks_core.experiments.kalra_barkeshli.fcn_phase_diagram`
    for one loss. Keys: ``dw_min``/``dw_max`` (smallest and largest d/w) and ⟨c_loss⟩, ⟨c_sharp⟩,
    ⟨c_max⟩ there (``c_loss_small`` … ``c_max_large``, averaged over the architectures sharing
    that d/w); ``rho_loss``/``rho_sharp``/``rho_max`` (Spearman over architectures);
    ``opening`` (⟨c_loss⟩ largest/smallest d/w); ``ordered`` (share of initialisations with
    c_loss ≤ c_sharp ≤ c_max); ``drop_super``/``drop_sub`` (median final λ_t/λ₀ over runs at
    2 < c < c_loss and at c < 2); ``rose_sub`` (share of runs at c < 2 whose sharpness rose);
    ``loss_sub`` (their median final ℓ_t/ℓ₀); ``censored`` (initialisations whose c_max is a
    lower bound); ``rose_quiet`` (share of runs at c < c_loss, whose loss never rose, in which the
    sharpness rose), ``rise_step_quiet`` and ``dip_quiet`` (the median step of that rise and the
    median lowest λ_t/λ₀ before it).
    """
    s = phase_summary(constants)
    by_dw = s.groupby("d_over_w")[["c_loss", "c_sharp", "c_max"]].mean()
    small, large = by_dw.iloc[0], by_dw.iloc[-1]
    runs = _final_sharpness(trajectories).merge(constants[["depth", "width", "init", "c_loss"]],
                                                on=["depth", "width", "init"])
    super_ = runs[(runs["c"] > 2.0) & (runs["c"] < runs["c_loss"]) & ~runs["diverged"]]
    sub = runs[(runs["c"] < 2.0) & ~runs["diverged"]]
    below = runs[(runs["c"] < runs["c_loss"]) & ~runs["diverged"]]  # the loss never rose
    quiet = below[below["sharpness_rose"]]
    return {
        "dw_min": float(by_dw.index[0]), "dw_max": float(by_dw.index[-1]),
        "c_loss_small": float(small["c_loss"]), "c_sharp_small": float(small["c_sharp"]),
        "c_max_small": float(small["c_max"]), "c_loss_large": float(large["c_loss"]),
        "c_sharp_large": float(large["c_sharp"]), "c_max_large": float(large["c_max"]),
        "rho_loss": _spearman(s["d_over_w"], s["c_loss"]), "rho_sharp": _spearman(s["d_over_w"], s["c_sharp"]),
        "rho_max": _spearman(s["d_over_w"], s["c_max"]),
        "opening": float(large["c_loss"] / small["c_loss"]),
        "ordered": ordering_fraction(constants),
        "mean_ordered": float(((s["c_loss"] <= s["c_sharp"]) & (s["c_sharp"] <= s["c_max"])).mean()),
        "drop_super": float(super_["sharpness_final"].median()) if len(super_) else math.nan,
        "drop_sub": float(sub["sharpness_final"].median()) if len(sub) else math.nan,
        "runs_super": float(len(super_)),
        "rose_sub": float(sub["sharpness_rose"].mean()) if len(sub) else math.nan,
        "loss_sub": float(sub["loss_final"].median()) if len(sub) else math.nan,
        "censored": float(constants["censored"].sum()),
        "rose_quiet": float(below["sharpness_rose"].mean()) if len(below) else math.nan,
        "rise_step_quiet": float(quiet["rise_step"].median()) if len(quiet) else math.nan,
        "dip_quiet": float(quiet["dip"].median()) if len(quiet) else math.nan,
    }


def fcn_claims_rows(mse: Mapping[str, float], xent: Mapping[str, float] | None = None) -> list[C.Claim]:
    """Claims rows of the FCN phase diagrams (§2.1, Fig. 3–4, App. F) from :func:`fcn_numbers`."""
    f = C.fmt
    rows = [
        C.check("As d/w → 0 the loss starts to catapult at c ≈ 2", source="§2.1, Fig. 3",
                paper="⟨c_loss⟩ → 2 at large width",
                here=f"⟨c_loss⟩ = {f(mse['c_loss_small'])} at d/w = 1/{round(1 / mse['dw_min'])}",
                holds=2.0 < mse["c_loss_small"] <= 2.0 ** 1.5,
                criterion="2 < ⟨c_loss⟩ ≤ 2^1.5, the first grid point above 2"),
        C.check("⟨c_loss⟩ increases with d/w", source="§2.1, Fig. 3",
                paper="increases, up to ⟨c_max⟩ at large d/w",
                here=f"Spearman ρ = {f(mse['rho_loss'], 2)}",
                holds=C.at_least(mse["rho_loss"], RHO_MIN), criterion=f"ρ(d/w, ⟨c_loss⟩) ≥ {RHO_MIN}"),
        C.check("The sharpness-reduction phase 2 < c < c_loss opens as d/w grows", source="§1.1, Fig. 3",
                paper="opens significantly with d and 1/w",
                here=f"⟨c_loss⟩ × {f(mse['opening'], 2)} from d/w = 1/{round(1 / mse['dw_min'])} "
                     f"to 1/{round(1 / mse['dw_max'])}",
                holds=C.at_least(mse["opening"], OPENING_MIN),
                criterion=f"⟨c_loss⟩ at the largest d/w ≥ {OPENING_MIN:g} × at the smallest"),
        C.check("⟨c_sharp⟩ increases with d/w, between ⟨c_loss⟩ and ⟨c_max⟩", source="§2.1, Fig. 3",
                paper="increases; c_loss ≤ c_sharp ≤ c_max",
                here=f"ρ = {f(mse['rho_sharp'], 2)}; ordered in {f(100 * mse['mean_ordered'], 3)} % "
                     "of architectures",
                holds=C.at_least(mse["rho_sharp"], RHO_MIN) and mse["mean_ordered"] == 1.0,
                criterion=f"ρ ≥ {RHO_MIN} and the means ordered for every architecture"),
        C.check("c_loss ≤ c_sharp ≤ c_max for (almost) every initialisation", source="§2.1, Fig. 4",
                paper="typically holds, outliers at large d/w",
                here=f"{f(100 * mse['ordered'], 3)} % of initialisations",
                holds=C.at_least(mse["ordered"], ORDER_MIN), criterion=f"≥ {100 * ORDER_MIN:g} %"),
        C.check("Sharpness drops most for 2 < c < c_loss", source="§1.1",
                paper="a particularly significant drop above c = 2",
                here=f"median λ_T/λ₀ {f(mse['drop_super'], 2)} (2 < c < c_loss) vs "
                     f"{f(mse['drop_sub'], 2)} (c < 2)",
                holds=(mse["drop_super"] <= DROP_FACTOR * mse["drop_sub"]) if np.isfinite(mse["drop_super"])
                else None,
                criterion=f"median at 2 < c < c_loss ≤ {DROP_FACTOR:g} × median at c < 2"),
        C.check("At small d/w, c_max is the uv/quadratic model's 4", source="§5; Lewkowycz et al.",
                paper="4 in the uv model; not stated for FCNs",
                here=f"⟨c_max⟩ = {f(mse['c_max_small'])} at d/w = 1/{round(1 / mse['dw_min'])}",
                holds=2.0 ** 1.5 <= mse["c_max_small"] <= 2.0 ** 2.5,
                criterion="within one grid step (×2^±0.5) of 4"),
    ]
    if xent is not None:
        rows += [
            C.check("Cross-entropy: the loss catapults at a larger c than with MSE", source="App. F, §6",
                    paper="⟨c_loss⟩ appreciably above 2 at large width",
                    here=f"⟨c_loss⟩ = {f(xent['c_loss_small'])} (MSE {f(mse['c_loss_small'])}) "
                         f"at d/w = 1/{round(1 / xent['dw_min'])}",
                    holds=xent["c_loss_small"] > mse["c_loss_small"] if xent["dw_min"] == mse["dw_min"] else None,
                    criterion="⟨c_loss⟩ (xent) > ⟨c_loss⟩ (MSE) at the same smallest d/w"),
            C.check("Cross-entropy: ⟨c_loss⟩ increases with d/w", source="App. F",
                    paper="c_loss and c_sharp increase with d and 1/w",
                    here=f"Spearman ρ = {f(xent['rho_loss'], 2)}",
                    holds=C.at_least(xent["rho_loss"], RHO_MIN), criterion=f"ρ(d/w, ⟨c_loss⟩) ≥ {RHO_MIN}"),
            C.check("Cross-entropy: c_loss ≤ c_sharp ≤ c_max", source="App. F, Fig. 27",
                    paper="generally holds, some exceptions",
                    here=f"{f(100 * xent['ordered'], 3)} % of initialisations",
                    holds=C.at_least(xent["ordered"], ORDER_MIN), criterion=f"≥ {100 * ORDER_MIN:g} %"),
        ]
    return rows


def uv_numbers(frame: pd.DataFrame) -> dict[str, float]:
    """Numbers of the uv phase diagrams (:func:`~goldilocks_core.experiments.kalra_barkeshli.uv_phase_diagrams`).

    Keys: ``w_min``/``w_max``; with η = c/λ₀: ``c_loss_wide``, ``c_loss_narrow``, ``c_sharp_wide``,
    ``c_max_narrow``, ``rho_loss`` (Spearman of ⟨c_loss⟩ against 1/w), ``ordered`` (share of
    initialisations with c_loss ≤ c_sharp ≤ c_max); with η = c/tr H₀: ``trace_c_max_lo``/``_hi``
    (smallest and largest ⟨c_max⟩ over widths), ``trace_c_loss_narrow``, ``trace_no_sharp``
    (share of initialisations with c_sharp = c_max).
    """
    s = uv_summary(frame)
    lam, tr = s[s["scale"] == "lambda"].sort_values("width"), s[s["scale"] == "trace"].sort_values("width")
    lf = frame[frame["scale"] == "lambda"]
    tf = frame[frame["scale"] == "trace"]
    ordered = (lf["c_loss"] <= lf["c_sharp"]) & (lf["c_sharp"] <= lf["c_max"])
    return {
        "w_min": float(lam["width"].iloc[0]), "w_max": float(lam["width"].iloc[-1]),
        "c_loss_wide": float(lam["c_loss"].iloc[-1]), "c_loss_narrow": float(lam["c_loss"].iloc[0]),
        "c_sharp_wide": float(lam["c_sharp"].iloc[-1]), "c_sharp_narrow": float(lam["c_sharp"].iloc[0]),
        "c_max_wide": float(lam["c_max"].iloc[-1]), "c_max_narrow": float(lam["c_max"].iloc[0]),
        "rho_loss": _spearman(lam["inv_width"], lam["c_loss"]),
        "ordered": float(ordered.mean()),
        "trace_c_max_lo": float(tr["c_max"].min()), "trace_c_max_hi": float(tr["c_max"].max()),
        "trace_c_loss_narrow": float(tr["c_loss"].iloc[0]), "trace_c_loss_wide": float(tr["c_loss"].iloc[-1]),
        "trace_no_sharp": float(np.isclose(tf["c_sharp"], tf["c_max"]).mean()),
    }


def uv_claims_rows(uvn: Mapping[str, float]) -> list[C.Claim]:
    """Claims rows of the uv model (§5, Fig. 7, App. B) from :func:`uv_numbers`."""
    f = C.fmt
    lo, hi = uvn["trace_c_max_lo"], uvn["trace_c_max_hi"]
    return [
        C.check("uv, η = c/tr H₀: ⟨c_max⟩ = 4 at every width", source="§5, Fig. 7b",
                paper="⟨c_max⟩ = 4, independent of width", here=f"{f(lo)} … {f(hi)}",
                holds=C.within(lo, 4.0, rtol=C_MAX_UV_RTOL) and C.within(hi, 4.0, rtol=C_MAX_UV_RTOL),
                criterion=f"every width within {100 * C_MAX_UV_RTOL:g} % of 4"),
        C.check("uv, η = c/λ₀: the loss catapults at c ≈ 2 at large width", source="§5, Fig. 7a",
                paper="⟨c_loss⟩ → 2 as w → ∞",
                here=f"⟨c_loss⟩ = {f(uvn['c_loss_wide'])} at w = {int(uvn['w_max'])}",
                holds=C.between(uvn["c_loss_wide"], 2.0, C_LOSS_UV_MAX),
                criterion=f"2 ≤ ⟨c_loss⟩ ≤ {C_LOSS_UV_MAX:g} at the largest width"),
        C.check("uv: ⟨c_loss⟩ grows with 1/w (the sharpness-reduction phase opens)", source="§5, App. B.3",
                paper="c_loss increases from 2 as w decreases",
                here=f"{f(uvn['c_loss_wide'])} → {f(uvn['c_loss_narrow'])} (w = {int(uvn['w_max'])} → "
                     f"{int(uvn['w_min'])}); ρ = {f(uvn['rho_loss'], 2)}",
                holds=C.at_least(uvn["rho_loss"], UV_RHO_MIN), criterion=f"ρ(1/w, ⟨c_loss⟩) ≥ {UV_RHO_MIN}"),
        C.check("uv: c_loss ≤ c_sharp ≤ c_max for every initialisation", source="App. B.6, Fig. 12",
                paper="holds for every initialisation",
                here=f"{f(100 * uvn['ordered'], 4)} % of initialisations",
                holds=C.at_least(uvn["ordered"], 0.99), criterion="≥ 99 %"),
        C.check("uv, sharpness tr H: no loss-and-sharpness catapult", source="§5, Fig. 7b",
                paper="tr H does not increase for c < c_max",
                here=f"c_sharp = c_max in {f(100 * uvn['trace_no_sharp'], 4)} % of initialisations",
                holds=C.at_least(uvn["trace_no_sharp"], 0.99), criterion="≥ 99 %"),
    ]


def glue_numbers(numbers: Mapping[str, float], prefix: str) -> None:
    """Glue every number as ``<prefix>-<key>`` (a float; d/w values also as ``…-inv`` = 1/x)
    with :func:`goldilocks_core.claims.glue_numbers`."""
    inverse = {f"{k}-inv": int(round(1.0 / float(v))) for k, v in numbers.items() if k.startswith("dw_")}
    C.glue_numbers({**{k: float(v) for k, v in numbers.items()}, **inverse}, prefix=f"{prefix}-")
