"""goldilocks_core: curvature of the loss at initialization.

One curvature problem with two views (:class:`goldilocks_core.problem.CurvatureProblem`):
projected Hessians and their Gauss–Newton split (:mod:`goldilocks_core.curvature`) and
full-space operators and estimators (:mod:`goldilocks_core.estimators`);
random subspaces (:mod:`goldilocks_core.subspace`), the random logit model
(:mod:`goldilocks_core.random_logit`), gradient descent over grids of initialisation scales
and learning rates (:mod:`goldilocks_core.training`), bias-free homogeneous networks
(:mod:`goldilocks_core.models`), datasets (:mod:`goldilocks_core.data`) and the
chapter profiles of the Goldilocks-zone book (:mod:`goldilocks_core.profiles`).

Reference: Vysogorets, Dawid, Kempe, *Deconstructing the Goldilocks Zone of Neural
Network Initialization*, ICML 2024.
"""
from importlib import import_module

__version__ = "0.1.0"

_SUBMODULES = {
    "book", "claims", "cli", "curvature", "data", "devices", "estimators", "experiments", "functional", "losses",
    "models", "plotting", "problem", "profiles", "progress", "random_logit", "subspace", "training", "validation",
}


def __getattr__(name):  # lazy submodules: `import goldilocks_core as gc; gc.models.mlp(...)`
    if name in _SUBMODULES:
        return import_module(f"{__name__}.{name}")
    if name == "CurvatureProblem":
        return import_module(f"{__name__}.problem").CurvatureProblem
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
