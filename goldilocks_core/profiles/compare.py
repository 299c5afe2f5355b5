"""What a profile runs against what the paper runs: the data-substitution table at the top of a
chapter (``../shared/CHAPTERS.md``, "Data substitutions")."""
from __future__ import annotations

from typing import Sequence

__all__ = ["substitutions"]

_MODEL_KEYS = ("arch", "dataset", "pad_to", "image_size", "num_samples")


def _describe(spec: dict) -> str:
    parts = [spec.get("name", spec.get("arch", "?")).split(",")[0]]
    data = str(spec.get("dataset", "?"))
    size = spec.get("pad_to") or spec.get("image_size")
    parts.append(f"{data} {size}×{size}" if size else data)
    n = spec.get("num_samples")
    parts.append("all samples" if n is None else f"N = {n:,d}")
    return ", ".join(parts)


def substitutions(chapter: str, profile: str, fields: Sequence[str] = ()):
    """A DataFrame with one row per setting: the paper's value, this profile's, and whether it
    was replaced. Row ``model`` describes network, data set and N; ``fields`` adds other settings.

    Parameters
    ----------
    chapter, profile : str
        As for :func:`goldilocks_core.profiles.settings`.
    fields : sequence of str
        Further settings to compare (e.g. ``"alphas"``, ``"num_probes"``).
    """
    import pandas as pd

    from . import settings

    paper, here = settings(chapter, "paper"), settings(chapter, profile)
    rows = []
    if "model" in paper.field_names():
        same = all(paper.model.get(k) == here.model.get(k) for k in _MODEL_KEYS)
        rows.append(("model", _describe(paper.model), _describe(here.model), "same" if same else "replaced"))
    for name in fields:
        if name not in paper.field_names():
            raise ValueError(f"{chapter} has no setting {name!r}")
        a, b = paper[name], here[name]
        rows.append((name, str(a), str(b), "same" if a == b else "replaced"))
    return pd.DataFrame(rows, columns=["setting", "paper", f"here ({profile})", ""]).set_index("setting")
