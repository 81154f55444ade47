"""Host rules: CUDA_VISIBLE_DEVICES, device order, debugging variables, WSL2, stuck probes."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from gpudoctor.model import shell
from gpudoctor.model.findings import Severity
from gpudoctor.model.report import Report
from gpudoctor.rules import mixed_gpus
from gpudoctor.rules.facts import env, gpudoctor_start, gpus, no_nvidia_gpu, visible_index
from gpudoctor.rules.registry import Hit, KnowledgeBase, rule

# Variables DCGM's software check flags (NVIDIA/DCGM nvvs/src/Software.cpp), plus
# CUDA_LAUNCH_BLOCKING, which serialises every kernel launch.
SLOWDOWN_VARIABLES: dict[str, str] = {
    "NSIGHT_CUDA_DEBUGGER": "turns on the CUDA debugger hooks",
    "CUDA_INJECTION32_PATH": "injects a tracing library into every CUDA process",
    "CUDA_INJECTION64_PATH": "injects a tracing library into every CUDA process",
    "CUDA_AUTO_BOOST": "overrides the GPU's clock boost policy",
    "CUDA_ENABLE_COREDUMP_ON_EXCEPTION": "writes a GPU core dump on every exception",
    "CUDA_COREDUMP_FILE": "sets where GPU core dumps go (core dumps are on)",
    "CUDA_DEVICE_WAITS_ON_EXCEPTION": "halts the GPU on an exception to wait for a debugger",
    "CUDA_PROFILE": "turns on the legacy command-line profiler",
    "COMPUTE_PROFILE": "turns on the legacy command-line profiler",
    "OPENCL_PROFILE": "turns on the legacy OpenCL profiler",
    "CUDA_LAUNCH_BLOCKING": "makes every kernel launch synchronous",
}


@dataclass(frozen=True)
class Visible:
    """What CUDA makes of CUDA_VISIBLE_DEVICES: the entries it keeps and why it stopped."""

    kept: tuple[str, ...]
    bad: str | None = None
    """The first entry CUDA cannot use; it ignores that entry and every one after it."""
    duplicate: str | None = None


def parse_visible_devices(value: str, report: Report) -> Visible:
    """Emulate CUDA's reading of CUDA_VISIBLE_DEVICES against the GPUs NVML listed.

    Entries are indices or (prefixes of) ``GPU-``/``MIG-`` UUIDs; CUDA stops at the first
    entry it cannot use (a second MIG instance among them: CUDA enumerates one MIG device per
    process), and a GPU named twice makes the whole list invalid. Where the report
    does not know the GPUs (NVML failed, UUIDs redacted), only the syntax is checked.
    """
    known = gpus(report)
    uuids: dict[str, str] = {}
    for gpu in known:
        if gpu.uuid:
            uuids[gpu.uuid] = f"gpu{gpu.index}"
        for mig in gpu.mig_devices:
            if mig.uuid:
                uuids[mig.uuid] = f"gpu{gpu.index}.mig{mig.index}"
    uuids_usable = bool(uuids) and not any("<redacted>" in u for u in uuids)
    kept: list[str] = []
    seen: set[str] = set()
    for raw in value.split(","):
        token = raw.strip()
        key: str | None = None
        index = visible_index(token)
        if index is not None:
            if index >= 0 and (not known or index < len(known)):
                key = f"gpu{index}"
        elif token.startswith(("GPU-", "MIG-")) and len(token) > 4:
            if not uuids_usable:
                key = token
            else:
                matches = [k for u, k in uuids.items() if u.startswith(token)]
                key = matches[0] if len(matches) == 1 else None
        if key is None:
            return Visible(tuple(kept), bad=token)
        if key in seen:
            return Visible((), duplicate=token)
        if ".mig" in key and any(".mig" in k for k in seen):
            return Visible(tuple(kept), bad=token)  # a process sees one MIG instance at most
        seen.add(key)
        kept.append(token)
    return Visible(tuple(kept))


_CVD_WHY = (
    "CUDA reads `CUDA_VISIBLE_DEVICES` once, when a process first initialises CUDA. An empty "
    "value hides every GPU (`CUDA_ERROR_NO_DEVICE`, `torch.cuda.is_available()` is False); "
    "CUDA stops at the first entry it cannot use (a negative or too-large index, an unknown "
    "UUID, a typo, a second MIG instance: CUDA shows a process one) and ignores the rest; "
    "a GPU named twice invalidates the whole list. "
    "gpudoctor emulates this parse against the GPUs NVML lists. On a machine with no NVIDIA "
    "GPU (GD-DRV-001) there is nothing to hide, so the finding is information: CPU-only jobs "
    "set `CUDA_VISIBLE_DEVICES=` or `-1` on purpose."
)

_NOTHING_TO_HIDE = "no NVIDIA GPU on this machine (GD-DRV-001), so it hides nothing"


@rule(
    "GD-HOST-001",
    area="host",
    severity=Severity.ERROR,
    severities=(Severity.ERROR, Severity.INFO),
    title="CUDA_VISIBLE_DEVICES hides every GPU",
    why=_CVD_WHY,
    fix="Unset the variable (`unset CUDA_VISIBLE_DEVICES`) or list valid GPU indices or "
    "UUIDs from `nvidia-smi -L`, each once.",
    sources=(
        "https://docs.nvidia.com/cuda/cuda-c-programming-guide/index.html#env-vars "
        "(CUDA_VISIBLE_DEVICES)",
        "conda/conda#11667",
        "XuehaiPan/nvitop nvitop/api/device.py (_parse_cuda_visible_devices)",
    ),
)
def visible_devices_hide_all(report: Report, kb: KnowledgeBase) -> Iterator[Hit]:
    value = env(report, "CUDA_VISIBLE_DEVICES")
    if value is None:
        return
    shown = f"CUDA_VISIBLE_DEVICES={value!r}"
    parsed = parse_visible_devices(value, report) if value.strip() else Visible(())
    if value.strip() and parsed.duplicate is None and (parsed.bad is None or parsed.kept):
        return  # it keeps at least one GPU (or names none CUDA would refuse)
    if not value.strip():
        shown += " (empty)"
    if no_nvidia_gpu(report):
        yield Hit(
            severity=Severity.INFO,
            title="CUDA_VISIBLE_DEVICES hides every GPU, and this machine has none: no effect",
            evidence=(shown, _NOTHING_TO_HIDE),
            fix=("Nothing to do: CPU-only jobs set it on purpose.",),
        )
        return
    fix = (
        "$ unset CUDA_VISIBLE_DEVICES",
        "or set it to indices or UUIDs that `nvidia-smi -L` lists, each once",
    )
    if parsed.duplicate is not None:
        yield Hit(
            title="CUDA_VISIBLE_DEVICES names a GPU twice, so CUDA sees none",
            evidence=(shown, f"{parsed.duplicate!r} repeats an earlier entry"),
            fix=fix,
        )
    elif parsed.bad is not None:
        yield Hit(evidence=(shown, _bad_entry(parsed.bad, report)), fix=fix)
    else:
        yield Hit(evidence=(shown,), fix=fix)


@rule(
    "GD-HOST-002",
    area="host",
    severity=Severity.WARNING,
    severities=(Severity.WARNING, Severity.INFO),
    title="CUDA_VISIBLE_DEVICES has an entry CUDA cannot use",
    why=_CVD_WHY,
    fix="Remove the bad entry; list GPUs by index or by the UUIDs `nvidia-smi -L` prints.",
    sources=(
        "https://docs.nvidia.com/cuda/cuda-c-programming-guide/index.html#env-vars "
        "(CUDA_VISIBLE_DEVICES)",
        "NVIDIA/DIGITS#1358",
        "XuehaiPan/nvitop nvitop/api/device.py (_parse_cuda_visible_devices)",
    ),
)
def visible_devices_truncated(report: Report, kb: KnowledgeBase) -> Iterator[Hit]:
    value = env(report, "CUDA_VISIBLE_DEVICES")
    if not value or not value.strip():
        return
    parsed = parse_visible_devices(value, report)
    if parsed.bad is not None and parsed.kept and no_nvidia_gpu(report):
        yield Hit(
            severity=Severity.INFO,
            title=f"CUDA_VISIBLE_DEVICES stops at {parsed.bad!r}; with no GPU it has no effect",
            evidence=(f"CUDA_VISIBLE_DEVICES={value!r}", _NOTHING_TO_HIDE),
        )
    elif parsed.bad is not None and parsed.kept:
        yield Hit(
            title=f"CUDA_VISIBLE_DEVICES stops at {parsed.bad!r}: CUDA ignores it and what follows",
            evidence=(
                f"CUDA_VISIBLE_DEVICES={value!r}",
                _bad_entry(parsed.bad, report),
                f"CUDA uses only: {','.join(parsed.kept)}",
            ),
            fix=(
                f"$ export {shell.assignment('CUDA_VISIBLE_DEVICES', ','.join(parsed.kept), 'N')}",
                "$ nvidia-smi -L",
            ),
        )


def _bad_entry(token: str, report: Report) -> str:
    count = len(gpus(report))
    index = visible_index(token)
    if index is not None and index < 0:
        return f"{token!r} is negative: CUDA stops reading there"
    if index is not None:
        return f"{token!r} is not a GPU index (NVML lists {count} GPU{'s' if count != 1 else ''})"
    migs = [m.uuid for g in gpus(report) for m in g.mig_devices if m.uuid]
    if token.startswith("MIG-") and sum(u.startswith(token) for u in migs) == 1:
        return f"{token!r} is a second MIG instance: a process sees one MIG instance at most"
    if token.startswith(("GPU-", "MIG-")):
        return f"{token!r} matches no GPU or MIG UUID (or more than one)"
    return f"{token!r} is neither an index nor a GPU-/MIG- UUID"


@rule(
    "GD-HOST-003",
    area="host",
    severity=Severity.INFO,
    severities=(Severity.WARNING, Severity.INFO),
    title="Mixed GPU models: CUDA and nvidia-smi number the GPUs differently",
    why="By default CUDA numbers GPUs fastest first (`CUDA_DEVICE_ORDER=FASTEST_FIRST`), "
    "while nvidia-smi and NVML number them by PCI bus. With different GPU models, `cuda:0` "
    "may not be nvidia-smi's GPU 0. That alone is information. When `CUDA_VISIBLE_DEVICES` "
    "selects GPUs by index and `CUDA_DEVICE_ORDER` is not `PCI_BUS_ID`, a job given the "
    "index read in nvidia-smi runs on another card (often one another user is on): a "
    "warning, which names the card each index really reached where the framework probe saw "
    "the devices.",
    fix="`export CUDA_DEVICE_ORDER=PCI_BUS_ID` so both agree, or select GPUs by UUID "
    "(`CUDA_VISIBLE_DEVICES=GPU-...`, from `nvidia-smi -L`).",
    sources=(
        "https://docs.nvidia.com/cuda/cuda-c-programming-guide/index.html#env-vars "
        "(CUDA_DEVICE_ORDER)",
        "gpustack/gpustack#1633",
        "rapidsai/dask-cuda#777",
        "https://github.com/nanoporetech/bonito/issues/120 (resolution: CUDA_DEVICE_ORDER="
        "PCI_BUS_ID)",
        "https://github.com/NVIDIA/DIGITS/issues/1358",
    ),
)
def mixed_gpu_order(report: Report, kb: KnowledgeBase) -> Iterator[Hit]:
    names = {g.name for g in gpus(report) if g.name}
    if len(names) <= 1 or env(report, "CUDA_DEVICE_ORDER") == "PCI_BUS_ID":
        return
    order = env(report, "CUDA_DEVICE_ORDER")
    said = f"CUDA_DEVICE_ORDER={order!r}" if order else "CUDA_DEVICE_ORDER is not set"
    if not mixed_gpus.selects_by_index(report):
        yield Hit(
            evidence=("GPU models: " + ", ".join(sorted(names)), said),
            fix=("$ export CUDA_DEVICE_ORDER=PCI_BUS_ID",),
        )
        return
    visible = env(report, "CUDA_VISIBLE_DEVICES")
    meant = mixed_gpus.uuids_meant(report) or "GPU-..."
    yield Hit(
        severity=Severity.WARNING,
        title=f"CUDA_VISIBLE_DEVICES={visible} counts in CUDA's order, not nvidia-smi's: "
        "the job may run on another GPU",
        evidence=(
            "nvidia-smi (PCI bus order): " + mixed_gpus.pci_order(report),
            f"CUDA_VISIBLE_DEVICES={visible!r}; {said} (CUDA numbers fastest first)",
            *mixed_gpus.landed_elsewhere(report),
        ),
        fix=(
            "$ export CUDA_DEVICE_ORDER=PCI_BUS_ID   # then CUDA counts as nvidia-smi does",
            # The UUIDs of the GPUs nvidia-smi numbers so: what the user meant, in any order.
            "or select by UUID, which both orders agree on (`nvidia-smi -L` lists them): "
            f"$ export {shell.assignment('CUDA_VISIBLE_DEVICES', meant, 'GPU-...')}",
        ),
    )


@rule(
    "GD-HOST-004",
    area="host",
    severity=Severity.WARNING,
    title="A CUDA debugging or profiling variable is set",
    why="These variables make every CUDA program slower or change how it fails: they load "
    "tracing libraries, write core dumps, halt on exceptions or serialise kernel launches. "
    "NVIDIA's DCGM flags the same list. Each is harmless when set on purpose for one run, "
    "and a mystery slowdown when left in a shell profile.",
    fix="`unset` the variable (and remove it from `~/.bashrc`, the container image or the "
    "job script).",
    sources=(
        "https://docs.nvidia.com/cuda/cuda-c-programming-guide/index.html#env-vars "
        "(CUDA_LAUNCH_BLOCKING and the debugging variables)",
    ),
)
def slowdown_variables(report: Report, kb: KnowledgeBase) -> Iterator[Hit]:
    found = []
    for name, effect in SLOWDOWN_VARIABLES.items():
        value = env(report, name)
        if value is None or (name == "CUDA_LAUNCH_BLOCKING" and value.strip() in ("", "0")):
            continue
        found.append((name, value, effect))
    if found:
        yield Hit(
            title="CUDA debugging or profiling variables are set: "
            + ", ".join(n for n, _, _ in found),
            evidence=tuple(f"{n}={v!r}: {effect}" for n, v, effect in found),
            fix=("$ unset " + " ".join(n for n, _, _ in found),),
        )


@rule(
    "GD-HOST-005",
    area="host",
    severity=Severity.ERROR,
    title="WSL2: a Linux libcuda shadows the one the Windows driver provides",
    why="Under WSL2 the Windows NVIDIA driver provides `libcuda.so.1` in `/usr/lib/wsl/lib`. "
    "A Linux driver package, a CUDA toolkit's bundled driver or a conda package installed "
    "inside WSL puts another `libcuda` earlier on the search path; it cannot talk to the "
    "Windows driver, so `cuInit` fails (`CUDA_ERROR_NO_DEVICE`) although `nvidia-smi` works.",
    fix="Install the NVIDIA driver on Windows only. Inside WSL remove the Linux driver "
    "packages (`sudo apt-get remove --purge 'libnvidia-compute-*' 'nvidia-driver-*'`), install "
    "the CUDA toolkit from the WSL-Ubuntu (driverless) repository, and run `sudo ldconfig`.",
    sources=(
        "https://docs.nvidia.com/cuda/wsl-user-guide/index.html",
        "microsoft/WSL#7056",
        "microsoft/WSL#9254",
    ),
)
def wsl_libcuda_shadowed(report: Report, kb: KnowledgeBase) -> Iterator[Hit]:
    path = report.cuda.libcuda_path
    if not report.host.wsl or not path or path.startswith("/usr/lib/wsl/"):
        return
    evidence = [f"libcuda resolves to {path}, not /usr/lib/wsl/lib/libcuda.so.1"]
    if report.cuda.cu_init_error:
        evidence.append(f"cuInit: {report.cuda.cu_init_error}")
    yield Hit(
        evidence=tuple(evidence),
        fix=(
            "Keep the NVIDIA driver on Windows only; inside WSL remove the Linux one:",
            "$ sudo apt-get remove --purge 'libnvidia-compute-*' 'nvidia-driver-*'",
            "$ sudo ldconfig",
        ),
    )


_AREA_STATUS_PROBES = ("nvml", "cuda", "torch", "tensorflow")


@rule(
    "GD-HOST-006",
    area="host",
    severity=Severity.WARNING,
    title="A probe timed out",
    why="Every probe runs with a time limit. A probe that runs past it was stopped (and "
    "abandoned if it would not die); its facts are missing from the report. Reading from "
    "the NVIDIA driver hangs when the driver is wedged (after an Xid error, with processes in "
    "uninterruptible sleep), which only a reboot clears. NVML, CUDA and framework timeouts "
    "have their own entries (GD-NVML-005, GD-CUDA-006, GD-TORCH-003, GD-TF-003).",
    fix="Run `gpudoctor check --timeout 120` once to tell a slow host from a hung one; "
    "if it hangs again, look for processes in state `D` (`ps -eo pid,stat,cmd | grep ' D'`) "
    "and reboot.",
    sources=(
        "docs/probes.md (each probe's time limit)",
        "leptonai/gpud#117 (NVML and CUDA calls that hang)",
    ),
)
def other_probe_timeout(report: Report, kb: KnowledgeBase) -> Iterator[Hit]:
    for probe in report.probes:
        if probe.status != "timeout":
            continue
        name = probe.name.lower()
        if any(key in name for key in _AREA_STATUS_PROBES) and _area_reports_timeout(report, name):
            continue
        evidence = [f"probe {probe.name!r} stopped after {probe.duration_s:.1f} s"]
        if probe.message:
            evidence.append(probe.message)
        yield Hit(
            title=f"The {probe.name} probe timed out",
            evidence=tuple(evidence),
            fix=(
                f"$ {gpudoctor_start(report)} check --timeout 120",
                "$ ps -eo pid,stat,cmd | grep ' D'",
                "If the probe hangs again and processes sit in state D: reboot.",
            ),
        )


def _area_reports_timeout(report: Report, name: str) -> bool:
    if "nvml" in name:
        return report.nvml.status == "timeout"
    if "cuda" in name:
        return report.cuda.status == "timeout"
    fw = report.framework("tensorflow" if "tensorflow" in name else "torch")
    return fw is not None and fw.status == "timeout"
