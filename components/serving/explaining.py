"""`keel explain`: raw rows explained with a registered version, after the checks `keel predict` runs on them.

The rows must pass the version's own input checks (its GX suite, built from the validation settings recorded
in the model; components/serving/loaded.py) before anything is attributed: a wrong type or a missing value is
refused naming the file, the rows and the check, and nothing is written.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from components.config.sections import ExplainConfig
from components.core import paths
from components.lifecycle import explanations, registry
from components.serving.batch import checked_chunks, default_chunk_rows, missing_input
from components.serving.loaded import load_version


def explain_rows(name: str, rows_path: Path, out_dir: Path, version: str | None = None, alias: str | None = None,
                 cfg: ExplainConfig | None = None, params_path: Path = paths.PARAMS
                 ) -> tuple[registry.VersionRef, dict[str, Any]]:
    """The version (`version`, else the one holding `alias`, else @production, else @staging), the rows
    checked as `keel predict` checks them, then explained into `out_dir`: (version, explanation report)."""
    rows_path = Path(rows_path)
    if not rows_path.is_file():
        raise missing_input(rows_path)
    ref = explanations.pick_version(name, version, alias)
    loaded = load_version(ref, alias or ",".join(ref.aliases) or f"v{ref.version}", params_path)
    for _ in checked_chunks(rows_path, default_chunk_rows(rows_path), loaded.validation, loaded.manifest,
                            columns=loaded.columns):
        pass  # each chunk passes, or the first failing one raises naming its rows and checks
    return ref, explanations.explain_rows(ref, loaded.ckpt, rows_path, out_dir, cfg)
