"""Import and init failures named by their message: NumPy ABI, glibc, libstdc++, CPU, symbols."""

from __future__ import annotations

import re
from collections.abc import Iterator

from gpudoctor.model.findings import Severity
from gpudoctor.model.report import FrameworkInfo, Report
from gpudoctor.rules.facts import version
from gpudoctor.rules.framework_build import label
from gpudoctor.rules.messages import Classified, classified, classify, quote
from gpudoctor.rules.packaging import symbol_fix
from gpudoctor.rules.registry import Hit, KnowledgeBase, framework_rule, rule

_SOURCE = "gpudoctor/kb/data/import_errors.toml (the messages, each row with its public source)"


def _failed(fw: FrameworkInfo) -> bool:
    return fw.status in ("import_error", "crashed")


def _quoted(c: Classified) -> str:
    return f"{label(c.framework)}: {quote(c.message)}"


_REPOSITORIES = {
    "torch": "github.com/pytorch/pytorch/",
    "tensorflow": "github.com/tensorflow/tensorflow/",
}


def _source(c: Classified, fw: FrameworkInfo | None = None) -> str:
    """The row's first cited address; for ``fw``, the first in that framework's own repository
    where the row cites one (a TensorFlow finding should not send its reader to PyTorch's)."""
    repository = _REPOSITORIES.get(fw.name) if fw is not None else None
    own = [
        w for w in c.match.source.split() if repository and w.startswith(f"https://{repository}")
    ]
    first = own[0].rstrip(";,") if own else c.match.source.split(" ", 1)[0]
    return f"from a public report: {first}"


def _host(report: Report) -> str:
    return report.host.os_release or report.host.os


# --- C and C++ runtimes -----------------------------------------------------------------------


@rule(
    "GD-HOST-034",
    area="host",
    severity=Severity.ERROR,
    title="A framework library needs a newer glibc than this host has",
    why="The framework's (or an extension's) compiled library asks for a glibc symbol version "
    "the host's C library does not have: `version 'GLIBC_2.28' not found (required by "
    "libtorch_python.so)`. Wheels are built for a minimum glibc (`manylinux_2_28` wheels need "
    "2.28: RHEL 8, Ubuntu 20.04 and later; Ubuntu 18.04 has 2.27). gpudoctor reads the version "
    "the message asks for and compares it with the host's glibc, which the report records.",
    fix="Run on an OS or in a container image whose glibc is at least the version named, or "
    "install a framework release built for the host's glibc.",
    sources=(
        "https://github.com/KumaTea/pytorch-aarch64/issues/16 (GLIBC_2.28 on Ubuntu 18.04)",
        "https://github.com/pytorch/pytorch/issues/129555",
        _SOURCE,
    ),
)
def glibc_too_old(report: Report, kb: KnowledgeBase) -> Iterator[Hit]:
    host = report.host.glibc
    for c in classified(report, kb, "glibc"):
        wanted = c.match.groups.get("wanted", "?")
        have, want = version(host), version(wanted)
        if host is None:
            compare = "the report does not record this host's glibc"
        elif have is not None and want is not None and have < want:
            compare = f"the build needs glibc {wanted}; this host ({_host(report)}) has {host}"
        else:
            compare = (
                f"this host's glibc is {host}, not older than {wanted}: the C library that "
                f"was loaded ({c.match.groups.get('libc', '?')}) is another one (a container's "
                "or a sysroot's)"
            )
        yield Hit(
            title=f"{label(c.framework)} needs glibc {wanted}"
            + (f"; this host has {host}" if host else ""),
            evidence=(_quoted(c), compare, _source(c)),
            fix=c.match.fix,
        )


@rule(
    "GD-HOST-035",
    area="host",
    severity=Severity.ERROR,
    title="A framework library needs a newer libstdc++ than the one loaded",
    why="A compiled library of the framework (or of a package it imports) was built with a newer "
    "GCC than the `libstdc++.so.6` the loader found: `version 'GLIBCXX_3.4.29' not found`. "
    "In a conda environment the environment's own `lib/libstdc++.so.6` is found first and may "
    "be older than the system's; outside conda the system's is too old for the build.",
    fix="In a conda environment install a newer libstdc++ into it (`conda install -c "
    "conda-forge gcc gxx`); otherwise update the system's libstdc++ or use a newer OS or "
    "container image.",
    sources=(
        "https://github.com/vietanhdev/anylabeling/issues/110",
        "https://github.com/atzberg/mango-selm/issues/25",
        "https://github.com/tensorflow/tensorflow/issues/56562",
        _SOURCE,
    ),
)
def libstdcxx_too_old(report: Report, kb: KnowledgeBase) -> Iterator[Hit]:
    for c in classified(report, kb, "glibcxx"):
        where = c.match.groups.get("libstdcxx", "?")
        yield Hit(
            title=f"{label(c.framework)}: {c.match.title}",
            evidence=(_quoted(c), f"the libstdc++ the loader found: {where}", _source(c)),
            fix=c.match.fix,
        )


