"""Build `infra/plots/offline.html`, the page template of `dvc plots show` here (`.dvc/config` plots.html_template).

DVC's own page loads vega, vega-lite and vega-embed from cdn.jsdelivr.net, so offline it renders blank. This template
carries the three libraries inline (BSD-3-Clause, Vega project; their licences are kept in the page) and has no
`{scripts}` placeholder, so DVC adds no CDN tag; `{refresh_tag}` keeps `dvc plots show --refresh`-style live pages.

    python infra/plots/build_offline_template.py              # npm pack vega@5 vega-lite@5 vega-embed@6, then write
    python infra/plots/build_offline_template.py --from DIR   # use tarballs already packed into DIR
"""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import tarfile
import tempfile
from pathlib import Path

PACKAGES = ("vega@5", "vega-lite@5", "vega-embed@6")
OUT = Path(__file__).with_name("offline.html")
VEGA_COPYRIGHT = ("Copyright (c) 2015-2023, University of Washington Interactive Data Lab "
                  "(https://github.com/vega/vega/blob/main/LICENSE)")  # the vega package ships no LICENSE file
PLACEHOLDERS = ("{plot_divs}", "{scripts}", "{refresh_tag}")
HEAD = """<!DOCTYPE html>
<html>
<head>
    {refresh_tag}
    <meta charset="utf-8">
    <title>DVC Plot (vega, vega-lite, vega-embed inline: infra/plots/build_offline_template.py)</title>
"""
TAIL = """    <style>
        table {
            border-spacing: 15px;
        }
    </style>
</head>
<body>
    {plot_divs}
</body>
</html>
"""


def library(tarball: Path) -> tuple[str, str, str]:
    """(name@version, licence text, minified build) read from an npm tarball."""
    with tarfile.open(tarball) as tar:
        def read(member: str) -> str:
            f = tar.extractfile(member)
            return io.TextIOWrapper(f, encoding="utf-8").read() if f else ""
        names = tar.getnames()
        pkg = json.loads(read("package/package.json"))
        licence = read("package/LICENSE") if "package/LICENSE" in names else f"{pkg['license']}, {VEGA_COPYRIGHT}"
        return f"{pkg['name']}@{pkg['version']}", licence, read(f"package/build/{pkg['name']}.min.js")


UNSAFE = ("</script", "<script", "<!--")  # inside <script>: would end it, or change how the parser reads the rest


def page(tarballs: list[Path]) -> str:
    parts = [HEAD]
    for tarball in tarballs:
        name, licence, code = library(tarball)
        found = [m for m in UNSAFE if m in code.lower()] + [p for p in PLACEHOLDERS if p in code]
        if found:
            raise SystemExit(f"{tarball}: the build contains {', '.join(map(repr, found))}; it cannot be inlined")
        parts.append(f"    <!-- {name}\n{licence.replace('--', '- -')}\n    -->\n    <script>{code}</script>\n")
    return "".join(parts) + TAIL


def tarball(src: Path, package: str) -> Path:
    """The npm tarball of `package` (name@range) in `src`."""
    name = package.split("@")[0]
    found = sorted(src.glob(f"{name}-[0-9]*.tgz"))
    if not found:
        raise SystemExit(f"{src}: no npm tarball of {package} ({name}-<version>.tgz); `npm pack {package}` there")
    return found[-1]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--from", dest="src", type=Path, help="a folder with the three npm tarballs")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        src = args.src or Path(tmp)
        if args.src is None:
            subprocess.run(["npm", "pack", *PACKAGES], cwd=src, check=True, capture_output=True)
        tarballs = [tarball(src, name) for name in PACKAGES]
        OUT.write_text(page(tarballs), encoding="utf-8")
    print(f"wrote {OUT} ({OUT.stat().st_size / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
