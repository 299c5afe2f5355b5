"""Pure functions on curves of a sweep: seed bands, peaks, intervals, the zone's edges, slopes.

Used by the drivers of chapters 1, 3 and 5 (Vysogorets, Dawid & Kempe, ICML 2024): the
Goldilocks zone is located on a positive-curvature curve as the interval where the curve is
above a fraction of its peak (:func:`half_peak_interval`), or where ‖G‖₂ ≳ ‖H-term‖₂
(:func:`locate_zone`, Eq. 6); the §5 staircase is a log-log slope (:func:`loglog_slope`).
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = [
    "seed_band",
    "peak",
    "intervals_where",
    "half_peak_interval",
    "interval_overlap",
    "ZoneLocation",
    "locate_zone",
    "loglog_slope",
    "relative_spread",
    "error_bound",
]


def seed_band(df: pd.DataFrame, column: str, *, x: str = "alpha",
              by: Sequence[str] = ("model", "sweep")) -> pd.DataFrame:
    """Mean, min and max of ``column`` over seeds at each ``x``, per group ``by``.

    Returns columns ``*by, x, mean, min, max, count`` sorted by ``by`` then ``x``.
    """
    missing = [c for c in (*by, x, column) if c not in df.columns]
    if missing:
        raise ValueError(f"the table has no column(s) {', '.join(missing)}")
    keys = [*by, x]
    out = df.groupby(keys, sort=True)[column].agg(["mean", "min", "max", "count"]).reset_index()
    return out


def _xy(x, y) -> tuple[np.ndarray, np.ndarray]:
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if x.ndim != 1 or x.shape != y.shape or x.size < 2:
        raise ValueError("x and y must be 1-D arrays of the same length ≥ 2")
    if not np.all(np.diff(x) > 0):
        raise ValueError("x must be strictly increasing")
    if not np.all(np.isfinite(y)):
        raise ValueError("y must be finite")
    return x, y


def peak(x, y) -> tuple[float, float]:
    """(x, y) at the maximum of y (the first one on ties)."""
    x, y = _xy(x, y)
    i = int(np.argmax(y))
    return float(x[i]), float(y[i])


def intervals_where(x, f, *, log: bool = True) -> list[tuple[float, float]]:
    """Maximal intervals of x on which f ≥ 0, with crossings interpolated linearly.

    Interpolation is in log10 x when ``log`` (x > 0), so a crossing between α = 1 and
    α = 10 where f goes from 1 to −1 is at α = √10. An interval that reaches the end of
    the grid ends at the grid's end. Returns a list of (lo, hi), possibly empty.
    """
    x, f = _xy(x, f)
    if log:
        if np.any(x <= 0):
            raise ValueError("x must be positive for log interpolation")
        u = np.log10(x)
    else:
        u = x
    inside = f >= 0
    out: list[tuple[float, float]] = []
    i, n = 0, len(u)
    while i < n:
        if not inside[i]:
            i += 1
            continue
        j = i
        while j + 1 < n and inside[j + 1]:
            j += 1
        lo = u[i] if i == 0 else u[i - 1] + (u[i] - u[i - 1]) * (0 - f[i - 1]) / (f[i] - f[i - 1])
        hi = u[j] if j == n - 1 else u[j] + (u[j + 1] - u[j]) * (0 - f[j]) / (f[j + 1] - f[j])
        out.append((float(10**lo), float(10**hi)) if log else (float(lo), float(hi)))
        i = j + 1
    return out


def half_peak_interval(x, y, *, fraction: float = 0.5, log: bool = True) -> tuple[float, float]:
    """The interval around the peak of y on which y ≥ ``fraction`` × peak (crossings interpolated)."""
    if not 0 < fraction < 1:
        raise ValueError(f"fraction must lie in (0, 1), got {fraction!r}")
    x, y = _xy(x, y)
    px, py = peak(x, y)
    if py <= 0:
        raise ValueError("the peak of y must be positive")
    for lo, hi in intervals_where(x, y - fraction * py, log=log):
        if lo <= px <= hi:
            return lo, hi
    raise AssertionError("unreachable: the peak lies in an interval where y ≥ fraction·peak")


def interval_overlap(a: tuple[float, float], b: tuple[float, float], *, log: bool = True) -> float:
    """|a ∩ b| / |a ∪ b| (Jaccard index of two intervals; lengths in log10 x when ``log``)."""
    (a0, a1), (b0, b1) = a, b
    if a0 > a1 or b0 > b1:
        raise ValueError("intervals must be (lo, hi) with lo ≤ hi")
    if log:
        if min(a0, b0) <= 0:
            raise ValueError("intervals must be positive for log lengths")
        a0, a1, b0, b1 = (math.log10(v) for v in (a0, a1, b0, b1))
    inter = max(0.0, min(a1, b1) - max(a0, b0))
    union = max(a1, b1) - min(a0, b0) if inter > 0 else (a1 - a0) + (b1 - b0)
    return inter / union if union > 0 else float(a == b)


@dataclass(frozen=True)
class ZoneLocation:
    """Where the zone is on one curve: from curvature, and from the norm condition (Eq. 6)."""

    peak_alpha: float
    peak_value: float
    zone: tuple[float, float]  # where positive curvature ≥ half its peak
    strips: tuple[tuple[float, float], ...]  # where ‖G‖₂ ≥ ‖H-term‖₂
    strip: tuple[float, float] | None  # the strip overlapping the zone most (None if none)
    overlap: float  # Jaccard index of zone and strip in log α
    peak_in_strip: bool


def locate_zone(alphas, positive_curvature, log10_norm_g, log10_norm_h, *,
                fraction: float = 0.5) -> ZoneLocation:
    """The zone from curvature (``fraction`` of the peak) against the strip ‖G‖₂ ≥ ‖H‖₂ (Eq. 6).

    Norms are given as log10 (finite, or −inf where a term vanishes); the strip is where
    log10‖G‖₂ − log10‖H‖₂ ≥ 0, crossings interpolated in log α.
    """
    x, pc = _xy(alphas, positive_curvature)
    lg = np.asarray(log10_norm_g, dtype=np.float64)
    lh = np.asarray(log10_norm_h, dtype=np.float64)
    if lg.shape != x.shape or lh.shape != x.shape:
        raise ValueError("the norms must have one value per α")
    diff = np.clip(np.nan_to_num(lg - lh, nan=-1e300, posinf=1e300, neginf=-1e300), -1e6, 1e6)
    pa, pv = peak(x, pc)
    zone = half_peak_interval(x, pc, fraction=fraction)
    strips = tuple(intervals_where(x, diff))
    best, score = None, 0.0
    for s in strips:
        o = interval_overlap(zone, s)
        if best is None or o > score:
            best, score = s, o
    return ZoneLocation(peak_alpha=pa, peak_value=pv, zone=zone, strips=strips, strip=best, overlap=score,
                        peak_in_strip=any(lo <= pa <= hi for lo, hi in strips))


def loglog_slope(x, log10_y, *, x_max: float | None = None, x_min: float | None = None) -> float:
    """Least-squares slope of log10 y against log10 x over x_min ≤ x ≤ x_max (at least 2 points)."""
    x = np.asarray(x, dtype=np.float64)
    ly = np.asarray(log10_y, dtype=np.float64)
    if x.ndim != 1 or x.shape != ly.shape:
        raise ValueError("x and log10_y must be 1-D arrays of the same length")
    keep = np.ones_like(x, dtype=bool)
    if x_max is not None:
        keep &= x <= x_max
    if x_min is not None:
        keep &= x >= x_min
    if keep.sum() < 2:
        raise ValueError("fewer than 2 points in the fitting range")
    if np.any(x[keep] <= 0) or not np.all(np.isfinite(ly[keep])):
        raise ValueError("x must be positive and log10_y finite in the fitting range")
    slope, _ = np.polyfit(np.log10(x[keep]), ly[keep], 1)
    return float(slope)


def relative_spread(values) -> float:
    """(max − min)/|mean| of a curve: 0 for a constant curve."""
    v = np.asarray(values, dtype=np.float64)
    if v.size == 0 or not np.all(np.isfinite(v)):
        raise ValueError("values must be a non-empty finite array")
    m = abs(float(v.mean()))
    if m == 0:
        raise ValueError("the mean of values is 0")
    return float((v.max() - v.min()) / m)


def error_bound(x: float, floor: float = 1e-12) -> str:
    """A printable bound on a small relative error that does not depend on rounding noise.

    ``"< 1e-12"`` (``floor``) for anything below ``floor`` (float64 agreement), else
    ``"< 1e-k"`` with 1e-k the next power of ten above ``x``; ``"0"`` for exact zero.
    """
    x = float(x)
    if not x >= 0:
        raise ValueError(f"an error must be a non-negative number, got {x!r}")
    if x == 0.0:
        return "0"
    if x < floor:
        return f"< {floor:.0e}"
    if math.isinf(x):
        return "inf"
    k = math.floor(math.log10(x)) + 1
    return f"< 1e+{k:02d}" if k >= 0 else f"< 1e-{-k:02d}"
