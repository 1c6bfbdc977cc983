"""The team stack refuses to start with the committed example secrets, before it starts anything."""

import subprocess

from tests.helpers import ROOT, venv_env


def test_up_refuses_the_example_secrets_naming_them(tmp_path):
    env = venv_env(KEEL_INFRA_HOME=str(tmp_path / "infra"), KEEL_ENV_FILE=str(tmp_path / "absent.env"),
                   MLFLOW_TRACKING_PASSWORD="a-real-one")
    for key in ("KEEL_PG_PASSWORD", "KEEL_PG_MLFLOW_PASSWORD", "KEEL_PG_PREFECT_PASSWORD", "KEEL_PG_LEDGER_PASSWORD",
                "MLFLOW_FLASK_SERVER_SECRET_KEY", "KEEL_PREFECT_AUTH"):
        env.pop(key, None)
    out = subprocess.run(["bash", "infra/up.sh"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 1 and "using infra/.env.example" in out.stderr  # the fallback is said, not silent
    refused = out.stderr.split("example secrets: ", 1)[1].split(". Set", 1)[0].split()
    assert refused == ["KEEL_PG_PASSWORD", "KEEL_PG_MLFLOW_PASSWORD", "KEEL_PG_PREFECT_PASSWORD",
                       "KEEL_PG_LEDGER_PASSWORD", "MLFLOW_FLASK_SERVER_SECRET_KEY", "KEEL_PREFECT_AUTH"]
    assert not (tmp_path / "infra").exists()  # nothing was started or created


def test_images_are_built_without_env_files_or_the_git_history():
    ignored = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()}
    assert {".env", "**/.env", ".git"} <= ignored
    compose = (ROOT / "infra" / "docker-compose.yml").read_text()
    contexts = [line.split("context:", 1)[1].split(",")[0].strip() for line in compose.splitlines()
                if "context:" in line]
    assert contexts and set(contexts) == {".."}  # every build reads the root's .dockerignore
    assert not list(ROOT.glob("infra/*.dockerignore"))  # no per-Dockerfile ignore file overrides it
