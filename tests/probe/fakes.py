"""Helpers to build fake hosts for probe tests: file trees under a root, and fake children."""

from __future__ import annotations

import json
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
