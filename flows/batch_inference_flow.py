"""batch_inference_flow: score a file with `models:/<model>@production` (GX-validated, chunked), as
`keel predict` does, with Prefect retries around the I/O. Run locally:

    python -m flows.batch_inference_flow digits-cnn input.parquet predictions.parquet
"""

from __future__ import annotations

import argparse
from pathlib import Path

from prefect import flow, task

from components.core import paths
from components.lifecycle import moves
from components.serving import batch
from flows.logs import send_component_logs
from flows.retries import io_retries


@task(name="score-file", **io_retries())
def score_task(model: str, input_path: Path, output_path: Path, params_path: Path, alias: str,
               chunk_rows: int | None) -> batch.BatchResult:
    return batch.run(model, input_path, output_path, params_path, alias, chunk_rows)


@flow(name="batch-inference", log_prints=True)
def batch_inference_flow(model: str, input_path: str, output_path: str, params_path: str = str(paths.PARAMS),
                         alias: str = "production", chunk_rows: int | None = None) -> batch.BatchResult:
    """Validate and score one input file; write predictions with model/version/input-hash metadata."""
    send_component_logs()
    moves.reconcile(model, alias, required=False)
    return score_task(model, Path(input_path), Path(output_path), Path(params_path), alias, chunk_rows)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Score a file with a model's @production version.")
    parser.add_argument("model")
    parser.add_argument("input")
    parser.add_argument("output")
    parser.add_argument("--chunk-rows", type=int, default=None, help="default: ~64 MiB of input values per chunk")
    a = parser.parse_args()
    print(batch_inference_flow(a.model, a.input, a.output, chunk_rows=a.chunk_rows).model_dump_json(indent=2))
