"""Rules on links and settings that cost speed quietly: NVLink, InfiniBand, IOMMU, power, ECC."""

from __future__ import annotations

import re
from collections.abc import Iterator

from gpudoctor.model import shell
from gpudoctor.model.findings import Severity
from gpudoctor.model.report import IbPort, Report
from gpudoctor.rules.distro import add_kernel_args
from gpudoctor.rules.facts import gpu_label, gpus
from gpudoctor.rules.registry import Hit, KnowledgeBase, rule

MODELS = "gpudoctor/kb/data/gpu_models.toml (expected NVLinks and ECC per GPU model)"
NVLINK_ERRORS_WARN = 5
"""NVLink errors per link at which Imbue's published host checks warn."""
SMALL_BAR1_MIB = 256
"""BAR1 without resizable BAR (the legacy 256 MiB aperture)."""
BIG_MEMORY_MIB = 16 * 1024


@rule(
    "GD-GPU-062",
    area="gpu",
    severity=Severity.ERROR,
    severities=(Severity.ERROR, Severity.WARNING),
    title="NVLinks are down",
    why="An SXM board connects every GPU to the NVSwitches (or its peers) with a fixed number "
    "of NVLinks: 18 on H100 and H200, 12 on A100. NVML lists each link's state; fewer "
    "active links than the model has (from `gpu_models.toml`) is an error: collective "
    "operations on this node lose bandwidth or fall back to PCIe. On a model without a known "
    "count, a link listed but down while others are up is a warning. A GPU for which NVML "
    "lists no link at all (NOT_SUPPORTED, as in MIG mode or a VM) is not judged.",
    fix="Reset the GPUs (`sudo nvidia-smi -r`, with no process on any of them) or reboot so that "
    "the links train again; if a link "
    "stays down, check `nvidia-smi nvlink -s` and have the baseboard serviced.",
    sources=(
        "https://docs.nvidia.com/deploy/nvml-api/group__NvLink.html (nvmlDeviceGetNvLinkState)",
        MODELS,
    ),
)
def nvlinks_down(report: Report, kb: KnowledgeBase) -> Iterator[Hit]:
    for gpu in gpus(report):
        # No link listed at all: NVML says the GPU has no NVLink to ask (a VM, MIG, a PCIe
        # card); links that exist but are down are counted, and kept in ``nvlinks``.
        if not gpu.nvlink_count or gpu.lost:
            continue
        model = kb.gpu_model(gpu.name) if gpu.name else None
        expected = model.nvlinks if model is not None else None
        active = gpu.nvlinks_up or 0
        down = [str(link.link) for link in gpu.nvlinks or () if not link.active]
        if expected is not None and active < expected:
            yield Hit(
                title=f"{gpu_label(gpu)} has {active} of its {expected} NVLinks up",
                evidence=(
                    f"{active} active NVLinks; the {model.label if model else 'GPU'} has "
                    f"{expected}",
                    *((f"links down: {', '.join(down)}",) if down else ()),
                ),
                fix=(f"$ nvidia-smi nvlink -s -i {gpu.index}", "$ sudo reboot"),
            )
        elif expected is None and active and active < gpu.nvlink_count:
            yield Hit(
                severity=Severity.WARNING,
                title=f"{gpu_label(gpu)} has NVLinks down: {', '.join(down)}",
                evidence=(f"{active} of {gpu.nvlink_count} listed NVLinks active",),
                fix=(f"$ nvidia-smi nvlink -s -i {gpu.index}",),
            )


