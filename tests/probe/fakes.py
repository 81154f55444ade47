"""Helpers to build fake hosts for probe tests: file trees under a root, and fake children."""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from gpudoctor.probe.runcmd import CmdResult


def write(root: Path, absolute: str, text: str = "") -> Path:
    path = root / absolute.lstrip("/")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def pci_function(
    root: Path, address: str, *, vendor: str, klass: str, device: str, driver: str | None
) -> None:
    dev = root / "sys/bus/pci/devices" / address
    dev.mkdir(parents=True)
    (dev / "vendor").write_text(vendor + "\n")
    (dev / "class").write_text(klass + "\n")
    (dev / "device").write_text(device + "\n")
    if driver is not None:
        # As in sysfs: a relative link into /sys/bus/pci/drivers/<name>, which need not exist.
        (dev / "driver").symlink_to(f"../../../bus/pci/drivers/{driver}")


class FakeRun:
    """Stands in for run_cmd: answers every child with the given output, records the calls."""

    def __init__(
        self,
        data: Mapping[str, Any] | None = None,
        *,
        stdout: str | None = None,
        stderr: str = "",
        returncode: int | None = 0,
        timed_out: bool = False,
        abandoned: bool = False,
    ) -> None:
        self.stdout = stdout if stdout is not None else (json.dumps(data) if data else "")
        self.stderr = stderr
        self.returncode = None if timed_out else returncode
        self.timed_out = timed_out
        self.abandoned = abandoned
        self.calls: list[tuple[tuple[str, ...], float, dict[str, str] | None]] = []

    def __call__(self, argv, *, timeout_s, env=None, stdin=None) -> CmdResult:
        self.calls.append((tuple(argv), timeout_s, dict(env) if env is not None else None))
        return CmdResult(
            argv=tuple(argv),
            returncode=self.returncode,
            stdout=self.stdout,
            stderr=self.stderr,
            timed_out=self.timed_out,
            abandoned=self.abandoned,
        )


def other_python() -> str | None:
    """An interpreter with another environment than this one (no gpudoctor installed), if any.

    In a virtual environment that is the base interpreter it was made from; elsewhere a system
    ``python3`` that is not this very file. The paths are not resolved: a venv's python is a
    symlink to its base, yet a different environment.
    """
    if sys.prefix != sys.base_prefix:
        base = getattr(sys, "_base_executable", None)
        if base and Path(base).exists():
            return str(base)
    for candidate in ("/usr/bin/python3", shutil.which("python3")):
        if candidate and Path(candidate).exists() and candidate != sys.executable:
            return candidate
    return None
