"""IDX ingest (`ingest.source: idx:<spec>`): the format, the three spec forms, and bad files named."""

import gzip
import struct

import numpy as np
import pytest

from components.config.sections import IngestConfig
from components.core.errors import IngestError
from components.core.io import read_json
from components.data import idx
from components.stages import ingest

CODES = {np.dtype(np.uint8): 0x08, np.dtype(np.int32): 0x0C, np.dtype(np.float32): 0x0D}


def idx_bytes(a: np.ndarray) -> bytes:
    """The IDX encoding of `a`: magic (0, 0, dtype code, ndim), big-endian sizes, big-endian data."""
    head = bytes([0, 0, CODES[a.dtype], a.ndim]) + struct.pack(f">{a.ndim}I", *a.shape)
    return head + a.astype(a.dtype.newbyteorder(">")).tobytes()


def write_idx(path, a: np.ndarray):
    blob = idx_bytes(a)
    path.write_bytes(gzip.compress(blob) if path.name.endswith(".gz") else blob)
    return path


def make_set(folder, n_train=6, n_test=4, side=3, gz=True, prefix=""):
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    ext = ".gz" if gz else ""
    arrays = {}
    for part, n in (("train", n_train), ("t10k", n_test)):
        images = rng.integers(0, 256, (n, side, side), dtype=np.uint8)
        labels = (np.arange(n) % 3).astype(np.uint8)
        write_idx(folder / f"{prefix}{part}-images-idx3-ubyte{ext}", images)
        write_idx(folder / f"{prefix}{part}-labels-idx1-ubyte{ext}", labels)
        arrays[part] = (images, labels)
    return arrays


@pytest.mark.parametrize("a", [np.arange(24, dtype=np.uint8).reshape(2, 3, 4), np.array([1, -5, 70000], np.int32),
                               np.linspace(0, 1, 6, dtype=np.float32).reshape(3, 2)])
@pytest.mark.parametrize("gz", [True, False])
def test_round_trip_of_the_format(tmp_path, a, gz):
    back = idx.read_array(write_idx(tmp_path / ("a.idx.gz" if gz else "a.idx"), a))
    assert back.dtype == a.dtype and np.array_equal(back, a)


def test_folder_gives_pixels_label_and_the_predefined_split(tmp_path):
    arrays = make_set(tmp_path / "my-set")
    raw = ingest.load_raw(IngestConfig(source=f"idx:{tmp_path / 'my-set'}"))
    df = raw.frame
    assert df.shape == (10, 9 + 2) and raw.image_shape == (3, 3) and raw.dataset == "my-set"
    assert df["split"].tolist() == ["train"] * 6 + ["test"] * 4
    assert np.array_equal(df.filter(like="px_").to_numpy()[6:], arrays["t10k"][0].reshape(4, 9))  # row-major
    assert df["label"].dtype == "int64" and df["label"].tolist()[:6] == arrays["train"][1].tolist()


def test_prefix_and_uncompressed_files(tmp_path):
    make_set(tmp_path, gz=False, prefix="fm-")
    df = ingest.load_raw(IngestConfig(source=f"idx:{tmp_path}/fm-")).frame
    assert len(df) == 10 and set(df["split"]) == {"train", "test"}


def test_explicit_pair_has_no_predefined_split(tmp_path):
    make_set(tmp_path)
    src = f"idx:{tmp_path}/t10k-images-idx3-ubyte.gz,{tmp_path}/t10k-labels-idx1-ubyte.gz"
    df = ingest.load_raw(IngestConfig(source=src)).frame
    assert len(df) == 4 and "split" not in df.columns


def test_fingerprint_covers_the_files(tmp_path):
    make_set(tmp_path / "d")
    cfg = IngestConfig(source=f"idx:{tmp_path / 'd'}")
    before = ingest.source_fingerprint(cfg)
    write_idx(tmp_path / "d/t10k-labels-idx1-ubyte.gz", np.array([2, 2, 2, 2], np.uint8))
    assert ingest.source_fingerprint(cfg) != before


def _corrupt(folder, kind):
    target = folder / "train-images-idx3-ubyte.gz"
    blob = gzip.decompress(target.read_bytes())
    if kind == "missing":
        target.unlink()
    elif kind == "bad_magic":
        target.write_bytes(gzip.compress(b"\x01\x02" + blob[2:]))
    elif kind == "short_header":
        target.write_bytes(gzip.compress(blob[:9]))
    elif kind == "truncated_data":
        target.write_bytes(gzip.compress(blob[:-5]))
    elif kind == "corrupt_gzip":
        target.write_bytes(target.read_bytes()[:20])
    elif kind == "empty":
        target.write_bytes(gzip.compress(b""))
    elif kind == "count_mismatch":
        write_idx(folder / "train-labels-idx1-ubyte.gz", np.zeros(5, np.uint8))
        return folder / "train-labels-idx1-ubyte.gz"
    elif kind == "labels_as_images":
        write_idx(target, np.zeros(6, np.uint8))
    return target


@pytest.mark.parametrize("kind,match", [
    ("missing", r"train-images-idx3-ubyte\[\.gz\]: IDX file not found"),
    ("bad_magic", "not an IDX file"),
    ("short_header", "IDX header truncated"),
    ("truncated_data", "truncated or corrupt"),
    ("corrupt_gzip", "not a readable gzip file"),
    ("empty", "not an IDX file"),
    ("count_mismatch", "5 labels for 6 images"),
    ("labels_as_images", r"expected a 3-dim IDX array"),
])
def test_bad_files_fail_naming_the_file(tmp_path, kind, match):
    make_set(tmp_path)
    bad = _corrupt(tmp_path, kind)
    with pytest.raises(IngestError, match=match) as e:
        ingest.load_raw(IngestConfig(source=f"idx:{tmp_path}"))
    assert bad.name.removesuffix(".gz") in str(e.value)


def test_run_writes_the_split_column_and_shape(tmp_path):
    make_set(tmp_path / "src")
    result = ingest.run(IngestConfig(source=f"idx:{tmp_path / 'src'}"), tmp_path / "raw")
    assert result.rows == 10 and result.dataset == "src"
    manifest = read_json(tmp_path / "raw/manifest.json")
    assert manifest["image_shape"] == [3, 3] and manifest["columns"][-2:] == ["label", "split"]