@rule(
    "GD-GPU-063",
    area="gpu",
    severity=Severity.WARNING,
    title="NVLinks are counting errors",
    why="NVML counts, per link, CRC errors (flow-control and data), replays (a packet sent "
    f"again) and recoveries (the link went down and retrained). {NVLINK_ERRORS_WARN} or more "
    "on one link is where Imbue's published host checks warn: the link is marginal and "
    "slows every collective that crosses it. The counters run since the driver loaded.",
    fix="Note the link, reset the GPU and watch whether the count grows "
    "(`nvidia-smi nvlink -e`); a link that keeps counting needs the baseboard serviced.",
    sources=(
        "https://docs.nvidia.com/deploy/nvml-api/group__NvLink.html "
        "(nvmlDeviceGetNvLinkErrorCounter)",
        "imbue-ai/cluster-health (host validation: NVLink error counters, warn at 5)",
    ),
)
def nvlink_errors(report: Report, kb: KnowledgeBase) -> Iterator[Hit]:
    for gpu in gpus(report):
        bad = [link for link in gpu.nvlinks or () if link.error_total >= NVLINK_ERRORS_WARN]
        if not bad:
            continue
        yield Hit(
            title=f"{gpu_label(gpu)}: {len(bad)} NVLink(s) counting errors",
            evidence=tuple(
                f"link {link.link}: CRC flit {link.crc_flit_errors or 0}, CRC data "
                f"{link.crc_data_errors or 0}, replay {link.replay_errors or 0}, recovery "
                f"{link.recovery_errors or 0}"
                for link in bad[:6]
            ),
            fix=(f"$ nvidia-smi nvlink -e -i {gpu.index}",),
        )


@rule(
    "GD-GPU-069",
    area="gpu",
    severity=Severity.WARNING,
    title="NVLinks run slower than the others on this node",
    why="NVML gives each active NVLink's speed (`NVML_FI_DEV_NVLINK_GET_SPEED`, what "
    "`nvidia-smi nvlink -s` prints: 26.562 GB/s per link on the recorded H100 and H200). "
    "The links of one board should all run at one speed; a link, or a whole GPU's links, "
    "below the fastest on the node carries less, and every collective that crosses it waits "
    "for it. "
    "gpudoctor compares the links of the node's GPUs of one model with each other, so no "
    "per-model figure is assumed; links whose speed NVML does not give, and links NVML says "
    "are in their low-power state (idle), are not judged.",
    fix="Reset the GPUs (`sudo nvidia-smi -r`, with no process on any of them) or reboot so that "
    "the links train again; if a link "
    "stays slow, check `nvidia-smi nvlink -s` and have the baseboard serviced.",
    sources=(
        "https://github.com/NVIDIA/go-nvml/blob/2f9e261fe40a/gen/nvml/nvml.h "
        "(NVML_FI_DEV_NVLINK_GET_SPEED: NVLink speed in MBps, the link in scopeId)",
        "shared/captures (nvidia-smi nvlink -s on H100 80GB HBM3 and H200, driver 590.48.01)",
    ),
)
def nvlinks_slow(report: Report, kb: KnowledgeBase) -> Iterator[Hit]:
    listed = [g for g in gpus(report) if not g.lost and g.nvlink_speed_mbps]
    # Among GPUs of one model: two generations of NVLink bridge in one box train to their own
    # speeds, and neither is slow.
    fastest_of: dict[str | None, int] = {}
    for gpu in listed:
        fastest_of[gpu.name] = max(fastest_of.get(gpu.name, 0), gpu.nvlink_speed_mbps or 0)
    for gpu in listed:
        own, fastest = gpu.nvlink_speed_mbps or 0, fastest_of[gpu.name]
        if own < fastest:
            yield Hit(
                title=f"{gpu_label(gpu)}: its NVLinks run at {_gbs(own)}, others at "
                f"{_gbs(fastest)}",
                evidence=(
                    f"fastest link of {gpu_label(gpu)}: {_gbs(own)}; fastest of this model on "
                    f"this node: {_gbs(fastest)}",
                ),
                fix=(f"$ nvidia-smi nvlink -s -i {gpu.index}", "$ sudo reboot"),
            )
            continue
        slow = [n for n in gpu.nvlinks or () if n.active and n.speed_mbps and n.speed_mbps < own]
        if slow:
            yield Hit(
                title=f"{gpu_label(gpu)}: {len(slow)} NVLink(s) slower than the others",
                evidence=tuple(
                    f"link {n.link}: {_gbs(n.speed_mbps or 0)}, the GPU's others {_gbs(own)}"
                    for n in slow[:6]
                ),
                fix=(f"$ nvidia-smi nvlink -s -i {gpu.index}", "$ sudo reboot"),
            )


