"""The projected Hessian of an α-scaled network at temperature T, split by Gauss–Newton.

Vysogorets et al. (2024), Eq. 4–5: for a homogeneous network (f_{αθ} = α^L f_θ) at
θ' = αθ with softmax temperature T, and β = α^L/T,

    H' = α^{2L−2}/T² G*(p) + α^{L−2}/T H*(p) = α⁻² β² [G*(p) + β⁻¹ H*(p)],   p = σ(βz),

where z = f_θ(x) are the *unscaled* logits, G*(p) = (1/N) Σ_n J_nᵀ(diag p_n − p_n p_nᵀ)J_n
and H*(p) = (1/N) Σ_n Σ_k (p − y)_nk ∇²z_nk, both of the unscaled network and projected
on the basis R (H_d = RᵀH'R, the Hessian of θ̂ ↦ ℓ(θ' + Rθ̂) at 0). Positive curvature
and local convexity are scale invariant, so they depend on β alone (Eq. 5; Fig. 1).

What a :class:`Decomposition` holds (all float64):

* ``hessian``, ``g_term``, ``h_term`` — RᵀH'R and its two terms at the TRUE scale of the
  α-scaled network at temperature T, i.e. α⁻²β²RᵀG*R and α⁻²βRᵀH*R. They are finite
  wherever the true values fit in float64 (all of α ∈ [10⁻³, 10³], T ∈ [10⁻¹⁵, 10¹⁵]
  for L ≤ 5); beyond that they overflow to ±inf or underflow to 0.
* ``*_normalized`` with ``log10_*_scale``: the same matrices as an O(1) matrix times
  10^scale (``g_term == 10**log10_g_term_scale * g_term_normalized``); always finite.
  ``hessian_normalized`` is the bracket [β G* + H*] with the larger of the two
  coefficients scaled to one. Every metric is computed on these well-scaled matrices.

``precision`` is the dtype the projected Jacobian was computed in (float32 on CUDA by
default); the d×d matrices are accumulated in float64 either way, and local convexity
treats eigenvalues below :func:`.metrics.zero_tolerance` of that precision as zero.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from ..models import inverse_temperature, resolve_degree
from . import metrics as _m
from .engine import Projection, accumulate

__all__ = ["Decomposition", "decompose", "inverse_temperature", "resolve_degree", "assemble"]

_LN10 = math.log(10.0)


def _pow10(x: float) -> float:
    """10**x in float64 without OverflowError (inf above, 0 below the range)."""
    if x > 308.3:
        return math.inf
    if x < -330.0:
        return 0.0
    return 10.0**x


def _log10(x: float) -> float:
    return math.log10(x) if x > 0 else -math.inf


def _times_pow10(M: torch.Tensor, scale: float) -> torch.Tensor:
    """M·10^scale in float64; exact zeros stay zero even when 10^scale overflows."""
    factor = _pow10(scale)
    return torch.where(M == 0, torch.zeros_like(M), M * factor)


@dataclass(frozen=True, eq=False)
class Decomposition:
    """RᵀH'R = G-term + H-term of the α-scaled network at temperature T (see module doc)."""

    alpha: float
    temperature: float
    beta: float  # α^L / T
    degree: int  # L
    num_samples: int
    hessian: torch.Tensor  # (d, d) true scale
    g_term: torch.Tensor  # (d, d) true scale, PSD
    h_term: torch.Tensor  # (d, d) true scale
    hessian_normalized: torch.Tensor
    g_term_normalized: torch.Tensor
    h_term_normalized: torch.Tensor
    log10_hessian_scale: float
    log10_g_term_scale: float
    log10_h_term_scale: float
    loss: float  # mean temperature cross-entropy of the α-scaled model (Eq. 1)
    mean_entropy: float  # mean softmax entropy of σ(βz), nats
    grad: torch.Tensor  # (d,) Rᵀ∇_{θ'}ℓ at θ' = αθ, true scale
    grad_normalized: torch.Tensor
    log10_grad_scale: float
    precision: torch.dtype = torch.float64  # dtype of the Jacobian (sets the local-convexity tolerance)

    # -- scale-invariant metrics (on the normalized matrices) -------------------------
    @property
    def log10_beta(self) -> float:
        return math.log10(self.beta)

    @property
    def pc_hessian(self) -> float:
        """Positive curvature Tr/‖·‖_F (Eq. 2) of the Hessian."""
        return float(_m.positive_curvature(self.hessian_normalized))

    @property
    def pc_g_term(self) -> float:
        return float(_m.positive_curvature(self.g_term_normalized))

    @property
    def pc_h_term(self) -> float:
        return float(_m.positive_curvature(self.h_term_normalized))

    @property
    def positive_curvature(self) -> float:
        """Alias of :attr:`pc_hessian`."""
        return self.pc_hessian

    @property
    def grad_norm(self) -> float:
        return _pow10(self.log10_grad_norm)

    @property
    def log10_grad_norm(self) -> float:
        return self.log10_grad_scale + _log10(float(self.grad_normalized.norm()))

    def _lc_precision(self, name: str) -> torch.dtype:
        """The precision that sets the local-convexity tolerance of term ``name``.

        The G-term is B̃ᵀB̃ formed and accumulated in float64 from rows B̃ (PSD by
        construction): its zero eigenvalues are structural (rows of zero weight, each
        sample's null vector of diag p − ppᵀ) and come out at float64 round-off whatever
        JR's dtype, so float64's tolerance applies. The Hessian and the H-term carry the
        Jacobian's rounding: d·ε of ``precision``.
        """
        return torch.float64 if name == "g_term" else self.precision

    def metrics(self) -> dict[str, float]:
        """Every scalar summary: one row of :func:`sweep`'s table."""
        row = {
            "alpha": self.alpha, "temperature": self.temperature, "beta": self.beta,
            "log10_beta": self.log10_beta,
        }
        parts = {
            "hessian": (self.hessian_normalized, self.log10_hessian_scale),
            "g_term": (self.g_term_normalized, self.log10_g_term_scale),
            "h_term": (self.h_term_normalized, self.log10_h_term_scale),
        }
        per = {}
        for name, (M, scale) in parts.items():
            lam = torch.linalg.eigvalsh(M)
            norm, lmax = float(lam.abs().max()), float(lam[-1])
            per[name] = {
                "pc": float(_m.positive_curvature(M)),
                "lc": float(_m.local_convexity(M, precision=self._lc_precision(name))),
                "norm": _pow10(scale + _log10(norm)) if norm > 0 else 0.0,
                "log10_norm": scale + _log10(norm),
                "lmax": math.copysign(_pow10(scale + _log10(abs(lmax))), lmax) if lmax != 0 else 0.0,
            }
        for key in ("pc", "lc", "norm", "log10_norm", "lmax"):
            for name in parts:
                row[f"{key}_{name}"] = per[name][key]
        row.update(loss=self.loss, mean_entropy=self.mean_entropy, grad_norm=self.grad_norm,
                   log10_grad_norm=self.log10_grad_norm)
        return row

    def __repr__(self) -> str:
        d = self.hessian.shape[0]
        return (f"Decomposition(alpha={self.alpha:g}, temperature={self.temperature:g}, beta={self.beta:g}, "
                f"L={self.degree}, d={d}, N={self.num_samples}, pc_hessian={self.pc_hessian:.4g}, "
                f"pc_g_term={self.pc_g_term:.4g}, loss={self.loss:.4g})")


