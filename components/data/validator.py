"""Great Expectations, run: a kind's suite (components/data/suites.py) through one GX context and
checkpoint, with Data Docs; the outcome as a `ValidationReport` whose failures name each check, column,
count and examples."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pandas as pd
from pydantic import BaseModel

from components.config.sections import ValidateConfig
from components.data.suite_file import SuiteChoice, add_docs_site, derived_frame
from components.data.suites import DERIVED, MEDIA_INDEX, PROFILES, SUITES

log = logging.getLogger(__name__)


class Failure(BaseModel):
    """One failed check."""

    expectation: str
    column: str | None = None
    unexpected_count: int | None = None
    examples: list[Any] = []
    error: str | None = None
    hint: str | None = None  # what the check asks for, when its name does not say it

    def describe(self) -> str:
        """`expect_x(column): N unexpected, e.g. [...]` in one line."""
        where = f"({self.column})" if self.column else ""
        hint = f" ({self.hint})" if self.hint else ""
        if self.error:
            return f"{self.expectation}{where}: {self.error}"
        if self.unexpected_count is not None:
            return (f"{self.expectation}{where}: {self.unexpected_count} unexpected value(s), e.g. "
                    f"{self.examples[:5]}{hint}")
        observed = f" (observed {self.examples[0]!r})" if self.examples else ""
        return f"{self.expectation}{where}: failed{observed}{hint}"


class ValidationReport(BaseModel):
    """The outcome of one validation run."""

    success: bool
    evaluated: int
    successful: int
    failures: list[Failure]
    rows: int
    data_sha256: str | None = None
    data_docs: str | None = None

    def message(self, subject: str) -> str:
        """Human summary naming every failed check."""
        lines = [f"{subject}: {len(self.failures)} of {self.evaluated} checks failed:"]
        lines += [f"  - {f.describe()}" for f in self.failures]
        return "\n".join(lines)


class Validator:
    """The kind's GX suites and checkpoints, built once and run on many frames of one column layout (batch
    chunks, partitions): a fresh GX context per frame costs ~0.05 s. Not thread-safe; use one per thread.

    `chunks=True` (successive chunks of one file to score, so no label and row bounds [1, max]): when the table
    suite holds only table-level checks (row and column counts, column set) and passed on a chunk, a later
    chunk with the same columns and 1..that many rows has the same outcome, so it is not run again (GX
    fingerprints every frame it sees: ~0.04 s per 250k rows).

    `suite`: `validate.suite` inferred | both (components/data/suite_file.py) in place of the params suite."""

    def __init__(self, cfg: ValidateConfig, manifest: dict[str, Any], docs_dir: Path | None = None,
                 require_label: bool = True, name: str = "raw", result_format: str = "SUMMARY", chunks: bool = False,
                 suite: SuiteChoice | None = None):
        import great_expectations as gx
        from great_expectations.data_context.types.base import ProgressBarsConfig

        self.cfg, self.manifest, self.require_label, self.name = cfg, manifest, require_label, name
        self.kind, self.docs_dir, self.result_format = manifest.get("kind", "image"), docs_dir, result_format
        self.ctx = gx.get_context(mode="ephemeral")
        self.ctx.variables.progress_bars = ProgressBarsConfig(globally=False)
        self.actions = []
        if docs_dir is not None:
            add_docs_site(self.ctx, docs_dir)
            self.actions.append(gx.checkpoint.UpdateDataDocsAction(name="data_docs", site_names=["keel"]))
        self.source = self.ctx.data_sources.add_pandas("keel")
        self._main: tuple[list[str], Any, list[tuple[str, str]]] | None = None  # columns, checkpoint, problems
        self._profile: Any = None
        self.suite, self._derived = suite, None  # the inferred checks on derived columns: their own checkpoint
        if chunks and require_label:
            raise ValueError("chunks=True validates unlabelled chunks to score (require_label=False)")
        self.chunks, self._table_only = chunks, False
        self._passed: tuple[int, Any] | None = None  # rows and result of the last passing table-only run

    def _checkpoint(self, name: str, expectations: list[Any], result_format: dict[str, Any]):
        import great_expectations as gx

        batch = self.source.add_dataframe_asset(name).add_batch_definition_whole_dataframe("all")
        suite = self.ctx.suites.add(gx.ExpectationSuite(name=f"{name}_suite", expectations=expectations))
        vd = self.ctx.validation_definitions.add(gx.ValidationDefinition(name=f"{name}_validation", data=batch,
                                                                         suite=suite))
        return self.ctx.checkpoints.add(gx.Checkpoint(name=f"{name}_checkpoint", validation_definitions=[vd],
                                                      actions=self.actions, result_format=result_format))

    def __call__(self, df: pd.DataFrame) -> ValidationReport:
        """Run the suite (and the column profile's suite, for wide data) on `df`."""
        if self.kind in DERIVED:
            df = DERIVED[self.kind](df, self.cfg)
        columns = list(map(str, df.columns))
        if self._main is None or self._main[0] != columns:  # the table suite depends on the columns present
            expectations, problems = SUITES[self.kind](self.cfg, columns, self.manifest, self.require_label)
            expectations = self.suite.combine(expectations) if self.suite else expectations  # hand-written wins
            name = self.name if self._main is None else f"{self.name}_{len(self.ctx.checkpoints.all())}"
            index = MEDIA_INDEX.get(self.kind)  # failures name the file of each unexpected row
            fmt = {"result_format": self.result_format} | (
                {"unexpected_index_column_names": [index]} if index in columns else {})
            self._main = columns, self._checkpoint(name, expectations, fmt), problems
            self._table_only = all(e.expectation_type.startswith("expect_table_") for e in expectations)
            self._passed = None
        if self.chunks and self._table_only and self._passed is not None and 0 < len(df) <= self._passed[0]:
            results = [self._passed[1]]  # same columns, 1..rows-of-a-passing-chunk rows: same outcome
        else:
            results = [self._main[1].run(batch_parameters={"dataframe": df})]
            self._passed = (len(df), results[0]) if results[0].success else None
        profile = PROFILES[self.kind](df, self.cfg, self.manifest) if self.kind in PROFILES else None
        if profile is not None:  # wide data: column-level checks on a profile (one row per column), in the same docs
            frame, exps = profile
            if self._profile is None:  # its expectations depend on the params only
                self._profile = self._checkpoint(f"{self.name}_profile", exps, {
                    "result_format": "SUMMARY", "unexpected_index_column_names": ["column"]})
            results.append(self._profile.run(batch_parameters={"dataframe": frame}))
        if self.suite is not None:  # the inferred checks of pixel mean, text coverage: on a frame of their own
            if self._derived is None:
                exps = self.suite.derived()
                self._derived = exps and self._checkpoint(f"{self.name}_derived", exps,
                                                          {"result_format": self.result_format})
            if self._derived:
                frame = derived_frame(df, self.suite.inferred.derived)
                results.append(self._derived.run(batch_parameters={"dataframe": frame}))
        failures, evaluated, successful = [], 0, 0
        for vr in (vr for result in results for vr in result.run_results.values()):
            evaluated += vr.statistics["evaluated_expectations"]
            successful += vr.statistics["successful_expectations"]
            failures += [_failure(r) for r in vr.results if not r.success]
        failures += [Failure(expectation=check, error=problem) for check, problem in self._main[2]]
        index = Path(self.docs_dir) / "index.html" if self.docs_dir is not None else None
        return ValidationReport(success=not failures, evaluated=evaluated, successful=successful, failures=failures,
                                rows=len(df), data_docs=str(index) if index and index.exists() else None)


def validate(df: pd.DataFrame, cfg: ValidateConfig, manifest: dict[str, Any], docs_dir: Path | None = None,
             require_label: bool = True, name: str = "raw", result_format: str = "SUMMARY",
             suite: SuiteChoice | None = None) -> ValidationReport:
    """Run the kind's suite (`manifest["kind"]`) on `df` through a GX Checkpoint; Data Docs into `docs_dir`.
    result_format BOOLEAN_ONLY is about twice as fast but its failures carry no counts or examples."""
    return Validator(cfg, manifest, docs_dir, require_label, name, result_format, suite=suite)(df)


def _failure(r) -> Failure:
    cfg, res = r.expectation_config, r.result or {}
    exc = _exception_message(r.exception_info or {})
    examples = res.get("partial_unexpected_list")
    named = res.get("partial_unexpected_index_list") or []
    column = cfg.kwargs.get("column")
    if named and all(isinstance(d, dict) and "column" in d for d in named):  # a profile row names its column
        examples = [f"{d['column']}={d.get(column)}" for d in named]
    elif named and all(isinstance(d, dict) and set(d) - {column} for d in named):  # a media row names its file
        examples = [f"{next(v for k, v in d.items() if k != column)} ({column}={d.get(column)})" for d in named]
    if examples is None and "observed_value" in res:
        examples = [res["observed_value"]]
    return Failure(expectation=cfg.type, column=column,
                   unexpected_count=res.get("unexpected_count"), examples=_plain(examples or []),
                   error=f"could not be evaluated: {str(exc).splitlines()[0][:300]}" if exc else None,
                   hint=(cfg.meta or {}).get("keel"))


def _exception_message(info: dict[str, Any]) -> str | None:
    """GX nests exception info per metric id; return the first message, if any."""
    if info.get("raised_exception"):
        return info.get("exception_message")
    nested = [v.get("exception_message") for v in info.values() if isinstance(v, dict) and v.get("raised_exception")]
    return nested[0] if nested else None


def _plain(values: list[Any]) -> list[Any]:
    out = []
    for v in values:
        if isinstance(v, float) and v != v:  # NaN is not JSON
            out.append(None)
        elif isinstance(v, float) and v in (float("inf"), float("-inf")):  # nor is Infinity
            out.append(str(v))
        elif hasattr(v, "item"):
            out.append(v.item())
        else:
            out.append(v if isinstance(v, (int, float, str, bool, type(None), list)) else str(v))
    return out
