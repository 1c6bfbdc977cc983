"""An offline front page for a run's GX Data Docs.

GX's own `index.html` builds its tables with JavaScript loaded from CDNs (bootstrap, jquery, bootstrap-table),
so offline it shows two empty tables. Its per-validation and per-suite pages stay readable as plain HTML.
`write_front_page` lists this run's results with their counts and links to those pages, with inline CSS and no
script, so the page opens the same with or without a network."""

from __future__ import annotations

from html import escape
from pathlib import Path
from typing import Any
from urllib.parse import quote

from components.core.io import atomic_path

FRONT_PAGE = "keel_index.html"
STYLE = ("body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{padding:.3em .8em;"
         "border-bottom:1px solid #ccc;text-align:left}.ok{color:#1a7f37}.fail{color:#cf222e;font-weight:bold}")


Key = tuple[str, ...]


def _page(docs_dir: Path, folder: str, key: Key) -> str | None:
    """The relative path of GX's page for a resource under `folder` (validations | expectations), if GX wrote
    it: GX's site store names it `<folder>/<the identifier's to_tuple(), joined by />.html`."""
    page = "/".join((folder, *key)) + ".html"
    return page if (docs_dir / page).is_file() else None


def _row(docs_dir: Path, result: Any, keys: tuple[Key, Key]) -> str:
    stats, suite = result.statistics, result.suite_name
    status = '<td class="ok">passed</td>' if result.success else '<td class="fail">failed</td>'
    pages = (("result", _page(docs_dir, "validations", keys[0])), ("suite", _page(docs_dir, "expectations", keys[1])))
    links = [f'<a href="{escape(quote(p))}">{label}</a>' for label, p in pages if p]
    return (f"<tr><td>{escape(suite)}</td>{status}<td>{stats['evaluated_expectations']}</td>"
            f"<td>{stats['successful_expectations']}</td><td>{stats['unsuccessful_expectations']}</td>"
            f"<td>{' · '.join(links)}</td></tr>")


def write_front_page(docs_dir: Path, results: list[Any], keys: list[tuple[Key, Key]]) -> Path:
    """Write `<docs_dir>/keel_index.html` for these GX validation results (GX has rendered their pages); `keys`:
    each result's ValidationResultIdentifier and ExpectationSuiteIdentifier, as `to_tuple()`."""
    docs_dir = Path(docs_dir)
    rows = "\n".join(_row(docs_dir, r, k) for r, k in zip(results, keys, strict=True))
    html = (f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>Keel: data validation</title>'
            f"<style>{STYLE}</style></head><body><h1>Data validation</h1>"
            "<table><tr><th>suite</th><th>status</th><th>checks</th><th>passed</th><th>failed</th><th>pages</th></tr>"
            f'{rows}</table><p>GX\'s own <a href="index.html">index</a> needs a network (its tables load from CDNs).'
            "</p></body></html>")
    out = docs_dir / FRONT_PAGE
    with atomic_path(out) as tmp:
        tmp.write_text(html, encoding="utf-8")
    return out
