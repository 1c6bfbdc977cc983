"""`dvc exp run -S model=image_cnn` in a fresh git copy, full size (`quality`: `make test-quality`): `keel:photos`
writes 1,500 real digits as a folder `<class>/*` of RGB and gray PNG and JPEG files of 20-48 px sides; the
transform decodes, resizes to 32x32 RGB and standardises; the cnn architecture meets the family's bar (test
accuracy >= 0.90) above the classical baseline fitted in the same run, registers @staging, and the registered
pyfunc scores raw photo files (encoded bytes) from a clean process holding only the model's requirements."""

import pytest

from tests.helpers import make_repo_copy
from tests.pipeline.dvc_helpers import client, exp_run_family
from tests.pipeline.media_helpers import clean_venv, score_in_clean_process

pytestmark = [pytest.mark.slow, pytest.mark.quality]
NAME = "photos-cnn"  # <dataset>-<architecture>, as fashion_cnn registers fashion-mnist-cnn


@pytest.fixture(scope="module")
def full(tmp_path_factory):
    repo = make_repo_copy(tmp_path_factory.mktemp("keel-image-cnn"))
    return repo, exp_run_family(repo, "image_cnn")


def test_image_cnn_meets_the_bar_on_a_folder_of_photos(full):
    repo, metrics = full
    assert metrics["accuracy"] >= 0.90, metrics
    mv = client(repo).get_model_version_by_alias(NAME, "staging")
    assert mv.tags["family"] == "image_cnn" and mv.tags["gate.absolute"] == "pass"


def test_registered_image_cnn_scores_raw_photos_from_a_clean_process(full, tmp_path):
    repo, _ = full
    files = sorted((repo / "data/raw/photos").rglob("*.*"))[::150][:6]  # one of each of the first classes
    out = score_in_clean_process(repo, NAME, "image", files, clean_venv(repo, NAME, tmp_path / "venv"))
    assert sum(str(r["prediction"]) == f.parent.name for r, f in zip(out, files, strict=True)) >= 5
