"""Save PNGs of the Prefect UI's deployments page, the MLflow registered-model page and its newest version's page
(the model card), as a user sees them.

Drives Debian's headless Chromium (/usr/bin/chromium) with Playwright; reads the servers and credentials from
the environment (`source infra/env.sh`). Prints JSON with the visible text of each page, so callers can check
the expected names rendered. Usage: python infra/screenshots.py --out docs/screens --model digits-cnn
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from mlflow import MlflowClient
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


def mlflow_version(page: Page, ui: str, model: str, version: str, path: Path) -> str:
    """A version's page: its description is the model card (metrics, robustness, explanation heatmap, privacy)."""
    page.set_viewport_size({"width": 1400, "height": 2300})  # the page scrolls inside a panel: show the whole card
    page.goto(f"{ui}/#/models/{model}/versions/{version}")
    page.get_by_text(f"Model card: {model} v{version}").first.wait_for(timeout=60_000)
    close = page.get_by_role("button", name="Close")  # the "MLflow Assistant" side panel, when it opens
    if close.count():
        close.first.click()
    # the card's heatmap comes from the server's model-version artifact endpoint: wait until it has loaded
    page.wait_for_function("() => [...document.images].some(i => i.src.includes('path=explanation/')"
                           " && i.naturalWidth > 0)", timeout=60_000)  # (the UI's sanitiser drops alt texts)
    page.wait_for_timeout(1000)
    page.screenshot(path=path, full_page=True)
    return page.inner_text("body")


def shoot_model_version(ui: str, model: str, version: str, path: Path) -> str:
    """`mlflow_version` in a browser of its own (a server without auth)."""
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            return mlflow_version(browser.new_page(viewport={"width": 1400, "height": 900}), ui, model, version, path)
        finally:
            browser.close()


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
            newest = max(int(v.version) for v in MlflowClient().search_model_versions(f"name='{args.model}'"))
            seen["model-card"] = mlflow_version(page, mlflow_ui, args.model, str(newest), args.out / "model-card.png")
        finally:
            browser.close()
    print(json.dumps(seen))


if __name__ == "__main__":
    main()
