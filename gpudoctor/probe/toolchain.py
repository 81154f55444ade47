"""Toolchain probe: the CUDA toolkit, nvcc, ptxas, C/C++ compilers and the linker cache."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from gpudoctor.model.report import Compiler, ToolchainInfo, Unavailable
from gpudoctor.probe.base import ProbeContext

COMMAND_TIMEOUT_S = 5.0
"""``nvcc --version`` and ``ldconfig -p`` answer in milliseconds; a hung file system must not
hold ``check`` longer than this."""
LDCONFIG_MAX_BYTES = 4 * 1024 * 1024
"""``ldconfig -p`` lists every cached library: a few hundred KiB on a full workstation."""
COMPILERS = ("cc", "gcc", "clang", "c++", "g++", "clang++")
"""What Triton (``CC``, else ``cc``, ``gcc``, ``clang``) and setuptools look for."""
_RELEASE = re.compile(r"release (\d+\.\d+)")


def cuda_home(ctx: ProbeContext) -> tuple[str | None, str | None]:
    """The toolkit root and how it was found, in torch.utils.cpp_extension's order:
    ``CUDA_HOME``, ``CUDA_PATH``, the directory above ``nvcc`` on PATH, ``/usr/local/cuda``."""
    for variable in ("CUDA_HOME", "CUDA_PATH"):
        value = ctx.env.get(variable)
        if value:
            return value, variable
    nvcc = shutil.which("nvcc", path=ctx.env.get("PATH"))
    if nvcc:
        return str(Path(nvcc).parent.parent), "nvcc on PATH"  # as torch: no realpath
    if ctx.path("/usr/local/cuda").is_dir():
        return "/usr/local/cuda", "/usr/local/cuda"
    return None, None


def nvcc_release(text: str) -> str | None:
    """``12.4`` from ``nvcc --version`` (``Cuda compilation tools, release 12.4, V12.4.131``)."""
    match = _RELEASE.search(text)
    return match.group(1) if match else None


def libcuda_entries(text: str) -> tuple[str, ...]:
    """The ``libcuda.so*`` lines of ``ldconfig -p``, as ``libcuda.so.1 => /path``."""
    found = []
    for line in text.splitlines():
        name, _, rest = line.strip().partition(" ")
        if name.startswith("libcuda.so") and "=>" in rest:
            found.append(f"{name} => {rest.split('=>', 1)[1].strip()}")
    return tuple(found)


def _ldconfig(ctx: ProbeContext) -> str | None:
    """``ldconfig``: /sbin first, where Triton calls it, then PATH."""
    for candidate in ("/sbin/ldconfig", "/usr/sbin/ldconfig"):
        if ctx.path(candidate).is_file():
            return candidate
    return shutil.which("ldconfig", path=ctx.env.get("PATH"))


def _version_line(ctx: ProbeContext, path: str) -> str | None:
    result = ctx.run([path, "--version"], timeout_s=COMMAND_TIMEOUT_S, env=ctx.env)
    lines = result.stdout.strip().splitlines()
    return lines[0].strip() if result.ok and lines else None


def compilers(ctx: ProbeContext) -> tuple[Compiler, ...]:
    """Every C/C++ compiler on PATH; the version of the first C and the first C++ one."""
    found: list[Compiler] = []
    asked: set[str] = set()
    for name in COMPILERS:
        path = shutil.which(name, path=ctx.env.get("PATH"))
        if not path:
            continue
        lang = "c++" if name.endswith("++") else "c"
        version = None
        if lang not in asked:  # one --version per language keeps the probe cheap
            asked.add(lang)
            version = _version_line(ctx, path)
        found.append(Compiler(name=name, path=path, version=version))
    return tuple(found)


def probe_toolchain(ctx: ProbeContext) -> ToolchainInfo:
    """What building a CUDA extension or a Triton kernel would use on this machine."""
    errors: list[Unavailable] = []
    home, source = cuda_home(ctx)
    nvcc = version = None
    # nvcc.exe: the toolkit on Windows (CUDA_PATH), where torch builds extensions too
    found = [p for p in ("bin/nvcc", "bin/nvcc.exe") if home and ctx.path(f"{home}/{p}").is_file()]
    if home and found:
        nvcc = f"{home}/{found[0]}"
        result = ctx.run([nvcc, "--version"], timeout_s=COMMAND_TIMEOUT_S, env=ctx.env)
        version = nvcc_release(result.stdout)
        if version is None:
            why = "timeout" if result.timed_out else (result.start_error or result.stderr.strip())
            errors.append(
                Unavailable(
                    field="toolchain.nvcc_version",
                    code="timeout" if result.timed_out else "failed",
                    message=f"{nvcc} --version: {why or 'no release in its output'}",
                )
            )
    ptxas = ctx.env.get("TRITON_PTXAS_PATH") or shutil.which("ptxas", path=ctx.env.get("PATH"))
    if not ptxas and home and ctx.path(f"{home}/bin/ptxas").is_file():
        ptxas = f"{home}/bin/ptxas"
    read = False
    entries: tuple[str, ...] = ()
    ldconfig = _ldconfig(ctx)
    if ldconfig:
        result = ctx.run(
            [ldconfig, "-p"],
            timeout_s=COMMAND_TIMEOUT_S,
            env=ctx.env,
            max_output_bytes=LDCONFIG_MAX_BYTES,
        )
        if result.ok and not result.overflowed:
            read, entries = True, libcuda_entries(result.stdout)
        else:
            errors.append(
                Unavailable(
                    field="toolchain.libcuda_cache",
                    code="timeout" if result.timed_out else "failed",
                    message=f"{ldconfig} -p did not answer: "
                    f"{result.start_error or result.stderr.strip() or 'no output'}",
                )
            )
    return ToolchainInfo(
        cuda_home=home,
        cuda_home_from=source,
        nvcc=nvcc,
        nvcc_version=version,
        ptxas=ptxas,
        ldconfig_read=read,
        libcuda_cache=entries,
        compilers=compilers(ctx),
        errors=tuple(errors),
    )
