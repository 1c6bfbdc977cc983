"""Lineage of one registered version: where it came from (git, data, params, GX, run), how the gate
judged it, and every alias move it took part in (the ledger)."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel

from components.lifecycle import ledger, registry, tracking
from components.lifecycle.gate import REGISTRATION_BARS_TAG, REGISTRATION_REASONS_TAG

SOURCE_TAGS = ("git_commit", "git_dirty", "data_source", "data_sha256", "dvc_data_md5", "params_sha256",
               "dvc_params_sha256", "split_sha256", "split_uri", "split_sizes", "gx_success", "gx_checks", "run_id",
               "family", "dataset", REGISTRATION_BARS_TAG, REGISTRATION_REASONS_TAG, *tracking.ORIGIN_ENV)


class Lineage(BaseModel):
    """Everything known about one version."""

    model: str
    version: str
    aliases: list[str]
    source: dict[str, str | None]
    metrics: dict[str, str]
    gate: dict[str, str]
    gate_report: dict[str, Any] | None
    ledger: list[ledger.Entry]


def collect(name: str, version: str) -> Lineage:
    """Read the version's tags, its latest gate report and its ledger entries."""
    ref = registry.get_version(name, version)
    tags = ref.tags
    report = None
    if tags.get("gate.report"):
        text = registry.read_artifact_text(f"{tags['gate.report']}/{name}-v{ref.version}.json")
        report = json.loads(text) if text else None
    engine = ledger.engine_for(ledger.database_url(tracking.configure()))
    moves = [e for e in ledger.history(engine, name) if ref.version in (e.from_version, e.to_version)]
    return Lineage(model=name, version=ref.version, aliases=ref.aliases,
                   source={k: tags.get(k) for k in SOURCE_TAGS},
                   metrics={k.removeprefix("metric."): v for k, v in tags.items() if k.startswith("metric.")},
                   gate={k: v for k, v in tags.items() if k.startswith("gate.") and k not in SOURCE_TAGS},
                   gate_report=report, ledger=moves)


def render(lin: Lineage) -> str:
    """Plain-text lineage for a terminal."""
    lines = [f"{lin.model} v{lin.version}  aliases: {', '.join('@' + a for a in lin.aliases) or '-'}", "", "source:"]
    lines += [f"  {k:<18} {v if v is not None else '-'}" for k, v in lin.source.items()]
    lines += ["", "test metrics:"] + [f"  {k:<18} {v}" for k, v in sorted(lin.metrics.items())]
    lines += ["", "gate:"] + ([f"  {k:<18} {v}" for k, v in sorted(lin.gate.items())] or ["  (never gated)"])
    lines += ["", "ledger:"]
    lines += [f"  #{e.id} {e.ts} {e.user} {e.action} @{e.alias} "
              f"{'v' + e.from_version if e.from_version else '-'} -> v{e.to_version}"
              f"{'  (' + e.reason + ')' if e.reason else ''}" for e in lin.ledger] or ["  (no alias moves)"]
    return "\n".join(lines)
