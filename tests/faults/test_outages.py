"""A tracking server that does not answer is named as an outage within seconds (which store, what to do),
never read as "not found": not by the registry adapter, `keel predict` or `keel promote`."""

import socket
import time

import pandas as pd
import pytest
from typer.testing import CliRunner

from components.core.errors import TrackingUnavailableError
from components.lifecycle import outages, registry
from flows.cli import app

OUTAGE = "cannot reach the MLflow tracking server at http://127.0.0.1:"


@pytest.fixture
def down(tmp_path, monkeypatch) -> str:
    """MLFLOW_TRACKING_URI on a port nobody listens on (credentials in it); Keel's own retry settings."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    uri = f"http://keel:s3cret@127.0.0.1:{port}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("KEEL_LEDGER_DB_URL", f"sqlite:///{tmp_path / 'ledger.db'}")  # the ledger answers
    for key in outages.FAIL_FAST:
        monkeypatch.delenv(key, raising=False)
    return uri


def test_an_unreachable_server_is_an_outage_named_in_seconds_not_a_missing_alias(down):
    for call in (lambda: registry.version_by_alias("digits-cnn", "production"),
                 lambda: registry.get_version("digits-cnn", "1")):
        started = time.monotonic()
        with pytest.raises(TrackingUnavailableError) as e:
            call()
        took = time.monotonic() - started
        assert OUTAGE in str(e.value) and "Is it running?" in str(e.value) and "s3cret" not in str(e.value)
        assert took < 20, f"gave up after {took:.1f} s"  # MLflow's own defaults: ~4 minutes


@pytest.mark.parametrize("command", [["predict", "digits-cnn", "in.parquet", "out.parquet"],
                                     ["promote", "digits-cnn"]])
def test_cli_commands_name_the_outage_and_exit_1(down, command, tmp_path):
    pd.DataFrame({"px_0": [0.0]}).to_parquet(tmp_path / "in.parquet")
    started = time.monotonic()
    out = CliRunner().invoke(app, [*command[:2], *(str(tmp_path / c) if c.endswith(".parquet") else c
                                                   for c in command[2:])])
    assert out.exit_code == 1 and OUTAGE in out.output, out.output
    assert "no version holds" not in out.output and "s3cret" not in out.output
    assert time.monotonic() - started < 30
