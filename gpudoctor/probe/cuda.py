"""CUDA user-space probe: libcuda, cuInit and the CUDA libraries, seen by a fresh child."""

from __future__ import annotations

from gpudoctor.errors import ReportFormatError
from gpudoctor.model.report import CudaInfo
from gpudoctor.model.serialize import from_dict
from gpudoctor.probe.base import ProbeContext
from gpudoctor.probe.child import hung_message, run_json_child


def probe_cuda(ctx: ProbeContext) -> CudaInfo:
    """Run ``children/cuda_probe.py`` under the inspected interpreter, with the user's env.

    cuInit runs only in the child: initialising CUDA in gpudoctor itself would freeze
    CUDA_VISIBLE_DEVICES and make fork() unsafe, and a hung driver would hang us.
    """
    outcome = run_json_child(ctx, ctx.python, "cuda_probe.py")
    if outcome.timed_out:
        return CudaInfo(
            status="timeout",
            message=hung_message("cuInit", ctx.timeout_s, abandoned=outcome.result.abandoned),
        )
    if outcome.data is None:
        return CudaInfo(status="failed", message=f"CUDA probe failed: {outcome.error}")
    try:
        return from_dict(CudaInfo, outcome.data)
    except ReportFormatError as exc:
        return CudaInfo(status="failed", message=f"CUDA probe printed bad data: {exc}")
