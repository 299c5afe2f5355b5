"""Training inside and outside the Goldilocks zone (§5 and App. E of Vysogorets et al., 2024).

* :func:`train_grid` — gradient descent over a grid of initialisation scales α and base learning
  rates η₀ (η = η₀·α^(2−L)), all cells trained together by one vmapped step; resumable.
* :func:`train_uso` — the uniform-softmax-output model of App. E (Eq. 3 with p = 1/K).
* :func:`initial_sharpness`, :func:`admissibility` — ‖H‖₂ at initialisation and η·‖H‖₂ < 2.
* :func:`linear_probe` — logistic regression on penultimate-layer features.
* :func:`train_subspace` — gradient descent confined to random hyperplanes or spheres through r·θ̂
  (Fort & Scherlis, 2019; Li et al., 2018).

Modules: :mod:`goldilocks_core.training.stacked` (vmapped network),
:mod:`goldilocks_core.training.engine` (the loop), :mod:`.metrics`,
:mod:`.stream` (batches and labels), :mod:`.checkpoint` (atomic, resumable), :mod:`.grid`,
:mod:`.uso`, :mod:`.sharpness`, :mod:`.probe`, :mod:`.subspace`.
"""
from .checkpoint import CheckpointStore, run_key
from .engine import effective_lr, logged_steps
from .grid import COLUMNS, GridResult, load_parameters, train_grid, train_networks
from .metrics import METRICS
from .probe import linear_probe, penultimate_features
from .sharpness import admissibility, initial_sharpness
from .stacked import StackedNetwork, stack_parameters
from .subspace import tangent_basis, train_subspace
from .uso import train_uso, train_uso_networks, uso_snapshots

__all__ = [
    "train_grid",
    "train_networks",
    "GridResult",
    "COLUMNS",
    "METRICS",
    "effective_lr",
    "logged_steps",
    "load_parameters",
    "train_uso",
    "train_uso_networks",
    "uso_snapshots",
    "initial_sharpness",
    "admissibility",
    "linear_probe",
    "penultimate_features",
    "train_subspace",
    "tangent_basis",
    "StackedNetwork",
    "stack_parameters",
    "CheckpointStore",
    "run_key",
]
