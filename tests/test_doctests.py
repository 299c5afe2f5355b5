"""The examples in the docstrings of the main entry points run and print what they show."""
import doctest

import pytest

from goldilocks_core import curvature, data, subspace, training

ENTRY_POINTS = [curvature.sweep, curvature.decompose, training.train_grid, subspace.random_basis, data.load]
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


@pytest.mark.parametrize("function", ENTRY_POINTS, ids=lambda f: f"{f.__module__}.{f.__name__}")
def test_docstring_examples(function):
    tests = doctest.DocTestFinder(recurse=False).find(function, function.__name__, globs={})
    assert tests and tests[0].examples, f"{function.__name__} has no examples in its docstring"
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    for test in tests:
        runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples of {function.__name__} failed"
