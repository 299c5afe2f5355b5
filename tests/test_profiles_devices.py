import dataclasses

import pytest
import torch

from goldilocks_core import profiles
from goldilocks_core.curvature import alpha_grid
from goldilocks_core.devices import default_dtype, resolve_device


@pytest.mark.parametrize("chapter", profiles.CHAPTERS)
def test_every_profile_of_every_chapter_builds_with_the_same_keys(chapter):
    built = {name: profiles.settings(chapter, name) for name in profiles.PROFILE_NAMES}
    keys = {name: set(s) for name, s in built.items()}
    assert len({frozenset(k) for k in keys.values()}) == 1
    assert {"profile", "device", "seed"} <= keys["paper"]
    assert built["paper"] == dataclasses.replace(type(built["paper"])(), profile="paper")  # paper = defaults


def test_overrides_and_none():
    s = profiles.settings("preliminaries", "quick", seed=7, device=None)
    assert s.seed == 7 and s.device == "auto" and s.profile == "quick"
    assert s["seed"] == 7 and dict(s)["seed"] == 7 and (s | {"seed": 3})["seed"] == 3
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.seed = 3


def test_bad_profile_chapter_and_setting():
    with pytest.raises(ValueError, match="unknown profile 'fast'"):
        profiles.settings("preliminaries", "fast")
    with pytest.raises(ValueError, match="unknown chapter"):
        profiles.settings("nope")
    with pytest.raises(ValueError, match="unknown setting 'sed'"):
        profiles.settings("preliminaries", "quick", sed=1)


def test_profile_overrides_only_known_fields():
    for chapter in profiles.CHAPTERS:
        cls = type(profiles.settings(chapter, "paper"))
        for name, overrides in cls.profiles.items():
            assert set(overrides) <= set(cls.field_names()), (chapter, name)


def test_a_profile_file_of_ones_own(tmp_path):
    path = tmp_path / "my-gpu.toml"
    path.write_text('base = "quick"\n[all]\ndevice = "cuda"\n[zone]\nnum_seeds = 5\n')
    s = profiles.settings("zone", str(path))
    quick = profiles.settings("zone", "quick")
    assert s.num_seeds == 5 and s.device == "cuda" and s.profile == "my-gpu"
    assert s.models == quick.models and s.alphas == quick.alphas
    assert profiles.settings("zone", str(path), num_seeds=2).num_seeds == 2


@pytest.mark.parametrize("text, message", [
    ('[zone]\nnum_sedes = 5\n', "unknown setting 'num_sedes'"),
    ('[zon]\nnum_seeds = 5\n', "unknown chapter table"),
    ('base = "fast"\n', "base must be one of"),
    ('[zone\n', "not valid TOML"),
])
def test_bad_profile_files(tmp_path, text, message):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ValueError, match=message):
        profiles.settings("zone", str(path))
    with pytest.raises(ValueError, match="does not exist"):
        profiles.settings("zone", str(tmp_path / "missing.toml"))


def test_alpha_grid_matches_the_authors():
    grid = alpha_grid()
    assert len(grid) == 25 and grid[0] == pytest.approx(1e-3) and grid[12] == pytest.approx(1.0)


def test_quick_runs_the_paper_models_on_fashion_mnist():
    zone = profiles.settings("zone", "quick")
    assert [m["arch"] for m in zone.models] == ["lenet_300_100"]
    assert all(m["dataset"] == "fashion_mnist" for m in zone.models)
    assert len(zone.alphas) == 25 and zone.subspace_dim == 50 and zone.num_seeds == 3


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


def test_substitution_table_names_what_each_profile_replaces():
    from goldilocks_core.profiles.substitutions import substitution_table

    quick = substitution_table(profiles.settings("preliminaries", "quick"))
    assert list(quick["substituted"]) == ["fewer samples", "data set"]
    assert "N = 2,000" in quick["this page"].iloc[0] and "CIFAR-10" in quick["paper"].iloc[1]
    assert list(substitution_table(profiles.settings("zone", "paper"))["substituted"]) == ["no", "no"]
    assert list(substitution_table(profiles.settings("zone", "offline"))["substituted"]) == ["network, data set", "left out"]


def test_substitution_rows_name_figures_and_what_changed():
    from goldilocks_core.profiles.substitutions import substitution_table

    cfg = profiles.settings("features", "quick")
    t = substitution_table(cfg, {"Fig. 3": ["fig3_settings", "subspace_dim"], "Fig. 5 right": ["prior_setting"],
                                 "Fig. 4 left": "dims"})
    assert list(t.columns) == ["paper", "this page", "substituted"] and t.index.name == "profile quick"
    assert t.loc["Fig. 3", "substituted"] == "fewer samples, left out"  # quick runs LeNet-300-100 only
    assert "subspace_dim = 50" in t.loc["Fig. 3", "paper"] and "CIFAR-10" in t.loc["Fig. 3", "paper"]
    assert "padded to 32×32" in t.loc["Fig. 5 right", "this page"]
    assert t.loc["Fig. 4 left", "substituted"] == "sizes"
    paper = substitution_table(profiles.settings("features", "paper"), {"Fig. 6": ["inits_setting", "num_inits"]})
    assert paper.loc["Fig. 6", "this page"] == "as in the paper" and paper.loc["Fig. 6", "substituted"] == "no"
    lr = substitution_table(profiles.settings("appendix_e", "quick"), {"USO": "uso_base_lr"})
    assert lr.loc["USO", "substituted"] == "changed"  # a learning rate is not a size
    with pytest.raises(ValueError, match="no setting"):
        substitution_table(cfg, {"x": "nonsense"})
