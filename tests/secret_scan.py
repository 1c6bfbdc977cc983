"""The secret scan of `make test` (`make secrets`): detect-secrets over the git-tracked files, compared with the
committed baseline (.secrets.baseline). A finding that is not in the baseline fails, naming the file, line and
kind; line numbers are not compared, so moving a known example value does not fail the scan.

    python -m tests.secret_scan [ROOT]          # exit 1 on a new finding
    detect-secrets scan --exclude-files '^\.secrets\.baseline$' > .secrets.baseline   # every finding checked

A baseline entry is a hash of the value, never the value itself.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BASELINE = ".secrets.baseline"
SCAN = ["scan", "--exclude-files", r"^\.secrets\.baseline$"]  # the baseline's hashes are findings themselves


def findings(report: dict) -> set[tuple[str, str, str]]:
    return {(f, s["type"], s["hashed_secret"]) for f, found in report["results"].items() for s in found}


def new_secrets(root: Path) -> list[str]:
    """`file:line: type` of every finding under `root` that its baseline does not hold."""
    exe = Path(sys.executable).parent / "detect-secrets"
    out = subprocess.run([str(exe), *SCAN], cwd=root, capture_output=True, text=True, check=True).stdout
    report = json.loads(out)
    known = findings(json.loads((root / BASELINE).read_text()))
    return sorted(f"{f}:{s['line_number']}: {s['type']}" for f, found in report["results"].items() for s in found
                  if (f, s["type"], s["hashed_secret"]) not in known)


def main(argv: list[str]) -> int:
    root = Path(argv[0] if argv else ".").resolve()
    new = new_secrets(root)
    for line in new:
        print(f"secret scan: {line} (not in {BASELINE})", file=sys.stderr)
    if new:
        print(f"secret scan: {len(new)} new finding(s). Remove the secret (and rotate it); if it is not a secret, "
              f"regenerate the baseline: detect-secrets {' '.join(SCAN[:2])} '{SCAN[2]}' > {BASELINE}", file=sys.stderr)
    return 1 if new else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
