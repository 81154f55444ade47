"""End to end through real Lmod: a CUDA module on LD_LIBRARY_PATH shadows pip's CUDA wheels.

Debian's ``lmod`` loads the modulefiles under ``tests/data/modulefiles`` (a Lua ``cuda/12.4``
and a Tcl ``nccl/2.21``), whose prefix is a stand-in CUDA built here with the C compiler: real
shared objects with CUDA's sonames, so the CUDA probe's dlopen resolves them through the
``LD_LIBRARY_PATH`` the module set, as it would a site's CUDA. A throwaway venv stands in for
the person's environment with the ``nvidia-*`` wheels pip installs (their ``.dist-info`` and
their ``nvidia/*/lib`` copies). ``gpudoctor check`` runs in the shell Lmod prepared, and the
report must name the module, the library it brought and GD-CUDA-007 with ``module unload``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import DATA, Cli

ROOT = Path(__file__).resolve().parents[2]
LMOD_INIT = Path("/usr/share/lmod/lmod/init/bash")
MODULEFILES = DATA / "modulefiles"
TEMPLATES = ("cuda/12.4.lua", "nccl/2.21")

# Stand-in libraries: cudart answers cudaRuntimeGetVersion, so the report shows that the probe
# called into the module's copy (12.4) or the wheel's (12.8), not only that a file was there.
CUDART_C = "int cudaRuntimeGetVersion(int *v) {{ *v = {version}; return 0; }}\n"
EMPTY_C = "int gpudoctor_stand_in;\n"
WHEELS = {
    # dist-info folder name -> (package folder under site-packages/nvidia, its library)
    "nvidia_cuda_runtime_cu12-12.8.90.dist-info": ("cuda_runtime", "libcudart.so.12"),
    "nvidia_cublas_cu12-12.8.4.1.dist-info": ("cublas", "libcublas.so.12"),
}


def why_no_lmod() -> str | None:
    if not LMOD_INIT.is_file():
        return f"Lmod is not installed ({LMOD_INIT} is absent; Debian: apt-get install lmod)"
    if shutil.which("bash") is None:
        return "bash is not on PATH (Lmod's init is sourced in bash)"
    if compiler() is None:
        return "no C compiler (cc, gcc) to build the stand-in CUDA libraries"
    return None


def compiler() -> str | None:
    return shutil.which("cc") or shutil.which("gcc")


def shared_object(out: Path, soname: str, source: str) -> None:
    """A real ELF shared object named ``soname`` (what dlopen and the loader match on)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    src = out.parent / f"{soname}.c"
    src.write_text(source)
    cc = compiler()
    assert cc is not None
    args = [cc, "-shared", "-fPIC", f"-Wl,-soname,{soname}", "-o", str(out), str(src)]
    subprocess.run(args, check=True, capture_output=True, timeout=60)


@dataclass(frozen=True)
class Site:
    """The stand-in software tree, its modulefiles and the person's venv."""

    prefix: Path
    modulefiles: Path
    python: Path

    @property
    def cuda_lib64(self) -> Path:
        return self.prefix / "cuda" / "12.4" / "lib64"


def build_site(base: Path) -> Site:
    prefix = base / "sw"
    lib64 = prefix / "cuda/12.4/lib64"
    shared_object(lib64 / "libcudart.so.12", "libcudart.so.12", CUDART_C.format(version=12040))
    shared_object(lib64 / "libcublas.so.12", "libcublas.so.12", EMPTY_C)
    (prefix / "cuda/12.4/bin").mkdir(parents=True)
    shared_object(prefix / "nccl/2.21/lib/libnccl.so.2", "libnccl.so.2", EMPTY_C)
    # Lmod must see a literal prefix, as sites write them: fill in the templates.
    modulefiles = base / "modulefiles"
    for name in TEMPLATES:
        target = modulefiles / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text((MODULEFILES / name).read_text().replace("@PREFIX@", str(prefix)))
    venv = base / "venv"
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(venv)],
        check=True,
        capture_output=True,
        timeout=60,
    )
    python = venv / "bin" / "python"
    site_packages = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
            check=True,
            capture_output=True,
            text=True,
            timeout=30,
        ).stdout.strip()
    )
    for dist_info, (package, soname) in WHEELS.items():
        name, _, version = dist_info.removesuffix(".dist-info").partition("-")
        (site_packages / dist_info).mkdir()
        (site_packages / dist_info / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: {name.replace('_', '-')}\nVersion: {version}\n"
        )
        source = CUDART_C.format(version=12080) if "cudart" in soname else EMPTY_C
        shared_object(site_packages / "nvidia" / package / "lib" / soname, soname, source)
    return Site(prefix=prefix, modulefiles=modulefiles, python=python)


@dataclass(frozen=True)
class Run:
    """One ``gpudoctor check`` in a shell Lmod prepared: its JSON report and its seconds."""

    report: dict[str, Any]
    seconds: float
    path: Path