def _gbs(mbps: int) -> str:
    """MBps as nvidia-smi shows a link's speed: ``26.562 GB/s``."""
    return f"{mbps / 1000:.3f} GB/s"


@rule(
    "GD-GPU-064",
    area="gpu",
    severity=Severity.WARNING,
    title="ECC is off on a datacenter GPU",
    why="Datacenter GPUs ship with ECC on. With it off, a flipped bit in GPU memory silently "
    "changes results and the driver can no longer retire or remap bad memory; the few "
    "percent of memory and speed it gains are rarely worth that. The model list is in "
    "`gpu_models.toml`.",
    fix="Turn ECC back on and reset the GPU: `sudo nvidia-smi -e 1 -i N`, then reboot.",
    sources=("https://docs.nvidia.com/deploy/a100-gpu-mem-error-mgmt/index.html", MODELS),
)
def ecc_off(report: Report, kb: KnowledgeBase) -> Iterator[Hit]:
    for gpu in gpus(report):
        model = kb.gpu_model(gpu.name) if gpu.name else None
        # Off with "on" pending: GD-GPU-014 already says the change waits for a reset.
        if model is None or not model.ecc or gpu.ecc_enabled is not False or gpu.ecc_pending:
            continue
        yield Hit(
            title=f"ECC is off on {gpu_label(gpu)}",
            evidence=(f"ECC mode: off, and stays off after a reset ({model.label})",),
            fix=(f"$ sudo nvidia-smi -e 1 -i {gpu.index}", "$ sudo reboot"),
        )


@rule(
    "GD-GPU-065",
    area="gpu",
    severity=Severity.WARNING,
    title="The power limit is below the GPU's default",
    why="The GPU's enforced power limit is below the board's default: under load it clocks "
    "down to stay under it, and a training job runs slower with no error anywhere. "
    "gpudoctor compares NVML's enforced limit with the board's default and shows the "
    "range the board allows. Usually someone lowered it (`nvidia-smi -pl`). Where the "
    "limit `nvidia-smi -pl` sets (NVML's power management limit, *Requested Power Limit* in "
    "`nvidia-smi -q -d POWER`) is still at the default, another limiter holds the GPU lower "
    "(NVML: limits set elsewhere, such as the out-of-band power limit interface of the "
    "server's management controller), and `nvidia-smi -pl` cannot raise it.",
    fix="Set it back: `sudo nvidia-smi -pl WATTS -i N` with its default WATTS (resets to the "
    "default at the next driver load anyway). Where the requested limit is already the "
    "default, ask whoever manages the server's power capping (its BMC) to lift the cap.",
    sources=(
        "https://docs.nvidia.com/deploy/nvml-api/group__nvmlDeviceQueries.html "
        "(nvmlDeviceGetPowerManagementDefaultLimit, nvmlDeviceGetPowerManagementLimitConstraints, "
        "nvmlDeviceGetEnforcedPowerLimit: 'can be different from the "
        "nvmlDeviceGetPowerManagementLimit if other limits are set elsewhere', "
        "nvmlDeviceGetPowerManagementLimit)",
    ),
)
def power_limit_low(report: Report, kb: KnowledgeBase) -> Iterator[Hit]:
    for gpu in gpus(report):
        limit, default = gpu.power_limit_w, gpu.power_limit_default_w
        if limit is None or default is None or limit >= default - 1:
            continue
        allowed = (
            f" (allowed {gpu.power_limit_min_w:g}-{gpu.power_limit_max_w:g} W)"
            if gpu.power_limit_min_w is not None and gpu.power_limit_max_w is not None
            else ""
        )
        requested = gpu.power_limit_requested_w
        if requested is not None and requested >= default - 1:
            yield Hit(
                title=f"{gpu_label(gpu)} is held to {limit:g} W, below its default {default:g} "
                "W, by a limit set outside the driver",
                evidence=(
                    f"enforced power limit {limit:g} W, default {default:g} W{allowed}",
                    f"requested power limit (nvidia-smi -pl) {requested:g} W: another limiter "
                    "holds the GPU lower, which nvidia-smi -pl cannot raise",
                ),
                fix=(
                    f"$ nvidia-smi -q -d POWER -i {gpu.index}"
                    "   # Requested and Current Power Limit",
                    "Ask whoever manages the server's power capping (its management "
                    "controller, the BMC) to lift the cap.",
                ),
            )
            continue
        yield Hit(
            title=f"{gpu_label(gpu)} is limited to {limit:g} W, below its default {default:g} W",
            evidence=(f"power limit {limit:g} W, default {default:g} W{allowed}",),
            fix=(f"$ sudo nvidia-smi -pl {default:g} -i {gpu.index}",),
        )


