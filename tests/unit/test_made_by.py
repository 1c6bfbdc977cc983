"""The flow trusts its cache only for outputs the cached run made (components/stages/made_by.py)."""

import os

from components.stages import made_by


def test_outputs_are_trusted_only_as_the_recorded_run_left_them(tmp_path):
    out, state = tmp_path / "models", tmp_path / "state"
    out.mkdir()
    (out / "model.pt").write_bytes(b"cnn")
    made_by.record("train", "key-cnn", [out, tmp_path / "absent.json"], state)
    assert made_by.made_by("train", "key-cnn", [out, tmp_path / "absent.json"], state)
    assert not made_by.made_by("train", "key-rnn", [out, tmp_path / "absent.json"], state)  # another run's key
    assert not made_by.made_by("evaluate", "key-cnn", [out], state)  # nothing recorded for that stage
    st = (out / "model.pt").stat()
    (out / "model.pt").write_bytes(b"rnn")  # replaced by another run: same size
    os.utime(out / "model.pt", ns=(st.st_atime_ns, st.st_mtime_ns + 1))
    assert not made_by.made_by("train", "key-cnn", [out, tmp_path / "absent.json"], state)
    made_by.record("train", "key-cnn", [out], state)
    (tmp_path / "extra").mkdir()
    (out / "new.txt").write_text("x")  # a file added
    assert not made_by.made_by("train", "key-cnn", [out], state)
