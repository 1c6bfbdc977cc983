"""Promote: move `production` to a candidate version only through the champion/challenger gate, record
every alias move in the ledger, roll back to the previous production version.

    prepare(...)  -> Gate      score candidate and champion on the frozen test split, decide, write the
                               report (JSON + Markdown) to reports/promote/ and onto the candidate version
    commit(gate)  -> Entry     move the alias, crash-safe, under the ledger lock (components/lifecycle/moves.py)
    run(...)                   prepare + commit, as `keel promote` does
    rollback(...)              production back to the version before, as `keel rollback` does
"""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

from pydantic import BaseModel

from components.config.params import load_params
from components.core import paths
from components.core.errors import KeelError, StageInputError
from components.core.io import atomic_path, sha256_file, write_json
from components.data.artifacts import load_split
from components.inference.predict import predict, task_of
from components.lifecycle import explanations, gate, ledger, modelcard, moves, registry
from components.lifecycle.moves import ledger_engine, move
from components.trust.robustness import robust_metrics

log = logging.getLogger(__name__)

PROMOTE_DIR = paths.REPORTS_DIR / "promote"


class PromotionRefused(KeelError):
    """The gate (or the operator) said no; nothing was moved."""


class Gate(BaseModel):
    """A decided gate, ready to commit."""

    model_name: str
    alias: str
    decision: gate.Decision
    report_json: Path
    report_md: Path
    report_uri: str | None = None
    approval_required: bool = False
    approval_timeout_s: int = 3600


class PromoteResult(BaseModel):
    """What `keel promote` / `keel rollback` did."""

    model_name: str
    version: str
    promoted: bool
    production: str | None
    reasons: list[str]
    report: Path | None = None
    ledger_id: int | None = None


def trust_figures(ref: registry.VersionRef, ckpt, test, rule: gate.Rule, robustness=None, train=None) -> dict:
    """The robust metrics the rule has floors for, re-measured on the test rows, and the epsilon spent."""
    robust: dict[str, float] = {}
    if rule.robustness:
        robust, _ = robust_metrics(ckpt, test, train, robustness.model_copy(update={"enabled": True}),
                                   only=set(rule.robustness))
        missing = sorted(set(rule.robustness) - set(robust))
        if missing:
            raise StageInputError(f"promote.robustness: {', '.join(missing)} not measured for {ref.name} "
                                  f"v{ref.version} "
                                  f"({ckpt.family}); evaluate.robustness gives robust_<metric>_<perturbation> for the "
                                  "perturbations of its data kind")
    eps = ref.tags.get("privacy.epsilon")
    return {"robust": robust, "epsilon": float(eps) if eps else None}


def score(ref: registry.VersionRef, test, rule: gate.Rule, robustness=None, train=None) -> gate.Scored:
    """Re-score a registered version on the test rows (raw, through its own transform); with the trust
    figures the rule asks for (`robustness`: evaluate.robustness, `train`: the reference split)."""
    ckpt = registry.load_keel_checkpoint(ref.name, ref.version)
    trust = trust_figures(ref, ckpt, test, rule, robustness, train)
    task = task_of(ckpt)
    preds = predict(ckpt, test)
    value = task.score(ckpt.transform, test, preds)
    if rule.metric not in value:
        raise StageInputError(f"promote.metric {rule.metric!r}: the {task.name} task scores {sorted(value)}")
    split = ref.tags.get("split_sha256", "")
    if task.name == "classification" and rule.metric == "accuracy":  # a per-row mean: resampled cheaply
        hits = preds.argmax(1) == ckpt.transform.targets(test)
        return replace(gate.Scored.from_rows(ref.version, split, hits, correct=True), **trust)
    if task.rows_scorer is not None:  # a metric too slow to recompute per replicate: matched once, then re-weighted
        on_rows = task.rows_scorer(ckpt.transform, test, preds)
        return gate.Scored(version=ref.version, split_sha256=split, n_rows=len(test), value=float(value[rule.metric]),
                           score=lambda rows: float(on_rows(rows, rule.metric)[rule.metric]), **trust)
    return gate.Scored(version=ref.version, split_sha256=split, n_rows=len(test), value=float(value[rule.metric]),
                       score=lambda rows: float(task.score(ckpt.transform, test.iloc[rows], preds[rows])[rule.metric]),
                       **trust)


