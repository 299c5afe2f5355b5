"""Training confined to a random low-dimensional surface through θ₀ = r·θ̂ (Fort & Scherlis, 2019).

Cell c trains latent coordinates u_c ∈ R^{d_c} of one of two surfaces through the point r_c·θ̂,
θ̂ the unit direction of a Kaiming initialisation:

* ``"hyperplane"`` — the affine subspace θ(u) = r_c·θ̂ + R u (the intrinsic-dimension
  parametrisation of Li et al., 2018);
* ``"sphere"`` — its image on the sphere of radius r_c, θ(u) = r_c·v/‖v‖ with v = r_c·θ̂ + R u
  (‖θ(u)‖ = r_c at every step).

R ∈ R^{P×d_max} is one basis for all cells; a cell of dimension d_c uses its first d_c columns
(nested subspaces). Gradient descent runs on u,

    u ← u − η_c ∇_u ℓ(θ_c(u)),   η_c = η₀ (``"fixed"``) or η₀·α_c^(2−L) (``"scaled"``),

with α_c = r_c/‖θ_K‖ the scale relative to the Kaiming draw and L the homogeneity degree: the
scaled rule is §5's η = η₀·α^(2−L) of Vysogorets et al. (2024). All cells share the batches and
take one step together: per dimension d, :func:`torch.func.vmap` over its cells of
:func:`torch.func.grad_and_value` of one functional objective (as :mod:`.stacked` does for the
full space). With d = P, R = I and the point at α = 1 a hyperplane cell is plain gradient descent.
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.func import functional_call, grad_and_value, vmap

from ..functional import flat_parameters, parameter_slices
from ..losses import cross_entropy
from ..models import resolve_degree
from ..progress import progress_bar
from ..subspace import check_basis
from ..validation import check_positive
from ._checks import check_count, check_dataset, check_values
from .stream import StepData

__all__ = ["SURFACES", "LR_RULES", "SUBSPACE_COLUMNS", "SubspaceResult", "unit_direction", "tangent_basis",
           "surface_point", "subspace_lr", "train_subspace"]

SURFACES = ("hyperplane", "sphere")
LR_RULES = ("fixed", "scaled")
SUBSPACE_COLUMNS = ("surface", "radius", "alpha", "dim", "lr_rule", "lr", "step", "train_loss",
                    "train_accuracy", "test_accuracy", "param_norm", "diverged")


@dataclass
class SubspaceResult:
    """``frame``: one row per (cell, logged step) with :data:`SUBSPACE_COLUMNS`; ``latent``: the
    final u of each cell (a tensor of length d, NaN for a diverged cell), in ``frame``'s cell order;
    ``kaiming_radius``: ‖θ_K‖ of the model's draw (α = r/‖θ_K‖)."""

    frame: pd.DataFrame
    latent: list
    kaiming_radius: float


def unit_direction(model: nn.Module) -> tuple[torch.Tensor, float]:
    """(θ̂, ‖θ‖): the unit direction of the model's trainable parameters (flat, float64) and their norm.

    Parameters
    ----------
    model : nn.Module
        A network, e.g. a Kaiming-initialised one.

    Returns
    -------
    tuple
        θ/‖θ‖ as a flat float64 tensor and ‖θ‖ as a float. ``ValueError`` when θ = 0.
    """
    theta = flat_parameters(model).to(torch.float64)
    norm = float(theta.norm())
    if not math.isfinite(norm) or norm == 0.0:
        raise ValueError(f"the model's parameters must be finite and not all zero, got norm {norm}")
    return theta / norm, norm


