"""`dvc plots show` writes a page for offline use: the project's page template (`.dvc/config` plots.html_template)
carries vega, vega-lite and vega-embed inline, so the page loads no script from a CDN. The test checks the page's
text (no script or stylesheet from elsewhere, the three libraries and the vegaEmbed call in it); no JavaScript
engine runs it, so that it draws is not tested here."""

from __future__ import annotations

import re

from tests.helpers import make_repo_copy
from tests.pipeline.dvc_helpers import dvc


def test_dvc_plots_page_loads_no_remote_script(tmp_path):
    repo = make_repo_copy(tmp_path / "repo")
    loss = repo / "reports" / "plots" / "loss.csv"
    loss.parent.mkdir(parents=True)
    loss.write_text("epoch,train_loss,val_loss\n1,0.9,1.0\n2,0.5,0.7\n")
    done = dvc(repo, "plots", "show", "-o", "out", "reports/plots/loss.csv")
    assert done.returncode == 0, done.stderr
    page = (repo / "out" / "index.html").read_text()
    assert "Loss per epoch" in page  # dvc.yaml's plot definition was used
    assert not re.search(r"<(script|link)[^>]*\s(src|href)=", page), "the page loads a file from elsewhere"
    assert "cdn.jsdelivr" not in page
    for library in ("vega@5", "vega-lite@5", "vega-embed@6"):
        assert f"<!-- {library}" in page  # inlined by infra/plots/build_offline_template.py
    assert "vegaEmbed(" in page.rsplit("</head>", 1)[1]  # the plot itself is drawn by the inlined vega-embed
