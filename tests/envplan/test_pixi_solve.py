"""The conda-forge part of a pixi.toml, as written, solves with py-rattler (pixi's solver) for
the virtual packages the file declares, offline against the small test channel."""

from __future__ import annotations

import asyncio
import datetime as dt
import sys
from pathlib import Path
from typing import Any

import pytest

from gpudoctor.envplan.forms import render
from gpudoctor.envplan.plan import Request, make_plan
from gpudoctor.envplan.target import target_from_args
from gpudoctor.kb import load
from tests.envplan.channel import build_channel
from tests.envplan.pixi_schema import problems

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

rattler = pytest.importorskip("rattler")


def _specs(doc: dict[str, Any]) -> list[str]:
    """pixi's [dependencies] as MatchSpecs (``pytorch 2.13.* cuda129*``)."""
    out = []
    for name, value in doc["dependencies"].items():
        table = {"version": value} if isinstance(value, str) else value
        out.append(" ".join(x for x in (name, table["version"], table.get("build")) if x))
    return out


def _solve(doc: dict[str, Any], channel: Path, cc: str) -> list[str]:
    cuda = doc["system-requirements"]["cuda"]
    virtual = [
        ("__cuda", cuda, "0"),
        ("__cuda_arch", cc, "0"),
        ("__unix", "0", "0"),
        ("__linux", "5.15", "0"),
        ("__glibc", "2.28", "0"),
        ("__archspec", "1", "x86_64"),
    ]
    packages = [
        rattler.GenericVirtualPackage(
            rattler.PackageName(n), rattler.Version(v), rattler.BuildString(b)
        )
        for n, v, b in virtual
    ]

    async def run() -> list[Any]:
        records: list[Any] = await rattler.solve(
            sources=[channel.resolve().as_uri()],
            specs=[rattler.MatchSpec(s) for s in _specs(doc)],
            gateway=rattler.Gateway(cache_dir=channel.parent / "cache"),
            platforms=[doc["workspace"]["platforms"][0], "noarch"],
            virtual_packages=packages,
            timeout=dt.timedelta(seconds=60),
        )
        return records

    return sorted(f"{r.name.normalized} {r.version} {r.build}" for r in asyncio.run(run()))


@pytest.mark.parametrize(
    ("driver", "cc", "build", "cuda"),
    [("550.54.15", "8.6", "cuda129_", "12.9"), ("580.95.05", "9.0", "cuda130_", "13.0")],
)
def test_pixi_conda_forge_part_solves(
    tmp_path: Path, driver: str, cc: str, build: str, cuda: str
) -> None:
    kb = load()
    target = target_from_args(kb, driver=driver, cc=cc)
    # the test channel has Python up to 3.13, as conda-forge pytorch 2.13 does
    plan = make_plan(kb, target, Request(source="conda-forge"))
    doc = tomllib.loads(render(plan, "pixi"))
    assert problems(doc) == []
    records = _solve(doc, build_channel(tmp_path / "channel"), cc)
    assert any(r.startswith(f"pytorch 2.13.0 {build}") for r in records), records
    assert any(r.startswith(f"cuda-version {cuda} ") for r in records), records