@rule(
    "GD-GPU-066",
    area="gpu",
    severity=Severity.WARNING,
    title="Applications clocks are locked below their default",
    why="The applications clock (`nvidia-smi -ac`) caps the clock a GPU runs jobs at. Set "
    "below the default, every job is slower without an error. Hopper and later deprecate "
    "the setting (NVML answers *deprecated*), so the field is empty there.",
    fix="Reset it: `sudo nvidia-smi -rac -i N`.",
    sources=(
        "https://docs.nvidia.com/deploy/nvml-api/group__nvmlDeviceQueries.html "
        "(nvmlDeviceGetApplicationsClock, nvmlDeviceGetDefaultApplicationsClock)",
    ),
)
def app_clocks_low(report: Report, kb: KnowledgeBase) -> Iterator[Hit]:
    for gpu in gpus(report):
        clock, default = gpu.app_clock_graphics_mhz, gpu.app_clock_graphics_default_mhz
        if clock is None or default is None or clock >= default:
            continue
        yield Hit(
            title=f"{gpu_label(gpu)} runs jobs at {clock} MHz, below its default {default} MHz",
            evidence=(f"applications clock (graphics) {clock} MHz, default {default} MHz",),
            fix=(f"$ sudo nvidia-smi -rac -i {gpu.index}",),
        )


@rule(
    "GD-GPU-067",
    area="gpu",
    severity=Severity.INFO,
    title="BAR1 is the legacy 256 MiB: resizable BAR is off",
    why="The BAR1 aperture is the window through which the CPU and other devices (a network "
    "card with GPUDirect RDMA, a peer GPU) reach GPU memory. With resizable BAR off in the "
    "firmware it is 256 MiB, which limits GPUDirect RDMA and peer mappings on a GPU with "
    "far more memory. Datacenter boards normally expose all of it (128 GiB on an H100).",
    fix="Turn on *Above 4G decoding* and *Resizable BAR* in the system firmware (BIOS).",
    sources=(
        "https://docs.nvidia.com/cuda/gpudirect-rdma/index.html (BAR1 and GPUDirect RDMA)",
        "shared/captures (BAR1 Memory Usage: 131072 MiB on H100, 256 MiB on a GeForce RTX "
        "2080 SUPER)",
    ),
)
def small_bar1(report: Report, kb: KnowledgeBase) -> Iterator[Hit]:
    for gpu in gpus(report):
        bar1, memory = gpu.bar1_total_mib, gpu.memory_total_mib
        if bar1 is None or memory is None or bar1 > SMALL_BAR1_MIB or memory <= BIG_MEMORY_MIB:
            continue
        yield Hit(
            title=f"{gpu_label(gpu)} has a {bar1} MiB BAR1 for {memory // 1024} GiB of memory",
            evidence=(f"BAR1 {bar1} MiB, memory {memory} MiB",),
            fix=("Enable Above 4G decoding and Resizable BAR in the BIOS.",),
        )


# --- InfiniBand / RoCE ---------------------------------------------------------------------


def _ports(report: Report) -> tuple[IbPort, ...]:
    return report.hardware.ib_ports if report.hardware is not None else ()


def _expected(report: Report) -> float | None:
    return report.hardware.ib_expected_rate_gbps if report.hardware is not None else None


def _name(port: IbPort) -> str:
    return f"{port.device} port {port.port}"


