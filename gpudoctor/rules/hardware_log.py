"""Rules on what the kernel log says the GPUs went through: Xid and SXid errors, GSP timeouts."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime

from gpudoctor.model.derived import missing_from_nvml, nvml_sees_the_node, pci_parts, same_device
from gpudoctor.model.findings import Severity
from gpudoctor.model.report import KernelLogInfo, Report, XidCount
from gpudoctor.model.slurm import drain_command, node_to_drain
from gpudoctor.rules.distro import rebuild_initramfs
from gpudoctor.rules.facts import SUDO_CHECK, gpu_label, gpus, sudo_check
from gpudoctor.rules.registry import Hit, KnowledgeBase, XidLike, rule

XID_DOCS = "https://docs.nvidia.com/deploy/xid-errors/index.html"
CATALOGUE = "gpudoctor/kb/data/xid.toml (NVIDIA's Xid catalogue: meaning, blame, action per Xid)"
STORM_COUNT = 18
STORM_WINDOW_S = 2 * 3600
"""gpudoctor's own storm threshold, 18 hardware Xids within 2 hours: unsourced. It came from
a misreading of AzureHPC's health checks, whose Xid check lists 18 Xid codes and fails a node
at the first of them it finds, not at 18 Xids."""
AZURE_XID_CHECK = (
    "Azure/azurehpc-health-checks customTests/azure_gpu_xid.nhc @0078044 (XID_EC: 48 56 57 58 "
    "62 63 64 65 68 69 73 74 79 80 81 92 119 120; the first of them in the kernel log fails "
    "the node; no count)"
)
GSP_XIDS = frozenset({119, 120})
RECOVERY_XID = 154
OWN_RULES = GSP_XIDS | {RECOVERY_XID}
"""Xids with a rule of their own; the general Xid rules leave them out."""

ACTION_FIX: dict[str, str] = {
    "none": "Nothing by itself; watch whether it repeats.",
    "restart_job": "Restart the job that hit it; the GPU itself needs nothing.",
    "reset_gpu": "$ sudo nvidia-smi -r -i {index}   # once the GPU is idle; or reboot",
    "reboot": "$ sudo reboot",
}
"""The fix step of each Xid action but ``drain_repair``, whose drain names the finding
(drain_repair)."""
ACTION_WORDS: dict[str, str] = {
    "none": "no action of its own",
    "restart_job": "restart the job",
    "reset_gpu": "reset the GPU",
    "reboot": "reboot the node",
    "drain_repair": "drain the node and send the GPU for repair",
}


def drain_repair(report: Report, finding_id: str, title: str) -> str:
    """The drain_repair step: the node the report is of, as SLURM names it, drained with a
    reason that names the finding in ``sinfo -R`` and that no health gate resumes
    (``repair:GPU-058 ...``): a clean kernel log after a reboot is no repair."""
    drain = drain_command(node_to_drain(report), finding_id, title, repair=True)
    return f"Drain the node and send the GPU for repair: $ {drain}"


def kernel_log(report: Report) -> KernelLogInfo | None:
    """The kernel-log section of the report, where the probe ran."""
    return report.hardware.kernel_log if report.hardware is not None else None


def device_of(report: Report, pci: str | None) -> tuple[str, int | None]:
    """``GPU 3 (NVIDIA H100 80GB HBM3)`` for the GPU at a logged PCI address, and its index.

    Compared as :func:`same_device` compares (an Xid line names no function; a missing
    domain is domain 0000, as ``lspci`` leaves it out): the nvidia driver writes the domain
    in every Xid line (``NVRM: Xid (PCI:0009:01:00): 79``)."""
    for gpu in gpus(report):
        if gpu.pci_bus_id and same_device(pci, gpu.pci_bus_id):
            return gpu_label(gpu), gpu.index
    return (f"the device at PCI {pci}" if pci else "an unnamed device"), None


def xid_step(report: Report) -> str:
    """The fix step that looks at the Xids: what this check read in the kernel log, where it
    could read it (the findings GD-GPU-056 to GD-GPU-061 say what each Xid needs); else the
    command that reads them."""
    log = kernel_log(report)
    if log is None or log.status != "ok":
        return "$ sudo dmesg | grep -i xid"
    said = [log.source or "", f"the last {log.window_h:g} h" if log.window_h is not None else ""]
    where = ", ".join(s for s in said if s)
    where = f" ({where})" if where else ""
    xids = [c for c in log.counts if c.kind == "xid"]
    if not xids:
        return f"The kernel log{where} holds no Xid error."
    shown = ", ".join(f"Xid {c.code} on PCI {c.pci} ({c.count}x)" for c in xids[:4])
    more = f" and {len(xids) - 4} more" if len(xids) > 4 else ""
    return (
        f"The kernel log{where} holds {shown}{more}: its findings "
        "(GD-GPU-056 to GD-GPU-061) say what each needs."
    )


def _times(count: XidCount) -> str:
    if count.count == 1:
        return f"once ({count.last})" if count.last else "once"
    span = f", {count.first} to {count.last}" if count.first and count.last else ""
    return f"{count.count} times{span}"


RING_BUFFERS = ("/dev/kmsg", "dmesg")
"""Sources whose oldest record is where they begin (the boot, or where the buffer wrapped)."""
SHORT_COVER_S = 600.0
"""Coverage that starts later than the window by more than this is said (a boot inside it)."""


def _window(log: KernelLogInfo) -> str:
    """Where in the kernel log the counts come from; a report that lacks the window or the
    source (written before they were recorded) leaves them unsaid."""
    cut = "; reading stopped at its bound, so the counts are lower bounds" if log.truncated else ""
    said = f"{log.source}{cut}" if log.source else cut.removeprefix("; ")
    aside = f" ({said})" if said else ""
    if log.window_h is None:
        return f"in the kernel log{aside}"
    hours = f"{log.window_h:g} h"
    asked, read = _epoch(log.since), _epoch(log.covered_from)
    ring = log.source in RING_BUFFERS
    if ring and asked is not None and read is not None and read - asked > SHORT_COVER_S:
        # The ring buffer holds this boot alone (or less, once it wrapped), and no journal
        # added the boots before it: the counts are of the part read, not of the whole window.
        # (A journal's oldest line is only the oldest the window holds: a quiet kernel logs
        # nothing for hours.)
        return (
            f"in the kernel log from {log.covered_from} on ({log.source} holds nothing older; "
            f"{hours} were asked{cut})"
        )
    return f"in the last {hours} of the kernel log{aside}"


def _xids(report: Report) -> Iterator[XidCount]:
    log = kernel_log(report)
    if log is None or log.status != "ok":
        return
    yield from (c for c in log.counts if c.kind == "xid")


def _evidence(report: Report, count: XidCount, entry: XidLike | None) -> tuple[str, ...]:
    log = kernel_log(report)
    said = [f"Xid {count.code} {_times(count)} {_window(log) if log else ''}".rstrip()]
    if count.last_message:
        said.append(f"last line: {count.last_message}")
    if entry is not None:
        said.append(f"{entry.name}: {entry.meaning}")
    return tuple(said)


def before_boot(report: Report, count: XidCount) -> bool:
    """True when every line of ``count`` predates this boot (read from the journal)."""
    log = kernel_log(report)
    boot, last = _epoch(log.boot_time if log else None), _epoch(count.last)
    return boot is not None and last is not None and last < boot


def _fix(
    report: Report, entry: XidLike | None, index: int | None, finding_id: str, title: str
) -> tuple[str, ...]:
    if entry is None:
        return (f"Look the Xid up in NVIDIA's catalogue: {XID_DOCS}",)
    if entry.action == "drain_repair":
        step = drain_repair(report, finding_id, title)
    else:
        step = ACTION_FIX[entry.action].format(index=index if index is not None else "N")
    return (step, entry.note) if entry.note else (step,)


@rule(
    "GD-GPU-056",
    area="gpu",
    severity=Severity.ERROR,
    severities=(Severity.ERROR, Severity.WARNING, Severity.INFO),
    title="The kernel log has Xid errors the hardware or the driver caused",
    why="The NVIDIA driver logs an *Xid* line for every GPU error it sees. gpudoctor reads the "
    "kernel log of the look-back window (72 h by default, `check --since`) and looks each "
    "Xid up in NVIDIA's catalogue (kept as `xid.toml`): what it means, where the fault "
    "usually lies and NVIDIA's action. An Xid that needs the GPU reset, the node rebooted or "
    "the GPU repaired is an error; one after which only the job restarts (a contained ECC "
    "error, Xid 94) a warning; one with no action of its own (Xid 45, 92) information. An Xid "
    "the catalogue lacks is a warning. An error-level Xid whose lines all predate the current "
    "boot (the journal keeps earlier boots) is a warning: the reboot has reset the GPUs since. "
    "Xids usually caused by the application are GD-GPU-057; GSP firmware timeouts GD-GPU-059.",
    fix="Do what the finding says for its Xid (restart the job, `sudo nvidia-smi -r -i N` once no "
    "process uses the GPU, reboot, or "
    "drain and repair); if an Xid keeps coming back after that, run `dcgmi diag -r 3`.",
    sources=(
        XID_DOCS,
        "https://docs.nvidia.com/deploy/xid-errors/analyzing-xid-catalog.html",
        CATALOGUE,
    ),
)
def hardware_xids(report: Report, kb: KnowledgeBase) -> Iterator[Hit]:
    for count in _xids(report):
        if count.code in OWN_RULES:
            continue
        entry = kb.xid(count.code)
        if entry is not None and entry.blame == "application":
            continue
        label, index = device_of(report, count.pci)
        if entry is None:
            severity = Severity.WARNING
            title = f"Xid {count.code} on {label}: not in gpudoctor's catalogue"
        else:
            severity = {
                "none": Severity.INFO,
                "restart_job": Severity.WARNING,
            }.get(entry.action, Severity.ERROR)
            title = f"Xid {count.code} on {label}: {entry.name} ({ACTION_WORDS[entry.action]})"
            if severity == Severity.ERROR and before_boot(report, count):
                # The node has rebooted since (which resets every GPU): a history to watch,
                # not a node to drain again for the rest of the window.
                severity = Severity.WARNING
                title = f"Xid {count.code} on {label} before the last boot: {entry.name}"
        fix = _fix(report, entry, index, "GD-GPU-056", title)
        if (
            count.code == XID_OFF_THE_BUS
            and before_boot(report, count)
            and _still_missing(report, count.pci)
        ):
            fix = (
                "The reboot since did not bring it back (the nvidia driver has it, NVML does not "
                "list it): reseat it and check its power cables, or arrange an RMA",
            )
        yield Hit(
            severity=severity,
            title=title,
            evidence=_evidence(report, count, entry),
            fix=fix,
        )


XID_OFF_THE_BUS = 79


def _still_missing(report: Report, pci: str | None) -> bool:
    """Whether the GPU an Xid line names (``0000:17:00``, no function) is bound to the nvidia
    driver and still missing from NVML (model.derived.missing_from_nvml)."""
    # a container's or a job's NVML lists only its share; a device filter may hide the GPU,
    # but the Xid 79 for it says it was lost (GD-GPU-070 reads it so)
    if pci_parts(pci) is None or not nvml_sees_the_node(report, filter_aside=True):
        return False
    return any(same_device(pci, address) for address in missing_from_nvml(report))


@rule(
    "GD-GPU-057",
    area="gpu",
    severity=Severity.INFO,
    title="The kernel log has Xid errors that applications usually cause",
    why="Xid 13 (graphics engine exception), 31 (GPU memory page fault), 43 (GPU stopped "
    "processing) and their kind are almost always a job's own bug: an out-of-range address, a "
    "kernel that was stopped. The GPU is fine and nothing on the node needs doing; the job "
    "that hit it should be debugged (`compute-sanitizer`). Reported as information so that "
    "a person who sees them in `dmesg` knows they are not the hardware's. The driver prints "
    "one Xid 13 as a burst of lines, a Warp, a Global and an ESR line for every SM that "
    "faulted: the lines of a burst on one GPU (each within a second of the one before, no "
    "other Xid between, the same process where the lines name it) are counted as one Xid.",
    fix="Debug the job (`compute-sanitizer python train.py`); run `dcgmi diag -r 3` only if "
    "the same Xid appears with many different applications.",
    sources=(XID_DOCS, CATALOGUE),
)
def application_xids(report: Report, kb: KnowledgeBase) -> Iterator[Hit]:
    for count in _xids(report):
        entry = kb.xid(count.code)
        if entry is None or entry.blame != "application" or count.code in OWN_RULES:
            continue
        label, index = device_of(report, count.pci)
        title = f"Xid {count.code} on {label}: {entry.name} (usually the application's)"
        yield Hit(
            title=title,
            evidence=_evidence(report, count, entry),
            fix=_fix(report, entry, index, "GD-GPU-057", title),
        )


def _epoch(text: str | None) -> float | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


STORM_TITLE = "A storm of hardware Xids: drain the node and send it for repair"


def densest(times: list[float], window_s: float) -> int:
    """The most times that fall within any ``window_s`` span (times sorted or not)."""
    ordered, best, start = sorted(times), 0, 0
    for end, when in enumerate(ordered):
        while when - ordered[start] > window_s:
            start += 1
        best = max(best, end - start + 1)
    return best


@rule(
    "GD-GPU-058",
    area="gpu",
    severity=Severity.ERROR,
    title=STORM_TITLE,
    why=f"{STORM_COUNT} or more hardware-caused Xid errors within {STORM_WINDOW_S // 3600} "
    "hours. The threshold is gpudoctor's own and has no source: it was taken from a "
    "misreading of AzureHPC's node health checks, whose Xid check lists 18 Xid codes and "
    "fails a node at the first of them it finds; each Xid that needs a reset, a reboot or a "
    "repair is already an error of its own (GD-GPU-056). This finding adds that a GPU "
    "logging hardware errors that often needs a diagnosis off the scheduler. Counted from "
    "the newest events the report keeps (100); an older storm shows as many Xids in "
    "GD-GPU-056.",
    fix="Drain the node, run `dcgmi diag -r 3`, and send the failing GPU for repair.",
    sources=(
        AZURE_XID_CHECK,
        CATALOGUE,
    ),
)
def xid_storm(report: Report, kb: KnowledgeBase) -> Iterator[Hit]:
    log = kernel_log(report)
    if log is None or log.status != "ok":
        return
    times: list[float] = []
    codes: set[int] = set()
    for event in log.events:
        entry = kb.xid(event.code) if event.kind == "xid" else None
        if entry is None or entry.blame not in ("hardware", "driver"):
            continue
        when = _epoch(event.time)
        if when is not None:
            times.append(when)
            codes.add(event.code)
    most = densest(times, STORM_WINDOW_S)
    if most >= STORM_COUNT:
        shown = ", ".join(str(c) for c in sorted(codes))
        yield Hit(
            evidence=(
                f"{most} hardware Xids within {STORM_WINDOW_S // 3600} h (Xid {shown}) "
                f"{_window(log)}",
            ),
            fix=(drain_repair(report, "GD-GPU-058", STORM_TITLE), "$ dcgmi diag -r 3"),
        )


@rule(
    "GD-GPU-059",
    area="gpu",
    severity=Severity.ERROR,
    severities=(Severity.ERROR, Severity.WARNING),
    title="The GPU's GSP firmware timed out or failed (Xid 119/120)",
    why="On Turing and later GPUs the driver runs much of its work on the GPU System Processor "
    "(GSP). Xid 119 says the driver waited in vain for the GSP to answer an RPC, Xid 120 "
    "that the GSP reported an error; the GPU then hangs NVML calls and CUDA jobs until it is "
    "reset. The finding shows whether GSP firmware is on (NVML's GSP firmware mode). Known "
    "remedies: reset the GPU (or reboot); update the driver, since several releases fixed GSP "
    "timeouts; on Turing and Ampere GPUs the *proprietary* kernel module can run without it "
    "(`NVreg_EnableGpuFirmware=0`); the open kernel module always uses GSP, so gpudoctor "
    "suggests the switch only for a Turing or Ampere GPU on the proprietary module. Lines that "
    "all predate the current boot are a warning.",
    fix="Reset the GPU (`sudo nvidia-smi -r -i N` once no process uses it) or reboot; update the "
    "driver; where GSP is "
    "optional and the proprietary module is loaded, try `options nvidia "
    "NVreg_EnableGpuFirmware=0` in /etc/modprobe.d.",
    sources=(
        "leptonai/gpud pkg/nvidia-query/xid/testdata/dmesg-with-xid-119.log (real Xid 119 lines)",
        "https://download.nvidia.com/XFree86/FreeBSD-x86_64/560.31.02/README/gsp.html (GSP "
        "firmware is used by default on Turing and later; EnableGpuFirmware=0 turns it off, "
        "NVreg_EnableGpuFirmware=0 in the Linux README's chapter of the same name)",
        XID_DOCS,
    ),
)
def gsp_xids(report: Report, kb: KnowledgeBase) -> Iterator[Hit]:
    for count in _xids(report):
        if count.code not in GSP_XIDS:
            continue
        label, index = device_of(report, count.pci)
        gpu = next((g for g in gpus(report) if g.index == index), None)
        entry = kb.xid(count.code)
        evidence = list(_evidence(report, count, entry))
        if gpu is not None and gpu.gsp_firmware_enabled is not None:
            state = "on" if gpu.gsp_firmware_enabled else "off"
            default = (
                ""
                if gpu.gsp_firmware_default is None
                else (f" (default {'on' if gpu.gsp_firmware_default else 'off'})")
            )
            version = f", firmware {gpu.gsp_firmware_version}" if gpu.gsp_firmware_version else ""
            evidence.append(f"GSP firmware: {state}{default}{version}")
        optional = gpu is not None and gpu.architecture in ("Turing", "Ampere")
        proprietary = report.driver.module_flavour == "proprietary"
        fix = [ACTION_FIX["reset_gpu"].format(index=index if index is not None else "N")]
        fix.append("Update the driver to the newest release of its branch.")
        if optional and proprietary and gpu is not None and gpu.gsp_firmware_enabled:
            fix.append(
                "This GPU can run without GSP on the proprietary module: "
                "$ echo 'options nvidia NVreg_EnableGpuFirmware=0' | "
                "sudo tee /etc/modprobe.d/nvidia-gsp.conf && sudo reboot"
            )
            # a module the initramfs loads reads the options copied into it, not /etc's
            initramfs = next(
                (
                    line.removeprefix("$ ").split("   #")[0]
                    for line in rebuild_initramfs(report)
                    if line.startswith("$ ")
                ),
                "",
            )
            fix.append(
                "After the reboot, `nvidia-smi -q | grep 'GSP Firmware'` reads N/A; if it still "
                "shows a version, the initramfs loaded the module: rebuild it and reboot again"
                + (
                    f": $ {initramfs} && sudo reboot"
                    if initramfs
                    else " (`sudo update-initramfs -u` on Debian and Ubuntu, `sudo dracut "
                    "--force` on Fedora and RHEL)."
                )
            )
        earlier = before_boot(report, count)
        yield Hit(
            severity=Severity.WARNING if earlier else None,
            title=f"Xid {count.code} on {label}: GSP firmware "
            + ("timeout" if count.code == 119 else "error")
            + (" before the last boot" if earlier else ""),
            evidence=tuple(evidence),
            fix=tuple(fix),
        )


_RECOVERY = re.compile(r"to 0x[0-9a-fA-F]+ \(([^)]*)\)")


@rule(
    "GD-GPU-060",
    area="gpu",
    severity=Severity.ERROR,
    title="The driver says the GPU needs a recovery action (Xid 154)",
    why="Recent drivers log Xid 154 when the action needed to recover a GPU changes: `GPU "
    "Reset Required`, `Node Reboot Required`, `Drain and Reset`. The newest such line in the "
    "window is what counts; a change back to `None` means the GPU recovered, and so does a "
    "reboot since the line.",
    fix="Do what the line names: reset the GPU (`sudo nvidia-smi -r -i N` once no process uses "
    "it), drain and reset it, or "
    "reboot the node.",
    sources=(
        "leptonai/gpud pkg/nvidia-query/xid/kmsg_test.go (recorded Xid 154 lines)",
        "https://docs.nvidia.com/deploy/xid-errors/analyzing-xid-catalog.html (Xid 154 linkage)",
    ),
)
def recovery_action(report: Report, kb: KnowledgeBase) -> Iterator[Hit]:
    for count in _xids(report):
        if count.code != RECOVERY_XID:
            continue
        match = _RECOVERY.search(count.last_message)
        action = match.group(1).strip() if match else None
        if action is None or action.lower() == "none":
            continue
        if before_boot(report, count):
            continue  # the node has rebooted since: every recovery action is done
        label, index = device_of(report, count.pci)
        lowered = action.lower()
        if "reboot" in lowered:
            fix = ACTION_FIX["reboot"]
        elif "drain" in lowered:
            fix = "Drain the node, then: " + ACTION_FIX["reset_gpu"]
        else:
            fix = ACTION_FIX["reset_gpu"]
        yield Hit(
            title=f"The driver asks for '{action[:60]}' on {label} (Xid 154)",
            evidence=_evidence(report, count, kb.xid(RECOVERY_XID)),
            fix=(fix.format(index=index if index is not None else "N"),),
        )


def _fatal(line: str) -> bool:
    """An SXid's own line says ``Fatal, Link ...`` or ``Non-fatal, Link ...``."""
    lowered = line.lower()
    return "fatal" in lowered and "non-fatal" not in lowered


