"""Request parsing for `keel serve` and input reading for `keel predict`: pure, no model needed."""

import pandas as pd
import pytest

from components.core.errors import StageInputError
from components.serving.batch import read_chunks
from components.serving.serve import BadRequest, parse_payload

COLS = ["a", "b", "c"]


def test_mlflow_payload_formats_give_the_same_frame():
    expected = pd.DataFrame({"a": [1.0, 4.0], "b": [2.0, 5.0], "c": [3.0, 6.0]})
    bodies = [{"inputs": [[1, 2, 3], [4, 5, 6]]}, {"instances": [[1, 2, 3], [4, 5, 6]]},
              {"dataframe_split": {"columns": ["c", "b", "a"], "data": [[3, 2, 1], [6, 5, 4]]}},
              {"dataframe_records": [{"a": 1, "b": 2, "c": 3}, {"a": 4, "b": 5, "c": 6}]},
              {"inputs": {"a": [1, 4], "b": [2, 5], "c": [3, 6]}}]
    for body in bodies:
        pd.testing.assert_frame_equal(parse_payload(body, COLS).reset_index(drop=True), expected)


@pytest.mark.parametrize("body, status, message", [
    ([1, 2], 400, "body must be a JSON object"),
    ({"rows": []}, 400, "exactly one of dataframe_split"),
    ({"inputs": [[1, 2]]}, 422, "each row must have 3 values"),
    ({"dataframe_records": [{"a": 1, "b": 2}]}, 422, "missing column(s) ['c']"),
    ({"dataframe_records": [{"a": 1, "b": 2, "c": 3, "d": 4}]}, 422, "unknown column(s) ['d']"),
    ({"dataframe_records": [{"a": 1, "b": "x", "c": 3}]}, 422, "column b: expected a number, got 'x' (row 0)"),
    ({"dataframe_records": [{"a": 1, "b": 2, "c": None}]}, 422, "column c: missing or non-finite value in row(s) [0]"),
    ({"inputs": []}, 422, "no rows to score"),
])
def test_bad_requests_name_the_problem(body, status, message):
    with pytest.raises(BadRequest) as e:
        parse_payload(body, COLS)
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
