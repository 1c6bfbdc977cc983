"""Validate: the raw data must pass a Great Expectations suite before anything downstream runs.

The suite is built from `validate` params and the ingest manifest: columns, dtypes, nulls, pixel range,
label set and row count. It runs through a GX Checkpoint that also renders Data Docs (HTML) under
`reports/validation/data_docs/`. Any failure raises DataValidationError naming each failed expectation
with its column and unexpected count.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

import pandas as pd
from pydantic import BaseModel

from components import paths
from components.config import ValidateConfig, load_params
from components.errors import DataValidationError
from components.io import atomic_dir, read_json, read_parquet, require_files, write_json
from components.stage import stage_main
from components.suites import DERIVED, PROFILES, SUITES

log = logging.getLogger(__name__)



class Failure(BaseModel):
    """One failed check."""

    expectation: str
    column: str | None = None
    unexpected_count: int | None = None
    examples: list[Any] = []
    error: str | None = None

    def describe(self) -> str:
        """`expect_x(column): N unexpected, e.g. [...]` in one line."""
        where = f"({self.column})" if self.column else ""
        if self.error:
            return f"{self.expectation}{where}: {self.error}"
        if self.unexpected_count is not None:
            return f"{self.expectation}{where}: {self.unexpected_count} unexpected value(s), e.g. {self.examples[:5]}"
        observed = f" (observed {self.examples[0]!r})" if self.examples else ""
        return f"{self.expectation}{where}: failed{observed}"


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


def validate(df: pd.DataFrame, cfg: ValidateConfig, manifest: dict[str, Any], docs_dir: Path | None = None,
             require_label: bool = True, name: str = "raw", result_format: str = "SUMMARY") -> ValidationReport:
    """Run the kind's suite (`manifest["kind"]`) on `df` through a GX Checkpoint; Data Docs into `docs_dir`.
    result_format BOOLEAN_ONLY is about twice as fast but its failures carry no counts or examples."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    ctx = gx.get_context(mode="ephemeral")
    ctx.variables.progress_bars = ProgressBarsConfig(globally=False)
    actions = []
    if docs_dir is not None:
        ctx.add_data_docs_site(site_name="keel", site_config={
            "class_name": "SiteBuilder",
            "store_backend": {"class_name": "TupleFilesystemStoreBackend",
                              "base_directory": str(Path(docs_dir).resolve())},
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
        })
        actions.append(gx.checkpoint.UpdateDataDocsAction(name="data_docs", site_names=["keel"]))
    batch = ctx.data_sources.add_pandas("keel").add_dataframe_asset(name).add_batch_definition_whole_dataframe("all")
    kind = manifest.get("kind", "image")
    if kind in DERIVED:
        df = DERIVED[kind](df, cfg)
    expectations, problems = SUITES[kind](cfg, list(map(str, df.columns)), manifest, require_label)
    suite = ctx.suites.add(gx.ExpectationSuite(name=f"{name}_suite", expectations=expectations))
    vd = ctx.validation_definitions.add(gx.ValidationDefinition(name=f"{name}_validation", data=batch, suite=suite))
    cp = ctx.checkpoints.add(gx.Checkpoint(name=f"{name}_checkpoint", validation_definitions=[vd],
                                           actions=actions, result_format={"result_format": result_format}))
    results = [cp.run(batch_parameters={"dataframe": df})]
    profile = PROFILES[kind](df, cfg, manifest) if kind in PROFILES else None
    if profile is not None:  # wide data: column-level checks on a profile (one row per column), in the same docs
        frame, exps = profile
        pbatch = ctx.data_sources.get("keel").add_dataframe_asset(f"{name}_profile") \
            .add_batch_definition_whole_dataframe("all")
        psuite = ctx.suites.add(gx.ExpectationSuite(name=f"{name}_profile_suite", expectations=exps))
        pvd = ctx.validation_definitions.add(gx.ValidationDefinition(name=f"{name}_profile_validation", data=pbatch,
                                                                     suite=psuite))
        pcp = ctx.checkpoints.add(gx.Checkpoint(name=f"{name}_profile_checkpoint", validation_definitions=[pvd],
                                                actions=actions, result_format={
                                                    "result_format": "SUMMARY",
                                                    "unexpected_index_column_names": ["column"]}))
        results.append(pcp.run(batch_parameters={"dataframe": frame}))
    failures, evaluated, successful = [], 0, 0
    for vr in (vr for result in results for vr in result.run_results.values()):
        evaluated += vr.statistics["evaluated_expectations"]
        successful += vr.statistics["successful_expectations"]
        failures += [_failure(r) for r in vr.results if not r.success]
    failures += [Failure(expectation=check, error=problem) for check, problem in problems]
    index = Path(docs_dir) / "index.html" if docs_dir is not None else None
    return ValidationReport(success=not failures, evaluated=evaluated, successful=successful, failures=failures,
                            rows=len(df), data_docs=str(index) if index and index.exists() else None)