def _siblings(report: Report, port: IbPort) -> list[IbPort]:
    return [p for p in _ports(report) if p is not port and p.link_layer == port.link_layer]


def _card(port: IbPort) -> tuple[str | None, str | None]:
    """The card model a port sits on, as far as the kernel says it (``board_id``, ``hca_type``)."""
    return (port.board_id, port.hca_type)


def _rate_siblings(report: Report, port: IbPort) -> list[IbPort]:
    """The ports whose rate ``port`` should match: same link layer and the same card model.

    A node's 400 Gb/s rails sit beside cards of other models that run slower by design (a
    100 GbE front-end NIC, a 200 Gb/s storage card), which are not slow rails.
    """
    return [p for p in _siblings(report, port) if _card(p) == _card(port)]


def _card_name(port: IbPort) -> str:
    known = [v for v in (port.hca_type, port.board_id) if v]
    return f" ({', '.join(known)})" if known else ""


def _watched(report: Report, port: IbPort) -> bool:
    """Whether a port that is down is worth a finding.

    ``Disabled`` is an administrator's choice. The second port of a dual-port card is often
    left without a cable, and an Ethernet (RoCE) port may be an unused NIC: without an
    expected rate, only an InfiniBand port whose rail siblings (ports on *other* HCAs) are up
    counts.
    """
    if port.phys_state == "Disabled":
        return False
    if _expected(report) is not None:
        return True
    if port.link_layer != "InfiniBand":
        return False
    return any(p.state == "ACTIVE" and p.device != port.device for p in _siblings(report, port))


@rule(
    "GD-HOST-056",
    area="host",
    severity=Severity.WARNING,
    title="An InfiniBand/RoCE port is down",
    why="An InfiniBand port that is not `ACTIVE` while the ports of the node's other HCAs are "
    "up (the rails of a GPU node), or any port when the administrator said every port should "
    "run (`check --ib-rate`), is a cable, switch port or transceiver problem: multi-node jobs "
    "lose that rail's bandwidth or fail to start. Read from "
    "`/sys/class/infiniband/*/ports/*/state` and `phys_state` (no root needed). A port the "
    "administrator disabled (`phys_state` `Disabled`), the second port of a dual-port card "
    "and an Ethernet (RoCE) port are left alone unless `--ib-rate` is given.",
    fix="Check the port with `ibstat` (or `ibv_devinfo`), reseat the cable and ask the "
    "network team to look at the switch port.",
    sources=(
        "https://www.kernel.org/doc/Documentation/ABI/stable/sysfs-class-infiniband (port "
        "state, phys_state, rate, counters)",
    ),
)
def ib_port_down(report: Report, kb: KnowledgeBase) -> Iterator[Hit]:
    for port in _ports(report):
        if port.state == "ACTIVE" or not _watched(report, port):
            continue
        up = [p for p in _siblings(report, port) if p.state == "ACTIVE"]
        yield Hit(
            title=f"InfiniBand/RoCE {_name(port)} is {port.state or 'not active'}",
            evidence=(
                f"{_name(port)}: state {port.state}, physical state {port.phys_state}",
                f"{len(up)} other port(s) of the same kind are active",
            ),
            fix=(_ibstat(port),),
        )


