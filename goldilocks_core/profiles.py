"""Named settings for every chapter: ``quick`` (2-core CPU, minutes, offline data) and
``paper`` (the paper's datasets, grids and sizes, meant for a CUDA device).

A chapter's papermill ``parameters`` cell names a profile; :func:`settings` returns
that profile's values with explicit parameters overriding them::

    cfg = settings("preliminaries", profile, device=device, seed=seed)
    cfg.dataset, cfg.alphas, cfg.device  # attribute access

Parameters passed as ``None`` mean "use the profile's value".
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

__all__ = ["PROFILE_NAMES", "CHAPTERS", "Settings", "settings", "alpha_grid"]

PROFILE_NAMES = ("quick", "paper")


def alpha_grid(lo: float = -3.0, hi: float = 3.0, step: float = 0.25) -> list[float]:
    """10^(lo … hi) in exponent steps of ``step`` (the authors' grid has 25 points)."""
    n = int(round((hi - lo) / step)) + 1
    return [float(10.0**e) for e in np.linspace(lo, hi, n)]


# Settings every chapter has.
_COMMON: dict[str, Any] = {"device": "auto", "seed": 0}

# chapter -> profile -> settings. Keep each chapter's block self-contained.
_CHAPTERS: dict[str, dict[str, dict[str, Any]]] = {
    "preliminaries": {
        "quick": {
            "dataset": "digits",
            "mlp_widths": [64, 300, 100, 10],
            "lenet_image_size": 32,
            "lenet_channels": 1,
            "num_samples": 500,
            "subspace_dim": 50,
            "dense_check_widths": [6, 5, 4, 3],
        },
        "paper": {
            "dataset": "fashion_mnist",
            "mlp_widths": [784, 300, 100, 10],
            "lenet_image_size": 32,
            "lenet_channels": 3,
            "num_samples": 60000,
            "subspace_dim": 50,
            "dense_check_widths": [6, 5, 4, 3],
        },
    },
    # --- chapter 1, "The Goldilocks zone" (goldilocks_core.experiments.zone, Fig. 1) ---
    "zone": {
        "quick": {
            "models": [{"name": "MLP 64-300-100-10, digits", "arch": "mlp", "widths": [64, 300, 100, 10],
                        "dataset": "digits", "num_samples": 1390}],
            "alphas": alpha_grid(-3.0, 3.0, 0.5),
            "subspace_dim": 50,
            "num_seeds": 3,
            "basis_kind": "orthonormal",
            "dtype": "float64",
            "chunk_size": None,
            "end_fraction": 0.1,
            "tied_rtol": 1e-6,
            "cache": False,
        },
        "paper": {
            "models": [
                {"name": "LeNet-300-100, Fashion-MNIST", "arch": "lenet_300_100", "dataset": "fashion_mnist",
                 "num_samples": None},
                {"name": "LeNet-5, CIFAR-10", "arch": "lenet5", "dataset": "cifar10", "num_samples": None},
            ],
            "alphas": alpha_grid(),
            "subspace_dim": 50,
            "num_seeds": 3,
            "basis_kind": "orthonormal",
            "dtype": "float64",
            "chunk_size": None,
            "end_fraction": 0.1,
            "tied_rtol": 1e-6,
            "cache": True,
        },
    },
    # --- chapter 3, "Revisiting the Goldilocks zone" (goldilocks_core.experiments.zone, Eq. 3-6, Fig. 2) ---
    "revisiting": {
        "quick": {
            "models": [
                {"name": "MLP 64-300-100-10, digits", "arch": "mlp", "widths": [64, 300, 100, 10],
                 "dataset": "digits", "num_samples": 1390},
                {"name": "LeNet-5, digits 32x32", "arch": "lenet5", "dataset": "digits", "image_size": 32,
                 "num_samples": 100},
            ],
            "alphas": alpha_grid(-3.0, 3.0, 0.5),
            "subspace_dim": 50,
            "num_seeds": 3,
            "basis_kind": "orthonormal",
            "dtype": "float64",
            "chunk_size": None,
            "zone_fraction": 0.5,
            "slope_fit_max_alpha": 10**-1.5,
            "identity_num_samples": 20,
            "identity_alphas": [0.01, 0.3, 3.0, 30.0],
            "identity_temperatures": [0.1, 1.0, 10.0, "alpha^L"],
            "identity_rtol": 1e-10,
            "cache": False,
        },
        "paper": {
            "models": [
                {"name": "LeNet-300-100, Fashion-MNIST", "arch": "lenet_300_100", "dataset": "fashion_mnist",
                 "num_samples": None},
                {"name": "LeNet-5, CIFAR-10", "arch": "lenet5", "dataset": "cifar10", "num_samples": None},
            ],
            "alphas": alpha_grid(),
            "subspace_dim": 50,
            "num_seeds": 3,
            "basis_kind": "orthonormal",
            "dtype": "float64",
            "chunk_size": None,
            "zone_fraction": 0.5,
            "slope_fit_max_alpha": 10**-1.5,
            "identity_num_samples": 1000,
            "identity_alphas": [0.01, 0.3, 3.0, 30.0],
            "identity_temperatures": [0.1, 1.0, 10.0, "alpha^L"],
            "identity_rtol": 1e-10,
            "cache": True,
        },
    },
    # --- chapter 4, "Features of the Goldilocks zone" (goldilocks_core.experiments.features) ---
    "features": {
        "quick": {
            "fig3_settings": [{"name": "MLP 64-300-100-10, digits", "arch": "mlp", "dataset": "digits",
                               "widths": [64, 300, 100, 10], "num_samples": None}],
            "alphas": alpha_grid(),
            "subspace_dim": 50,
            "num_seeds": 3,
            "basis_kind": "orthonormal",
            "chunk_size": None,
            "dims": [10, 20, 50, 100, 200],
            "dims_num_samples": 500,
            "dims_alphas": [0.1, 1.0, 2.0],
            "gamma_num_logit_sets": 30,
            "gamma_alphas": alpha_grid(-2.0, 2.0, 0.05),
            "cosine_setting": {"name": "MLP 64-300-100-10", "arch": "mlp", "dataset": "digits",
                               "widths": [64, 300, 100, 10]},
            "cosine_datasets": [{"dataset": "digits", "split": "train"}, {"dataset": "digits", "split": "test"},
                                {"dataset": "gaussian", "label": "Gaussian images"}],
            "cosine_num_samples": 350,
            "cosine_num_inits": 10,
            "prior_setting": {"name": "MLP 64-300-100-10, digits", "arch": "mlp", "dataset": "digits",
                              "widths": [64, 300, 100, 10], "num_samples": None},
            "prior_num_priors": 200,
            "prior_subset_size": 200,
            "inits_setting": {"name": "MLP 64-100-100-10, 200 digits", "arch": "mlp", "dataset": "digits",
                              "widths": [64, 100, 100, 10], "num_samples": 200},
            "num_inits": 100,
            "fg_setting": {"n_samples": 300, "n_classes": 10, "dim": 1000, "sigma_z": 15.0, "accuracy": 0.95},
            "fg_sweep_sigma_z": alpha_grid(-3.0, 2.0, 0.5),
            "fg_sigma_c_power": 0.25,
            "fg_num_seeds": 5,
            "cache": False,
        },
        "paper": {
            "fig3_settings": [
                {"name": "LeNet-300-100, Fashion-MNIST", "arch": "lenet_300_100", "dataset": "fashion_mnist",
                 "num_samples": None},
                {"name": "LeNet-5, CIFAR-10", "arch": "lenet5", "dataset": "cifar10", "num_samples": None},
            ],
            "alphas": alpha_grid(),
            "subspace_dim": 50,
            "num_seeds": 3,
            "basis_kind": "orthonormal",
            "chunk_size": None,
            "dims": [10, 20, 50, 100, 200, 500],
            "dims_num_samples": 10000,
            "dims_alphas": [0.1, 1.0, 2.0],
            "gamma_num_logit_sets": 30,
            "gamma_alphas": alpha_grid(-2.0, 2.0, 0.05),
            "cosine_setting": {"name": "LeNet-5", "arch": "lenet5", "dataset": "cifar10"},
            "cosine_datasets": [{"dataset": "svhn", "label": "SVHN"}, {"dataset": "cifar10", "label": "CIFAR-10"},
                                {"dataset": "gaussian", "label": "Gaussian images"}],
            "cosine_num_samples": 10000,
            "cosine_num_inits": 10,
            "prior_setting": {"name": "LeNet-5, CIFAR-10", "arch": "lenet5", "dataset": "cifar10",
                              "num_samples": None},
            "prior_num_priors": 2000,
            "prior_subset_size": 5000,
            "inits_setting": {"name": "LeNet-5, 3,000 CIFAR-10 images", "arch": "lenet5", "dataset": "cifar10",
                              "num_samples": 3000},
            "num_inits": 2000,
            "fg_setting": {"n_samples": 300, "n_classes": 10, "dim": 1000, "sigma_z": 15.0, "accuracy": 0.95},
            "fg_sweep_sigma_z": alpha_grid(-3.0, 2.0, 0.25),
            "fg_sigma_c_power": 0.25,
            "fg_num_seeds": 20,
            "cache": True,
        },
    },
    # --- Appendix B, eigenvalues of E G ---
    "appendix_b": {
        "quick": {"num_classes": 10, "subspace_dim": 50, "sigma_c2": 1.0, "sigma_e2": 0.5, "num_draws": 20000,
                  "batch_size": 8, "num_random_p": 1000},
        "paper": {"num_classes": 10, "subspace_dim": 50, "sigma_c2": 1.0, "sigma_e2": 0.5, "num_draws": 200000,
                  "batch_size": 8, "num_random_p": 10000},
    },
    # --- Appendix C, the limiting behaviour of diag(p) - pp^T ---
    "appendix_c": {
        "quick": {"num_classes": 10, "eps": alpha_grid(-9.0, -1.0, 0.5), "num_random_p": 2000},
        "paper": {"num_classes": 10, "eps": alpha_grid(-12.0, -1.0, 0.25), "num_random_p": 100000},
    },
    # --- Appendix D, the pre-collapse regime (goldilocks_core.experiments.precollapse) ---
    "appendix_d": {
        "quick": {
            "model": {"name": "MLP 64-300-100-10, digits", "arch": "mlp", "widths": [64, 300, 100, 10],
                      "dataset": "digits", "num_samples": None},
            "alphas": alpha_grid(0.0, 2.5, 0.0625),
            "entropy_alphas": alpha_grid(0.0, 2.5, 0.015625),
            "subspace_dim": 50,
            "basis": "orthonormal",
            "plateau_tol": 0.05,
            "g_plateau_tol": 0.01,
            "entropy_threshold": 1e-3,
            "num_images": 5,
            "image_span_decades": 1.0,
            "chunk_size": None,
            "gram_chunk_size": 128,
            "robustness_seeds": [1, 2],
            "robustness_alphas": alpha_grid(1.0, 2.25, 0.0625),
            "cache": False,
        },
        "paper": {
            "model": {"name": "LeNet-300-100, Fashion-MNIST", "arch": "lenet_300_100",
                      "dataset": "fashion_mnist", "num_samples": None},
            "alphas": alpha_grid(0.0, 2.5, 0.0625),
            "entropy_alphas": alpha_grid(0.0, 2.5, 0.015625),
            "subspace_dim": 50,
            "basis": "orthonormal",
            "plateau_tol": 0.05,
            "g_plateau_tol": 0.01,
            "entropy_threshold": 1e-3,
            "num_images": 5,
            "image_span_decades": 1.0,
            "chunk_size": 10000,
            "gram_chunk_size": 32,
            "robustness_seeds": [1, 2],
            "robustness_alphas": alpha_grid(0.5, 2.5, 0.0625),
            "cache": True,
            "device": "cuda",
        },
    },
    "appendix_a": {
        "quick": {
            "model": {"name": "MLP 64-300-100-10, digits", "arch": "mlp", "widths": [64, 300, 100, 10],
                      "dataset": "digits", "num_samples": 256},
            "alphas": [0.1, 1.0, 100.0],
            "main_alpha": 1.0,
            "temperature": 1.0,
            "num_probes": 6,
            "lanczos_steps": 40,
            "probe_block": None,
            "num_top": 20,
            "margin": 0.1,
            "trace_probes": 64,
            "chunk_size": None,
            "bbp_dim": 500,
            "bbp_thetas": [0.25, 0.5, 0.75, 0.9, 1.0, 1.1, 1.25, 1.5, 2.0, 2.5, 3.0, 4.0],
            "cache": False,
        },
        "paper": {
            "model": {"name": "LeNet-300-100, Fashion-MNIST", "arch": "lenet_300_100",
                      "dataset": "fashion_mnist", "num_samples": 10000},
            "alphas": [0.1, 1.0, 100.0],
            "main_alpha": 1.0,
            "temperature": 1.0,
            "num_probes": 20,
            "lanczos_steps": 100,
            "probe_block": 10,
            "num_top": 30,
            "margin": 0.1,
            "trace_probes": 256,
            "chunk_size": 2000,
            "bbp_dim": 3000,
            "bbp_thetas": [0.25, 0.5, 0.75, 0.9, 1.0, 1.1, 1.25, 1.5, 2.0, 2.5, 3.0, 4.0],
            "cache": True,
            "device": "cuda",
        },
    },
}

CHAPTERS = tuple(_CHAPTERS)


class Settings(Mapping):
    """Read-only mapping of one chapter's settings with attribute access."""

    def __init__(self, values: dict[str, Any]):
        object.__setattr__(self, "_values", dict(values))

    def __getitem__(self, key: str) -> Any:
        return self._values[key]

    def __iter__(self):
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(f"no setting {name!r}; known: {', '.join(sorted(self))}") from None

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("Settings are read-only; pass overrides to settings()")

    def __repr__(self) -> str:
        items = ", ".join(f"{k}={v!r}" for k, v in self.items())
        return f"Settings({items})"


def settings(chapter: str, profile: str = "quick", **overrides: Any) -> Settings:
    """The settings of ``chapter`` under ``profile``, with non-``None`` overrides applied.

    Raises ``ValueError`` for an unknown chapter, profile or setting name.
    """
    if chapter not in _CHAPTERS:
        raise ValueError(f"unknown chapter {chapter!r}; known: {', '.join(sorted(_CHAPTERS))}")
    if profile not in PROFILE_NAMES:
        raise ValueError(f"unknown profile {profile!r}; choose one of: {', '.join(PROFILE_NAMES)}")
    values = {**_COMMON, **_CHAPTERS[chapter][profile]}
    for key, value in overrides.items():
        if key not in values:
            raise ValueError(
                f"unknown setting {key!r} for chapter {chapter!r}; known: {', '.join(sorted(values))}"
            )
        if value is not None:
            values[key] = value
    values["profile"] = profile
    return Settings(values)
