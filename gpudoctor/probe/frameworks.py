"""Framework probes: import PyTorch / TensorFlow in a child of the inspected interpreter."""

from __future__ import annotations

import dataclasses
import re

from gpudoctor.errors import ReportFormatError
from gpudoctor.model.report import FrameworkInfo, LibraryInfo
from gpudoctor.model.serialize import from_dict
from gpudoctor.probe.base import ProbeContext
from gpudoctor.probe.child import hung_message, run_json_child

SCRIPTS = {"torch": "torch_probe.py", "tensorflow": "tf_probe.py"}
# Level 1 drops TF's INFO chatter but keeps the W-level lines that name the libraries it could
# not dlopen ("Could not load dynamic library ...", "Cannot dlopen some GPU libraries"); level 2
# would hide exactly those. Allow-growth keeps TF's 64x64 smoke test from reserving nearly all
# of every GPU's memory (its default) while the user's own jobs may be running.
TF_ENV = {"TF_CPP_MIN_LOG_LEVEL": "1", "TF_FORCE_GPU_ALLOW_GROWTH": "true"}

_COULD_NOT_LOAD = re.compile(r"Could not load dynamic library '([^']+)'; dlerror: (.*)")
_CANNOT_DLOPEN = re.compile(r"(Cannot dlopen some GPU libraries.*?)(?:\s+Skipping registering.*)?$")


def parse_tf_stderr(stderr: str) -> tuple[tuple[LibraryInfo, ...], str | None]:
    """Libraries TF's loader named as missing, and its summary line, from TF's log output."""
    failed: list[LibraryInfo] = []
    summary = None
    for line in stderr.splitlines():
        m = _COULD_NOT_LOAD.search(line)
        if m:
            soname = m.group(1)
            failed.append(
                LibraryInfo(name=_library_name(soname), soname=soname, error=m.group(2).strip())
            )
            continue
        m = _CANNOT_DLOPEN.search(line)
        if m and summary is None:
            summary = m.group(1).strip()
    return tuple(failed), summary


def _library_name(soname: str) -> str:
    base = soname.split(".so", maxsplit=1)[0].split(".dll", maxsplit=1)[0].removeprefix("lib")
    return re.sub(r"64_\d+$", "", base).lower()


def probe_framework(ctx: ProbeContext, name: str) -> FrameworkInfo:
    """One framework as a fresh ``python`` of the inspected environment sees it."""
    extra = TF_ENV if name == "tensorflow" else None
    outcome = run_json_child(ctx, ctx.python, SCRIPTS[name], extra_env=extra)
    if outcome.timed_out:
        what = f"import {name} (and a tiny GPU computation)"
        return FrameworkInfo(
            name=name,
            status="timeout",
            message=hung_message(what, ctx.timeout_s, abandoned=outcome.result.abandoned),
            duration_s=outcome.result.duration_s,
        )
    if outcome.data is None:
        return FrameworkInfo(
            name=name,
            status="crashed",
            message=f"the {name} probe crashed: {outcome.error}",
            duration_s=outcome.result.duration_s,
        )
    try:
        info = from_dict(FrameworkInfo, outcome.data)
    except ReportFormatError as exc:
        return FrameworkInfo(name=name, status="crashed", message=f"bad probe output: {exc}")
    if name == "tensorflow":
        info = _merge_tf_log(info, outcome.result.stderr)
    return info


def _merge_tf_log(info: FrameworkInfo, stderr: str) -> FrameworkInfo:
    logged, summary = parse_tf_stderr(stderr)
    known = {lib.soname for lib in info.failed_libraries}
    failed = info.failed_libraries + tuple(lib for lib in logged if lib.soname not in known)
    return dataclasses.replace(info, failed_libraries=failed, init_error=info.init_error or summary)
