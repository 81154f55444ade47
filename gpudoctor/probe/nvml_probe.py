"""NVML probe: runs the NVML child with a timeout so that a hung driver cannot freeze us."""

from __future__ import annotations

import sys

from gpudoctor.errors import ReportFormatError
from gpudoctor.model.report import NvmlInfo, Unavailable
from gpudoctor.model.serialize import from_dict
from gpudoctor.probe.base import ProbeContext
from gpudoctor.probe.child import hung_message, run_json_child


def probe_nvml(ctx: ProbeContext) -> NvmlInfo:
    """NVML as a fresh child of gpudoctor's own interpreter sees it (NVML is host-wide)."""
    outcome = run_json_child(ctx, sys.executable, "nvml_child.py")
    if outcome.timed_out:
        return NvmlInfo(
            status="timeout",
            message=hung_message("NVML", ctx.timeout_s, abandoned=outcome.result.abandoned),
        )
    if outcome.data is None:
        return _failed(f"NVML probe failed: {outcome.error}")
    try:
        return from_dict(NvmlInfo, outcome.data)
    except ReportFormatError as exc:
        return _failed(f"NVML probe printed bad data: {exc}")


def _failed(message: str) -> NvmlInfo:
    """The child itself broke: say so as data, the way collect_report marks a crashed probe."""
    return NvmlInfo(
        status="unknown_error",
        message=message,
        errors=(Unavailable(field="nvml", code="probe_failed", message=message),),
    )
