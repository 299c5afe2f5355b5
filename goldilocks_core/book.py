"""Execute the book's chapters with papermill and build the static HTML with Jupyter Book.

The committed notebooks under ``book/`` are never overwritten unless asked
(``in_place=True``): chapters are executed as copies in an output folder, which is
then built into HTML. This module backs ``goldilocks book`` and ``make book``.
"""
from __future__ import annotations

import ast
import contextlib
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import yaml

from .profiles import check_profile
from .progress import progress_enabled

__all__ = ["project_root", "toc_files", "chapters", "execute", "build_html", "build", "ChapterFailed"]

_BOOK_FILES = ("_config.yml", "_toc.yml")
_PARTIAL = Path("_build") / "partial"  # where a chapter executes before it replaces its target


class ChapterFailed(RuntimeError):
    """A chapter raised while executing: names it, the failing cell and the partial notebook."""


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


@contextlib.contextmanager
def _quiet_kernels():
    """Kernels started inside inherit ``TQDM_DISABLE=1``: executed notebooks carry no progress
    bars (they write to stderr, which nbval would compare), whatever the caller's environment."""
    before = os.environ.get("TQDM_DISABLE")
    os.environ["TQDM_DISABLE"] = "1"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("TQDM_DISABLE", None)
        else:
            os.environ["TQDM_DISABLE"] = before


@contextlib.contextmanager
def _sigterm_as_interrupt():
    """SIGTERM raises KeyboardInterrupt, so papermill shuts its kernel down as on Ctrl-C."""
    def handler(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def check_kernel(kernel: str | None) -> None:
    """Fail in one line when ``kernel`` is not an installed Jupyter kernel."""
    if kernel is None:
        return
    from jupyter_client.kernelspec import KernelSpecManager

    known = KernelSpecManager().find_kernel_specs()
    if kernel not in known:
        raise ValueError(f"unknown Jupyter kernel {kernel!r}; installed: {', '.join(sorted(known))}")


def _execute_one(source: Path, target: Path, partial: Path, **kwargs) -> None:
    """Execute ``source`` into ``partial``; replace ``target`` with it only when every cell ran."""
    import papermill
    from papermill.exceptions import PapermillExecutionError

    partial.parent.mkdir(parents=True, exist_ok=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        papermill.execute_notebook(str(source), str(partial), **kwargs)
    except PapermillExecutionError as err:
        raise ChapterFailed(
            f"chapter {source.name} failed in cell {err.cell_index} (execution count {err.exec_count}): "
            f"{err.ename}: {str(err.evalue).splitlines()[0] if err.evalue else ''}; "
            f"the partial notebook is {partial}") from None
    except BaseException:
        partial.unlink(missing_ok=True)  # interrupted: nothing half-written survives
        raise
    os.replace(partial, target)


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
    partial_dir: Path | None = None,
) -> None:
    """Run each notebook of ``src`` with papermill, writing the executed copy under ``dst``.

    A chapter executes into ``partial_dir`` (default ``<src>/_build/partial``) and replaces its
    copy under ``dst`` only when all its cells ran: an error, Ctrl-C or SIGTERM leaves the
    previous file (for ``dst == src``, the committed notebook) untouched and shuts the kernel
    down. A failing chapter raises :class:`ChapterFailed` naming the cell and the partial file.
    """
    profile = check_profile(profile)
    check_kernel(kernel)
    params = {"profile": profile, "device": device, **(parameters or {})}
    if seed is not None:
        params["seed"] = seed
    progress = progress_enabled()
    partial_dir = Path(partial_dir) if partial_dir is not None else src / _PARTIAL
    with _quiet_kernels(), _sigterm_as_interrupt():
        for i, nb in enumerate(notebooks, 1):
            print(f"[{i}/{len(notebooks)}] executing {nb} (profile={profile}, device={device})", flush=True)
            target = dst / nb
            _execute_one(
                src / nb, target, partial_dir / nb,
                parameters=_changed_parameters(src / nb, params), kernel_name=kernel,
                cwd=str(target.parent), progress_bar=progress,
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
    check_kernel(kernel)
    if in_place:
        source = root
    else:
        source = _output_folder(root, out)
        _copy_sources(root, source)
    execute(notebooks, root, source, profile=profile, device=device, seed=seed, kernel=kernel,
            partial_dir=root / _PARTIAL)
    if not html:
        return None
    return build_html(source, root)


def _output_folder(root: Path, out: Path | str) -> Path:
    """``out`` resolved, refusing the checkout itself and anything inside ``book/``."""
    folder = Path(out).resolve()
    book = (root / "book").resolve()
    if folder == root.resolve():
        raise ValueError(f"--out {out} is the checkout itself; use --in-place to refresh the committed notebooks")
    if folder == book or book in folder.parents:
        raise ValueError(f"--out {out} is inside book/, where nbval and the book build would collect the copies; "
                         "choose a folder outside book/ (default: _build/executed)")
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"--out {out} exists and is not a folder")
    return folder
