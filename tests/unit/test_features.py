import numpy as np
import pytest

from components.config.sections import FeaturesConfig, ImageValidateConfig, IngestConfig
from components.core import paths
from components.core.errors import DataValidationError, StageInputError
from components.core.io import read_json, write_json
from components.data import artifacts
from components.data import split as splitting
from components.data.transforms.image import ImageTransform
from components.data.transforms.registry import load_transform
from components.stages import features, ingest, validate


def test_split_is_stratified_disjoint_and_seeded(digits_frame):
    cfg = FeaturesConfig()
    parts = splitting.split(digits_frame, cfg)
    assert {k: len(v) for k, v in parts.items()} == {"train": 1257, "val": 270, "test": 270}
    keys = [set(map(tuple, p.to_numpy())) for p in parts.values()]
    assert sum(len(k) for k in keys) == len(set.union(*keys))  # no row in two splits (digits has no dupes)
    shares = parts["test"]["label"].value_counts(normalize=True)
    assert (shares - 0.1).abs().max() < 0.02
    again = splitting.split(digits_frame, cfg)
    assert all(parts[k].equals(again[k]) for k in parts)
    other = splitting.split(digits_frame, FeaturesConfig(seed=7))
    assert not parts["test"].equals(other["test"])


def test_transform_is_fitted_on_train_only(tiny_frame):
    t = ImageTransform.fit(tiny_frame.iloc[:2], {"image_shape": [2, 2]})
    assert t.mean == pytest.approx(3.5)  # rows 0-1 only; the full frame's mean is 5.5
    x = t.features(tiny_frame)
    assert x.shape == (3, 1, 2, 2) and x.dtype == np.float32
    assert load_transform(t.model_dump(mode="json")) == t


def test_transform_targets_and_errors(tiny_frame):
    t = ImageTransform.fit(tiny_frame, {"image_shape": [2, 2]})
    assert t.targets(tiny_frame).tolist() == [0, 1, 0]
    assert t.decode(np.array([1, 0])) == [1, 0]
    with pytest.raises(StageInputError, match="label 5 was not seen"):
        t.targets(tiny_frame.assign(label=[0, 5, 1]))
    with pytest.raises(StageInputError, match="lacks 1 column"):
        t.features(tiny_frame.drop(columns="px_2"))


def test_unstratifiable_split_is_explained(tiny_frame):
    with pytest.raises(StageInputError, match="cannot split"):
        splitting.split(tiny_frame, FeaturesConfig())


def _validated(tmp_path, frame):
    raw, val = tmp_path / "raw", tmp_path / "val"
    frame.to_parquet(tmp_path / "src.parquet", index=False)
    ingest.run(IngestConfig(source=str(tmp_path / "src.parquet")), raw)
    validate.run(ImageValidateConfig(min_rows=50), raw, val)
    return raw, val


def test_run_writes_splits_transform_and_hashes(tmp_path, small_digits):
    raw, val = _validated(tmp_path, small_digits)
    result = features.run(FeaturesConfig(), raw, val, tmp_path / "feat")
    info = read_json(tmp_path / "feat" / paths.SPLIT_FILE)
    assert info["sha256"] == result.sha256 and set(info["sha256"]) == {"train", "val", "test"}
    assert sum(result.sizes.values()) == len(small_digits)
    assert artifacts.load_fitted(tmp_path / "feat").classes == list(range(10))


def test_run_refuses_unvalidated_or_stale_data(tmp_path, small_digits):
    raw, val = _validated(tmp_path, small_digits)
    summary = read_json(val / paths.VALIDATION_FILE)
    write_json(val / paths.VALIDATION_FILE, summary | {"success": False})
    with pytest.raises(DataValidationError, match="failed validation"):
        features.run(FeaturesConfig(), raw, val, tmp_path / "feat")
    write_json(val / paths.VALIDATION_FILE, summary | {"data_sha256": "0" * 64})
    with pytest.raises(DataValidationError, match="different version"):
        features.run(FeaturesConfig(), raw, val, tmp_path / "feat")
    assert not (tmp_path / "feat").exists()


def test_random_split_without_validation_matches_sklearn(digits_frame):
    from sklearn.model_selection import train_test_split

    parts = splitting.split(digits_frame, FeaturesConfig(val_size=0.0, test_size=0.2), stratify=False)
    assert len(parts["val"]) == 0
    _, expected = train_test_split(np.arange(len(digits_frame)), test_size=0.2, random_state=42)
    assert parts["test"].equals(digits_frame.iloc[np.sort(expected)].reset_index(drop=True))
