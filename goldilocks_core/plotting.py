"""Figures for the book: one style, and one function per kind of picture.

Functions take numbers computed elsewhere (a sweep table, a dataset) and return the
matplotlib ``Figure``; they compute nothing worth testing themselves.
"""
from __future__ import annotations

from typing import Sequence

import matplotlib
import matplotlib.pyplot as plt
import numpy as np

__all__ = ["set_style", "COLORS", "image_grid", "points_scatter", "log_alpha_axis"]

# Colour per curvature object, used consistently across chapters.
COLORS = {
    "hessian": "#1f3b73",   # deep blue
    "g_term": "#2a9d8f",    # teal
    "h_term": "#e76f51",    # coral
    "zone": "#f4d35e",      # the Goldilocks strip
    "reference": "#6c757d",  # grey
}


def _inline_in_notebooks() -> None:
    """Inside a Jupyter kernel, draw figures inline even when MPLBACKEND=Agg is set (CI sets it)."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython ships with the book extra
        return
    shell = get_ipython()
    if shell is not None and type(shell).__name__ == "ZMQInteractiveShell":
        shell.run_line_magic("matplotlib", "inline")


def set_style() -> None:
    """The book's matplotlib style: clean axes, readable fonts, retina-friendly PNGs."""
    import seaborn as sns

    _inline_in_notebooks()
    sns.set_theme(context="notebook", style="ticks", font_scale=0.95)
    matplotlib.rcParams.update({
        "figure.dpi": 110,
        "savefig.dpi": 150,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "axes.titleweight": "semibold",
        "legend.frameon": False,
        "figure.constrained_layout.use": True,
    })


def image_grid(images, labels=None, *, ncols: int = 10, nrows: int | None = None, title: str | None = None,
               class_names: Sequence[str] | None = None, cmap: str = "gray", scale: float = 1.0):
    """A grid of images (N×C×H×W or N×H×W tensor/array), each rescaled to [0, 1] for display."""
    arr = np.asarray(images.detach().cpu() if hasattr(images, "detach") else images, dtype=float)
    if arr.ndim == 3:
        arr = arr[:, None]
    n = arr.shape[0] if nrows is None else min(arr.shape[0], nrows * ncols)
    nrows = int(np.ceil(n / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(scale * 1.1 * ncols, scale * 1.2 * nrows), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.set_axis_off()
        if i >= n:
            continue
        img = arr[i].transpose(1, 2, 0)
        lo, hi = img.min(), img.max()
        img = (img - lo) / (hi - lo) if hi > lo else np.zeros_like(img)
        ax.imshow(img[..., 0] if img.shape[-1] == 1 else img, cmap=cmap, interpolation="nearest")
        if labels is not None:
            lab = int(labels[i])
            ax.set_title(class_names[lab] if class_names else str(lab), fontsize=8, pad=2)
    if title:
        fig.suptitle(title)
    return fig


def points_scatter(points, labels, *, ax=None, title: str | None = None, s: float = 6):
    """Scatter plot of 2-D points coloured by class."""
    pts = np.asarray(points.detach().cpu() if hasattr(points, "detach") else points)
    labs = np.asarray(labels.detach().cpu() if hasattr(labels, "detach") else labels)
    if ax is None:
        _, ax = plt.subplots(figsize=(3.6, 3.6))
    for k in np.unique(labs):
        ax.scatter(*pts[labs == k].T, s=s, label=f"class {k}", alpha=0.8)
    ax.set_aspect("equal")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=3, fontsize=7, markerscale=2)
    if title:
        ax.set_title(title)
    return ax.figure


def log_alpha_axis(ax, label: str = r"initialisation scale $\alpha$") -> None:
    """Log-scaled x axis with decade ticks for α (or T) sweeps."""
    ax.set_xscale("log")
    ax.set_xlabel(label)
    ax.xaxis.set_major_locator(matplotlib.ticker.LogLocator(base=10, numticks=12))
