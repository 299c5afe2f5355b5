"""``train_grid``: gradient descent over a grid of initialisation scales α and base learning rates η₀.

§5 of Vysogorets, Dawid, Kempe (ICML 2024): the cell (α, η₀) starts from α·θ₀ — θ₀ the unscaled
Kaiming initialisation — and runs full-batch gradient descent (no momentum, T = 1) with
η = η₀·α^(2−L). All cells train together (:mod:`goldilocks_core.training.stacked`, :mod:`goldilocks_core.training.engine`), in chunks of at most
``max_cells_per_chunk`` cells when memory is short.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from torch import nn

from ..devices import resolve_device
from ..models import resolve_degree
from ..validation import check_positive
from ._checks import RULES, check_count, check_dataset, check_labels, check_values
from .checkpoint import CheckpointStore, run_key, tensor_digest
from .engine import effective_lr, logged_steps, run_chunk
from .metrics import METRICS
from .stacked import StackedNetwork, cell_parameters
from .stream import StepData

__all__ = ["COLUMNS", "GridResult", "train_grid", "train_networks", "load_parameters"]

COLUMNS = ("alpha", "base_lr", "lr", "step") + METRICS + ("diverged",)


@dataclass
class GridResult:
    """The training frame of a grid together with each cell's final parameters.

    Returned by :func:`train_networks` (and :func:`~goldilocks_core.training.train_uso_networks`).

    Parameters
    ----------
    frame : pandas.DataFrame
        One row per (α, η₀, logged step), the columns :data:`COLUMNS` (see :func:`train_grid`).
    parameters : dict
        ``parameters[(α, η₀)]``: θ_T of that cell (``{name: tensor}``, NaN where the cell
        diverged).
    resumed_from : list of int
        The step each chunk resumed at (0 for a fresh run, ``steps + 1`` for a chunk read from
        a finished checkpoint).
    """

    frame: pd.DataFrame
    parameters: dict
    resumed_from: list

    def network(self, model: nn.Module, alpha: float, base_lr: float) -> nn.Module:
        """Return a copy of ``model`` holding the final parameters of cell (α, η₀).

        Parameters
        ----------
        model : nn.Module
            The network the grid was trained from (its architecture).
        alpha, base_lr : float
            The cell.

        Returns
        -------
        nn.Module
        """
        return load_parameters(model, self.parameters[(float(alpha), float(base_lr))])


def load_parameters(model: nn.Module, params: dict) -> nn.Module:
    """Return a deep copy of ``model`` with ``params`` copied in.

    Parameters
    ----------
    model : nn.Module
        The architecture (not modified).
    params : dict
        ``{name: tensor}`` for every parameter of ``model``; cast to each parameter's device
        and dtype.

    Returns
    -------
    nn.Module
    """
    out = copy.deepcopy(model)
    with torch.no_grad():
        for name, p in out.named_parameters():
            p.copy_(params[name].to(device=p.device, dtype=p.dtype))
    return out


def _settings(model, train, test, cells_args: dict, dtype, device) -> dict:
    theta = [p for p in model.parameters() if p.requires_grad]
    return {**cells_args, "dtype": str(dtype), "device": device.type, "model": repr(model),
            "theta0": tensor_digest(*theta), "data": tensor_digest(*train[:2], *test[:2]),
            "classes": [train[2], test[2]]}


def train_networks(model: nn.Module, train_set, test_set, *, alphas, base_lrs, steps: int, log_every: int = 1,
                   batch_size: int | None = None, labels: str = "fixed", seed: int = 0, device=None,
                   dtype=None, cache=None, checkpoint_every: int | None = 1000,
                   max_cells_per_chunk: int | None = None, samples_per_pass: int | None = None,
                   temperature: float = 1.0, degree: int | None = None, rule: str = "softmax",
                   progress: bool = True) -> GridResult:
    """Run :func:`train_grid`, also returning each cell's final parameters (a :class:`GridResult`).

    Parameters
    ----------
    model, train_set, test_set, alphas, base_lrs, steps, log_every, batch_size, labels, seed, device, dtype, cache
        As for :func:`train_grid`.
    checkpoint_every : int, optional
        Steps between checkpoints when ``cache`` is set.
    max_cells_per_chunk : int, optional
        Cells trained together; chunks run one after another.
    samples_per_pass : int, optional
        Samples per vmapped forward/backward; gradients are accumulated.
    temperature : float
        T of Eq. 1.
    degree : int, optional
        L (default: read from the model).
    rule : {"softmax", "uniform"}
        ``"softmax"``: gradient descent; ``"uniform"``: the USO update of App. E.
    progress : bool
        A bar with ETA; ``TQDM_DISABLE`` wins.

    Returns
    -------
    GridResult
        ``frame`` (the :func:`train_grid` table), ``parameters`` and ``resumed_from``.
    """
    alphas, base_lrs = check_values("alpha", alphas), check_values("base_lr", base_lrs)
    steps, log_every = check_count("steps", steps), check_count("log_every", log_every)
    labels, temperature = check_labels(labels), check_positive("temperature", temperature)
    if rule not in RULES:
        raise ValueError(f"rule must be one of {', '.join(map(repr, RULES))}, got {rule!r}")
    batch_size = None if batch_size is None else check_count("batch_size", batch_size)
    chunk_cells = max_cells_per_chunk
    if chunk_cells is not None:
        chunk_cells = check_count("max_cells_per_chunk", chunk_cells)
    samples_per_pass = None if samples_per_pass is None else check_count("samples_per_pass", samples_per_pass)
    checkpoint_every = None if checkpoint_every is None else check_count("checkpoint_every", checkpoint_every)
    seed = check_count("seed", seed, minimum=0)
    L = resolve_degree(model, degree)
    first = next(p for p in model.parameters() if p.requires_grad)
    device = first.device if device is None else resolve_device(device)
    dtype = first.dtype if dtype is None else dtype
    if not (isinstance(dtype, torch.dtype) and dtype.is_floating_point):
        raise ValueError(f"dtype must be a floating-point torch.dtype, got {dtype!r}")
    train, test = check_dataset("train_set", train_set), check_dataset("test_set", test_set)
    num_classes = max(train[2], test[2])

    cells = [(a, b) for a in alphas for b in base_lrs]
    size = chunk_cells or len(cells)
    chunks = [cells[i:i + size] for i in range(0, len(cells), size)]
    store = None
    if cache is not None:
        args = {"alphas": alphas, "base_lrs": base_lrs, "steps": steps, "log_every": log_every,
                "batch_size": batch_size, "labels": labels, "seed": seed, "temperature": temperature,
                "degree": L, "rule": rule, "max_cells_per_chunk": chunk_cells,
                "samples_per_pass": samples_per_pass}
        settings = _settings(model, train, test, args, dtype, device)
        store = CheckpointStore(cache, run_key(settings), settings)

    x, y = train[0].to(device=device, dtype=dtype), train[1].to(device)
    stream = StepData(x, y, num_classes, labels=labels, batch_size=batch_size, seed=seed)
    test_x, test_y = test[0].to(device=device, dtype=dtype), test[1].to(device)
    theta0 = {n: p.detach().to(device=device, dtype=dtype)
              for n, p in model.named_parameters() if p.requires_grad}
    net = StackedNetwork(model, rule=rule, temperature=temperature, samples_per_pass=samples_per_pass,
                         device=device, dtype=dtype)
    frames, parameters, resumed = [], {}, []
    for i, chunk in enumerate(chunks):
        desc = f"cells {i * size + 1}-{i * size + len(chunk)}/{len(cells)}"
        res = run_chunk(net, model, chunk, degree=L, stream=stream, test_x=test_x, test_y=test_y, steps=steps,
                        log_every=log_every, theta0=theta0, device=device, dtype=dtype, store=store, chunk=i,
                        checkpoint_every=checkpoint_every, progress=progress, desc=desc)
        frames.append(_frame(chunk, res, logged_steps(steps, log_every), L))
        for c, cell in enumerate(chunk):
            parameters[cell] = {n: v.detach() for n, v in cell_parameters(res.final, c).items()}
        resumed.append(res.resumed_from)
    frame = pd.concat(frames, ignore_index=True)
    frame.attrs.update({"degree": L, "rule": rule, "labels": labels, "temperature": temperature})
    return GridResult(frame, parameters, resumed)


def _frame(cells, res, steps: list[int], degree: int) -> pd.DataFrame:
    n_steps, num = len(steps), len(cells)
    step = np.tile(np.asarray(steps), num)
    dead = np.repeat(res.diverged_at, n_steps)
    out = {
        "alpha": np.repeat([a for a, _ in cells], n_steps),
        "base_lr": np.repeat([b for _, b in cells], n_steps),
        "lr": np.repeat([effective_lr(a, b, degree) for a, b in cells], n_steps),
        "step": step,
    }
    for m in METRICS:
        out[m] = res.metrics[m].T.reshape(-1)  # (steps × cells) → cell-major
    out["diverged"] = (dead >= 0) & (step >= dead)
    return pd.DataFrame(out, columns=list(COLUMNS))


def train_grid(model: nn.Module, train_set, test_set, *, alphas, base_lrs, steps: int, log_every: int = 1,
               batch_size: int | None = None, labels: str = "fixed", seed: int = 0, device=None, dtype=None,
               cache=None, **options) -> pd.DataFrame:
    r"""Train every cell (α, η₀) of a grid by gradient descent, all cells together (§5).

    Cell (α, η₀) starts from α·θ₀ and runs full-batch gradient descent (no momentum) with
    :math:`\eta = \eta_0\,\alpha^{2-L}`, which by Eq. 3 makes its updates those of the
    unscaled network multiplied by α whenever the two share the softmax output p.

    Parameters
    ----------
    model : nn.Module
        θ₀, the *unscaled* (Kaiming-initialised) bias-free homogeneous network; cell (α, η₀) starts
        from α·θ₀. L = :func:`~goldilocks_core.models.homogeneity_degree` unless ``degree`` is given.
    train_set, test_set : Dataset or (inputs, targets) pair
        The training data (the loss and its gradient) and the held-out data (``test_accuracy``).
    alphas, base_lrs : sequences of positive floats
        The grid; cell (α, η₀) uses η = η₀·α^(2−L) (§5).
    steps : int ≥ 1
        Number of updates (epochs for full-batch GD).
    log_every : int
        Metrics are recorded at steps 0, log_every, 2·log_every, … and at ``steps``.
    batch_size : int, optional
        Mini-batch SGD instead of full-batch GD (same seeded batches for every cell).
    labels : {"fixed", "random", "redrawn"}
        Dataset labels, fixed uniform random labels, or fresh random labels at every step (§5).
    seed : int
        Seeds the batches and random labels.
    device, dtype
        Default: those of ``model``'s parameters.
    cache : path, optional
        Folder for resumable checkpoints (every ``checkpoint_every`` steps, default 1,000).
    **options
        ``checkpoint_every``, ``max_cells_per_chunk``, ``samples_per_pass`` (memory), ``temperature``
        (T of Eq. 1, default 1), ``degree``, ``progress`` — see :func:`train_networks`.

    Returns
    -------
    pandas.DataFrame
        One row per (α, η₀, logged step) with :data:`COLUMNS`: ``lr`` is η; the metrics are those of
        θ_t before update t (train_* on the labels of step t; ``grad_norm`` and ``cos_neg_grad`` use
        the gradient of step t, the mini-batch one under SGD). A cell whose loss or parameters become
        non-finite has ``diverged=True`` and NaN metrics from that step on and stops updating.

    Examples
    --------
    Twenty steps of gradient descent on three noisy rings at three scales α of a two-layer
    network (L = 2, so η = η₀):

    >>> import torch
    >>> from goldilocks_core import data
    >>> from goldilocks_core.models import mlp
    >>> from goldilocks_core.training import train_grid
    >>> model = mlp([2, 16, 3], generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    >>> train = data.load("circles", num_samples=60, dtype=torch.float64)
    >>> test = data.load("circles", "test", num_samples=60, dtype=torch.float64)
    >>> frame = train_grid(model, train, test, alphas=[0.1, 1.0, 10.0], base_lrs=[1.0],
    ...                    steps=20, log_every=20, progress=False)
    >>> print(frame[["alpha", "step", "train_loss", "train_accuracy"]].round(3).to_string(index=False))
     alpha  step  train_loss  train_accuracy
       0.1     0       1.098           0.317
       0.1    20       1.088           0.350
       1.0     0       1.170           0.317
       1.0    20       1.041           0.350
      10.0     0      46.566           0.317
      10.0    20      12.115           0.383
    """
    return train_networks(model, train_set, test_set, alphas=alphas, base_lrs=base_lrs, steps=steps,
                          log_every=log_every, batch_size=batch_size, labels=labels, seed=seed, device=device,
                          dtype=dtype, cache=cache, **options).frame
