"""The documentation site builds offline with --strict: a broken link or a missing page fails."""

import os
import subprocess
import sys
from pathlib import Path

from tests.helpers import ROOT


def test_mkdocs_builds_strict(tmp_path):
    mkdocs = Path(sys.executable).parent / "mkdocs"
    done = subprocess.run([str(mkdocs), "build", "--strict", "--site-dir", str(tmp_path / "site")], cwd=ROOT,
                          capture_output=True, text=True, timeout=300, env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    for page in ("index", "families", "adding-a-family", "architecture"):
        assert (tmp_path / "site" / ("" if page == "index" else page) / "index.html").is_file()
    assert "keel.families" in (tmp_path / "site" / "adding-a-family" / "index.html").read_text()


def test_readme_is_short_and_links_resolve():
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 200
    import re

    for target in re.findall(r"\]\(([^)#]+)\)", readme):
        if not target.startswith("http"):
            assert (ROOT / target).exists(), target
