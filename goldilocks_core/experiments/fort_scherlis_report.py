"""Reading the Fort & Scherlis chapter's runs: tables, success of training cells and the claims rows.

The criteria are fixed here, before any run is looked at (CHAPTERS.md):

* the zone is where the seed-mean positive curvature on hyperplanes is ≥ ``zone_fraction`` × its
  peak (half, as in chapter 1);
* a training cell *succeeds* when its final test accuracy is ≥ chance + ``success_fraction`` ×
  (best − chance), best being the best final accuracy at the same d over both protocols;
* a hyperplane through r·θ̂ (R ⊥ θ̂) contains points of every norm ≥ r, so it *meets* the zone iff
  r ≤ the zone's upper edge; a sphere meets it iff its radius lies inside the zone.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from .. import claims
from .fort_scherlis import SURFACE_PROTOCOLS, final_accuracies, mean_curves, peak_radius, zone_interval

__all__ = ["PEAK_MIN", "END_FRACTION", "LC_MARGIN", "AGREEMENT_MIN", "ENTROPY_PEAK_MIN", "ENTROPY_END_MAX",
           "curvature_figure_data", "training_figure_data", "curvature_summary", "training_summary",
           "substitutions", "setup_table", "meets_zone", "success_table", "accuracy_table", "claims_rows"]

PEAK_MIN = 1.0  # the peak of Tr/‖·‖_F at least that of a rank-one PSD matrix
END_FRACTION = 0.25  # |positive curvature| at both ends of the radius grid ≤ this × the peak
LC_MARGIN = 0.1  # local convexity at the peak ≥ both ends + this
AGREEMENT_MIN = 0.8  # share of cells where "succeeds" equals "meets the zone"
ENTROPY_PEAK_MIN = 0.5  # mean softmax entropy / log K at the peak (a low-confidence network)
ENTROPY_END_MAX = 0.1  # … and at the largest radius (a saturated softmax)

FIXED, SCALED = (name for name, *_ in SURFACE_PROTOCOLS)


def substitutions(cfg: Mapping[str, Any]) -> pd.DataFrame:
    """Fort & Scherlis' setting against what this profile runs, one row per part of the chapter."""
    def data(spec):
        n = spec.get("num_samples")
        return f"{spec['name']}, " + ("all training images" if n is None else f"{n:,} images")

    rows = [
        {"part": "network, data", "paper": "FC ReLU/tanh nets, MNIST, CIFAR-10", "here": data(cfg["model"])},
        {"part": "curvature", "paper": "random hyperplanes and spheres",
         "here": f"d = {cfg['subspace_dim']}, {len(cfg['curvature_ratios'])} radii, {cfg['num_seeds']} seeds"},
        {"part": "training", "paper": "random hyperplanes and spheres, MNIST", "here": data(cfg["train_model"])},
        {"part": "optimiser", "paper": "one optimiser for every radius",
         "here": f"SGD, batch {cfg['batch_size']}, {cfg['steps']:,} steps, η₀ = {cfg['base_lr']:g}"},
        {"part": "subspace dims", "paper": "several d", "here": ", ".join(str(d) for d in cfg["train_dims"])},
    ]
    return pd.DataFrame(rows, columns=["part", "paper", "here"]).set_index("part")


def setup_table(curv: pd.DataFrame, cfg: Mapping[str, Any]) -> pd.DataFrame:
    """N, P, L, d, seeds and the Xavier and Kaiming radii of the curvature runs (one row)."""
    r = curv.attrs["radii"]
    row = {"N": curv.attrs["num_samples"], "P": curv.attrs["num_params"], "L": curv.attrs["degree"],
           "d": int(cfg["subspace_dim"]), "seeds": int(curv["seed"].nunique()),
           "r_Xavier": round(r["xavier"], 2), "r_Kaiming": round(r["kaiming"], 2)}
    return pd.DataFrame([row], index=pd.Index([cfg["model"]["name"]], name="network"))


def curvature_figure_data(curv: pd.DataFrame, cfg: Mapping[str, Any]) -> dict:
    """Keyword arguments of :func:`goldilocks_core.plotting.radius_curvature_figure`."""
    curves = {(s, m): mean_curves(curv, s, m) for s in ("hyperplane", "sphere") for m in ("pc", "lc")}
    return {"curves": curves, "radii": curv.attrs["radii"], "num_seeds": int(curv["seed"].nunique()),
            "zone": zone_interval(curv, fraction=float(cfg["zone_fraction"]))}


