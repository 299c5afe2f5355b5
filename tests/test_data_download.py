"""The real download path of goldilocks_core.data against a local HTTP server.

The test writes tiny Fashion-MNIST IDX files, a CIFAR-10-style pickle tarball and SVHN-style
.mat files, serves them from 127.0.0.1 (a thread, ephemeral port) and patches the manifest's
md5s to theirs. Nothing here reaches the internet.
"""
import copy
import gzip
import hashlib
import io
import json
import os
import pickle
import socket
import struct
import tarfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest
import torch

from goldilocks_core import data
from goldilocks_core.data import download

FASHION = ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
           "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]


# ------------------------------------------------------------------------- the test files

def _idx(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return gzip.compress(header + array.astype(np.uint8).tobytes(), mtime=0)


def _regzip(blob: bytes, flip: bool = False) -> bytes:
    """``blob`` decompressed and compressed again at another level and mtime (last byte flipped)."""
    payload = bytearray(gzip.decompress(blob))
    if flip:
        payload[-1] ^= 0xFF
    again = gzip.compress(bytes(payload), compresslevel=1, mtime=12345)
    assert again != blob
    return again


def _cifar_tarball(batches: dict) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, (images, labels) in batches.items():
            blob = pickle.dumps({b"data": images.reshape(len(images), -1), b"labels": labels.tolist()})
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
    return buffer.getvalue()


def _mat(images_nchw: np.ndarray, labels_1_to_10: np.ndarray) -> bytes:
    from scipy.io import savemat

    buffer = io.BytesIO()
    savemat(buffer, {"X": images_nchw.transpose(2, 3, 1, 0), "y": labels_1_to_10.reshape(-1, 1)})
    return buffer.getvalue()


@pytest.fixture(scope="module")
def files():
    """name -> bytes of every served file, plus the arrays they encode."""
    rng = np.random.default_rng(0)
    arrays = {
        "fashion_train": (rng.integers(0, 256, (20, 28, 28), dtype=np.uint8), np.arange(20) % 10),
        "fashion_test": (rng.integers(0, 256, (10, 28, 28), dtype=np.uint8), np.arange(10)[::-1] % 10),
        "cifar_train": (rng.integers(0, 256, (20, 3, 32, 32), dtype=np.uint8), rng.integers(0, 10, 20)),
        "cifar_test": (rng.integers(0, 256, (6, 3, 32, 32), dtype=np.uint8), rng.integers(0, 10, 6)),
        "svhn_train": (rng.integers(0, 256, (20, 3, 32, 32), dtype=np.uint8), np.arange(20) % 10 + 1),
        "svhn_test": (rng.integers(0, 256, (7, 3, 32, 32), dtype=np.uint8), np.arange(7) % 10 + 1),
    }
    ci, cl = arrays["cifar_train"]
    batches = {f"data_batch_{i + 1}": (ci[4 * i:4 * i + 4], cl[4 * i:4 * i + 4]) for i in range(5)}
    batches["test_batch"] = arrays["cifar_test"]
    blobs = {
        "train-images-idx3-ubyte.gz": _idx(arrays["fashion_train"][0]),
        "train-labels-idx1-ubyte.gz": _idx(arrays["fashion_train"][1]),
        "t10k-images-idx3-ubyte.gz": _idx(arrays["fashion_test"][0]),
        "t10k-labels-idx1-ubyte.gz": _idx(arrays["fashion_test"][1]),
        "cifar-10-python.tar.gz": _cifar_tarball(batches),
        "train_32x32.mat": _mat(*arrays["svhn_train"]),
        "test_32x32.mat": _mat(*arrays["svhn_test"]),
    }
    return blobs, arrays


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (http.server's name)
        name = self.path.lstrip("/")
        body = self.server.blobs.get(name)
        if body is None:
            self.send_error(404, "not found")
            return
        mode = self.server.modes.get(name, "ok")
        self.server.requests.append(name)
        if mode == "corrupt":
            body = bytes([body[0] ^ 0xFF]) + body[1:]
        elif mode == "regzip":  # same payload, other compressed bytes (like Debian's copy)
            body = _regzip(body)
        elif mode == "wrong_payload":  # a valid gzip file of other data
            body = _regzip(body, flip=True)
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if mode == "truncate":  # promise the whole file, send half, hang up
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def server(files):
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.blobs, httpd.modes, httpd.requests = files[0], {}, []
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    httpd.url = f"http://127.0.0.1:{httpd.server_address[1]}/"
    yield httpd
    httpd.shutdown()
    httpd.server_close()
    thread.join(5)


@pytest.fixture
def dead_url():
    with socket.socket() as s:  # a port nobody listens on once closed
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


@pytest.fixture(autouse=True)
def patched(files, monkeypatch, tmp_path, dead_url):
    """Manifest md5s → the test files' (file and payload) md5s; cache in tmp_path; official URLs
    and default mirror unreachable; no system locations."""
    table = copy.deepcopy(download.manifest())
    for spec in table["datasets"].values():
        spec["base_url"] = dead_url + "official/"
        for name, info in spec.get("files", {}).items():
            info["md5"] = hashlib.md5(files[0][name]).hexdigest()
            if "payload_md5" in info:
                info["payload_md5"] = hashlib.md5(gzip.decompress(files[0][name])).hexdigest()
    monkeypatch.setattr(download, "_manifest_cache", table)
    monkeypatch.setenv("GOLDILOCKS_DATA", str(tmp_path / "cache"))
    monkeypatch.setenv("GOLDILOCKS_MIRROR", dead_url)
    monkeypatch.setenv("GOLDILOCKS_SYSTEM_DATA", "")
    return tmp_path / "cache"


def _files_in(folder):
    return sorted(p.name for p in folder.rglob("*")) if folder.exists() else []


# ------------------------------------------------------------------------- successful loads

def test_fashion_mnist_downloads_decodes_and_standardises(server, files, patched):
    images, labels = files[1]["fashion_train"]
    train = data.load("fashion_mnist", mirror=server.url, dtype=torch.float64)
    assert train.inputs.shape == (20, 1, 28, 28) and train.num_classes == 10
    assert torch.equal(train.targets, torch.from_numpy(labels.astype(np.int64)))
    x = images / 255.0
    assert torch.allclose(train.inputs[:, 0], torch.from_numpy((x - x.mean()) / x.std()), atol=1e-12)

    test = data.load("fashion_mnist", "test", mirror=server.url, dtype=torch.float64)
    test_images, test_labels = files[1]["fashion_test"]
    assert torch.equal(test.targets, torch.from_numpy(test_labels.astype(np.int64)))
    expected = (test_images / 255.0 - x.mean()) / x.std()  # the train split's statistics
    assert torch.allclose(test.inputs[:, 0], torch.from_numpy(expected), atol=1e-12)

    folder = patched / "fashion_mnist"
    assert _files_in(folder) == sorted(FASHION + ["sources.json", "test.decoded.pt", "train.decoded.pt"])
    assert json.loads((folder / "sources.json").read_text()) == {f: server.url for f in FASHION}
    assert all(download.md5sum(folder / f) == hashlib.md5(files[0][f]).hexdigest() for f in FASHION)
    assert sorted(server.requests) == sorted(FASHION)  # each file fetched once

    # cached now, no server needed: from the decoded cache alone (raw files moved away) ...
    hidden = patched / "hidden"
    hidden.mkdir()
    for f in FASHION:
        (folder / f).rename(hidden / f)
    again = data.load("fashion_mnist", download=False, dtype=torch.float64)
    assert torch.equal(again.inputs, train.inputs)
    # ... and from the raw files alone
    for f in FASHION:
        (hidden / f).rename(folder / f)
    for f in folder.glob("*.decoded.pt"):
        f.unlink()
    again = data.load("fashion_mnist", "test", download=False, dtype=torch.float64)
    assert torch.equal(again.inputs, test.inputs)


def test_cifar10_tarball_layout_and_resize(server, files, patched):
    images, labels = files[1]["cifar_train"]
    train = data.load("cifar10", mirror=server.url, standardize=False, dtype=torch.float64)
    assert train.inputs.shape == (20, 3, 32, 32)
    assert torch.equal((train.inputs * 255).round().to(torch.uint8), torch.from_numpy(images))
    assert torch.equal(train.targets, torch.from_numpy(labels.astype(np.int64)))
    test = data.load("cifar10", "test", mirror=server.url, dtype=torch.float64)
    assert test.inputs.shape == (6, 3, 32, 32)
    x = images / 255.0
    mean, std = x.mean(axis=(0, 2, 3)), x.std(axis=(0, 2, 3))  # per channel, train split
    expected = (files[1]["cifar_test"][0] / 255.0 - mean[:, None, None]) / std[:, None, None]
    assert torch.allclose(test.inputs, torch.from_numpy(expected), atol=1e-12)
    small = data.load("cifar10", image_size=16, dtype=torch.float64)
    assert small.inputs.shape == (20, 3, 16, 16)
    assert torch.allclose(small.inputs.mean(dim=(0, 2, 3)), torch.zeros(3, dtype=torch.float64), atol=1e-12)
    assert server.requests == ["cifar-10-python.tar.gz"]


def test_svhn_mat_layout_and_label_ten_is_zero(server, files, patched):
    images, labels = files[1]["svhn_train"]
    train = data.load("svhn", mirror=server.url, standardize=False, dtype=torch.float64)
    assert train.inputs.shape == (20, 3, 32, 32)
    assert torch.equal((train.inputs * 255).round().to(torch.uint8), torch.from_numpy(images))
    assert train.targets.tolist() == (labels % 10).tolist() and 0 in train.targets.tolist()
    assert int(train.targets.max()) == 9
    test = data.load("svhn", "test", mirror=server.url)
    assert test.inputs.shape == (7, 3, 32, 32) and test.inputs.dtype == torch.float32


def test_mirror_from_the_environment_and_file_urls(server, files, patched, monkeypatch, tmp_path):
    monkeypatch.setenv("GOLDILOCKS_MIRROR", server.url)
    paths = data.fetch("svhn")
    assert [p.name for p in paths] == ["train_32x32.mat", "test_32x32.mat"]
    assert all(p.parent == patched / "svhn" for p in paths)
    folder = tmp_path / "mirror"
    folder.mkdir()
    (folder / "cifar-10-python.tar.gz").write_bytes(files[0]["cifar-10-python.tar.gz"])
    paths = data.fetch("cifar10", root=tmp_path / "other", mirror=folder.as_uri())
    assert paths == [tmp_path / "other" / "cifar10" / "cifar-10-python.tar.gz"]


# ------------------------------------------------------------------------- failures

def test_corrupt_download_raises_and_leaves_nothing(server, patched):
    server.modes["cifar-10-python.tar.gz"] = "corrupt"
    with pytest.raises(RuntimeError, match="md5") as err:
        data.load("cifar10", mirror=server.url)
    assert isinstance(err.value, data.ChecksumError)
    assert "cifar-10-python.tar.gz" in str(err.value)
    assert _files_in(patched / "cifar10") == []


def test_interrupted_download_leaves_no_partial_file(server, patched):
    server.modes["train_32x32.mat"] = "truncate"
    with pytest.raises(ConnectionError) as err:
        data.fetch("svhn", mirror=server.url)
    assert server.url + "train_32x32.mat" in str(err.value)
    assert _files_in(patched / "svhn") == []
    server.modes.clear()  # the server recovers: a retry succeeds
    assert len(data.fetch("svhn", mirror=server.url)) == 2


def test_server_down_names_the_url_and_the_cache(patched, dead_url):
    with pytest.raises(ConnectionError) as err:
        data.load("fashion_mnist", mirror=dead_url)
    message = str(err.value)
    assert dead_url + "train-images-idx3-ubyte.gz" in message
    assert str(patched / "fashion_mnist" / "train-images-idx3-ubyte.gz") in message
    assert "by hand" in message
    assert _files_in(patched / "fashion_mnist") == []


def test_http_error_is_a_clear_connection_error(server, patched):
    with pytest.raises(ConnectionError, match="HTTP 404"):
        data.fetch("cifar10", mirror=server.url + "nowhere/")
    assert _files_in(patched / "cifar10") == []


def test_download_false_with_nothing_cached(patched, dead_url, monkeypatch):
    with pytest.raises(FileNotFoundError) as err:
        data.load("svhn", download=False)
    message = str(err.value)
    assert str(patched / "svhn" / "train_32x32.mat") in message
    assert dead_url + "train_32x32.mat" in message  # the URL it would come from
    monkeypatch.delenv("GOLDILOCKS_MIRROR")
    with pytest.raises(FileNotFoundError, match=dead_url + "official/test_32x32.mat"):
        data.load("svhn", "test", download=False, standardize=False)
    assert _files_in(patched / "svhn") == []


def test_a_cached_file_with_the_wrong_md5_is_detected(server, files, patched):
    folder = patched / "cifar10"
    folder.mkdir(parents=True)
    (folder / "cifar-10-python.tar.gz").write_bytes(b"not the tarball")
    with pytest.raises(RuntimeError, match="md5"):
        data.load("cifar10", download=False)
    assert len(data.load("cifar10", mirror=server.url)) == 20  # download=True replaces it
    assert download.md5sum(folder / "cifar-10-python.tar.gz") == hashlib.md5(
        files[0]["cifar-10-python.tar.gz"]).hexdigest()


def test_a_stale_decoded_cache_is_not_used(server, files, patched):
    data.load("cifar10", mirror=server.url)
    spec = download.manifest()["datasets"]["cifar10"]["files"]["cifar-10-python.tar.gz"]
    spec["md5"] = "0" * 32  # the manifest now expects another file
    with pytest.raises(RuntimeError, match="md5"):
        data.load("cifar10", download=False)


def test_verify_reports_ok_missing_and_bad(server, patched):
    data.fetch("cifar10", mirror=server.url)
    data.fetch("svhn", mirror=server.url)
    (patched / "svhn" / "test_32x32.mat").write_bytes(b"tampered")
    lines = data.verify()
    assert len(lines) == 7  # every file of the manifest
    by_file = {line.split()[1].split("/")[-1].rstrip(":"): line.split()[0] for line in lines}
    assert by_file["cifar-10-python.tar.gz"] == "ok"
    assert by_file["train_32x32.mat"] == "ok"
    assert by_file["test_32x32.mat"] == "BAD"
    assert all(by_file[f] == "missing" for f in FASHION)
    rows = {r.split()[0]: r for r in data.describe()}
    assert "cached (1/1" in rows["cifar10"] and "not cached (0/4" in rows["fashion_mnist"]


def test_cli_data_commands(server, patched, capsys, monkeypatch):
    from goldilocks_core.cli import main

    assert main(["data", "fetch", "cifar10"]) == 2  # default mirror is down: clear error, exit 2
    assert "could not get cifar-10-python.tar.gz" in capsys.readouterr().err
    monkeypatch.setenv("GOLDILOCKS_MIRROR", server.url)
    assert main(["data", "fetch", "cifar10"]) == 0
    assert capsys.readouterr().out.startswith("ok ")
    assert main(["data", "verify"]) == 0
    (patched / "cifar10" / "cifar-10-python.tar.gz").write_bytes(b"x")
    assert main(["data", "verify"]) == 1
    assert "BAD" in capsys.readouterr().out


# ------------------------------------------------------------------------- payload checksums

def _place(folder, blobs, names, transform=lambda b: b):
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).write_bytes(transform(blobs[name]))
    return folder


def test_a_recompressed_copy_is_accepted_by_its_payload(server, files, patched):
    blobs = files[0]
    folder = _place(patched / "fashion_mnist", blobs, FASHION[:2], _regzip)
    assert download.md5sum(folder / FASHION[0]) != hashlib.md5(blobs[FASHION[0]]).hexdigest()
    train = data.load("fashion_mnist", download=False, standardize=False)  # from the cache
    assert torch.equal(train.targets, torch.from_numpy(files[1]["fashion_train"][1].astype(np.int64)))
    lines = [line for line in data.verify() if FASHION[0] in line]
    assert lines == [f"ok {folder / FASHION[0]} (a re-compressed copy, same payload)"]
    server.modes.update({f: "regzip" for f in FASHION[2:]})  # and over HTTP
    test = data.load("fashion_mnist", "test", mirror=server.url, standardize=False)
    assert len(test) == 10 and sorted(server.requests) == sorted(FASHION[2:])


def test_a_wrong_payload_is_rejected_from_every_source(server, files, patched, tmp_path, monkeypatch):
    blobs = files[0]
    wrong = lambda b: _regzip(b, flip=True)  # noqa: E731
    folder = _place(patched / "fashion_mnist", blobs, FASHION[:1], wrong)
    with pytest.raises(data.ChecksumError) as err:  # the cache
        data.load("fashion_mnist", download=False)
    message = str(err.value)
    assert "\n" not in message and "payload md5" in message and str(folder / FASHION[0]) in message
    assert "delete it and run `goldilocks data fetch fashion_mnist`" in message
    (folder / FASHION[0]).unlink()
    system = _place(tmp_path / "system", blobs, FASHION[:1], wrong)  # a system location
    monkeypatch.setenv("GOLDILOCKS_SYSTEM_DATA", str(system))
    server.modes[FASHION[0]] = "wrong_payload"  # and the mirror
    with pytest.raises(RuntimeError, match="payload md5") as err:
        data.load("fashion_mnist", mirror=server.url)
    assert f"system copy {system / FASHION[0]}" in str(err.value)
    assert f"downloaded {server.url}{FASHION[0]}" in str(err.value)
    assert _files_in(folder) == []


def test_not_gzip_at_all_is_rejected(patched, files):
    _place(patched / "fashion_mnist", files[0], FASHION[:2], lambda b: b"plain bytes")
    with pytest.raises(data.ChecksumError, match="not a readable gzip file"):
        data.load("fashion_mnist", download=False)


# ------------------------------------------------------------------------- system locations

def test_a_system_location_comes_before_any_download(server, files, patched, tmp_path, monkeypatch):
    system = _place(tmp_path / "usr-share", files[0], FASHION, _regzip)
    monkeypatch.setenv("GOLDILOCKS_SYSTEM_DATA", os.pathsep.join([str(tmp_path / "nowhere"), str(system)]))
    row = lambda: next(r for r in data.describe() if r.startswith("fashion_mnist"))  # noqa: E731
    assert f"not cached (0/4 files in {patched / 'fashion_mnist'}); would come from the system copy" in row()
    train = data.load("fashion_mnist", download=False, dtype=torch.float64)  # no network needed
    assert train.inputs.shape == (20, 1, 28, 28)
    data.load("fashion_mnist", "test", mirror=server.url)
    assert server.requests == []  # the mirror was never asked
    folder = patched / "fashion_mnist"
    assert all(download.md5sum(folder / f) == download.md5sum(system / f) for f in FASHION)  # copied
    assert row().endswith(f"cached (4/4 files in {folder}; from {system})")
    for f in FASHION:  # the cache now stands alone
        (system / f).unlink()
    assert len(data.load("fashion_mnist", download=False)) == 20


def test_offline_error_names_the_system_location_and_the_apt_package(patched, tmp_path, monkeypatch):
    monkeypatch.setenv("GOLDILOCKS_SYSTEM_DATA", str(tmp_path / "empty"))
    with pytest.raises(data.DownloadError) as err:
        data.fetch("fashion_mnist")
    message = str(err.value)
    assert f"not in {tmp_path / 'empty'}" in message
    assert "`apt-get install dataset-fashion-mnist`" in message and "\n" not in message
    with pytest.raises(FileNotFoundError, match="apt-get install dataset-fashion-mnist"):
        data.load("fashion_mnist", download=False)


def test_cli_fetch_accepts_every_spelling_that_load_accepts(files, patched, tmp_path, monkeypatch, capsys):
    from goldilocks_core.cli import main

    monkeypatch.setenv("GOLDILOCKS_SYSTEM_DATA", str(_place(tmp_path / "system", files[0], FASHION)))
    for spelling in ("Fashion-MNIST", "fashion_mnist", "FashionMNIST", "fashion mnist"):
        assert data.canonical_name(spelling) == "fashion_mnist"
        assert main(["data", "fetch", spelling]) == 0
        assert capsys.readouterr().out.count("ok ") == 4
    assert len(data.load("Fashion-MNIST", download=False)) == 20
    assert main(["data", "fetch", "mnist"]) == 2
    assert "unknown dataset 'mnist'" in capsys.readouterr().err
    assert main(["data", "list"]) == 0
    assert f"from {tmp_path / 'system'}" in capsys.readouterr().out


# ------------------------------------------------------------------------- leftovers

def test_leftover_part_files_of_a_killed_run_are_removed_but_not_a_live_ones(server, files, patched):
    import fcntl

    folder = patched / "fashion_mnist"
    folder.mkdir(parents=True)
    stale = [folder / f".{FASHION[0]}.k1ll3d.part", folder / ".train.decoded.pt.x9.part",
             folder / ".sources.json.q.tmp"]
    for path in stale:
        path.write_bytes(b"half a file")
    live = folder / f".{FASHION[1]}.l1ve.part"  # another process is still writing this one
    with open(live, "wb") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)
        data.fetch("fashion_mnist", mirror=server.url)
        assert not any(p.exists() for p in stale) and live.exists()
    data.load("fashion_mnist", "test", download=False)  # its writer is gone: now it is stale
    assert not live.exists()
    assert not [p for p in folder.iterdir() if p.name.startswith(".")]


def test_cache_files_are_readable_by_the_group(server, patched):
    data.fetch("svhn", mirror=server.url)
    mask = os.umask(0)
    os.umask(mask)
    for path in (patched / "svhn").iterdir():
        assert path.stat().st_mode & 0o777 == 0o666 & ~mask


# ------------------------------------------------------------------------- verify

def test_verify_bad_lines_say_what_to_do(server, patched, capsys):
    from goldilocks_core.cli import main

    data.fetch("svhn", mirror=server.url)
    bad = patched / "svhn" / "test_32x32.mat"
    bad.write_bytes(b"tampered")
    line = next(line for line in data.verify() if line.startswith("BAD"))
    assert line.startswith(f"BAD {bad}: md5 {hashlib.md5(b'tampered').hexdigest()}, expected ")
    assert line.endswith("; delete it and run `goldilocks data fetch svhn`")
    missing = next(line for line in data.verify() if "cifar" in line)
    assert missing.startswith("missing ") and "`goldilocks data fetch cifar10`" in missing
    assert main(["data", "verify"]) == 1
    assert "delete it and run `goldilocks data fetch svhn`" in capsys.readouterr().out
