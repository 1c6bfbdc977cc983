"""Each `keel tune` trial as a DVC experiment: `dvc exp show` lists it (`tune-<family>-t<N>`) beside the
experiments of `dvc exp run`, with the params it trained with and its dvclive metrics.

A trial's experiment is a commit whose parent is HEAD (the baseline). Its tree is the code the trial ran, as
`dvc exp run` records it: every file git tracks (those staged as new included) with its content in the working
tree, untracked files left out; then two changes: `params.yaml` = the params file the study read, with the
trial's values and the fixed overrides applied by DVC's own `-S` parser (what `dvc exp run -S` would write),
and the train stage's dvclive folder (`reports/live/`: `metrics.json` + `plots/metrics/*.tsv`, written by the
train stage's one per-epoch logging path, components/lifecycle/epochlog.py) with the trial's outcome added to
`metrics.json` under `tune` (`trial`, `pruned` 0/1, `best_val_loss`). It is referenced as DVC references an experiment
(`refs/exps/<baseline>/<name>`, DVC's `ExpRefInfo`), so `dvc exp show / apply / remove / push` treat it as any.

Not `dvc exp save` (dvclive's `save_dvc_exp`): it `dvc commit`s every stage (it fails where the pipeline has
not run, as in a fresh clone, and otherwise caches outputs and rewrites dvc.lock in the workspace) and resets
the user's index. Here the commit is built with git plumbing in a private index file (a copy of the user's):
the user's files, index, HEAD and branch are not touched.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from components.core import paths
from components.core.errors import ParamsError

log = logging.getLogger(__name__)
FALLBACK_IDENTITY = {"GIT_AUTHOR_NAME": "keel tune", "GIT_AUTHOR_EMAIL": "keel@localhost",
                     "GIT_COMMITTER_NAME": "keel tune", "GIT_COMMITTER_EMAIL": "keel@localhost"}


@dataclass(frozen=True)
class ExpTarget:
    """The git repository trials are saved to: its top folder, the project's path inside it (`""` or
    `"sub/"`), the baseline commit (HEAD when the study started) and the environment git runs with."""

    top: Path
    prefix: str
    baseline: str
    env: dict[str, str] = field(repr=False, default_factory=dict)


def git(target_dir: Path, *args: str, env: dict[str, str] | None = None, stdin: str | None = None) -> str:
    """One git command's stdout (stripped); CalledProcessError on failure."""
    return subprocess.run(["git", *args], cwd=target_dir, env=env, input=stdin, capture_output=True, text=True,
                          check=True).stdout.strip()


def open_target(root: Path) -> ExpTarget | None:
    """The repository of the project at `root`, or None, with one log line saying why trials will be MLflow
    runs only: not a DVC project (no .dvc/), not in git (or no git), no commit yet (no baseline)."""
    root = Path(root)
    skip = "keel tune: %s %s; trials are MLflow runs only, not DVC experiments"
    if not (root / ".dvc").is_dir():
        log.info(skip, root.resolve(), "is not a DVC project (no .dvc/)")
        return None
    try:
        top, prefix = (git(root, "rev-parse", "--show-toplevel", "--show-prefix").splitlines() + [""])[:2]
    except (subprocess.CalledProcessError, FileNotFoundError):
        log.info(skip, root.resolve(), "is not in a git repository")
        return None
    try:
        baseline = git(root, "rev-parse", "--verify", "--quiet", "HEAD^{commit}")
    except subprocess.CalledProcessError:
        log.info(skip, top, "has no commit yet (an experiment needs a baseline commit)")
        return None
    env = dict(os.environ)
    try:
        git(root, "var", "GIT_COMMITTER_IDENT")
    except subprocess.CalledProcessError:  # no user.name/email: commit as "keel tune"
        env |= {k: v for k, v in FALLBACK_IDENTITY.items() if k not in env}
    return ExpTarget(Path(top), prefix, baseline, env)


def trial_name(family: str, study: str, number: int) -> str:
    """`tune-<family>-t<N>`, or `tune-<family>-<study>-t<N>` for a study not named after its family."""
    return f"tune-{family}-t{number}" if study == family else f"tune-{family}-{study}-t{number}"


def exp_ref(target: ExpTarget, name: str) -> str:
    """The experiment's git ref, as DVC spells it; a clear error for a name git refuses."""
    from dvc.repo.experiments.refs import ExpRefInfo

    ref = str(ExpRefInfo(target.baseline, name))
    refused = ParamsError(f"experiment name {name!r} is not a valid git ref name: choose another --study")
    if "/" in name:
        raise refused
    try:
        git(target.top, "check-ref-format", ref)
    except subprocess.CalledProcessError:
        raise refused from None
    return ref


def trial_params(params_file: Path, sets: list[str], out: Path) -> Path:
    """`params_file` with `sets` (`-S` items) applied by DVC's own parser, written to `out`."""
    from dvc.utils.hydra import apply_overrides

    shutil.copyfile(params_file, out)
    apply_overrides(str(out), sets)
    return out


def workspace_tree(target: ExpTarget, index: Path, env: dict[str, str]) -> None:
    """Fill the private `index` with what `dvc exp run` commits: the user's index (tracked files, new ones staged
    with `git add` included) updated with the working tree's content of every tracked file."""
    user_index = Path(git(target.top, "rev-parse", "--path-format=absolute", "--git-path", "index"))
    if user_index.is_file():
        shutil.copyfile(user_index, index)
    else:
        git(target.top, "read-tree", target.baseline, env=env)
    git(target.top, "add", "--update", "--", ".", env=env)


def save_trial(target: ExpTarget, name: str, message: str, params_file: Path, sets: list[str], live_dir: Path,
               outcome: dict[str, Any]) -> str:
    """Commit the trial as the experiment `name` (replacing one of that name, with a warning); its sha."""
    ref = exp_ref(target, name)
    with tempfile.TemporaryDirectory(prefix="keel-tune-exp-") as tmp:
        tmp = Path(tmp)
        summary = json.loads((live_dir / paths.METRICS_FILE).read_text()) | {"tune": outcome}
        (tmp / paths.METRICS_FILE).write_text(json.dumps(summary, indent=4) + "\n")
        live = target.prefix + paths.LIVE_DIR.as_posix()
        files = {target.prefix + paths.PARAMS.as_posix(): trial_params(params_file, sets, tmp / "params.yaml"),
                 f"{live}/{paths.METRICS_FILE}": tmp / paths.METRICS_FILE}
        files |= {f"{live}/{f.relative_to(live_dir).as_posix()}": f
                  for f in sorted((live_dir / paths.LIVE_METRICS).rglob("*")) if f.is_file()}
        env = target.env | {"GIT_INDEX_FILE": str(tmp / "index")}  # a private index: the user's is not touched
        blobs = git(target.top, "hash-object", "-w", "--no-filters", "--stdin-paths",
                    stdin="\n".join(str(p) for p in files.values()) + "\n").split()
        workspace_tree(target, tmp / "index", env)
        git(target.top, "update-index", "--index-info", env=env,
            stdin="".join(f"100644 {b}\t{p}\n" for p, b in zip(files, blobs, strict=True)))
        tree = git(target.top, "write-tree", env=env)
        sha = git(target.top, "commit-tree", tree, "-p", target.baseline, "-m", message, env=env)
    try:  # "" as the old value: only if the ref does not exist yet
        git(target.top, "update-ref", ref, sha, "")
    except subprocess.CalledProcessError:
        log.warning("keel tune: experiment %s existed (a study deleted and started again?); replaced", name)
        git(target.top, "update-ref", ref, sha)
    return sha
