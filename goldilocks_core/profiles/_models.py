"""The networks and data sets the profiles name, as the plain dicts that
:func:`goldilocks_core.experiments.setup.build` turns into a model and its data."""
from __future__ import annotations

__all__ = ["LENET_300_100_FASHION", "LENET5_CIFAR10", "LENET5_FASHION32", "MLP_DIGITS", "LENET5_DIGITS32",
           "subset"]

# the paper's models on the paper's data
LENET_300_100_FASHION = {"name": "LeNet-300-100, Fashion-MNIST", "arch": "lenet_300_100",
                         "dataset": "fashion_mnist", "num_samples": None}
LENET5_CIFAR10 = {"name": "LeNet-5, CIFAR-10", "arch": "lenet5", "dataset": "cifar10", "num_samples": None}
# quick: CIFAR-10 cannot be had offline; LeNet-5 runs on Fashion-MNIST padded to 32×32 (one channel)
LENET5_FASHION32 = {"name": "LeNet-5, Fashion-MNIST 32×32", "arch": "lenet5", "dataset": "fashion_mnist",
                    "pad_to": 32, "num_samples": None}
# offline: scikit-learn's digits
MLP_DIGITS = {"name": "MLP 64-300-100-10, digits", "arch": "mlp", "widths": [64, 300, 100, 10],
              "dataset": "digits", "num_samples": None}
LENET5_DIGITS32 = {"name": "LeNet-5, digits 32x32", "arch": "lenet5", "dataset": "digits", "image_size": 32,
                   "num_samples": None}


def subset(spec: dict, num_samples: int | None, **changes) -> dict:
    """``spec`` with ``num_samples`` (and any other keys) replaced; the name says N."""
    out = {**spec, "num_samples": num_samples, **changes}
    return out