def check_in_lmod(site: Site, out: Path, modules: str) -> Run:
    """``module use``, then the ``modules`` commands, then exec ``gpudoctor check`` as JSON."""
    script = (
        f'source "{LMOD_INIT}" && module use "{site.modulefiles}" && {modules} && '
        f'exec "{sys.executable}" -m gpudoctor check --python "{site.python}" '
        "--no-frameworks --no-redact --format json"
    )
    env = {
        k: v
        for k, v in os.environ.items()
        # A clean shell: no module of the caller's, no LD_LIBRARY_PATH of the caller's.
        if k not in ("LD_LIBRARY_PATH", "LOADEDMODULES", "_LMFILES_", "MODULEPATH")
        and not k.startswith(("__LMOD", "LMOD_", "_ModuleTable"))
    }
    env["PYTHONPATH"] = str(ROOT)
    bash = shutil.which("bash")
    assert bash is not None
    start = time.monotonic()
    done = subprocess.run(
        [bash, "-c", script],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    seconds = time.monotonic() - start
    print(f"{modules}; gpudoctor check: exit {done.returncode} in {seconds:.1f} s")
    assert done.returncode in (0, 1), f"exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    out.write_text(done.stdout)
    return Run(report=json.loads(done.stdout), seconds=seconds, path=out)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Site:
    reason = why_no_lmod()
    if reason:
        pytest.skip(reason)
    start = time.monotonic()
    built = build_site(tmp_path_factory.mktemp("lmod"))
    print(f"stand-in CUDA, modulefiles and venv built in {time.monotonic() - start:.1f} s")
    return built


@pytest.fixture(scope="module")
def loaded(site: Site) -> Run:
    return check_in_lmod(
        site, site.prefix.parent / "loaded.json", "module load cuda/12.4 nccl/2.21"
    )


@pytest.fixture(scope="module")
def unloaded(site: Site) -> Run:
    return check_in_lmod(
        site,
        site.prefix.parent / "unloaded.json",
        "module load cuda/12.4 nccl/2.21 && module unload cuda/12.4",
    )


def library(run: Run, name: str) -> dict[str, Any]:
    libs = {lib["name"]: lib for lib in run.report["cuda"]["libraries"]}
    return libs[name]


def finding(run: Run, rule_id: str) -> dict[str, Any] | None:
    return next((f for f in run.report["findings"] if f["id"] == rule_id), None)


def test_the_loaded_modules_are_recorded_with_their_modulefile_and_prefix(loaded, site):
    modules = {m["name"]: m for m in loaded.report["site"]["modules"]}
    assert list(modules) == ["cuda/12.4", "nccl/2.21"]
    assert modules["cuda/12.4"]["file"] == str(site.modulefiles / "cuda/12.4.lua")
    assert modules["cuda/12.4"]["prefixes"] == [str(site.prefix / "cuda/12.4")]
    # The Tcl dialect: `set root ...` and `$root/lib`, read the same way.
    assert modules["nccl/2.21"]["file"] == str(site.modulefiles / "nccl/2.21")
    assert modules["nccl/2.21"]["prefixes"] == [str(site.prefix / "nccl/2.21")]
    env = loaded.report["host"]["env"]
    assert str(site.cuda_lib64) in env["LD_LIBRARY_PATH"].split(":")


def test_cuda_resolves_from_the_module_lib64_through_ld_library_path(loaded, site):
    cudart = library(loaded, "cudart")
    assert cudart["path"] == str(site.cuda_lib64 / "libcudart.so.12")
    assert cudart["origin"] == "ld_library_path"
    assert cudart["version"] == "12.4"  # the module's copy answered, not the wheel's (12.8)
    assert library(loaded, "cublas")["origin"] == "ld_library_path"
    wheels = {w["name"]: w["version"] for w in loaded.report["cuda"]["nvidia_wheels"]}
    assert wheels == {"nvidia-cublas-cu12": "12.8.4.1", "nvidia-cuda-runtime-cu12": "12.8.90"}


def test_gd_cuda_007_names_the_module_and_its_unload(loaded, cli: Cli):
    hit = finding(loaded, "GD-CUDA-007")
    assert hit is not None, [f["id"] for f in loaded.report["findings"]]
    assert hit["title"] == "The module cuda/12.4 shadows the CUDA libraries installed with pip"
    assert hit["fix"][0] == "$ module unload cuda/12.4"
    # No GPU here (nor, usually, on a login node): the CUDA area is "not applicable", yet the
    # shadowing stays, for it breaks the same environment on the GPU node the job runs on.
    # The saved report alone carries it: re-diagnosed, it gives the same finding.
    again = cli("check", "--from-report", str(loaded.path), "--format", "json")
    assert again.exit_code in (0, 1), again
    redone = next(f for f in json.loads(again.stdout)["findings"] if f["id"] == "GD-CUDA-007")
    assert (redone["title"], redone["fix"]) == (hit["title"], hit["fix"])


def test_after_module_unload_the_wheels_serve_and_nothing_is_shadowed(unloaded, site):
    assert [m["name"] for m in unloaded.report["site"]["modules"]] == ["nccl/2.21"]
    cudart = library(unloaded, "cudart")
    assert cudart["origin"] == "pip", cudart
    assert cudart["version"] == "12.8"
    assert finding(unloaded, "GD-CUDA-007") is None
    assert str(site.cuda_lib64) not in unloaded.report["host"]["env"].get("LD_LIBRARY_PATH", "")


def test_both_checks_are_fast(loaded, unloaded):
    # A `module load` plus a check without the frameworks: seconds, even on a shared runner.
    assert loaded.seconds + unloaded.seconds < 30