def tangent_basis(direction: torch.Tensor, d: int, *, generator: torch.Generator | None = None,
                  dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """An orthonormal basis R ∈ R^{P×d} of a random d-dimensional subspace orthogonal to ``direction``.

    Gaussian columns, the component along θ̂ removed, then the Q factor of QR (sign-fixed, so the
    span is Haar distributed within the tangent space θ̂^⊥ of the sphere through θ̂). RᵀR = I and
    Rᵀθ̂ = 0, so the hyperplane r·θ̂ + R u and the sphere of radius r share the tangent directions R.

    Parameters
    ----------
    direction : torch.Tensor
        θ̂, a nonzero flat vector of length P (normalised here).
    d : int
        1 ≤ d ≤ P − 1.
    generator : torch.Generator, optional
        Seeds the Gaussian draw (made on the CPU in float64).
    dtype : torch.dtype
        Of the returned basis.

    Returns
    -------
    torch.Tensor
        R, shape (P, d).
    """
    if not isinstance(direction, torch.Tensor) or direction.ndim != 1:
        raise ValueError("direction must be a flat (1-D) tensor θ̂")
    P = direction.numel()
    check_count("d", d)
    if d > P - 1:
        raise ValueError(f"a tangent basis has at most P − 1 = {P - 1} columns, got d={d}")
    u = direction.detach().to("cpu", torch.float64)
    n = float(u.norm())
    if not math.isfinite(n) or n == 0.0:
        raise ValueError("direction must be finite and nonzero")
    u = u / n
    g = torch.randn(P, d, generator=generator, dtype=torch.float64)
    g -= torch.outer(u, u @ g)
    q, r = torch.linalg.qr(g, mode="reduced")
    signs = torch.sign(torch.diagonal(r))
    signs[signs == 0] = 1.0
    q = q * signs
    q -= torch.outer(u, u @ q)  # once more: round-off along θ̂ at the ε level
    return q.to(dtype)


def surface_point(direction: torch.Tensor, basis: torch.Tensor, radius, latent: torch.Tensor,
                  surface: str = "hyperplane") -> torch.Tensor:
    """θ(u) on one surface through r·θ̂ (see the module docstring). Works under :func:`torch.func.vmap`.

    Parameters
    ----------
    direction : torch.Tensor
        θ̂ (P,), unit norm.
    basis : torch.Tensor
        R (P, d).
    radius : float or 0-d tensor
        r > 0.
    latent : torch.Tensor
        u (d,).
    surface : {"hyperplane", "sphere"}

    Returns
    -------
    torch.Tensor
        θ (P,): r·θ̂ + R u, or its rescaling to norm r.
    """
    v = radius * direction + basis @ latent
    if surface == "hyperplane":
        return v
    if surface == "sphere":
        return radius * v / v.norm()
    raise ValueError(f"unknown surface {surface!r}; choose one of: {', '.join(SURFACES)}")


def subspace_lr(rule: str, base_lr: float, alpha: float, degree: int) -> float:
    """η of a cell: η₀ (``"fixed"``) or η₀·α^(2−L) (``"scaled"``, §5 of Vysogorets et al., 2024)."""
    if rule == "fixed":
        return float(base_lr)
    if rule == "scaled":
        return float(base_lr) * float(alpha) ** (2 - int(degree))
    raise ValueError(f"unknown lr_rule {rule!r}; choose one of: {', '.join(LR_RULES)}")


def _check_choices(name: str, values, allowed) -> tuple[str, ...]:
    values = (values,) if isinstance(values, str) else tuple(values)
    if not values:
        raise ValueError(f"{name} must not be empty")
    for v in values:
        if v not in allowed:
            raise ValueError(f"unknown {name[:-1]} {v!r}; choose from: {', '.join(allowed)}")
    if len(set(values)) != len(values):
        raise ValueError(f"{name} has duplicates: {list(values)}")
    return values


def _check_dims(dims, num_params: int) -> tuple[int, ...]:
    dims = (dims,) if isinstance(dims, (int, np.integer)) else tuple(dims)
    if not dims:
        raise ValueError("dims must not be empty")
    out = tuple(check_count("dims", d) for d in dims)
    if len(set(out)) != len(out):
        raise ValueError(f"dims has duplicates: {list(out)}")
    if max(out) > num_params:
        raise ValueError(f"subspace dimension {max(out)} exceeds the number of parameters P={num_params}")
    return out


def _accuracy(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return (logits.argmax(-1) == y).to(torch.float64).mean(-1)


def train_subspace(model: nn.Module, train_set, test_set, *, radii, dims, base_lr: float, steps: int,
                   surfaces=("hyperplane",), lr_rules=("fixed",), basis: torch.Tensor | None = None,
                   basis_seed: int = 0, batch_size: int | None = None, log_every: int | None = None,
                   seed: int = 0, degree: int | None = None, dtype: torch.dtype | None = None,
                   device=None, progress: bool = True) -> SubspaceResult:
    """Gradient descent confined to random d-dimensional surfaces through r·θ̂, every cell together.

    Parameters
    ----------
    model : nn.Module
        Supplies the network function and θ̂ = θ_K/‖θ_K‖ (its current, e.g. Kaiming, parameters).
    train_set, test_set : Dataset or (inputs, targets) pair
    radii : sequence of positive floats
        r of the point r·θ̂ each surface goes through.
    dims : int or sequence of ints
        Subspace dimensions d (each ≤ the basis's number of columns).
    base_lr : float
        η₀; the cell's η follows its ``lr_rule`` (:func:`subspace_lr`, α = r/‖θ_K‖).
    steps : int
        Number of updates.
    surfaces : sequence of {"hyperplane", "sphere"}
    lr_rules : sequence of {"fixed", "scaled"}
        The grid is surfaces × radii × dims × lr_rules (in that order).
    basis : torch.Tensor, optional
        R (P×d_max); default :func:`tangent_basis` with max(dims) columns seeded by ``basis_seed``.
    batch_size : int, optional
        Mini-batch SGD with batches shared by all cells (default: full-batch GD).
    log_every : int, optional
        Metrics at steps 0, log_every, … and at ``steps`` (default: first and last step only).
    seed : int
        Seeds the batches.
    degree : int, optional
        L for the scaled rule (default: inferred from a homogeneous model).
    dtype, device
        Of the training computation (default: the model's).
    progress : bool
        A progress bar (``TQDM_DISABLE`` wins).

    Returns
    -------
    SubspaceResult
        One row per (cell, logged step): train loss and accuracy on the full training set, test
        accuracy, ‖θ_t‖, and ``diverged`` (loss or gradient non-finite at or before that step:
        the cell stops and its later metrics are NaN).
    """
    radii = check_values("radii", radii)
    base_lr = check_positive("base_lr", base_lr)
    steps = check_count("steps", steps)
    surfaces = _check_choices("surfaces", surfaces, SURFACES)
    lr_rules = _check_choices("lr_rules", lr_rules, LR_RULES)
    log_every = steps if log_every is None else check_count("log_every", log_every)
    batch_size = None if batch_size is None else check_count("batch_size", batch_size)
    seed = check_count("seed", seed, minimum=0)
    L = resolve_degree(model, degree) if "scaled" in lr_rules else degree
    first = next(p for p in model.parameters() if p.requires_grad)
    device = first.device if device is None else torch.device(device)
    dtype = first.dtype if dtype is None else dtype
    direction64, kaiming_radius = unit_direction(model)
    P = direction64.numel()
    dims = _check_dims(dims, P)
    if basis is None:
        basis = tangent_basis(direction64, max(dims), generator=torch.Generator().manual_seed(basis_seed))
    basis = check_basis(basis, P)
    if max(dims) > basis.shape[1]:
        raise ValueError(f"dims up to {max(dims)} need a basis with as many columns, got {basis.shape[1]}")
    train, test = check_dataset("train_set", train_set), check_dataset("test_set", test_set)

    cells = list(itertools.product(surfaces, radii, dims, lr_rules))
    alphas = [r / kaiming_radius for _, r, _, _ in cells]
    lrs = [subspace_lr(rule, base_lr, a, L) for (_, _, _, rule), a in zip(cells, alphas)]
    x, y = train[0].to(device=device, dtype=dtype), train[1].to(device)
    tx, ty = test[0].to(device=device, dtype=dtype), test[1].to(device)
    stream = StepData(x, y, max(train[2], test[2]), labels="fixed", batch_size=batch_size, seed=seed)
    direction = direction64.to(device=device, dtype=dtype)
    # one vmapped group per d: a group pays for its own d columns only
    groups = [_Group(model, [c for c, cell in enumerate(cells) if cell[2] == d], cells, lrs, direction,
                     basis[:, :d].to(device=device, dtype=dtype)) for d in dims]
    logged = set(range(0, steps + 1, log_every)) | {steps}
    rows = []
    for t in progress_bar(range(steps + 1), enabled=progress, desc="subspace training", unit="step"):
        xb, yb = stream.batch(t)
        for g in groups:
            grads = g.gradient(xb, yb, t)
            if t in logged:
                for c, values in zip(g.index, g.metrics(x, y, tx, ty)):
                    surface, r, d, rule = cells[c]
                    rows.append({"cell": c, "surface": surface, "radius": r, "alpha": alphas[c], "dim": d,
                                 "lr_rule": rule, "lr": lrs[c], "step": t, **values})
            if t < steps:
                g.update(grads)
    latent = [None] * len(cells)
    for g in groups:
        for c, u in zip(g.index, g.final_latent()):
            latent[c] = u
    frame = pd.DataFrame(rows).sort_values(["cell", "step"], kind="stable")[list(SUBSPACE_COLUMNS)]
    frame.attrs.update({"kaiming_radius": kaiming_radius, "base_lr": base_lr, "degree": L, "steps": steps})
    return SubspaceResult(frame.reset_index(drop=True), latent, kaiming_radius)


class _Group:
    """The cells of one subspace dimension d: latent u (C×d), one vmapped step for all of them."""

    def __init__(self, model, index, cells, lrs, direction, R):
        dtype, device = R.dtype, R.device
        self.index = index
        self.radius = torch.tensor([cells[c][1] for c in index], device=device, dtype=dtype)
        self.sphere = torch.tensor([cells[c][0] == "sphere" for c in index], device=device)
        self.lr = torch.tensor([lrs[c] for c in index], device=device, dtype=dtype)
        self.u = torch.zeros(len(index), R.shape[1], device=device, dtype=dtype)
        self.dead_at = torch.full((len(index),), -1, dtype=torch.long)
        slices = parameter_slices(model)
        shapes = {n: p.shape for n, p in model.named_parameters() if p.requires_grad}
        buffers = {n: b.to(device) for n, b in model.named_buffers()}

        def theta_of(u, r, sphere):
            v = surface_point(direction, R, r, u, "hyperplane")
            return torch.where(sphere, r * v / v.norm(), v)

        def logits_of(u, r, sphere, x):
            theta = theta_of(u, r, sphere)
            return functional_call(model, ({n: theta[s].view(shapes[n]) for n, s in slices.items()}, buffers), (x,))

        def objective(u, r, sphere, x, y):
            return cross_entropy(logits_of(u, r, sphere, x), y)

        self._step = vmap(grad_and_value(objective), in_dims=(0, 0, 0, None, None))
        self._logits = vmap(logits_of, in_dims=(0, 0, 0, None))
        self._norm = vmap(lambda u, r, s: theta_of(u, r, s).norm())

    def gradient(self, x, y, t: int) -> torch.Tensor:
        """∇_u ℓ of every cell at step t; a cell whose loss or gradient is non-finite is dead from t on."""
        grads, value = self._step(self.u, self.radius, self.sphere, x, y)
        ok = (torch.isfinite(value) & torch.isfinite(grads).all(1)).cpu()
        self.dead_at[(self.dead_at < 0) & ~ok] = t
        return grads

    def update(self, grads: torch.Tensor) -> None:
        """u ← u − η ∇_u ℓ for the live cells (dead ones stay where they were)."""
        live = (self.dead_at < 0).to(device=self.u.device, dtype=self.u.dtype)
        self.u = self.u - (self.lr * live)[:, None] * torch.nan_to_num(grads)

    @torch.no_grad()
    def metrics(self, x, y, tx, ty) -> list[dict]:
        z = self._logits(self.u, self.radius, self.sphere, x)
        values = {"train_loss": vmap(lambda zz: cross_entropy(zz, y))(z), "train_accuracy": _accuracy(z, y),
                  "test_accuracy": _accuracy(self._logits(self.u, self.radius, self.sphere, tx), ty),
                  "param_norm": self._norm(self.u, self.radius, self.sphere)}
        values = {k: v.to("cpu", torch.float64).numpy() for k, v in values.items()}
        dead = (self.dead_at >= 0).numpy()
        return [{**{k: (math.nan if dead[i] else float(v[i])) for k, v in values.items()}, "diverged": bool(dead[i])}
                for i in range(len(self.index))]

    def final_latent(self) -> list[torch.Tensor]:
        u = self.u.detach().cpu().clone()
        u[self.dead_at >= 0] = math.nan
        return list(u)
