"""The results cache (goldilocks_core.experiments.cache) and content identities (.identity)."""
import copy
import os

import numpy as np
import pytest
import torch

from goldilocks_core import experiments, models
from goldilocks_core.experiments import cache as C
from goldilocks_core.experiments.identity import content_hash, data_identity, model_identity, tensor_hash
from goldilocks_core.experiments.setup import build, source_identity


def counter():
    calls = []

    def compute():
        calls.append(1)
        return {"value": len(calls)}

    return calls, compute


# -------------------------------------------------------------------------- keys
def test_cache_key_tells_types_and_names_apart():
    assert experiments.cache_key("a", {"x": 1}) != experiments.cache_key("a", {"x": "1"})
    assert experiments.cache_key("a", {"x": 1}) != experiments.cache_key("a", {"x": 1.0})
    assert experiments.cache_key("a", {"x": 1}) != experiments.cache_key("b", {"x": 1})


def test_arrays_and_tensors_are_keyed_by_content_not_repr():
    a = np.zeros(5000)
    b = a.copy()
    b[2500] = 1.0  # the repr of both is "array([0., 0., 0., ..., 0., 0., 0.])"
    assert experiments.cache_key("a", {"x": a}) != experiments.cache_key("a", {"x": b})
    assert experiments.cache_key("a", {"x": a}) == experiments.cache_key("a", {"x": a.copy()})
    assert experiments.cache_key("a", {"x": a}) != experiments.cache_key("a", {"x": a.astype(np.float32)})
    assert experiments.cache_key("a", {"x": a}) != experiments.cache_key("a", {"x": a.reshape(50, 100)})
    t, u = torch.from_numpy(a), torch.from_numpy(b)
    assert experiments.cache_key("a", {"x": t}) != experiments.cache_key("a", {"x": u})
    assert tensor_hash(t[::2]) == tensor_hash(t[::2].contiguous())


def test_tensor_hash_follows_in_place_changes():
    t = torch.zeros(1000)
    before = tensor_hash(t)
    assert tensor_hash(t) == before  # remembered
    t[500] = 1.0
    assert tensor_hash(t) != before and tensor_hash(t) == tensor_hash(t.clone())


def test_models_and_data_are_keyed_by_content():
    net = models.mlp([4, 5, 3], generator=torch.Generator().manual_seed(0))
    twin = copy.deepcopy(net)
    assert model_identity(net) == model_identity(twin)
    with torch.no_grad():
        twin[-1].weight[1, 2] += 1e-3
    assert model_identity(net) != model_identity(twin)
    assert experiments.cache_key("m", {"net": net}) != experiments.cache_key("m", {"net": twin})
    other = models.mlp([4, 6, 3], generator=torch.Generator().manual_seed(0))
    assert model_identity(net) != model_identity(other)
    s0 = build({"arch": "mlp", "dataset": "digits", "widths": [64, 8, 10], "num_samples": 30}, seed=0)
    s1 = build({"arch": "mlp", "dataset": "digits", "widths": [64, 8, 10], "num_samples": 30}, seed=1)
    assert data_identity(s0) != data_identity(s1) and content_hash(s0) != content_hash(s1)
    g0 = {"dataset": "gaussian", "data_options": {"shape": [4], "num_samples": 20, "seed": 0}}
    g1 = {"dataset": "gaussian", "data_options": {"shape": [4], "num_samples": 20, "seed": 1}}
    assert source_identity(g0) == source_identity(dict(g0)) != source_identity(g1)


def test_settings_of_unknown_type_are_refused():
    with pytest.raises(TypeError, match="cannot key"):
        experiments.cache_key("a", {"f": object()})
    with pytest.raises(ValueError, match="cache name"):
        experiments.cache_key("../a", {})


def test_every_profile_can_be_keyed():
    from goldilocks_core.profiles import CHAPTERS, PROFILE_NAMES, settings

    for chapter in CHAPTERS:
        for profile in PROFILE_NAMES:
            experiments.cache_key(chapter, C.result_settings(settings(chapter, profile)))


