"""GPU state rules: throttling, PCIe link, memory held by others, MIG, persistence, modes."""

from __future__ import annotations

from collections.abc import Iterator

from gpudoctor.model import shell
from gpudoctor.model.clock_events import BUSY_UTILIZATION_PCT, load_of, slowdowns
from gpudoctor.model.findings import Severity
from gpudoctor.model.report import GpuInfo, Report
from gpudoctor.rules.facts import (
    gpu_label,
    gpus,
    no_nvidia_evidence,
    not_applicable,
    not_applicable_words,
)
from gpudoctor.rules.registry import Hit, KnowledgeBase, rule

MEMORY_HELD_FRACTION = 0.75
"""Memory in use above this fraction leaves too little for a new job."""


def load_state(gpu: GpuInfo) -> str:
    """``busy``, ``idle`` or ``unknown``, from the GpuIdle clock-event bit and utilisation."""
    return load_of(gpu.clock_event_reasons, gpu.utilization_gpu_pct)


PCIE_GEN_QUERY = "nvidia-smi --query-gpu=pcie.link.gen.current,pcie.link.gen.max --format=csv"
"""The link's generation, now and at most. nvidia-smi's ``-q -d`` has no PCIE type (its -h
lists MEMORY ... POWER_PROFILES), so ``nvidia-smi -q -d PCIE`` is refused."""
PCIE_WIDTH_QUERY = "nvidia-smi --query-gpu=pcie.link.width.current,pcie.link.width.max --format=csv"
"""The link's width, now and at most (as :data:`PCIE_GEN_QUERY`)."""


@rule(
    "GD-GPU-007",
    area="gpu",
    severity=Severity.WARNING,
    title="The GPU is slowing itself down (thermal or power)",
    why="NVML's clock-event reasons show an active hardware or thermal slowdown: HW slowdown "
    "(0x8), SW thermal (0x20), HW thermal (0x40) or HW power brake (0x80). The GPU runs "
    "below its clocks, so training is slower with no error. The ordinary power cap (0x4) "
    "under full load is not reported.",
    fix="Check cooling (fans, airflow, dust, `nvidia-smi -q -d TEMPERATURE,PERFORMANCE`) and "
    "power (PSU, cables, power brake from the chassis).",
    sources=(
        "https://docs.nvidia.com/deploy/nvml-api/ (clocks event reasons: HwSlowdown, "
        "SwThermalSlowdown, HwThermalSlowdown, HwPowerBrakeSlowdown)",
        "NVIDIA/DCGM nvvs/src/Software.cpp",
    ),
)
def slowdown(report: Report, kb: KnowledgeBase) -> Iterator[Hit]:
    for gpu in gpus(report):
        reasons = gpu.clock_event_reasons
        if reasons is None:
            continue
        active = slowdowns(reasons)
        if not active:
            continue
        evidence = [f"clock-event reasons 0x{reasons:x}: " + "; ".join(active)]
        if gpu.temperature_c is not None:
            evidence.append(f"temperature {gpu.temperature_c} °C")
        if gpu.power_draw_w is not None and gpu.power_limit_w is not None:
            evidence.append(f"power {gpu.power_draw_w:.0f} W of {gpu.power_limit_w:.0f} W")
        if gpu.sm_clock_mhz is not None and gpu.sm_clock_max_mhz:
            evidence.append(f"SM clock {gpu.sm_clock_mhz} MHz of {gpu.sm_clock_max_mhz} MHz")
        yield Hit(
            title=f"{gpu_label(gpu)} is slowing itself down: "
            + ", ".join(t.split(" (")[0] for t in active),
            evidence=tuple(evidence),
            fix=(
                f"$ nvidia-smi -q -d TEMPERATURE,PERFORMANCE,POWER -i {gpu.index}",
                "Check fans, airflow and power cables.",
            ),
        )