def training_figure_data(runs: pd.DataFrame, zone: tuple[float, float]) -> dict:
    """Keyword arguments of :func:`goldilocks_core.plotting.subspace_training_figure`."""
    return {"final": final_accuracies(runs), "radii": runs.attrs["radii"], "zone": zone,
            "chance": 1.0 / int(runs.attrs["num_classes"])}


def curvature_summary(curv: pd.DataFrame, cfg: Mapping[str, Any]) -> dict[str, float]:
    """Numbers the text quotes (4 significant digits): the zone's edges, the peaks on both surfaces; at
    the Kaiming radius the hyperplane's Tr(H_d) against the sphere's shift −d·θ·∇ℓ/r² and the mean
    softmax entropy / log K; η₀·λ_max(H_d) there and at the next training radius; the entropy at the
    smallest training radius (seed means)."""
    lo, hi = zone_interval(curv, fraction=float(cfg["zone_fraction"]))
    r_peak, pc_peak = peak_radius(curv, "hyperplane")
    s_peak, s_value = peak_radius(curv, "sphere")
    plane = curv[curv["surface"] == "hyperplane"].groupby("ratio")[["trace", "lmax", "shift", "entropy"]].mean()
    log_q = np.log(plane.index.to_numpy())
    at_k = plane.iloc[int(np.argmin(np.abs(log_q)))]
    ratios = sorted(float(q) for q in cfg["train_ratios"])
    above = next((q for q in ratios if q > 1.0 + 1e-9), max(ratios))
    at_next = plane.iloc[int(np.argmin(np.abs(log_q - np.log(above))))]
    at_small = plane.iloc[int(np.argmin(np.abs(log_q - np.log(ratios[0]))))]
    d, lr = int(cfg["subspace_dim"]), float(cfg["base_lr"])
    out = {"zone_lo": lo, "zone_hi": hi, "peak_radius": r_peak, "peak_pc": pc_peak, "sphere_peak_radius": s_peak,
           "sphere_peak_pc": s_value, "kaiming_trace": at_k["trace"], "kaiming_shift_trace": -d * at_k["shift"],
           "kaiming_entropy": at_k["entropy"], "lr_lmax_kaiming": lr * at_k["lmax"],
           "next_ratio": above, "lr_lmax_next": lr * at_next["lmax"], "small_ratio": ratios[0],
           "small_entropy": at_small["entropy"], "r_xavier": curv.attrs["radii"]["xavier"],
           "r_kaiming": curv.attrs["radii"]["kaiming"]}
    return {k: claims.significant(v, 4) for k, v in out.items()}


def training_summary(success: pd.DataFrame) -> dict[str, float]:
    """Numbers the text quotes: the smallest and largest d, the best final accuracy and the success bar
    at each (2 significant digits), and how many cells diverged."""
    out: dict[str, float] = {"diverged": int(success["diverged"].sum())}
    for end, d in (("min", int(success["dim"].min())), ("max", int(success["dim"].max()))):
        g = success[success["dim"] == d]
        out.update({f"d_{end}": d, f"best_d{end}": claims.significant(g["test_accuracy"].max(), 2),
                    f"bar_d{end}": claims.significant(g["bar"].iloc[0], 2)})
    return out


def meets_zone(surface: str, radius: float, zone: tuple[float, float]) -> bool:
    """Whether the surface through r·θ̂ (tangent basis) contains points whose norm lies in ``zone``."""
    lo, hi = zone
    if surface == "hyperplane":
        return radius <= hi
    if surface == "sphere":
        return lo <= radius <= hi
    raise ValueError(f"unknown surface {surface!r}")


