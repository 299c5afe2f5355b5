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
    assert done.returncode == 2 and "invalid choice: 'fast'" in done.stderr


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