@rule(
    "GD-GPU-008",
    area="gpu",
    severity=Severity.WARNING,
    severities=(Severity.WARNING, Severity.INFO),
    title="The PCIe link generation runs below its maximum while the GPU is busy",
    why="A GPU under load should run its PCIe link at the highest generation the GPU and slot "
    "support; a link trained down (Gen5 to Gen3) cuts host-device bandwidth. At idle the link "
    "drops its generation by design to save power, so an idle GPU (clock-event bit GpuIdle "
    f"0x1, or utilisation below {BUSY_UTILIZATION_PCT} %) is not reported; when the load is "
    "unknown the finding is information only. The link width does not drop that way and is "
    "judged at any load (GD-GPU-015).",
    fix="Check the slot's BIOS setting (PCIe generation), reseat the card or its riser, and "
    f"check again under load (`{PCIE_GEN_QUERY}`).",
    sources=(
        "https://docs.nvidia.com/deploy/nvml-api/ (nvmlDeviceGetCurrPcieLinkGeneration, "
        "nvmlDeviceGetMaxPcieLinkGeneration)",
        "Syllo/nvtop#6 (Gen1 at idle is power saving)",
    ),
)
def pcie_link(report: Report, kb: KnowledgeBase) -> Iterator[Hit]:
    for gpu in gpus(report):
        gen, gen_max = gpu.pcie_gen, gpu.pcie_gen_max
        if gen is None or gen_max is None or gen >= gen_max:
            continue
        state = load_state(gpu)
        if state == "idle":
            continue
        link = f"PCIe link Gen{gen}, maximum Gen{gen_max}"
        if state == "busy":
            util = gpu.utilization_gpu_pct
            load = f"utilisation {util} %" if util is not None else "GpuIdle bit clear"
            yield Hit(
                title=f"{gpu_label(gpu)}: PCIe link Gen{gen} of Gen{gen_max} while busy",
                evidence=(link, load),
                fix=(
                    "Check the slot's PCIe generation setting in the BIOS; reseat the card or "
                    "riser.",
                    f"$ {PCIE_GEN_QUERY} -i {gpu.index}",
                ),
            )
        else:
            yield Hit(
                severity=Severity.INFO,
                title=f"{gpu_label(gpu)}: PCIe link Gen{gen} of Gen{gen_max} (load unknown)",
                evidence=(link, "no utilisation or idle reading"),
                fix=(f"Check again under load: $ {PCIE_GEN_QUERY} -i {gpu.index}",),
            )


@rule(
    "GD-GPU-015",
    area="gpu",
    severity=Severity.WARNING,
    title="The PCIe link is narrower than its maximum",
    why="The number of PCIe lanes a link trained to does not drop at idle (only the "
    "generation does), so a GPU at x4 or x8 of its x16 is a fault at any load: a riser or "
    "slot with fewer lanes, a slot shared by bifurcation, or a card not fully seated. It cuts "
    "host-device bandwidth by the same factor.",
    fix="Move the card to a full-width slot, check the riser and the BIOS bifurcation "
    "setting, reseat the card, and check `LnkSta` (`sudo lspci -vv -s BUS_ID`) or "
    f"`{PCIE_WIDTH_QUERY}`.",
    sources=(
        "https://docs.nvidia.com/deploy/nvml-api/ (nvmlDeviceGetCurrPcieLinkWidth, "
        "nvmlDeviceGetMaxPcieLinkWidth)",
        "NVIDIA/DCGM nvvs/src/Software.cpp",
    ),
)
def pcie_width(report: Report, kb: KnowledgeBase) -> Iterator[Hit]:
    for gpu in gpus(report):
        width, width_max = gpu.pcie_width, gpu.pcie_width_max
        if width is None or width_max is None or width >= width_max:
            continue
        short = ":".join(gpu.pci_bus_id.split(":")[-2:]) if gpu.pci_bus_id else None
        bus = f" -s {shell.matching(short, shell.PCI_ADDRESS, 'BUS_ID')}" if short else ""
        yield Hit(
            title=f"{gpu_label(gpu)}: PCIe link x{width} of x{width_max}",
            evidence=(
                f"PCIe link width x{width}, maximum x{width_max}",
                "the width does not drop at idle: this holds at any load",
            ),
            fix=(
                "Move the card to a full-width (x16) slot or replace the riser; check the "
                "BIOS bifurcation setting; reseat the card.",
                f"$ sudo lspci -vv{bus} | grep -E 'LnkCap|LnkSta'",
            ),
        )


@rule(
    "GD-GPU-009",
    area="gpu",
    severity=Severity.WARNING,
    title="Most of the GPU's memory is held by other processes",
    why=f"More than {MEMORY_HELD_FRACTION:.0%} of the GPU's memory was in use when gpudoctor "
    "looked (gpudoctor holds none while NVML is read). A new job will run out of memory or "
    "share the GPU with whatever holds it.",
    fix="See who holds it (`nvidia-smi --query-compute-apps=pid,process_name,used_memory "
    "--format=csv`), stop it, or pick another GPU with `CUDA_VISIBLE_DEVICES`.",
    sources=(
        "https://docs.nvidia.com/deploy/nvml-api/ (nvmlDeviceGetMemoryInfo, "
        "nvmlDeviceGetComputeRunningProcesses)",
    ),
)
def memory_held(report: Report, kb: KnowledgeBase) -> Iterator[Hit]:
    for gpu in gpus(report):
        used, total = gpu.memory_used_mib, gpu.memory_total_mib
        if gpu.mig_enabled or used is None or not total or used / total <= MEMORY_HELD_FRACTION:
            continue
        evidence = [f"{used} MiB of {total} MiB in use ({used / total:.0%})"]
        top = sorted(gpu.processes, key=lambda p: -(p.used_memory_mib or 0))[:3]
        for p in top:
            held = "?" if p.used_memory_mib is None else str(p.used_memory_mib)
            evidence.append(f"pid {p.pid} {p.name or '?'}: {held} MiB")
        if not gpu.processes:
            evidence.append("no process listed (held from another container or namespace)")
        yield Hit(
            title=f"{gpu_label(gpu)}: {used / total:.0%} of its memory is held by other processes",
            evidence=tuple(evidence),
            fix=(
                "$ nvidia-smi --query-compute-apps=pid,process_name,used_memory --format=csv",
                "Stop those processes, or use another GPU: export CUDA_VISIBLE_DEVICES=<index>",
            ),
        )


