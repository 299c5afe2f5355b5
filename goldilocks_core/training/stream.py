"""What each step trains on: the (mini-)batch and its labels, drawn statelessly from (seed, step).

Every draw depends only on ``seed`` and the step (or epoch) index, never on a running generator, so
all cells of a grid see the same batches and labels and a resumed run continues the same sequence.
"""
from __future__ import annotations

import numpy as np
import torch

__all__ = ["StepData"]

_BATCHES, _RANDOM_LABELS, _REDRAWN_LABELS = 1, 2, 3


def _rng(*words: int) -> np.random.Generator:
    return np.random.default_rng([int(w) for w in words])


class StepData:
    """Provide the inputs and targets of step t for full-batch GD or mini-batch SGD.

    Every draw depends only on ``seed`` and the step (or epoch), so all cells see the same
    batches and labels and a resumed run continues the same sequence.

    Parameters
    ----------
    inputs : torch.Tensor
        The N training inputs.
    targets : torch.Tensor
        The N dataset labels.
    num_classes : int
        K.
    labels : {"fixed", "random", "redrawn"}
        ``"fixed"`` the dataset's targets; ``"random"`` uniform random labels drawn once;
        ``"redrawn"`` fresh uniform random labels at every step (the random-label experiment of §5).
    batch_size : int or None
        ``None`` (or ≥ N) for full-batch GD, else the mini-batch size.
    seed : int
        Seeds the batches and labels.
    """

    def __init__(self, inputs: torch.Tensor, targets: torch.Tensor, num_classes: int, *, labels: str,
                 batch_size: int | None, seed: int):
        self.inputs, self.num_classes, self.labels, self.seed = inputs, int(num_classes), labels, int(seed)
        self.n = int(targets.shape[0])
        self.batch_size = None if batch_size is None or batch_size >= self.n else int(batch_size)
        if labels == "random":
            targets = self._uniform_labels(_rng(self.seed, _RANDOM_LABELS))
        self._targets = targets.to(inputs.device)

    def _uniform_labels(self, rng: np.random.Generator) -> torch.Tensor:
        return torch.from_numpy(rng.integers(0, self.num_classes, self.n)).to(self.inputs.device)

    def targets(self, step: int) -> torch.Tensor:
        """Return the labels of all N training samples at ``step``.

        Parameters
        ----------
        step : int
            The step t.

        Returns
        -------
        torch.Tensor
            N integer labels.
        """
        if self.labels == "redrawn":
            return self._uniform_labels(_rng(self.seed, _REDRAWN_LABELS, step))
        return self._targets

    def batch(self, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Return the ``(x, y)`` of ``step``: all N samples, or mini-batch t of its epoch.

        Parameters
        ----------
        step : int
            The step t.

        Returns
        -------
        tuple of torch.Tensor
            Inputs and labels.
        """
        y = self.targets(step)
        if self.batch_size is None:
            return self.inputs, y
        per_epoch = -(-self.n // self.batch_size)
        epoch, k = divmod(step, per_epoch)
        order = torch.from_numpy(_rng(self.seed, _BATCHES, epoch).permutation(self.n)).to(self.inputs.device)
        idx = order[k * self.batch_size:(k + 1) * self.batch_size]
        return self.inputs[idx], y[idx]