def _failure(r) -> Failure:
    cfg, res = r.expectation_config, r.result or {}
    exc = _exception_message(r.exception_info or {})
    examples = res.get("partial_unexpected_list")
    named = res.get("partial_unexpected_index_list") or []
    if named and all(isinstance(d, dict) and "column" in d for d in named):  # a profile row names its column
        examples = [f"{d['column']}={d.get(cfg.kwargs.get('column'))}" for d in named]
    if examples is None and "observed_value" in res:
        examples = [res["observed_value"]]
    return Failure(expectation=cfg.type, column=cfg.kwargs.get("column"),
                   unexpected_count=res.get("unexpected_count"), examples=_plain(examples or []),
                   error=f"could not be evaluated: {str(exc).splitlines()[0][:300]}" if exc else None)


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
        elif hasattr(v, "item"):
            out.append(v.item())
        else:
            out.append(v if isinstance(v, (int, float, str, bool, type(None), list)) else str(v))
    return out


def run(cfg: ValidateConfig, raw_dir: Path = paths.RAW_DIR, out_dir: Path = paths.VALIDATION_DIR) -> ValidationReport:
    """Validate `<raw_dir>/data.parquet`; write the summary and Data Docs to `out_dir`; raise on failure."""
    require_files(raw_dir, [paths.MANIFEST_FILE])
    manifest = read_json(Path(raw_dir) / paths.MANIFEST_FILE)
    partitioned = manifest.get("layout") == "partitioned"
    if not partitioned:
        require_files(raw_dir, [paths.RAW_FILE])
    with atomic_dir(out_dir) as tmp:
        if partitioned:  # one part at a time; Data Docs per part would be as many sites: none
            from components.streaming import validate_parts

            report, per_part = validate_parts(cfg, raw_dir, manifest)
            write_json(tmp / "partitions.json", per_part)
        else:
            report = validate(read_parquet(Path(raw_dir) / paths.RAW_FILE), cfg, manifest,
                              docs_dir=tmp / "data_docs")
        report = report.model_copy(update={
            "data_sha256": manifest["sha256"],
            "data_docs": str(Path(out_dir) / "data_docs" / "index.html") if report.data_docs else None})
        write_json(tmp / paths.VALIDATION_FILE, report.model_dump(mode="json"))
    if not report.success:
        raise DataValidationError(report.message(f"{manifest['source']} (via {raw_dir}/{paths.RAW_FILE})"),
                                  [f.describe() for f in report.failures])
    log.info("validate: %d/%d checks passed; data docs: %s", report.successful, report.evaluated, report.data_docs)
    return report


def require_validated(validation_dir: Path, raw_dir: Path) -> dict[str, Any]:
    """Refuse to go on unless the validation summary passed for exactly the current raw data."""
    summary = read_json(Path(validation_dir) / paths.VALIDATION_FILE)
    manifest = read_json(Path(raw_dir) / paths.MANIFEST_FILE)
    if not summary.get("success"):
        raise DataValidationError(f"{validation_dir}/{paths.VALIDATION_FILE}: the raw data failed validation; "
                                  "fix the data and re-run validate", [])
    if summary.get("data_sha256") != manifest.get("sha256"):
        raise DataValidationError(f"{validation_dir}/{paths.VALIDATION_FILE}: validated a different version of "
                                  f"{raw_dir}/{paths.RAW_FILE}; re-run validate", [])
    return summary


def main(argv: list[str] | None = None) -> int:
    """CLI: python -m components.validate --params params.yaml --raw data/raw --out reports/validation"""
    p = argparse.ArgumentParser(prog="python -m components.validate", description=__doc__.splitlines()[0])
    p.add_argument("--params", type=Path, default=paths.PARAMS)
    p.add_argument("--raw", type=Path, default=paths.RAW_DIR)
    p.add_argument("--out", type=Path, default=paths.VALIDATION_DIR)
    args = p.parse_args(argv)
    return stage_main(lambda: run(load_params(args.params).validation, args.raw, args.out))


if __name__ == "__main__":
    raise SystemExit(main())
