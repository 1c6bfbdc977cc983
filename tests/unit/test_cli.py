import json
import subprocess
import sys

import pytest
import typer
from typer.testing import CliRunner

from flows.cli import app, parse_overrides
from tests.helpers import ROOT, write_params

runner = CliRunner()


def test_parse_overrides_types_values_like_dvc():
    assert parse_overrides(["train.lr=0.003", "train.cnn.channels=[4, 8]", "model=cnn"]) == {
        "train.lr": 0.003, "train.cnn.channels": [4, 8], "model": "cnn"}
    with pytest.raises(typer.BadParameter):
        parse_overrides(["train.lr"])


def test_params_command_prints_resolved_params():
    result = runner.invoke(app, ["params", "-p", str(ROOT / "params.yaml"), "-S", "train.lr=0.5"])
    assert result.exit_code == 0, result.output
    assert "lr: 0.5" in result.output and "# sha256:" in result.output


def test_params_command_fails_on_unknown_key(tmp_path):
    path = write_params(tmp_path / "p.yaml", {"evaluate": {"batchsize": 3}})
    result = runner.invoke(app, ["params", "-p", str(path)])
    assert result.exit_code == 1
    assert "evaluate.batchsize: unknown key" in result.output


def test_params_command_warns_when_a_family_default_shadows_a_shared_key(tmp_path):
    path = write_params(tmp_path / "p.yaml", {"model": "rnn", "train.lr": 0.5})
    result = runner.invoke(app, ["params", "-p", str(path)])
    assert result.exit_code == 0, result.output
    assert "warning: train.lr: p.yaml sets 0.5, but family rnn's default 0.003 wins" in result.stderr
    assert "lr: 0.003" in result.stdout  # the precedence stays
    stock = runner.invoke(app, ["params", "-p", str(ROOT / "params.yaml"), "-S", "model=text_gru"])
    assert stock.exit_code == 0 and stock.stderr == ""
    asked = runner.invoke(app, ["params", "-p", str(ROOT / "params.yaml"), "-S", "model=text_gru", "-S",
                                "train.lr=0.001"])  # the class default, asked for: said, though the file has it too
    assert asked.exit_code == 0 and asked.stderr == (
        "warning: train.lr: -S train.lr=0.001 asks for 0.001, but family text_gru's default 0.002 wins; give -S "
        "train.text_gru.lr=0.001 instead\n")


def test_params_stage_warns_and_writes_the_views(tmp_path):
    path = write_params(tmp_path / "params.yaml", {"model": "rnn", "train.lr": 0.5})
    done = subprocess.run([sys.executable, "-m", "components.stages", "params", "--params", str(path), "--out",
                           str(tmp_path / "views")], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "warning: train.lr: params.yaml sets 0.5, but family rnn's default 0.003 wins; set train.rnn.lr" \
        in done.stderr
    assert json.loads((tmp_path / "views" / "train.json").read_text())["train"]["lr"] == 0.003


def test_commands_show_no_mlflow_download_bar_unless_asked(monkeypatch):
    from mlflow.environment_variables import MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR as bar

    monkeypatch.delenv(bar.name, raising=False)
    assert CliRunner().invoke(app, ["version"]).exit_code == 0 and bar.get() is False
    monkeypatch.setenv(bar.name, "true")  # a user who wants it keeps it
    assert CliRunner().invoke(app, ["version"]).exit_code == 0 and bar.get() is True


def test_version_lists_the_stack():
    result = runner.invoke(app, ["version"])
    assert result.exit_code == 0 and set(json.loads(result.output)) >= {"keel", "mlflow", "prefect", "dvc"}


@pytest.mark.parametrize("content", ["", "label\n\"0\n"])
def test_feedback_names_an_empty_or_corrupt_labels_file(tmp_path, content):
    labels = tmp_path / "labels.csv"
    labels.write_text(content)
    result = runner.invoke(app, ["feedback", "digits-cnn", str(labels), "--request-id", "r1",
                                 "--log-dir", str(tmp_path / "log")])
    assert result.exit_code == 1 and result.exception is not None and isinstance(result.exception, SystemExit)
    assert f"{labels}:" in result.output
    assert not (tmp_path / "log").exists()


def test_serve_on_a_port_in_use_fails_at_once_naming_it(mlflow_store, tmp_path, monkeypatch):
    import socket

    monkeypatch.chdir(tmp_path)
    with socket.create_server(("127.0.0.1", 0)) as taken:  # listening: as another server would be
        port = taken.getsockname()[1]
        result = runner.invoke(app, ["serve", "not-loaded", "--port", str(port)])
    # named before the model is looked up: this model is not even registered
    assert result.exit_code == 1 and f"cannot listen on 127.0.0.1:{port}" in result.output, result.output
    assert "in use" in result.output and "not in the registry" not in result.output
