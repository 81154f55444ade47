"""Describe the running interpreter as JSON: version, executable, venv/conda/system (stdlib)."""

from __future__ import annotations

import json
import platform
import sys
from pathlib import Path


def describe() -> dict[str, object]:
    """The facts of :class:`gpudoctor.model.report.PythonInfo` for this interpreter."""
    prefix = sys.prefix
    root = Path(prefix)
    name: str | None
    if (root / "conda-meta").is_dir():
        kind = "conda"
        # The root install of conda/mamba has an envs/ folder; named envs live inside it.
        name = "base" if (root / "envs").is_dir() else root.name
    elif prefix != getattr(sys, "base_prefix", prefix):
        kind, name = "venv", root.name
    else:
        kind, name = "system", None
    return {
        "version": platform.python_version(),
        "executable": sys.executable,
        "implementation": platform.python_implementation(),
        "env_kind": kind,
        "env_prefix": prefix if kind != "system" else None,
        "env_name": name,
    }


if __name__ == "__main__":
    print(json.dumps(describe()))
