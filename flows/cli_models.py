"""`keel` commands on registered models: the registry's versions and aliases (promote, rollback, history,
lineage, explain) and the model at work (predict, serve, monitor, feedback). Thin callers, as in flows/cli.py."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from components.core.errors import KeelError
from flows.cli_options import FeaturesOpt, LogDirOpt, ParamsOpt, fail

app = typer.Typer()


@app.command()
def promote(model: Annotated[str, typer.Argument(help="registered model name, e.g. digits-cnn")],
            version: Annotated[str | None, typer.Option("--version", "-v", help="default: @staging")] = None,
            force: Annotated[bool, typer.Option("--force", help="override a refusal (needs --reason)")] = False,
            reason: Annotated[str | None, typer.Option("--reason", help="why (goes to the ledger)")] = None,
            params: ParamsOpt = Path("params.yaml"), features: FeaturesOpt = Path("data/features")) -> None:
    """Move @production to a version only if it passes the champion/challenger gate (exit 1 if refused)."""
    from components.lifecycle import promote as p

    try:
        result = p.run(model, version, params, features, force=force, reason=reason)
    except KeelError as e:
        fail(e)
    typer.echo(result.report.read_text() if result.report else "")
    typer.echo(result.model_dump_json(indent=2))
    if not result.promoted:
        typer.secho(f"refused: {model} v{result.version} stays off @production: " + "; ".join(result.reasons),
                    fg="red", err=True)
        raise typer.Exit(1)


@app.command()
def rollback(model: Annotated[str, typer.Argument(help="registered model name")],
             reason: Annotated[str | None, typer.Option("--reason", help="recorded in the ledger")] = None) -> None:
    """Move @production back to the version that held it before (per the ledger)."""
    from components.lifecycle import promote as p

    try:
        result = p.rollback(model, reason=reason)
    except KeelError as e:
        fail(e)
    typer.echo(result.model_dump_json(indent=2))


@app.command()
def history(model: Annotated[str, typer.Argument(help="registered model name")],
            as_json: Annotated[bool, typer.Option("--json", help="one JSON object per move")] = False) -> None:
    """Print every alias move of a model, oldest first: @staging moves by the register stage (recorded on the
    versions) and @production moves by promote/rollback (the promotion ledger)."""
    from components.lifecycle import alias_history, registry

    try:
        found = alias_history.history(model)
        if not found.moves:
            registry.latest_version(model)  # a misspelt name is an error, not an empty history
    except KeelError as e:
        fail(e)
    if found.warning:
        typer.secho(f"warning: {found.warning}", fg="yellow", err=True)
    entries = found.moves
    if as_json:
        for e in entries:
            typer.echo(e.model_dump_json())
        return
    head = ("id", "time (UTC)", "user", "action", "alias", "from", "to", "source")
    typer.echo("{:>4}  {:<20} {:<11} {:<8} {:<11} {:>5} -> {:<5} {:<8} reason".format(*head))
    for e in entries:
        why = e.reason or "; ".join((e.gate_report or {}).get("reasons", []))
        typer.echo(f"{e.id or '-':>4}  {e.ts[:19].replace('T', ' '):<20} {e.user:<11} {e.action:<8} {e.alias:<11} "
                   f"{'v' + e.from_version if e.from_version else '-':>5} -> v{e.to_version:<4} {e.source:<8} {why}")


@app.command()
def predict(model: Annotated[str, typer.Argument(help="registered model name")],
            input_path: Annotated[Path, typer.Argument(
                help="rows to score: .parquet, .csv or .csv.gz (raw columns), or a directory of .parquet files")],
            output_path: Annotated[Path, typer.Argument(
                help="predictions (.parquet; a directory of parts for a directory input) with model/version metadata")],
            alias: Annotated[str | None, typer.Option("--alias", help="default: production")] = None,
            version: Annotated[str | None, typer.Option("--version", "-v", help="a version number, with or "
                                                                                "without an alias")] = None,
            chunk_rows: Annotated[int | None, typer.Option(
                "--chunk-rows", min=1, help="rows per chunk [default: ~64 MiB of input values]")] = None,
            params: ParamsOpt = Path("params.yaml"), log_dir: LogDirOpt = Path("logs/inference")) -> None:
    """Validate (GX) and score a file with the model's @production version (or --alias, --version), chunk by
    chunk."""
    from components.lifecycle import moves
    from components.serving import batch

    if alias is not None and version is not None:
        raise typer.BadParameter("pass --alias or --version, not both")
    try:
        if version is None:
            moves.reconcile(model, alias or "production", required=False)
        result = batch.run(model, input_path, output_path, params, alias or "production", chunk_rows, log_dir,
                           version)
    except KeelError as e:
        fail(e)
    typer.echo(result.model_dump_json(indent=2))


@app.command()
def serve(model: Annotated[str, typer.Argument(help="registered model name")],
          host: Annotated[str, typer.Option("--host")] = "127.0.0.1",
          port: Annotated[int, typer.Option("--port")] = 5001,
          alias: Annotated[str, typer.Option("--alias")] = "production",
          workers: Annotated[int, typer.Option("--workers", min=1, help="processes, each with the model")] = 1,
          threads: Annotated[int, typer.Option("--threads", min=1, help="model threads per worker")] = 1,
          max_bytes: Annotated[int, typer.Option("--max-bytes", min=1024, help="request body limit")] = 8 * 2**20,
          max_rows: Annotated[int, typer.Option("--max-rows", min=1, help="rows per request")] = 100_000,
          timeout: Annotated[float, typer.Option("--timeout", min=0.001, help="seconds a request waits")] = 30.0,
          docs: Annotated[bool, typer.Option("--docs", help="serve /docs and /openapi.json")] = False,
          params: ParamsOpt = Path("params.yaml"), log_dir: LogDirOpt = Path("logs/inference")) -> None:
    """Serve the model's @production version over HTTP (POST /invocations, GET /ping, GET /version).
    Set KEEL_SERVE_TOKEN to require `Authorization: Bearer <token>` on /invocations and /version."""
    from components.lifecycle import moves
    from components.serving import serve as s

    try:
        moves.reconcile(model, alias, required=False)
        s.run(s.ServeConfig(model=model, alias=alias, host=host, port=port, workers=workers, threads=threads,
                            max_bytes=max_bytes, max_rows=max_rows, timeout_s=timeout, docs=docs, params=params,
                            log_dir=log_dir))
    except KeelError as e:
        fail(e)


@app.command()
def monitor(model: Annotated[str, typer.Argument(help="registered model name")],
            version: Annotated[str | None, typer.Option("--version", "-v", help="default: the window's")] = None,
            window: Annotated[str | None, typer.Option(help="new | all | a duration (24h) [default: monitor.window]")]
            = None, params: ParamsOpt = Path("params.yaml"), log_dir: LogDirOpt = Path("logs/inference"),
            out: Annotated[Path, typer.Option("--out", help="reports and history")] = Path("reports/monitor"),
            features: FeaturesOpt = Path("data/features")) -> None:
    """Check the inference log for drift against the version's reference; exit 2 on drift."""
    from components.monitoring import check

    try:
        result = check.run(model, check.config_for(model, params), log_dir, out, features, version, window)
    except KeelError as e:
        fail(e)
    typer.echo(result.summary)
    if result.report_dir:
        typer.echo(f"report: {result.report_dir / 'drift_report.html'}" + (f"  (MLflow: {result.report_uri})"
                                                                          if result.report_uri else ""))
    if result.drift:
        typer.secho(f"DRIFT: {model} v{result.version}: {result.brief()}", fg="red", err=True)
        raise typer.Exit(2)


