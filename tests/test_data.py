"""goldilocks_core.data: digits, synthetic sets, subsets, the Dataset record, bad inputs.

The download path (local HTTP server) is tested in tests/test_data_download.py.
"""
from pathlib import Path

import numpy as np
import pytest
import torch

from goldilocks_core import data
from goldilocks_core.data import loaders
from goldilocks_core.data.preprocess import resize


@pytest.fixture(autouse=True)
def _offline(monkeypatch, tmp_path):
    # nothing here may touch the network or the repository's data/ folder
    monkeypatch.setenv("GOLDILOCKS_DATA", str(tmp_path / "cache"))
    monkeypatch.setenv("GOLDILOCKS_MIRROR", "http://127.0.0.1:9/")


@pytest.fixture(scope="module")
def digits_raw():
    from sklearn.datasets import load_digits

    bunch = load_digits()
    return bunch.images.astype(np.float64), bunch.target.astype(np.int64)


# ---------------------------------------------------------------------------------- digits

def test_digits_shapes_classes_and_split_sizes():
    train, test = data.train_test("digits")
    assert train.inputs.shape == (1437, 1, 8, 8) and test.inputs.shape == (360, 1, 8, 8)
    assert len(train) + len(test) == 1797
    assert train.num_classes == test.num_classes == 10
    assert train.inputs.dtype == torch.float32 and train.targets.dtype == torch.int64
    assert (train.name, train.split, test.split) == ("digits", "train", "test")
    assert set(train.targets.tolist()) == set(range(10)) == set(test.targets.tolist())


def test_digits_split_is_stratified_disjoint_and_deterministic(digits_raw):
    _, labels = digits_raw
    train_idx, test_idx = loaders.stratified_split(labels, 360, 0)
    assert len(np.intersect1d(train_idx, test_idx)) == 0
    assert np.array_equal(np.union1d(train_idx, test_idx), np.arange(1797))
    class_sizes = np.bincount(labels, minlength=10)
    test_counts = np.bincount(labels[test_idx], minlength=10)
    assert np.all(np.abs(test_counts - 360 * class_sizes / 1797) < 1.0)
    again_train, again_test = loaders.stratified_split(labels, 360, 0)
    assert np.array_equal(test_idx, again_test) and np.array_equal(train_idx, again_train)
    _, other_test = loaders.stratified_split(labels, 360, 1)
    assert not np.array_equal(test_idx, other_test)

    a, b = data.load("digits", "test"), data.load("digits", "test")
    assert torch.equal(a.inputs, b.inputs) and torch.equal(a.targets, b.targets)
    assert torch.equal(a.targets, torch.from_numpy(labels[test_idx]))
    c = data.load("digits", "test", split_seed=1)
    assert not torch.equal(a.targets, c.targets) and torch.equal(a.class_counts(), c.class_counts())


def test_digits_are_the_real_images_standardised_with_train_statistics(digits_raw):
    images, labels = digits_raw
    train_idx, test_idx = loaders.stratified_split(labels, 360, 0)
    raw = data.load("digits", "test", standardize=False, dtype=torch.float64)
    assert torch.allclose(raw.inputs[:, 0] * 16, torch.from_numpy(images[test_idx]))
    assert float(raw.inputs.min()) == 0.0 and float(raw.inputs.max()) == 1.0

    train = data.load("digits", dtype=torch.float64)
    assert abs(float(train.inputs.mean())) < 1e-12
    assert float(train.inputs.std(unbiased=False)) == pytest.approx(1.0, abs=1e-12)
    x = images[train_idx] / 16
    mean, std = x.mean(), x.std()
    test = data.load("digits", "test", dtype=torch.float64)
    expected = (images[test_idx] / 16 - mean) / std
    assert torch.allclose(test.inputs[:, 0], torch.from_numpy(expected), atol=1e-12)
    assert abs(float(test.inputs.mean())) > 1e-6  # the test split is not re-centred


