"""Save PNGs of the Prefect UI's deployments page and the MLflow registered-model page, as a user sees them.

Drives Debian's headless Chromium (/usr/bin/chromium) with Playwright; reads the servers and credentials from
the environment (`source infra/env.sh`). Prints JSON with the visible text of each page, so callers can check
the expected names rendered. Usage: python infra/screenshots.py --out docs/screens --model digits-cnn
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

CHROMIUM = os.environ.get("KEEL_CHROMIUM", "/usr/bin/chromium")


def prefect_deployments(page: Page, ui: str, auth: str, out: Path) -> str:
    """The deployments list (names, schedules, pools); logs in with the server's auth string when it has one."""
    page.goto(f"{ui}/deployments")
    page.wait_for_load_state("networkidle")
    if "/login" in page.url:  # the server has an auth string: the UI asks for it once, then keeps it
        page.locator("input").first.fill(auth)
        page.get_by_role("button", name="Login").click()
        page.wait_for_url(lambda url: "/login" not in url, timeout=60_000)
        page.goto(f"{ui}/deployments")
    page.get_by_text("nightly-training").first.wait_for(timeout=60_000)
    page.wait_for_timeout(1500)  # let the schedule badges render
    page.screenshot(path=out / "prefect-deployments.png", full_page=True)
    return page.inner_text("body")


def mlflow_model(page: Page, ui: str, model: str, out: Path) -> str:
    """The registered model's page: its versions and their aliases."""
    page.goto(f"{ui}/#/models/{model}")
    page.get_by_text(model).first.wait_for(timeout=60_000)
    page.wait_for_timeout(1500)
    page.screenshot(path=out / "mlflow-model.png", full_page=True)
    return page.inner_text("body")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("docs/screens"))
    ap.add_argument("--model", default="digits-cnn")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    prefect_ui = os.environ["PREFECT_API_URL"].removesuffix("/api")
    mlflow_ui = os.environ["MLFLOW_TRACKING_URI"]
    creds = None
    if os.environ.get("MLFLOW_TRACKING_USERNAME"):
        creds = {"username": os.environ["MLFLOW_TRACKING_USERNAME"], "password": os.environ["MLFLOW_TRACKING_PASSWORD"]}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            seen = {"prefect": prefect_deployments(page, prefect_ui, os.environ.get("PREFECT_API_AUTH_STRING", ""),
                                                   args.out)}
            page = browser.new_context(http_credentials=creds, viewport={"width": 1400, "height": 900}).new_page()
            seen["mlflow"] = mlflow_model(page, mlflow_ui, args.model, args.out)
        finally:
            browser.close()
    print(json.dumps(seen))


if __name__ == "__main__":
    main()