@rule(
    "GD-GPU-010",
    area="gpu",
    severity=Severity.INFO,
    severities=(Severity.ERROR, Severity.WARNING, Severity.INFO),
    title="MIG is on: each process sees one MIG instance",
    why="With MIG (Multi-Instance GPU) on, CUDA shows a process only one MIG instance: "
    "`torch.cuda.device_count()` is 1 and `cuda:1` is an invalid ordinal, whatever the number "
    "of instances. MIG on with no GPU/compute instance leaves CUDA with no device at all "
    "(error). A mode change that waits for a GPU reset is a warning.",
    fix="Pick the instance per process with `CUDA_VISIBLE_DEVICES=MIG-UUID` (`nvidia-smi -L` "
    "lists them); create instances with `sudo nvidia-smi mig -cgi PROFILES -C` (PROFILES: "
    "IDs from `nvidia-smi mig -lgip`, comma-separated).",
    sources=(
        "https://docs.nvidia.com/datacenter/tesla/mig-user-guide/index.html",
        "pytorch/pytorch#102715",
        "vllm-project/vllm#6582",
    ),
)
def mig(report: Report, kb: KnowledgeBase) -> Iterator[Hit]:
    for gpu in gpus(report):
        known = gpu.mig_pending is not None and gpu.mig_enabled is not None
        if known and gpu.mig_pending != gpu.mig_enabled:
            state = "on" if gpu.mig_pending else "off"
            yield Hit(
                severity=Severity.WARNING,
                title=f"{gpu_label(gpu)}: MIG mode change to {state} waits for a GPU reset",
                evidence=(f"MIG current: {'on' if gpu.mig_enabled else 'off'}, pending: {state}",),
                fix=(f"$ sudo nvidia-smi -r -i {gpu.index}   # once the GPU is idle; or reboot",),
            )
        if not gpu.mig_enabled:
            continue
        if not gpu.mig_devices:
            yield Hit(
                severity=Severity.ERROR,
                title=f"{gpu_label(gpu)}: MIG is on but has no instance, so CUDA sees no device",
                evidence=("MIG mode: on", "MIG instances: none"),
                fix=(
                    f"$ sudo nvidia-smi mig -lgip -i {gpu.index}   # list the profiles",
                    f"$ sudo nvidia-smi mig -cgi PROFILES -C -i {gpu.index}   "
                    "# PROFILES: IDs from that list, comma-separated",
                ),
            )
            continue
        shown = [
            f"MIG {m.index}: {m.name or '?'}"
            + (f", {m.memory_total_mib} MiB" if m.memory_total_mib else "")
            + (f", {m.uuid}" if m.uuid else "")
            for m in gpu.mig_devices
        ]
        # nvidia-smi -L, the next step, lists it
        first = shell.matching(gpu.mig_devices[0].uuid, shell.DEVICE_UUID, "MIG-UUID")
        yield Hit(
            title=f"{gpu_label(gpu)}: MIG is on with {len(gpu.mig_devices)} instances; "
            "each process sees one",
            evidence=tuple(shown),
            fix=(f"$ export CUDA_VISIBLE_DEVICES={first}", "$ nvidia-smi -L"),
        )


@rule(
    "GD-GPU-011",
    area="gpu",
    severity=Severity.INFO,
    title="Persistence mode is off",
    why="Without persistence mode (Linux) the driver tears the GPU state down when the last "
    "client exits and rebuilds it for the next one, adding a second or more to every "
    "`nvidia-smi` call and CUDA start. DCGM warns about it on servers.",
    fix="`sudo nvidia-smi -pm 1`, or better enable the `nvidia-persistenced` service.",
    sources=("https://docs.nvidia.com/deploy/driver-persistence/index.html",),
)
def persistence(report: Report, kb: KnowledgeBase) -> Iterator[Hit]:
    if report.host.os != "linux" or report.host.wsl:
        return
    off = [g for g in gpus(report) if g.persistence_mode is False]
    if off:
        yield Hit(
            evidence=(f"persistence mode off on GPU {', '.join(str(g.index) for g in off)}",),
            fix=(
                "$ sudo systemctl enable --now nvidia-persistenced",
                "or: $ sudo nvidia-smi -pm 1",
            ),
        )


