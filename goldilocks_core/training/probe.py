"""Linear probes (App. E, Fig. 12 left): logistic regression on penultimate-layer features.

The features of a network are the inputs of its last weight layer (the activations after the last
hidden ReLU). A probe on the features of a trained α-scaled network is compared with one on the
features of a freshly initialised network: lazy training (α ≫ 1) leaves features barely better
than random ones.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ._checks import check_dataset

__all__ = ["penultimate_features", "linear_probe"]

_WEIGHT_LAYERS = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)


@torch.no_grad()
def penultimate_features(model: nn.Module, inputs: torch.Tensor, *, batch_size: int = 4096) -> np.ndarray:
    """Extract the input of ``model``'s last weight layer for every sample, flattened.

    Parameters
    ----------
    model : nn.Module
        The network.
    inputs : torch.Tensor
        x, (N, …); cast to the model's device and dtype.
    batch_size : int
        Samples per forward pass.

    Returns
    -------
    numpy.ndarray
        N×D float64 features.
    """
    last = [m for m in model.modules() if isinstance(m, _WEIGHT_LAYERS)]
    if not last:
        raise ValueError("the model has no weight layer")
    captured = []
    handle = last[-1].register_forward_hook(lambda _m, args, _out: captured.append(args[0].detach()))
    try:
        dtype = next(model.parameters()).dtype
        device = next(model.parameters()).device
        for i in range(0, inputs.shape[0], batch_size):
            model(inputs[i:i + batch_size].to(device=device, dtype=dtype))
    finally:
        handle.remove()
    return torch.cat([c.reshape(c.shape[0], -1) for c in captured]).to("cpu", torch.float64).numpy()


def linear_probe(model: nn.Module, train_set, test_set, *, standardize: bool = True, max_iter: int = 1000,
                 C: float = 1.0, seed: int = 0) -> dict:
    """Fit a logistic regression (scikit-learn) on ``model``'s penultimate features and score it.

    Parameters
    ----------
    model : nn.Module
        A trained network, or a freshly initialised one for the random-feature baseline.
    train_set, test_set : Dataset or (inputs, targets) pair
        The probe is fitted on the first and scored on both.
    standardize : bool
        Standardise each feature with the training mean and std first, so that the probe does not
        depend on the overall scale α^(L−1) of an α-scaled network's features.
    max_iter, C, seed
        Passed to :class:`sklearn.linear_model.LogisticRegression`.

    Returns
    -------
    dict
        ``train_accuracy`` and ``test_accuracy`` of the probe.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x, y, _ = check_dataset("train_set", train_set)
    xt, yt, _ = check_dataset("test_set", test_set)
    f, ft = penultimate_features(model, x), penultimate_features(model, xt)
    if not (np.isfinite(f).all() and np.isfinite(ft).all()):
        raise ValueError("the network's features are not finite (a diverged cell?)")
    clf = LogisticRegression(max_iter=max_iter, C=C, random_state=seed)
    probe = make_pipeline(StandardScaler(), clf) if standardize else clf
    probe.fit(f, y.numpy())
    return {"train_accuracy": float(probe.score(f, y.numpy())),
            "test_accuracy": float(probe.score(ft, yt.numpy()))}
