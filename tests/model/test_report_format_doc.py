"""docs/report-format.md's top-level table names every field of the site and the host."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from gpudoctor.model.report import HostInfo, SiteInfo

DOC = Path(__file__).resolve().parents[2] / "docs" / "report-format.md"


def _row(key: str) -> str:
    start = f"| `{key}` |"
    (row,) = [
        line for line in DOC.read_text(encoding="utf-8").splitlines() if line.startswith(start)
    ]
    return row


def test_the_site_row_names_every_site_field() -> None:
    # site.container_toolkit (GD-HOST-061's facts) was written in every report and named nowhere
    row = _row("site")
    missing = [f.name for f in dataclasses.fields(SiteInfo) if f"`{f.name}`" not in row]
    assert missing == []


@pytest.mark.parametrize("name", ["dxg", "wsl_libcuda"])
def test_the_host_row_names_wsl2s_gpu_device_and_library(name: str) -> None:
    assert name in {f.name for f in dataclasses.fields(HostInfo)}
    assert f"`{name}`" in _row("host")