def test_digits_resized_to_32_for_lenet5():
    big = data.load("digits", "test", image_size=32, dtype=torch.float64)
    assert big.inputs.shape == (360, 1, 32, 32)
    train = data.load("digits", image_size=32, dtype=torch.float64)
    assert abs(float(train.inputs.mean())) < 1e-12
    assert float(train.inputs.std(unbiased=False)) == pytest.approx(1.0, abs=1e-9)
    raw = data.load("digits", "test", image_size=32, standardize=False, dtype=torch.float64)
    small = data.load("digits", "test", standardize=False, dtype=torch.float64)
    # bilinear: convex combinations of the 8×8 pixels, so the range cannot grow
    assert float(raw.inputs.min()) >= 0.0 and float(raw.inputs.max()) <= 1.0
    assert torch.allclose(raw.inputs.mean(dim=(2, 3)), small.inputs.mean(dim=(2, 3)), atol=0.05)
    assert torch.equal(big.targets, small.targets)


def test_resize_is_bilinear():
    const = torch.full((2, 3, 8, 8), 0.7, dtype=torch.float64)
    assert torch.allclose(resize(const, 32), const.new_full((2, 3, 32, 32), 0.7))
    ramp = torch.arange(4, dtype=torch.float64).repeat(4, 1).view(1, 1, 4, 4)  # columns 0,1,2,3
    out = resize(ramp, 8)  # half-pixel centres: interior output columns interpolate linearly
    assert torch.allclose(out[0, 0, 0], torch.tensor([0, 0.25, 0.75, 1.25, 1.75, 2.25, 2.75, 3.0], dtype=torch.float64))


# ---------------------------------------------------------------------------------- synthetic

def test_circles_radii_labels_and_seeds():
    d = data.load("circles", num_samples=3000, noise=0.02, dtype=torch.float64)
    assert d.inputs.shape == (3000, 2) and d.num_classes == 3
    assert d.class_counts().tolist() == [1000, 1000, 1000]
    r = d.inputs.norm(dim=1)
    for k, radius in enumerate((0.33, 0.58, 0.78)):
        rk = r[d.targets == k]
        assert float(rk.mean()) == pytest.approx(radius, abs=0.004)
        assert float(rk.std()) == pytest.approx(0.02, rel=0.15)
    exact = data.load("circles", noise=0.0, num_samples=30, dtype=torch.float64)
    radii = torch.tensor([0.33, 0.58, 0.78], dtype=torch.float64)
    assert torch.allclose(exact.inputs.norm(dim=1), radii[exact.targets])
    angles = torch.atan2(d.inputs[:, 1], d.inputs[:, 0])
    assert float(angles.min()) < -3.0 and float(angles.max()) > 3.0  # the whole ring
    again = data.load("circles", num_samples=3000, dtype=torch.float64)
    assert torch.equal(again.inputs, d.inputs) and torch.equal(again.targets, d.targets)
    test = data.load("circles", "test", num_samples=3000, dtype=torch.float64)
    assert not torch.equal(test.inputs, d.inputs)
    assert not torch.equal(data.load("circles", seed=1).inputs, data.load("circles").inputs)


def test_gaussian_shape_and_prior():
    prior = [0.5, 0.3, 0.2]
    d = data.load("gaussian", shape=(3, 4, 5), num_classes=3, prior=prior, num_samples=20000,
                  dtype=torch.float64)
    assert d.inputs.shape == (20000, 3, 4, 5) and d.num_classes == 3
    assert torch.allclose(d.prior(), torch.tensor(prior, dtype=torch.float64), atol=0.015)
    assert abs(float(d.inputs.mean())) < 0.01 and float(d.inputs.std()) == pytest.approx(1.0, abs=0.01)
    uniform = data.load("gaussian", num_samples=50)
    assert uniform.inputs.shape == (50, 1, 28, 28) and uniform.num_classes == 10
    assert torch.equal(data.load("gaussian", num_samples=50).inputs, uniform.inputs)
    assert not torch.equal(data.load("gaussian", "test", num_samples=50).inputs, uniform.inputs)
    one_class = data.load("gaussian", num_classes=4, prior=[0, 0, 1, 0], num_samples=40, shape=2)
    assert one_class.inputs.shape == (40, 2) and one_class.targets.eq(2).all()


