"""Settings of every chapter as typed objects: the paper's values are the defaults, and a
profile is a small set of overrides.

* ``paper`` — the paper's datasets, grids and sizes (the dataclass defaults), for a CUDA device;
* ``quick`` — the paper's own models on real Fashion-MNIST at sizes a 2-core CPU runs in
  minutes (what the committed outputs show and CI re-executes);
* ``offline`` — scikit-learn's digits and synthetic sets: no download at all;
* a TOML file of your own (``goldilocks book --profile my-gpu.toml``), see :func:`load_profile`.

A chapter's papermill ``parameters`` cell names a profile; :func:`settings` returns that
chapter's settings with explicit parameters overriding them::

    cfg = settings("zone", profile, device=device, seed=seed)
    cfg.alphas, cfg["num_seeds"]  # attribute or mapping access

Parameters passed as ``None`` mean "use the profile's value"; an unknown name is an error.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from ._base import ChapterSettings, SweepSettings
from .appendix_a import AppendixA
from .appendix_b import AppendixB
from .appendix_c import AppendixC
from .appendix_d import AppendixD
from .appendix_e import AppendixE
from .features import Features
from .fort_ganguli import FortGanguli
from .fort_scherlis import FortScherlis
from .kalra_barkeshli import KalraBarkeshli
from .optimization import Optimization
from .preliminaries import Preliminaries
from .revisiting import Revisiting
from .zone import Zone

__all__ = ["PROFILE_NAMES", "CHAPTERS", "ChapterSettings", "SweepSettings", "settings", "load_profile", "check_profile"]

PROFILE_NAMES = ("quick", "offline", "paper")

_CLASSES: dict[str, type[ChapterSettings]] = {
    cls.chapter: cls
    for cls in (Preliminaries, Zone, Revisiting, Features, Optimization, AppendixA, AppendixB, AppendixC,
                AppendixD, AppendixE, FortGanguli, FortScherlis, KalraBarkeshli)
}
CHAPTERS = tuple(_CLASSES)


def load_profile(path: str | Path) -> dict[str, Any]:
    """A profile file: TOML with an optional ``base`` profile and one table per chapter.

    ::

        base = "paper"            # quick, offline or paper (default: paper)
        [all]                     # applies to every chapter
        device = "cuda"
        [zone]
        num_seeds = 5

    Returns ``{"base": ..., "all": {...}, "<chapter>": {...}}``; unknown chapters or a base
    that is not a built-in profile raise ``ValueError``.
    """
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib

    path = Path(path)
    try:
        content = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ValueError(f"profile file {path} does not exist") from None
    except tomllib.TOMLDecodeError as err:
        raise ValueError(f"profile file {path} is not valid TOML: {err}") from None
    base = content.pop("base", "paper")
    if base not in PROFILE_NAMES:
        raise ValueError(f"profile file {path}: base must be one of {', '.join(PROFILE_NAMES)}, got {base!r}")
    for key, value in content.items():
        if key != "all" and key not in _CLASSES:
            raise ValueError(f"profile file {path}: unknown chapter table [{key}]; known: {', '.join(CHAPTERS)}")
        if not isinstance(value, dict):
            raise ValueError(f"profile file {path}: {key} must be a table")
    return {"base": base, **content}


def check_profile(profile: str) -> str:
    """``profile`` itself when it names a built-in profile or a readable profile file."""
    if profile in PROFILE_NAMES:
        return profile
    if str(profile).endswith(".toml"):
        load_profile(profile)
        return str(Path(profile).resolve())
    raise ValueError(f"unknown profile {profile!r}; choose one of: {', '.join(PROFILE_NAMES)} or a .toml file")


def settings(chapter: str, profile: str = "quick", **overrides: Any) -> ChapterSettings:
    """The settings of ``chapter`` under ``profile`` (a name or a ``.toml`` file), with the
    non-``None`` ``overrides`` applied. ``ValueError`` for an unknown chapter, profile or key."""
    if chapter not in _CLASSES:
        raise ValueError(f"unknown chapter {chapter!r}; known: {', '.join(sorted(_CLASSES))}")
    cls = _CLASSES[chapter]
    check_profile(profile)
    if profile in PROFILE_NAMES:
        values = dict(cls.profiles.get(profile, {}))
        name = profile
    else:
        spec = load_profile(profile)
        values = {**cls.profiles.get(spec["base"], {}), **spec.get("all", {}), **spec.get(chapter, {})}
        name = Path(profile).stem
    values.update({k: v for k, v in overrides.items() if v is not None})
    return cls.build(profile=name, **values)
