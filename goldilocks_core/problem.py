"""One curvature problem, two views: the projected decomposition (d ≤ P) and full-space operators.

A :class:`CurvatureProblem` holds what both views need — the unscaled network θ, the data,
its integer class labels, the homogeneity degree L, the working dtype and the sample chunks —
and validates it once, with one rule for each:

* targets: integer class labels in [0, K − 1] (floats are refused by both views);
* degree: read from the model (:func:`goldilocks_core.models.resolve_degree`); at α = 1 a model
  that cannot be inspected needs none, at α ≠ 1 it must be given;
* dtype: float64 on the CPU, float32 on CUDA (:func:`goldilocks_core.devices.default_dtype`);
  the full-space view evaluates a copy of the model cast to it, the projected view casts its
  Jacobian, and both accumulate d×d products in float64;
* chunking: ``chunk_size`` samples per pass in both views (``None``: the projected view sizes
  chunks to a memory budget, the operator takes all N in one pass).

Views (Eq. 4–5 of Vysogorets, Dawid & Kempe, ICML 2024, at any α and T):

* :meth:`CurvatureProblem.projected` — RᵀH'R = G-term + H-term on a basis R
  (:func:`goldilocks_core.curvature.decompose`), and :meth:`CurvatureProblem.sweep` over α, T or β;
* :meth:`CurvatureProblem.operator` — H', its G-term or its H-term as a matrix-free P×P
  ``LinearOperator`` (:func:`goldilocks_core.estimators.hessian_operator`), for Lanczos,
  Hutchinson, SLQ.

::

    problem = CurvatureProblem(model, x, y)
    dec = problem.projected(basis, alpha=10.0)       # d×d matrices and positive curvature
    op = problem.operator(alpha=10.0, term="g_term")  # P×P, matrix-free
"""
from __future__ import annotations

import copy
import functools
from dataclasses import dataclass
from typing import Sequence

import pandas as pd
import torch
from torch import nn

from .curvature import Decomposition, decompose, sweep
from .devices import default_dtype
from .estimators import CurvatureOperator, hessian_operator
from .models import resolve_degree
from .validation import check_count, check_data

__all__ = ["CurvatureProblem"]