@rule(
    "GD-GPU-061",
    area="gpu",
    severity=Severity.WARNING,
    severities=(Severity.ERROR, Severity.WARNING),
    title="The kernel log has NVSwitch SXid errors",
    why="On HGX/DGX boards the NVSwitch driver logs *SXid* lines for errors on the switches "
    "and their NVLinks. A line that says `Fatal` stops the fabric's traffic through that "
    "switch (an error: the GPUs and switches must be reset, usually by a reboot); a "
    "non-fatal one is corrected by the hardware (a warning: a link that keeps counting "
    "them is failing). The driver follows each SXid's own line with two more of the same "
    "number (`Severity ... Engine instance ...`, `Data {...}`): they are counted as one error "
    "with it, and its own line decides whether it was fatal.",
    fix="Fatal: reboot the node (it resets the GPUs, the NVSwitches and Fabric Manager); if "
    "it recurs, drain it and have the baseboard checked. Non-fatal: watch the count.",
    sources=(
        "https://docs.nvidia.com/datacenter/tesla/fabric-manager-user-guide/index.html "
        "(NVSwitch SXid errors, fatal and non-fatal)",
        "NVIDIA/open-gpu-kernel-modules src/common/nvswitch/kernel/inc/intr_nvswitch.h "
        "(NVSWITCH_REPORT_FATAL: 'Fatal, Link %02d ...') and error_nvswitch.c "
        "(_nvswitch_dump_error_entry: the 'Severity' and 'Data' lines)",
    ),
)
def sxids(report: Report, kb: KnowledgeBase) -> Iterator[Hit]:
    log = kernel_log(report)
    if log is None or log.status != "ok":
        return
    for count in log.counts:
        if count.kind != "sxid":
            continue
        # A report recorded before the probe left out the detail lines may end a fatal SXid
        # with "Data {0x...}": its events (the newest lines) then still hold "Fatal, ...".
        said = [count.last_message] + [
            e.message
            for e in log.events
            if e.kind == "sxid" and e.code == count.code and e.pci == count.pci
        ]
        fatal = any(_fatal(line) for line in said)
        yield Hit(
            severity=Severity.ERROR if fatal else Severity.WARNING,
            title=f"SXid {count.code} on the NVSwitch at PCI {count.pci}"
            + (" (fatal)" if fatal else ""),
            evidence=(
                f"SXid {count.code} {_times(count)} {_window(log)}",
                f"last line: {count.last_message}",
            ),
            fix=(ACTION_FIX["reboot"],) if fatal else ("Watch the count in the kernel log.",),
        )


@rule(
    "GD-HOST-055",
    area="host",
    severity=Severity.INFO,
    title="The kernel log could not be read: Xid errors were not checked",
    why="Xid errors are only in the kernel log, and reading it needs `/dev/kmsg` (blocked by "
    "`kernel.dmesg_restrict=1`, the default on Ubuntu and others), the system journal "
    "(members of the `systemd-journal` or `adm` group) or `dmesg`. gpudoctor tried each and "
    "reports what it could not read rather than guess.",
    fix="Run the check as root, add the user to the `systemd-journal` group, or let an "
    f"administrator run `{SUDO_CHECK}`.",
    sources=(
        "https://www.kernel.org/doc/Documentation/sysctl/kernel.txt (dmesg_restrict)",
        "https://www.freedesktop.org/software/systemd/man/latest/journalctl.html (who may read "
        "the system journal)",
    ),
)
def log_unreadable(report: Report, kb: KnowledgeBase) -> Iterator[Hit]:
    log = kernel_log(report)
    if log is None or log.status != "unreadable":
        return
    yield Hit(
        evidence=tuple(part.strip() for part in log.message.split(";") if part.strip())[:3],
        fix=(f"$ {sudo_check(report)}", "$ sudo usermod -aG systemd-journal $USER"),
    )
