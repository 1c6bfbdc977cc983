import pytest

from components.core.errors import StageInputError
from components.core.io import atomic_dir, atomic_path, read_json, require_files, sha256_paths, write_json


def test_atomic_path_keeps_old_file_on_error(tmp_path):
    target = write_json(tmp_path / "a.json", {"v": 1})
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half-written")
        raise RuntimeError("boom")
    assert read_json(target) == {"v": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json"]


def test_atomic_dir_swaps_only_on_success(tmp_path):
    dest = tmp_path / "out"
    with atomic_dir(dest) as tmp:
        (tmp / "f").write_text("one")
    with pytest.raises(ValueError), atomic_dir(dest) as tmp:
        (tmp / "f").write_text("two")
        raise ValueError
    assert (dest / "f").read_text() == "one"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_written_files_get_normal_permissions(tmp_path):
    path = write_json(tmp_path / "p.json", {})
    assert path.stat().st_mode & 0o044 == 0o044  # group/other readable (mkstemp alone gives 0600)


def test_sha256_paths_depends_on_content_and_names(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "x").write_text("1")
    h1 = sha256_paths([tmp_path / "d"])
    (tmp_path / "d" / "x").write_text("2")
    h2 = sha256_paths([tmp_path / "d"])
    (tmp_path / "d" / "x").rename(tmp_path / "d" / "y")
    assert len({h1, h2, sha256_paths([tmp_path / "d"])}) == 3


def test_missing_inputs_are_named(tmp_path):
    with pytest.raises(StageInputError, match="missing a.txt, b.txt"):
        require_files(tmp_path, ["a.txt", "b.txt"])
    with pytest.raises(StageInputError, match="nope.json: missing"):
        read_json(tmp_path / "nope.json")