def assemble(projection: Projection, alpha: float, temperature: float, beta: float, degree: int,
             num_samples: int) -> Decomposition:
    """Apply Eq. 5's prefactors α⁻²β² and α⁻²β (in log10) to the unscaled G*, H*."""
    st = projection.stats
    la, lb = math.log10(alpha), math.log10(beta)
    lg = -2 * la + 2 * lb + st.log_g_scale / _LN10
    lh = -2 * la + lb + st.log_h_scale / _LN10
    G, H = projection.g_hat, projection.h_hat
    top = max(lg, lh)
    if top == -math.inf:
        M = torch.zeros_like(G)
    else:
        M = _pow10(lg - top) * G + _pow10(lh - top) * H
    M = 0.5 * (M + M.T)
    lgrad = -la + lb + st.log_h_scale / _LN10
    return Decomposition(
        alpha=float(alpha), temperature=float(temperature), beta=float(beta), degree=int(degree),
        num_samples=int(num_samples),
        hessian=_times_pow10(M, top), g_term=_times_pow10(G, lg), h_term=_times_pow10(H, lh),
        hessian_normalized=M, g_term_normalized=G, h_term_normalized=H,
        log10_hessian_scale=top, log10_g_term_scale=lg, log10_h_term_scale=lh,
        loss=st.loss, mean_entropy=st.mean_entropy,
        grad=_times_pow10(projection.grad_hat, lgrad), grad_normalized=projection.grad_hat,
        log10_grad_scale=lgrad, precision=projection.precision,
    )


def decompose(
    model: nn.Module,
    inputs,
    targets,
    basis: torch.Tensor,
    *,
    alpha: float = 1.0,
    temperature: float = 1.0,
    chunk_size: int | None = None,
    degree: int | None = None,
    dtype: torch.dtype | None = None,
    method: str = "auto",
    progress: bool = False,
) -> Decomposition:
    """RᵀH'R = G-term + H-term of f_{αθ} at temperature T on (inputs, targets) (Eq. 4–5).

    Parameters
    ----------
    model
        The unscaled network θ; α scales every parameter, T divides the logits.
    inputs, targets
        Data (N, …) and N integer class labels.
    basis
        R (P×d) of full column rank, e.g. :func:`goldilocks_core.subspace.random_basis`;
        an all-zero or rank-deficient basis is a ``ValueError``
        (:func:`goldilocks_core.subspace.check_basis`).
    alpha, temperature
        α > 0 and T > 0; β = α^L/T.
    chunk_size
        Samples per chunk (default: sized to a fixed memory budget).
    degree
        L for models that :func:`models.homogeneity_degree` cannot inspect; for one it
        can, a different ``degree`` is a ``ValueError`` (:func:`models.resolve_degree`).
    dtype
        Working precision of the Jacobian: float64 on the CPU, float32 on CUDA by default.
        The d×d products are accumulated in float64 either way.
    method
        ``"auto"``, ``"layerwise"`` or ``"hvp"`` (see :mod:`goldilocks_core.curvature`).

    Returns
    -------
    Decomposition
        Float64 matrices at the true and at a normalised scale, and the scalar summaries.
    """
    L = resolve_degree(model, degree, alpha=alpha)
    beta = inverse_temperature(alpha, temperature, L)
    (projection,) = accumulate(model, inputs, targets, basis, [beta], chunk_size=chunk_size,
                               dtype=dtype, method=method, progress=progress, desc="decompose")
    n = inputs.shape[0] if hasattr(inputs, "shape") else len(inputs)
    return assemble(projection, float(alpha), float(temperature), beta, L, n)