# --- the CPU ----------------------------------------------------------------------------------

_ISA_FLAG = re.compile(r"[^a-z0-9]+")


def _flag(isa: str) -> str:
    """``SSE4.2`` -> ``sse4_2``, ``AVX2`` -> ``avx2``: the name /proc/cpuinfo gives the flag."""
    return _ISA_FLAG.sub("_", isa.lower()).strip("_")


@rule(
    "GD-HOST-036",
    area="host",
    severity=Severity.ERROR,
    title="The CPU lacks an instruction set the framework build needs",
    why="Framework wheels are compiled for a minimum x86 instruction set (TensorFlow's since 1.6 "
    "for AVX; PyTorch's CPU kernels assume AVX in places). On an older CPU, or a VM that hides "
    "AVX, TensorFlow stops with `The TensorFlow library was compiled to use AVX instructions, "
    "but these aren't available on your machine` and PyTorch dies of `Illegal instruction` "
    "(SIGILL), which the probe records as a crash (killed by SIGILL). The report records the "
    "CPU's instruction-set flags from `/proc/cpuinfo`; the evidence says which it lacks.",
    fix="Run on a machine whose CPU has the instruction set, install a release built for this "
    "CPU, or build the framework from source.",
    sources=(
        "https://github.com/tensorflow/tensorflow/issues/6896",
        "https://github.com/pytorch/pytorch/issues/37577 (SIGILL at import without AVX)",
        "https://github.com/informagi/REL/issues/53",
        _SOURCE,
    ),
)
def cpu_lacks_isa(report: Report, kb: KnowledgeBase) -> Iterator[Hit]:
    flags = report.host.cpu_flags
    for c in classified(report, kb, "cpu_isa"):
        isa = c.match.groups.get("isa", "?")
        evidence = [_quoted(c)]
        if report.host.cpu_model:
            evidence.append(f"CPU: {report.host.cpu_model}")
        if flags is None:
            evidence.append(
                "the report does not record the CPU's flags (written before "
                "2026-12-07, or not Linux)"
            )
        elif isa != "?":
            has = _flag(isa) in flags
            evidence.append(
                f"/proc/cpuinfo {'lists' if has else 'does not list'} {_flag(isa)}"
                + ("" if has else f" (it lists: {' '.join(flags) or 'none of the checked'})")
            )
        else:
            missing = [f for f in ("avx", "avx2", "fma") if f not in flags]
            evidence.append(
                f"the CPU lacks {', '.join(missing)}"
                if missing
                else f"the CPU has {' '.join(flags)}: the build uses a newer instruction set"
            )
        evidence.append(_source(c))
        title = (
            f"{label(c.framework)} needs {isa}, which this CPU lacks"
            if isa != "?"
            else f"{label(c.framework)} died of an illegal instruction: the build needs an "
            "instruction set this CPU lacks"
        )
        yield Hit(title=title, evidence=tuple(evidence), fix=c.match.fix)


# --- framework findings -----------------------------------------------------------------------


def _of(report: Report, kb: KnowledgeBase, fw: FrameworkInfo, cause: str) -> list[Classified]:
    return [c for c in classify(fw, kb) if c.cause == cause]


@framework_rule(
    {"torch": "GD-TORCH-015", "tensorflow": "GD-TF-015"},
    severity=Severity.ERROR,
    severities=(Severity.ERROR, Severity.WARNING),
    title="{fw} (or a module it loads) was built against NumPy 1.x, and NumPy 2 is installed",
    why="Modules compiled against NumPy 1.x cannot run under NumPy 2 (a new ABI): NumPy prints "
    "`A module that was compiled using NumPy 1.x cannot be run in NumPy 2.x.x`, followed by "
    "`_ARRAY_API not found` or `numpy.core._multiarray_umath failed to import`. TensorFlow "
    "before 2.18 and PyTorch before 2.3 were built against NumPy 1.x. An error when the import "
    "failed; a warning when {fw} imported and only its NumPy interop is broken (PyTorch 2.2 "
    "warns `Failed to initialize NumPy: _ARRAY_API not found`).",
    fix="`pip install 'numpy<2'` (NumPy's own advice), or upgrade {fw} to a release built "
    "against NumPy 2.",
    sources=(
        "https://github.com/tensorflow/tensorflow/issues/102743 (TensorFlow 2.14 under NumPy "
        "2.3.4: 'A module that was compiled using NumPy 1.x cannot be run in NumPy 2.3.4')",
        "https://github.com/tensorflow/tensorflow/issues/67291 (NumPy 2.0 support: closed with "
        "TensorFlow 2.18)",
        "tensorflow/tensorflow v2.18.0 release notes (compiled with NumPy 2.0 by default)",
        "https://github.com/pytorch/pytorch/issues/135013 (PyTorch)",
        "https://github.com/xai4space/meteors/issues/20",
        "https://github.com/xaviermouy/FishSound_Finder/issues/3",
        _SOURCE,
    ),
)
def numpy_abi(report: Report, kb: KnowledgeBase, fw: FrameworkInfo) -> Iterator[Hit]:
    found = _of(report, kb, fw, "numpy_abi")
    if not found:
        return
    found.sort(key=lambda c: "numpy" not in c.match.groups)  # NumPy's banner names the version
    evidence = [_quoted(c) for c in found]
    if fw.numpy_version:
        evidence.append(f"numpy {fw.numpy_version} is installed")
    evidence.append(_source(found[0], fw))
    verb = "fails to import" if _failed(fw) else "cannot use NumPy"
    yield Hit(
        severity=Severity.ERROR if _failed(fw) else Severity.WARNING,
        title=f"{label(fw)} {verb}: {found[0].match.title[0].lower()}{found[0].match.title[1:]}",
        evidence=tuple(evidence),
        fix=found[0].match.fix,
    )


