"""Entry point of a verify child: ``python -m gpudoctor.verify.children FRAMEWORK CONFIG_JSON``."""

from __future__ import annotations

import json
import os
import sys
from typing import Any, TextIO


def _protocol_stream() -> TextIO:
    """Keep the real stdout for JSON lines and send fd 1 to stderr.

    Libraries that print (or C code that writes to fd 1) then cannot corrupt the protocol.
    """
    sys.stdout.flush()
    proto = os.fdopen(os.dup(1), "w", buffering=1, encoding="utf-8")
    os.dup2(2, 1)
    return proto


def main(argv: list[str]) -> int:
    """Run one framework's part of verify, writing one JSON event per line."""
    proto = _protocol_stream()

    def emit(event: dict[str, Any]) -> None:
        proto.write(json.dumps(event, allow_nan=True) + "\n")
        proto.flush()

    framework, config = argv[1], json.loads(argv[2])
    from gpudoctor.verify.children.driver import Config, run_child

    try:
        if framework == "torch":
            from gpudoctor.verify.children.torch_backend import TorchBackend

            backend: Any = TorchBackend()
        else:
            from gpudoctor.verify.children.tf_backend import TfBackend

            backend = TfBackend()
        run_child(backend, Config.from_json(config), emit)
    except Exception as exc:  # reported to the parent as a framework failure
        emit({"event": "fatal", "message": f"{type(exc).__name__}: {exc}"[:1000]})
        return 1
    return 0


if __name__ == "__main__":
    code = main(sys.argv)
    sys.stdout.flush()
    sys.stderr.flush()
    # Skip the interpreter's teardown: unloading TensorFlow took 2 to 4 s of a 25 s
    # `verify --quick --device cpu` on 2 cores, and every answer is already out.
    os._exit(code)
