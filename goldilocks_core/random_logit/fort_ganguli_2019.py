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


def growing_sigma_c(sigma_z, sigma_c0: float, power: float = 0.25) -> np.ndarray:
    """Compute σ_c(σ_z) = σ_c0 (1 + σ_z)^power: mean logit gradients that grow along with the logits.

    Fort & Ganguli grow σ_c monotonically with σ_z (training time, their Fig. 4) without giving
    a law; any growth slower than the ~1/σ_z decay of P̄'s top eigenvalue at large σ_z gives
    their rise-then-fall of λ_max (Fig. 7). ``power=0.25`` (σ_c² ∝ √σ_z at large σ_z) does.

    Parameters
    ----------
    sigma_z : float or array-like
        σ_z ≥ 0.
    sigma_c0 : float
        σ_c at σ_z = 0.
    power : float
        The growth exponent.

    Returns
    -------
    numpy.ndarray
        The shape of ``sigma_z``.
    """
    z = np.asarray(sigma_z, dtype=np.float64)
    if not np.all(np.isfinite(z)) or np.any(z < 0):
        raise ValueError("sigma_z must be finite and ≥ 0")
    return _check_scale("sigma_c0", sigma_c0) * (1.0 + z) ** float(power)


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
    def sweep_sigma_z(
        self,
        sigma_z: Sequence[float],
        sigma_c: Sequence[float] | None = None,
        sigma_e: Sequence[float] | None = None,
        *,
        top_k: int | None = None,
        max_elements: int = 2**25,
    ) -> pd.DataFrame:
        """Tabulate Hessian statistics along a sweep of σ_z on the same draws (F&G Fig. 7–8).

        Vectorised over sweep values, in chunks of at most ``max_elements`` entries of the N·C·D
        noise factor.

        Parameters
        ----------
        sigma_z : sequence of float
            Values ≥ 0.
        sigma_c : sequence of float, optional
            One value per σ_z (e.g. :func:`growing_sigma_c`) or ``None`` for the model's σ_c.
        sigma_e : sequence of float, optional
            Likewise, ``None`` keeping σ_E/σ_c at the model's ratio (F&G keep σ_c/σ_E constant).
        top_k : int, optional
            Also report the fraction of gradient power in the top-k eigenvectors (needs
            eigenvectors: slower).
        max_elements : int
            Memory bound per chunk.

        Returns
        -------
        pandas.DataFrame
            One row per σ_z: ``sigma_z, sigma_c, sigma_e, top_eigenvalue, positive_curvature,
            mean_top_probability, mean_entropy`` and, with ``top_k``, ``gradient_power_top_k``.
        """
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

        n, c, d = self.n_samples, self.n_classes, self.dim
        onehot = torch.nn.functional.one_hot(self.labels, c).to(self.dtype)
        chunk = max(1, int(max_elements) // (n * c * d))
        rows: dict[str, list] = {k: [] for k in ("top_eigenvalue", "positive_curvature", "mean_top_probability", "mean_entropy")}
        if top_k is not None:
            rows["gradient_power_top_k"] = []
        for start in range(0, z.numel(), chunk):
            zs, cs, es = z[start : start + chunk], sc[start : start + chunk], se[start : start + chunk]
            logp = torch.log_softmax(zs[:, None, None] * self._zeta, dim=-1)  # (S, N, C)
            p = logp.exp()
            factors = _factor(p)  # (S, N, C, C)
            stacked = factors.reshape(len(zs), n * c, c)
            p_bar = stacked.transpose(1, 2) @ stacked / n
            lam, vec = torch.linalg.eigh(0.5 * (p_bar + p_bar.transpose(1, 2)))
            signal = (vec * lam.clamp_min(0).sqrt()[:, None, :]).transpose(1, 2) @ self._zc  # (S, C, D)
            noise = (factors @ self._ze).reshape(len(zs), n * c, d)  # (S, N·C, D)
            h = (cs**2)[:, None, None] * (signal.transpose(1, 2) @ signal)
            h = h + (es**2 / n)[:, None, None] * (noise.transpose(1, 2) @ noise)
            h = 0.5 * (h + h.transpose(1, 2))
            rows["positive_curvature"].append(positive_curvature_of(h))
            rows["mean_top_probability"].append(p.amax(-1).mean(-1))
            rows["mean_entropy"].append(-(p * logp).sum(-1).mean(-1))
            if top_k is None:
                rows["top_eigenvalue"].append(torch.linalg.eigvalsh(h)[:, -1])
            else:
                hl, hv = torch.linalg.eigh(h)
                rows["top_eigenvalue"].append(hl[:, -1])
                delta = p - onehot  # (S, N, C)
                g = cs[:, None] * (delta.mean(1) @ self._zc) + es[:, None] * torch.einsum("snk,nkd->sd", delta, self._ze) / n
                proj = torch.einsum("sde,sd->se", hv[:, :, -top_k:], g)
                rows["gradient_power_top_k"].append((proj**2).sum(-1) / (g**2).sum(-1))
        out = {"sigma_z": z.numpy(), "sigma_c": sc.numpy(), "sigma_e": se.numpy()}
        out.update({k: torch.cat(v).numpy() for k, v in rows.items()})
        return pd.DataFrame(out)
