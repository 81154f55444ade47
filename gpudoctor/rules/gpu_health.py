"""GPU health rules: lost GPUs, ECC errors, retired pages, row remapping, the InfoROM."""

from __future__ import annotations

from collections.abc import Iterator

from gpudoctor.model.findings import Severity
from gpudoctor.model.report import Report
from gpudoctor.rules.facts import gpu_label, gpus
from gpudoctor.rules.hardware_log import xid_step
from gpudoctor.rules.registry import Hit, KnowledgeBase, rule

RETIRED_PAGES_LIMIT = 63
"""Retired pages at which DCGM fails a GPU (common/DcgmGPUHardwareLimits.h)."""
UNCORRECTABLE_REMAPS_LIMIT = 512
"""Uncorrectable row remaps at which DCGM fails a GPU (same file)."""


@rule(
    "GD-GPU-001",
    area="gpu",
    severity=Severity.ERROR,
    title="A GPU is lost: the driver cannot reach it",
    why="NVML could not get a handle to the GPU (`GPU is lost`, `Unknown Error`): it fell off "
    "the bus (Xid 79), is in a bad state after an error, or lost power. CUDA cannot use it "
    "and other GPUs may be affected.",
    fix="Read the Xid errors in `dmesg`, reset the GPU (`sudo nvidia-smi -r -i N` once no process "
    "uses it) or reboot; if it "
    "recurs, check power cables, seating and cooling.",
    sources=(
        "https://docs.nvidia.com/deploy/xid-errors/index.html (Xid 79: fallen off the bus)",
        "wookayin/gpustat#125",
        "NVIDIA/open-gpu-kernel-modules#507",
    ),
)
def lost(report: Report, kb: KnowledgeBase) -> Iterator[Hit]:
    for gpu in gpus(report):
        if not gpu.lost and not any(e.code == "gpu_is_lost" for e in gpu.errors):
            continue
        said = [f"{e.field}: {e.message}" for e in gpu.errors if e.code == "gpu_is_lost"]
        yield Hit(
            title=f"{gpu_label(gpu)} is lost: the driver cannot reach it",
            evidence=tuple(said or [f"NVML has no handle for {gpu_label(gpu)}"]),
            fix=(
                xid_step(report),
                f"$ sudo nvidia-smi -r -i {gpu.index}   # once the GPU is idle; or reboot",
                "If it recurs: check power cables, seating and cooling.",
            ),
        )


@rule(
    "GD-GPU-002",
    area="gpu",
    severity=Severity.ERROR,
    severities=(Severity.ERROR, Severity.WARNING),
    title="Uncorrectable ECC memory errors",
    why="ECC found memory errors it could not correct. Since the last reboot (volatile "
    "counter) this is an error: results computed on this GPU may be wrong and the driver "
    "will retire or remap the bad memory at the next reset. Errors only in the lifetime "
    "(aggregate) counter are a warning: a history to watch.",
    fix="Stop jobs on the GPU, reset it (`sudo nvidia-smi -r -i N` once no process uses it) or "
    "reboot; if the count keeps "
    "growing, run `dcgmi diag -r 3` and arrange a replacement.",
    sources=(
        "https://docs.nvidia.com/deploy/a100-gpu-mem-error-mgmt/index.html",
        "NVIDIA/DCGM common/DcgmGPUHardwareLimits.h",
    ),
)
def ecc(report: Report, kb: KnowledgeBase) -> Iterator[Hit]:
    for gpu in gpus(report):
        if gpu.ecc_enabled is False:
            continue
        volatile, aggregate = gpu.ecc_uncorrected_volatile or 0, gpu.ecc_uncorrected_aggregate or 0
        if volatile > 0:
            yield Hit(
                title=f"{gpu_label(gpu)} had uncorrectable ECC errors since the last reboot",
                evidence=(
                    f"uncorrectable ECC errors: {volatile} since reboot, {aggregate} lifetime",
                ),
                fix=(
                    f"$ sudo nvidia-smi -r -i {gpu.index}   # once the GPU is idle; or reboot",
                    "$ dcgmi diag -r 3",
                ),
            )
        elif aggregate > 0:
            yield Hit(
                severity=Severity.WARNING,
                title=f"{gpu_label(gpu)} has a history of uncorrectable ECC errors",
                evidence=(f"uncorrectable ECC errors: {aggregate} lifetime, 0 since reboot",),
                fix=("Watch the count: $ nvidia-smi -q -d ECC",),
            )