# ---------------------------------------------------------------------------------- subsets

def test_counts_from_prior_rounds_by_largest_remainder():
    assert data.counts_from_prior([0.5, 0.3, 0.2], 7) == [4, 2, 1]
    assert data.counts_from_prior([0.25] * 4, 10) == [3, 3, 2, 2]
    assert sum(data.counts_from_prior(np.full(10, 0.1), 999)) == 999


def test_balanced_subset_is_balanced_distinct_and_reproducible():
    train = data.load("digits")
    sub = data.balanced_subset(train, 500, generator=3)
    assert len(sub) == 500 and sub.class_counts().tolist() == [50] * 10
    again = data.balanced_subset(train, 500, generator=torch.Generator().manual_seed(3))
    assert torch.equal(sub.inputs, again.inputs) and torch.equal(sub.targets, again.targets)
    other = data.balanced_subset(train, 500, generator=4)
    assert not torch.equal(sub.inputs, other.inputs)
    rows = sub.inputs.reshape(500, -1)
    assert torch.unique(rows, dim=0).shape[0] == 500  # no sample twice
    assert not torch.equal(sub.targets, sub.targets.sort().values)  # shuffled, not class-sorted
    with pytest.raises(ValueError, match="not a multiple"):
        data.balanced_subset(train, 505)
    with pytest.raises(ValueError, match="samples"):
        data.balanced_subset(train, 2000)


def test_subset_with_prior_follows_the_prior():
    train = data.load("digits")
    prior = [0.3, 0.2, 0.1, 0.1, 0.1, 0.1, 0.05, 0.05, 0.0, 0.0]
    sub = data.subset_with_prior(train, prior, 401, generator=0)
    assert sub.class_counts().tolist() == data.counts_from_prior(prior, 401)
    assert sub.class_counts()[8:].sum() == 0
    again = data.subset_with_prior(train, prior, 401, generator=0)
    assert torch.equal(sub.inputs, again.inputs)
    with pytest.raises(ValueError, match="sum to 1"):
        data.subset_with_prior(train, [0.5] * 10, 100)
    with pytest.raises(ValueError, match="10 entries"):
        data.subset_with_prior(train, [0.5, 0.5], 100)
    with pytest.raises(ValueError, match="has 14"):
        data.subset_with_prior(train, [1.0] + [0.0] * 9, 200)  # class 0 has 142 train images


# ---------------------------------------------------------------------------------- Dataset

def test_dataset_record():
    d = data.load("circles", num_samples=12)
    assert len(d) == 12 and d.sample_shape == (2,)
    d64 = d.to("cpu", torch.float64)
    assert d64.inputs.dtype == torch.float64 and d64.targets.dtype == torch.int64
    assert d.inputs.dtype == torch.float32  # frozen: the original is unchanged
    mask = d.targets == 1
    assert torch.equal(d.subset(mask).targets, d.targets[mask])
    assert torch.equal(d.subset([3, 0]).inputs, d.inputs[[3, 0]])
    assert data.load("digits").flatten().inputs.shape == (1437, 64)
    assert float(d.prior().sum()) == pytest.approx(1.0)
    with pytest.raises(AttributeError):
        d.name = "x"
    with pytest.raises(ValueError, match="same number of samples"):
        data.Dataset(torch.zeros(3, 2), torch.zeros(4, dtype=torch.long), 2, "x", "train")
    with pytest.raises(ValueError, match="int64"):
        data.Dataset(torch.zeros(3, 2), torch.zeros(3), 2, "x", "train")
    with pytest.raises(ValueError, match="floating-point"):
        d.to(dtype=torch.int32)
    with pytest.raises(ValueError, match="out of range"):
        d.subset([12])
    assert "circles" in repr(d) and "12×2" in repr(d)


# ---------------------------------------------------------------------------------- bad inputs

