"""An inferred expectation suite as a reviewable file, and how it meets the hand-written one.

`suites/<dataset>.json` is GX 1.x's own suite JSON (`ExpectationSuite.to_json_dict()`), ids dropped,
expectations sorted by (column, type), keys sorted, so a review diff shows what changed; `<dataset>.derived.json`
beside it says how to compute the derived columns some expectations check (pixel mean, text coverage, with its
vocabulary). `merge`: HAND-WRITTEN ALWAYS WINS.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict

from components.core.errors import StageInputError
from components.core.io import atomic_path
from components.data.profile import PER_COLUMN_MAX
from components.data.transforms.text import TOKEN_PATTERN

PIXEL_MEAN, TOKENS, COVERAGE = "derived_pixel_mean", "derived_text_tokens", "derived_text_coverage"
PIXEL_MIN, PIXEL_MAX, PIXEL_NULLS = "derived_pixel_min", "derived_pixel_max", "derived_pixel_nulls"  # wide images


class DerivedSpec(BaseModel):
    """What `derived_frame` computes; written next to the suite (the vocabulary is large)."""

    model_config = ConfigDict(extra="forbid")

    pixels: list[str] = []
    text: str | None = None
    token_pattern: str = TOKEN_PATTERN
    vocab: list[str] = []

    def columns(self) -> list[str]:
        """The derived columns, in order."""
        wide = [PIXEL_MIN, PIXEL_MAX, PIXEL_NULLS] if len(self.pixels) > PER_COLUMN_MAX else []
        return ([PIXEL_MEAN] if self.pixels else []) + wide + ([TOKENS, COVERAGE] if self.text else [])


def tokenize(text: str, pattern: str = TOKEN_PATTERN) -> list[str]:
    """Keel's tokenizer (the text transform's): lower-cased runs of letters, digits and apostrophes."""
    return re.findall(pattern, text.lower())


def derived_frame(df: pd.DataFrame, spec: DerivedSpec) -> pd.DataFrame:
    """The derived columns of `df`, as a frame of their own (the raw frame's shape checks stay untouched).
    Pixels are averaged over those present: a missing one fails the raw frame's column checks, named there."""
    out: dict[str, Any] = {}
    present = [c for c in spec.pixels if c in df.columns]
    if present:
        values = df[present].apply(pd.to_numeric, errors="coerce")
        out[PIXEL_MEAN] = values.mean(axis=1).to_numpy(dtype=float)
        if len(spec.pixels) > PER_COLUMN_MAX:  # one row-wise check instead of one expectation per pixel
            out[PIXEL_MIN] = values.min(axis=1).to_numpy(dtype=float)
            out[PIXEL_MAX] = values.max(axis=1).to_numpy(dtype=float)
            out[PIXEL_NULLS] = values.isna().sum(axis=1).to_numpy(dtype=float)
    if spec.text and spec.text in df.columns:
        vocab = set(spec.vocab)
        tokens = [tokenize(t, spec.token_pattern) if isinstance(t, str) else [] for t in df[spec.text].tolist()]
        out[TOKENS] = np.array([len(t) for t in tokens], dtype=float)
        out[COVERAGE] = np.array([sum(w in vocab for w in t) / len(t) if t else np.nan for t in tokens])
    return pd.DataFrame(out, index=df.index)


class InferredSuite(BaseModel):
    """The suite (GX JSON) and the spec of the derived columns it checks."""

    suite: dict[str, Any]
    derived: DerivedSpec

    def write(self, path: Path) -> tuple[Path, Path]:
        """`<path>` (the suite) and `<stem>.derived.json` (the derived-column spec), atomically."""
        path, side = Path(path), sidecar(path)
        for target, text in ((path, dumps(self.suite)),
                             (side, json.dumps(self.derived.model_dump(), indent=1, sort_keys=True) + "\n")):
            with atomic_path(target) as tmp:
                tmp.write_text(text)
        return path, side

    @classmethod
    def read(cls, path: Path) -> InferredSuite:
        """Read a suite written by `write`; a missing file names the command that writes it."""
        path = Path(path)
        if not path.is_file():
            raise StageInputError(f"{path}: no inferred suite (write it with `keel suite infer <model>`)")
        try:
            suite = json.loads(path.read_text())
            side = sidecar(path)
            derived = DerivedSpec.model_validate_json(side.read_text()) if side.is_file() else DerivedSpec()
        except ValueError as e:
            raise StageInputError(f"{path}: not a readable suite: {e}") from e
        if not isinstance(suite, dict) or not isinstance(suite.get("expectations"), list):
            raise StageInputError(f"{path}: not a GX suite (no `expectations` list)")
        return cls(suite=suite, derived=derived)


def sidecar(path: Path) -> Path:
    """Where the derived-column spec of a suite file lives."""
    return Path(path).with_name(Path(path).stem + ".derived.json")


def key(e: dict[str, Any]) -> tuple[str, str]:
    """(expectation type, the column(s) it is about; "" for table-level)."""
    kw = e.get("kwargs", {})
    if "column" in kw:
        col = str(kw["column"])
    elif "column_list" in kw:
        col = ",".join(map(str, kw["column_list"]))
    elif "column_A" in kw:
        col = f"{kw['column_A']},{kw['column_B']}"
    else:
        col = ""
    return e["type"], col


def _sort_key(e: dict[str, Any]) -> tuple[str, int, str]:
    t, col = key(e)
    return col, 0 if t == "expect_column_to_exist" else 1, t


def to_gx(e: dict[str, Any]) -> Any:
    """A JSON expectation -> GX's expectation object (validates its type and kwargs)."""
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

    import components.data.gx_extra  # noqa: F401  (registers Keel's expectation types)

    cfg = {k: v for k, v in e.items() if k in ("type", "kwargs", "meta", "notes", "severity")}
    return ExpectationConfiguration(**cfg).to_domain_obj()


def to_json(expectation: Any) -> dict[str, Any]:
    """A GX expectation object -> its JSON form (type, kwargs, meta), as a suite file holds it."""
    cfg = expectation.configuration
    return {"type": cfg.type, "kwargs": json.loads(json.dumps(dict(cfg.kwargs), default=str)),
            "meta": dict(cfg.meta or {})}


def normalise(suite: dict[str, Any]) -> dict[str, Any]:
    """GX suite JSON with no ids, expectations sorted by (column, type), through GX (so it is a valid suite)."""
    import great_expectations as gx

    obj = gx.ExpectationSuite(name=suite["name"], expectations=[to_gx(e) for e in suite["expectations"]],
                              meta=suite.get("meta") or {})
    d = obj.to_json_dict()
    d.pop("id", None)
    for e in d["expectations"]:
        e.pop("id", None)
        e.pop("rendered_content", None)
    d["expectations"] = sorted(d["expectations"], key=_sort_key)
    return json.loads(json.dumps(d, sort_keys=True, default=str))


def dumps(suite: dict[str, Any]) -> str:
    """Stable, reviewable JSON: sorted keys, one-space indent, trailing newline."""
    return json.dumps(suite, indent=1, sort_keys=True) + "\n"


def merge(inferred: dict[str, Any], hand_written: list[dict[str, Any]], name: str | None = None) -> dict[str, Any]:
    """Inferred + hand-written, HAND-WRITTEN ALWAYS WINS: an inferred expectation with the same (type, column)
    as a hand-written one is dropped; a hand-written one whose meta has `keel_disable: true` only removes its
    inferred twin (e.g. value quantiles on a trending series). `meta.keel_merge` lists what was overridden."""
    hand = [{**e, "meta": {**(e.get("meta") or {}), "keel_origin": "hand-written"}} for e in hand_written]
    hand_keys = {key(e) for e in hand}
    disabled = {key(e) for e in hand if e["meta"].get("keel_disable")}
    hand = [e for e in hand if not e["meta"].get("keel_disable")]
    kept = [e for e in inferred["expectations"] if key(e) not in hand_keys]
    inferred_keys = {key(e) for e in inferred["expectations"]}

    def label(k: tuple[str, str]) -> str:
        return f"{k[0]}({k[1]})" if k[1] else k[0]

    meta = dict(inferred.get("meta") or {})
    meta["keel_merge"] = {"hand_written": len(hand), "inferred_kept": len(kept),
                          "inferred_overridden": sorted(label(k) for k in (inferred_keys & hand_keys) - disabled),
                          "inferred_disabled": sorted(label(k) for k in inferred_keys & disabled)}
    return normalise({"name": name or inferred["name"], "expectations": hand + kept, "meta": meta})


class SuiteChoice(BaseModel):
    """What `validate.suite` selects, ready for the validator: `combine` turns the params suite's expectations
    into the ones to run on the raw frame, `derived` are run on `derived_frame(df, spec)`."""

    mode: str  # inferred | both
    inferred: InferredSuite

    def _split(self, expectations: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        derived = set(self.inferred.derived.columns())
        on_derived = [e for e in expectations if e.get("kwargs", {}).get("column") in derived]
        return [e for e in expectations if e not in on_derived], on_derived

    def combine(self, hand_written: list[Any], covered: set[tuple[str, str]] | frozenset = frozenset()) -> list[Any]:
        """The expectations for the raw frame (GX objects): the inferred ones, merged under the hand-written.
        `covered`: (type, column) of hand-written checks run elsewhere (the column profile); in `both` mode
        their inferred twins are dropped as well."""
        suite = self.inferred.suite
        if self.mode == "both":
            kept = [e for e in suite["expectations"] if key(e) not in covered]
            suite = merge({**suite, "expectations": kept}, [to_json(e) for e in hand_written])
        return [to_gx(e) for e in self._split(suite["expectations"])[0]]

    def derived(self) -> list[Any]:
        """The expectations on derived columns (GX objects)."""
        return [to_gx(e) for e in self._split(self.inferred.suite["expectations"])[1]]


def suite_path(suites_dir: Path, dataset: str) -> Path:
    """Where the inferred suite of a dataset lives (`keel suite infer` writes it, validate reads it)."""
    return Path(suites_dir) / f"{dataset}.json"


def choose(mode: str, suites_dir: Path, dataset: str) -> SuiteChoice | None:
    """`validate.suite` -> what the validator runs besides (or instead of) the params suite; None: params only."""
    if mode == "params":
        return None
    return SuiteChoice(mode=mode, inferred=InferredSuite.read(suite_path(suites_dir, dataset)))


def add_docs_site(ctx: Any, docs_dir: Path) -> None:
    """Give a GX context a Data Docs site (`keel`) in `docs_dir`."""
    ctx.add_data_docs_site(site_name="keel", site_config={
        "class_name": "SiteBuilder", "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
        "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(Path(docs_dir).resolve())},
    })


def render_docs(inferred: InferredSuite, docs_dir: Path) -> Path:
    """The suite as a GX Data Docs site (one page per suite; each expectation with its `why` as notes)."""
    import great_expectations as gx

    ctx = gx.get_context(mode="ephemeral")
    add_docs_site(ctx, docs_dir)
    ctx.suites.add(gx.ExpectationSuite(name=inferred.suite["name"], meta=inferred.suite.get("meta") or {},
                                       expectations=[to_gx(e) for e in inferred.suite["expectations"]]))
    ctx.build_data_docs(site_names=["keel"])
    return Path(docs_dir) / "expectations" / f"{inferred.suite['name']}.html"  # plain HTML; GX's index is blank offline
