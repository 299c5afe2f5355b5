"""The training loop of one chunk of grid cells: vmapped gradient descent with divergence handling.

Step t evaluates the gradient g_t at θ_t for every live cell, records the metrics of θ_t when t is
a logged step, and applies θ_{t+1} = θ_t − η g_t (η = η₀·α^(2−L), §5). A cell whose loss or
parameters are non-finite at step t is diverged from t on: its learning rate is set to 0 on the device
(no host synchronisation per step) and it is dropped from the stack at the next logged step. Metrics and host
round-trips happen only at logged steps and checkpoints.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..progress import progress_bar
from .metrics import METRICS, finite, step_metrics
from .stacked import StackedNetwork, stack_parameters

__all__ = ["ChunkResult", "logged_steps", "effective_lr", "run_chunk"]


@dataclass
class ChunkResult:
    """The recorded rows and final state of one chunk of grid cells.

    Parameters
    ----------
    metrics : dict of str to numpy.ndarray
        ``metrics[name]`` is (logged steps × cells), for each name of ``goldilocks_core.training.METRICS``.
    diverged_at : numpy.ndarray
        Per cell, the step it diverged at; −1 if never.
    final : dict of str to torch.Tensor
        The stacked θ_T, NaN for diverged cells.
    resumed_from : int
        The step the chunk resumed at (0 for a fresh run).
    """

    metrics: dict[str, np.ndarray]
    diverged_at: np.ndarray
    final: dict[str, torch.Tensor]  # stacked θ_T, NaN for diverged cells
    resumed_from: int


def logged_steps(steps: int, log_every: int) -> list[int]:
    """List the logged steps: 0, log_every, 2·log_every, … and always the last step.

    Parameters
    ----------
    steps : int
        Number of updates.
    log_every : int
        Logging interval.

    Returns
    -------
    list of int
        Sorted, ending with ``steps``.
    """
    return sorted(set(range(0, steps + 1, log_every)) | {steps})


def effective_lr(alpha: float, base_lr: float, degree: int) -> float:
    r"""Compute η = η₀·α^(2−L) (§5), which makes updates commensurate with the α-scaled weights.

    :math:`\eta = \eta_0\,\alpha^{2-L}`.

    Parameters
    ----------
    alpha : float
        The scale α of the cell.
    base_lr : float
        The base learning rate η₀.
    degree : int
        L, the homogeneity degree.

    Returns
    -------
    float
        η.
    """
    return float(base_lr) * float(alpha) ** (2 - degree)


def _sums_finite(params: dict) -> torch.Tensor:
    """Per cell: the sum of θ is finite — false when an entry is ±inf or NaN (or the sum overflows).

    One vectorised read of θ per step; the exact test (:func:`.metrics.finite`) runs at logged steps."""
    total = 0.0
    for v in params.values():
        total = total + v.flatten(1).sum(1)
    return torch.isfinite(total)


def _to(state: dict, device) -> dict:
    return {n: v.to(device) for n, v in state.items()}


def run_chunk(net: StackedNetwork, model, cells, *, degree: int, stream, test_x, test_y, steps: int,
              log_every: int, theta0: dict, device, dtype, store=None, chunk: int = 0,
              checkpoint_every: int | None = None, progress: bool = True, desc: str = "") -> ChunkResult:
    """Train the ``cells`` [(α, η₀), …] together for ``steps`` steps (see the module docstring).

    Parameters
    ----------
    net : StackedNetwork
        The vmapped network.
    model : nn.Module
        θ₀, stacked per cell as α·θ₀ for a fresh start.
    cells : list of tuple of float
        ``(alpha, base_lr)`` per cell.
    degree : int
        L (for η = η₀·α^(2−L)).
    stream : StepData
        Batches and labels of every step.
    test_x, test_y : torch.Tensor
        The test data.
    steps, log_every : int
        As for :func:`~goldilocks_core.training.train_grid`.
    theta0 : dict of str to torch.Tensor
        The unscaled θ₀ (for ``cos_theta0``).
    device, dtype
        Where and in which precision to train.
    store : CheckpointStore, optional
        Resume from and write checkpoints to it.
    chunk : int
        The chunk's index in ``store``.
    checkpoint_every : int, optional
        Steps between checkpoints.
    progress : bool
        Show a progress bar labelled ``desc``.
    desc : str
        The progress bar's label.

    Returns
    -------
    ChunkResult
    """
    num = len(cells)
    logged = set(logged_steps(steps, log_every))
    state = store.load(chunk) if store is not None else None
    if state is not None and state["done"]:
        return ChunkResult({k: v.numpy() for k, v in state["rows"].items()}, state["dead_at"].numpy(),
                           _to(state["params"], device), resumed_from=steps + 1)
    lrs = torch.tensor([effective_lr(a, b, degree) for a, b in cells], dtype=dtype, device=device)
    if state is None:
        start, rows = 0, {m: [] for m in METRICS}
        params = stack_parameters(model, [a for a, _ in cells], device=device, dtype=dtype)
        active = torch.arange(num, device=device)
        dead_at = torch.full((num,), -1, dtype=torch.long, device=device)
    else:
        start, rows = int(state["step"]), {k: list(v) for k, v in state["rows"].items()}
        params, active = _to(state["params"], device), state["active"].to(device)
        dead_at = state["dead_at"].to(device)
    lr = lrs[active]

    def save(step: int, done: bool, final=None):
        if store is None:
            return
        body = {"step": step, "done": done, "active": active.cpu(), "dead_at": dead_at.cpu(),
                "params": _to(final if done else params, "cpu"),
                "rows": {k: torch.as_tensor(np.array(v).reshape(-1, num)) for k, v in rows.items()}}
        store.save(chunk, body)

    bar = progress_bar(range(start, steps + 1), enabled=progress, total=steps + 1, initial=start,
                       desc=desc or "training", unit="step")
    for t in bar:
        if active.numel() == 0:  # every cell diverged: the remaining logged rows are NaN
            for _ in [s for s in sorted(logged) if s >= t]:
                for m in METRICS:
                    rows[m].append(np.full(num, np.nan))
            break
        x, y = stream.batch(t)
        grads, value, z = net.gradient(params, x, y)
        log = t in logged
        ok = torch.isfinite(value) & (finite(params) if log else _sums_finite(params))
        sub = dead_at[active]
        sub = torch.where((sub < 0) & ~ok, t, sub)
        dead_at[active] = sub
        alive = sub < 0
        if log:
            if stream.batch_size is not None:
                z = net.logits(params, stream.inputs)
            targets = stream.targets(t)
            values = step_metrics(params, grads, theta0, z, targets, net.loss(z, targets),
                                  net.logits(params, test_x), test_y)
            keep = alive.cpu().numpy()
            ids = active.cpu().numpy()[keep]
            for m in METRICS:
                row = np.full(num, np.nan)
                row[ids] = values[m][keep]
                rows[m].append(row)
            if not keep.all():  # drop the diverged cells from the stack
                k = torch.as_tensor(keep, device=device)
                params = {n: v[k] for n, v in params.items()}
                grads = {n: v[k] for n, v in grads.items()}
                active, lr, alive = active[k], lr[k], alive[k]
        if t == steps:
            break
        step_lr = torch.where(alive, lr, 0.0)  # a diverged cell stops (its θ is reported as NaN)
        for n, v in params.items():
            v.addcmul_(step_lr.view((-1,) + (1,) * (v.ndim - 1)), grads[n], value=-1.0)
        if checkpoint_every and (t + 1) % checkpoint_every == 0:
            save(t + 1, done=False)
    final = {n: torch.full((num,) + v.shape[1:], float("nan"), dtype=v.dtype, device=device)
             for n, v in params.items()}
    for n, v in params.items():
        final[n][active] = v
    save(steps + 1, done=True, final=final)
    metrics = {k: np.array(v).reshape(-1, num) for k, v in rows.items()}
    return ChunkResult(metrics, dead_at.cpu().numpy(), final, resumed_from=start)
