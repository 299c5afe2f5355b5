import subprocess
import sys
from pathlib import Path

import pytest

from goldilocks_core import book, experiments
from goldilocks_core.cli import main

ROOT = Path(__file__).resolve().parents[1]


def test_toc_lists_the_chapters():
    files = book.toc_files(ROOT)
    assert files[0] == "book/intro"
    notebooks = book.chapters(ROOT)
    assert notebooks and all(nb.suffix == ".ipynb" and (ROOT / nb).is_file() for nb in notebooks)


def test_chapter_selection_by_stem_and_errors():
    first = book.chapters(ROOT)[0]
    assert book.chapters(ROOT, [first.stem]) == [first]
    with pytest.raises(ValueError, match="matches 0 notebooks"):
        book.chapters(ROOT, ["no-such-chapter"])


def test_every_chapter_has_a_parameters_cell():
    import nbformat

    for nb_path in book.chapters(ROOT):
        nb = nbformat.read(ROOT / nb_path, as_version=4)
        tagged = [c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
        assert len(tagged) == 1, nb_path
        src = tagged[0].source
        for name in ("profile", "device", "seed"):
            assert f"{name} =" in src, (nb_path, name)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["book", "--profile", "quick", "--device", "cuda", "--no-html"], "no CUDA GPU"),
        (["book", "--chapters", "nope", "--no-html", "--device", "cpu"], "matches 0 notebooks"),
    ],
)
def test_cli_errors_are_one_line(argv, message, capsys):
    import torch

    if "cuda" in argv and torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("goldilocks: error:") and message in err and "\n" not in err


def test_cli_rejects_unknown_profile():
    done = subprocess.run([sys.executable, "-m", "goldilocks_core", "book", "--profile", "fast"],
                          capture_output=True, text=True)
    assert done.returncode == 2 and "unknown profile 'fast'" in done.stderr


def test_cached_reuses_and_invalidates(tmp_path):
    calls = []

    def compute():
        calls.append(1)
        return {"value": len(calls)}

    first = experiments.cached("demo", {"a": 1}, compute, directory=tmp_path)
    again = experiments.cached("demo", {"a": 1}, compute, directory=tmp_path)
    other = experiments.cached("demo", {"a": 2}, compute, directory=tmp_path)
    assert first == again == {"value": 1} and other == {"value": 2} and len(calls) == 2
    experiments.cached("demo", {"a": 1}, compute, directory=tmp_path, refresh=True)
    assert len(calls) == 3
    assert experiments.cached("demo", {"a": 1}, compute, enabled=False) == {"value": 4}


def test_cached_map_resumes_after_interruption(tmp_path):
    done = []

    def compute(x):
        if x == 3 and not done:
            done.append("interrupted")
            raise KeyboardInterrupt
        return x * x

    with pytest.raises(KeyboardInterrupt):
        experiments.cached_map("sq", {}, compute, range(5), directory=tmp_path, progress=False)
    assert len(list(tmp_path.glob("sq-*.pkl"))) == 3  # 0, 1, 2 finished and stored
    seen = []
    result = experiments.cached_map("sq", {}, lambda x: seen.append(x) or x * x, range(5),
                                    directory=tmp_path, progress=False)
    assert result == [0, 1, 4, 9, 16] and seen == [3, 4]


def test_cache_key_depends_on_settings():
    assert experiments.cache_key("a", {"x": 1.0}) != experiments.cache_key("a", {"x": 1.0000001})
    assert experiments.cache_key("a", {"x": 1, "y": 2}) == experiments.cache_key("a", {"y": 2, "x": 1})


def test_only_changed_parameters_are_injected(tmp_path):
    import nbformat

    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell('profile = "quick"\ndevice = "auto"\nseed = 0\nwidth = 2 * 3')
    cell.metadata["tags"] = ["parameters"]
    nb.cells = [cell]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = tmp_path / "nb.ipynb"
    nbformat.write(nb, path)
    assert book._changed_parameters(path, {"profile": "quick", "device": "auto", "seed": 0}) == {}
    assert book._changed_parameters(path, {"profile": "paper", "device": "cuda", "seed": 0}) == {
        "profile": "paper", "device": "cuda"}
    assert book._changed_parameters(path, {"width": 6}) == {"width": 6}  # expressions are always passed


# --- execution that never loses committed outputs; one-line errors --------------------------------

def _toy_book(root: Path, source: str) -> Path:
    """A checkout with one chapter whose single cell runs ``source``."""
    import nbformat

    (root / "book").mkdir(parents=True)
    (root / "_config.yml").write_text("title: toy\n")
    (root / "_toc.yml").write_text("format: jb-book\nroot: book/intro\nchapters:\n- file: book/toy\n")
    (root / "book" / "intro.md").write_text("# toy\n")
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell('profile = "quick"\ndevice = "auto"\nseed = 0')
    params.metadata["tags"] = ["parameters"]
    committed = nbformat.v4.new_code_cell(source, execution_count=1,
                                          outputs=[nbformat.v4.new_output("stream", text="committed\n")])
    nb.cells = [params, committed]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = root / "book" / "toy.ipynb"
    nbformat.write(nb, path)
    return path


