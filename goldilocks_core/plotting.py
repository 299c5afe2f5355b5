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
    """Inside a Jupyter kernel, draw figures inline (even when MPLBACKEND=Agg is set) as 2× PNGs."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython ships with the book extra
        return
    shell = get_ipython()
    if shell is not None and type(shell).__name__ == "ZMQInteractiveShell":
        shell.run_line_magic("matplotlib", "inline")
        from matplotlib_inline.backend_inline import set_matplotlib_formats

        set_matplotlib_formats("retina")  # 2× PNGs, displayed at their 1× size


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
        "axes.titleweight": "bold",
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


# --- Chapter 2, preliminaries ----------------------------------------------------------------
__all__ += ["softmax_temperature"]


def softmax_temperature(logits, temperatures=(0.25, 1.0, 4.0), grid=None):
    """Eq. 1: σ_T(z) of one logit vector at a few temperatures (bars) and its entropy against T.

    Parameters
    ----------
    logits
        One vector z of K logits (shape ``(K,)`` or ``(1, K)``).
    temperatures
        The temperatures of the bar chart.
    grid
        The temperatures of the entropy curve (default: 81 points from 10⁻² to 10²).

    Returns
    -------
    matplotlib.figure.Figure
        Left: p_k per class and temperature; right: entropy in nats with log K dashed.
    """
    import torch

    from . import losses

    z = torch.as_tensor(logits, dtype=torch.float64).reshape(1, -1)
    K = z.shape[1]
    grid = np.logspace(-2, 2, 81) if grid is None else np.asarray(grid, dtype=np.float64)
    entropy = [losses.softmax_entropy(z, t).item() for t in grid]
    fig, axes = plt.subplots(1, 2, figsize=(8.5, 3.0))
    width = 0.8 / len(temperatures)
    for j, t in enumerate(temperatures):
        offset = (j - (len(temperatures) - 1) / 2) * width
        axes[0].bar(np.arange(K) + offset, losses.probabilities(z, t)[0], width=width, label=f"T = {t:g}")
    axes[0].set_xticks(range(K), [f"$z_{k + 1}$" for k in range(K)])
    axes[0].set_ylabel("probability $p_k$")
    axes[0].legend()
    axes[1].plot(grid, entropy, color=COLORS["hessian"])
    axes[1].axhline(np.log(K), ls="--", color=COLORS["reference"], label=r"$\log K$")
    log_alpha_axis(axes[1], "temperature $T$")
    axes[1].set_ylabel("softmax entropy (nats)")
    axes[1].legend()
    return fig


# --- Appendix D, the pre-collapse regime (Fig. 10) ------------------------------------------
__all__ += ["precollapse_curves", "eigenvector_row"]


def _shade(ax, lo, hi, label=None):
    ax.axvspan(lo, hi, color=COLORS["zone"], alpha=0.45, lw=0, label=label)


def precollapse_curves(sweep, entropies, *, plateau=None, top: int = 5, threshold: float = 1e-3,
                       floor: float = 1e-12):
    """Fig. 10 (bottom) of the paper, in four panels over α.

    (a) the ``top`` largest per-sample softmax entropies and the median (``entropies``: an
    :func:`~goldilocks_core.experiments.precollapse.entropy_collapse` table; values below
    ``floor`` drawn at ``floor``); (b) the number of samples with entropy > ``threshold``;
    (c) the largest per-sample share of the first layer's Tr(G) (``sweep["dominant_share"]``);
    (d) positive curvature of the Hessian, G-term and H-term (``sweep``, a curvature sweep
    table). ``plateau`` (a ``Plateau`` with ``alpha_lo``/``alpha_hi``) is shaded everywhere.
    """
    fig, axes = plt.subplots(2, 2, figsize=(9.6, 6.2), sharex=True)
    (a, b), (c, d) = axes
    alpha = np.asarray(entropies["alpha"], dtype=float)
    blues = plt.get_cmap("Blues")
    for j in range(top, 0, -1):
        col = f"entropy_{j}"
        if col in entropies:
            lab = "least confident" if j == 1 else (f"{j}th largest" if j == top else None)
            a.plot(alpha, np.maximum(entropies[col], floor), color=blues(0.35 + 0.65 * (top - j + 1) / top),
                   lw=2.0 if j == 1 else 1.1, label=lab)
    a.plot(alpha, np.maximum(entropies["median_entropy"], floor), color=COLORS["reference"], ls="--",
           label="median")
    a.set_yscale("log")
    a.set_ylim(floor, 5)
    a.set_ylabel(r"per-sample entropy $\mathbb{H}(p^\mu)$ (nats)")
    a.set_title("(a) entropies collapse one sample at a time")
    a.legend(loc="lower left", fontsize=8)

    count = np.asarray(entropies["num_uncertain"], dtype=float)
    b.step(alpha, np.where(count > 0, count, np.nan), where="mid", color=COLORS["hessian"])  # log axis: 0 not drawn
    b.axhline(1, color=COLORS["reference"], ls=":", lw=1)
    b.set_yscale("log")
    b.set_ylabel(rf"samples with $\mathbb{{H}} > {threshold:g}$")
    b.set_title("(b) uncertain samples")

    sa = np.asarray(sweep["alpha"], dtype=float)
    c.plot(sa, sweep["dominant_share"], marker="o", ms=3, color=COLORS["g_term"])
    c.set_ylim(0, 1.05)
    c.set_ylabel(r"largest share $\mathrm{Tr}(G^{\mu})/\mathrm{Tr}(G)$, layer 1")
    c.set_title("(c) one sample takes over the G-term")

    for name, label in (("hessian", "Hessian"), ("g_term", "G-term"), ("h_term", "H-term")):
        d.plot(sa, sweep[f"pc_{name}"], marker="o", ms=3, color=COLORS[name], label=label)
    d.axhline(1, color=COLORS["reference"], ls=":", lw=1)
    d.set_ylabel(r"positive curvature $\mathrm{Tr}/\|\cdot\|_F$")
    d.set_title("(d) positive curvature")
    d.legend(fontsize=8)
    for ax in axes.flat:
        if plateau is not None:
            _shade(ax, plateau.alpha_lo, plateau.alpha_hi)
        log_alpha_axis(ax)
    for ax in axes[0]:
        ax.set_xlabel("")
    return fig


def eigenvector_row(images, alphas, sample, *, cosines=None, sample_title: str = "least confident\nsample",
                    cmap: str = "RdBu_r", scale: float = 1.6):
    """Fig. 10 (top) of the paper: first-layer eigenvector images across α, then one input sample.

    ``images``: (A, C, H, W) or (A, H, W); ``sample``: one input of the same shape. Each
    panel has its own symmetric colour scale (as in the paper); titles give α and, when
    ``cosines`` is passed, the cosine with ``sample``.
    """
    arr = np.asarray(images, dtype=float)
    arr = arr.reshape(arr.shape[0], *arr.shape[-2:])
    x = np.asarray(sample.detach().cpu() if hasattr(sample, "detach") else sample, dtype=float)
    x = x.reshape(arr.shape[-2:])
    n = arr.shape[0] + 1
    fig, axes = plt.subplots(1, n, figsize=(scale * n, scale * 1.35))
    for i, ax in enumerate(axes):
        img = arr[i] if i < n - 1 else x
        m = float(np.abs(img).max()) or 1.0
        ax.imshow(img, cmap=cmap if i < n - 1 else "gray", vmin=-m if i < n - 1 else None,
                  vmax=m if i < n - 1 else None, interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])
        for spine in ax.spines.values():
            spine.set_visible(i == n - 1)
        if i < n - 1:
            title = rf"$\alpha$ = {alphas[i]:.3g}"
            if cosines is not None:
                title += f"\ncos = {cosines[i]:.3f}"
            ax.set_title(title, fontsize=9)
        else:
            ax.set_title(sample_title, fontsize=9)
    return fig


# --------------------------------------------------------------------------------------------
# Chapter 4 (features of the zone) and Appendices B–C
# (data from the chapter 4 drivers in goldilocks_core.experiments)

__all__ += [
    "eq8_vs_alpha", "curvature_vs_dimension", "gamma_vs_entropy", "gradient_cosines",
    "gradient_vs_prior", "init_statistics", "expected_g_spectrum", "expected_g_spectra", "gamma_limits",
    "gamma_plateau",
]

_MODEL_COLORS = {"eq8": "#264653", "eq8_P": "#9c6644", "pink": "#f4a6c8", "red": "#c1121f"}


def eq8_vs_alpha(curves, *, grouping: str = "label", axes=None):
    """Fig. 3: true projected G-term curvature vs Eq. 8 over α, min/max bands over seeds.

    ``curves``: :func:`goldilocks_core.experiments.g_term_curvature.fig3`'s first table. One panel per
    setting; Eq. 8 with d = subspace dimension (solid) and d = P (dotted).
    """
    names = list(dict.fromkeys(curves["name"]))
    if axes is None:
        _, axes = plt.subplots(1, len(names), figsize=(4.6 * len(names), 3.4), squeeze=False)
        axes = axes[0]
    series = [("pc_g_term", "true G-term", COLORS["g_term"], "-"),
              (f"eq8_{grouping}", "Eq. 8, d = subspace dim.", _MODEL_COLORS["eq8"], "--"),
              (f"eq8_{grouping}_P", "Eq. 8, d = P", _MODEL_COLORS["eq8_P"], ":")]
    if "eq7_means" in curves:
        series.append(("eq7_means", "Eq. 7, measured $c_k$", _MODEL_COLORS["red"], "-."))
    for ax, name in zip(axes, names):
        sub = curves[curves["name"] == name]
        stats = sub.groupby("alpha")
        for col, label, color, ls in series:
            lo, mid, hi = stats[col].min(), stats[col].median(), stats[col].max()
            ax.plot(mid.index, mid.values, ls, color=color, label=label, lw=1.8)
            ax.fill_between(mid.index, lo.values, hi.values, color=color, alpha=0.2, lw=0)
        log_alpha_axis(ax)
        ax.set_ylabel(r"positive curvature $\mathrm{Tr}/\Vert\cdot\Vert_F$")
        ax.set_title(name, fontsize=10)
    axes[0].legend(fontsize=8, loc="lower left")
    return axes[0].figure


def curvature_vs_dimension(df, *, ax=None):
    """Fig. 4 left: projected G-term curvature (markers) and Eq. 8 (dashed) against d, one colour per α."""
    if ax is None:
        _, ax = plt.subplots(figsize=(4.4, 3.4))
    alphas = sorted(df["alpha"].unique())
    cmap = matplotlib.colormaps["viridis"]
    for i, a in enumerate(alphas):
        sub = df[df["alpha"] == a].sort_values("d")
        color = cmap(0.15 + 0.7 * i / max(1, len(alphas) - 1))
        ax.plot(sub["d"], sub["pc_g_term"], "o-", color=color, label=rf"$\alpha = {a:g}$", ms=4)
        ax.plot(sub["d"], sub["eq8"], "--", color=color, lw=1.2)
    d = np.array(sorted(df["d"].unique()), dtype=float)
    ax.plot(d, np.sqrt(d), ":", color=COLORS["reference"], label=r"$\sqrt{d}$ (rank bound)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xticks(d, [f"{int(x)}" for x in d])
    # a log axis spanning less than a decade has one labelled decade tick at most: label 1-2-5
    ax.yaxis.set_major_locator(matplotlib.ticker.LogLocator(base=10, subs=(1.0, 2.0, 3.0, 5.0)))
    ax.yaxis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
    ax.yaxis.set_minor_locator(matplotlib.ticker.LogLocator(base=10, subs=tuple(range(1, 10))))
    ax.yaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.set_xlabel("subspace dimension $d$")
    ax.set_ylabel("positive curvature of the G-term")
    ax.legend(fontsize=8, title="true (markers), Eq. 8 (dashed)", title_fontsize=8)
    return ax.figure


def gamma_vs_entropy(curves, average, *, num_classes: int = 10, ax=None):
    """Fig. 4 right: Γ_p⁻² against softmax entropy, one pink curve per logit set, red for the average matrix."""
    if ax is None:
        _, ax = plt.subplots(figsize=(4.4, 3.4))
    for _, sub in curves.groupby("set"):
        sub = sub.sort_values("entropy")
        ax.plot(sub["entropy"], sub["gamma_inv2"], color=_MODEL_COLORS["pink"], lw=0.9, alpha=0.9)
    avg = average.sort_values("entropy")
    ax.plot(avg["entropy"], avg["gamma_inv2"], color=_MODEL_COLORS["red"], lw=2.2, label="average matrix")
    ax.plot([], [], color=_MODEL_COLORS["pink"], label="single logit sets")
    ax.axhline(1.0, ls=":", color=COLORS["reference"], lw=1)
    ax.axhline(1.0 / (num_classes - 1), ls=":", color=COLORS["reference"], lw=1)
    ax.axvline(np.log(num_classes), ls=":", color=COLORS["reference"], lw=1)
    ax.set_xlabel("softmax entropy (nats)")
    ax.set_ylabel(r"$\Gamma_p^{-2}$")
    ax.legend(fontsize=8, loc="upper right")
    return ax.figure


def gradient_cosines(pairs, *, axes=None):
    """Fig. 5 left: mean gradient cosine between data sets (heat map) and measured vs Eq. 9's cosine."""
    names = list(dict.fromkeys(list(pairs["a"]) + list(pairs["b"])))
    idx = {n: i for i, n in enumerate(names)}
    mean = np.eye(len(names))
    for (a, b), sub in pairs.groupby(["a", "b"]):
        mean[idx[a], idx[b]] = mean[idx[b], idx[a]] = sub["cosine"].mean()
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(9.0, 3.6), width_ratios=[1.0, 1.1])
    ax = axes[0]
    im = ax.imshow(mean, vmin=0, vmax=1, cmap="viridis")
    for i in range(len(names)):
        for j in range(len(names)):
            ax.text(j, i, f"{mean[i, j]:.2f}", ha="center", va="center",
                    color="white" if mean[i, j] < 0.6 else "black", fontsize=9)
    ax.set_xticks(range(len(names)), names, rotation=20, ha="right", fontsize=8)
    ax.set_yticks(range(len(names)), names, fontsize=8)
    ax.set_title("gradient cosine (mean over inits)", fontsize=10)
    ax.figure.colorbar(im, ax=ax, shrink=0.8)
    ax = axes[1]
    for (a, b), sub in pairs.groupby(["a", "b"], sort=False):
        ax.scatter(sub["eq9_cosine"], sub["cosine"], s=18, label=f"{a} / {b}")
    ax.plot([0, 1], [0, 1], ":", color=COLORS["reference"])
    ax.set_xlim(-0.05, 1.05)
    ax.set_ylim(-0.05, 1.05)
    ax.set_xlabel(r"Eq. 9: $\cos(\hat Q_a - Q_a,\ \hat Q_b - Q_b)$")
    ax.set_ylabel("measured gradient cosine")
    ax.legend(fontsize=7, loc="lower right")
    return axes[0].figure


