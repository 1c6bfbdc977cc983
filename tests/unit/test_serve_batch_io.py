"""Request parsing for `keel serve` and input reading for `keel predict`: pure, no model needed."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from components.core.errors import StageInputError
from components.serving.batch import read_chunks
from components.serving.payload import BadRequest, parse

SCHEMA = [("a", "double"), ("b", "double"), ("c", "double")]


def body(payload) -> bytes:
    return payload if isinstance(payload, bytes) else json.dumps(payload).encode()


def test_mlflow_payload_formats_give_the_same_table():
    expected = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    bodies = [{"inputs": [[1, 2, 3], [4, 5, 6]]}, {"instances": [[1, 2, 3], [4, 5, 6]]},
              {"dataframe_split": {"columns": ["c", "b", "a"], "data": [[3, 2, 1], [6, 5, 4]]}},
              {"dataframe_records": [{"a": 1, "b": 2, "c": 3}, {"a": 4, "b": 5, "c": 6}]},
              {"inputs": {"a": [1, 4], "b": [2, 5], "c": [3, 6]}}]
    for payload in bodies:
        table = parse(body(payload), SCHEMA, 100)
        np.testing.assert_array_equal(table.to_frame(["a", "b", "c"]).to_numpy(), expected, err_msg=str(payload))
    nulls = parse(body({"inputs": [[1, None, 3]]}), SCHEMA, 100)  # a null is left to the family's checks
    assert np.isnan(nulls.matrix[0, 1])


def test_text_and_time_columns_keep_their_types():
    schema = [("timestamp", "datetime"), ("value", "double"), ("text", "string")]
    table = parse(body({"dataframe_records": [{"timestamp": "2024-01-01T00:00:00Z", "value": 1, "text": "a b"},
                                              {"timestamp": "2024-01-01T01:00:00Z", "value": 2.5, "text": "c"}]}),
                  schema, 100)
    frame = table.frame
    assert frame["timestamp"].dtype.kind == "M" and frame["timestamp"].iloc[1] == pd.Timestamp("2024-01-01T01:00")
    assert frame["value"].tolist() == [1.0, 2.5] and frame["text"].tolist() == ["a b", "c"]
    for payload, message in [({"inputs": {"timestamp": ["2024-01-01", "soon"], "value": [1, 2], "text": ["x", "y"]}},
                              "column timestamp: not an ISO 8601 date/time"),
                             ({"inputs": {"timestamp": ["2024-01-01"], "value": [1], "text": [7]}},
                              "column text: expected a string, got 7 (row 0)")]:
        with pytest.raises(BadRequest) as e:
            parse(body(payload), schema, 100)
        assert e.value.status == 422 and message in str(e.value)


@pytest.mark.parametrize("payload, status, message", [
    (b"{not json", 400, "body is not valid JSON"),
    (b'{"inputs": ' + b"[" * 5000 + b"]" * 5000 + b"}", 400, "nested too deeply"),
    ([1, 2], 400, "body must be a JSON object"),
    ({"rows": []}, 400, "exactly one of dataframe_split"),
    ({"inputs": [[1, 2]]}, 422, "each row must be a list of 3 values"),
    ({"dataframe_split": {"columns": ["a", "a", "b"], "data": [[1, 2, 3]]}}, 422, "duplicate column(s) ['a']"),
    ({"dataframe_records": [{"a": 1, "b": 2}]}, 422, "missing column(s) ['c']"),
    ({"dataframe_records": [{"a": 1, "b": 2, "c": 3, "d": 4}]}, 422, "unknown column(s) ['d']"),
    ({"dataframe_records": [{"a": 1, "b": "x", "c": 3}]}, 422, "column b: expected a number, got 'x' (row 0)"),
    ({"inputs": [[1, True, 3]]}, 422, "column b: expected a number, got True (row 0)"),
    ({"inputs": [[1, [[[2]]], 3]]}, 422, "column b: expected a number, got a list (row 0)"),
    ({"inputs": [[1, 2, 3]] * 11}, 413, "11 rows in one request; send at most 10"),
    ({"inputs": {"a": [1] * 11, "b": [1] * 11, "c": [1] * 11}}, 413, "send at most 10"),
    ({"inputs": []}, 422, "no rows to score"),
    ({"inputs": [[1, float("nan"), 3]]}, 400, "column b, row 0: NaN is not valid JSON (JSON has no NaN or Infinity"),
    ({"dataframe_records": [{"a": 1, "b": 2, "c": 3}, {"a": 1, "b": 2, "c": float("-inf")}]}, 400,
     "column c, row 1: -Infinity is not valid JSON"),
    (b'{"inputs": [[1, NaN]]}', 400, "line 1 column 17: NaN is not valid JSON"),  # unplaceable: where in the text
    # orjson counts characters, not bytes (é is two): the NaN is found after a non-ASCII letter too
    ('{"inputs": [[1, 2, 3]], "t": [["café", NaN]]}'.encode(), 400, "line 1 column 40: NaN is not valid JSON"),
    (b'{"inputs": [[1, nancy, 3]]}', 400, "body is not valid JSON: "),  # a word, not a NaN
])
def test_bad_requests_name_the_problem(payload, status, message):
    with pytest.raises(BadRequest) as e:
        parse(body(payload), SCHEMA, 10)
    assert e.value.status == status and message in str(e.value)


def test_inputs_are_read_in_bounded_chunks(tmp_path):
    df = pd.DataFrame({"a": range(10), "b": range(10)})
    df.to_csv(tmp_path / "x.csv", index=False)
    df.to_parquet(tmp_path / "x.parquet")
    for name in ("x.csv", "x.parquet"):
        sizes = [len(c) for c in read_chunks(tmp_path / name, 4)]
        assert sizes == [4, 4, 2], name
    with pytest.raises(StageInputError, match="missing.csv: input file not found"):
        list(read_chunks(tmp_path / "missing.csv", 4))
    (tmp_path / "x.json").write_text("{}")
    with pytest.raises(StageInputError, match="x.json: unsupported input"):
        list(read_chunks(tmp_path / "x.json", 4))
    (tmp_path / "broken.parquet").write_bytes(b"PAR1 not really")
    with pytest.raises(StageInputError, match="broken.parquet: not a readable Parquet file"):
        list(read_chunks(tmp_path / "broken.parquet", 4))


def test_default_chunks_hold_about_64_mib_of_values(tmp_path):
    from components.serving.batch import CHUNK_BYTES, default_chunk_rows

    pd.DataFrame({f"px_{i}": [0.0] for i in range(64)}).to_parquet(tmp_path / "digits.parquet", index=False)
    pd.DataFrame({f"px_{i}": [0] for i in range(784)}).to_csv(tmp_path / "fashion.csv", index=False)
    assert default_chunk_rows(tmp_path / "digits.parquet") == CHUNK_BYTES // (8 * 64) == 131_072
    assert default_chunk_rows(tmp_path / "fashion.csv") == CHUNK_BYTES // (8 * 784)
    pd.DataFrame({"a": [1]}).to_csv(tmp_path / "one.csv", index=False)
    assert default_chunk_rows(tmp_path / "one.csv") == 1_000_000  # capped
    with pytest.raises(StageInputError, match="nope.parquet: input file not found"):
        default_chunk_rows(tmp_path / "nope.parquet")


def test_a_file_to_score_without_a_model_column_names_it(tmp_path):
    from components.config.sections import section_schema
    from components.core.errors import DataValidationError
    from components.serving.batch import checked_chunks

    pixels = [f"px_{i}" for i in range(64)]
    cfg, manifest = section_schema("validate", "image").model_validate({}), {"kind": "image", "image_shape": [8, 8]}
    rows = pd.DataFrame(np.zeros((3, 64)), columns=pixels)
    rows.drop(columns=["px_5"]).assign(pixel5=0.0).to_csv(tmp_path / "x.csv", index=False)
    with pytest.raises(DataValidationError, match=r"x.csv: missing column\(s\) \['px_5'\]; unknown column\(s\) "
                                                  r"\['pixel5'\]"):
        list(checked_chunks(tmp_path / "x.csv", 2, cfg, manifest, columns=pixels))
    rows.assign(label=1).to_csv(tmp_path / "ok.csv", index=False)  # a label is dropped, not refused
    assert [len(c) for c, _ in checked_chunks(tmp_path / "ok.csv", 2, cfg, manifest, columns=pixels)] == [2, 1]


def test_predictions_are_not_written_as_parquet_under_another_name(tmp_path):
    from components.serving.batch import run

    pd.DataFrame({"a": [1.0]}).to_csv(tmp_path / "rows.csv", index=False)
    for name in ("predictions.csv", "predictions"):
        with pytest.raises(StageInputError, match=f"{name}: predictions are written as Parquet"):
            run("no-model", tmp_path / "rows.csv", tmp_path / name)  # refused before the registry is asked
        assert not (tmp_path / name).exists()


def test_a_missing_input_is_named_by_the_absolute_path_the_worker_looked_at(tmp_path, monkeypatch):
    """A deployment's input_path is relative: the error names where it was looked for, and from where."""
    from components.serving.batch import run

    monkeypatch.chdir(tmp_path)
    with pytest.raises(StageInputError) as e:
        run("no-model", Path("data/incoming/digits.parquet"), Path("out.parquet"))  # before the registry is asked
    assert str(e.value).startswith(f"{tmp_path / 'data/incoming/digits.parquet'}: input file not found")
    assert f"working directory {tmp_path}" in str(e.value) and "'data/incoming/digits.parquet'" in str(e.value)
    with pytest.raises(StageInputError) as e:  # an absolute path is the one looked at: nothing to add
        run("no-model", tmp_path / "in.parquet", Path("out.parquet"))
    assert str(e.value) == f"{tmp_path / 'in.parquet'}: input file not found"
