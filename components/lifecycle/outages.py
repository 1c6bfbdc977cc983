"""Telling "not found" from "cannot reach the store", for every MLflow call Keel makes.

MLflow reports both as an `MlflowException`: a missing version or alias carries RESOURCE_DOES_NOT_EXIST
(an alias no version holds: INVALID_PARAMETER_VALUE "... alias ... not found"), while an unreachable
tracking server is an INTERNAL_ERROR whose context is a `requests` connection error, and an unreachable
database an SQLAlchemy `OperationalError`. `guard()` turns the second kind into `TrackingUnavailableError`,
which names the store (credentials removed) and says what to do; the first kind passes through unchanged
for the caller to answer (None, or an error that says what is missing). A write that runs out of space
(ENOSPC, EDQUOT, EFBIG; a local artifact store's disk) becomes StorageFullError naming the file.

MLflow retries an HTTP request 7 times with exponential back-off by default (about 4 minutes against a
server that is down). `fail_fast()` lowers that to a few seconds unless the environment already sets it:
MLFLOW_HTTP_REQUEST_MAX_RETRIES (Keel: 2), MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR (1) and
MLFLOW_HTTP_REQUEST_TIMEOUT (10 s per request).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit

from components.core.errors import TrackingUnavailableError
from components.core.io import full_error, storage_full

FAIL_FAST = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2", "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
             "MLFLOW_HTTP_REQUEST_TIMEOUT": "10"}
# words of errors that mean nobody answered (MLflow keeps only the text of some requests errors)
_UNREACHABLE_TEXT = ("Max retries exceeded", "Connection refused", "Failed to establish a new connection",
                     "Connection aborted", "Connection reset", "Read timed out", "timeout exception",
                     "could not connect to server", "connection to server", "unable to open database file")


_CREDENTIALS = re.compile(r"([a-zA-Z][a-zA-Z0-9+.-]*://)[^/\s@]+@")


def fail_fast() -> None:
    """Keel's HTTP retry defaults for MLflow (seconds, not minutes), where the environment sets none."""
    for key, value in FAIL_FAST.items():
        os.environ.setdefault(key, value)


def redact(uri: str) -> str:
    """`uri` without credentials: scheme://user:secret@host/db -> scheme://host/db."""
    try:
        parts = urlsplit(uri)
    except ValueError:
        return "<unparseable URI>"
    if "@" not in parts.netloc:
        return uri
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))


def scrub(text: str) -> str:
    """`text` with the credentials of every URL in it removed (MLflow's errors quote the URL they called)."""
    return _CREDENTIALS.sub(r"\1", text)


def _chain(e: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        yield e
        e = e.__cause__ or e.__context__


def not_found(e: BaseException) -> bool:
    """Whether `e` is the store's answer "no such model, version or alias"."""
    code = getattr(e, "error_code", None)
    return code == "RESOURCE_DOES_NOT_EXIST" or (code == "INVALID_PARAMETER_VALUE" and "alias" in str(e)
                                                 and "not found" in str(e))


def unreachable(e: BaseException) -> bool:
    """Whether `e` (or what caused it) means the store did not answer: refused, timed out, kept failing."""
    import requests
    from sqlalchemy.exc import InterfaceError, OperationalError

    for x in _chain(e):
        if isinstance(x, (requests.exceptions.ConnectionError, requests.exceptions.Timeout,
                          requests.exceptions.RetryError, ConnectionError, TimeoutError, OperationalError,
                          InterfaceError)):
            return True
        if getattr(x, "error_code", None) == "TEMPORARILY_UNAVAILABLE":
            return True
        if not not_found(x) and any(t in str(x) for t in _UNREACHABLE_TEXT):
            return True
    return False


def unavailable(uri: str, e: BaseException, doing: str = "") -> TrackingUnavailableError:
    """The error for an unreachable store at `uri`: which one, why, and what to do."""
    first = scrub(str(e).strip().splitlines()[0][:300]) if str(e).strip() else type(e).__name__
    where = redact(uri)
    what = "tracking server" if where.startswith(("http://", "https://")) else "tracking store"
    settings = ", ".join(f"{k}={os.environ.get(k, v)}" for k, v in FAIL_FAST.items())
    return TrackingUnavailableError(
        f"cannot reach the MLflow {what} at {where}{f' ({doing})' if doing else ''}: {first}. Is it running? "
        f"Start it (`make up` for the team stack) or point MLFLOW_TRACKING_URI at a reachable one; nothing was "
        f"changed by this step, re-run it when the store is back (gave up after {settings})")


@contextmanager
def guard(uri: str, doing: str = "", target: str | None = None) -> Iterator[None]:
    """Run MLflow calls; an unreachable store becomes TrackingUnavailableError, a full disk StorageFullError
    naming the file (or `target`, where the error does not say), anything else passes."""
    fail_fast()
    try:
        yield
    except TrackingUnavailableError:
        raise
    except Exception as e:
        if unreachable(e):
            raise unavailable(uri, e, doing) from e
        if (full := storage_full(e)) is not None:  # a local artifact store's disk is full (copies: filename2 = dest)
            raise full_error(full.filename2 or full.filename or target or redact(uri), full,
                             f"{doing or 'the write'} stopped part-way, nothing was registered; the run may hold a "
                             "partial artifact") from e
        raise
