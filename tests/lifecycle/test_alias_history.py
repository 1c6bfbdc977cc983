"""`keel history` lists the register stage's @staging moves (version tags) and the ledger's @production moves
in time order, each with its alias and source; `keel rollback` still reads the ledger alone."""

import json

from mlflow import MlflowClient
from typer.testing import CliRunner

from components.lifecycle import alias_history, ledger, moves, registry
from flows.cli import app


def test_history_merges_staging_and_production_moves_in_time_order(mlflow_store, monkeypatch, tmp_path):
    monkeypatch.setenv("KEEL_USER", "tester")
    client = MlflowClient(tracking_uri=mlflow_store, registry_uri=mlflow_store)
    client.create_registered_model("m")
    for _ in range(3):  # registry entries are all a move needs
        client.create_model_version("m", source=(tmp_path / "none").as_uri())

    assert alias_history.record_stage("m", registry.get_version("m", "1"), "staging")
    moves.move("m", "production", "1", None, "promote", "first", None)
    assert alias_history.record_stage("m", registry.get_version("m", "2"), "staging")
    assert not alias_history.record_stage("m", registry.get_version("m", "2"), "staging")  # a re-run: no move
    client.set_registered_model_alias("m", "staging", "3")  # a register stopped between the alias and its record
    assert not alias_history.record_stage("m", registry.get_version("m", "3"), "staging")  # recorded by the re-run
    moves.move("m", "production", "2", "1", "promote", "second", None)

    out = CliRunner().invoke(app, ["history", "m", "--json"])
    assert out.exit_code == 0, out.output
    rows = [json.loads(line) for line in out.stdout.splitlines()]
    assert [(r["alias"], r["source"], r["action"], r["from_version"], r["to_version"]) for r in rows] == [
        ("staging", "register", "stage", None, "1"), ("production", "ledger", "promote", None, "1"),
        ("staging", "register", "stage", "1", "2"), ("staging", "register", "stage", "2", "3"),
        ("production", "ledger", "promote", "1", "2")]
    assert [r["ts"] for r in rows] == sorted(r["ts"] for r in rows) and {r["user"] for r in rows} == {"tester"}
    text = CliRunner().invoke(app, ["history", "m"]).stdout
    assert text.count(" register ") == 3 and text.count(" ledger ") == 2

    back = CliRunner().invoke(app, ["rollback", "m"])  # the ledger alone: @staging moves are not production's
    assert back.exit_code == 0, back.output
    assert registry.version_by_alias("m", "production").version == "1"
    assert registry.version_by_alias("m", "staging").version == "3"
    assert [e.action for e in ledger.history(ledger.engine_for(mlflow_store), "m")] == ["promote", "promote",
                                                                                      "rollback"]


def test_history_without_a_ledger_lists_the_staging_moves_with_a_warning(tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # a store with no database behind it, as a server is
    uri = (tmp_path / "mlruns").as_uri()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.delenv("KEEL_LEDGER_DB_URL", raising=False)
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    client.create_registered_model("m")
    client.create_model_version("m", source=(tmp_path / "none").as_uri())
    assert alias_history.record_stage("m", registry.get_version("m", "1"), "staging")  # unlocked: no ledger

    out = CliRunner().invoke(app, ["history", "m", "--json"])
    assert out.exit_code == 0, out.output
    assert [json.loads(line)["to_version"] for line in out.stdout.splitlines()] == ["1"]
    assert "KEEL_LEDGER_DB_URL" in out.stderr