def gradient_vs_prior(df, summary, *, grouping: str = "all", ax=None):
    """Fig. 5 right: ‖∇ℓ‖ against ‖Q̂ − Q‖ with the fitted line and the two slopes of Eq. 9."""
    if ax is None:
        _, ax = plt.subplots(figsize=(4.8, 3.6))
    x, y = df["delta_norm"].to_numpy(), df["grad_norm"].to_numpy()
    ax.scatter(x, y, s=9, color=COLORS["hessian"], alpha=0.6, label="subsets with random priors")
    if "label_norm" in df:
        ax.scatter(x, df["label_norm"], s=6, marker="x", color=_MODEL_COLORS["red"], alpha=0.6,
                   label=r"$\Vert\sum_k \hat Q_k c_k^{all} - Q_k c_k^{label}\Vert$")
    grid = np.linspace(0, x.max() * 1.05, 50)
    ax.plot(grid, summary["slope_origin"] * grid, color=COLORS["h_term"],
            label=f"least squares through 0, slope {summary['slope_origin']:.3g}")
    exact, printed = summary[f"exact_{grouping}"], summary[f"printed_{grouping}"]
    ax.plot(grid, exact * grid, "--", color=COLORS["g_term"], label=rf"$\sqrt{{P}}\,\sigma_c$ = {exact:.3g}")
    ax.plot(grid, printed * grid, ":", color=_MODEL_COLORS["eq8_P"],
            label=rf"$P\sigma_c^2$ = {printed:.3g} (as printed)")
    ax.set_ylim(0, y.max() * 1.15)
    ax.set_xlim(0, grid[-1])
    ax.set_xlabel(r"$\Vert \hat Q - Q \Vert_2$")
    ax.set_ylabel(r"$\Vert \nabla_\theta \ell \Vert_2$")
    ax.legend(fontsize=7.5, loc="upper left")
    return ax.figure


