"""The README's `make test` in an empty environment: nothing it needs comes from CI's variables."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]


def test_nbval_over_book_needs_no_tqdm_variable(tmp_path):
    """book/conftest.py turns progress bars off in the kernels nbval starts: a chapter whose
    progress bar would write to stderr still matches its committed (stderr-free) outputs."""
    shutil.copy(ROOT / "book" / "conftest.py", tmp_path / "conftest.py")
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(
        "from goldilocks_core.progress import progress_bar\nlist(progress_bar(range(3)))",
        execution_count=1,
        outputs=[nbformat.v4.new_output("execute_result", data={"text/plain": "[0, 1, 2]"},
                                        execution_count=1)])]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, tmp_path / "chapter.ipynb")
    env = {k: v for k, v in os.environ.items() if k not in ("TQDM_DISABLE", "CI")}
    env["PYTHONPATH"] = str(ROOT)
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "--nbval", "--nbval-current-env",
                           "-p", "no:cacheprovider", "--rootdir", str(tmp_path), str(tmp_path)],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:]


def test_nbval_compares_no_glued_image(tmp_path):
    """A figure glued with myst-nb is stored under papermill's record prefix; nbval skips images
    but would compare these PNGs byte for byte. book/conftest.py skips them too, and still
    compares the glued text."""
    shutil.copy(ROOT / "book" / "conftest.py", tmp_path / "conftest.py")
    record = "application/papermill.record/"
    code = ("from myst_nb import glue\nimport matplotlib\nmatplotlib.use('Agg')\n"
            "import matplotlib.pyplot as plt\nfig, ax = plt.subplots(figsize=(1, 1))\n"
            "glue('fig', fig, display=False)\nglue('n', 3, display=False)")
    stored = [nbformat.v4.new_output("display_data", data={record + "image/png": "iVBORw0KGgoAAAA=",
                                                            record + "text/plain": "<Figure size 100x100 with 1 Axes>"},
                                     metadata={"scrapbook": {"name": "fig", "mime_prefix": record}}),
              nbformat.v4.new_output("display_data", data={record + "text/plain": "3"},
                                     metadata={"scrapbook": {"name": "n", "mime_prefix": record}})]
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(code, execution_count=1, outputs=stored)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, tmp_path / "chapter.ipynb")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    args = [sys.executable, "-m", "pytest", "-q", "--nbval", "--nbval-current-env", "-p", "no:cacheprovider",
            "--nbval-sanitize-with", str(ROOT / "tests" / "nbval_sanitize.cfg"), "--rootdir", str(tmp_path),
            str(tmp_path)]
    done = subprocess.run(args, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:]
    stored[1]["data"][record + "text/plain"] = "4"  # the glued text is still compared
    nbformat.write(nb, tmp_path / "chapter.ipynb")
    done = subprocess.run(args, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode != 0


def test_ci_sets_nothing_the_makefile_needs():
    ci = (ROOT / ".ci" / "run").read_text()
    exported = [line for line in ci.splitlines() if line.lstrip().startswith("export")]
    assert not any("TQDM_DISABLE" in line or "MPLBACKEND" in line for line in exported), exported


def test_one_torch_pin():
    """pyproject states the supported range; constraints.txt pins the version the outputs used."""
    pins = [line for line in (ROOT / "constraints.txt").read_text().splitlines() if line.startswith("torch==")]
    assert len(pins) == 1 and "+" not in pins[0]
    assert "torch==2" not in (ROOT / "Makefile").read_text()  # the Makefile reads the pin from constraints


def test_constraints_install_on_debian_python():
    """Debian 12's python3.11 is 3.11.2: every pin must have a release for it (soupsieve 3+ needs
    3.11.5, so the constraints choose by python_full_version)."""
    from packaging.requirements import Requirement

    env = {"python_full_version": "3.11.2", "python_version": "3.11"}
    lines = [line.split("#")[0].strip() for line in (ROOT / "constraints.txt").read_text().splitlines()]
    reqs = [Requirement(line) for line in lines if line]
    soup = [r for r in reqs if r.name == "soupsieve" and (r.marker is None or r.marker.evaluate(env))]
    assert [str(r.specifier) for r in soup] == ["<3"]
