"""The uv model of Kalra & Barkeshli (2023, §5 and App. B): a two-layer linear network.

f(x) = vᵀu x/√w with u, v ∈ R^w, every entry drawn from N(0, 1), trained by gradient descent on
the single example (x, y) = (1, 0) with the MSE loss ℓ = f²/2. With T = tr H = (‖u‖² + ‖v‖²)/w
(the NTK of the model), one gradient step u ← u − η f v/√w, v ← v − η f u/√w closes on (f, T):

    f' = f (1 − ηT + η² f²/w),        T' = T + (η f²/w)(ηT − 4)          (their App. B.1).

The Hessian H = ∇f∇fᵀ + f∇²f is also a function of (f, T) only: its eigenvalues are
T/2 ± √(T²/4 + 3f²/w) and ±f/√w (each w − 1 times), so

    λ_max(H) = T/2 + √(T²/4 + 3f²/w),        ‖H‖_F² = T² + 2f²(1 + 2/w).

:func:`function_space` iterates the map; :func:`parameter_space` runs gradient descent on (u, v)
and measures f, tr H, λ_max(H) and ‖H‖_F from the autograd Hessian, the direct simulation the
map is checked against; :func:`phase_diagram` gives the critical constants of Definition 1 per
initialisation from the map, with η = c/λ₀ (``scale="lambda"``, their Fig. 7a) or η = c/T₀
(``scale="trace"``, Fig. 7b).
"""
from __future__ import annotations

import numbers

import numpy as np
import pandas as pd
import torch

from .early_sharpness import constants_from_flags, risen

__all__ = ["SCALES", "sample_init", "observables", "step", "sharpness", "frobenius_squared",
           "function_space", "parameter_space", "phase_diagram"]

SCALES = ("lambda", "trace")


def _width(width) -> int:
    if isinstance(width, bool) or not isinstance(width, numbers.Integral) or width < 1:
        raise ValueError(f"width must be a positive integer, got {width!r}")
    return int(width)


def _steps(steps) -> int:
    if isinstance(steps, bool) or not isinstance(steps, numbers.Integral) or steps < 1:
        raise ValueError(f"steps must be a positive integer, got {steps!r}")
    return int(steps)


def sample_init(width: int, num: int, *, generator: int | np.random.Generator = 0):
    """``num`` initialisations (u, v), each entry N(0, 1): arrays of shape (num, width) each."""
    w = _width(width)
    if isinstance(num, bool) or not isinstance(num, numbers.Integral) or num < 1:
        raise ValueError(f"num must be a positive integer, got {num!r}")
    rng = np.random.default_rng(generator)
    return rng.standard_normal((int(num), w)), rng.standard_normal((int(num), w))


def observables(u, v):
    """(f, T) = (vᵀu/√w, (‖u‖² + ‖v‖²)/w) of parameters of shape (…, w)."""
    u, v = np.asarray(u, dtype=float), np.asarray(v, dtype=float)
    if u.shape != v.shape or u.ndim == 0:
        raise ValueError(f"u and v must have the same shape (…, w), got {u.shape} and {v.shape}")
    w = u.shape[-1]
    return (u * v).sum(-1) / np.sqrt(w), ((u ** 2).sum(-1) + (v ** 2).sum(-1)) / w



def step(f, trace, eta, width: int):
    """One gradient-descent step of the uv model in function space: (f, T) → (f', T').

    f' = f(1 − ηT + η²f²/w), T' = T + (ηf²/w)(ηT − 4) (App. B.1); broadcasts over arrays.
    """
    w = _width(width)
    f, trace, eta = np.asarray(f, dtype=float), np.asarray(trace, dtype=float), np.asarray(eta, dtype=float)
    with np.errstate(over="ignore", invalid="ignore"):
        g = eta * f * f / w
        return f * (1.0 - eta * trace + eta * g), trace + g * (eta * trace - 4.0)


def sharpness(f, trace, width: int):
    """λ_max(H) = T/2 + √(T²/4 + 3f²/w), the top Hessian eigenvalue of the uv model."""
    w = _width(width)
    f, trace = np.asarray(f, dtype=float), np.asarray(trace, dtype=float)
    with np.errstate(over="ignore", invalid="ignore"):
        return trace / 2.0 + np.sqrt(trace ** 2 / 4.0 + 3.0 * f * f / w)


def frobenius_squared(f, trace, width: int):
    """‖H‖_F² = T² + 2f²(1 + 2/w) of the uv model (its ℓ = f²/2, so 2f² = 4ℓ)."""
    w = _width(width)
    f, trace = np.asarray(f, dtype=float), np.asarray(trace, dtype=float)
    with np.errstate(over="ignore", invalid="ignore"):
        return trace ** 2 + 2.0 * f * f * (1.0 + 2.0 / w)


def function_space(f0, trace0, eta, width: int, steps: int) -> dict[str, np.ndarray]:
    """Iterate :func:`step` ``steps`` times from (f₀, T₀) with learning rate(s) η (broadcast).

    Returns arrays of shape (…, steps + 1): ``f``, ``trace``, ``loss`` (f²/2), ``sharpness``
    (λ_max) and ``frobenius`` (‖H‖_F); values are inf/NaN after an overflow.
    """
    w, n = _width(width), _steps(steps)
    f, t, eta = np.broadcast_arrays(np.asarray(f0, dtype=float), np.asarray(trace0, dtype=float),
                                    np.asarray(eta, dtype=float))
    fs, ts = [f], [t]
    for _ in range(n):
        f, t = step(f, t, eta, w)
        fs.append(f)
        ts.append(t)
    f, t = np.stack(fs, -1), np.stack(ts, -1)
    with np.errstate(over="ignore", invalid="ignore"):
        return {"f": f, "trace": t, "loss": f * f / 2.0, "sharpness": sharpness(f, t, w),
                "frobenius": np.sqrt(frobenius_squared(f, t, w))}