def prepare(name: str, version: str | None = None, params_path: Path = paths.PARAMS,
            features_dir: Path = paths.FEATURES_DIR, out_dir: Path = PROMOTE_DIR, force_reason: str | None = None,
            force: bool = False) -> Gate:
    """Decide the gate for `version` (default: the one holding promote.source_alias); write the report."""
    if force and not (force_reason or "").strip():
        raise PromotionRefused("--force needs --reason \"...\": an override must say why (it goes to the ledger)")
    base = load_params(params_path)
    cfg = base.promote
    moves.reconcile(name)  # a move a killed process left half-done is settled before the gate reads the aliases
    cand = (registry.get_version(name, version) if version
            else registry.require_alias(name, cfg.source_alias, "pass --version N"))
    params = load_params(params_path, {"model": cand.tags["family"]}) if cand.tags.get("family") else base
    cfg, rule = params.promote, gate.resolve_rule(params)
    champ = registry.version_by_alias(name, cfg.alias)
    if champ is not None and champ.version == cand.version:
        raise PromotionRefused(f"{name} v{cand.version} already holds @{cfg.alias}")
    try:
        decision = decide(cand, champ, rule, Path(features_dir), params.evaluate.robustness)
    except KeelError as e:
        if not force or e.transient:  # an override decides without a gate, never without a reachable store
            raise
        decision = gate.Decision(promote=False, verdict="refuse", metric=rule.metric, confidence=rule.confidence,
                                 higher_is_better=rule.higher_is_better, threshold=rule.min_absolute,
                                 min_improvement=rule.min_improvement, candidate_version=cand.version,
                                 candidate_value=None, champion_version=champ.version if champ else None,
                                 test=rule.test, n_rows=0, split_sha256=cand.tags.get("split_sha256", ""),
                                 reasons=[f"gate could not run: {e}"])
    if force:
        decision = decision.model_copy(update={"forced": True, "force_reason": force_reason.strip()})
    if champ is not None:  # how the explanations' top features moved (same probe rows for every version)
        decision = decision.model_copy(update={"explanation_change": explanations.top_feature_change(
            explanations.read_report(cand), explanations.read_report(champ))})
    g = write_report(name, cfg.alias, decision, Path(out_dir))
    modelcard.add_gate(name, decision.candidate_version, decision.model_dump(mode="json"), Path(out_dir) / "cards")
    return g.model_copy(update={"approval_required": cfg.approval_required,
                                "approval_timeout_s": cfg.approval_timeout_s})


def decide(cand: registry.VersionRef, champ: registry.VersionRef | None, rule: gate.Rule,
           features_dir: Path, robustness=None) -> gate.Decision:
    """Score both on the candidate's frozen test split (checked by content hash) and decide."""
    test = load_split(frozen_split(cand, Path(features_dir)), "test")
    train = load_split(features_dir, "train") if rule.robustness else None  # perturbation scales
    candidate = score(cand, test, rule, robustness, train)
    champion = None
    if champ is not None:
        # scored on the candidate's rows; decide_promotion refuses if it was evaluated on another split
        champion = score(champ, test, rule, robustness, train)
    return gate.with_registration_bars(gate.decide_promotion(candidate, champion, rule), cand.tags)


def frozen_split(cand: registry.VersionRef, features_dir: Path) -> Path:
    """The folder holding the candidate's test split: `features_dir` when its test.parquet is that split (by
    sha256), else the copy registered with the version (`split_uri`), fetched and checked the same way."""
    want, local = cand.tags.get("split_sha256", ""), features_dir / "test.parquet"
    if local.is_file() and sha256_file(local) == want:
        return features_dir
    if cand.tags.get("split_uri"):
        fetched = registry.download_artifact(cand.tags["split_uri"])
        if sha256_file(fetched) != want:
            raise StageInputError(f"{cand.tags['split_uri']}: the test split registered with {cand.name} "
                                  f"v{cand.version} does not match its split_sha256 tag ({want[:12]}): corrupt copy")
        log.info("promote: using the test split registered with %s v%s (%s)", cand.name, cand.version,
                 "no local copy" if not local.is_file() else f"{local} is another split")
        return fetched.parent
    if not local.is_file():
        raise StageInputError(f"{local}: missing; the gate needs the frozen test split (run `dvc repro`)")
    raise StageInputError(f"{local}: sha256 {sha256_file(local)[:12]} is not the test split of {cand.name} "
                          f"v{cand.version} ({want[:12] or '?'}); re-create the split it was evaluated on (same "
                          "params and data)")