def success_table(runs: pd.DataFrame, zone: tuple[float, float], *, fraction: float = 0.5) -> pd.DataFrame:
    """:func:`~.fort_scherlis.final_accuracies` with ``bar`` (the success threshold at that d),
    ``success`` and ``meets_zone`` per cell (see the module docstring)."""
    if not 0 < fraction < 1:
        raise ValueError(f"success fraction must lie in (0, 1), got {fraction!r}")
    out = final_accuracies(runs)
    chance = 1.0 / int(runs.attrs["num_classes"])
    best = out.groupby("dim")["test_accuracy"].transform("max")
    out["bar"] = chance + fraction * (best - chance)
    out["success"] = out["test_accuracy"].fillna(0.0) >= out["bar"]
    out["meets_zone"] = [meets_zone(s, r, zone) for s, r in zip(out["surface"], out["radius"])]
    return out


def accuracy_table(success: pd.DataFrame) -> pd.DataFrame:
    """Final test accuracy (2 decimals; NaN: diverged): one row per kind of cell (rule, surface, d),
    one column per start radius r / r_Kaiming."""
    kind = success["protocol"].map({FIXED: "fixed η", SCALED: "scaled η"}) + ", " + success["surface"] + \
        ", d=" + success["dim"].astype(str)
    table = success.assign(kind=kind, ratio=success["ratio"].map(lambda v: f"{v:.2g}")).pivot_table(
        index="kind", columns="ratio", values="test_accuracy", sort=False, dropna=False)
    table.index.name = None
    table.columns.name = "r / r_Kaiming"
    return table.round(2) + 0.0


def _small(x: float) -> str:
    """``x`` to 2 digits, or "< 0.001" (the digits of an underflowing entropy are round-off)."""
    return "< 0.001" if abs(x) < 1e-3 else f"{x:.2g}"


def _fraction(mask) -> float:
    mask = np.asarray(mask, dtype=bool)
    return float(mask.mean()) if mask.size else float("nan")