@rule(
    "GD-HOST-057",
    area="host",
    severity=Severity.WARNING,
    title="An InfiniBand/RoCE port runs below its expected rate",
    why="A port that trained at a lower rate than its active siblings (or than the rate the "
    "administrator gave with `check --ib-rate`) has a bad cable, a wrong transceiver or a "
    "lane down: all-reduce across nodes runs at the slowest rail's speed. On InfiniBand the "
    "width and speed the kernel writes after the rate (`4X NDR`) tell which: fewer lanes "
    "than the sibling (`2X`), or a slower generation (`HDR`). Siblings are ports "
    "of the same link layer on cards of the same model (the device's `board_id` and "
    "`hca_type`), so that a 100 GbE front-end NIC or a 200 Gb/s storage card beside 400 Gb/s "
    "rails is not called slow; `--ib-rate` holds every port to the given rate.",
    fix="Reseat or replace the cable; check the switch port's configured speed.",
    sources=(
        "https://www.kernel.org/doc/Documentation/ABI/stable/sysfs-class-infiniband (rate; "
        "mlx5's hca_type and board_id)",
    ),
)
def ib_port_slow(report: Report, kb: KnowledgeBase) -> Iterator[Hit]:
    expected = _expected(report)
    for port in _ports(report):
        if port.state != "ACTIVE" or port.rate_gbps is None:
            continue
        fastest = max(
            (
                p
                for p in _rate_siblings(report, port)
                if p.state == "ACTIVE" and p.rate_gbps is not None
            ),
            key=lambda p: p.rate_gbps or 0.0,
            default=None,
        )
        best = fastest.rate_gbps if fastest is not None else None
        target = expected if expected is not None else best
        if target is None or port.rate_gbps >= target:
            continue
        said = (
            "the rate given with --ib-rate"
            if expected is not None
            else "its fastest sibling"
            + (f" on a card of the same model{_card_name(port)}" if any(_card(port)) else "")
        )
        how = _how_slower(port, fastest) if fastest is not None and expected is None else None
        yield Hit(
            title=f"InfiniBand/RoCE {_name(port)} runs at {port.rate_gbps:g} Gb/s, not {target:g}",
            evidence=(f"{_name(port)}: {port.rate}; {said}: {target:g} Gb/s",)
            + ((how,) if how else ()),
            fix=(_ibstat(port),),
        )


_WIDTH_SPEED = re.compile(r"\((\d+)X\s*([A-Z0-9]+)\)")
"""The link width and speed the kernel writes after an InfiniBand port's rate: ``(4X NDR)``."""


def _how_slower(port: IbPort, sibling: IbPort) -> str | None:
    """Why an InfiniBand port is slower than ``sibling``, as its rate's width and speed say:
    fewer lanes (``2X`` beside ``4X``) or a lower speed generation (``HDR`` beside ``NDR``).
    None for RoCE ports, whose width and speed the kernel derives from the Ethernet speed."""
    if port.link_layer != "InfiniBand" or sibling.link_layer != "InfiniBand":
        return None
    mine, theirs = _WIDTH_SPEED.search(port.rate or ""), _WIDTH_SPEED.search(sibling.rate or "")
    if mine is None or theirs is None:
        return None
    if int(mine.group(1)) < int(theirs.group(1)):
        return (
            f"{mine.group(1)}X where {_name(sibling)} runs {theirs.group(1)}X: lanes of the "
            "link are down (a cable, transceiver or switch-port fault)"
        )
    if mine.group(2) != theirs.group(2):
        return (
            f"{mine.group(2)} where {_name(sibling)} runs {theirs.group(2)}: the link trained "
            "at a lower speed (a cable or transceiver of a slower generation, or the switch "
            "port set to it)"
        )
    return None