@app.command()
def feedback(model: Annotated[str, typer.Argument(help="registered model name")],
             labels: Annotated[Path, typer.Argument(help=".csv or .parquet: request_id, row, label (or --request-id)")],
             request_id: Annotated[str | None, typer.Option(
                 "--request-id", help="all rows belong to this request (keel predict prints it); row = position")]
             = None, log_dir: LogDirOpt = Path("logs/inference")) -> None:
    """Store labels that arrived after scoring; keel monitor joins them to the log by request id and row.
    The file is refused whole (exit 1, nothing stored) for an unregistered model, a request id in no inference
    log of the model, or a label the scoring version cannot predict."""
    from components.monitoring import feedback as fb

    try:
        result = fb.run(model, labels, log_dir, request_id)
    except KeelError as e:
        fail(e)
    typer.echo(json.dumps({"model": model, "labels": result.labels, "stored": str(result.stored)}))


@app.command()
def lineage(model: Annotated[str, typer.Argument(help="registered model name")],
            version: Annotated[str, typer.Argument(help="version number")],
            as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Print a version's git commit, data/params hashes, GX result, run id, gate report and ledger entries."""
    from components.lifecycle import lineage as lin

    try:
        found = lin.collect(model, version)
    except KeelError as e:
        fail(e)
    typer.echo(found.model_dump_json(indent=2) if as_json else lin.render(found))


@app.command()
def explain(model: Annotated[str, typer.Argument(help="registered model name, e.g. digits-cnn")],
            rows: Annotated[Path, typer.Argument(help="raw rows to explain: .csv, .csv.gz or .parquet")],
            version: Annotated[str | None, typer.Option("--version", "-v", help="default: @production, else "
                                                                                "@staging")] = None,
            alias: Annotated[str | None, typer.Option("--alias")] = None,
            out: Annotated[Path, typer.Option("--out", help="folder for explanation.json and the figures")] = Path(
                "reports/explain"),
            params: ParamsOpt = Path("params.yaml")) -> None:
    """Explain raw rows with a registered version (register.explain settings): heatmaps per class (images),
    token HTML (text), importance bars (tabular, series) and explanation.json with the sanity checks."""
    from components.config.params import load_params
    from components.serving import explaining
    from components.trust.explain import failed_checks

    try:
        cfg = load_params(params).registration.explain if params.is_file() else None
        ref, report = explaining.explain_rows(model, rows, out, version, alias, cfg, params)
    except KeelError as e:
        fail(e)
    typer.echo(f"{model} v{ref.version}: {len(report['figures'])} figure(s) and explanation.json in {out}")
    for f in report["figures"]:
        typer.echo(f"  {out / f}")
    for line in failed_checks(report):  # explained all the same (exit 0), but not to be read at face value
        typer.secho(f"warning: {line}", fg="yellow", err=True)