def parameter_space(u0, v0, eta: float, steps: int) -> dict[str, np.ndarray]:
    """Gradient descent on (u, v) itself, with the Hessian from autograd at every step.

    The direct simulation of the uv model: ℓ(u, v) = (vᵀu/√w)²/2, θ ← θ − η∇ℓ in float64, and
    at each of the ``steps + 1`` points f, ``loss``, ``trace`` = tr H, ``sharpness`` = λ_max(H)
    and ``frobenius`` = ‖H‖_F of the dense 2w × 2w Hessian (keep w small). Returns arrays of
    length steps + 1.
    """
    u = torch.as_tensor(np.asarray(u0, dtype=float)).reshape(-1).clone()
    v = torch.as_tensor(np.asarray(v0, dtype=float)).reshape(-1).clone()
    if u.shape != v.shape:
        raise ValueError(f"u0 and v0 must have the same length, got {u.numel()} and {v.numel()}")
    n, w = _steps(steps), u.numel()
    eta = float(eta)
    if not np.isfinite(eta) or eta <= 0:
        raise ValueError(f"eta must be a positive finite learning rate, got {eta!r}")

    def loss(theta):
        return 0.5 * (theta[:w] @ theta[w:] / w ** 0.5) ** 2

    theta = torch.cat([u, v])
    out = {k: [] for k in ("f", "loss", "trace", "sharpness", "frobenius")}
    for t in range(n + 1):
        H = torch.func.hessian(loss)(theta)
        eig = torch.linalg.eigvalsh(H)
        out["f"].append(float(theta[:w] @ theta[w:] / w ** 0.5))
        out["loss"].append(float(loss(theta)))
        out["trace"].append(float(torch.trace(H)))
        out["sharpness"].append(float(eig[-1]))
        out["frobenius"].append(float(torch.linalg.norm(H)))
        if t < n:
            theta = theta - eta * torch.func.grad(loss)(theta)
    return {k: np.asarray(val) for k, val in out.items()}


def phase_diagram(widths, cs, *, num_inits: int = 200, steps: int = 200, scale: str = "lambda",
                  divergence: float = 1e5, generator: int = 0) -> pd.DataFrame:
    """Critical constants of the uv model per width and initialisation, from the function-space map.

    Parameters
    ----------
    widths : sequence of positive ints
    cs : increasing learning-rate constants c
    num_inits : initialisations (u, v) per width
    steps : gradient-descent steps that make up the early-training window
    scale : ``"lambda"`` — η = c/λ_max(H₀) and the sharpness is λ_max (their Fig. 7a); ``"trace"``
        — η = c/tr H₀ and the sharpness is tr H (Fig. 7b).
    divergence : the loss threshold K of Definition 1
    generator : seed of the initialisations

    Returns
    -------
    pandas.DataFrame
        One row per (width, init): ``width, init, c_loss, c_sharp, c_max, censored``.
    """
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {', '.join(map(repr, SCALES))}, got {scale!r}")
    cs = np.asarray(cs, dtype=float)
    if cs.ndim != 1 or cs.size == 0 or np.any(~np.isfinite(cs)) or np.any(cs <= 0) or np.any(np.diff(cs) <= 0):
        raise ValueError("cs must be a non-empty increasing vector of positive constants")
    n = _steps(steps)
    rng = np.random.default_rng(generator)
    frames = []
    for width in widths:
        w = _width(width)
        u, v = sample_init(w, num_inits, generator=rng)
        f0, t0 = observables(u, v)
        s0 = sharpness(f0, t0, w) if scale == "lambda" else t0
        eta = cs[None, :] / s0[:, None]  # (I, M)
        f, t = np.repeat(f0[:, None], cs.size, 1), np.repeat(t0[:, None], cs.size, 1)
        l0 = f * f / 2.0
        sh0 = np.repeat(s0[:, None], cs.size, 1)
        loss_up = np.zeros(f.shape, dtype=bool)
        sharp_up = np.zeros(f.shape, dtype=bool)
        diverged = np.zeros(f.shape, dtype=bool)
        for _ in range(n):
            f, t = step(f, t, eta, w)
            with np.errstate(over="ignore", invalid="ignore"):
                loss = f * f / 2.0
                sh = sharpness(f, t, w) if scale == "lambda" else t
            diverged |= ~np.isfinite(loss) | (loss > divergence)
            alive = ~diverged
            loss_up |= alive & risen(loss, l0)
            sharp_up |= alive & risen(sh, sh0)
            f, t = np.where(alive, f, 0.0), np.where(alive, t, 0.0)  # frozen once diverged
        c_loss, c_sharp, c_max, censored = constants_from_flags(cs, loss_up, sharp_up, diverged)
        frames.append(pd.DataFrame({"width": w, "init": np.arange(len(f0)), "c_loss": c_loss,
                                    "c_sharp": c_sharp, "c_max": c_max, "censored": censored}))
    return pd.concat(frames, ignore_index=True)