@rule(
    "GD-HOST-058",
    area="host",
    severity=Severity.WARNING,
    severities=(Severity.WARNING, Severity.INFO),
    title="An InfiniBand/RoCE port is flapping or counting errors",
    why="`counters/link_downed` counts the times the link went down, `link_error_recovery` "
    "the times it recovered from errors, `symbol_error` the bit errors on the wire, all since "
    "the counters were last cleared (usually the boot). A link that went down or recovered "
    "is a warning: jobs see timeouts and retransmissions. Twice or more is called flapping; "
    "once is said as once (a switch restart or a reseated cable also counts one), since the "
    "counters keep no time. Symbol errors alone are "
    "information (a few come with link training; a count that keeps growing means a marginal "
    "cable or transceiver).",
    fix="Clear the port's counters (`sudo perfquery -x -R -C DEVICE -P PORT`), watch "
    "whether they grow, and replace the cable or transceiver if they do.",
    sources=(
        "https://www.kernel.org/doc/Documentation/ABI/stable/sysfs-class-infiniband "
        "(counters/link_downed, symbol_error, link_error_recovery)",
    ),
)
def ib_port_errors(report: Report, kb: KnowledgeBase) -> Iterator[Hit]:
    for port in _ports(report):
        counts = {
            "link_downed": port.link_downed or 0,
            "link_error_recovery": port.link_error_recovery or 0,
            "symbol_error": port.symbol_error or 0,
        }
        if not any(counts.values()):
            continue
        flapped = counts["link_downed"] or counts["link_error_recovery"]
        # One fall since the counters were cleared (a switch restarted, a cable reseated) is
        # not yet a link that flaps: said as it is, with the same severity.
        once = counts["link_downed"] + counts["link_error_recovery"] == 1
        if not flapped:
            what = "counts symbol errors"
        elif once and counts["link_downed"]:
            what = "went down once since its counters were cleared"
        elif once:
            what = "recovered from link errors once since its counters were cleared"
        else:
            what = "is flapping"
        yield Hit(
            severity=None if flapped else Severity.INFO,
            title=f"InfiniBand/RoCE {_name(port)} {what}",
            evidence=(f"{_name(port)}: " + ", ".join(f"{k} {v}" for k, v in counts.items()),),
            fix=(
                f"$ sudo perfquery -x -C {shell.word(port.device, 'DEVICE')} -P {port.port}   "
                "# watch whether they grow",
            ),
        )


# --- IOMMU and peer-to-peer ----------------------------------------------------------------

TRANSLATED = frozenset({"DMA", "DMA-FQ"})


@rule(
    "GD-HOST-059",
    area="host",
    severity=Severity.WARNING,
    title="The IOMMU translates GPU traffic on a multi-GPU PCIe machine: NCCL may hang",
    why="With the IOMMU translating DMA (its group type is `DMA` or `DMA-FQ`, not `identity`), "
    "peer-to-peer transfers between GPUs are routed through the CPU's root complex, and "
    "NCCL's troubleshooting guide lists this (with PCI ACS) as a cause of hangs and poor "
    "bandwidth on machines whose GPUs talk over PCIe. gpudoctor reads the group type of "
    "each GPU from `/sys/kernel/iommu_groups` (no root needed); ACS on the bridges above "
    "the GPUs, which `iommu=pt` leaves on, is GD-HOST-060's (reading it needs root). "
    "Machines whose GPUs have NVLinks up are not flagged.",
    fix="Boot with `iommu=pt` (Intel: `intel_iommu=on iommu=pt`) or turn the IOMMU (VT-d / "
    "AMD-Vi) off in the BIOS; if ACS redirect is on (GD-HOST-060), disable it as NCCL's "
    "guide shows; then check with `nccl-tests`.",
    sources=(
        "https://docs.nvidia.com/deeplearning/nccl/user-guide/docs/troubleshooting.html "
        "(PCI Access Control Services (ACS) and IOMMU)",
        "https://www.kernel.org/doc/Documentation/ABI/testing/sysfs-kernel-iommu_groups (type)",
    ),
)
def iommu_translates(report: Report, kb: KnowledgeBase) -> Iterator[Hit]:
    iommu = report.hardware.iommu if report.hardware is not None else None
    listed = gpus(report)
    if iommu is None or len(listed) < 2 or not iommu.gpu_groups:
        return
    if any(g.nvlink_count is None or g.nvlinks_up for g in listed):
        return  # NVLink carries peer traffic (or it is unknown whether it does)
    translated = {pci: kind for pci, kind in iommu.gpu_groups.items() if kind in TRANSLATED}
    if not translated:
        return
    shown = ", ".join(f"{pci}: {kind}" for pci, kind in sorted(translated.items())[:8])
    switches = " ".join(iommu.cmdline) or "none"
    yield Hit(
        evidence=(f"IOMMU group type of the GPUs: {shown}", f"kernel command line: {switches}"),
        fix=add_kernel_args(report, "iommu=pt"),
    )


def _ibstat(port: IbPort) -> str:
    """``ibstat mlx5_0 1``: the port's state, speed and width, from its HCA and number."""
    return f"$ ibstat {shell.word(port.device, 'DEVICE')} {port.port}"