@dataclass(frozen=True, eq=False)
class CurvatureProblem:
    r"""The loss curvature of one network on one data set (Eq. 4–5), with two views.

    The projected view :meth:`projected` / :meth:`sweep` gives
    :math:`R^\top H' R = \alpha^{-2}\beta^2\,[R^\top G^* R + \beta^{-1} R^\top H^* R]` on a basis
    R, with :math:`\beta = \alpha^L/T`; the full-space view :meth:`operator` gives H', its
    G-term or its H-term as a matrix-free P×P operator. Inputs and targets are validated once
    (:func:`goldilocks_core.validation.check_data`).

    Parameters
    ----------
    model : nn.Module
        The unscaled network θ (its parameters define the point; α scales them).
    inputs, targets : torch.Tensor
        Data (N, …) and N integer class labels in [0, K − 1].
    degree : int, optional
        L of f_{αθ} = α^L f_θ; ``None`` reads it from the model (needed only for α ≠ 1).
    dtype : torch.dtype, optional
        Working precision of both views (default: float64 on CPU, float32 on CUDA).
    chunk_size : int, optional
        Samples per forward/backward pass in both views.

    Examples
    --------
    ::

        problem = CurvatureProblem(model, x, y)
        dec = problem.projected(basis, alpha=10.0)       # d×d matrices and positive curvature
        op = problem.operator(alpha=10.0, term="g_term")  # P×P, matrix-free
    """

    model: nn.Module
    inputs: torch.Tensor
    targets: torch.Tensor
    degree: int | None = None
    dtype: torch.dtype | None = None
    chunk_size: int | None = None

    def __post_init__(self):
        if not isinstance(self.model, nn.Module):
            raise ValueError(f"model must be an nn.Module, got {type(self.model).__name__}")
        first = next(iter(self.model.parameters()), None)
        if first is None:
            raise ValueError("the model has no parameters")
        inputs, targets = check_data(self.inputs, self.targets)
        object.__setattr__(self, "inputs", inputs)
        object.__setattr__(self, "targets", targets)
        dtype = default_dtype(first.device) if self.dtype is None else self.dtype
        if not (isinstance(dtype, torch.dtype) and dtype.is_floating_point):
            raise ValueError(f"dtype must be a floating-point torch dtype, got {dtype!r}")
        object.__setattr__(self, "dtype", dtype)
        if self.chunk_size is not None:
            object.__setattr__(self, "chunk_size", check_count("chunk_size", self.chunk_size))
        if self.degree is not None:
            object.__setattr__(self, "degree", resolve_degree(self.model, self.degree))

    def degree_at(self, alpha: float) -> int:
        """Return L as used at scale α (:func:`goldilocks_core.models.resolve_degree`).

        Parameters
        ----------
        alpha : float
            The scale; at α = 1 a model that cannot be inspected gets L = 1.

        Returns
        -------
        int
            L ≥ 1.
        """
        return resolve_degree(self.model, self.degree, alpha=alpha)

    # ---------------------------------------------------------------- projected view (d ≤ P)
    def projected(self, basis: torch.Tensor, *, alpha: float = 1.0, temperature: float = 1.0,
                  method: str = "auto", progress: bool = False) -> Decomposition:
        """Compute RᵀH'R, its G-term and H-term at (α, T) on the columns of ``basis``.

        Parameters
        ----------
        basis : torch.Tensor
            R, shape (P, d), of full column rank.
        alpha, temperature : float
            α > 0 and T > 0; β = α^L/T (Eq. 5).
        method : {"auto", "layerwise", "hvp"}
            The H-term engine.
        progress : bool
            Show a progress bar.

        Returns
        -------
        Decomposition
            See :func:`goldilocks_core.curvature.decompose`.
        """
        return decompose(self.model, self.inputs, self.targets, basis, alpha=alpha, temperature=temperature,
                         chunk_size=self.chunk_size, degree=self.degree_at(alpha), dtype=self.dtype, method=method,
                         progress=progress)

    def sweep(self, basis: torch.Tensor, *, alphas: Sequence[float] | None = None, temperatures=1.0,
              betas: Sequence[float] | None = None, method: str = "auto", progress: bool = False) -> pd.DataFrame:
        """Tabulate curvature summaries per (α, T) or β (:func:`goldilocks_core.curvature.sweep`).

        Parameters
        ----------
        basis : torch.Tensor
            R, shape (P, d), of full column rank.
        alphas : sequence of float, optional
            Scales α (default: the authors' 25-point grid 10⁻³ … 10³).
        temperatures : float, sequence of float or "alpha^L"
            T per point.
        betas : sequence of float, optional
            β = α^L/T given directly instead of ``temperatures``.
        method : {"auto", "layerwise", "hvp"}
            The H-term engine.
        progress : bool
            Show a progress bar.

        Returns
        -------
        pandas.DataFrame
            One row per point; the columns of :func:`goldilocks_core.curvature.sweep`.
        """
        return sweep(self.model, self.inputs, self.targets, basis, alphas=alphas, temperatures=temperatures,
                     betas=betas, chunk_size=self.chunk_size, degree=self.degree, dtype=self.dtype, method=method,
                     progress=progress)

    # ---------------------------------------------------------------- full-space view (d = P)
    @functools.cached_property
    def _model_in_dtype(self) -> nn.Module:
        """The model itself, or once a copy of it cast to the problem's dtype."""
        if all(p.dtype == self.dtype for p in self.model.parameters()):
            return self.model
        return copy.deepcopy(self.model).to(self.dtype)

    def operator(self, *, alpha: float = 1.0, temperature: float = 1.0, term: str = "hessian",
                 parameters: str | Sequence[str] | None = None) -> CurvatureOperator:
        """Return H' (``term="hessian"``), its G-term or H-term at (α, T) as a P×P linear operator.

        Parameters
        ----------
        alpha, temperature : float
            α > 0 and T > 0.
        term : {"hessian", "g_term", "h_term"}
            Which matrix of Eq. 4.
        parameters : str or sequence of str, optional
            Restrict the operator to the diagonal block of these parameters.

        Returns
        -------
        CurvatureOperator
            See :func:`goldilocks_core.estimators.hessian_operator`.
        """
        return hessian_operator(self._model_in_dtype, self.inputs, self.targets, alpha=alpha,
                                temperature=temperature, term=term, chunk_size=self.chunk_size,
                                degree=self.degree_at(alpha), parameters=parameters)
