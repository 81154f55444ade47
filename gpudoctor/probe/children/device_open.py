"""Child process: open each path given for reading (non-blocking) and print what happened as JSON.

Run in a child because an open() on a wedged driver can sleep in the kernel without end; the
parent's timeout then abandons this process, not one of its own threads (stdlib only).
"""

from __future__ import annotations

import errno
import json
import os
import sys


def try_open(path: str) -> str | None:
    """None when ``path`` opened (and was closed again); else ``EPERM: Operation not permitted``."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as exc:
        name = errno.errorcode.get(exc.errno or 0, str(exc.errno))
        return f"{name}: {exc.strerror}"
    os.close(fd)
    return None


def main(paths: list[str]) -> int:
    print(json.dumps({path: try_open(path) for path in paths}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
