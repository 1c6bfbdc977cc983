"""`keel feedback` refuses a labels file whole (exit 1, nothing stored) when it names a model that is not
registered, request ids in no inference log, or labels the scoring version cannot predict."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pytest
from mlflow import MlflowClient
from typer.testing import CliRunner

from components.core.errors import StageInputError
from components.inference.scorelog import store
from components.monitoring import feedback
from flows.cli import app

DIGITS = ("classification", list(range(10)))


def test_labels_outside_the_classes_are_named_with_file_and_column(tmp_path):
    path = tmp_path / "labels.csv"
    path.write_text("request_id,row,label\na,0,3\na,1,0x\nb,0,7\nb,1,12\n")
    frame = pd.read_csv(path)  # a column mixing "3" and "0x" is read as text
    with pytest.raises(StageInputError, match=r"labels.csv: column 'label': 2 label\(s\) not among the classes "
                                              r"of m v1 \[0, 1, .*'0x', '12'"):
        feedback.check(path, "m", frame, {"a": "1", "b": "1"}, lambda v: DIGITS)
    feedback.check(path, "m", frame.iloc[[0, 2]], {"a": "1", "b": "1"}, lambda v: DIGITS)  # "3" is class 3
    with pytest.raises(StageInputError, match=r"column 'label': 1 label\(s\) not numbers .*'x'"):
        feedback.check(path, "m", frame.assign(label=[1.5, 2, "x", 3]), {"a": "1", "b": "1"},
                       lambda v: ("regression", None))


def test_unknown_request_ids_or_model_refuse_the_whole_file(mlflow_store, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    log = tmp_path / "log"
    client = MlflowClient(tracking_uri=mlflow_store, registry_uri=mlflow_store)
    client.create_registered_model("m")
    client.create_model_version("m", source=(tmp_path / "m").as_uri())
    ts = pd.Timestamp.now(tz="UTC")
    store.write_parts(log, "m", "seg", pa.table({"ts": pa.array([ts, ts], pa.timestamp("us", tz="UTC")),
                                                 "version": ["1", "1"], "request_id": ["a", "a"], "row": [0, 1],
                                                 "source": ["batch", "batch"]}))
    labels = tmp_path / "labels.csv"
    labels.write_text("request_id,row,label\na,0,3\nzz,0,4\nyy,0,5\n")
    runner = CliRunner()

    result = runner.invoke(app, ["feedback", "m", str(labels), "--log-dir", str(log)])
    assert result.exit_code == 1, result.output
    assert "labels.csv: column 'request_id': 2 request id(s) in no inference log of m: 'zz', 'yy'" in result.output
    result = runner.invoke(app, ["feedback", "n", str(labels), "--log-dir", str(log)])
    assert result.exit_code == 1 and "'n': not in the registry" in result.output, result.output
    assert not (log / store.FEEDBACK).exists()  # nothing half-written


def test_labels_since_a_check_are_those_whose_latest_value_came_later(tmp_path):
    first = store.write_feedback(tmp_path, "m", pd.DataFrame({"request_id": ["a", "a"], "row": [0, 1],
                                                              "label": [3, 4]}))
    assert store.read_feedback(tmp_path, "m", exclude={first.name}).empty  # all joined by an earlier check
    store.write_feedback(tmp_path, "m", pd.DataFrame({"request_id": ["a", "b"], "row": [1, 0], "label": [5, 6]}))
    late = store.read_feedback(tmp_path, "m", exclude={first.name})  # a relabelled row counts as late
    assert late.sort_values("request_id").values.tolist() == [["a", 1, 5], ["b", 0, 6]]
    assert len(store.read_feedback(tmp_path, "m")) == 3
