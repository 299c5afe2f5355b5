"""Execute the book's chapters with papermill and build the static HTML with Jupyter Book.

The committed notebooks under ``book/`` are never overwritten unless asked
(``in_place=True``): chapters are executed as copies in an output folder, which is
then built into HTML. This module backs ``goldilocks book`` and ``make book``.
"""
from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from .profiles import PROFILE_NAMES
from .progress import progress_enabled

__all__ = ["project_root", "toc_files", "chapters", "execute", "build_html", "build"]

_BOOK_FILES = ("_config.yml", "_toc.yml")


def project_root(start: Path | None = None) -> Path:
    """The folder holding ``_toc.yml``: searched upwards from ``start`` (default: cwd)."""
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "_toc.yml").is_file() and (folder / "_config.yml").is_file():
            return folder
    raise FileNotFoundError(f"no _toc.yml/_config.yml found in {here} or its parents: run from the book's checkout")


def toc_files(root: Path) -> list[str]:
    """Every document named in ``_toc.yml`` (paths without suffix, as the toc writes them)."""
    toc = yaml.safe_load((root / "_toc.yml").read_text())
    found: list[str] = []

    def walk(node):
        if isinstance(node, dict):
            for key in ("root", "file"):
                if key in node:
                    found.append(str(node[key]))
            for value in node.values():
                if isinstance(value, (list, dict)):
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(toc)
    return found


def chapters(root: Path, names: list[str] | None = None) -> list[Path]:
    """The notebooks (``.ipynb``) of ``_toc.yml``, relative to ``root``, optionally filtered.

    A name matches a chapter by its path (``book/02_preliminaries``) or its stem
    (``02_preliminaries``) or any unique substring of the stem (``preliminaries``).
    """
    notebooks = [Path(f + ".ipynb") for f in toc_files(root) if (root / (f + ".ipynb")).is_file()]
    if not names:
        return notebooks
    chosen = []
    for name in names:
        key = name.removesuffix(".ipynb")
        hits = [nb for nb in notebooks if key in (str(nb.with_suffix("")), nb.stem) or key in nb.stem]
        if len(hits) != 1:
            known = ", ".join(nb.stem for nb in notebooks)
            raise ValueError(f"chapter {name!r} matches {len(hits)} notebooks; known: {known}")
        chosen.extend(hits)
    return chosen


def _copy_sources(root: Path, out: Path) -> None:
    """Copy the book's sources (config, toc, ``book/``) into ``out`` for execution."""
    out.mkdir(parents=True, exist_ok=True)
    for name in _BOOK_FILES:
        shutil.copy2(root / name, out / name)
    shutil.copytree(root / "book", out / "book", dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns(".ipynb_checkpoints", "_build"))


def _changed_parameters(notebook: Path, params: dict) -> dict:
    """The parameters that differ from the notebook's own defaults (papermill injects a cell
    only when there are any, so a quick-profile run leaves the notebook's cells as they are)."""
    import papermill

    defaults = {}
    for name, info in papermill.inspect_notebook(str(notebook)).items():
        try:
            defaults[name] = ast.literal_eval(info["default"])
        except (ValueError, SyntaxError):
            pass  # an expression: always pass the parameter explicitly
    return {k: v for k, v in params.items() if k not in defaults or defaults[k] != v}


def execute(
    notebooks: list[Path],
    src: Path,
    dst: Path,
    *,
    profile: str = "quick",
    device: str = "auto",
    seed: int | None = None,
    kernel: str | None = None,
    parameters: dict | None = None,
) -> None:
    """Run each notebook of ``src`` with papermill, writing the executed copy under ``dst``."""
    import papermill

    if profile not in PROFILE_NAMES:
        raise ValueError(f"unknown profile {profile!r}; choose one of: {', '.join(PROFILE_NAMES)}")
    params = {"profile": profile, "device": device, **(parameters or {})}
    if seed is not None:
        params["seed"] = seed
    progress = progress_enabled()
    for i, nb in enumerate(notebooks, 1):
        print(f"[{i}/{len(notebooks)}] executing {nb} (profile={profile}, device={device})", flush=True)
        target = dst / nb
        target.parent.mkdir(parents=True, exist_ok=True)
        papermill.execute_notebook(
            str(src / nb),
            str(target),
            parameters=_changed_parameters(src / nb, params),
            kernel_name=kernel,
            cwd=str(target.parent),
            progress_bar=progress,
        )


def build_html(source: Path, output: Path) -> Path:
    """``jupyter-book build`` with ``-W -n --keep-going``: any warning fails the build."""
    cmd = [
        sys.executable, "-c", "from jupyter_book.cli.main import main; main()", "build", str(source),
        "--path-output", str(output), "-W", "-n", "--keep-going",
    ]
    print("building HTML: jupyter-book", " ".join(cmd[3:]), flush=True)
    done = subprocess.run(cmd)
    if done.returncode != 0:
        raise RuntimeError(f"jupyter-book build failed (exit {done.returncode}); see the warnings above")
    return output / "_build" / "html"


def build(
    *,
    profile: str = "quick",
    device: str = "auto",
    seed: int | None = None,
    chapter_names: list[str] | None = None,
    kernel: str | None = None,
    out: Path | str = "_build/executed",
    in_place: bool = False,
    html: bool = True,
    root: Path | None = None,
) -> Path | None:
    """Execute chapters as copies in ``out`` (or in place) and build the HTML book.

    Returns the folder holding ``index.html`` (``<root>/_build/html``), or ``None``
    with ``html=False``.
    """
    from .devices import resolve_device

    resolve_device(device)  # fail early, with one clear line, on CUDA without a GPU
    root = project_root(root)
    notebooks = chapters(root, chapter_names)
    if in_place:
        source = root
    else:
        source = Path(out).resolve()
        _copy_sources(root, source)
    execute(notebooks, root, source, profile=profile, device=device, seed=seed, kernel=kernel)
    if not html:
        return None
    return build_html(source, root)