@rule(
    "GD-GPU-012",
    area="gpu",
    severity=Severity.ERROR,
    severities=(Severity.ERROR, Severity.INFO),
    title="The GPU's compute mode forbids CUDA",
    why="Compute mode *Prohibited* lets no process create a CUDA context. *Exclusive process* "
    "(information) lets only one process use the GPU at a time: a second one fails with "
    "`all CUDA-capable devices are busy or unavailable`.",
    fix="`sudo nvidia-smi -i N -c DEFAULT`.",
    sources=(
        "https://docs.nvidia.com/deploy/nvml-api/ (nvmlDeviceGetComputeMode: "
        "NVML_COMPUTEMODE_PROHIBITED, EXCLUSIVE_PROCESS)",
    ),
)
def compute_mode(report: Report, kb: KnowledgeBase) -> Iterator[Hit]:
    for gpu in gpus(report):
        fix = (f"$ sudo nvidia-smi -i {gpu.index} -c DEFAULT",)
        if gpu.compute_mode == "prohibited":
            yield Hit(
                title=f"{gpu_label(gpu)}: compute mode Prohibited forbids CUDA",
                evidence=("compute mode: prohibited",),
                fix=fix,
            )
        elif gpu.compute_mode == "exclusive_process":
            yield Hit(
                severity=Severity.INFO,
                title=f"{gpu_label(gpu)}: compute mode Exclusive Process (one process at a time)",
                evidence=("compute mode: exclusive_process",),
                fix=fix,
            )


def _on_off(value: bool | None) -> str:
    return "on" if value else "off"


@rule(
    "GD-GPU-014",
    area="gpu",
    severity=Severity.WARNING,
    title="An ECC mode change waits for a GPU reset",
    why="NVML reports two ECC modes per GPU: the current one and the pending one, the mode "
    "the GPU will have after its next reset (`nvidia-smi -q -d ECC`: *Current* and "
    "*Pending*). They are normally equal: pending *on* with ECC on is the ordinary state of "
    "a data-centre GPU, not a problem. When they differ, someone ran `nvidia-smi -e` and the "
    "change is not in effect yet: the GPU keeps running in the old mode until a reset or "
    "reboot.",
    fix="Reset the GPU (`sudo nvidia-smi -r -i N`, with no process on it) or reboot; or, if "
    "the change was not wanted, set the mode back with `sudo nvidia-smi -i N -e 0` (off) or "
    "`-e 1` (on).",
    sources=(
        "https://docs.nvidia.com/deploy/nvml-api/ (nvmlDeviceGetEccMode: current and pending)",
    ),
)
def ecc_mode_pending(report: Report, kb: KnowledgeBase) -> Iterator[Hit]:
    for gpu in gpus(report):
        if gpu.ecc_enabled is None or gpu.ecc_pending is None:
            continue
        if gpu.ecc_enabled == gpu.ecc_pending:
            continue
        now, then = _on_off(gpu.ecc_enabled), _on_off(gpu.ecc_pending)
        yield Hit(
            title=f"{gpu_label(gpu)}: ECC mode change to {then} waits for a GPU reset",
            evidence=(f"ECC current: {now}, pending: {then}",),
            fix=(
                f"$ sudo nvidia-smi -r -i {gpu.index}   # once the GPU is idle; or reboot",
                f"or keep ECC {now}: $ sudo nvidia-smi -i {gpu.index} "
                f"-e {1 if gpu.ecc_enabled else 0}",
            ),
        )


@rule(
    "GD-GPU-013",
    area="gpu",
    severity=Severity.INFO,
    title="GPU health not checked: NVML lists no GPU",
    why="GPU health (memory errors, throttling, PCIe, MIG) is read through NVML; when NVML "
    "did not start or lists no GPU, these checks could not run. The NVML line says why. On "
    "a machine with no NVIDIA GPU (GD-DRV-001) it reads *not applicable*, on macOS *not "
    "applicable on macOS*.",
    fix="Fix the NVML problem, then run `gpudoctor check` again.",
    marks_unchecked=True,
    sources=("https://docs.nvidia.com/deploy/nvml-api/ (nvmlDeviceGetCount)",),
)
def not_checked(report: Report, kb: KnowledgeBase) -> Iterator[Hit]:
    if report.nvml.status == "ok" and report.nvml.gpus:
        return
    if not_applicable(report, "gpu"):
        yield Hit(
            title=f"GPU health {not_applicable_words(report)}",
            evidence=(no_nvidia_evidence(report),),
        )
        return
    status = report.nvml.status if report.nvml.status != "ok" else "no GPU"
    yield Hit(evidence=(f"NVML: {status}",))