def init_statistics(df, *, axes=None):
    """Fig. 6: per initialisation, entropy against curvature, loss and gradient norm (colour: curvature)."""
    if axes is None:
        _, axes = plt.subplots(1, 3, figsize=(11.5, 3.3))
    panels = [("pc_hessian", "positive curvature of $H_d$"), ("loss", "initial loss"),
              ("grad_norm", r"$\Vert\nabla_\theta\ell\Vert_2$")]
    for ax, (col, label) in zip(axes, panels):
        sc = ax.scatter(df["mean_entropy"], df[col], c=df["pc_hessian"], cmap="viridis", s=12)
        ax.set_xlabel("mean softmax entropy (nats)")
        ax.set_ylabel(label)
    axes[-1].figure.colorbar(sc, ax=list(axes), label="positive curvature", shrink=0.85)
    return axes[0].figure


def expected_g_spectrum(monte_carlo, formula, *, ax=None, label: str | None = None):
    """App. B: Monte-Carlo eigenvalues of E G (markers) against the bi-level formula (line), log scale."""
    if ax is None:
        _, ax = plt.subplots(figsize=(4.6, 3.3))
    mc = np.sort(np.asarray(monte_carlo))[::-1]
    fo = np.sort(np.asarray(formula))[::-1]
    i = np.arange(1, len(fo) + 1)
    ax.step(i, fo, where="mid", color=COLORS["reference"], lw=1.5, label="App. B formula")
    ax.scatter(i, mc, s=10, color=COLORS["g_term"], zorder=3, label="Monte Carlo")
    ax.set_yscale("log")
    ax.set_xlabel("eigenvalue index $i$")
    ax.set_ylabel(r"$\lambda_i(\mathbb{E}_e G)$")
    if label:
        ax.set_title(label, fontsize=10)
    ax.legend(fontsize=8)
    return ax.figure


def expected_g_spectra(spectra):
    """App. B: one :func:`expected_g_spectrum` panel per case of :func:`goldilocks_core.experiments.expected_g.appendix_b`."""
    fig, axes = plt.subplots(1, len(spectra), figsize=(10, 3.3), sharey=True, squeeze=False)
    for ax, (name, s) in zip(axes[0], spectra.items()):
        expected_g_spectrum(s["monte_carlo"], s["formula"], ax=ax, label=name)
    return fig


def gamma_limits(table, *, ax=None):
    """App. C: Γ_p² of p(S, ε) against ε (markers: Eq. 10) with the limits 4(S − 1)/(S + 2) (dashed)."""
    if ax is None:
        _, ax = plt.subplots(figsize=(4.8, 3.4))
    cmap = matplotlib.colormaps["viridis"]
    values = sorted(table["S"].unique())
    for i, s in enumerate(values):
        sub = table[table["S"] == s].sort_values("eps")
        color = cmap(0.1 + 0.8 * i / max(1, len(values) - 1))
        ax.plot(sub["eps"], sub["gamma2_closed"], "o-", ms=3, color=color, label=f"S = {s}")
        ax.axhline(sub["limit"].iloc[0], ls="--", color=color, lw=0.8)
    ax.set_xscale("log")
    ax.set_xlabel(r"$\varepsilon$")
    ax.set_ylabel(r"$\Gamma_{p(S,\varepsilon)}^2$")
    ax.legend(fontsize=7, ncol=2)
    return ax.figure

def gamma_plateau(logits, *, alphas=None, levels=(3, 2), ax=None):
    """App. C: Γ_p⁻² of p = σ(αz) for one logit vector ``z`` against α, with the p(S, ε) values
    (S + 2)/(4(S − 1)) of ``levels`` (dashed). ``alphas`` defaults to 10^(−1 … 2.6), beyond which
    a generic p is one-hot in float64."""
    import torch

    from .random_logit import gamma_p, gamma_p_limit

    z = torch.as_tensor(logits, dtype=torch.float64)
    a = torch.logspace(-1, 2.6, 145, dtype=torch.float64) if alphas is None else torch.as_tensor(
        alphas, dtype=torch.float64)
    inv2 = gamma_p(torch.softmax(a[:, None] * z, -1), average=False) ** -2
    if ax is None:
        _, ax = plt.subplots(figsize=(4.8, 3.2))
    ax.plot(a.numpy(), inv2.numpy(), color=COLORS["g_term"])
    for s in levels:
        ax.axhline(1 / gamma_p_limit(s), ls="--", lw=0.8, color=COLORS["reference"])
        ax.text(float(a[0]), 1 / gamma_p_limit(s) + 0.015, f"S = {s}", fontsize=9)
    log_alpha_axis(ax, r"scale $\alpha$ of the logits")
    ax.set_ylabel(r"$\Gamma_p^{-2}$")
    return ax.figure


# --- Chapters 1 and 3: the zone along α and T, and its Gauss–Newton anatomy (Fig. 1, Fig. 2) ---
# (data from goldilocks_core.experiments.zone)
__all__ += ["zone_figure", "gauss_newton_figure"]

_ZONE_MODEL_COLORS = ("#1f3b73", "#9c6644", "#6a4c93", "#2a9d8f")


def _seed_lines(ax, df, x: str, y: str, *, color, label=None, ls="-", transform=None):
    """Mean over seeds (line) and min/max over seeds (band) of ``y`` against ``x``."""
    stats = df.groupby(x)[y]
    lo, mid, hi = stats.min(), stats.mean(), stats.max()
    if transform is not None:
        lo, mid, hi = transform(lo), transform(mid), transform(hi)
    ax.plot(mid.index, mid.values, ls, color=color, lw=1.8, label=label)
    ax.fill_between(mid.index, lo.values, hi.values, color=color, alpha=0.2, lw=0)


def zone_figure(df, *, zones=None, num_seeds: int | None = None):
    """Fig. 1: positive curvature (top) and local convexity (bottom) along the three rays.

    ``df``: :func:`goldilocks_core.experiments.zone.fig1`'s table (columns ``model, seed,
    sweep, alpha, temperature, pc_hessian, lc_hessian``). Columns: α at T = 1, α at T = α^L,
    T at α = 1. Lines are means over seeds, bands min/max. ``zones``: optional
    ``{model: (lo, hi)}`` α-intervals shaded in the first column (the zone).
    """
    models = list(dict.fromkeys(df["model"]))
    fig, axes = plt.subplots(2, 3, figsize=(11.5, 5.6), sharey="row")
    panels = [("alpha", "alpha", r"$\alpha$ at $T = 1$", r"initialisation scale $\alpha$"),
              ("tied", "alpha", r"$\alpha$ at $T = \alpha^L$", r"initialisation scale $\alpha$"),
              ("temperature", "temperature", r"$T$ at $\alpha = 1$", "softmax temperature $T$")]
    for j, (sweep, x, title, xlabel) in enumerate(panels):
        for i, model in enumerate(models):
            sub = df[(df["model"] == model) & (df["sweep"] == sweep)]
            color = _ZONE_MODEL_COLORS[i % len(_ZONE_MODEL_COLORS)]
            _seed_lines(axes[0, j], sub, x, "pc_hessian", color=color, label=model)
            _seed_lines(axes[1, j], sub, x, "lc_hessian", color=color, label=model)
            if zones is not None and sweep == "alpha" and model in zones:
                for ax in axes[:, j]:
                    ax.axvspan(*zones[model], color=COLORS["zone"], alpha=0.35, lw=0)
        for ax in axes[:, j]:
            log_alpha_axis(ax, xlabel)
            if sweep == "temperature":  # T spans 6L decades: a tick every L decades
                ax.xaxis.set_major_locator(matplotlib.ticker.LogLocator(base=10, numticks=8))
            if sweep != "tied":
                ax.axvline(1.0, color=COLORS["reference"], lw=0.8, ls="--", zorder=0)
        axes[0, j].set_title(title, fontsize=11)
        axes[0, j].axhline(0.0, color=COLORS["reference"], lw=0.8, ls=":")
        axes[1, j].axhline(0.5, color=COLORS["reference"], lw=0.8, ls=":")
    axes[0, 0].set_ylabel(r"positive curvature $\mathrm{Tr}(H)/\Vert H\Vert_F$")
    axes[1, 0].set_ylabel("local convexity\n(fraction of $\\lambda_i > 0$)")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    if num_seeds is not None:
        labels = [f"{lab} (mean, min/max over {num_seeds} seeds)" for lab in labels]
    fig.legend(handles, labels, loc="outside lower center", ncol=max(1, len(models)), fontsize=9)
    return fig


