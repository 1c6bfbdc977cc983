"""Default artifact locations, relative to the project root. Every stage takes paths as arguments;
these are only the defaults that dvc.yaml, flows and the CLI pass explicitly."""

from pathlib import Path

PARAMS = Path("params.yaml")
PARAMS_DIR = Path("data/params")  # each stage's resolved view of the params (components/config/views.py)
DVC_YAML = Path("dvc.yaml")  # generated (components/stages/dvcyaml.py); the params stage checks it
SOURCES_DIR = Path("data/sources")  # a team's own data files; DVC re-runs ingest when they change
RAW_DIR = Path("data/raw")
FEATURES_DIR = Path("data/features")
MODEL_DIR = Path("models/train")
REPORTS_DIR = Path("reports")
VALIDATION_DIR = REPORTS_DIR / "validation"
REGISTER_DIR = REPORTS_DIR / "register"
LIVE_DIR = REPORTS_DIR / "live"  # train's per-epoch metrics, written by dvclive while it trains
TUNE_DIR = REPORTS_DIR / "tune"  # `keel tune`: the proposed params per family (<family>.yaml)
TUNE_STATE_DIR = Path(".keel/tune")  # `keel tune`: the Optuna study store and each family's prepared data
SUITES_DIR = Path("suites")  # inferred expectation suites (`keel suite infer`), reviewed in git
INFERENCE_LOG_DIR = Path("logs/inference")  # what keel serve / keel predict scored (Parquet by model and day)
MONITOR_DIR = REPORTS_DIR / "monitor"  # drift reports and their history, per model
SUITE_DOCS_DIR = REPORTS_DIR / "suites"  # Data Docs of the inferred suites
FLOW_OUTPUTS_DIR = Path(".keel/flow-outputs")  # per stage: the flow run (cache key) that made its outputs here
RESUME_DIR = Path(".keel/resume")  # per-epoch training state; deliberately not a DVC out

# File names inside stage folders (the contract between stages).
RAW_FILE = "data.parquet"
MANIFEST_FILE = "manifest.json"
VALIDATION_FILE = "summary.json"
SPLITS = ("train", "val", "test")
TRANSFORM_FILE = "transform.json"
SPLIT_FILE = "split.json"
CHECKPOINT_FILE = "model.pt"
BASELINE_FILE = "baseline.pt"  # a family's neural baseline, trained in the same run (Family.baseline)
LAST_CHECKPOINT_FILE = "last.pt"
HISTORY_FILE = "history.json"
RUN_FILE = "run.json"
METRICS_FILE = "metrics.json"
LIVE_METRICS = "plots/metrics"  # dvclive's per-step history (<name>.tsv) inside LIVE_DIR
DETAILS_FILE = "details.json"
PLOTS_DIR = "plots"
REFERENCE_ARTIFACT = "reference/test.parquet"  # a registered version's drift reference: its frozen test split
