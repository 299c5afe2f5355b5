"""From a profile's description of a setting to a model and its data.

Profiles describe a network and its data as a plain dict (so that they can be printed,
hashed into cache keys and overridden by papermill), e.g. ::

    {"name": "LeNet-5", "arch": "lenet5", "dataset": "digits", "image_size": 32,
     "num_samples": 500}

:func:`build` turns such a dict and a seed into ``(model, inputs, targets)`` on the
requested device and dtype.
"""
from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from .. import data, models
from ..devices import default_dtype, resolve_device
from ..validation import check_count
from .identity import canonical, data_identity

__all__ = ["Setting", "build", "build_model", "build_data", "source_identity", "BASIS_SEED_OFFSET", "required",
           "device_and_dtype", "seeds", "show_progress", "use_cache"]

# The subspace basis of seed s is drawn with seed BASIS_SEED_OFFSET + s, so that it is
# independent of the Kaiming draw of the model with the same seed (both use torch.randn).
BASIS_SEED_OFFSET = 104_729

ARCHS = ("mlp", "lenet_300_100", "lenet5")
_SOURCE_IDS: dict[str, str] = {}
_PREPARED: OrderedDict[str, data.Dataset] = OrderedDict()


@dataclass(frozen=True)
class Setting:
    """A network and the data it is measured on."""

    name: str
    model: nn.Module
    inputs: torch.Tensor
    targets: torch.Tensor
    num_classes: int

    @property
    def degree(self) -> int:
        """L, the homogeneity degree of the network."""
        return models.homogeneity_degree(self.model)

    @property
    def num_params(self) -> int:
        """P, the number of parameters."""
        return models.num_parameters(self.model)


def build_data(spec: dict, *, split: str = "train", seed: int = 0, dtype=torch.float64,
               device="cpu") -> data.Dataset:
    """The spec's dataset, resized or padded if asked, reduced to a balanced subset of ``num_samples``."""
    ds = _load_source(spec, split)
    n = spec.get("num_samples")
    if n is not None and n < len(ds):
        n -= n % ds.num_classes
        ds = data.balanced_subset(ds, n, generator=torch.Generator().manual_seed(10_000 + seed))
    return ds.to(device, dtype)


def _source_options(spec: dict) -> dict:
    options = {k: spec[k] for k in ("image_size", "pad_to") if spec.get(k) is not None}
    options.update(spec.get("data_options", {}))
    return options


def _source_key(spec: dict, split: str) -> str:
    source = {"dataset": spec["dataset"], "split": split, "options": _source_options(spec),
              "root": str(data.cache_root())}
    return json.dumps(canonical(source), sort_keys=True)


def _load_source(spec: dict, split: str) -> data.Dataset:
    """The whole split, resized or padded once per session (resizing 60,000 images takes seconds);
    the last two splits are kept, keyed like :func:`source_identity`."""
    options = _source_options(spec)
    key = _source_key(spec, split)
    if key not in _PREPARED:
        _PREPARED[key] = data.load(spec["dataset"], split, **options)
        while len(_PREPARED) > 2:
            _PREPARED.popitem(last=False)
    return _PREPARED[key]


def source_identity(spec: dict, split: str = "train") -> str:
    """:func:`~goldilocks_core.experiments.identity.data_identity` of the data set ``spec`` draws
    from (``dataset``, ``image_size``, ``pad_to``, ``data_options``), before the balanced subset, which is a
    function of it, ``num_samples`` and the seed. Remembered per source for the session, like the
    prepared split itself (:func:`build_data`)."""
    key = _source_key(spec, split)
    if key not in _SOURCE_IDS:
        _SOURCE_IDS[key] = data_identity(_load_source(spec, split))
    return _SOURCE_IDS[key]


def build_model(spec: dict, *, in_shape: tuple[int, ...], num_classes: int, seed: int = 0,
                dtype=torch.float64, device="cpu") -> nn.Module:
    """A Kaiming-initialised bias-free network for ``spec["arch"]`` (seeded).

    ``spec["activation"]`` (optional): ``"relu"`` (default) or ``"tanh"``.
    """
    arch = spec.get("arch")
    act = spec.get("activation", "relu")
    g = torch.Generator().manual_seed(seed)
    if arch == "mlp":
        widths = list(spec.get("widths") or [int(torch.tensor(in_shape).prod()), 300, 100, num_classes])
        net = models.mlp(widths, generator=g, dtype=dtype, activation=act)
    elif arch == "lenet_300_100":
        net = models.lenet_300_100(int(torch.tensor(in_shape).prod()), num_classes, generator=g, dtype=dtype,
                                   activation=act)
    elif arch == "lenet5":
        if len(in_shape) != 3:
            raise ValueError(f"lenet5 needs image inputs C×H×W, got sample shape {in_shape}")
        net = models.lenet5(in_shape[0], in_shape[-1], num_classes, generator=g, dtype=dtype, activation=act)
    else:
        raise ValueError(f"unknown arch {arch!r}; known: {', '.join(ARCHS)}")
    return net.to(device)


def build(spec: dict, *, seed: int = 0, dtype=torch.float64, device="cpu", split: str = "train") -> Setting:
    """Model (initialised with ``seed``) and data for one profile entry."""
    ds = build_data(spec, split=split, seed=seed, dtype=dtype, device=device)
    net = build_model(spec, in_shape=tuple(ds.inputs.shape[1:]), num_classes=ds.num_classes,
                      seed=seed, dtype=dtype, device=device)
    return Setting(spec.get("name", spec.get("arch", "model")), net, ds.inputs, ds.targets, ds.num_classes)


# ------------------------------------------------------------------ the drivers' settings
def required(cfg: Mapping[str, Any], key: str):
    """``cfg[key]``, or a one-line ``ValueError`` naming the missing setting."""
    try:
        return cfg[key]
    except KeyError:
        raise ValueError(f"the settings have no {key!r}") from None


def device_and_dtype(device) -> tuple[torch.device, torch.dtype]:
    """The resolved device (``"auto"`` → CUDA if present) and its default dtype (float64 on CPU)."""
    dev = resolve_device(device)
    return dev, default_dtype(dev)


def seeds(cfg: Mapping[str, Any]) -> list[int]:
    """The seeds of a driver: ``cfg.seed``, ``cfg.seed + 1``, … (``cfg.num_seeds`` of them)."""
    base = int(cfg.get("seed", 0))
    return [base + s for s in range(check_count("num_seeds", required(cfg, "num_seeds")))]


def show_progress(cfg: Mapping[str, Any]) -> bool:
    """Whether a driver draws progress bars (``cfg.progress``, default on; off under TQDM_DISABLE)."""
    return bool(cfg.get("progress", True))


def use_cache(cfg: Mapping[str, Any]) -> bool:
    """Whether a driver stores its results in the results cache (``cfg.cache``, default off)."""
    return bool(cfg.get("cache", False))
