"""The shared `main` behaviour of every `python -m components.<stage>` entry point."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable

from pydantic import BaseModel

from components.errors import KeelError

log = logging.getLogger("components")


def stage_main(fn: Callable[[], BaseModel | None]) -> int:
    """Run one stage: log to stderr, print its result as JSON, map Keel errors to exit status 1."""
    # Libraries (GX, MLflow) stay at WARNING; Keel's own loggers at KEEL_LOG_LEVEL (default INFO).
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("great_expectations").setLevel(logging.WARNING)  # it sets INFO on itself
    log.setLevel(os.environ.get("KEEL_LOG_LEVEL", "INFO"))
    try:
        result = fn()
    except KeelError as e:
        print(f"error: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    if result is not None:
        print(result.model_dump_json(indent=2))
    return 0
