"""The loss Hessian, its G-term and its H-term as matrix-free linear operators (d = P).

For a model f_θ with logits z = f_θ(x), the α-scaled model f_{αθ} and softmax temperature
T, the operator represents the Hessian of the mean cross-entropy ℓ(θ') = (1/N) Σ_μ
−log σ_T(f_{θ'}(X^μ))_{y^μ} with respect to θ' at θ' = αθ, or one of its two Gauss–Newton
terms (Eq. 4 of Vysogorets, Dawid, Kempe, ICML 2024). For a homogeneous network of degree L
(f_{αθ} = α^L f_θ) it is evaluated at the *unscaled* θ through Eq. 5,

    H(α, T) = α⁻² β² G*(σ(βz)) + α⁻² β H*(σ(βz)),          β = α^L / T,

where G* = Jᵀ(diag p − ppᵀ)J and H* = Σ_k (p − y)_k ∇²z_k are the G-term and H-term of f_θ.
This never forms α^L f_θ, so α = 10³ or T = 10⁻⁹ give finite numbers. The operators are
:class:`scipy.sparse.linalg.LinearOperator` s (float64 numpy in and out) that also expose
torch products; data are processed ``chunk_size`` samples at a time, so memory does not
grow with N.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from scipy.sparse.linalg import LinearOperator
from torch import nn

from ..functional import flat_parameters, logits_function, parameter_slices
from ..models import inverse_temperature, resolve_degree
from ..validation import check_alpha, check_count, check_data, check_label_range, check_temperature
from . import products

__all__ = [
    "TERMS",
    "CurvatureOperator",
    "hessian_operator",
    "g_term_operator",
    "h_term_operator",
    "hessian_vector_product",
    "g_term_vector_product",
    "h_term_vector_product",
]

TERMS = ("hessian", "g_term", "h_term")

_PRODUCTS = {
    "hessian": products.hessian_products,
    "g_term": products.g_term_products,
    "h_term": products.h_term_products,
}


def _select(model: nn.Module, parameters) -> list[str] | None:
    """Parameter names chosen by exact name or by module prefix (``"1"`` → ``"1.weight"``)."""
    if parameters is None:
        return None
    if isinstance(parameters, str):
        parameters = [parameters]
    names = list(parameter_slices(model))
    chosen: list[str] = []
    for key in parameters:
        hits = [n for n in names if n == key or n.startswith(f"{key}.")]
        if not hits:
            raise ValueError(f"no trainable parameter named {key!r}; known: {', '.join(names)}")
        chosen.extend(h for h in hits if h not in chosen)
    return [n for n in names if n in chosen]  # keep θ's order


class CurvatureOperator(LinearOperator):
    r"""Apply H(α, T), its G-term or its H-term matrix-free, for one model and one data set.

    Symmetric P×P (or the block of the chosen ``parameters``). ``matvec``/``matmat`` take
    and return float64 numpy arrays; ``torch_matvec``/``torch_matmat`` work on tensors on
    the model's device. Build it with :func:`hessian_operator`, whose parameters it takes.
    Evaluated at the unscaled θ through Eq. 5:
    :math:`H(\alpha, T) = \alpha^{-2}\beta^2 G^*(\sigma(\beta z)) + \alpha^{-2}\beta H^*(\sigma(\beta z))`,
    :math:`\beta = \alpha^L/T`.

    Parameters
    ----------
    model : nn.Module
        The network f_θ.
    inputs, targets : torch.Tensor
        Inputs of shape (N, …) and N integer class labels.
    alpha, temperature : float
        α > 0 and T > 0.
    term : {"hessian", "g_term", "h_term"}
        Which matrix of Eq. 4.
    chunk_size : int, optional
        Samples per forward/backward pass (default: all N at once).
    degree : int, optional
        L of f_{αθ} = α^L f_θ.
    parameters : str or sequence of str, optional
        Restrict to these parameters' diagonal block.
    theta : torch.Tensor, optional
        Evaluate at this flat θ instead of the model's current parameters.
    """

    def __init__(
        self,
        model: nn.Module,
        inputs,
        targets,
        *,
        alpha: float = 1.0,
        temperature: float = 1.0,
        term: str = "hessian",
        chunk_size: int | None = None,
        degree: int | None = None,
        parameters: str | Sequence[str] | None = None,
        theta: torch.Tensor | None = None,
    ):
        if term not in TERMS:
            raise ValueError(f"term must be one of {', '.join(TERMS)}, got {term!r}")
        self.term = term
        self.alpha = check_alpha(alpha)
        self.temperature = check_temperature(temperature)
        self.degree = resolve_degree(model, degree, alpha=self.alpha)
        self.beta = inverse_temperature(self.alpha, self.temperature, self.degree)
        self.scale = self.alpha ** -2  # ∇²_θ' = α⁻² ∇²_θ at θ' = αθ

        self.model = model
        full = flat_parameters(model) if theta is None else torch.as_tensor(theta).detach()
        reference = flat_parameters(model)
        if full.shape != reference.shape:
            raise ValueError(f"theta has {full.numel()} entries, the model has {reference.numel()} parameters")
        self.device, self.torch_dtype = reference.device, reference.dtype
        full = full.to(self.device, self.torch_dtype)

        x, y = check_data(inputs, targets)
        x, y = x.to(device=self.device, dtype=self.torch_dtype), y.to(self.device)
        n = x.shape[0]
        f = logits_function(model)
        with torch.no_grad():
            num_classes = f(full, x[:1]).shape[-1]
        check_label_range(y, num_classes)
        self.num_samples, self.num_classes = n, num_classes
        self.chunk_size = n if chunk_size is None else check_count("chunk_size", chunk_size)
        self._chunks = [(x[i:i + self.chunk_size], y[i:i + self.chunk_size]) for i in range(0, n, self.chunk_size)]

        names = _select(model, parameters)
        self.parameter_names = list(parameter_slices(model)) if names is None else names
        if names is None:
            self._logits, self._point = f, full
        else:
            self._logits, self._point = self._restricted(f, full, names, model)
        self.num_params = int(self._point.numel())
        super().__init__(dtype=np.float64, shape=(self.num_params, self.num_params))

    @staticmethod
    def _restricted(f, full, names, model):
        """Logits as a function of the chosen parameters only, the rest held at ``full``."""
        pieces = []  # (selected?, slice into full, slice into the sub-vector)
        start = 0
        for name, sl in parameter_slices(model).items():
            if name in names:
                size = sl.stop - sl.start
                pieces.append((True, sl, slice(start, start + size)))
                start += size
            else:
                pieces.append((False, sl, None))
        point = torch.cat([full[sl] for chosen, sl, _ in pieces if chosen])

        def embed(u):
            return torch.cat([u[sub] if chosen else full[sl] for chosen, sl, sub in pieces])

        return (lambda u, x: f(embed(u), x)), point

    # torch side -----------------------------------------------------------------------
    def torch_matmat(self, V: torch.Tensor) -> torch.Tensor:
        """Multiply the operator with each column of ``V``.

        Parameters
        ----------
        V : torch.Tensor
            A (P, m) block of vectors.

        Returns
        -------
        torch.Tensor
            (P, m), on the model's device and in its dtype.
        """
        V = torch.as_tensor(V)
        if V.ndim != 2 or V.shape[0] != self.num_params:
            raise ValueError(f"expected a ({self.num_params}, m) block of vectors, got shape {tuple(V.shape)}")
        rows = V.T.to(self.device, self.torch_dtype).contiguous()
        product = _PRODUCTS[self.term]
        out = torch.zeros_like(rows)
        for x, y in self._chunks:
            out += product(self._logits, self._point, x, y, rows, self.beta).detach()
        return (out * (self.scale / self.num_samples)).T

    def torch_matvec(self, v: torch.Tensor) -> torch.Tensor:
        """Multiply the operator with one vector of length P given as a tensor.

        Parameters
        ----------
        v : torch.Tensor
            Length P.

        Returns
        -------
        torch.Tensor
            Length P.
        """
        v = torch.as_tensor(v)
        if v.ndim != 1 or v.shape[0] != self.num_params:
            raise ValueError(f"expected a vector of length {self.num_params}, got shape {tuple(v.shape)}")
        return self.torch_matmat(v[:, None])[:, 0]

    # scipy side -----------------------------------------------------------------------
    def _matmat(self, X):
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[0] != self.num_params:
            raise ValueError(f"expected a ({self.num_params}, m) array, got shape {X.shape}")
        out = self.torch_matmat(torch.from_numpy(np.ascontiguousarray(X)))
        return out.detach().to("cpu", torch.float64).numpy()

    def _matvec(self, x):
        x = np.asarray(x, dtype=np.float64)
        if x.size != self.num_params:
            raise ValueError(f"expected a vector of length {self.num_params}, got {x.size} entries")
        return self._matmat(x.reshape(-1, 1)).reshape(x.shape)

    def _rmatvec(self, x):
        return self._matvec(x)  # symmetric

    def _rmatmat(self, X):
        return self._matmat(X)

    def _adjoint(self):
        return self

    def to_dense(self, max_params: int = 5000) -> np.ndarray:
        """Form the dense matrix (the operator applied to the identity), for small P only.

        Parameters
        ----------
        max_params : int
            Refuse (``ValueError``) above this P.

        Returns
        -------
        numpy.ndarray
            (P, P) float64.
        """
        if self.num_params > max_params:
            raise ValueError(f"P = {self.num_params} > max_params = {max_params}: too large to form densely")
        return self._matmat(np.eye(self.num_params))

    def __repr__(self) -> str:
        return (f"CurvatureOperator(term={self.term!r}, P={self.num_params}, N={self.num_samples}, "
                f"alpha={self.alpha:g}, temperature={self.temperature:g}, L={self.degree}, beta={self.beta:g})")


def hessian_operator(
    model: nn.Module,
    inputs,
    targets,
    *,
    alpha: float = 1.0,
    temperature: float = 1.0,
    term: str = "hessian",
    chunk_size: int | None = None,
    degree: int | None = None,
    parameters: str | Sequence[str] | None = None,
    theta: torch.Tensor | None = None,
) -> CurvatureOperator:
    r"""Build H(α, T), its G-term or its H-term (Eq. 4–5) as a matrix-free P×P operator.

    The Hessian (``term="hessian"``) of the mean temperature cross-entropy with respect to
    θ' at θ' = αθ, or one of its Gauss–Newton terms (``"g_term"``, ``"h_term"``; Eq. 4), evaluated at the unscaled θ through Eq. 5:
    :math:`H = \alpha^{-2}\beta^2 J^\top(\mathrm{diag}\,p - pp^\top)J + \alpha^{-2}\beta\sum_k (p - y)_k\nabla^2 z_k`,
    :math:`p = \sigma(\beta z)`, :math:`\beta = \alpha^L/T`.

    Parameters
    ----------
    model : nn.Module
        The network f_θ.
    inputs, targets : torch.Tensor
        Inputs of shape (N, …) and N integer class labels.
    alpha, temperature : float
        α > 0 scales the parameters (θ' = αθ), T > 0 divides the logits; derivatives are
        taken with respect to θ'. α ≠ 1 needs a homogeneous model (β = α^L / T, Eq. 5).
    term : {"hessian", "g_term", "h_term"}
        Which matrix.
    chunk_size : int, optional
        Samples per forward/backward pass (default: all N at once).
    degree : int, optional
        L of f_{αθ} = α^L f_θ (default: :func:`goldilocks_core.models.homogeneity_degree`);
        for a model whose L can be read, a different ``degree`` is a ``ValueError``
        (:func:`goldilocks_core.models.resolve_degree`).
    parameters : str or sequence of str, optional
        Restrict to these parameters (names or module prefixes, e.g. ``"1"`` for the first
        ``Linear`` of an ``mlp``): the operator is then that diagonal block.
    theta : torch.Tensor, optional
        Evaluate at this flat θ instead of the model's current parameters.

    Returns
    -------
    CurvatureOperator
        Symmetric P×P, matrix-free.
    """
    return CurvatureOperator(
        model, inputs, targets, alpha=alpha, temperature=temperature, term=term,
        chunk_size=chunk_size, degree=degree, parameters=parameters, theta=theta,
    )


def g_term_operator(model: nn.Module, inputs, targets, **kwargs) -> CurvatureOperator:
    r"""Build the G-term α⁻²β² Jᵀ(diag p − ppᵀ)J of Eq. 5 (PSD by construction) as an operator.

    :math:`\alpha^{-2}\beta^2 J^\top(\mathrm{diag}\,p - pp^\top)J`, applied in the factored form
    :math:`J^\top B^\top B J`.

    Parameters
    ----------
    model : nn.Module
        The network f_θ.
    inputs, targets : torch.Tensor
        Inputs of shape (N, …) and N integer class labels.
    **kwargs
        Any other keyword of :func:`hessian_operator`.

    Returns
    -------
    CurvatureOperator
    """
    return hessian_operator(model, inputs, targets, term="g_term", **kwargs)


def h_term_operator(model: nn.Module, inputs, targets, **kwargs) -> CurvatureOperator:
    """Build the H-term α⁻²β Σ_k (p − y)_k ∇²z_k of Eq. 5 as an operator.

    Parameters
    ----------
    model : nn.Module
        The network f_θ.
    inputs, targets : torch.Tensor
        Inputs of shape (N, …) and N integer class labels.
    **kwargs
        Any other keyword of :func:`hessian_operator`.

    Returns
    -------
    CurvatureOperator
    """
    return hessian_operator(model, inputs, targets, term="h_term", **kwargs)


def hessian_vector_product(model: nn.Module, inputs, targets, v: torch.Tensor, **kwargs) -> torch.Tensor:
    """Compute H(α, T) v as a tensor.

    Parameters
    ----------
    model : nn.Module
        The network f_θ.
    inputs, targets : torch.Tensor
        Inputs of shape (N, …) and N integer class labels.
    v : torch.Tensor
        A vector of length P (or of the chosen ``parameters``' block).
    **kwargs
        Any keyword of :func:`hessian_operator` (``alpha``, ``temperature``, ``chunk_size``,
        ``degree``, ``parameters``, ``theta``).

    Returns
    -------
    torch.Tensor
        The product, length P, on the model's device.
    """
    return hessian_operator(model, inputs, targets, **kwargs).torch_matvec(v)


def g_term_vector_product(model: nn.Module, inputs, targets, v: torch.Tensor, **kwargs) -> torch.Tensor:
    """Compute the G-term times v as a tensor.

    Parameters
    ----------
    model : nn.Module
        The network f_θ.
    inputs, targets : torch.Tensor
        Inputs of shape (N, …) and N integer class labels.
    v : torch.Tensor
        A vector of length P (or of the chosen ``parameters``' block).
    **kwargs
        Any keyword of :func:`hessian_operator` (``alpha``, ``temperature``, ``chunk_size``,
        ``degree``, ``parameters``, ``theta``).

    Returns
    -------
    torch.Tensor
        The product, length P, on the model's device.
    """
    return g_term_operator(model, inputs, targets, **kwargs).torch_matvec(v)


def h_term_vector_product(model: nn.Module, inputs, targets, v: torch.Tensor, **kwargs) -> torch.Tensor:
    """Compute the H-term times v as a tensor.

    Parameters
    ----------
    model : nn.Module
        The network f_θ.
    inputs, targets : torch.Tensor
        Inputs of shape (N, …) and N integer class labels.
    v : torch.Tensor
        A vector of length P (or of the chosen ``parameters``' block).
    **kwargs
        Any keyword of :func:`hessian_operator` (``alpha``, ``temperature``, ``chunk_size``,
        ``degree``, ``parameters``, ``theta``).

    Returns
    -------
    torch.Tensor
        The product, length P, on the model's device.
    """
    return h_term_operator(model, inputs, targets, **kwargs).torch_matvec(v)