def test_result_settings_drop_what_cannot_change_a_result():
    assert C.result_settings({"a": 1, "cache": True, "progress": False, "b": 2}, exclude=("b",)) == {"a": 1}


# ------------------------------------------------------------------------ files
def test_corrupt_or_truncated_entries_are_reported_removed_and_recomputed(tmp_path, capsys):
    calls, compute = counter()
    experiments.cached("demo", {"a": 1}, compute, directory=tmp_path)
    (path,) = tmp_path.glob("demo-*.pkl")
    whole = path.read_bytes()
    for broken in (whole[: len(whole) // 2], whole[:5], whole[:-1] + b"x", b""):
        path.write_bytes(broken)
        assert experiments.cached("demo", {"a": 1}, compute, directory=tmp_path) == {"value": len(calls)}
        err = capsys.readouterr().err
        assert str(path) in err and err.count("\n") == 1, err
        assert experiments.cached("demo", {"a": 1}, compute, directory=tmp_path) == {"value": len(calls)}
    assert len(calls) == 5 and capsys.readouterr().err == ""


def test_writes_are_atomic_fsynced_and_group_readable(tmp_path, monkeypatch):
    synced = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: synced.append(fd) or real_fsync(fd))
    old = os.umask(0o022)
    try:
        experiments.cached("demo", {"a": 1}, lambda: 1, directory=tmp_path)
    finally:
        os.umask(old)
    (path,) = tmp_path.iterdir()
    assert path.suffix == ".pkl" and oct(path.stat().st_mode & 0o777) == oct(0o644) and synced


def test_an_unwritable_folder_fails_before_the_work(tmp_path):
    (tmp_path / "file").write_text("")
    calls, compute = counter()
    with pytest.raises(PermissionError, match="not writable.*GOLDILOCKS_CACHE"):
        experiments.cached("demo", {"a": 1}, compute, directory=tmp_path / "file" / "results")
    with pytest.raises(PermissionError, match="not writable"):
        experiments.cached_map("demo", {}, lambda x: compute(), [1, 2], directory=tmp_path / "file",
                               progress=False)
    assert calls == []


def test_a_failed_write_keeps_the_result(tmp_path, monkeypatch, capsys):
    def full(*args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", full)
    assert experiments.cached("demo", {"a": 1}, lambda: 42, directory=tmp_path) == 42
    err = capsys.readouterr().err
    assert "No space left" in err and err.count("\n") == 1
    assert list(tmp_path.iterdir()) == []  # no temporary file left


def test_stale_temporary_files_are_removed_on_the_next_run(tmp_path):
    import fcntl

    stale = [tmp_path / ".demo-0123.pkl.k3j4.part", tmp_path / ".demo-0123.pkl.ab12cd.tmp"]
    live = tmp_path / ".demo-4567.pkl.x9y8.part"  # a write in progress elsewhere holds its lock
    other = tmp_path / "notes.tmp"
    for p in [*stale, live, other]:
        p.write_bytes(b"partial")
    with open(live, "rb") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        experiments.cached("demo", {"a": 1}, lambda: 1, directory=tmp_path)
    assert not any(p.exists() for p in stale) and live.exists() and other.exists()


def test_default_folder_is_never_inside_site_packages(tmp_path, monkeypatch):
    monkeypatch.delenv("GOLDILOCKS_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setattr(C.storage, "repository_root", lambda: None)  # an ordinary install
    assert C.cache_dir() == tmp_path / "xdg" / "goldilocks" / "results"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert C.cache_dir() == tmp_path / "home" / ".cache" / "goldilocks" / "results"
    (tmp_path / "repo").mkdir()
    monkeypatch.setattr(C.storage, "repository_root", lambda: tmp_path / "repo")  # a source checkout
    assert C.cache_dir() == tmp_path / "repo" / ".cache" / "results"
    monkeypatch.setenv("GOLDILOCKS_CACHE", str(tmp_path / "mine"))
    assert C.cache_dir() == tmp_path / "mine"