def test_interrupted_in_place_run_leaves_the_notebook_untouched(tmp_path, monkeypatch):
    import papermill

    path = _toy_book(tmp_path, "print('committed')")
    before = path.read_bytes()

    def interrupted(src, out, **kwargs):  # papermill writes cell by cell, then Ctrl-C arrives
        Path(out).write_text("half-executed")
        raise KeyboardInterrupt

    monkeypatch.setattr(papermill, "execute_notebook", interrupted)
    with pytest.raises(KeyboardInterrupt):
        book.build(root=tmp_path, in_place=True, html=False, device="cpu")
    assert path.read_bytes() == before
    assert not list((tmp_path / "_build").rglob("*.ipynb"))  # no partial copy is left behind


def test_failing_chapter_is_named_with_its_cell_and_partial_file(tmp_path, monkeypatch, capsys):
    path = _toy_book(tmp_path, "raise ValueError('boom')")
    before = path.read_bytes()
    monkeypatch.chdir(tmp_path)
    assert main(["book", "--in-place", "--no-html", "--device", "cpu"]) == 1
    err = capsys.readouterr().err.strip().splitlines()[-1]  # after papermill's progress bar
    assert err.startswith("goldilocks: error:")
    assert "\n" not in err and "toy.ipynb failed in cell" in err and "ValueError: boom" in err
    partial = tmp_path / "_build" / "partial" / "book" / "toy.ipynb"
    assert str(partial) in err and partial.is_file()
    assert path.read_bytes() == before


def test_sigterm_shuts_the_kernel_down_and_keeps_the_notebook(tmp_path):
    import os
    import signal
    import time

    path = _toy_book(tmp_path, "import os, time\nopen('kernel.pid', 'w').write(str(os.getpid()))\ntime.sleep(60)")
    before = path.read_bytes()
    proc = subprocess.Popen([sys.executable, "-m", "goldilocks_core", "book", "--in-place", "--no-html",
                             "--device", "cpu"], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    pid_file = tmp_path / "book" / "kernel.pid"
    deadline = time.time() + 60
    while not pid_file.is_file() or not pid_file.read_text():
        assert time.time() < deadline and proc.poll() is None, proc.communicate()
        time.sleep(0.2)
    kernel = int(pid_file.read_text())
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=30)
    assert proc.returncode == 130
    assert path.read_bytes() == before
    for _ in range(100):  # the kernel is shut down (or at least gone) shortly after
        try:
            os.kill(kernel, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        os.kill(kernel, signal.SIGKILL)
        pytest.fail("the kernel outlived the interrupted run")


@pytest.mark.parametrize("out, message", [("book/copies", "inside book/"), (".", "the checkout itself"),
                                          ("_config.yml", "not a folder")])
def test_out_folders_that_would_collide_are_refused(tmp_path, monkeypatch, capsys, out, message):
    _toy_book(tmp_path, "print('committed')")
    monkeypatch.chdir(tmp_path)
    assert main(["book", "--no-html", "--device", "cpu", "--out", out]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("goldilocks: error:") and message in err and "\n" not in err


def test_unknown_kernel_and_os_errors_are_one_line(tmp_path, monkeypatch, capsys):
    _toy_book(tmp_path, "print('committed')")
    monkeypatch.chdir(tmp_path)
    assert main(["book", "--no-html", "--device", "cpu", "--kernel", "no-such-kernel"]) == 2
    err = capsys.readouterr().err.strip()
    assert "unknown Jupyter kernel 'no-such-kernel'" in err and "\n" not in err

    def denied(root, out):
        raise PermissionError(13, "Permission denied", str(out))

    monkeypatch.setattr(book, "_copy_sources", denied)
    assert main(["book", "--no-html", "--device", "cpu", "--out", "elsewhere"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("goldilocks: error: PermissionError") and "elsewhere" in err and "\n" not in err


def test_not_a_directory_is_one_line(tmp_path, monkeypatch, capsys):
    _toy_book(tmp_path, "print('committed')")
    monkeypatch.chdir(tmp_path)
    assert main(["book", "--no-html", "--device", "cpu", "--out", "_config.yml/x"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("goldilocks: error: NotADirectoryError") and "\n" not in err


def test_executed_kernels_have_progress_bars_off(monkeypatch):
    seen = {}
    monkeypatch.delenv("TQDM_DISABLE", raising=False)
    with book._quiet_kernels():
        seen["inside"] = __import__("os").environ.get("TQDM_DISABLE")
    assert seen["inside"] == "1" and "TQDM_DISABLE" not in __import__("os").environ

