"""The team stack refuses to start with the committed example secrets, before it starts anything."""

import subprocess

from tests.helpers import ROOT, venv_env


def test_up_refuses_the_example_secrets_naming_them(tmp_path):
    env = venv_env(KEEL_INFRA_HOME=str(tmp_path / "infra"), KEEL_ENV_FILE=str(tmp_path / "absent.env"),
                   MLFLOW_TRACKING_PASSWORD="a-real-one")
    for key in ("KEEL_PG_PASSWORD", "MLFLOW_FLASK_SERVER_SECRET_KEY", "KEEL_PREFECT_AUTH"):
        env.pop(key, None)
    out = subprocess.run(["bash", "infra/up.sh"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 1 and "using infra/.env.example" in out.stderr  # the fallback is said, not silent
    refused = out.stderr.split("example secrets: ", 1)[1].split(". Set", 1)[0].split()
    assert refused == ["KEEL_PG_PASSWORD", "MLFLOW_FLASK_SERVER_SECRET_KEY", "KEEL_PREFECT_AUTH"]
    assert not (tmp_path / "infra").exists()  # nothing was started or created
