import pytest
import torch

from goldilocks_core import profiles
from goldilocks_core.devices import default_dtype, resolve_device


def test_every_chapter_has_both_profiles_with_the_same_keys():
    for chapter in profiles.CHAPTERS:
        quick = profiles.settings(chapter, "quick")
        paper = profiles.settings(chapter, "paper")
        assert set(quick) == set(paper)
        assert {"profile", "device", "seed"} <= set(quick)


def test_overrides_and_none():
    s = profiles.settings("preliminaries", "quick", seed=7, device=None)
    assert s.seed == 7 and s.device == "auto" and s.profile == "quick"
    with pytest.raises(AttributeError):
        s.seed = 3


def test_bad_profile_chapter_and_setting():
    with pytest.raises(ValueError, match="unknown profile 'fast'"):
        profiles.settings("preliminaries", "fast")
    with pytest.raises(ValueError, match="unknown chapter"):
        profiles.settings("nope")
    with pytest.raises(ValueError, match="unknown setting 'sed'"):
        profiles.settings("preliminaries", "quick", sed=1)


def test_alpha_grid_matches_the_authors():
    grid = profiles.alpha_grid()
    assert len(grid) == 25 and grid[0] == pytest.approx(1e-3) and grid[12] == pytest.approx(1.0)


def test_devices():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type in ("cpu", "cuda")
    assert default_dtype("cpu") == torch.float64
    with pytest.raises(ValueError, match="unknown device"):
        resolve_device("tpu-ish")


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_without_gpu_is_a_clear_error():
    with pytest.raises(RuntimeError, match="no CUDA GPU"):
        resolve_device("cuda")
