"""The JSON-lines protocol of verify's hardware children: real stdout for events, fd 1 to stderr."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from typing import Any

Emit = Callable[[dict[str, Any]], None]


def open_protocol() -> Emit:
    """Keep the real stdout for JSON lines and send fd 1 to stderr; return the writer.

    Libraries that print (NCCL's and gloo's warnings, C code writing to fd 1) then cannot
    corrupt the protocol.
    """
    sys.stdout.flush()
    proto = os.fdopen(os.dup(1), "w", buffering=1, encoding="utf-8")
    os.dup2(2, 1)

    def emit(event: dict[str, Any]) -> None:
        proto.write(json.dumps(event, allow_nan=True) + "\n")
        proto.flush()

    return emit


def leave(code: int) -> None:
    """Exit at once, skipping the interpreter's teardown (torch's and NCCL's can hang)."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
