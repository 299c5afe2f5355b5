"""The random logit model of Fort & Ganguli (2019), "Emergent properties of the local geometry
of neural loss landscapes", §3–4.

Independent Gaussian variables stand in for a network at one point of its landscape:

* logits z_k^μ ~ N(0, σ_z²) (N samples × C classes), probabilities p^μ = softmax(z^μ) (Eq. 1);
* mean logit gradients c_k ~ N(0, σ_c² I_D) (C × D) and residuals E_k^μ ~ N(0, σ_E² I_D), so
  that the logit gradients are ∂z_k^μ/∂W = c_k + E_k^μ (Eq. 14);
* labels y^μ: for a target ``accuracy`` a, a random subset of round(aN) samples is labelled
  with its arg-max class and every other sample with a class drawn uniformly among the C − 1
  others ("we assigned class labels to random probability vectors so as to obtain a simulated
  accuracy of 0.95"); with ``accuracy=None`` labels are uniform and independent of the logits.

From these the model builds the Gauss–Newton Hessian of Eq. 16 (logit curvature neglected,
Eq. 10, and the c–E cross terms dropped),

    H = Σ_kl c_k P̄_kl c_lᵀ + (1/N) Σ_μ E^μᵀ A(p^μ) E^μ,    P̄ = (1/N) Σ_μ A(p^μ),  A = diag(p) − ppᵀ,

a rank-(C − 1) signal plus a high-rank noise term (both built as Gram matrices, PSD by
construction), and the gradient of Eq. 8, g = (1/N) Σ_μ Σ_k (p_k^μ − y_k^μ)(c_k + E_k^μ).
(F&G's Eq. 6 prints ∂L/∂z = y − p; the gradient of cross-entropy is p − y. The sign does not
affect any of the four properties.)

All random draws are standard normal and kept, so :meth:`RandomLogitModel.with_scales` and
:meth:`RandomLogitModel.sweep_sigma_z` change σ_z, σ_c, σ_E on the *same* draws (common random
numbers): arg-max classes, hence labels, do not change along a σ_z sweep.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import pandas as pd
import torch

from ._checks import as_float_tensor, positive_curvature_of
from .clustering import LogitGradientClustering, logit_gradient_clustering
from .softmax_hessian import _factor

__all__ = ["RandomLogitModel", "growing_sigma_c", "FORT_GANGULI_SETTING"]

# The setting of F&G's Figures 5–8 (their §4): they report mean top probability 0.94, q^SL = 0.67
# and 71% of the gradient power in the top 10 Hessian eigenvectors. Measured here (seed 0): 0.927
# (0.929 for N → ∞), q^SL = 0.673 (1/1.49 = 0.671), q^DL = −0.001, exactly C − 1 = 9 outliers
# above the noise term's top eigenvalue, 62% of the power in the top 10 (62–83%, mean 75%, over
# eight seeds).
FORT_GANGULI_SETTING = dict(
    n_samples=300,
    n_classes=10,
    dim=1000,
    sigma_z=15.0,
    sigma_c=1.0 / math.sqrt(1000),
    sigma_e=0.7 / math.sqrt(1000),
    accuracy=0.95,
)


def _check_count(name: str, value, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer ≥ {minimum}, got {value!r}")
    return int(value)


def _check_scale(name: str, value) -> float:
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number ≥ 0, got {value!r}") from None
    if not math.isfinite(x) or x < 0:
        raise ValueError(f"{name} is a standard deviation and must be finite and ≥ 0, got {value!r}")
    return x


def growing_sigma_c(sigma_z, sigma_c_ref: float, *, sigma_z_ref: float = 15.0, power: float = 0.25) -> np.ndarray:
    """σ_c(σ_z) = σ_c,ref (σ_z/σ_z,ref)^power: mean logit gradients that grow with the logits.

    Fort & Ganguli (their Fig. 7 and §5.2) grow σ_c "monotonically" with σ_z, "as observed in real
    neural networks in Fig. 4", at fixed σ_c/σ_E; they state no law. A power law is the simplest
    monotone one; it is anchored at their own setting, so that the sweep passes through the model
    of their Figs. 5–6 (σ_c = 1/√D at σ_z = 15). ``power`` is a choice, not theirs: since the top
    eigenvalue of P̄ decays like 1/σ_z once the softmax freezes, the top Hessian eigenvalue
    (∝ σ_c²) rises then falls for any power < 1/2 and keeps rising for power > 1/2.

    Parameters
    ----------
    sigma_z : array-like of finite values ≥ 0
        Logit scales.
    sigma_c_ref : float ≥ 0
        σ_c at ``sigma_z_ref``.
    sigma_z_ref : float > 0
        The anchor (their σ_z = 15).
    power : float ≥ 0
        The exponent (0: σ_c constant).

    Returns
    -------
    numpy.ndarray
        σ_c for each σ_z (float64).
    """
    z = np.asarray(sigma_z, dtype=np.float64)
    if not np.all(np.isfinite(z)) or np.any(z < 0):
        raise ValueError("sigma_z must be finite and ≥ 0")
    ref = _check_scale("sigma_z_ref", sigma_z_ref)
    if ref == 0:
        raise ValueError("sigma_z_ref must be > 0")
    a = _check_scale("power", power)
    return _check_scale("sigma_c_ref", sigma_c_ref) * (z / ref) ** a


class RandomLogitModel:
    r"""Fort & Ganguli's random model of logits, logit gradients, gradient and Hessian.

    The Gauss–Newton Hessian of their Eq. 16 is
    :math:`H = \sum_{kl} c_k\bar P_{kl}c_l^\top + \frac1N\sum_\mu E^{\mu\top}A(p^\mu)E^\mu`,
    :math:`\bar P = \frac1N\sum_\mu A(p^\mu)`, :math:`A = \mathrm{diag}\,p - pp^\top`.

    Parameters
    ----------
    n_samples, n_classes, dim : int
        N, C (≥ 2) and D, the number of weights.
    sigma_z, sigma_c, sigma_e : float
        Standard deviations of logits, mean logit gradient entries and residual entries
        (F&G's σ_z, σ_c, σ_E).
    accuracy : float, optional
        Target fraction of samples labelled with their arg-max class (F&G use 0.95);
        ``None`` for labels independent of the logits.
    generator : torch.Generator, optional
        For reproducible draws (default: torch's global RNG).
    dtype : torch.dtype
        float64 by default.
    """

    def __init__(
        self,
        n_samples: int,
        n_classes: int,
        dim: int,
        sigma_z: float,
        sigma_c: float,
        sigma_e: float,
        accuracy: float | None = None,
        generator: torch.Generator | None = None,
        dtype: torch.dtype = torch.float64,
    ):
        self.n_samples = _check_count("n_samples", n_samples, 2)
        self.n_classes = _check_count("n_classes", n_classes, 2)
        self.dim = _check_count("dim", dim, 1)
        self.sigma_z = _check_scale("sigma_z", sigma_z)
        self.sigma_c = _check_scale("sigma_c", sigma_c)
        self.sigma_e = _check_scale("sigma_e", sigma_e)
        if accuracy is not None:
            a = _check_scale("accuracy", accuracy)
            if a > 1:
                raise ValueError(f"accuracy must lie in [0, 1], got {accuracy!r}")
            accuracy = a
        self.target_accuracy = accuracy
        self.dtype = dtype
        n, c, d = self.n_samples, self.n_classes, self.dim
        self._zeta = torch.randn(n, c, generator=generator, dtype=dtype)
        self._zc = torch.randn(c, d, generator=generator, dtype=dtype)
        self._ze = torch.randn(n, c, d, generator=generator, dtype=dtype)
        self.labels = self._assign_labels(accuracy, generator)

    # ----------------------------------------------------------------- draws
    def _assign_labels(self, accuracy, generator) -> torch.Tensor:
        n, c = self.n_samples, self.n_classes
        if accuracy is None:
            return torch.randint(0, c, (n,), generator=generator)
        predicted = self._zeta.argmax(-1)
        correct = torch.zeros(n, dtype=torch.bool)
        correct[torch.randperm(n, generator=generator)[: int(round(accuracy * n))]] = True
        shift = torch.randint(1, c, (n,), generator=generator)  # a different class, uniformly
        return torch.where(correct, predicted, (predicted + shift) % c)

    def with_scales(self, sigma_z=None, sigma_c=None, sigma_e=None) -> "RandomLogitModel":
        """Return a model with the same draws and labels and other σ's.

        Parameters
        ----------
        sigma_z, sigma_c, sigma_e : float, optional
            New standard deviations; ``None`` keeps the current value.

        Returns
        -------
        RandomLogitModel
        """
        new = object.__new__(RandomLogitModel)
        new.__dict__.update(self.__dict__)
        new.sigma_z = self.sigma_z if sigma_z is None else _check_scale("sigma_z", sigma_z)
        new.sigma_c = self.sigma_c if sigma_c is None else _check_scale("sigma_c", sigma_c)
        new.sigma_e = self.sigma_e if sigma_e is None else _check_scale("sigma_e", sigma_e)
        return new

    @property
    def logits(self) -> torch.Tensor:
        """The logits z (N × C), independent N(0, σ_z²) draws."""
        return self.sigma_z * self._zeta

    @property
    def class_means(self) -> torch.Tensor:
        """The mean logit gradients c_k (C × D), with independent N(0, σ_c²) entries."""
        return self.sigma_c * self._zc

    @property
    def residuals(self) -> torch.Tensor:
        """The residuals E_k^μ (N × C × D), with independent N(0, σ_E²) entries."""
        return self.sigma_e * self._ze

    def probabilities(self) -> torch.Tensor:
        """p^μ = softmax(z^μ) (N × C), Eq. 1 (through log-softmax)."""
        return torch.log_softmax(self.logits, dim=-1).exp()

    def logit_gradients(self) -> torch.Tensor:
        """∂z_k^μ/∂W = c_k + E_k^μ (N × C × D), Eq. 14."""
        return self.class_means[None] + self.residuals

    def accuracy(self) -> float:
        """Fraction of samples whose arg-max class is their label."""
        return float((self.logits.argmax(-1) == self.labels).double().mean())

    def mean_top_probability(self) -> float:
        """(1/N) Σ_μ max_k p_k^μ (F&G: ≈ 0.94 at σ_z = 15)."""
        return float(self.probabilities().max(-1).values.mean())

    # ----------------------------------------------------------- curvature
    def _signal_factor(self, p: torch.Tensor) -> torch.Tensor:
        # F with FᵀF = Cᵀ P̄ C: P̄ = VΛVᵀ (PSD Gram), F = Λ^{1/2} Vᵀ C.
        factors = _factor(p)  # (N, C, C)
        n, c = factors.shape[0], factors.shape[-1]
        stacked = factors.reshape(n * c, c)
        p_bar = stacked.T @ stacked / n
        lam, vec = torch.linalg.eigh(0.5 * (p_bar + p_bar.T))
        return (vec * lam.clamp_min(0).sqrt()).T @ self.class_means

    def hessian(self, part: str = "both") -> torch.Tensor:
        """Form the D × D Gauss–Newton Hessian of the model.

        Parameters
        ----------
        part : {"both", "class_means", "residuals", "exact"}
            ``"both"`` — Eq. 16, Σ c_k P̄_kl c_lᵀ + (1/N)Σ_μ E^μᵀA(p^μ)E^μ;
            ``"class_means"`` — its rank-(C − 1) first term; ``"residuals"`` — its noise term;
            ``"exact"`` — the G-term of Eq. 10 with J^μ = C + E^μ, cross terms included.

        Returns
        -------
        torch.Tensor
            D × D, symmetric, PSD by construction.
        """
        p = self.probabilities()
        n = self.n_samples
        if part == "exact":
            f = (_factor(p) @ self.logit_gradients()).reshape(-1, self.dim) / math.sqrt(n)
            h = f.T @ f
        elif part in ("both", "class_means", "residuals"):
            h = torch.zeros(self.dim, self.dim, dtype=self.dtype)
            if part != "residuals":
                s = self._signal_factor(p)
                h = h + s.T @ s
            if part != "class_means":
                f = (_factor(p) @ self.residuals).reshape(-1, self.dim) / math.sqrt(n)
                h = h + f.T @ f
        else:
            raise ValueError(f"part must be 'both', 'class_means', 'residuals' or 'exact', got {part!r}")
        return 0.5 * (h + h.T)

    def gradient(self) -> torch.Tensor:
        """g = (1/N) Σ_μ Σ_k (p_k^μ − y_k^μ)(c_k + E_k^μ), F&G's Eq. 8 (D,)."""
        delta = self.probabilities() - torch.nn.functional.one_hot(self.labels, self.n_classes).to(self.dtype)
        return (delta @ self.class_means).mean(0) + torch.einsum("nk,nkd->d", delta, self.residuals) / self.n_samples

    def eigh(self, part: str = "both") -> tuple[torch.Tensor, torch.Tensor]:
        """Compute the eigenvalues (non-increasing) and eigenvectors (columns) of :meth:`hessian`.

        Parameters
        ----------
        part : {"both", "class_means", "residuals", "exact"}
            As for :meth:`hessian`.

        Returns
        -------
        tuple of torch.Tensor
        """
        lam, vec = torch.linalg.eigh(self.hessian(part))
        return lam.flip(-1), vec.flip(-1)

    def positive_curvature(self, part: str = "both") -> float:
        """Compute Tr(H)/‖H‖_F (F&G's "Trace(H)/‖H‖", Fig. 8).

        Parameters
        ----------
        part : {"both", "class_means", "residuals", "exact"}
            As for :meth:`hessian`.

        Returns
        -------
        float
        """
        return float(positive_curvature_of(self.hessian(part)))

    def gradient_overlaps(self, part: str = "both") -> tuple[torch.Tensor, torch.Tensor]:
        """Compute the eigenvalues and the cos² between g and each eigenvector (F&G Fig. 6).

        Parameters
        ----------
        part : {"both", "class_means", "residuals", "exact"}
            As for :meth:`hessian`.

        Returns
        -------
        tuple of torch.Tensor
            ``(eigenvalues, cos²)``, both sorted by eigenvalue (non-increasing).
        """
        lam, vec = self.eigh(part)
        g = self.gradient()
        cos2 = (vec.T @ g) ** 2 / (g @ g)
        return lam, cos2

    def gradient_power_fraction(self, k: int = 10, part: str = "both") -> float:
        """Compute the fraction of ‖g‖² in the span of the top-k Hessian eigenvectors (F&G: ≈ 71% for k = 10).

        Parameters
        ----------
        k : int
            Number of top eigenvectors.
        part : {"both", "class_means", "residuals", "exact"}
            As for :meth:`hessian`.

        Returns
        -------
        float
        """
        k = _check_count("k", k, 1)
        return float(self.gradient_overlaps(part)[1][:k].sum())

    # ---------------------------------------------------------- clustering
    def clustering(self) -> LogitGradientClustering:
        """q^SLSC, q^SL, q^DL of the model's logit gradients (F&G Eq. 11–13)."""
        return logit_gradient_clustering(self.logit_gradients(), self.labels)

    def q_slsc(self) -> float:
        """Same-logit-same-class clustering, F&G Eq. 11."""
        return self.clustering().q_slsc

    def q_sl(self) -> float:
        """Same-logit clustering, F&G Eq. 12 (→ SNR/(SNR + 1) for large D, SNR = σ_c²/σ_E²)."""
        return self.clustering().q_sl

    def q_dl(self) -> float:
        """Different-logit control, F&G Eq. 13 (≈ 0)."""
        return self.clustering().q_dl

    # --------------------------------------------------------------- sweep
    def _unit_grams(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Gram matrices of the unit draws, (C×C, C×NC, NC×NC): zc zcᵀ, zc zeᵀ, ze zeᵀ (cached)."""
        if getattr(self, "_grams", None) is None:
            ze = self._ze.reshape(-1, self.dim)
            self._grams = (self._zc @ self._zc.T, self._zc @ ze.T, ze @ ze.T)
        return self._grams

    def sweep_sigma_z(
        self,
        sigma_z: Sequence[float],
        sigma_c: Sequence[float] | None = None,
        sigma_e: Sequence[float] | None = None,
        *,
        top_k: int | None = None,
        bases: torch.Tensor | None = None,
    ) -> pd.DataFrame:
        """Hessian statistics along a sweep of σ_z on the same draws (F&G Figs. 7–8).

        Parameters
        ----------
        sigma_z : sequence of finite values ≥ 0
            Logit scales.
        sigma_c : sequence, optional
            One σ_c per σ_z (e.g. :func:`growing_sigma_c`); ``None``: the model's σ_c.
        sigma_e : sequence, optional
            One σ_E per σ_z; ``None`` keeps σ_E/σ_c at the model's ratio (F&G keep σ_c/σ_E
            constant).
        top_k : int, optional
            Also report the fraction of ‖g‖² in the top-k Hessian eigenvectors (Fig. 6).
        bases : tensor (B, D, d) or (D, d), optional
            Orthonormal bases of random d-dimensional hyperplanes: also report the mean over
            the B bases of Tr(RᵀHR)/‖RᵀHR‖_F (F&G §4 (4), "a random d = 10 dimensional
            hyperplane"), of the same for E_E RᵀHR (Eq. 7 with the projected class means Rᵀc_k),
            and Eq. 8 with that d.

        Returns
        -------
        pandas.DataFrame
            One row per σ_z: ``sigma_z, sigma_c, sigma_e, top_eigenvalue, positive_curvature``
            (Tr(H)/‖H‖_F of Eq. 16), ``eq7_curvature`` (the same for E_E H = Σ c_k P̄_kl c_lᵀ +
            σ_E² Tr(P̄) I, this draw's c_k with the residuals averaged out: Eq. 7 of
            Vysogorets et al.), ``eq8_curvature`` (their Eq. 8 with d = D: orthogonal c_k of
            equal length), ``mean_top_probability``, ``mean_entropy``; with ``top_k``,
            ``gradient_power_top_k``; with ``bases``, ``positive_curvature_projected``,
            ``eq7_curvature_projected`` and ``eq8_curvature_projected``.

        Notes
        -----
        H = FᵀF with F = [σ_c S zc; (σ_E/√N) B(p^μ) ze^μ] ((C + NC) × D, SᵀS = P̄, BᵀB = A(p)), so
        Tr H and ‖H‖_F are those of the small Gram matrix FFᵀ = T K Tᵀ, K the Gram matrix of the
        unit draws (computed once), T block-diagonal; the top eigenvalues come from Lanczos
        (ARPACK, to machine precision) on FFᵀ. H itself (D × D) is never formed.
        """
        from scipy.sparse.linalg import eigsh

        from .expected_g_term import expected_g_curvature

        z = as_float_tensor(sigma_z, "sigma_z").to(self.dtype).reshape(-1)
        if z.numel() == 0 or not torch.isfinite(z).all() or (z < 0).any():
            raise ValueError("sigma_z must be a non-empty sequence of finite values ≥ 0")
        if sigma_c is None:
            sc = torch.full_like(z, self.sigma_c)
        else:
            sc = as_float_tensor(sigma_c, "sigma_c").to(self.dtype).reshape(-1)
        if sigma_e is None:
            ratio = self.sigma_e / self.sigma_c if self.sigma_c > 0 else None
            se = sc * ratio if ratio is not None else torch.full_like(z, self.sigma_e)
        else:
            se = as_float_tensor(sigma_e, "sigma_e").to(self.dtype).reshape(-1)
        for name, v in (("sigma_c", sc), ("sigma_e", se)):
            if v.shape != z.shape or not torch.isfinite(v).all() or (v < 0).any():
                raise ValueError(f"{name} must have one finite value ≥ 0 per sigma_z ({z.numel()})")
        if top_k is not None:
            top_k = _check_count("top_k", top_k, 1)
            if top_k >= self.n_classes * (self.n_samples + 1):
                raise ValueError(f"top_k must be < C(N + 1) = {self.n_classes * (self.n_samples + 1)}")
        n, c, d = self.n_samples, self.n_classes, self.dim
        if bases is not None:
            r = as_float_tensor(bases, "bases").to(self.dtype)
            r = r[None] if r.ndim == 2 else r
            if r.ndim != 3 or r.shape[1] != d or not (c <= r.shape[2] <= d):
                raise ValueError(f"bases must be (B, D, d) or (D, d) with D = {d} and C ≤ d ≤ D, "
                                 f"got shape {tuple(r.shape)}")
            zc_r = self._zc @ r  # (B, C, d)
            ze_r = torch.einsum("nkD,bDe->bnke", self._ze, r)  # (B, N, C, d)
        k_cc, k_ce, k_ee = self._unit_grams()
        k_ce = k_ce.reshape(c, n, c)
        k_ee = k_ee.reshape(n, c, n, c)
        onehot = torch.nn.functional.one_hot(self.labels, c).to(self.dtype)
        rows = []
        for zs, cs, es in zip(z.tolist(), sc.tolist(), se.tolist()):
            logp = torch.log_softmax(zs * self._zeta, dim=-1)  # (N, C)
            p = logp.exp()
            b = _factor(p)  # (N, C, C), BᵀB = A(p)
            p_bar = torch.einsum("nkc,nkd->cd", b, b) / n
            lam, vec = torch.linalg.eigh(0.5 * (p_bar + p_bar.T))
            root = (vec * lam.clamp_min(0).sqrt()).T  # (C, C), rootᵀroot = P̄
            a_s, b_s = cs, es / math.sqrt(n)
            g_cc = a_s**2 * root @ k_cc @ root.T
            g_ce = a_s * b_s * torch.einsum("ij,jnl,nkl->ink", root, k_ce, b).reshape(c, n * c)
            half = torch.einsum("mkl,mlnq->mknq", b, k_ee)
            g_ee = b_s**2 * torch.einsum("mknq,njq->mknj", half, b).reshape(n * c, n * c)
            gram = torch.cat([torch.cat([g_cc, g_ce], 1), torch.cat([g_ce.T, g_ee], 1)], 0)
            gram = 0.5 * (gram + gram.T)
            row = {"sigma_z": zs, "sigma_c": cs, "sigma_e": es}
            row["positive_curvature"] = float(positive_curvature_of(gram))
            k = 1 if top_k is None else top_k
            arr = gram.numpy()
            if not np.any(arr):
                top_vals, top_vecs = np.zeros(k), np.zeros((arr.shape[0], k))
            else:
                top_vals, top_vecs = eigsh(arr, k=k, which="LA", tol=0, v0=np.ones(arr.shape[0]))
            order = np.argsort(top_vals)[::-1]
            top_vals, top_vecs = top_vals[order], top_vecs[:, order]
            row["top_eigenvalue"] = float(max(top_vals[0], 0.0))
            # E_E H: Σ c_k P̄_kl c_lᵀ + σ_E² Tr(P̄) I (Eq. 7 with this draw's class means)
            t_bar = float(p_bar.trace())
            sig = g_cc  # the non-zero block of Σ c P̄ cᵀ in Gram form: same trace and Frobenius norm
            trace = float(sig.trace()) + d * es**2 * t_bar
            fro2 = float((sig**2).sum()) + 2 * es**2 * t_bar * float(sig.trace()) + d * es**4 * t_bar**2
            row["eq7_curvature"] = trace / math.sqrt(fro2) if fro2 > 0 else 0.0
            row["eq8_curvature"] = float(expected_g_curvature(p, cs**2, es**2, d))
            row["mean_top_probability"] = float(p.amax(-1).mean())
            row["mean_entropy"] = float(-(p * logp).sum(-1).mean())
            if top_k is not None:
                delta = p - onehot
                g = cs * (delta.mean(0) @ self._zc) + es * torch.einsum("nk,nkd->d", delta, self._ze) / n
                fg = torch.cat([a_s * root @ (self._zc @ g), b_s * (b @ (self._ze @ g)[..., None])[..., 0].reshape(-1)])
                proj = top_vecs.T @ fg.numpy()
                power = np.where(top_vals > 0, proj**2 / np.where(top_vals > 0, top_vals, 1.0), 0.0)
                gg = float(g @ g)
                row["gradient_power_top_k"] = float(power.sum() / gg) if gg > 0 else float("nan")
            if bases is not None:
                f_r = torch.cat([a_s * root @ zc_r, b_s * (b @ ze_r).reshape(r.shape[0], n * c, -1)], 1)
                m = f_r.transpose(1, 2) @ f_r
                row["positive_curvature_projected"] = float(positive_curvature_of(0.5 * (m + m.transpose(1, 2))).mean())
                sig_r = a_s**2 * root @ (zc_r @ zc_r.transpose(1, 2)) @ root.T  # (B, C, C)
                tr_r = sig_r.diagonal(dim1=-2, dim2=-1).sum(-1)
                dim_r = r.shape[2]
                fro_r = (sig_r**2).sum((-2, -1)) + 2 * es**2 * t_bar * tr_r + dim_r * es**4 * t_bar**2
                pc_r = (tr_r + dim_r * es**2 * t_bar) / fro_r.clamp_min(1e-300).sqrt()
                row["eq7_curvature_projected"] = float(torch.where(fro_r > 0, pc_r, 0.0).mean())
                row["eq8_curvature_projected"] = float(expected_g_curvature(p, cs**2, es**2, dim_r))
            rows.append(row)
        columns = ["sigma_z", "sigma_c", "sigma_e", "top_eigenvalue", "positive_curvature", "eq7_curvature",
                   "eq8_curvature", "mean_top_probability", "mean_entropy"]
        if top_k is not None:
            columns.append("gradient_power_top_k")
        if bases is not None:
            columns += ["positive_curvature_projected", "eq7_curvature_projected", "eq8_curvature_projected"]
        return pd.DataFrame(rows, columns=columns)
