"""Content identities for cache keys: settings, arrays, models and data sets by what they hold.

:func:`canonical` turns a settings value into plain JSON: mappings (sorted), sequences, numbers
and strings as themselves; tensors and arrays by a SHA-256 of dtype, shape and bytes (never
their ``repr``, which NumPy and torch truncate); ``nn.Module`` s by :func:`model_identity`;
dataclasses (a :class:`~goldilocks_core.experiments.setup.Setting`, a
:class:`~goldilocks_core.data.Dataset`) field by field. Anything else is a ``TypeError``,
so a setting can never silently drop out of a key.

Hashing a tensor reads all its bytes (SHA-256 runs at about 1 GB/s); the digest of a CPU or
GPU tensor is remembered for as long as the tensor lives and is not modified in place (its
version counter), so a data set passed to many cached calls is read once.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping
from pathlib import PurePath
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.weak import WeakIdKeyDictionary

__all__ = ["canonical", "content_hash", "tensor_hash", "array_hash", "model_identity", "data_identity"]

_TENSOR_DIGESTS: WeakIdKeyDictionary = WeakIdKeyDictionary()


def _tensor_state(t: torch.Tensor):
    try:
        version = t._version
    except RuntimeError:  # inference tensors have no version counter: never remembered
        return None
    return (version, t.data_ptr(), tuple(t.shape), tuple(t.stride()), t.storage_offset(), t.dtype, t.device)


def tensor_hash(t: torch.Tensor) -> str:
    """SHA-256 (hex) of a tensor's dtype, shape and element bytes (row-major, on the CPU).

    Views and copies with equal contents hash alike; the device does not enter. Remembered
    per tensor until it is modified in place.
    """
    if not isinstance(t, torch.Tensor):
        raise TypeError(f"tensor_hash needs a torch.Tensor, got {type(t).__name__}")
    state = _tensor_state(t)
    if state is not None:
        known = _TENSOR_DIGESTS.get(t)
        if known is not None and known[0] == state:
            return known[1]
    flat = t.detach()
    if flat.layout != torch.strided:
        flat = flat.to_dense()
    flat = flat.resolve_conj().resolve_neg().cpu().contiguous().reshape(-1)
    digest = hashlib.sha256(f"tensor|{flat.dtype}|{tuple(t.shape)}|".encode())
    if flat.numel():
        digest.update(memoryview(flat.view(torch.uint8).numpy()))
    out = digest.hexdigest()
    if state is not None:
        _TENSOR_DIGESTS[t] = (state, out)
    return out


def array_hash(a: np.ndarray) -> str:
    """SHA-256 (hex) of a NumPy array's dtype, shape and bytes (C order); object arrays by value."""
    a = np.asarray(a)
    digest = hashlib.sha256(f"ndarray|{a.dtype.str}|{a.dtype.descr}|{a.shape}|".encode())
    if a.dtype.hasobject:
        digest.update(json.dumps(canonical(a.tolist()), sort_keys=True).encode())
    elif a.size:
        digest.update(memoryview(np.ascontiguousarray(a)).cast("B"))
    return digest.hexdigest()


def model_identity(model: nn.Module) -> str:
    """SHA-256 (hex) of a network: its class, ``str(model)``, train/eval flags and every
    ``state_dict`` tensor (parameters and buffers) by content."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model_identity needs an nn.Module, got {type(model).__name__}")
    digest = hashlib.sha256(f"{type(model).__module__}.{type(model).__qualname__}|{model}|".encode())
    digest.update(bytes(int(m.training) for m in model.modules()))
    for name, value in model.state_dict().items():
        digest.update(f"|{name}=".encode())
        digest.update(json.dumps(canonical(value), sort_keys=True).encode())
    return digest.hexdigest()


def data_identity(data: Any) -> str:
    """SHA-256 (hex) of a data set's contents: ``inputs``, ``targets`` and ``num_classes`` of a
    :class:`~goldilocks_core.data.Dataset` or :class:`~goldilocks_core.experiments.setup.Setting`,
    else of whatever tensors / arrays / structure ``data`` is (:func:`content_hash`)."""
    if all(hasattr(data, a) for a in ("inputs", "targets", "num_classes")):
        data = {"inputs": data.inputs, "targets": data.targets, "num_classes": int(data.num_classes)}
    return content_hash(data)


def canonical(value: Any) -> Any:
    """Plain-JSON form of a settings value (see the module docstring); ``TypeError`` when unknown."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return ["float", repr(float(value))]
    if isinstance(value, (complex, np.complexfloating)):
        return ["complex", repr(complex(value))]
    if isinstance(value, torch.Tensor):
        return ["tensor", tensor_hash(value)]
    if isinstance(value, np.ndarray):
        return ["ndarray", array_hash(value)]
    if isinstance(value, nn.Module):
        return ["module", model_identity(value)]
    if isinstance(value, Mapping):
        items = [(canonical(k), canonical(v)) for k, v in value.items()]
        return ["map", sorted(items, key=lambda kv: json.dumps(kv[0], sort_keys=True))]
    if isinstance(value, (list, tuple)):
        return [canonical(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return ["set", sorted((canonical(v) for v in value), key=lambda v: json.dumps(v, sort_keys=True))]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
        return ["dataclass", f"{type(value).__module__}.{type(value).__qualname__}", canonical(fields)]
    if isinstance(value, (torch.dtype, torch.device, PurePath)):
        return [type(value).__name__, str(value)]
    if isinstance(value, np.dtype):
        return ["np.dtype", value.str]
    raise TypeError(f"cannot key a cached result on a {type(value).__module__}.{type(value).__qualname__}; "
                    "pass numbers, strings, lists, dicts, arrays, tensors, modules or dataclasses")


def content_hash(value: Any) -> str:
    """SHA-256 (hex) of :func:`canonical` ``(value)``: equal for equal contents, whatever the repr."""
    return hashlib.sha256(json.dumps(canonical(value), sort_keys=True).encode()).hexdigest()