def test_unknown_name_split_and_option():
    with pytest.raises(ValueError, match=r"unknown dataset 'mnist'; known datasets: digits, circles"):
        data.load("mnist")
    with pytest.raises(ValueError, match=r"unknown split 'val'; known splits: train, test"):
        data.load("digits", "val")
    with pytest.raises(ValueError, match=r"unknown option\(s\) image_size for dataset 'circles'"):
        data.load("circles", image_size=32)
    with pytest.raises(ValueError, match="image_size"):
        data.load("digits", image_size=0)
    with pytest.raises(ValueError, match="dtype"):
        data.load("digits", dtype=torch.int64)
    with pytest.raises(ValueError, match="num_samples"):
        data.load("circles", num_samples=0)
    with pytest.raises(ValueError, match="noise"):
        data.load("circles", noise=-1.0)
    with pytest.raises(ValueError, match="seed"):
        data.load("gaussian", seed=-2)
    with pytest.raises(ValueError, match="unknown dataset"):
        data.fetch("imagenet")


def test_name_spelling_is_forgiven_but_only_for_known_names(tmp_path):
    for spelling in ("Fashion-MNIST", "fashion_mnist", "FashionMNIST", " fashion mnist "):
        assert data.canonical_name(spelling) == "fashion_mnist"
    assert data.canonical_name("CIFAR-10") == "cifar10" and loaders._canonical_name("SVHN") == "svhn"
    assert data.load("Digits", standardize=False).name == "digits"
    assert data.fetch("Gaussian", root=tmp_path) == []  # fetch follows the same rule as load
    for bad in (3, "mnist", "fashion"):
        with pytest.raises(ValueError, match="known datasets"):
            data.canonical_name(bad)


DEBIAN_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")


@pytest.mark.skipif(not DEBIAN_FASHION_MNIST.is_dir(), reason="apt-get install dataset-fashion-mnist")
def test_real_fashion_mnist_from_the_debian_package_into_an_empty_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GOLDILOCKS_DATA", str(tmp_path))
    monkeypatch.setenv("GOLDILOCKS_MIRROR", "http://127.0.0.1:9/")  # a download would fail
    monkeypatch.delenv("GOLDILOCKS_SYSTEM_DATA", raising=False)
    train = data.load("fashion_mnist", "train", download=False, standardize=False)
    assert train.inputs.shape == (60000, 1, 28, 28) and train.num_classes == 10
    assert train.class_counts().tolist() == [6000] * 10  # labels 0..9, balanced
    assert 0.0 <= float(train.inputs.min()) and float(train.inputs.max()) == 1.0
    row = next(r for r in data.describe() if r.startswith("fashion_mnist"))
    assert row.endswith(f"(2/4 files in {tmp_path / 'fashion_mnist'}); would come from the system copy "
                        f"in {DEBIAN_FASHION_MNIST}")


def test_bundled_and_synthetic_sets_need_no_files(tmp_path):
    assert data.fetch("digits", root=tmp_path) == [] and data.fetch("circles") == []
    rows = data.describe(root=tmp_path)
    assert len(rows) == len(data.NAMES)
    assert any(r.startswith("digits") and "always available" in r for r in rows)
    assert any(r.startswith("cifar10") and "not cached (0/1" in r for r in rows)


def test_pad_to_centres_the_image_and_standardises_the_padded_set():
    from goldilocks_core.data import load

    plain = load("digits", "train", standardize=False)
    padded = load("digits", "train", standardize=False, pad_to=12)
    assert padded.inputs.shape[1:] == (1, 12, 12)
    assert torch.equal(padded.inputs[:, :, 2:10, 2:10], plain.inputs)
    assert padded.inputs[:, :, :2].abs().max() == 0 and padded.inputs[:, :, :, 10:].abs().max() == 0
    std = load("digits", "train", pad_to=12, dtype=torch.float64).inputs
    assert abs(float(std.mean())) < 1e-10 and abs(float(std.std(unbiased=False)) - 1) < 1e-10
    with pytest.raises(ValueError, match="cannot pad"):
        load("digits", "train", pad_to=6)
    with pytest.raises(ValueError, match="pad_to must be a positive integer"):
        load("digits", "train", pad_to=0)
