import gzip

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from components.config.sections import IngestConfig
from components.core import paths
from components.core.errors import IngestError
from components.core.io import read_json, sha256_file
from components.stages import ingest


def test_sklearn_digits_layout():
    raw = ingest.load_raw(IngestConfig(source="sklearn:digits"))
    assert raw.frame.shape == (1797, 65)
    assert raw.frame["label"].dtype == "int64"
    assert raw.image_shape == (8, 8) and raw.dataset == "digits"
    assert raw.frame.drop(columns="label").to_numpy().max() == 16


def test_csv_and_parquet_read_the_same(tmp_path, small_digits):
    small_digits.to_csv(tmp_path / "d.csv", index=False)
    small_digits.to_parquet(tmp_path / "d.parquet", index=False)
    a = ingest.load_raw(IngestConfig(source=str(tmp_path / "d.csv"))).frame
    b = ingest.load_raw(IngestConfig(source=str(tmp_path / "d.parquet"))).frame
    pd.testing.assert_frame_equal(a, b)


def test_label_column_is_renamed(tmp_path, tiny_frame):
    tiny_frame.rename(columns={"label": "digit"}).to_csv(tmp_path / "t.csv", index=False)
    raw = ingest.load_raw(IngestConfig(source=str(tmp_path / "t.csv"), label_column="digit"))
    assert "label" in raw.frame.columns and "digit" not in raw.frame.columns


def test_image_folder(tmp_path):
    rng = np.random.default_rng(0)
    for cls in ("3", "7"):
        (tmp_path / cls).mkdir()
        for i in range(2):
            Image.fromarray(rng.integers(0, 256, (5, 5), dtype=np.uint8)).save(tmp_path / cls / f"{i}.png")
    raw = ingest.load_raw(IngestConfig(source=str(tmp_path)))
    assert raw.frame.shape == (4, 26)
    assert sorted(raw.frame["label"].unique()) == [3, 7]  # numeric folder names become ints
    assert raw.image_shape == (5, 5)


def test_image_folder_errors_name_the_file(tmp_path):
    (tmp_path / "a").mkdir()
    Image.fromarray(np.zeros((4, 4), np.uint8)).save(tmp_path / "a" / "ok.png")
    Image.fromarray(np.zeros((5, 4), np.uint8)).save(tmp_path / "a" / "tall.png")
    with pytest.raises(IngestError, match=r"tall\.png: image is 5x4"):
        ingest.load_raw(IngestConfig(source=str(tmp_path)))
    (tmp_path / "a" / "tall.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")  # truncated
    with pytest.raises(IngestError, match=r"tall\.png: not a readable PNG"):
        ingest.load_raw(IngestConfig(source=str(tmp_path)))


@pytest.mark.parametrize("name,content,match", [
    ("empty.csv", b"", "file is empty"),
    ("blank.csv", b"\n\n", "no columns"),
    ("cut.parquet", b"PAR1\x00\x00garbage", "not a readable Parquet"),
    ("bad.csv.gz", b"not gzip at all", "not a readable CSV"),
    ("data.json", b"{}", "unsupported source type"),
])
def test_unreadable_sources_name_the_file(tmp_path, name, content, match):
    (tmp_path / name).write_bytes(content)
    with pytest.raises(IngestError, match=match) as e:
        ingest.load_raw(IngestConfig(source=str(tmp_path / name)))
    assert name in str(e.value)


def test_missing_source_and_unknown_bundle(tmp_path):
    with pytest.raises(IngestError, match="not found"):
        ingest.load_raw(IngestConfig(source=str(tmp_path / "nope.csv")))
    with pytest.raises(IngestError, match="unknown bundled dataset"):
        ingest.load_raw(IngestConfig(source="sklearn:mnist"))


def test_gzipped_csv(tmp_path, tiny_frame):
    with gzip.open(tmp_path / "t.csv.gz", "wt") as f:
        tiny_frame.to_csv(f, index=False)
    assert len(ingest.load_raw(IngestConfig(source=str(tmp_path / "t.csv.gz"))).frame) == 3


def test_run_writes_parquet_and_manifest(tmp_path):
    out = tmp_path / "raw"
    result = ingest.run(IngestConfig(), out)
    manifest = read_json(out / paths.MANIFEST_FILE)
    assert manifest["rows"] == result.rows == 1797
    assert manifest["sha256"] == sha256_file(out / paths.RAW_FILE) == result.sha256
    assert manifest["image_shape"] == [8, 8]


def test_failed_ingest_leaves_previous_output_intact(tmp_path):
    out = tmp_path / "raw"
    ingest.run(IngestConfig(), out)
    before = sha256_file(out / paths.RAW_FILE)
    (tmp_path / "empty.csv").write_bytes(b"")
    with pytest.raises(IngestError):
        ingest.run(IngestConfig(source=str(tmp_path / "empty.csv")), out)
    assert sha256_file(out / paths.RAW_FILE) == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


@pytest.mark.parametrize("source,name", [("sklearn:digits", "digits"), ("data/My Set.csv.gz", "my_set"),
                                         ("x/imgs/", "imgs"), ("a.parquet", "a")])
def test_dataset_name(source, name):
    assert ingest.dataset_name(source) == name
