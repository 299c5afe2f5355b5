"""The lazy namespace of ``goldilocks_core`` promises only submodules that exist."""
import importlib

import pytest

import goldilocks_core


@pytest.mark.parametrize("name", sorted(goldilocks_core._SUBMODULES))
def test_every_listed_submodule_imports(name):
    module = getattr(goldilocks_core, name)
    assert module is importlib.import_module(f"goldilocks_core.{name}")


def test_unknown_names_raise_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'nonexistent'"):
        goldilocks_core.nonexistent
