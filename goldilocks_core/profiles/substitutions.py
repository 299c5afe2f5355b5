"""The data-substitution table at the top of a chapter: the paper's setting against what the page
runs under the current profile (CHAPTERS.md, "Data substitutions")."""
from __future__ import annotations

import pandas as pd

from . import settings
from ._base import ChapterSettings

__all__ = ["substitution_table"]


def _data(spec: dict) -> str:
    n = spec.get("num_samples")
    return f"{spec['name']}, " + ("full training set" if n is None else f"N = {n:,}")


def substitution_table(cfg: ChapterSettings) -> pd.DataFrame:
    """One row per model of the paper's profile: its network and data against the model at the
    same position in ``cfg.models``, and whether they differ.

    Parameters
    ----------
    cfg : ChapterSettings
        A chapter's settings with a ``models`` field (any profile).

    Returns
    -------
    pandas.DataFrame
        Columns ``paper`` (network, data), ``this page`` (network, data under ``cfg.profile``) and
        ``substituted`` ("no", "fewer samples", "data set", "network", or "left out" for a paper
        model this profile does not run).
    """
    if "models" not in cfg.field_names():
        raise ValueError(f"chapter {cfg.chapter!r} has no models to compare")
    paper = settings(cfg.chapter, "paper").models
    rows = []
    for i, spec in enumerate(cfg.models):
        ref = paper[i] if i < len(paper) else None
        here = _data(spec)
        if ref is None:
            rows.append({"paper": "—", "this page": here, "substituted": "added"})
            continue
        what = []
        if ref["arch"] != spec["arch"] or ref.get("widths") != spec.get("widths"):
            what.append("network")
        if (ref["dataset"], ref.get("pad_to"), ref.get("image_size")) != (
                spec["dataset"], spec.get("pad_to"), spec.get("image_size")):
            what.append("data set")
        elif ref.get("num_samples") != spec.get("num_samples"):
            what.append("fewer samples")
        rows.append({"paper": _data(ref), "this page": here,
                     "substituted": ", ".join(what) or "no"})
    for ref in paper[len(cfg.models):]:
        rows.append({"paper": _data(ref), "this page": "not run", "substituted": "left out"})
    return pd.DataFrame(rows, index=pd.RangeIndex(1, len(rows) + 1, name=f"profile {cfg.profile}"))
