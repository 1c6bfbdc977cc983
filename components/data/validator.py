"""Great Expectations, run: a kind's suite (components/data/suites.py) and its column profile through one
GX context, with Data Docs; the outcome as a `ValidationReport` whose failures name each check, column,
count and examples (components/data/failures.py)."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pandas as pd

from components.config.sections import ValidateConfig
from components.data.cluster import kept
from components.data.docs_index import write_front_page
from components.data.failures import Failure, ValidationReport, flagged, gx_failure, per_column_failures
from components.data.pinpoint import pinpoint
from components.data.profile import ColumnChecks, column_profile, profiled
from components.data.suite_file import SuiteChoice, add_docs_site, derived_frame
from components.data.suites import MEDIA_INDEX, SUITES, Suite, derive

log = logging.getLogger(__name__)


class Validator:
    """The kind's GX suites, built once and run on many frames of one column layout (batch chunks,
    partitions): one GX context, and Data Docs rendered only for each new result. Not thread-safe; use one
    per thread.

    A run is two GX validations: the table suite on the frame, and the per-column checks on its column profile
    (components/data/suites.py), reported per column or, for wide images and batch scoring, per profile check.

    `chunks=True` (successive chunks of one file to score, so no label and row bounds [1, max]): when the table
    suite holds only table-level checks (row and column counts, column set) and passed on a chunk, a later
    chunk with the same columns and 1..that many rows has the same outcome, so it is not run again (GX
    fingerprints every frame it sees: ~0.04 s per 250k rows).

    `suite`: `validate.suite` inferred | both (components/data/suite_file.py) in place of the params suite
    (inferred: its column checks too; both: the column checks win over their inferred twins)."""

    def __init__(self, cfg: ValidateConfig, manifest: dict[str, Any], docs_dir: Path | None = None,
                 require_label: bool = True, name: str = "raw", chunks: bool = False,
                 suite: SuiteChoice | None = None):
        import great_expectations as gx
        from great_expectations.data_context.types.base import ProgressBarsConfig
        from great_expectations.execution_engine import pandas_execution_engine

        # GX fingerprints every frame under HASH_THRESHOLD bytes (md5 of pandas' row hashes: half of GX's time on
        # a 1M-row table) for a batch marker in Data Docs; Keel identifies the data by its own sha256.
        pandas_execution_engine.HASH_THRESHOLD = 0
        self.cfg, self.manifest, self.require_label, self.name = cfg, manifest, require_label, name
        self.kind, self.docs_dir = manifest.get("kind", "image"), docs_dir
        self.ctx = gx.get_context(mode="ephemeral")
        self.ctx.variables.progress_bars = ProgressBarsConfig(globally=False)
        if docs_dir is not None:
            add_docs_site(self.ctx, docs_dir)
        self.source = self.ctx.data_sources.add_pandas("keel")
        self._main: tuple[list[str], Any, Suite] | None = None  # columns, validation definition, suite
        self._profile: tuple[ColumnChecks, Any] | None = None  # the checks and the profile's validation definition
        self.suite, self._derived = suite, None  # the inferred checks on derived columns: their own definition
        if chunks and require_label:
            raise ValueError("chunks=True validates unlabelled chunks to score (require_label=False)")
        self.chunks, self._table_only = chunks, False
        self._passed: tuple[int, Any] | None = None  # rows and result of the last passing table-only run

    def _run(self, definition: Any, frame: pd.DataFrame, detail: str | dict[str, Any], run_id: Any) -> Any:
        """One GX validation. Without Data Docs to render, a BOOLEAN_ONLY pass first (GX's cheapest format);
        the detailed format (counts, examples, named columns) only when something failed."""
        if self.docs_dir is None:
            quick = definition.run(batch_parameters={"dataframe": frame}, result_format="BOOLEAN_ONLY", run_id=run_id)
            if quick.success:
                return quick
        return definition.run(batch_parameters={"dataframe": frame}, result_format=detail, run_id=run_id)

    def _definition(self, name: str, expectations: list[Any]):
        import great_expectations as gx

        batch = self.source.add_dataframe_asset(name).add_batch_definition_whole_dataframe("all")
        suite = self.ctx.suites.add(gx.ExpectationSuite(name=f"{name}_suite", expectations=expectations))
        return self.ctx.validation_definitions.add(gx.ValidationDefinition(name=f"{name}_validation", data=batch,
                                                                           suite=suite))

    def __call__(self, df: pd.DataFrame) -> ValidationReport:
        """Run the table suite and the column checks on `df`; Data Docs for these two results."""
        from great_expectations.core.run_identifier import RunIdentifier

        df = derive(self.kind, df, self.cfg, self.manifest)
        columns = list(map(str, df.columns))
        if self._main is None or self._main[0] != columns:  # the table suite depends on the columns present
            suite = SUITES[self.kind](self.cfg, columns, self.manifest, self.require_label)
            if self.suite is not None:  # the inferred suite in place of (inferred) or under (both) the params one
                checks = suite.columns if self.suite.mode == "both" else None
                covered = {(k, c) for c in checks.columns for k in checks.checks(c)} if checks else set()
                suite = Suite(self.suite.combine(suite.expectations, covered), suite.problems, checks)
            name = self.name if self._main is None else f"{self.name}_{len(self.ctx.validation_definitions.all())}"
            self._main = columns, self._definition(name, suite.expectations), suite
            index = MEDIA_INDEX.get(self.kind)  # media: failures name the file of each unexpected row
            self._detail = {"result_format": "SUMMARY", "unexpected_index_column_names": [index]} \
                if index in columns else "SUMMARY"
            self._table_only = all(e.expectation_type.startswith("expect_table_") for e in suite.expectations)
            self._passed = None
        _, main, suite = self._main
        run_id = RunIdentifier(run_name=self.name)
        if self.chunks and self._table_only and self._passed is not None and 0 < len(df) <= self._passed[0]:
            results, fresh = [self._passed[1]], []  # same columns, 1..rows-of-a-passing-chunk rows: same outcome
        else:
            results = [self._run(main, df, self._detail, run_id)]
            self._passed, fresh = (len(df), results[0]) if results[0].success else None, [results[0]]
        evaluated = results[0].statistics["evaluated_expectations"]
        successful = results[0].statistics["successful_expectations"]
        failures = [gx_failure(r) for r in results[0].results if not r.success]
        if suite.columns is not None:
            frame, exps = column_profile(df, suite.columns)
            if self._profile is None or self._profile[0] != suite.columns:
                self._profile = suite.columns, self._definition(f"{self.name}_profile_{len(self.ctx.suites.all())}"
                                                                if self._profile else f"{self.name}_profile", exps)
            profile = self._run(self._profile[1], frame, {"result_format": "COMPLETE",
                                                          "unexpected_index_column_names": ["column"]}, run_id)
            fresh.append(profile)
            if profiled(suite.columns.columns, self.manifest):  # the profile's own checks, naming columns
                evaluated += profile.statistics["evaluated_expectations"]
                successful += profile.statistics["successful_expectations"]
                failures += [gx_failure(r) for r in profile.results if not r.success]
            else:  # as the per-column expectations would report
                checked, per_column = per_column_failures(df, suite.columns, frame, flagged(profile, suite.columns))
                evaluated, successful = evaluated + checked, successful + checked - len(per_column)
                failures += per_column
        if self.suite is not None:  # the inferred checks of pixel mean, text coverage: on a frame of their own
            if self._derived is None:
                exps = self.suite.derived()
                self._derived = exps and self._definition(f"{self.name}_derived", exps)
            if self._derived:
                frame = derived_frame(df, self.suite.inferred.derived)
                fresh.append(derived := self._run(self._derived, frame, "SUMMARY", run_id))
                evaluated += derived.statistics["evaluated_expectations"]
                successful += derived.statistics["successful_expectations"]
                failures += [gx_failure(r) for r in derived.results if not r.success]
        failures = pinpoint(failures, df, suite.expectations, self.require_label)
        failures += [Failure(expectation=check, error=problem) for check, problem in suite.problems]
        docs = self._build_docs(fresh) if self.docs_dir is not None and fresh else None
        return ValidationReport(success=not failures, evaluated=evaluated, successful=successful, failures=failures,
                                rows=len(df), data_docs=docs)

    def _build_docs(self, results: list[Any]) -> str | None:
        """Render Data Docs for these results only (and the index), not every result the context holds; return the
        offline front page (components/data/docs_index.py)."""
        from great_expectations.data_context.types.resource_identifiers import (
            ExpectationSuiteIdentifier,
            ValidationResultIdentifier,
        )

        ids = []
        for r in results:
            suite = ExpectationSuiteIdentifier(name=r.suite_name)
            ids += [ValidationResultIdentifier(suite, r.meta["run_id"], r.batch_id), suite]
        self.ctx.build_data_docs(site_names=["keel"], resource_identifiers=ids)
        keys = [(ids[i].to_tuple(), ids[i + 1].to_tuple()) for i in range(0, len(ids), 2)]  # each result's pages
        return str(write_front_page(Path(self.docs_dir), results, keys))  # GX's index.html is blank offline


def validate(df: pd.DataFrame, cfg: ValidateConfig, manifest: dict[str, Any], docs_dir: Path | None = None,
             require_label: bool = True, name: str = "raw", suite: SuiteChoice | None = None) -> ValidationReport:
    """Run the kind's suite (`manifest["kind"]`) on `df` through GX; Data Docs into `docs_dir`."""
    return Validator(cfg, manifest, docs_dir, require_label, name, suite=suite)(df)


def kept_validator(cfg: ValidateConfig, manifest: dict[str, Any], name: str, **kwargs: Any) -> Validator:
    """This worker thread's Validator for (name, cfg, manifest), built once for every part it checks
    (components/data/cluster.kept: one GX context and suite, the previous one dropped)."""
    key = name + cfg.model_dump_json() + json.dumps(manifest, sort_keys=True, default=str)
    return kept(key, lambda: Validator(cfg, manifest, name=name, **kwargs))
