"""A tiny conda channel shaped like conda-forge, written by the tests for offline --solve runs.

Records follow the shapes compatibility.md 5 and 7.3 describe: a noarch ``cuda-version`` per
CUDA minor whose record run-constrains ``__cuda >=<major>``; ``python``; ``libcudnn`` per CUDA
major; ``pytorch`` 2.13.0 ``cuda129_*``, ``cuda130_*`` and ``cpu_*`` builds; ``tensorflow``
2.19.1 ``cuda128*`` and ``cpu_*`` builds. The cuda130 builds also depend on
``__cuda_arch >=7.5`` (the CEP 46 shape) so that the tests see the CC reach the solver.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

PYTHONS = ("3.10", "3.11", "3.12", "3.13", "3.14")
TF_PYTHONS = PYTHONS[:-1]
"""The feedstocks' .ci_support: pytorch 2.13.0 for Python 3.10-3.14, tensorflow 2.19.1 to 3.13."""


def _record(
    name: str,
    version: str,
    build: str,
    subdir: str,
    depends: list[str],
    constrains: list[str] | None = None,
) -> dict[str, Any]:
    return {
        "name": name,
        "version": version,
        "build": build,
        "build_number": 0,
        "depends": depends,
        "constrains": constrains or [],
        "subdir": subdir,
        "license": "BSD-3-Clause",
        "timestamp": 1767225600000,
    }


def _python_pin(py: str) -> str:
    major, minor = py.split(".")
    return f"python >={py},<{major}.{int(minor) + 1}.0a0"


def build_channel(root: Path) -> Path:
    """Write ``root/noarch`` and ``root/linux-64`` repodata and return ``root``."""
    noarch: dict[str, dict[str, Any]] = {}
    for cuda in ("11.8", "12.6", "12.8", "12.9", "13.0"):
        major = cuda.split(".")[0]
        rec = _record(
            "cuda-version",
            cuda,
            "h0_3",
            "noarch",
            [],
            [f"__cuda >={major}", f"cudatoolkit {cuda}|{cuda}.*"],
        )
        noarch[f"cuda-version-{cuda}-h0_3.conda"] = rec
    noarch["pip-25.2-pyh0_0.conda"] = _record("pip", "25.2", "pyh0_0", "noarch", ["python >=3.9"])
    linux: dict[str, dict[str, Any]] = {}
    for py in PYTHONS:
        linux[f"python-{py}.0-h0_0_cpython.conda"] = _record(
            "python", f"{py}.0", "h0_0_cpython", "linux-64", ["__glibc >=2.17,<3.0.a0"]
        )
    for major, cudnn in (("12", "9.10.2.21"), ("13", "9.13.0.50")):
        build = f"cuda{major}_h0_0"
        linux[f"libcudnn-{cudnn}-{build}.conda"] = _record(
            "libcudnn",
            cudnn,
            build,
            "linux-64",
            [f"cuda-version >={major},<{int(major) + 1}.0a0", "__glibc >=2.28,<3.0.a0"],
        )
    for py in PYTHONS:
        tag = py.replace(".", "")
        for cuda in ("12.9", "13.0"):
            short = cuda.replace(".", "")
            major = cuda.split(".")[0]
            build = f"cuda{short}_generic_py{tag}_h0_0"
            depends = [
                _python_pin(py),
                f"cuda-version >={cuda},<{int(major) + 1}.0a0",
                "libcudnn >=9,<10.0a0",
                "__cuda",
                "__glibc >=2.28,<3.0.a0",
            ]
            if major == "13":
                depends.append("__cuda_arch >=7.5")
            linux[f"pytorch-2.13.0-{build}.conda"] = _record(
                "pytorch", "2.13.0", build, "linux-64", depends
            )
        build = f"cpu_generic_py{tag}_h0_0"
        linux[f"pytorch-2.13.0-{build}.conda"] = _record(
            "pytorch", "2.13.0", build, "linux-64", [_python_pin(py), "__glibc >=2.28,<3.0.a0"]
        )
        if py not in TF_PYTHONS:
            continue
        build = f"cuda128py{tag}h0_0"
        linux[f"tensorflow-2.19.1-{build}.conda"] = _record(
            "tensorflow",
            "2.19.1",
            build,
            "linux-64",
            [_python_pin(py), "cuda-version >=12.8,<13.0a0", "libcudnn >=9,<10.0a0", "__cuda"],
        )
        build = f"cpu_py{tag}h0_0"
        linux[f"tensorflow-2.19.1-{build}.conda"] = _record(
            "tensorflow", "2.19.1", build, "linux-64", [_python_pin(py)]
        )
    for subdir, packages in (("noarch", noarch), ("linux-64", linux)):
        folder = root / subdir
        folder.mkdir(parents=True, exist_ok=True)
        data = {
            "info": {"subdir": subdir},
            "packages": {},
            "packages.conda": packages,
            "repodata_version": 1,
        }
        (folder / "repodata.json").write_text(json.dumps(data, indent=1), encoding="utf-8")
    return root