def claims_rows(curv: pd.DataFrame, runs: pd.DataFrame, cfg: Mapping[str, Any]) -> list[claims.Claim]:
    """The chapter's claims rows, with their verdicts (criteria: module constants and ``cfg``).

    Parameters
    ----------
    curv : pandas.DataFrame
        :func:`~.fort_scherlis.curvature_vs_radius`.
    runs : pandas.DataFrame
        :func:`~.fort_scherlis.subspace_runs`.
    cfg : mapping
        Reads ``zone_fraction`` and ``success_fraction``.

    Returns
    -------
    list of Claim
        Hyperplanes: a peak of Tr/‖·‖_F ≥ :data:`PEAK_MIN` with both ends ≤ :data:`END_FRACTION` ×
        peak; r_Xavier and r_Kaiming inside the zone; local convexity at the peak ≥ both ends +
        :data:`LC_MARGIN`. Spheres: peak inside the hyperplanes' zone and ≥ :data:`PEAK_MIN`.
        Softmax (Vysogorets et al.): entropy/log K ≥ :data:`ENTROPY_PEAK_MIN` at the peak and ≤
        :data:`ENTROPY_END_MAX` at the largest radius. Training: under the fixed rule, "succeeds"
        equals "meets the zone" on ≥ :data:`AGREEMENT_MIN` of the hyperplane and of the sphere
        cells; under the scaled rule, ≥ :data:`AGREEMENT_MIN` of the spheres beyond the zone (which
        never meet it) succeed.
    """
    zone = zone_interval(curv, fraction=float(cfg["zone_fraction"]))
    lo, hi = zone
    radii = curv.attrs["radii"]
    plane = mean_curves(curv, "hyperplane")
    r_peak, pc_peak = peak_radius(curv, "hyperplane")
    s_peak, s_value = peak_radius(curv, "sphere")
    ends = plane["mean"].to_numpy()[[0, -1]]
    lc = mean_curves(curv, "hyperplane", "lc")
    lc_peak = float(lc.loc[plane["mean"].idxmax(), "mean"])
    lc_ends = lc["mean"].to_numpy()[[0, -1]]
    ent = mean_curves(curv, "hyperplane", "entropy")
    ent_peak, ent_end = float(ent.loc[plane["mean"].idxmax(), "mean"]), float(ent["mean"].iloc[-1])
    zone_txt = f"zone r ∈ [{lo:.3g}, {hi:.3g}]"

    ok = success_table(runs, zone, fraction=float(cfg["success_fraction"]))
    fixed, scaled = ok[ok["protocol"] == FIXED], ok[ok["protocol"] == SCALED]
    agree = {s: _fraction(f["success"] == f["meets_zone"]) for s, f in fixed.groupby("surface")}
    n_cells = {s: int((fixed["surface"] == s).sum()) for s in ("hyperplane", "sphere")}
    above = scaled[(scaled["surface"] == "sphere") & (scaled["radius"] > hi)]
    above_ok = _fraction(above["success"])

    rows = [
        claims.check("excess positive curvature in a shell of radii", source="abstract, hyperplanes",
                     paper="large Tr(H)/‖H‖ at a range of radii",
                     here=f"peak {pc_peak:.2f} at r = {r_peak:.3g}; ends {ends[0]:.2f}, {ends[-1]:.2f}",
                     holds=claims.at_least(pc_peak, PEAK_MIN)
                     and claims.at_most(float(np.abs(ends).max()), END_FRACTION * pc_peak),
                     criterion=f"peak ≥ {PEAK_MIN:g}, |ends| ≤ {END_FRACTION:g} × peak"),
        claims.check("Xavier and Kaiming radii lie in the zone", source="abstract, §1",
                     paper="common initialisations sit in the zone",
                     here=f"{zone_txt}; r_X = {radii['xavier']:.3g}, r_K = {radii['kaiming']:.3g}",
                     holds=all(lo <= radii[k] <= hi for k in ("xavier", "kaiming")),
                     criterion="both radii inside the half-peak interval"),
        claims.check("excess of positive eigenvalues in the zone", source="abstract, hyperplanes",
                     paper="unusual share of positive eigenvalues",
                     here=f"{lc_peak:.2f} at the peak vs {lc_ends[0]:.2f}, {lc_ends[-1]:.2f} at the ends",
                     holds=claims.at_least(lc_peak - float(lc_ends.max()), LC_MARGIN),
                     criterion=f"at the peak ≥ both ends + {LC_MARGIN:g}"),
        claims.check("the zone also shows on hyperspheres", source="abstract, hyperspheres",
                     paper="same effect on random hyperspheres", here=f"sphere peak {s_value:.2f} at r = {s_peak:.3g}",
                     holds=bool(lo <= s_peak <= hi) and claims.at_least(s_value, PEAK_MIN),
                     criterion=f"peak inside the zone and ≥ {PEAK_MIN:g}"),
        claims.check("curvature follows softmax confidence", source="Vysogorets et al. §3–4",
                     paper="low confidence in the zone, saturated beyond",
                     here=(f"entropy/log K {ent_peak:.2f} at the peak, {_small(ent_end)} at "
                           f"r = {plane['radius'].iloc[-1]:.3g}"),
                     holds=claims.at_least(ent_peak, ENTROPY_PEAK_MIN) and claims.at_most(ent_end, ENTROPY_END_MAX),
                     criterion=f"≥ {ENTROPY_PEAK_MIN:g} at the peak, ≤ {ENTROPY_END_MAX:g} at the largest r"),
        claims.check("hyperplanes train iff they meet the zone", source="abstract, training",
                     paper="accuracy tied to overlap with the zone",
                     here=f"agree on {agree['hyperplane']:.0%} of {n_cells['hyperplane']} cells (fixed η)",
                     holds=claims.at_least(agree["hyperplane"], AGREEMENT_MIN),
                     criterion=f"success = meets zone on ≥ {AGREEMENT_MIN:.0%}"),
        claims.check("hyperspheres train iff they meet the zone", source="abstract, training",
                     paper="accuracy tied to overlap with the zone",
                     here=f"agree on {agree['sphere']:.0%} of {n_cells['sphere']} cells (fixed η)",
                     holds=claims.at_least(agree["sphere"], AGREEMENT_MIN),
                     criterion=f"success = meets zone on ≥ {AGREEMENT_MIN:.0%}"),
        claims.check("spheres beyond the zone still train", source="Vysogorets et al. §5, Fig. 9",
                     paper="large-norm nets train (lazily), η = η₀α^(2−L)",
                     here=(f"{above_ok:.0%} of {len(above)} spheres beyond the zone succeed" if len(above)
                           else "no sphere beyond the zone"),
                     holds=claims.at_least(above_ok, AGREEMENT_MIN) if len(above) else None,
                     criterion=f"≥ {AGREEMENT_MIN:.0%} of them succeed"),
    ]
    return rows
