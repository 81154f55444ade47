"""Stand-ins for onboard's tests: reports with and without a GPU or partitions, fake tools, a
stand-in gpudoctor wheel whose ``verify`` proves that the new environment's Python runs."""

from __future__ import annotations

import json
import stat
import zipfile
from pathlib import Path

from gpudoctor import __version__
from tests.conftest import DATA
from tests.envplan.wheelhouse import _digest

LOGIN = DATA / "expected" / "site__login_node.json"
"""A login node without a GPU that sees two GPU partitions (gpu, debug)."""
WORKSTATION = DATA / "reports" / "linux-x86_64__nvidia-h100-80gb-hbm3__590.48.01__idle.json"


def report_variant(tmp: Path, name: str, *, partitions: tuple[str, ...] | None) -> Path:
    """The login node's report with only ``partitions`` left (None: no SLURM at all)."""
    doc = json.loads(LOGIN.read_text())
    site = doc["site"]
    if partitions is None:
        site["slurm"] = None
        site["slurm_commands"] = False
    else:
        site["slurm"]["partitions"] = [
            p for p in site["slurm"]["partitions"] if p["name"] in partitions or not p["gres"]
        ]
    doc.pop("findings", None)
    path = tmp / f"{name}.json"
    path.write_text(json.dumps(doc))
    return path


def fake_tool(folder: Path, name: str, body: str) -> Path:
    """An executable ``name`` in ``folder`` running the shell ``body``."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


STANDIN_MAIN = '''\
"""Stand-in gpudoctor: `verify` proves this environment's Python runs and imports its torch."""
import json, sys
import torch
args = sys.argv[1:]
assert args[:2] == ["verify", "--quick"], args
print(f"stand-in verify: torch {torch.__version__} from {torch.FROM} in {sys.prefix}")
print("args: " + json.dumps(args))
import os
where = [os.environ.get(v) for v in ("SLURM_JOB_PARTITION", "SLURMD_NODENAME")]
if where[0]:
    print(f"in SLURM partition {where[0]} on node {where[1]}")
'''


def standin_gpudoctor(folder: Path) -> Path:
    """A ``gpudoctor`` wheel of this version: its ``python -m gpudoctor verify`` is the stand-in."""
    folder.mkdir(parents=True, exist_ok=True)
    info = f"gpudoctor-{__version__}.dist-info"
    files = {
        "gpudoctor/__init__.py": f"__version__ = {__version__!r}\n",
        "gpudoctor/__main__.py": STANDIN_MAIN,
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: gpudoctor\nVersion: {__version__}\n",
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: gpudoctor-tests\n"
        "Root-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = [f"{p},sha256={_digest(t.encode())},{len(t.encode())}" for p, t in files.items()]
    files[f"{info}/RECORD"] = "\n".join([*record, f"{info}/RECORD,,"]) + "\n"
    path = folder / f"gpudoctor-{__version__}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as zf:
        for member, text in files.items():
            zf.writestr(member, text)
    return path


def standin_indexes(tmp: Path, variant: str) -> tuple[str, str]:
    """A PyTorch index mirror (torch 2.9.1 and torchvision 0.24.1 of ``variant``) and a PyPI
    holding the stand-in gpudoctor: the --torch-index-url template and the PyPI URL."""
    from tests.envplan.wheelhouse import build_wheel, simple_index

    wheels = tmp / "wheels"
    torch = build_wheel(wheels / variant, "torch", f"2.9.1+{variant}", marker=variant)
    vision = build_wheel(
        wheels / variant,
        "torchvision",
        f"0.24.1+{variant}",
        requires=(f"torch==2.9.1+{variant}",),
        marker=variant,
    )
    mirror = simple_index(tmp / "pytorch" / variant, [torch, vision])
    pypi = simple_index(tmp / "pypi", [standin_gpudoctor(wheels / "pypi")])
    return mirror.rsplit("/", 1)[0] + "/{variant}", pypi


def uv_offline_env(tmp: Path, pypi: str, python: str) -> dict[str, str | None]:
    """uv without the network: its own cache, no config, no Python downloads, PyPI stood in."""
    return {
        "UV_CACHE_DIR": str(tmp / "uv-cache"),
        "UV_PYTHON_DOWNLOADS": "never",
        "UV_NO_CONFIG": "1",
        "UV_OFFLINE": "1",
        "UV_PYTHON": python,
        "UV_DEFAULT_INDEX": pypi,
        "VIRTUAL_ENV": None,
        "UV_INDEX_URL": None,
    }
