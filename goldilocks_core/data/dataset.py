"""The :class:`Dataset` record every loader returns: inputs, integer targets, class count."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch

__all__ = ["Dataset"]


def _shape(t: torch.Tensor) -> str:
    return "×".join(str(s) for s in t.shape)


@dataclass(frozen=True, eq=False)
class Dataset:
    """A labelled dataset held in memory as two tensors.

    Every loader returns one (:func:`~goldilocks_core.data.load`). Frozen: :meth:`to`,
    :meth:`subset` and :meth:`flatten` return new records that may share storage with this one.

    Parameters
    ----------
    inputs : torch.Tensor
        Float tensor, images as ``N×C×H×W``, points as ``N×D``.
    targets : torch.Tensor
        ``int64`` tensor of shape ``N`` with values in ``[0, num_classes)``.
    num_classes : int
        K, the number of classes (also those absent from a subset).
    name : str
        The registry name (``"digits"``, ``"fashion_mnist"``, …).
    split : str
        ``"train"`` or ``"test"``.
    """

    inputs: torch.Tensor
    targets: torch.Tensor
    num_classes: int
    name: str
    split: str

    def __post_init__(self):
        if not isinstance(self.inputs, torch.Tensor) or not self.inputs.is_floating_point():
            raise ValueError("Dataset.inputs must be a floating-point tensor")
        if not isinstance(self.targets, torch.Tensor) or self.targets.dtype != torch.int64 or self.targets.ndim != 1:
            raise ValueError("Dataset.targets must be a 1-D int64 tensor")
        if self.inputs.ndim < 2 or self.inputs.shape[0] != self.targets.shape[0]:
            raise ValueError(
                f"Dataset.inputs ({_shape(self.inputs)}) and targets ({_shape(self.targets)}) "
                "must have the same number of samples N along dimension 0"
            )
        if int(self.num_classes) < 1:
            raise ValueError(f"num_classes must be >= 1, got {self.num_classes!r}")

    def __len__(self) -> int:
        return int(self.targets.shape[0])

    def __repr__(self) -> str:
        return (
            f"Dataset(name={self.name!r}, split={self.split!r}, inputs={_shape(self.inputs)} "
            f"{str(self.inputs.dtype).removeprefix('torch.')}, num_classes={self.num_classes}, "
            f"device={self.inputs.device})"
        )

    @property
    def sample_shape(self) -> tuple[int, ...]:
        """The shape of one input, ``(C, H, W)`` for images and ``(D,)`` for points."""
        return tuple(self.inputs.shape[1:])

    @property
    def device(self) -> torch.device:
        """The device of the tensors."""
        return self.inputs.device

    def to(self, device=None, dtype: torch.dtype | None = None) -> "Dataset":
        """Move to ``device`` and cast the inputs to ``dtype`` (targets stay ``int64``).

        Parameters
        ----------
        device : torch.device or str, optional
            Target device (default: unchanged).
        dtype : torch.dtype, optional
            Floating dtype of the inputs (default: unchanged).

        Returns
        -------
        Dataset
        """
        if dtype is not None and not (isinstance(dtype, torch.dtype) and dtype.is_floating_point):
            raise ValueError(f"dtype must be a floating-point torch.dtype, got {dtype!r}")
        inputs = self.inputs.to(device=device, dtype=dtype)
        targets = self.targets.to(device=inputs.device)
        return dataclasses.replace(self, inputs=inputs, targets=targets)

    def subset(self, indices) -> "Dataset":
        """Select the samples at ``indices``.

        Parameters
        ----------
        indices : sequence, array or tensor of int, or boolean mask
            Integer positions (negative ones count from the end) or a mask of length N.

        Returns
        -------
        Dataset
            ``ValueError`` for float indices, a mask of the wrong shape or an index out of range.
        """
        idx = torch.as_tensor(indices, device=self.targets.device)
        if idx.dtype == torch.bool:
            if idx.shape != self.targets.shape:
                raise ValueError(f"boolean mask of shape {tuple(idx.shape)} does not match N = {len(self)}")
            idx = idx.nonzero().flatten()
        elif idx.is_floating_point() or idx.is_complex():
            raise ValueError("subset indices must be integers or a boolean mask")
        idx = idx.long().reshape(-1)
        if idx.numel() and (int(idx.min()) < -len(self) or int(idx.max()) >= len(self)):
            raise ValueError(f"subset index out of range for a dataset of {len(self)} samples")
        return dataclasses.replace(self, inputs=self.inputs[idx], targets=self.targets[idx])

    def flatten(self) -> "Dataset":
        """Reshape the inputs to ``N×D`` (for the MLPs).

        Returns
        -------
        Dataset
        """
        return dataclasses.replace(self, inputs=self.inputs.reshape(len(self), -1))

    def class_counts(self) -> torch.Tensor:
        """Count the samples of each class.

        Returns
        -------
        torch.Tensor
            ``int64``, length K.
        """
        return torch.bincount(self.targets.cpu(), minlength=self.num_classes)

    def prior(self) -> torch.Tensor:
        """Compute the empirical class prior Q = E y (paper, Sec. 4, Eq. 9).

        Returns
        -------
        torch.Tensor
            float64, length K.
        """
        counts = self.class_counts().double()
        return counts / counts.sum().clamp_min(1.0)