def gauss_newton_figure(df, *, strips=None, floor_decades: float = 3.0):
    """Fig. 2: positive curvature (top) and spectral norms (bottom) of H, G-term and H-term over α.

    ``df``: :func:`goldilocks_core.experiments.zone.fig2`'s table. One column per model; lines
    are means over seeds, bands min/max. Norms are max|λ| at the true scale, drawn from their
    log10 (``log10_norm_*``) on a log axis; values more than ``floor_decades`` decades below the
    smallest H-term or small-α G-term norm (the collapsed G-term, down to 10^(−10⁶)) are drawn
    at that floor. ``strips``: optional ``{model: [(lo, hi), …]}`` α-intervals where
    ‖G‖₂ ≥ ‖H-term‖₂ (Eq. 6), shaded in both rows.
    """
    models = list(dict.fromkeys(df["model"]))
    fig, axes = plt.subplots(2, len(models), figsize=(5.4 * len(models), 6.4), squeeze=False)
    terms = [("hessian", "Hessian $H$"), ("g_term", "G-term"), ("h_term", "H-term")]
    for j, model in enumerate(models):
        sub = df[df["model"] == model]
        top, bottom = axes[0, j], axes[1, j]
        lh = sub["log10_norm_h_term"].to_numpy(dtype=float)
        lg_small = sub.loc[sub["alpha"] <= 1.0, "log10_norm_g_term"].to_numpy(dtype=float)
        lowest = np.nanmin(np.concatenate([lh[np.isfinite(lh)], lg_small[np.isfinite(lg_small)]]))
        floor = np.floor(lowest - floor_decades)
        for name, label in terms:
            color = COLORS[name]
            _seed_lines(top, sub, "alpha", f"pc_{name}", color=color, label=label)
            _seed_lines(bottom, sub, "alpha", f"log10_norm_{name}", color=color, label=label,
                        transform=lambda s, f=floor: 10.0 ** s.clip(lower=f))
        if strips is not None:
            for k, (lo, hi) in enumerate(strips.get(model, [])):
                for ax in (top, bottom):
                    ax.axvspan(lo, hi, color=COLORS["zone"], alpha=0.35, lw=0,
                               label="‖G‖₂ ≥ ‖H-term‖₂" if (k == 0 and ax is top) else None)
        bottom.set_yscale("log")
        bottom.set_ylim(10.0**floor / 2, None)
        top.axhline(0.0, color=COLORS["reference"], lw=0.8, ls=":")
        top.set_title(model, fontsize=11)
        for ax in (top, bottom):
            log_alpha_axis(ax)
        top.set_ylabel(r"positive curvature $\mathrm{Tr}/\Vert\cdot\Vert_F$")
        bottom.set_ylabel(r"spectral norm $\Vert\cdot\Vert_2$ (true scale)")
        collapsed = sub["log10_norm_g_term"] < floor
        if collapsed.any():
            bottom.annotate(f"G-term below $10^{{{floor:.0f}}}$\n(collapsed softmax)",
                            xy=(sub.loc[collapsed, "alpha"].min(), 10.0**floor), xytext=(6, 10),
                            textcoords="offset points", fontsize=8, color=COLORS["g_term"])
    axes[0, 0].legend(fontsize=8, loc="center left")
    return fig


# --- App. A: spectral densities (bulk + outliers) ---------------------------------------
__all__ += ["spectral_density_figure"]

_TERM_LABELS = {"hessian": "Hessian $H$", "g_term": "G-term", "h_term": "H-term"}


def _density_panel(ax, point, terms, *, floor_decades: float = 2.0, num_marked: int = 20) -> None:
    """One α: log densities of ``terms`` on the shared grid, the bulk edge and the outliers."""
    import matplotlib.transforms as mtransforms

    any_density = next(iter(point.terms.values())).density
    sigma = any_density.sigma
    one_eigenvalue = 1.0 / (point.num_params * sigma * np.sqrt(2 * np.pi))  # peak of one smeared λ
    floor = one_eigenvalue * 10.0 ** (-floor_decades)
    peak = 0.0
    for term in terms:
        d = point.terms[term].density
        ax.plot(d.grid, np.maximum(d.density, floor * 1e-3), color=COLORS[term], lw=1.3,
                label=_TERM_LABELS[term], alpha=0.9)
        peak = max(peak, float(d.density.max()))
    ax.set_yscale("log")
    ax.set_ylim(floor, peak * 3)
    threshold = (1 + point.margin) * point.edge
    ax.axvline(point.edge, color=COLORS["h_term"], ls="--", lw=1, label=r"bulk edge $\|H\text{-term}\|_2$")
    if point.margin > 0:
        ax.axvspan(point.edge, threshold, color=COLORS["h_term"], alpha=0.08, lw=0)
    marks = mtransforms.blended_transform_factory(ax.transData, ax.transAxes)
    for term, y in (("hessian", 0.97), ("g_term", 0.91)):
        if term not in point.terms or term not in terms:
            continue
        top = point.terms[term].top.values[:num_marked]
        top = top[np.isfinite(top)]
        out = top > threshold
        ax.scatter(top[out], np.full(out.sum(), y), marker="v", s=22, color=COLORS[term], transform=marks,
                   zorder=3, clip_on=False)
        ax.scatter(top[~out], np.full((~out).sum(), y), marker="v", s=12, facecolors="none",
                   edgecolors=COLORS[term], transform=marks, zorder=3, lw=0.7, clip_on=False)
    counts = ", ".join(f"{_TERM_LABELS[t].split(' ')[0]} {point.outliers[t]}" for t in ("hessian", "g_term")
                       if t in point.outliers)
    ax.set_title(rf"$\alpha = {point.alpha:g}$, $T = {point.temperature:g}$ — outliers: {counts}", fontsize=10)
    ax.set_xlabel(r"eigenvalue $\lambda$")
    ax.set_ylabel("spectral density")


def spectral_density_figure(points, *, main_alpha: float | None = 1.0, terms: Sequence[str] = ("hessian", "g_term", "h_term"),
                            floor_decades: float = 2.0, num_marked: int = 20):
    """Spectral densities (SLQ) of H, G-term and H-term, one panel per α (App. A).

    ``points`` are :class:`goldilocks_core.experiments.spectra.SpectraPoint` s. The panel of
    ``main_alpha`` spans the top row, the others share the bottom row. Each panel shows the
    log density on the point's shared grid (floored ``floor_decades`` decades below the height
    of a single smeared eigenvalue), the bulk edge ‖H-term‖₂ (dashed; the shaded band is the
    counting margin) and the top eigenvalues of H (upper row of triangles) and of the
    G-term (lower row); filled triangles are the outliers counted.
    """
    points = list(points)
    if not points:
        raise ValueError("points is empty: nothing to plot")
    main = None
    if main_alpha is not None:
        main = next((p for p in points if np.isclose(p.alpha, main_alpha)), None)
    others = [p for p in points if p is not main]
    if main is None or not others:
        fig, axes = plt.subplots(1, len(points), figsize=(4.6 * len(points), 3.4), squeeze=False)
        panels = list(zip(axes[0], points))
    else:
        layout = [["main"] * len(others), [f"p{i}" for i in range(len(others))]]
        fig, axd = plt.subplot_mosaic(layout, figsize=(4.7 * max(2, len(others)), 6.6))
        panels = [(axd["main"], main)] + [(axd[f"p{i}"], p) for i, p in enumerate(others)]
    for ax, point in panels:
        _density_panel(ax, point, terms, floor_decades=floor_decades, num_marked=num_marked)
    panels[0][0].legend(fontsize=8, loc="center right")
    return fig


__all__ += ["bbp_figure"]


def bbp_figure(thetas, tops, overlaps, *, limit_thetas, limit_top, limit_overlap, sigma: float = 1.0,
               dim: int | None = None):
    """The BBP transition of a spiked Wigner matrix: top eigenvalue and eigenvector overlap vs θ.

    ``tops``/``overlaps`` are the finite-size values at ``thetas``; ``limit_top`` and
    ``limit_overlap`` the limits on the (finer) grid ``limit_thetas``
    (:func:`goldilocks_core.experiments.spectra.bbp_outlier`,
    :func:`~goldilocks_core.experiments.spectra.bbp_overlap`).
    """
    thetas = np.asarray(thetas, dtype=float)
    fig, axes = plt.subplots(1, 2, figsize=(8.6, 3.1))
    size = f" (P = {dim})" if dim else ""
    axes[0].plot(limit_thetas, limit_top, color=COLORS["reference"], lw=1.2, label="limit")
    axes[0].plot(thetas, tops, "o", ms=4, color=COLORS["hessian"], label=f"finite size{size}")
    axes[0].axhline(2 * sigma, color=COLORS["h_term"], ls="--", lw=1, label=r"bulk edge $2\sigma$")
    axes[0].set_ylabel(r"top eigenvalue of $W + \theta uu^\top$")
    axes[1].plot(limit_thetas, limit_overlap, color=COLORS["reference"], lw=1.2, label="limit")
    axes[1].plot(thetas, overlaps, "o", ms=4, color=COLORS["g_term"], label=f"finite size{size}")
    axes[1].set_ylabel(r"overlap $\langle u, v_1\rangle^2$")
    for ax in axes:
        ax.axvline(sigma, color=COLORS["reference"], ls=":", lw=1)
        ax.set_xlabel(r"spike strength $\theta$")
        ax.legend(fontsize=8)
    return fig


