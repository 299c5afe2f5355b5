"""The data-substitution table at the top of a chapter: the paper's setting against what the page
runs under the current profile (CHAPTERS.md, "Data substitutions"). One builder for every chapter.

The paper's side is always read from the chapter's ``paper`` profile (the dataclass defaults),
never typed in, so the table cannot drift from the settings the code runs.
"""
from __future__ import annotations

import numbers
from collections.abc import Mapping, Sequence

import pandas as pd

from . import settings
from ._base import ChapterSettings

__all__ = ["substitution_table", "describe_model", "describe_value"]

_DATASETS = {"fashion_mnist": "Fashion-MNIST", "cifar10": "CIFAR-10", "svhn": "SVHN", "digits": "digits (8×8)",
             "mnist": "MNIST", "gaussian": "Gaussian images", "two_moons": "two moons", "blobs": "Gaussian blobs"}


def _is_model(value) -> bool:
    return isinstance(value, Mapping) and "dataset" in value


def _is_models(value) -> bool:
    return isinstance(value, (tuple, list)) and len(value) > 0 and all(_is_model(v) for v in value)


def _dataset(spec: Mapping) -> str:
    label = spec.get("label") or _DATASETS.get(spec.get("dataset"), str(spec.get("dataset")))
    if spec.get("pad_to"):
        label += f" padded to {spec['pad_to']}×{spec['pad_to']}"
    elif spec.get("image_size"):
        label += f" at {spec['image_size']}×{spec['image_size']}"
    return label


def describe_model(spec: Mapping) -> str:
    """"LeNet-5 on Fashion-MNIST padded to 32×32, N = 1,000" for a model spec (a data-set spec
    without ``arch`` gives only its data)."""
    n = spec.get("num_samples")
    data = _dataset(spec) + (", all samples" if n is None else f", N = {n:,}")
    if "arch" not in spec:
        return data
    return f"{str(spec.get('name', spec['arch'])).split(',')[0]} on {data}"


def describe_value(value) -> str:
    """A setting in a few words: model specs described, long grids summarised by count and range."""
    if _is_model(value):
        return describe_model(value)
    if _is_models(value):
        return "; ".join(describe_model(v) for v in value)
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return str(value)
    if isinstance(value, numbers.Integral):
        return f"{value:,}"
    if isinstance(value, numbers.Real):
        return f"{value:g}"
    if isinstance(value, (tuple, list)):
        if len(value) > 4 and all(isinstance(v, numbers.Real) for v in value):
            return f"{len(value)} values, {min(value):g} to {max(value):g}"
        return ", ".join(describe_value(v) for v in value)
    return str(value)


def _model_change(paper: Mapping, here: Mapping) -> list[str]:
    what = []
    if paper.get("arch") != here.get("arch") or paper.get("widths") != here.get("widths"):
        what.append("network")
    if (paper.get("dataset"), paper.get("pad_to"), paper.get("image_size")) != (
            here.get("dataset"), here.get("pad_to"), here.get("image_size")):
        what.append("data set")
    elif paper.get("num_samples") != here.get("num_samples"):
        what.append("fewer samples" if (here.get("num_samples") or 0) < (paper.get("num_samples") or 1e18)
                    else "more samples")
    return what


def _change(paper, here) -> list[str]:
    if _is_model(paper) and _is_model(here):
        return _model_change(paper, here)
    if _is_models(paper) and _is_models(here):
        what = [w for p, h in zip(paper, here) for w in _model_change(p, h)]
        if len(paper) > len(here):
            what.append("left out")
        elif len(here) > len(paper):
            what.append("added")
        return what
    return [] if paper == here else ["sizes" if _is_sizes(paper, here) else "changed"]


def _is_sizes(paper, here) -> bool:
    """A count or a grid that the profile changed (a learning rate or a flag is just "changed")."""
    def count(v):
        return isinstance(v, numbers.Integral) and not isinstance(v, bool)
    if count(paper) and count(here):
        return True
    return isinstance(paper, (tuple, list)) and isinstance(here, (tuple, list))


def _value(cfg: ChapterSettings, key: str):
    """``cfg[key]``, with ``"models[1]"`` selecting one entry of a sequence."""
    name, _, index = key.partition("[")
    if name not in cfg.field_names():
        raise ValueError(f"chapter {cfg.chapter!r} has no setting {name!r}")
    value = cfg[name]
    if index:
        i = int(index.rstrip("]"))
        value = value[i] if i < len(value) else None
    return value


def _default_rows(paper: ChapterSettings, here: ChapterSettings) -> dict[str, list[str]]:
    rows: dict[str, list[str]] = {}
    for name in paper.field_names():
        value = paper[name]
        if _is_model(value):
            rows[name] = [name]
        elif _is_models(value):
            count = max(len(value), len(here[name]))
            for i in range(count):
                rows[f"{name}[{i}]" if count > 1 else name] = [f"{name}[{i}]" if count > 1 else name]
    return rows


def substitution_table(cfg: ChapterSettings, rows: Mapping[str, str | Sequence[str]] | None = None
                       ) -> pd.DataFrame:
    """The paper's setting against this page's, one row per figure or model.

    Parameters
    ----------
    cfg : ChapterSettings
        A chapter's settings under any profile; the paper's side comes from the same chapter's
        ``paper`` profile.
    rows : mapping, optional
        Row label → the setting names that define it (``"models[0]"`` picks one model of a
        sequence), e.g. ``{"Fig. 2 (top)": "models[0]", "Fig. 4 left": ["dims", "dims_num_samples"]}``.
        Default: one row per model-valued setting.

    Returns
    -------
    pandas.DataFrame
        Index: the row labels; columns ``paper``, ``this page`` ("as in the paper" where every
        setting of the row agrees) and ``substituted`` ("no", or what changed: "network",
        "data set", "fewer samples", "sizes" (counts and grids), "changed", "left out", "added").
    """
    paper = settings(cfg.chapter, "paper")
    rows = _default_rows(paper, cfg) if rows is None else dict(rows)
    if not rows:
        raise ValueError(f"chapter {cfg.chapter!r} has no model settings: name the rows to compare")
    out = []
    for label, keys in rows.items():
        keys = [keys] if isinstance(keys, str) else list(keys)
        theirs = [_value(paper, k) for k in keys]
        mine = [_value(cfg, k) for k in keys]
        if len(keys) == 1 and (theirs[0] is None or mine[0] is None):
            missing = theirs[0] is None
            out.append({"": label, "paper": "—" if missing else describe_value(theirs[0]),
                        "this page": describe_value(mine[0]) if missing else "not run",
                        "substituted": "added" if missing else "left out"})
            continue
        changes = list(dict.fromkeys(w for p, h in zip(theirs, mine) for w in _change(p, h)))

        def text(values, other):
            parts = []
            for k, v, o in zip(keys, values, other):
                shown = describe_value(v)
                parts.append(shown if _is_model(v) or _is_models(v) else f"{k.split('[')[0]} = {shown}")
            return "; ".join(parts)

        out.append({"": label, "paper": text(theirs, mine),
                    "this page": "as in the paper" if not changes else text(mine, theirs),
                    "substituted": ", ".join(changes) or "no"})
    return pd.DataFrame(out).set_index("").rename_axis(f"profile {cfg.profile}")
