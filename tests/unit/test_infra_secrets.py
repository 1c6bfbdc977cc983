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


def test_up_refuses_an_mlflow_admin_password_mlflow_would_refuse(tmp_path):
    secrets = {k: "a-long-enough-secret" for k in ("KEEL_PG_PASSWORD", "KEEL_PG_MLFLOW_PASSWORD",
               "KEEL_PG_PREFECT_PASSWORD", "KEEL_PG_LEDGER_PASSWORD", "MLFLOW_FLASK_SERVER_SECRET_KEY")}
    short = "eleven-char"  # pragma: allowlist secret
    env = venv_env(KEEL_INFRA_HOME=str(tmp_path / "infra"), KEEL_ENV_FILE=str(tmp_path / "absent.env"),
                   KEEL_PG_BINDIR=str(tmp_path / "no-postgres"), KEEL_MLFLOW_AUTH="true",
                   KEEL_PREFECT_AUTH="admin:a-long-enough-secret", MLFLOW_TRACKING_PASSWORD=short, **secrets)
    out = subprocess.run(["bash", "infra/up.sh"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 1
    assert "MLFLOW_TRACKING_PASSWORD has 11 characters" in out.stderr and "at least 12" in out.stderr
    assert not (tmp_path / "infra").exists()  # refused before PostgreSQL was set up


def test_images_are_built_without_env_files_or_the_git_history():
    ignored = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()}
    assert {".env", "**/.env", ".git"} <= ignored
    compose = (ROOT / "infra" / "docker-compose.yml").read_text()
    contexts = [line.split("context:", 1)[1].split(",")[0].strip() for line in compose.splitlines()
                if "context:" in line]
    assert contexts and set(contexts) == {".."}  # every build reads the root's .dockerignore
    assert not list(ROOT.glob("infra/*.dockerignore"))  # no per-Dockerfile ignore file overrides it


SERVER_SECRETS = ("KEEL_PG_PASSWORD", "KEEL_PG_MLFLOW_PASSWORD", "KEEL_PG_PREFECT_PASSWORD",
                  "MLFLOW_FLASK_SERVER_SECRET_KEY", "KEEL_PREFECT_AUTH")


def test_a_client_shell_gets_the_urls_and_its_credentials_but_not_the_servers_secrets(tmp_path):
    settings = (ROOT / "infra" / ".env.example").read_text().replace("change-me", "s3cret")
    (tmp_path / "team.env").write_text(settings)
    env = venv_env(KEEL_ENV_FILE=str(tmp_path / "team.env"))
    for key in (*SERVER_SECRETS, "KEEL_PG_LEDGER_PASSWORD", "MLFLOW_TRACKING_PASSWORD", "PREFECT_API_AUTH_STRING"):
        env.pop(key, None)
    script = "source infra/env.sh && env -0 && echo -n SHELL: && declare -p {} 2>/dev/null | wc -l".format(
        " ".join(SERVER_SECRETS))
    out = subprocess.run(["bash", "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=30)
    child, shell_vars = out.stdout.rsplit("SHELL:", 1)
    exported = dict(kv.split("=", 1) for kv in child.split("\0") if "=" in kv)
    assert not set(SERVER_SECRETS) & exported.keys() and shell_vars.strip() == "0"  # gone from the shell too
    assert exported["PREFECT_API_AUTH_STRING"] == "admin:s3cret-prefect"  # the client's own credentials stay
    assert ":s3cret-pg-ledger@" in exported["KEEL_LEDGER_DB_URL"] and exported["MLFLOW_TRACKING_URI"].startswith("http")
    assert not any("s3cret-pg-mlflow" in v or "s3cret-pg-prefect" in v or v == "s3cret-pg" for v in exported.values())

    script = "KEEL_ENV_SERVER=1 source infra/env.sh && env -0 && echo -n SHELL: && echo -n $KEEL_PG_PASSWORD"
    server = subprocess.run(["bash", "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=30)
    child, admin = server.stdout.rsplit("SHELL:", 1)
    assert admin == "s3cret-pg" and "KEEL_PG_PASSWORD=" not in child  # the scripts' variable, not their children's