@framework_rule(
    {"torch": "GD-TORCH-016", "tensorflow": "GD-TF-016"},
    severity=Severity.ERROR,
    title="{fw} fails on an undefined symbol: a library it links against is another build",
    why="The loader found a library (NCCL, cuSPARSE, nvJitLink, cuDNN ...) that lacks a symbol "
    "{fw}'s own libraries need (PyTorch's words: `libtorch_cuda.so: undefined symbol: "
    "ncclCommRegister`). The "
    "loaded copy is another version than the one {fw} was built with: an `nvidia-*` wheel of "
    "another CUDA major installed beside the right one (GD-CUDA-031), an `nvidia-*` wheel older "
    "than {fw} requires (GD-CUDA-032), or a folder on `LD_LIBRARY_PATH` (GD-CUDA-007). The "
    "fix names the package or folder to remove when the report shows it.",
    fix="Remove the package (or `LD_LIBRARY_PATH` folder) that brings the other copy; the "
    "finding names it when the report shows it.",
    sources=(
        "https://github.com/pytorch/pytorch/issues/119932 (ncclCommRegister)",
        "https://github.com/pytorch/pytorch/issues/186591 (ncclCommResume)",
        "https://github.com/rwth-i6/returnn/issues/1802 (ncclMemFree)",
        _SOURCE,
    ),
)
def undefined_symbol(report: Report, kb: KnowledgeBase, fw: FrameworkInfo) -> Iterator[Hit]:
    for c in _of(report, kb, fw, "undefined_symbol"):
        symbol = c.match.groups.get("symbol", "?")
        library = c.match.groups.get("library", "?").rsplit("/", 1)[-1]
        evidence, fix = symbol_fix(report, fw, symbol)
        verb = "fails to import" if _failed(fw) else "fails"
        yield Hit(
            title=f"{label(fw)} {verb}: {library} needs {symbol}, which the loaded library lacks",
            evidence=(_quoted(c), *evidence, _source(c)),
            fix=tuple(fix) or c.match.fix,
        )


@framework_rule(
    {"torch": "GD-TORCH-017", "tensorflow": "GD-TF-017"},
    severity=Severity.ERROR,
    title="{fw} installed a library built for another platform",
    why="A compiled library in the installed wheels does not fit this machine: built for "
    "another memory page size (`ELF load command alignment not page-aligned`: an aarch64 "
    "wheel linked for 4 KiB pages on a 64 KiB-page kernel such as RHEL/CentOS 8 on Arm) or "
    "for another CPU architecture (an x86_64 library that asks for `ld-linux-x86-64.so.2` on "
    "an aarch64 machine).",
    fix="Install a build made for this platform (a newer release, or a reinstall from a wheel "
    "for this architecture).",
    sources=(
        "https://github.com/pytorch/pytorch/issues/53597",
        "https://github.com/pytorch/builder/pull/682",
        "https://github.com/OHF-Voice/pymicro-wakeword/issues/13",
        _SOURCE,
    ),
)
def wheel_platform(report: Report, kb: KnowledgeBase, fw: FrameworkInfo) -> Iterator[Hit]:
    for c in _of(report, kb, fw, "wheel_platform"):
        host = f"this machine: {report.host.arch}"
        if report.host.kernel:
            host += f", kernel {report.host.kernel}"
        yield Hit(
            title=f"{label(fw)}: {c.match.title}",
            evidence=(_quoted(c), host, _source(c)),
            fix=c.match.fix,
        )