@rule(
    "GD-GPU-003",
    area="gpu",
    severity=Severity.WARNING,
    severities=(Severity.ERROR, Severity.WARNING),
    title="Memory pages are waiting to be retired",
    why="The driver marked bad memory pages for retirement; they are retired only when the "
    "GPU is reset, and until then the bad pages may still be used. A total of "
    f"{RETIRED_PAGES_LIMIT} or more retired pages is an error: DCGM fails the GPU at that "
    "count.",
    fix="Reset the GPU (`sudo nvidia-smi -r -i N` once no process uses it) or reboot to retire "
    "the pages; past the limit, "
    "arrange a replacement.",
    sources=(
        "https://docs.nvidia.com/deploy/dynamic-page-retirement/index.html",
        "NVIDIA/DCGM common/DcgmGPUHardwareLimits.h (63 retired pages)",
    ),
)
def retired_pages(report: Report, kb: KnowledgeBase) -> Iterator[Hit]:
    for gpu in gpus(report):
        total = (gpu.retired_pages_sbe or 0) + (gpu.retired_pages_dbe or 0)
        counts = f"retired pages: {gpu.retired_pages_sbe or 0} single-bit, "
        counts += f"{gpu.retired_pages_dbe or 0} double-bit"
        if total >= RETIRED_PAGES_LIMIT:
            yield Hit(
                severity=Severity.ERROR,
                title=f"{gpu_label(gpu)} has retired {total} memory pages (limit "
                f"{RETIRED_PAGES_LIMIT})",
                evidence=(counts,),
                fix=("Arrange a replacement; confirm with: $ dcgmi diag -r 3",),
            )
        elif gpu.retired_pages_pending:
            yield Hit(
                title=f"{gpu_label(gpu)} has memory pages waiting to be retired",
                evidence=(counts, "retirement pending: yes"),
                fix=(f"$ sudo nvidia-smi -r -i {gpu.index}   # once the GPU is idle; or reboot",),
            )


@rule(
    "GD-GPU-004",
    area="gpu",
    severity=Severity.WARNING,
    severities=(Severity.ERROR, Severity.WARNING),
    title="A memory row remap is pending",
    why="On A100, H100 and newer GPUs bad memory rows are remapped to spares at the next "
    "reset; until then the bad row is in use. Uncorrectable remaps at or above "
    f"{UNCORRECTABLE_REMAPS_LIMIT} are an error (DCGM's limit).",
    fix="Reset the GPU (`sudo nvidia-smi -r -i N` once no process uses it) or reboot.",
    sources=(
        "https://docs.nvidia.com/deploy/a100-gpu-mem-error-mgmt/index.html (row remapping)",
        "https://docs.nvidia.com/deploy/nvml-api/ (nvmlDeviceGetRemappedRows)",
    ),
)
def remap_pending(report: Report, kb: KnowledgeBase) -> Iterator[Hit]:
    for gpu in gpus(report):
        unc = gpu.remapped_rows_uncorrectable or 0
        counts = f"remapped rows: {gpu.remapped_rows_correctable or 0} correctable, {unc} "
        counts += "uncorrectable"
        if unc >= UNCORRECTABLE_REMAPS_LIMIT:
            yield Hit(
                severity=Severity.ERROR,
                title=f"{gpu_label(gpu)} has {unc} uncorrectable row remaps "
                f"(limit {UNCORRECTABLE_REMAPS_LIMIT})",
                evidence=(counts,),
                fix=("Arrange a replacement; confirm with: $ dcgmi diag -r 3",),
            )
        elif gpu.remap_pending:
            yield Hit(
                title=f"{gpu_label(gpu)} has a memory row remap pending",
                evidence=(counts, "remap pending: yes"),
                fix=(f"$ sudo nvidia-smi -r -i {gpu.index}   # once the GPU is idle; or reboot",),
            )


@rule(
    "GD-GPU-005",
    area="gpu",
    severity=Severity.ERROR,
    title="A memory row remap failed",
    why="The GPU ran out of spare rows, or the remap itself failed: bad memory stays in use "
    "and cannot be repaired in the field.",
    fix="Take the GPU out of service and arrange a replacement (confirm with `dcgmi diag -r 3`).",
    sources=(
        "https://docs.nvidia.com/deploy/a100-gpu-mem-error-mgmt/index.html (row remapping)",
        "NVIDIA/DCGM common/DcgmGPUHardwareLimits.h (512 uncorrectable remaps)",
    ),
)
def remap_failure(report: Report, kb: KnowledgeBase) -> Iterator[Hit]:
    for gpu in gpus(report):
        if gpu.remap_failure:
            yield Hit(
                title=f"{gpu_label(gpu)}: a memory row remap failed",
                evidence=("row remap failure: yes",),
                fix=("Take the GPU out of service; confirm with: $ dcgmi diag -r 3",),
            )


@rule(
    "GD-GPU-006",
    area="gpu",
    severity=Severity.WARNING,
    title="The GPU's InfoROM is corrupt",
    why="`nvmlDeviceValidateInforom` failed: the GPU's configuration store is corrupt, so ECC "
    "counts and settings kept there are unreliable (`nvidia-smi` prints *infoROM is "
    "corrupted*).",
    fix="Reflash the InfoROM with the vendor's tool, or arrange a replacement.",
    sources=(
        "https://docs.nvidia.com/deploy/nvml-api/ (nvmlDeviceValidateInforom)",
        "NVIDIA/DCGM nvvs/src/Software.cpp (InfoROM check)",
    ),
)
def inforom(report: Report, kb: KnowledgeBase) -> Iterator[Hit]:
    for gpu in gpus(report):
        if gpu.inforom_valid is False:
            yield Hit(
                title=f"{gpu_label(gpu)}: the InfoROM is corrupt",
                evidence=("nvmlDeviceValidateInforom: invalid",),
                fix=("Ask the system vendor to reflash the InfoROM or replace the GPU.",),
            )
