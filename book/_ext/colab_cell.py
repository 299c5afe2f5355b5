"""The first cell of every chapter for Google Colab: install ``goldilocks_core`` there.

Colab starts from a bare Python, so a chapter opened from the book's Colab button needs the
package. The cell below installs it from the publisher's repository (the one setting of
``book/_ext/goldilocks_reader.py``: ``repository.url`` in ``_config.yml`` or
``GOLDILOCKS_REPOSITORY_URL``) when, and only when, ``google.colab`` is importable; anywhere
else (papermill, nbval, Binder, a laptop) it does nothing. It is tagged ``remove-cell``, so
the HTML book never shows it.

Insert it (or refresh its URL) in notebooks with::

    python book/_ext/colab_cell.py book/01_goldilocks_zone.ipynb ...
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from goldilocks_reader import repository_url  # noqa: E402

MARKER = "# goldilocks: install the package on Google Colab (hidden in the book)"
TAGS = ["remove-cell"]

_TEMPLATE = """{marker}
import importlib.util, subprocess, sys
if importlib.util.find_spec("google") and importlib.util.find_spec("google.colab"):
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", {spec!r}], check=True)"""


def cell_source(url: str, branch: str = "main") -> str:
    """The Colab cell's code for the repository at ``url``.

    Parameters
    ----------
    url : str
        The repository, e.g. ``https://github.com/<owner>/<repo>``.
    branch : str
        The branch pip installs from.

    Returns
    -------
    str
        Code that runs ``pip install git+<url>@<branch>`` when ``google.colab`` is
        importable and does nothing otherwise.
    """
    url = url.strip().rstrip("/")
    if not url.startswith(("https://", "http://")):
        raise ValueError(f"the repository URL must start with https://, got {url!r}")
    return _TEMPLATE.format(marker=MARKER, spec=f"git+{url}@{branch}")


def insert_cell(notebook: dict, url: str, branch: str = "main") -> bool:
    """Put the Colab cell first in ``notebook`` (a notebook's JSON), or refresh it there.

    Returns
    -------
    bool
        True when the notebook changed.
    """
    source = cell_source(url, branch)
    cells = notebook.setdefault("cells", [])
    existing = [c for c in cells if "".join(c.get("source", "")).startswith(MARKER)]
    cell = {"cell_type": "code", "execution_count": None, "id": "goldilocks-colab-install",
            "metadata": {"tags": list(TAGS)}, "outputs": [], "source": source.splitlines(keepends=True)}
    if existing:
        if "".join(existing[0]["source"]) == source and cells[0] is existing[0]:
            return False
        for old in existing:
            cells.remove(old)
    if notebook.get("nbformat", 4) == 4 and notebook.get("nbformat_minor", 5) < 5:
        cell.pop("id")
    cells.insert(0, cell)
    return True


def _configured_url(root: Path) -> str:
    import yaml

    config = yaml.safe_load((root / "_config.yml").read_text()) or {}
    return repository_url((config.get("repository") or {}).get("url"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--url", help="repository URL (default: _config.yml / GOLDILOCKS_REPOSITORY_URL)")
    parser.add_argument("--branch", default="main")
    args = parser.parse_args(argv)
    url = args.url or _configured_url(Path(__file__).resolve().parents[2])
    if not url:
        parser.error("no repository URL: set repository.url in _config.yml or GOLDILOCKS_REPOSITORY_URL")
    for path in args.notebooks:
        notebook = json.loads(path.read_text())
        if insert_cell(notebook, url, args.branch):
            path.write_text(json.dumps(notebook, indent=1, ensure_ascii=False) + "\n")
            print(f"{path}: Colab cell written")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
