"""Small file helpers: atomic writes, JSON, Parquet and content hashes.

A write that runs out of space (ENOSPC, EDQUOT, EFBIG) raises StorageFullError naming the file; an atomic
write leaves the previous file in place (tests/faults/test_disk_full.py)."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd

from components.core.errors import StageInputError, StorageFullError

_FULL = {errno.ENOSPC, errno.EFBIG, errno.EDQUOT}  # disk full, file-size limit, quota


def storage_full(e: BaseException | None) -> OSError | None:
    """The OSError in `e` or its causes that means "no space" (disk full, quota, file-size limit), or None."""
    seen: set[int] = set()
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        if isinstance(e, OSError) and e.errno in _FULL:
            return e
        e = e.__cause__ or e.__context__
    return None


def full_error(path: Path | str, e: OSError, kept: str = "the previous file is intact") -> StorageFullError:
    """The error for a write to `path` that ran out of space: which path, why, what is kept, what to do."""
    return StorageFullError(f"{path}: cannot write it: {os.strerror(e.errno)} (errno {errno.errorcode[e.errno]}); "
                            f"{kept}. Free space on that filesystem (or raise the quota or file-size limit) and re-run")


@contextmanager
def atomic_path(dest: Path):
    """Yield a temporary path beside `dest`; move it into place only if the block succeeds."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".tmp")
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the file normal permissions
    try:
        yield Path(tmp)
        os.replace(tmp, dest)
    except Exception as e:  # a writer may wrap the OSError (torch.save: RuntimeError, its context ENOSPC)
        if (full := storage_full(e)) is None:
            raise
        raise full_error(dest, full) from e
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


@contextmanager
def atomic_dir(dest: Path):
    """Yield a fresh temporary folder beside `dest`; swap it in for `dest` only on success."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=dest.parent, prefix=f".{dest.name}."))
    os.chmod(tmp, 0o777 & ~_umask())
    try:
        yield tmp
        if dest.exists():
            shutil.rmtree(dest)
        os.replace(tmp, dest)
    except Exception as e:
        if (full := storage_full(e)) is None:
            raise
        raise full_error(dest, full, "the previous folder is intact") from e
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_json(path: Path, obj: Any) -> Path:
    """Write `obj` as indented JSON, atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=False, default=_json_default) + "\n")
    return Path(path)


def read_json(path: Path) -> Any:
    """Read JSON, naming the file when it is missing."""
    path = Path(path)
    if not path.is_file():
        raise StageInputError(f"{path}: missing (run the stage that writes it first)")
    return json.loads(path.read_text())


def write_parquet(path: Path, df: pd.DataFrame) -> Path:
    """Write a DataFrame to Parquet, atomically."""
    with atomic_path(path) as tmp:
        df.to_parquet(tmp, index=False)
    return Path(path)


def read_parquet(path: Path) -> pd.DataFrame:
    """Read Parquet, naming the file when it is missing."""
    path = Path(path)
    if not path.is_file():
        raise StageInputError(f"{path}: missing (run the stage that writes it first)")
    return pd.read_parquet(path)


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file's bytes (read into one reused buffer: no allocation per block)."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def files_under(root: Path) -> list[Path]:
    """The files of a folder, recursively and sorted (`[root]` for a file): what `sha256_paths` hashes."""
    return sorted(f for f in root.rglob("*") if f.is_file()) if root.is_dir() else [root]


def sha256_paths(paths: Iterable[Path]) -> str:
    """One sha256 over files and folders (relative names and contents, in sorted order)."""
    entries = []
    for root in sorted(Path(p) for p in paths):
        files = files_under(root)
        entries += [(str(f.relative_to(root.parent)), sha256_file(f)) for f in files if f.exists()]
    return fold_sha256(entries)


def dictionary_columns(schema: Any) -> list[str]:
    """The columns of a pyarrow schema worth Parquet's dictionary encoding: not floats (measured values rarely
    repeat, so it never pays, and building the dictionary costs ~2-3x the write) nor nested ones."""
    import pyarrow as pa

    return [f.name for f in schema if not pa.types.is_floating(f.type) and not pa.types.is_nested(f.type)]


def fold_sha256(entries: Iterable[tuple[str, str]]) -> str:
    """`sha256_paths`' digest from its (relative name, file sha256) entries, in its order: for file digests
    computed elsewhere (a Dask worker hashing the files it wrote)."""
    h = hashlib.sha256()
    for name, digest in entries:
        h.update(name.encode())
        h.update(digest.encode())
    return h.hexdigest()


def sha256_json(obj: Any) -> str:
    """sha256 of an object's canonical JSON form (sorted keys)."""
    blob = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=_json_default)
    return hashlib.sha256(blob.encode()).hexdigest()


def _json_default(obj: Any) -> Any:
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, "item"):  # numpy scalars
        return obj.item()
    if hasattr(obj, "tolist"):
        return obj.tolist()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def require_files(folder: Path, names: Iterable[str], check: Callable[[Path], bool] = Path.is_file) -> None:
    """Raise StageInputError naming every expected file missing from `folder`."""
    missing = [n for n in names if not check(Path(folder) / n)]
    if missing:
        raise StageInputError(f"{folder}: missing {', '.join(missing)} (run the stage that writes it first)")
