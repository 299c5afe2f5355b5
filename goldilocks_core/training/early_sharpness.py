"""Loss and sharpness over the first steps of training, for many networks at once.

Kalra & Barkeshli (2023) train with η = c/λ₀, where λ₀ = λ_max(H) is the sharpness at
initialisation, and follow the loss ℓ_t and the sharpness λ_t = λ_max(H(θ_t)) during the first
few steps. Here a *cell* is one network (an initialisation θ₀ and a learning rate); the C cells of
one architecture are stacked as a (C, P) tensor of flat parameters and advanced together with
:func:`torch.func.vmap`: one vmapped gradient per step, one vmapped Hessian-vector product per
Lanczos step. Cells that diverge leave the stack, so the expensive large-c cells cost only
until they blow up.

* :func:`top_hessian_eigenpairs` — a few batched Lanczos steps (full reorthogonalisation) with
  any batched matrix-vector product: the top Ritz value and vector of every cell;
* :func:`initial_eigenpairs` — λ₀ and its eigenvector for each of a stack of initialisations;
* :func:`early_training` — SGD (or full-batch GD) for ``steps`` steps, recording ℓ_t and λ_t; the
  Lanczos runs after step 0 start from the previous step's Ritz vector (warm start), so a few
  steps suffice;
* :func:`critical_constants` — c_loss, c_sharp and c_max of Definition 1 from such trajectories.

Losses (``loss=``): ``"mse"``, ℓ = (1/2NK) Σ_n ‖f(x_n) − e_{y_n}‖² with one-hot targets (the
normalisation of the authors' code), and ``"xent"``, the mean softmax cross-entropy.
"""
from __future__ import annotations

from typing import Callable, NamedTuple, Sequence

import numpy as np
import torch
from torch import nn
from torch.func import grad, jvp, vmap

from ..functional import flat_parameters, logits_function
from ._checks import check_count

__all__ = ["LOSSES", "EarlyTraining", "CriticalConstants", "stack_flat", "cell_loss",
           "top_hessian_eigenpairs", "initial_eigenpairs", "early_training", "risen",
           "constants_from_flags", "critical_constants"]

LOSSES = ("mse", "xent")


def _check_loss(loss: str) -> str:
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {', '.join(map(repr, LOSSES))}, got {loss!r}")
    return loss


def cell_loss(logits: torch.Tensor, targets: torch.Tensor, loss: str) -> torch.Tensor:
    """The mean loss of one network's logits (N, K) against integer ``targets`` (N,).

    ``"mse"``: (1/2NK) Σ ‖z_n − e_{y_n}‖²; ``"xent"``: (1/N) Σ −log softmax(z_n)_{y_n}.
    """
    if _check_loss(loss) == "mse":
        onehot = nn.functional.one_hot(targets, logits.shape[-1]).to(logits.dtype)
        return 0.5 * ((logits - onehot) ** 2).mean()
    return nn.functional.cross_entropy(logits, targets)


def stack_flat(models: Sequence[nn.Module]) -> torch.Tensor:
    """The flat parameters θ of each model as the rows of a (C, P) tensor."""
    models = list(models)
    if not models:
        raise ValueError("need at least one model to stack")
    rows = [flat_parameters(m) for m in models]
    if len({r.numel() for r in rows}) != 1:
        raise ValueError("the models have different numbers of parameters: stack one architecture")
    return torch.stack(rows)


class _Cells:
    """Vmapped loss, gradient and Hessian-vector product of one architecture's flat parameters."""

    def __init__(self, model: nn.Module, loss: str):
        f = logits_function(model)
        kind = _check_loss(loss)

        def value(theta, x, y):
            return cell_loss(f(theta, x), y, kind)

        def hvp(theta, v, x, y):
            return jvp(lambda t: grad(value)(t, x, y), (theta,), (v,))[1]

        self.value = vmap(value, in_dims=(0, None, None))
        self.grad = vmap(grad(value), in_dims=(0, None, None))
        self.hvp = vmap(hvp, in_dims=(0, 0, None, None))