def init_spectra(spectra, curvature=None):
    """Eigenvalues (descending) of the projected Hessian, G-term and H-term of each model at
    α = 1, T = 1, one panel per model, symlog y axis (chapter 2).

    ``spectra``: {model: {"hessian"|"g_term"|"h_term": array}} from
    :func:`goldilocks_core.experiments.preliminaries.init_curvature`; ``curvature`` (its table)
    adds each matrix's positive curvature to the legend.
    """
    names = {"hessian": "Hessian", "g_term": "G-term", "h_term": "H-term"}
    fig, axes = plt.subplots(1, len(spectra), figsize=(5.0 * len(spectra), 3.4), squeeze=False)
    for ax, (model, terms) in zip(axes[0], spectra.items()):
        top = max(float(np.abs(v).max()) for v in terms.values())
        for key, ev in terms.items():
            label = names[key]
            if curvature is not None:
                label += f": pc {curvature.loc[model, f'pc_{key}']:.2f}"
            ax.plot(np.arange(1, len(ev) + 1), ev, "o-", ms=3, lw=1, color=COLORS[key], label=label)
        ax.axhline(0, color=COLORS["reference"], lw=0.8)
        ax.set_yscale("symlog", linthresh=1e-3 * top)
        ax.set_title(model, fontsize=10)
        ax.set_xlabel("eigenvalue index (descending)")
        ax.legend(fontsize=9)
    axes[0, 0].set_ylabel("eigenvalue of the projected matrix")
    return fig


# --- Chapter 5 and Appendix E: training inside and outside the zone (Fig. 7-9, 11, 12) ---------
__all__ += ["regime_taxonomy", "training_grid_figure", "training_curves", "uso_figure", "probe_zero_figure"]

REGIME_COLORS = {"diverges": "#e76f51", "zero logits": "#8ecae6", "lazy": "#b5838d",
                 "trains normally": "#2a9d8f", "does not train": "#adb5bd"}


def regime_taxonomy(seen):
    """Fig. 7: the outcomes of gradient descent from small and large initialisation norms, as
    boxes and arrows; a box is filled when ``seen`` (a :func:`regimes_seen` table with columns
    ``side, regime, cells``) has cells of that regime on that side, and labelled with their count."""
    counts = {(r.side, r.regime): int(r.cells) for r in seen.itertuples()} if len(seen) else {}
    fig, ax = plt.subplots(figsize=(7.6, 3.6))
    ax.set_axis_off()
    ax.set_xlim(0, 10)
    ax.set_ylim(0, 5.2)
    boxes = {
        ("alpha < 1", "start"): (1.6, 4.6, "small norm, α < 1\n(uniform softmax)"),
        ("alpha > 1", "start"): (8.4, 4.6, "large norm, α > 1\n(one-hot softmax)"),
        ("alpha < 1", "diverges"): (0.9, 2.9, "diverges\n(norm grows)"),
        ("alpha < 1", "trains normally"): (2.6, 1.2, "back in the zone:\ntrains normally"),
        ("alpha < 1", "zero logits"): (0.9, 1.2, "zero logits"),
        ("alpha < 1", "does not train"): (2.6, 2.9, "still uniform\n(not trained yet)"),
        ("alpha > 1", "diverges"): (6.3, 2.2, "diverges"),
        ("alpha > 1", "zero logits"): (7.9, 2.2, "zero logits"),
        ("alpha > 1", "lazy"): (9.3, 2.2, "lazy\n(train ≫ test)"),
        ("alpha = 1", "trains normally"): (5.0, 4.6, "α = 1:\ntrains normally"),
    }
    for (side, regime), (x, y, text) in boxes.items():
        n = counts.get((side, regime), 0)
        color = REGIME_COLORS.get(regime, "white") if n else "white"
        label = f"{text}\n[{n} cells]" if regime != "start" else text
        ax.text(x, y, label, ha="center", va="center", fontsize=9,
                bbox={"boxstyle": "round,pad=0.35", "fc": color, "ec": "#343a40", "alpha": 0.9})
    arrows = [((1.6, 4.2), (0.9, 3.35)), ((1.6, 4.2), (2.6, 3.35)), ((0.9, 2.45), (0.9, 1.7)),
              ((0.9, 2.45), (2.6, 1.7)), ((8.4, 4.2), (6.3, 2.6)), ((8.4, 4.2), (7.9, 2.6)),
              ((8.4, 4.2), (9.3, 2.65))]
    for start, end in arrows:
        ax.annotate("", xy=end, xytext=start, arrowprops={"arrowstyle": "->", "color": "#343a40"})
    return fig


def _edges(values):
    v = np.log10(np.asarray(sorted(values), dtype=float))
    if v.size == 1:
        return 10 ** np.array([v[0] - 0.25, v[0] + 0.25])
    mid = (v[1:] + v[:-1]) / 2
    return 10 ** np.concatenate([[v[0] - (mid[0] - v[0])], mid, [v[-1] + (v[-1] - mid[-1])]])


def _heat(ax, table, column, *, log=False, cmap="viridis", vmin=None, vmax=None, mark=None, mark_color="w"):
    wide = table.pivot(index="base_lr", columns="alpha", values=column).sort_index().sort_index(axis=1)
    z = wide.to_numpy(dtype=float)
    if log:
        with np.errstate(divide="ignore", invalid="ignore"):
            z = np.log10(z)
    mesh = ax.pcolormesh(_edges(wide.columns), _edges(wide.index), np.ma.masked_invalid(z), cmap=cmap,
                         vmin=vmin, vmax=vmax, shading="flat")
    if mark is not None:
        m = table.pivot(index="base_lr", columns="alpha", values=mark).sort_index().sort_index(axis=1)
        xs, ys = np.meshgrid(m.columns, m.index)
        sel = m.to_numpy(dtype=bool)
        ax.scatter(xs[sel], ys[sel], marker="s", s=60, facecolor=mark_color, edgecolor="k", lw=0.5)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(r"$\alpha$")
    ax.set_ylabel(r"base learning rate $\eta_0$")
    ax.figure.colorbar(mesh, ax=ax, shrink=0.9)
    return mesh


def training_grid_figure(results, *, zero_color: str = "#8ecae6", inadmissible_color: str = "#f4a6c0"):
    """Fig. 8: per model (rows) the best train accuracy, log10 of the largest ‖θ‖ (runs ending with
    zero logits marked) and log10 η·‖H‖₂ at initialisation (inadmissible cells, > 2, marked), with
    the Goldilocks strip shaded. ``results``: the output of ``experiments.optimization.fig8``."""
    fig, axes = plt.subplots(len(results), 3, figsize=(11.5, 3.3 * len(results)), squeeze=False)
    for row, (name, r) in zip(axes, results.items()):
        s = r["summary"].assign(zero=r["summary"]["regime"] == "zero logits")
        _heat(row[0], s, "max_train_accuracy", vmin=0, vmax=1)
        _heat(row[1], s, "max_param_norm", log=True, cmap="magma", mark="zero", mark_color=zero_color)
        adm = r["admissibility"].assign(inadmissible=~r["admissibility"]["admissible"])
        _heat(row[2], adm, "lr_sharpness", log=True, cmap="cividis", mark="inadmissible",
              mark_color=inadmissible_color)
        for ax, title in zip(row, ("max train accuracy", r"log$_{10}$ max $\|\theta\|$",
                                   r"log$_{10}$ $\eta\,\|H\|_2$ at init")):
            ax.set_title(f"{name}\n{title}", fontsize=9)
            if r["strip"] is not None:
                lo, hi = r["strip"]
                ax.axvline(lo, color=COLORS["zone"], lw=2.5)
                ax.axvline(hi, color=COLORS["zone"], lw=2.5)
    return fig


