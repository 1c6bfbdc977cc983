"""The log's file locks: a held run's lock file, a writer's segment (flock, released on close)."""

from __future__ import annotations

import errno
import fcntl
import os
from pathlib import Path
from typing import BinaryIO


def try_lock(path: Path, mode: str = "rb") -> BinaryIO | None:
    """Open `path` and take its exclusive flock without waiting: the open file, holding the lock until it is
    closed; None when another process holds it. Raises FileNotFoundError when (opened for reading) the file is
    gone: held and gone are different answers."""
    return _locked(path, mode, fcntl.LOCK_EX | fcntl.LOCK_NB)


def lock(path: Path, mode: str, wait: bool = False) -> BinaryIO:
    """`try_lock` for a file that is this process's alone: raises BlockingIOError naming it if another holds it;
    `wait`: until the others let go (for a lock they only probe for an instant)."""
    f = _locked(path, mode, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
    if f is None:
        raise BlockingIOError(errno.EWOULDBLOCK, "locked by another process", str(path))
    return f


def _locked(path: Path, mode: str, flags: int) -> BinaryIO | None:
    f = open(path, mode)  # noqa: SIM115 - the caller closes it (the lock lives as long)
    try:
        fcntl.flock(f, flags)
    except BlockingIOError:
        f.close()
        return None
    except BaseException:
        f.close()
        raise
    return f


def same_file(path: Path, f: BinaryIO) -> bool:
    """`path` still names the open file `f` (not deleted, nor replaced by another process meanwhile)."""
    return path.exists() and os.stat(path).st_ino == os.fstat(f.fileno()).st_ino