def top_hessian_eigenpairs(matvec: Callable[[torch.Tensor], torch.Tensor], starts: torch.Tensor,
                           steps: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The largest Ritz value and its Ritz vector after ``steps`` Lanczos steps, per row.

    Parameters
    ----------
    matvec : callable
        ``V (C, P) -> (A_c V_c)_c``, a batch of symmetric matrix-vector products (for the loss
        Hessian: vmapped Hessian-vector products).
    starts : tensor (C, P)
        Start vectors (non-zero rows), e.g. the previous step's Ritz vectors.
    steps : int
        Lanczos steps m ≤ P (m products), with full reorthogonalisation (twice), so the Ritz
        values are those of Q_mᵀ A Q_m for an orthonormal Q_m; a run that finds an invariant
        subspace early stops there.

    Returns
    -------
    (values (C,), vectors (C, P))
        λ_max of each T_m — a lower bound on λ_max(A_c), exact once the Krylov space holds the
        top eigenvector — and the unit Ritz vectors.
    """
    V = torch.as_tensor(starts)
    if V.ndim != 2 or V.shape[0] == 0:
        raise ValueError(f"starts must be a non-empty (C, P) block of vectors, got shape {tuple(V.shape)}")
    C, P = V.shape
    m = check_count("steps", steps)
    if m > P:
        raise ValueError(f"steps = {m} exceeds the dimension P = {P}")
    norms = V.norm(dim=1)
    if not bool((norms > 0).all() and torch.isfinite(norms).all()):
        raise ValueError("every start vector must be finite and non-zero")
    Q = V.new_zeros(C, m, P)
    Q[:, 0] = V / norms[:, None]
    alphas, betas = V.new_zeros(C, m), V.new_zeros(C, m)
    active = torch.ones(C, dtype=torch.bool, device=V.device)
    scale = V.new_zeros(C)
    for j in range(m):
        w = matvec(Q[:, j])
        a = (Q[:, j] * w).sum(1)
        alphas[:, j] = torch.where(active, a, alphas[:, j])
        basis = Q[:, : j + 1]
        for _ in range(2):  # classical Gram-Schmidt, twice
            w = w - torch.einsum("ckp,ck->cp", basis, torch.einsum("ckp,cp->ck", basis, w))
        b = w.norm(dim=1)
        scale = torch.maximum(scale, torch.maximum(a.abs(), b))
        if j == m - 1:
            break
        ok = active & (b > 1e-12 * scale)
        betas[:, j] = torch.where(ok, b, torch.zeros_like(b))
        Q[:, j + 1] = torch.where(ok[:, None], w / torch.where(ok, b, torch.ones_like(b))[:, None], 0.0)
        active = ok
        if bool((~active).any()):  # a stopped run: its remaining diagonal is filled in below
            alphas[~active, j + 1:] = float("nan")
    diag = alphas.clone()
    filled = torch.isnan(diag)  # decoupled entries set below every Ritz value of the valid block
    if bool(filled.any()):
        low = torch.where(filled, torch.full_like(diag, float("inf")), diag).min(1).values - 1.0
        diag = torch.where(filled, low[:, None].expand_as(diag), diag)
    T = torch.diag_embed(diag) + torch.diag_embed(betas[:, : m - 1], 1) + torch.diag_embed(betas[:, : m - 1], -1)
    values, vectors = torch.linalg.eigh(T)
    top = vectors[:, :, -1]
    ritz = torch.einsum("ckp,ck->cp", Q, top)
    ritz = ritz / ritz.norm(dim=1, keepdim=True)
    return values[:, -1], ritz


def _as_data(inputs, targets, name: str):
    x, y = torch.as_tensor(inputs), torch.as_tensor(targets)
    if not x.is_floating_point() or x.ndim < 2 or y.ndim != 1 or y.shape[0] != x.shape[0] or y.numel() == 0:
        raise ValueError(f"{name}: need float inputs N×… and N integer targets, got {tuple(x.shape)} "
                         f"and {tuple(y.shape)}")
    return x, y.long()


def initial_eigenpairs(model: nn.Module, thetas: torch.Tensor, inputs, targets, *, loss: str = "mse",
                      steps: int = 20, generator: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """λ₀ = λ_max(H(θ₀)) and its Ritz vector for each row of ``thetas`` (C, P).

    ``model`` fixes the architecture (its own parameters are not used); ``steps`` Lanczos steps
    (at most P) from a Gaussian start drawn with ``generator`` (a seed). Returns
    ``(values (C,), vectors (C, P))``.
    """
    thetas = torch.as_tensor(thetas)
    if thetas.ndim != 2 or thetas.shape[0] == 0:
        raise ValueError(f"thetas must be a (C, P) stack of parameters, got shape {tuple(thetas.shape)}")
    x, y = _as_data(inputs, targets, "inputs/targets")
    cells = _Cells(model, loss)
    g = torch.Generator().manual_seed(int(generator))
    starts = torch.randn(thetas.shape, generator=g, dtype=torch.float64).to(thetas)
    steps = min(check_count("steps", steps), thetas.shape[1])
    return top_hessian_eigenpairs(lambda V: cells.hvp(thetas, V, x, y), starts, steps)


class EarlyTraining(NamedTuple):
    """Per cell: ``loss`` (C, T+1) on the measurement set, ``sharpness`` (C, T+1) (NaN where not
    measured or after divergence), ``diverged`` (C,), ``diverged_step`` (C,; −1 if never)."""

    loss: np.ndarray
    sharpness: np.ndarray
    diverged: np.ndarray
    diverged_step: np.ndarray


def risen(values: np.ndarray, initial: np.ndarray, decimals: int = 2) -> np.ndarray:
    """Whether value/initial, rounded to ``decimals`` (App. C of Kalra & Barkeshli), exceeds 1."""
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.asarray(values, dtype=float) / np.asarray(initial, dtype=float)
    return np.round(ratio, decimals) > 1.0


def early_training(model: nn.Module, thetas: torch.Tensor, lrs, inputs, targets, *, loss: str = "mse",
                   steps: int = 10, batch_size: int | None = None, measure=None,
                   initial: tuple[torch.Tensor, torch.Tensor] | None = None, lanczos_steps: int = 20,
                   warm_steps: int = 5, divergence: float = 1e5, until_rise: bool = False,
                   generator: int = 0) -> EarlyTraining:
    """``steps`` steps of SGD with per-cell learning rates, recording loss and sharpness.

    Parameters
    ----------
    model : nn.Module
        The architecture (its parameters are not used).
    thetas : tensor (C, P)
        θ₀ of every cell (float64 recommended for the Hessian work).
    lrs : sequence of C positive floats
        η of every cell, e.g. c/λ₀ (Kalra & Barkeshli, §2).
    inputs, targets
        The training set; each step draws a batch of ``batch_size`` (default: all, i.e. full-batch
        gradient descent) in an order fixed by ``generator`` and shared by all cells.
    measure : (inputs, targets), optional
        Where ℓ_t and λ_t are measured (default: the training set).
    initial : (values (C,), vectors (C, P)), optional
        λ₀ and its Ritz vector per cell (default: :func:`initial_eigenpairs` with ``lanczos_steps``).
    warm_steps : int
        Lanczos steps at t ≥ 1, started from the cell's previous Ritz vector (at most P).
    divergence : float
        A cell diverges when ℓ_t > ``divergence`` or is not finite (their K = 10⁵); it then
        leaves the stack.
    until_rise : bool
        Stop measuring λ_t in a cell once it has risen above λ₀ (enough for c_sharp).

    Returns
    -------
    EarlyTraining
    """
    thetas = torch.as_tensor(thetas).clone()
    if thetas.ndim != 2 or thetas.shape[0] == 0:
        raise ValueError(f"thetas must be a (C, P) stack of parameters, got shape {tuple(thetas.shape)}")
    C = thetas.shape[0]
    lr = torch.as_tensor(np.asarray(lrs, dtype=np.float64)).to(thetas)
    if lr.shape != (C,) or not bool(torch.isfinite(lr).all() and (lr > 0).all()):
        raise ValueError(f"lrs must be {C} positive finite learning rates, one per cell")
    T = check_count("steps", steps)
    x, y = _as_data(inputs, targets, "inputs/targets")
    xm, ym = (x, y) if measure is None else _as_data(*measure, "measure")
    n = x.shape[0]
    b = n if batch_size is None else min(check_count("batch_size", batch_size), n)
    if not divergence > 0:
        raise ValueError(f"divergence must be a positive threshold, got {divergence!r}")
    warm_steps = min(check_count("warm_steps", warm_steps), thetas.shape[1])
    cells = _Cells(model, loss)
    if initial is None:
        initial = initial_eigenpairs(model, thetas, xm, ym, loss=loss, steps=lanczos_steps, generator=generator)
    lam0, vec = initial
    lam0, vec = torch.as_tensor(lam0).to(thetas), torch.as_tensor(vec).to(thetas).clone()
    if lam0.shape != (C,) or vec.shape != thetas.shape:
        raise ValueError("initial must hold C values and a (C, P) block of vectors")

    losses = np.full((C, T + 1), np.nan)
    sharp = np.full((C, T + 1), np.nan)
    with torch.no_grad():
        losses[:, 0] = cells.value(thetas, xm, ym).cpu().numpy()
    sharp[:, 0] = lam0.cpu().numpy()
    alive = np.ones(C, dtype=bool)
    up = np.zeros(C, dtype=bool)
    diverged_step = np.full(C, -1)
    g = torch.Generator().manual_seed(int(generator))
    order = torch.randperm(n, generator=g)
    cursor = 0
    for t in range(1, T + 1):
        if b < n:
            if cursor + b > n:
                order, cursor = torch.randperm(n, generator=g), 0
            pick = order[cursor:cursor + b].to(x.device)
            xb, yb, cursor = x[pick], y[pick], cursor + b
        else:
            xb, yb = x, y
        idx = np.flatnonzero(alive)
        if idx.size == 0:
            break
        it = torch.as_tensor(idx, device=thetas.device)
        sub = thetas[it]
        sub = sub - lr[it, None] * cells.grad(sub, xb, yb).detach()
        thetas[it] = sub
        with torch.no_grad():
            value = cells.value(sub, xm, ym).cpu().numpy()
        losses[idx, t] = value
        bad = ~np.isfinite(value) | (value > divergence)
        alive[idx[bad]] = False
        diverged_step[idx[bad]] = t
        need = alive & ~(up if until_rise else np.zeros(C, dtype=bool))
        jdx = np.flatnonzero(need)
        if jdx.size:
            jt = torch.as_tensor(jdx, device=thetas.device)
            th = thetas[jt]
            vals, vecs = top_hessian_eigenpairs(lambda V: cells.hvp(th, V, xm, ym), vec[jt], warm_steps)
            sharp[jdx, t] = vals.detach().cpu().numpy()
            vec[jt] = vecs.detach()
            up[jdx] |= risen(sharp[jdx, t], sharp[jdx, 0])
    return EarlyTraining(losses, sharp, diverged_step >= 0, diverged_step)


class CriticalConstants(NamedTuple):
    """Definition 1 of Kalra & Barkeshli for one initialisation; ``censored``: no c of the grid
    diverged, so c_max is only a lower bound."""

    c_loss: float
    c_sharp: float
    c_max: float
    censored: bool


def constants_from_flags(cs, loss_rose, sharp_rose, diverged):
    """c_loss, c_sharp, c_max and ``censored`` from per-c flags, vectorised over leading axes.

    Parameters
    ----------
    cs : (M,) strictly increasing constants c.
    loss_rose, sharp_rose, diverged : boolean arrays (…, M): whether the run at each c had its
        loss (sharpness) rise above the initial value at some step, and whether it diverged.

    Returns
    -------
    (c_loss, c_sharp, c_max, censored), arrays of shape (…): c_max is the largest c below the
    first divergent one (the whole grid if none diverged: ``censored``); c_loss (c_sharp) the
    smallest c ≤ c_max whose run rose, or c_max when none did; NaN when the smallest c diverged.
    """
    cs = np.asarray(cs, dtype=float)
    M = cs.size
    if cs.ndim != 1 or M == 0 or not np.all(np.isfinite(cs)) or np.any(cs <= 0):
        raise ValueError("cs must be a non-empty vector of positive finite constants")
    if M > 1 and np.any(np.diff(cs) <= 0):
        raise ValueError("cs must be strictly increasing")
    flags = [np.asarray(a, dtype=bool) for a in (loss_rose, sharp_rose, diverged)]
    if any(a.shape != flags[2].shape for a in flags) or flags[2].ndim == 0 or flags[2].shape[-1] != M:
        raise ValueError(f"the flags must share one shape (…, {M}), got {[a.shape for a in flags]}")
    loss_rose, sharp_rose, diverged = flags
    any_div = diverged.any(-1)
    first = np.where(any_div, np.argmax(diverged, -1), M)  # index of the first divergent c
    trainable = np.arange(M) < first[..., None]
    c_max = np.where(first > 0, cs[np.maximum(first - 1, 0)], np.nan)
    out = []
    for rose in (loss_rose, sharp_rose):
        hit = rose & trainable
        c = np.where(hit.any(-1), cs[np.argmax(hit, -1)], c_max)
        out.append(np.where(first > 0, c, np.nan))
    return out[0], out[1], c_max, (first == M)


def critical_constants(cs, losses, sharpness, diverged, *, decimals: int = 2) -> CriticalConstants:
    """c_loss, c_sharp and c_max (Definition 1 of Kalra & Barkeshli) from trajectories on a c grid.

    Parameters
    ----------
    cs : (M,) increasing learning-rate constants c (η = c/λ₀).
    losses, sharpness : (M, T+1) ℓ_t and λ_t for t = 0…T (NaN allowed after divergence or where
        λ_t was not measured).
    diverged : (M,) whether each run diverged within the T steps.
    decimals : ℓ_t/ℓ₀ and λ_t/λ₀ are rounded to this many decimals before the comparison with 1
        (their App. C), so a rise must be ≥ 0.5 %.

    Returns
    -------
    CriticalConstants
        c_max: the largest c below the first divergent one (all of the grid if none diverged,
        ``censored``); c_loss (c_sharp): the smallest c ≤ c_max whose loss (sharpness) rises above
        its initial value at some t ≤ T, and c_max when no trainable c shows a rise (the phase is
        then closed). NaN everywhere when even the smallest c diverges.
    """
    cs = np.asarray(cs, dtype=float)
    losses = np.asarray(losses, dtype=float)
    sharpness = np.asarray(sharpness, dtype=float)
    M = cs.size
    if losses.ndim != 2 or losses.shape[0] != M or losses.shape[1] < 2 or sharpness.shape != losses.shape:
        raise ValueError(f"losses and sharpness must both have shape ({M}, T+1) with T ≥ 1, "
                         f"got {losses.shape} and {sharpness.shape}")
    diverged = np.asarray(diverged, dtype=bool)
    if diverged.shape != (M,):
        raise ValueError(f"diverged must have shape ({M},), got {diverged.shape}")
    loss_rose = risen(losses[:, 1:], losses[:, :1], decimals).any(axis=1)
    sharp_rose = risen(sharpness[:, 1:], sharpness[:, :1], decimals).any(axis=1)
    c_loss, c_sharp, c_max, censored = constants_from_flags(cs, loss_rose, sharp_rose, diverged)
    return CriticalConstants(float(c_loss), float(c_sharp), float(c_max), bool(censored))
