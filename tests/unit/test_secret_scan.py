"""The secret scan of `make test` passes on the checkout's committed baseline and fails on a planted secret (in
a temporary copy of the files the baseline knows), naming the file; a known value that moved lines still passes."""

import json
import shutil
import subprocess

from tests import secret_scan
from tests.helpers import ROOT


def test_a_planted_secret_fails_the_scan_and_a_moved_known_one_does_not(tmp_path, capsys):
    baseline = json.loads((ROOT / secret_scan.BASELINE).read_text())
    for name in [secret_scan.BASELINE, *baseline["results"]]:  # the checkout's findings, all in the baseline
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / name, tmp_path / name)
    known = next(iter(baseline["results"]))
    (tmp_path / known).write_text("\n\n" + (tmp_path / known).read_text())  # same values, other lines
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    subprocess.run(["git", "add", "-A"], cwd=tmp_path, check=True)
    assert secret_scan.main([str(tmp_path)]) == 0, capsys.readouterr().err

    planted = tmp_path / "components" / "settings.py"
    planted.parent.mkdir(exist_ok=True)
    key = 'AWS_ACCESS_KEY_ID = "AKIAIOSFODNN7EXAMPLE"\n'  # pragma: allowlist secret
    planted.write_text(key + 'db_password = "kX9#mQ2vL7pR4wZ8"\n')  # pragma: allowlist secret
    subprocess.run(["git", "add", "-A"], cwd=tmp_path, check=True)
    assert secret_scan.main([str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "components/settings.py:1: AWS Access Key" in err and "components/settings.py:2: Secret Keyword" in err