def training_curves(frame, *, alphas=None):
    """Fig. 9: train (solid) and test (dashed) accuracy against the step, one panel per α, one
    colour per η₀."""
    alphas = sorted(frame["alpha"].unique()) if alphas is None else list(alphas)
    lrs = sorted(frame["base_lr"].unique())
    colors = plt.cm.viridis(np.linspace(0, 0.9, len(lrs)))
    fig, axes = plt.subplots(1, len(alphas), figsize=(4.2 * len(alphas), 3.3), sharey=True, squeeze=False)
    for ax, a in zip(axes[0], alphas):
        for c, lr in zip(colors, lrs):
            g = frame[np.isclose(frame["alpha"], a) & np.isclose(frame["base_lr"], lr)].sort_values("step")
            ax.plot(g["step"], g["train_accuracy"], color=c, label=rf"$\eta_0$ = {lr:.2g}")
            ax.plot(g["step"], g["test_accuracy"], color=c, ls="--")
        ax.set_title(rf"$\alpha$ = {a:g}")
        ax.set_xlabel("step")
    axes[0, 0].set_ylabel("accuracy (train solid, test dashed)")
    axes[0, -1].legend(fontsize=8, loc="center left", bbox_to_anchor=(1.0, 0.5))
    return fig


def uso_figure(f11):
    """Fig. 11: left, ‖θ_t‖/α of the α-networks against the USO path; right, cos(θ_t, θ₀) and
    cos(θ_t, −g_t) along the USO path, and (red, right axis) the train error after retraining from
    the USO parameters rescaled to ‖θ₀‖."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.5))
    uso, paths = f11["uso"], f11["paths"]
    left.plot(uso["step"], uso["param_norm"], color="k", lw=3, alpha=0.35, label="USO model")
    colors = plt.cm.viridis(np.linspace(0, 0.85, paths["alpha"].nunique()))
    for c, (a, g) in zip(colors, paths.groupby("alpha")):
        left.plot(g["step"], g["rescaled_norm"], color=c, label=rf"$\alpha$ = {a:g}")
    left.set_yscale("log")
    left.set_xlabel("step")
    left.set_ylabel(r"$\|\theta_t\| / \alpha$")
    left.legend(fontsize=8)
    right.plot(uso["step"], uso["cos_theta0"], color=COLORS["hessian"], label=r"cos($\theta_t$, $\theta_0$)")
    right.plot(uso["step"], uso["cos_neg_grad"], color=COLORS["g_term"], label=r"cos($\theta_t$, $-g_t$)")
    right.set_xlabel("step (USO model)")
    right.set_ylabel("cosine")
    right.legend(fontsize=8, loc="center left")
    twin = right.twinx()
    r = f11["retrain"]
    twin.plot(r["step"], r["train_error"], "o-", color="#d62828")
    twin.set_ylabel("train error after retraining", color="#d62828")
    twin.set_ylim(0, 1)
    return fig


def probe_zero_figure(f12):
    """Fig. 12 and §5's random labels: probe accuracy on trained (solid) and random (dashed)
    features against α (min/max band over seeds); the zero-logit fraction over training per α;
    the same with random labels fixed once (solid) or redrawn every step (dashed)."""
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.4))
    p = f12["probe"].groupby("alpha")
    for col, ls, label in (("trained_features", "-", "trained features"),
                           ("random_features", "--", "random features")):
        med, lo, hi = p[col].median(), p[col].min(), p[col].max()
        axes[0].plot(med.index, med, ls=ls, marker="o", color=COLORS["hessian"], label=label)
        axes[0].fill_between(med.index, lo, hi, color=COLORS["hessian"], alpha=0.15, lw=0)
    log_alpha_axis(axes[0])
    axes[0].set_ylabel("linear-probe test accuracy")
    axes[0].legend(fontsize=8)
    colors = plt.cm.viridis(np.linspace(0, 0.85, f12["zero"]["alpha"].nunique()))
    for c, (a, g) in zip(colors, f12["zero"].groupby("alpha")):
        axes[1].plot(g["step"], g["zero_logit_fraction"], color=c, label=rf"$\alpha$ = {a:g}")
    lab = f12["labels"]
    for c, (a, g) in zip(colors, lab.groupby("alpha")):
        for kind, ls in (("random", "-"), ("redrawn", "--")):
            h = g[g["labels"] == kind]
            axes[2].plot(h["step"], h["zero_logit_fraction"], color=c, ls=ls,
                         label=rf"$\alpha$ = {a:g}, {kind}")
    for ax, title in ((axes[1], "dataset labels"), (axes[2], "random labels: fixed (—), redrawn (--)")):
        ax.set_xlabel("step")
        ax.set_ylabel("share of samples with zero logits")
        ax.set_ylim(-0.02, 1.02)
        ax.set_title(title, fontsize=9)
    axes[1].legend(fontsize=8)
    return fig


# --------------------------------------------------------------------------------------------
# Related work: Fort & Ganguli (2019), the random logit model
# (data from goldilocks_core.experiments.fort_ganguli)

__all__ += ["fort_ganguli_clustering", "fort_ganguli_spectrum", "fort_ganguli_sweep"]

# their Fig. 1: green q^SLSC, red q^SL, blue q^DL
_Q_COLORS = {"q_slsc": "#2a9d4f", "q_sl": "#c1121f", "q_dl": "#1f5fa8"}
_Q_LABELS = {"q_slsc": "$q^{SLSC}$", "q_sl": "$q^{SL}$", "q_dl": "$q^{DL}$"}


def fort_ganguli_clustering(table, *, axes=None):
    """F&G Fig. 1: q^SLSC, q^SL, q^DL per network and activation, at initialisation and trained.

    ``table``: :func:`goldilocks_core.experiments.fort_ganguli.fig1`. One panel per stage.
    """
    stages = list(dict.fromkeys(table["stage"]))
    if axes is None:
        _, axes = plt.subplots(len(stages), 1, figsize=(7.8, 2.2 * len(stages) + 0.6), sharex=True,
                               sharey=True, squeeze=False)
        axes = axes[:, 0]
    for ax, stage in zip(axes, stages):
        sub = table[table["stage"] == stage]
        labels = [f"{n.split(',')[0]}\n{a}" for n, a in zip(sub["network"], sub["activation"])]
        x = np.arange(len(sub))
        for i, col in enumerate(_Q_COLORS):
            ax.bar(x + (i - 1) * 0.27, sub[col], width=0.27, color=_Q_COLORS[col], label=_Q_LABELS[col])
        ax.axhline(0, color="black", lw=0.8)
        ax.set_xticks(x, labels)
        ax.set_ylabel("mean cosine")
        ax.set_title("at initialisation" if stage == "init" else stage, fontsize=11)
    axes[0].legend(fontsize=10, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return axes[0].figure


def fort_ganguli_spectrum(props, *, axes=None):
    """F&G Figs. 5–6 at one draw: the Hessian spectrum (bulk + outliers) and the squared cosines
    between the gradient and the Hessian eigenvectors, with their cumulative sum.

    ``props``: :func:`goldilocks_core.experiments.fort_ganguli.fort_ganguli_properties`.
    """
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(7.8, 3.2))
    lam = np.asarray(props["eigenvalues"])
    ax = axes[0]
    ax.hist(lam, bins=np.linspace(0, lam.max() * 1.02, 80), color=COLORS["hessian"])
    ax.axvline(props["noise_top"], color=COLORS["h_term"], ls="--", lw=1.2, label="top of the noise term")
    ax.set_yscale("log")
    ax.set_xlabel("Hessian eigenvalue")
    ax.set_ylabel("count")
    ax.legend(fontsize=9.5)
    ax = axes[1]
    cos2 = np.asarray(props["overlaps"])
    idx = np.arange(1, len(cos2) + 1)
    ax.scatter(idx, cos2, s=7, color=COLORS["hessian"], label=r"$\cos^2(g, v_i)$")
    ax.plot(idx, np.cumsum(cos2), color=COLORS["g_term"], lw=1.6, label="cumulative")
    ax.axvline(props["top_k"], color=COLORS["reference"], ls=":", lw=1)
    ax.set_xscale("log")
    ax.set_xlabel("eigenvector $i$ (by eigenvalue)")
    ax.legend(fontsize=9.5, loc="center right")
    return axes[0].figure


def fort_ganguli_sweep(out, *, axes=None):
    """F&G Figs. 7–8 along the σ_z sweep: λ_max for a family of laws σ_c ∝ σ_z^a (the chosen a
    thick), and Tr(H)/‖H‖_F of the model against Eq. 7 and Eq. 8, in full space and on random
    hyperplanes.

    ``out``: :func:`goldilocks_core.experiments.fort_ganguli.model_figures`.
    """
    sweep, coupled, chosen = out["sweep"], out["coupled"], out["power"]
    projected = "positive_curvature_projected" in sweep
    if axes is None:
        _, axes = plt.subplots(1, 3 if projected else 2, figsize=(7.8, 3.1))
    ax = axes[0]
    powers = sorted(coupled["power"].unique())
    cmap = matplotlib.colormaps["viridis"]
    for i, a in enumerate(powers):
        sub = coupled[coupled["power"] == a]
        main = np.isclose(a, chosen)
        ax.plot(sub["sigma_z"], sub["top_eigenvalue"], lw=2.4 if main else 1.2, ls="-" if main else "--",
                color="black" if main else cmap(i / max(len(powers) - 1, 1)), label=f"a = {a:.2g}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(r"$\sigma_z$")
    ax.set_ylabel(r"$\lambda_{\max}(H)$")
    ax.legend(fontsize=9, title=r"$\sigma_c \propto \sigma_z^a$", title_fontsize=9)
    panels = [("", "full space")] + ([("_projected", "random hyperplanes")] if projected else [])
    for ax, (suffix, title) in zip(axes[1:], panels):
        ax.plot(sweep["sigma_z"], sweep["positive_curvature" + suffix], "o-", ms=3.5, color=COLORS["hessian"],
                label="model")
        ax.plot(sweep["sigma_z"], sweep["eq7_curvature" + suffix], ":", lw=1.8, color=COLORS["g_term"],
                label="Eq. 7")
        ax.plot(sweep["sigma_z"], sweep["eq8_curvature" + suffix], "--", lw=1.5, color=COLORS["h_term"],
                label="Eq. 8")
        ax.set_xscale("log")
        ax.set_xlabel(r"$\sigma_z$")
        ax.set_title(title, fontsize=10.5)
    axes[1].set_ylabel(r"$\mathrm{Tr}(H)/\Vert H\Vert_F$")
    axes[1].legend(fontsize=9)
    return axes[0].figure


# --- Related work: Fort & Scherlis, hyperplanes and hyperspheres --------------------------------
# (data from goldilocks_core.experiments.fort_scherlis)
__all__ += ["radius_curvature_figure", "subspace_training_figure"]

_SURFACE_COLORS = {"hyperplane": COLORS["hessian"], "sphere": COLORS["h_term"]}


def _radius_marks(ax, radii, zone, *, label: bool = False):
    """The zone shaded, the Xavier (dashed) and Kaiming (solid) radii as vertical lines."""
    ax.axvspan(*zone, color=COLORS["zone"], alpha=0.35, lw=0, label="zone (hyperplanes)" if label else None)
    ax.axvline(radii["xavier"], color=COLORS["reference"], ls="--", lw=1, label="Xavier radius" if label else None)
    ax.axvline(radii["kaiming"], color=COLORS["reference"], ls="-", lw=1, label="Kaiming radius" if label else None)
    log_alpha_axis(ax, r"radius $r = \Vert\theta\Vert$")


def radius_curvature_figure(curves, radii, zone, *, num_seeds: int | None = None):
    """Positive curvature (top) and local convexity (bottom) against the radius r of r·θ̂, on random
    hyperplanes (left) and on spheres (right): seed means with min/max bands.

    ``curves``: {(surface, metric): :func:`~goldilocks_core.experiments.fort_scherlis.mean_curves`
    table} for surface ∈ {hyperplane, sphere}, metric ∈ {pc, lc}; ``radii``: {"xavier", "kaiming"};
    ``zone``: the (lo, hi) radii shaded.
    """
    fig, axes = plt.subplots(2, 2, figsize=(10, 5.8), sharex=True, sharey="row")
    titles = {"hyperplane": "random hyperplanes through $r\\hat\\theta$",
              "sphere": "spheres of radius $r$ (tangent directions)"}
    for j, surface in enumerate(("hyperplane", "sphere")):
        for i, metric in enumerate(("pc", "lc")):
            ax, c = axes[i, j], curves[(surface, metric)]
            ax.plot(c["radius"], c["mean"], color=_SURFACE_COLORS[surface], lw=1.8)
            ax.fill_between(c["radius"], c["min"], c["max"], color=_SURFACE_COLORS[surface], alpha=0.2, lw=0)
            _radius_marks(ax, radii, zone, label=(i == 0 and j == 0))
            ax.axhline(0.0 if metric == "pc" else 0.5, color=COLORS["reference"], lw=0.8, ls=":")
            if i == 0:
                ax.set_xlabel("")
        axes[0, j].set_title(titles[surface], fontsize=11)
    axes[0, 0].set_ylabel(r"positive curvature $\mathrm{Tr}(H)/\Vert H\Vert_F$")
    axes[1, 0].set_ylabel("local convexity\n(fraction of $\\lambda_i > 0$)")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    if num_seeds is not None:
        handles.append(matplotlib.lines.Line2D([], [], color="k", lw=1.8))
        labels.append(f"mean, min/max over {num_seeds} seeds")
    fig.legend(handles, labels, loc="outside lower center", ncol=4, fontsize=9)
    return fig


def subspace_training_figure(final, radii, zone, *, chance: float):
    """Final test accuracy of training confined to random surfaces through r·θ̂, against r.

    ``final``: :func:`~goldilocks_core.experiments.fort_scherlis.final_accuracies` (columns
    ``protocol, surface, dim, radius, test_accuracy, param_norm``); ``zone``: (lo, hi) radii shaded;
    ``chance``: 1/K (dotted). Panels: (a) hyperplanes and (b) spheres with one learning rate,
    (c) spheres with η₀·α^(2−L), (d) the final ‖θ‖ of the hyperplane cells (diverged cells: ×).
    """
    protocols = list(dict.fromkeys(final["protocol"]))
    dims = sorted(set(final["dim"]))
    shades = dict(zip(dims, np.linspace(0.45, 1.0, len(dims))))
    fig, axes = plt.subplots(2, 2, figsize=(10, 6.4), sharex=True)
    panels = [(axes[0, 0], protocols[0], "hyperplane", "(a) hyperplanes, one learning rate"),
              (axes[0, 1], protocols[0], "sphere", "(b) spheres, one learning rate"),
              (axes[1, 0], protocols[-1], "sphere", r"(c) spheres, $\eta_0\alpha^{2-L}$")]
    for ax, protocol, surface, title in panels:
        sub = final[(final["protocol"] == protocol) & (final["surface"] == surface)]
        for d in sorted(set(sub["dim"])):
            g = sub[sub["dim"] == d].sort_values("radius")
            color = matplotlib.colors.to_rgba(_SURFACE_COLORS[surface], shades[d])
            ax.plot(g["radius"], g["test_accuracy"], "o-", color=color, ms=4, label=f"d = {d}")
            dead = g[g["diverged"]]
            ax.plot(dead["radius"], np.full(len(dead), chance), "x", color=color, ms=7)
        ax.axhline(chance, color=COLORS["reference"], ls=":", lw=1)
        _radius_marks(ax, radii, zone)
        ax.set_ylabel("final test accuracy")
        ax.set_ylim(0, None)
        ax.set_title(title, fontsize=10)
        ax.legend(fontsize=8, loc="best")
    ax = axes[1, 1]
    planes = final[(final["protocol"] == protocols[0]) & (final["surface"] == "hyperplane")]
    for d in dims:
        g = planes[planes["dim"] == d].sort_values("radius")
        color = matplotlib.colors.to_rgba(_SURFACE_COLORS["hyperplane"], shades[d])
        ax.plot(g["radius"], g["param_norm"], "o-", color=color, ms=4, label=f"d = {d}")
    lo, hi = final["radius"].min(), final["radius"].max()
    ax.plot([lo, hi], [lo, hi], color=COLORS["reference"], lw=0.8, ls="--", label="start")
    ax.axhspan(*zone, color=COLORS["zone"], alpha=0.35, lw=0)
    _radius_marks(ax, radii, zone)
    ax.set_yscale("log")
    ax.set_ylabel(r"final $\Vert\theta\Vert$ (hyperplanes)")
    ax.set_title("(d) where the hyperplane runs end", fontsize=10)
    ax.legend(fontsize=8, loc="upper left")
    for ax in axes[0]:
        ax.set_xlabel("")
    for ax in axes[1]:
        ax.set_xlabel(r"start radius $r$")
    return fig


# --------------------------------------------------------------------------------------------
# Related work: Kalra & Barkeshli (2023), the early-training phase diagram
# (data from goldilocks_core.experiments.kalra_barkeshli)

__all__ += ["early_trajectories", "early_phase_diagram", "uv_check_figure", "uv_phase_figure"]

# the phases of their Fig. 3, from small to large c
PHASE_COLORS = {"sub-critical, c < 2": "#e9f5ec", "sharpness reduction": "#cfeed8", "loss catapult": "#fff2c2",
                "loss and sharpness catapult": "#fbd3a6", "divergent": "#f2a3a3"}
_CONSTANT_STYLE = {"c_loss": ("s", r"$\langle c_{loss}\rangle$"), "c_sharp": ("^", r"$\langle c_{sharp}\rangle$"),
                   "c_max": ("D", r"$\langle c_{max}\rangle$")}


def _log2_axis(ax, which: str, label: str) -> None:
    """A base-2 log axis (``which`` = "x" or "y") with ticks written 4, 1/4, …"""
    (ax.set_xscale if which == "x" else ax.set_yscale)("log", base=2)
    axis = ax.xaxis if which == "x" else ax.yaxis
    axis.set_major_formatter(matplotlib.ticker.FuncFormatter(
        lambda v, _: f"{v:g}" if v >= 1 else f"1/{1 / v:g}"))
    axis.set_label_text(label)


def early_trajectories(frame, *, titles=None):
    """Their Fig. 2: ℓ_t/ℓ₀ (top) and λ_t/λ₀ (bottom) over the first steps, one column per
    architecture of ``frame`` (:func:`~goldilocks_core.experiments.kalra_barkeshli.trajectory_demo`),
    one line per c (colour: log₂ c)."""
    archs = list(dict.fromkeys(zip(frame["depth"], frame["width"])))
    cs = np.sort(frame["c"].unique())
    cmap = plt.get_cmap("viridis")
    norm = matplotlib.colors.Normalize(np.log2(cs.min()), np.log2(cs.max()))
    fig, axes = plt.subplots(2, len(archs), figsize=(4.3 * len(archs) + 1.2, 5.6), sharex=True, sharey="row",
                             squeeze=False)
    for j, (d, w) in enumerate(archs):
        sub = frame[(frame["depth"] == d) & (frame["width"] == w)]
        for c, g in sub.groupby("c"):
            g = g.sort_values("step")
            for i, col in enumerate(("loss_ratio", "sharpness_ratio")):
                axes[i, j].plot(g["step"], g[col], color=cmap(norm(np.log2(c))), lw=1.6,
                                ls="--" if bool(g["diverged"].iloc[0]) else "-")
        axes[0, j].set_title(titles[j] if titles else f"d = {d}, w = {w} (d/w = 1/{w // d if w % d == 0 else w / d:g})",
                             fontsize=10)
        axes[1, j].set_xlabel("step t")
        for i in range(2):
            axes[i, j].axhline(1.0, color=COLORS["reference"], lw=0.8, ls=":")
            axes[i, j].set_yscale("log")
    axes[0, 0].set_ylabel(r"loss $\ell_t/\ell_0$")
    axes[1, 0].set_ylabel(r"sharpness $\lambda_t/\lambda_0$")
    axes[0, 0].set_ylim(1e-2, 1e3)
    sm = matplotlib.cm.ScalarMappable(norm=norm, cmap=cmap)
    bar = fig.colorbar(sm, ax=axes, shrink=0.85, pad=0.02)
    bar.set_label(r"$\log_2 c$   ($\eta = c/\lambda_0$)")
    return fig


def _phase_panel(ax, y, c_loss, c_sharp, c_max, *, c_floor: float, c_ceiling: float, c_crit: float = 2.0,
                 points=None, ylabel: str = "") -> None:
    """Shaded phases between the mean constant curves (one value per y), markers for ``points``."""
    order = np.argsort(y)
    y, curves = np.asarray(y, float)[order], [np.asarray(v, float)[order] for v in (c_loss, c_sharp, c_max)]
    lo = np.full_like(y, c_floor)
    crit = np.minimum(np.full_like(y, c_crit), curves[0])
    # each boundary at least the one before, so a phase whose constants are out of order is empty
    edges = np.maximum.accumulate(np.stack([lo, crit, *curves, np.full_like(y, c_ceiling)]), axis=0)
    for (name, color), a, b in zip(PHASE_COLORS.items(), edges[:-1], edges[1:]):
        ax.fill_betweenx(y, a, b, color=color, lw=0, label=name)
    for key, curve in zip(_CONSTANT_STYLE, curves):
        marker, label = _CONSTANT_STYLE[key]
        ax.plot(curve, y, color="#343a40", lw=1.2)
        src = points if points is not None else {"y": y, key: curve}
        ax.scatter(src[key], src["y"], marker=marker, s=34, facecolors="white", edgecolors="#212529",
                   zorder=3, label=label)
    ax.axvline(c_crit, color=COLORS["reference"], ls="--", lw=1)
    _log2_axis(ax, "x", r"learning-rate constant $c$ ($\eta = c/\lambda_0$)")
    _log2_axis(ax, "y", ylabel)
    ax.set_xlim(c_floor, c_ceiling)
    ax.set_ylim(y.min() / 1.25, y.max() * 1.25)


def early_phase_diagram(summaries, *, c_floor: float = 0.5, c_ceiling: float | None = None):
    """Their Fig. 3: ⟨c_loss⟩, ⟨c_sharp⟩, ⟨c_max⟩ against d/w, one panel per loss.

    ``summaries``: ``{title: phase_summary table}``; markers are the architectures, the curves and
    phases follow the means over architectures that share a d/w.
    """
    fig, axes = plt.subplots(1, len(summaries), figsize=(5.2 * len(summaries), 4.3), sharex=True, sharey=True,
                             squeeze=False)
    top = max(float(s["c_max"].max()) for s in summaries.values())
    ceiling = c_ceiling or 2.0 ** np.ceil(np.log2(top) + 0.5)
    for ax, (title, s) in zip(axes[0], summaries.items()):
        m = s.groupby("d_over_w")[["c_loss", "c_sharp", "c_max"]].mean()
        _phase_panel(ax, m.index.to_numpy(), m["c_loss"], m["c_sharp"], m["c_max"], c_floor=c_floor,
                     c_ceiling=ceiling, points={"y": s["d_over_w"], "c_loss": s["c_loss"],
                                                "c_sharp": s["c_sharp"], "c_max": s["c_max"]},
                     ylabel="depth / width  d/w")
        ax.set_title(title, fontsize=10)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=4, fontsize=9)
    return fig


def uv_check_figure(check):
    """The uv model's loss and λ_max over gradient-descent steps: the function-space map (lines)
    and gradient descent on (u, v) with the autograd Hessian (markers), one colour per c."""
    frame = check["frame"]
    fig, axes = plt.subplots(1, 2, figsize=(9.6, 3.6), sharex=True)
    colors = plt.cm.plasma(np.linspace(0.1, 0.8, frame["c"].nunique()))
    for color, (c, g) in zip(colors, frame.groupby("c")):
        mp, sim = g[g["source"] == "map"], g[g["source"] == "simulation"]
        for ax, col in zip(axes, ("loss", "sharpness")):
            ax.plot(mp["step"], mp[col], color=color, lw=1.6, label=f"c = {c:g}")
            ax.plot(sim["step"], sim[col], ls="none", marker="o", ms=4, mfc="none", color=color)
    axes[0].set_yscale("log")
    axes[0].set_ylabel(r"loss $f^2/2$")
    axes[1].set_ylabel(r"sharpness $\lambda_{max}(H)$")
    for ax in axes:
        ax.set_xlabel("gradient-descent step")
    axes[0].legend(fontsize=9, title=f"w = {check['width']}; lines: map, circles: (u, v)", title_fontsize=9)
    return fig


def uv_phase_figure(summary):
    """Their Fig. 7a–b: the uv model's ⟨c_loss⟩, ⟨c_sharp⟩, ⟨c_max⟩ against 1/w, with η = c/λ₀
    (left) and η = c/tr H₀ (right); ``summary``: :func:`~goldilocks_core.experiments.kalra_barkeshli.uv_summary`."""
    fig, axes = plt.subplots(1, 2, figsize=(10.4, 4.3), sharey=True)
    for ax, (scale, title) in zip(axes, (("lambda", r"sharpness $\lambda_{max}(H)$, $\eta = c/\lambda_0$"),
                                          ("trace", r"sharpness tr$H$, $\eta = c/\mathrm{tr}H_0$"))):
        s = summary[summary["scale"] == scale]
        _phase_panel(ax, s["inv_width"].to_numpy(), s["c_loss"], s["c_sharp"], s["c_max"], c_floor=1.0,
                     c_ceiling=8.0, ylabel="1 / width")
        ax.set_title(title, fontsize=10)
    axes[1].set_xlabel(r"learning-rate constant $c$ ($\eta = c/\mathrm{tr}H_0$)")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=4, fontsize=9)
    return fig
