"""Running a chapter from the page: the Binder environment and the Colab first cell.

The services themselves are out of reach here, so their files are tested: Binder's
environment is CPU-only and covers the package's dependencies; the Colab cell installs the
package only where ``google.colab`` is importable and does nothing in a fresh virtual
environment; without a repository URL the book shows no launch button (book/_ext).
"""
from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
import tomllib
import venv
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "book" / "_ext" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


colab_cell = _load("colab_cell")
reader = _load("goldilocks_reader")
URL = "https://github.com/example-owner/example-repo"

# conda-forge names of the package's PyPI dependencies
CONDA_NAMES = {"torch": "pytorch-cpu", "pyyaml": "pyyaml", "matplotlib": "matplotlib-base"}


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~;\[ ]", requirement, maxsplit=1)[0].strip().lower()


def test_binder_environment_is_cpu_only_and_complete():
    env = yaml.safe_load((ROOT / "binder" / "environment.yml").read_text())
    assert env["channels"] == ["conda-forge"]
    deps = [d for d in env["dependencies"] if isinstance(d, str)]
    names = {_name(d) for d in deps}
    assert "pytorch-cpu" in names
    assert not [d for d in deps if re.search(r"cuda|gpu|nvidia", d, re.I)], deps
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    needed = {CONDA_NAMES.get(_name(r), _name(r)) for r in project["dependencies"] if "python_version" not in r}
    assert needed <= names, f"missing from binder/environment.yml: {sorted(needed - names)}"
    assert {"papermill", "ipykernel"} <= names
    post = (ROOT / "binder" / "postBuild").read_text()
    assert "pip install" in post and "--no-deps" in post and " -e ." in post


def _run_in(python: str, code: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([python, "-c", code], capture_output=True, text=True, timeout=60, env=env)


def test_colab_cell_does_nothing_in_a_fresh_venv(tmp_path):
    venv.EnvBuilder(with_pip=False).create(tmp_path / "venv")
    python = str(tmp_path / "venv" / "bin" / "python")
    # any call to subprocess.run (the pip install) would raise
    guard = "import subprocess\ndef _no(*a, **k): raise SystemExit('pip was called')\nsubprocess.run = _no\n"
    done = _run_in(python, guard + colab_cell.cell_source(URL), env={"PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    assert done.stdout == "" and done.stderr == ""


def test_colab_cell_installs_the_package_on_colab(tmp_path):
    (tmp_path / "google" / "colab").mkdir(parents=True)
    (tmp_path / "google" / "colab" / "__init__.py").write_text("")
    record = "import subprocess\nsubprocess.run = lambda args, **k: print(' '.join(args[1:]))\n"
    done = _run_in(sys.executable, record + colab_cell.cell_source(URL),
                   env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"-m pip install -q git+{URL}@main"


def test_insert_cell_is_first_hidden_and_idempotent():
    notebook = {"nbformat": 4, "nbformat_minor": 5, "cells": [{"cell_type": "markdown", "source": "# A"}]}
    assert colab_cell.insert_cell(notebook, URL)
    first = notebook["cells"][0]
    assert first["metadata"]["tags"] == ["remove-cell"] and "google.colab" in "".join(first["source"])
    assert not colab_cell.insert_cell(json.loads(json.dumps(notebook)), URL)
    assert colab_cell.insert_cell(notebook, URL + "2") and len(notebook["cells"]) == 2
    with pytest.raises(ValueError, match="https://"):
        colab_cell.cell_source("github.com/x/y")


def test_repository_url_is_one_setting(monkeypatch):
    monkeypatch.delenv(reader.REPOSITORY_ENV, raising=False)
    assert reader.repository_url("") == ""
    assert reader.repository_url(URL + "/") == URL
    monkeypatch.setenv(reader.REPOSITORY_ENV, URL)
    assert reader.repository_url("") == URL
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    assert config["repository"]["url"] == "", "the default book has no repository (no launch buttons)"


class _Config:
    def __init__(self, options):
        self.html_theme_options = options


@pytest.mark.parametrize("url", ["", URL])
def test_buttons_follow_the_repository_url(url, monkeypatch):
    monkeypatch.setenv(reader.REPOSITORY_ENV, url)
    launch = {"binderhub_url": "https://mybinder.org", "colab_url": "https://colab.research.google.com"}
    config = _Config({"repository_url": "", "launch_buttons": dict(launch), "use_repository_button": False})
    reader._configure_buttons(None, config)
    options = config.html_theme_options
    assert options["use_repository_button"] is bool(url)
    assert options["launch_buttons"] == (launch if url else {})
    assert options.get("repository_url", "") == url


def test_plain_titles():
    title = 'Appendix B: Eigenvalues of <span class="math notranslate nohighlight">\\(\\E G_*\\)</span>'
    assert reader.plain_title(title) == "Appendix B: Eigenvalues of E G*"
    assert reader.plain_title("$\\Gamma_p$ from the entries of $p$") == "Γp from the entries of p"
    assert reader.plain_title("The limiting behaviour of \\(\\diag(p) - pp^\\top\\)") == \
        "The limiting behaviour of diag(p) - ppᵀ"


@pytest.mark.parametrize("url", ["", URL])
def test_the_book_config_gives_buttons_only_with_a_url(url, monkeypatch):
    """_config.yml through Jupyter Book's own conversion, then the extension's hook."""
    jb_config = pytest.importorskip("jupyter_book.config")
    monkeypatch.setenv(reader.REPOSITORY_ENV, url)
    sphinx_config, _ = jb_config.get_final_config(
        user_yaml=ROOT / "_config.yml", cli_config={"latex_individualpages": False}, sourcedir=ROOT)
    config = _Config(sphinx_config["html_theme_options"])
    reader._configure_buttons(None, config)
    options = config.html_theme_options
    assert options["use_repository_button"] is bool(url)
    assert bool(options["launch_buttons"].get("binderhub_url")) is bool(url)
    assert bool(options["launch_buttons"].get("colab_url")) is bool(url)
    assert "goldilocks_reader" in sphinx_config["extensions"]