def write_report(name: str, alias: str, decision: gate.Decision, out_dir: Path) -> Gate:
    """gate.json + gate.md locally, on the candidate version (artifacts) and in its tags."""
    stem = out_dir / f"{name}-v{decision.candidate_version}"
    report_json = write_json(stem.with_suffix(".json"), decision.model_dump(mode="json") | {"model": name})
    report_md = stem.with_suffix(".md")
    with atomic_path(report_md) as tmp:
        tmp.write_text(gate.render_markdown(decision, name))
    stamp = ledger.now_iso().replace(":", "").replace("-", "")[:15]
    uri = registry.log_version_artifacts(name, decision.candidate_version, [report_json, report_md], f"gate/{stamp}")
    registry.set_version_tags(name, decision.candidate_version, gate.gate_tags(decision) | {"gate.report": uri})
    log.info("promote: %s v%s gate %s: %s", name, decision.candidate_version, decision.verdict,
             "; ".join(decision.reasons))
    return Gate(model_name=name, alias=alias, decision=decision, report_json=report_json, report_md=report_md,
                report_uri=uri)


def record_review(g: Gate, approved: bool | None, reviewer: str | None, comment: str | None) -> None:
    """Tag the candidate with the human decision (None: nobody answered in time)."""
    outcome = "timed out" if approved is None else ("approved" if approved else "rejected")
    registry.set_version_tags(g.model_name, g.decision.candidate_version,
                              {"gate.approval": outcome, "gate.reviewer": reviewer or "",
                               "gate.review_comment": (comment or "")[:4000]})


def commit(g: Gate, user: str | None = None) -> ledger.Entry:
    """Move the alias for a gate that passed (or was forced)."""
    d = g.decision
    if not (d.promote or d.forced):
        raise PromotionRefused(f"{g.model_name} v{d.candidate_version} refused: " + "; ".join(d.reasons))
    return move(g.model_name, g.alias, d.candidate_version, d.champion_version, "force" if d.forced else "promote",
                d.force_reason if d.forced else None, d.model_dump(mode="json"), user)


def run(name: str, version: str | None = None, params_path: Path = paths.PARAMS,
        features_dir: Path = paths.FEATURES_DIR, out_dir: Path = PROMOTE_DIR, force: bool = False,
        reason: str | None = None, user: str | None = None) -> PromoteResult:
    """Gate and (if it passes, or is forced with a reason) promote; a refusal is a result, not an error."""
    g = prepare(name, version, params_path, features_dir, out_dir, reason, force)
    d = g.decision
    entry = commit(g, user) if (d.promote or d.forced) else None
    return PromoteResult(model_name=name, version=d.candidate_version, promoted=entry is not None,
                         production=entry.to_version if entry else d.champion_version, reasons=d.reasons,
                         report=g.report_md, ledger_id=entry.id if entry else None)


def rollback(name: str, alias: str = "production", reason: str | None = None, user: str | None = None) -> PromoteResult:
    """Move `alias` back to the version that held it before the current one (per the ledger)."""
    moves.reconcile(name, alias)
    current = registry.version_by_alias(name, alias)
    now = current.version if current else None
    target = ledger.rollback_target(ledger.history(ledger_engine(), name, alias), now, name, alias)
    entry = move(name, alias, target, now, "rollback", reason or f"rollback from v{now}", None, user)
    return PromoteResult(model_name=name, version=target, promoted=True, production=target,
                         reasons=[f"rolled back @{alias} from v{now} to v{target}"], ledger_id=entry.id)

