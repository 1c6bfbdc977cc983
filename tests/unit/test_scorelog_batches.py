"""A scored batch that several requests share is logged in one append (`record_many`): each row keeps its
request's id and its position in that request; numeric inputs go to Arrow straight from numpy with the types
pandas' conversion gives (`segment_table`), so a segment may mix both ways."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from components.config.monitor import InferenceLogConfig
from components.inference.scorelog import store
from components.inference.scorelog.rows import RowSummarizer
from components.inference.scorelog.segtable import segment_table
from components.inference.scorelog.writer import InferenceLog
from tests.unit.test_scorelog import ckpt, outputs  # noqa: F401 - the module's checkpoint fixture


def test_one_append_keeps_each_requests_ids_and_rows(ckpt, tmp_path):  # noqa: F811
    rows = pd.DataFrame(np.random.default_rng(1).integers(0, 17, (9, 64)).astype(float),
                        columns=ckpt.transform.columns)
    cfg = InferenceLogConfig(flush_s=3600)
    log = InferenceLog(tmp_path, "digits-cnn", "2", RowSummarizer(ckpt, cfg), cfg, "serve")
    ids = log.record_many(rows, outputs(9), [("a", 2), ("a", 3), (None, 4)])  # "a" again: its rows go on
    log.close()
    frame = store.read_window(tmp_path, "digits-cnn")[0].sort_values(["request_id", "row"])
    assert ids[0] == ids[1] == "a" and len(ids[2]) == 32 and log.counts["logged"] == 9
    assert frame.groupby("request_id")["row"].apply(list).to_dict() == {"a": [0, 1, 2, 3, 4], ids[2]: [0, 1, 2, 3]}
    got = frame.set_index(["request_id", "row"]).loc[[("a", 3), (ids[2], 1)], [f"f.px_{i}" for i in range(64)]]
    assert np.array_equal(got.to_numpy(), rows.iloc[[3, 6]].to_numpy())


def test_numbers_take_the_types_pandas_gives():
    meta = {"ts": pd.Timestamp.now(tz="UTC"), "version": "1", "request_id": np.array(["x", "y"], dtype=object),
            "row": np.arange(2, dtype=np.int64), "source": "serve"}
    inputs = pd.DataFrame({"a": [1.0, 2.0], "b": [3, 4]})  # two dtypes: column by column
    for prediction in (pd.Series([1, 2]), pd.Series(["cat", "dog"]), pd.Series([0.5, 1.5]), None):
        fast = segment_table(meta, prediction, inputs, ["a", "b"], np.arange(2))
        frame = pd.DataFrame(meta).assign(**({} if prediction is None else {"prediction": prediction.to_numpy()}))
        slow = pa.Table.from_pandas(pd.concat([frame, inputs], axis=1), preserve_index=False)
        assert fast.schema.equals(slow.schema, check_metadata=False), (fast.schema, slow.schema)
        assert fast.to_pylist() == slow.to_pylist()
    meta |= {"request_id": np.array(["y"], dtype=object), "row": np.array([1])}  # one row kept, one block
    one = segment_table(meta, None, inputs[["a"]].assign(c=5.0), ["a", "c"], np.array([1]))
    assert one.column("c").to_pylist() == [5.0] and one.column("a").to_pylist() == [2.0]
