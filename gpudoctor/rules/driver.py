"""Kernel-driver rules: no GPU, nouveau, the nvidia module missing, unbound GPUs, device nodes."""

from __future__ import annotations

import re
from collections.abc import Iterator

from gpudoctor.model.derived import (
    OTHER_GPU_MAKERS,
    a_container,
    is_gpu_function,
    other_gpu_builds,
    set_aside_for_vm,
    windows_shows_no_nvidia,
)
from gpudoctor.model.findings import Severity
from gpudoctor.model.report import FrameworkInfo, PciFunction, Report
from gpudoctor.model.slurm import drain_command, gpus_given, node_gpu_gres, node_word
from gpudoctor.rules.distro import rebuild_initramfs, rebuild_module
from gpudoctor.rules.facts import (
    env,
    gpudoctor_start,
    gpus,
    is_linux_host,
    no_nvidia_gpu,
    slurm_login_node,
    slurm_unanswered,
)
from gpudoctor.rules.framework_build import label
from gpudoctor.rules.kernel_module import driver_refuses_gpu
from gpudoctor.rules.registry import Hit, KnowledgeBase, rule

_GPU_NODE = re.compile(r"^/dev/nvidia\d+$")


def _started_so(kb: KnowledgeBase, runtime: str) -> str:
    """``: docker run --gpus all ... (...)``, the knowledge base's way to start a container of
    ``runtime`` with the GPU (``.`` where it has none)."""
    start = kb.gpu_start(runtime)
    return f": {start.text}" if start is not None else "."


NO_GPU_ID = "GD-DRV-001"
"""The finding below, whose job-level fix drains the node with the gate's reason for it."""


def _in_a_container(report: Report, kb: KnowledgeBase) -> tuple[str, ...]:
    """``In a container: docker run --gpus all ...``: the knowledge base's way to give this
    container's runtime every GPU (Docker's outside a container)."""
    start = kb.gpu_start(report.host.container or "docker")  # Docker's for another runtime
    return (f"In a container: {start.start}",) if start is not None else ()


_MPS_DOC = "https://docs.pytorch.org/docs/stable/notes/mps.html"
_APPLE_DOC = "https://developer.apple.com/metal/pytorch/"


def _on_macos(report: Report) -> Hit:
    """macOS: no CUDA at all; whether PyTorch can use the Apple GPU through MPS, where the
    torch probe asked (reports written before 2026-12-08 did not)."""
    os_line = f"OS: {report.host.os_release or 'macOS'} ({report.host.arch})"
    torch = next((f for f in report.frameworks if f.name == "torch" and f.status == "ok"), None)
    if torch is not None and torch.gpu_backend == "mps" and torch.gpu_backend_devices == 0:
        return Hit(
            severity=Severity.WARNING,
            title="macOS has no NVIDIA CUDA, and PyTorch's MPS is not available here: PyTorch "
            "runs on the CPU only",
            evidence=(
                os_line,
                f"{label(torch)} is built with MPS; torch.backends.mps.is_available() is False",
            ),
            fix=(
                "MPS needs a Mac GPU that supports it and a recent macOS: 12.3 or later in "
                f"PyTorch's MPS notes ({_MPS_DOC}); Apple silicon and macOS 14.0 or later for "
                f"PyTorch 2.11 on Apple's page ({_APPLE_DOC}). Which macOS this is:",
                "$ sw_vers -productVersion",
            ),
        )
    if torch is not None and torch.gpu_backend == "mps" and torch.gpu_backend_devices:
        return Hit(
            severity=Severity.INFO,
            title="macOS has no NVIDIA CUDA; MPS is available: PyTorch can use the Apple GPU",
            evidence=(
                os_line,
                f"{label(torch)}: torch.backends.mps.is_available() is True",
            ),
            fix=(
                'Nothing to do: put models and tensors on torch.device("mps"); CUDA needs '
                "an NVIDIA GPU on Linux or Windows.",
            ),
        )
    return Hit(
        severity=Severity.INFO,
        title="macOS has no NVIDIA CUDA; PyTorch can use the Apple GPU through MPS",
        evidence=(os_line,),
        fix=('$ python -c "import torch; print(torch.backends.mps.is_available())"',),
    )


def _other_gpus(fw: FrameworkInfo) -> str:
    """``AMD GPU through ROCm``, ``2 Intel GPUs through XPU``."""
    count = fw.gpu_backend_devices or 0
    maker = OTHER_GPU_MAKERS.get(fw.gpu_backend or "", "other")
    gpus = f"{maker} GPU" if count == 1 else f"{count} {maker} GPUs"
    return f"{gpus} through {'ROCm' if fw.gpu_backend == 'rocm' else 'XPU'}"


def _backend_evidence(fw: FrameworkInfo) -> str:
    build = "a ROCm build" if fw.gpu_backend == "rocm" else "an XPU build (Intel GPUs)"
    if fw.gpu_backend_version:
        build += f" ({'HIP' if fw.gpu_backend == 'rocm' else 'XPU'} {fw.gpu_backend_version})"
    lister = "torch.cuda" if fw.gpu_backend == "rocm" else "torch.xpu"
    return f"{label(fw)}: {build}; {lister} lists {fw.gpu_backend_devices}"


def _describe(fn: PciFunction) -> str:
    bound = fn.driver or "no driver"
    return f"PCI {fn.address} (device {fn.device_id}): {bound}"


@rule(
    "GD-DRV-001",
    area="driver",
    severity=Severity.WARNING,
    severities=(Severity.WARNING, Severity.INFO, Severity.ERROR),
    title="No NVIDIA GPU: deep learning here runs on the CPU only",
    why="The machine shows no sign of an NVIDIA GPU: no PCI function with NVIDIA's vendor ID "
    "0x10de on a PCI bus that could be read, no nvidia kernel module (`/proc/driver/nvidia`, "
    "`/sys/module/nvidia`), no `/dev/nvidia*` and no GPU in NVML. PyTorch and TensorFlow "
    "then run on the CPU: that works, only slower. It is a warning, not an error (exit "
    "status 0 unless `--strict`), and the NVML, GPU and CUDA lines read *not applicable* "
    "instead of listing the driver's absence three times. A container sees its host's PCI "
    "bus and kernel modules in `/sys`, so the same holds there, unless the bus could not be "
    "read (then the NVML line says what the container lacks). `NVIDIA_VISIBLE_DEVICES` set "
    "in such a container changes nothing but the words: NVIDIA's CUDA images set it "
    "themselves, on any machine, so it says that the image expects a GPU, not that the host "
    "has one; the finding says the host has none and that GPU work needs the container "
    "started on a machine that has one (`docker run --gpus all`, podman's CDI device, "
    "Apptainer's `--nv`, a pod's `nvidia.com/gpu` limit). On a cloud "
    "VM the instance type may have no GPU, or the GPU was not attached. On a SLURM login "
    "node (sinfo answers, no job) it is information: GD-HOST-007 says where the GPUs are; "
    "where SLURM is configured but its controller did not answer (and this is no job), it "
    "says that such a machine is most likely a login node whose GPUs are on the compute "
    "nodes, not that deep learning runs on its CPU. "
    "Inside a SLURM job that was given GPUs (`SLURM_STEP_GPUS`, `SLURM_JOB_GPUS`, ...) it is "
    "an error: the node's GRES promise GPUs that the node does not show, so every GPU job "
    "sent there fails (a gres.conf that names absent GPUs, or a GPU lost from the bus). "
    "Where the health gate asked SLURM for the node's GRES and it names GPUs, the finding "
    'says so and leaves the drain to GD-GPU-068, instead of "nothing to do". '
    "On macOS there is "
    "no CUDA at all: information that PyTorch can use the Apple GPU through MPS where "
    "`torch.backends.mps.is_available()` said so (or, in a report that did not ask, that it "
    "can), a warning that PyTorch runs on the CPU only where its MPS build said MPS is not "
    "available. On Windows where nothing shows an NVIDIA driver or GPU (GD-NVML-001 says "
    "what that means there) it is information under the driver line, which reads *no NVIDIA "
    "driver found*. On Linux, a ROCm or XPU build of PyTorch that lists AMD or Intel GPUs "
    "(`torch.cuda` on ROCm, `torch.xpu`) makes it information that names them: deep "
    "learning here does not run on the CPU only, and no NVIDIA GPU is needed for that "
    "build.",
    fix="Nothing to do if this machine is not meant to have a GPU. Otherwise check it really "
    "has one (`lspci -nn | grep -i nvidia` on the host); on a cloud VM pick a GPU instance "
    "type.",
    sources=(
        "https://pci-ids.ucw.cz/read/PC/10de (NVIDIA's PCI vendor ID 0x10de)",
        "gpudoctor/kb/data/containers.toml (how each container runtime is started with the "
        "GPU, each row with its source)",
    ),
)
def no_gpu(report: Report, kb: KnowledgeBase) -> Iterator[Hit]:
    if report.host.os == "darwin":
        yield _on_macos(report)
        return
    if windows_shows_no_nvidia(report):
        # the driver line reads 'Windows: no NVIDIA driver found': its mark says so too
        yield Hit(
            severity=Severity.INFO,
            title="No NVIDIA driver on this PC (see the NVML line)",
            evidence=(
                "no nvml.dll, no nvcuda.dll that counts a device, no framework that sees a GPU",
            ),
            fix=("See GD-NVML-001.",),
        )
        return
    if not no_nvidia_gpu(report):
        return
    others = other_gpu_builds(report)
    if others:
        # a ROCm or XPU build that lists its GPUs: deep learning here runs on them, not on
        # the CPU, and "choose an instance type with an NVIDIA GPU" sent the student away
        yield Hit(
            severity=Severity.INFO,
            title="No NVIDIA GPU: "
            + "; ".join(f"{label(fw)} sees the {_other_gpus(fw)}" for fw in others),
            evidence=(
                "no PCI function with vendor 0x10de (NVIDIA) and no nvidia kernel module",
                *(_backend_evidence(fw) for fw in others),
            ),
            fix=(
                "Nothing to do for this build. CUDA builds, and the environments `gpudoctor "
                "make-env` plans (CUDA or CPU-only), are for NVIDIA GPUs: keep this "
                "environment for the GPU here.",
            ),
        )
        return
    evidence = ["no PCI function with vendor 0x10de (NVIDIA) on the PCI bus"]
    if report.host.container:
        evidence.append(
            f"running in {a_container(report.host.container)}, which sees the host's PCI bus"
        )
    evidence += [
        "no nvidia kernel module (/proc/driver/nvidia, /sys/module/nvidia)",
        "no /dev/nvidia* device files",
        f"NVML: {report.nvml.status}",
    ]
    job = report.site.slurm_job if report.site else None
    if job is not None and gpus_given(job.gpu_variables):
        # SLURM handed this job GPUs the node does not have: not a CPU machine, a broken node
        # $SLURMD_NODENAME is empty where the fix is read (the login node, a saved report):
        # NODE, a word to replace, where the job named no node
        node = job.node or "NODE"
        given = ", ".join(f"{k}={v}" for k, v in sorted(gpus_given(job.gpu_variables).items()))
        title = "SLURM gave this job GPUs, but the node shows no NVIDIA GPU"
        yield Hit(
            severity=Severity.ERROR,
            title=title,
            evidence=(*evidence, f"SLURM job {job.job_id} on node {job.node or '?'}: {given}"),
            fix=(
                f"Run the job elsewhere: $ sbatch --exclude={node_word(node)} ...",
                "Admin: compare the node's gres.conf with `nvidia-smi -L` and `lspci -nn | "
                "grep -i nvidia` there, and take it out of service until it matches:",
                # the gate's own reason: it resumes the node once the node is clean
                f"$ {drain_command(node, NO_GPU_ID, title)}",
            ),
        )
        return
    asked = report.site.slurm_node if report.site else None
    promised = node_gpu_gres(asked.gres) if asked is not None else None
    if asked is not None and promised is not None and promised.count:
        # SLURM's controller (asked by the health gate) says this node has GPUs: "nothing to
        # do if this machine has no GPU" would excuse a node that GD-GPU-068 drains
        yield Hit(
            title=f"No NVIDIA GPU on this node, though SLURM gives out {promised.shown} here",
            evidence=(*evidence, f"SLURM's GRES for node {asked.name}: {', '.join(asked.gres)}"),
            fix=(
                "GD-GPU-068 drains the node; on it, find where its GPUs went:",
                "$ lspci -nn | grep -i nvidia   # on the PCI bus at all?",
                "$ sudo dmesg -T | grep -i xid   # Xid 79: a GPU fell off the bus",
            ),
        )
        return
    if slurm_login_node(report):
        # Expected on a login node: GD-HOST-007 names the partitions that have the GPUs.
        yield Hit(
            severity=Severity.INFO,
            title="No GPU on this SLURM login node: the GPUs are on the compute nodes",
            evidence=(*evidence, "sinfo answered and this shell is not inside a job"),
            fix=("See GD-HOST-007 for the GPU partitions and how to get onto one.",),
        )
        return
    if slurm_unanswered(report):
        # SLURM is configured here: most likely a login node, whose GPUs are on the compute
        # nodes; "runs on the CPU only ... choose a GPU instance type" misled there
        yield Hit(
            title=(
                "No NVIDIA GPU here; SLURM is configured but its controller did not answer: if "
                "this is a login node, the GPUs are on the compute nodes"
            ),
            evidence=(*evidence, "sinfo did not answer (GD-HOST-007) and this is not a job"),
            fix=(
                "Do not plan a CPU-only environment here for GPU work. Wait for the controller:",
                "$ scontrol ping",
                f"then `{gpudoctor_start(report)} check` names the GPU partitions, and a GPU "
                "node's shell is",
                "$ srun -p PARTITION --gres=gpu:1 --pty bash"
                + (
                    "   # srun is not on PATH here: load the cluster's SLURM module first "
                    "(module load slurm), or submit a batch job with sbatch"
                    if report.site is not None and report.site.srun_command is False
                    else ""
                ),
            ),
        )
        return
    on_host = "   # on the host" if report.host.container else ""
    if report.host.container == "kubernetes":
        evidence.append("running in a Kubernetes pod: its node may have no GPU")
    visible = env(report, "NVIDIA_VISIBLE_DEVICES")
    if report.host.container and (visible or "").strip().lower() not in ("", "void", "none"):
        # NVIDIA's CUDA images set the variable themselves: it says what the image wants, and
        # the host, whose PCI bus and modules this container sees, shows no GPU to give it
        yield Hit(
            title="This container's image expects a GPU, but its host has none: deep learning "
            "here runs on the CPU only",
            evidence=(
                *evidence,
                f"NVIDIA_VISIBLE_DEVICES={visible!r}: the image asks for a GPU (NVIDIA's CUDA "
                "images set it themselves, on any machine); the GPU and its driver would be "
                "the host's",
            ),
            fix=(
                "Nothing to do if the host has no GPU: PyTorch and TensorFlow use the CPU in "
                "this container.",
                f"If the host should have one: $ lspci -nn | grep -i nvidia{on_host}",
                "For GPU work, run the container on a machine with an NVIDIA GPU and its "
                f"driver{_started_so(kb, report.host.container)}",
            ),
        )
        return
    ran = report.site.remote if report.site else None
    if job is not None and ran is not None and ran.gres is None:
        # check --partition cpu from a login node, on a node sinfo gives no gpu GRES: "On a
        # cloud VM: choose an instance type with an NVIDIA GPU" was no way on; a partition is.
        # (Not for any job: fleet run's job on a GPU node asks for no GPU either.)
        where = f"node {job.node}" if job.node else "this node"
        where += f" (partition {job.partition})" if job.partition else ""
        yield Hit(
            title=f"No NVIDIA GPU on {where}: this SLURM job runs on the CPU only",
            evidence=(
                *evidence,
                f"SLURM job {job.job_id} on {where}, which sinfo lists with no gpu GRES",
            ),
            fix=(
                "Nothing to do for CPU work. For GPU work, run on a partition whose nodes have "
                "GPUs (a gpu GRES), and ask for one:",
                "$ sinfo -o '%P %G'   # each partition and its GRES",
                "$ srun -p PARTITION --gres=gpu:1 --pty bash",
            ),
        )
        return
    yield Hit(
        evidence=tuple(evidence),
        fix=(
            "Nothing to do if this machine has no GPU: PyTorch and TensorFlow use the CPU.",
            f"If it should have one: $ lspci -nn | grep -i nvidia{on_host}",
            "On a cloud VM: choose an instance type with an NVIDIA GPU.",
        ),
    )


@rule(
    "GD-DRV-002",
    area="driver",
    severity=Severity.ERROR,
    title="The open-source nouveau driver owns the GPU",
    why="nouveau, the kernel's own driver for NVIDIA cards, has no CUDA. When it is bound to "
    "the GPU the NVIDIA module cannot take it, and `nvidia-smi` says it cannot communicate "
    "with the NVIDIA driver. This is DCGM's *denylist* check.",
    fix="Blacklist nouveau, rebuild the initramfs, reboot, then install or load the NVIDIA driver.",
    sources=(
        "NVIDIA/DCGM nvvs/src/Software.cpp (checkDenylist: nouveau)",
        "mattshma/bigdata#133 (dmesg: nouveau obtained ownership)",
    ),
)
def nouveau(report: Report, kb: KnowledgeBase) -> Iterator[Hit]:
    if not is_linux_host(report):
        return
    bound = [fn for fn in report.driver.pci_functions if fn.driver == "nouveau"]
    nvidia_loaded = report.driver.module_version is not None
    if not bound and not (report.driver.nouveau_loaded and not nvidia_loaded):
        return
    evidence = [_describe(fn) for fn in bound] or ["the nouveau module is loaded"]
    if not nvidia_loaded:
        evidence.append("the nvidia kernel module is not loaded")
    yield Hit(
        evidence=tuple(evidence),
        fix=(
            # printf, not echo -e: sh's echo prints the -e (dash is /bin/sh on Debian/Ubuntu)
            "$ printf 'blacklist nouveau\\noptions nouveau modeset=0\\n' | "
            "sudo tee /etc/modprobe.d/blacklist-nouveau.conf",
            *rebuild_initramfs(report),
            "$ sudo reboot",
        ),
    )


@rule(
    "GD-DRV-003",
    area="driver",
    severity=Severity.ERROR,
    title="The NVIDIA kernel module is not loaded",
    why="An NVIDIA GPU is on the PCI bus but `/proc/driver/nvidia` is absent. Usual causes: "
    "the kernel was updated and DKMS did not rebuild the module for it; Secure Boot refuses "
    "the unsigned module (no MOK enrolled); the driver was never installed (no module on "
    "disk and no `libnvidia-ml.so.1`: then it says so, and the NVML line, GD-NVML-001, gives "
    "the install commands; loading or rebuilding has nothing to work on). When the "
    "installed module cannot drive the GPU at all (GD-DRV-007, GD-DRV-008, GD-DRV-009), "
    "those findings say so instead.",
    fix="Try `sudo modprobe nvidia` and read `sudo dmesg | grep -i nvidia`. Rebuild for the "
    "running kernel: Debian/Ubuntu `sudo apt-get install linux-headers-$(uname -r)` then "
    "`sudo dkms autoinstall`; Fedora (RPM Fusion) `sudo dnf install kernel-devel-$(uname -r)` "
    "then `sudo akmods --force`; RHEL and its rebuilds `sudo dnf install "
    "kernel-devel-$(uname -r)` then `sudo dkms autoinstall`. Check Secure Boot with "
    "`mokutil --sb-state` (enroll the key or sign the module), then reboot.",
    sources=(
        "GoogleCloudPlatform/compute-gpu-installation#18",
        "gridhead/nvidia-auto-installer-for-fedora-linux#75 (Secure Boot, DKMS)",
    ),
)
def module_not_loaded(report: Report, kb: KnowledgeBase) -> Iterator[Hit]:
    drv = report.driver
    if not is_linux_host(report) or drv.module_version is not None:
        return
    functions = [fn for fn in drv.pci_functions if is_gpu_function(fn)]
    if not functions or any(fn.driver in ("nvidia", "nouveau") for fn in functions):
        return
    if driver_refuses_gpu(report, kb):
        return  # GD-DRV-007/008/009 name why it did not load; rebuilding would not help
    if all(set_aside_for_vm(fn.driver) for fn in functions):
        return  # GD-DRV-011: a passthrough driver holds every GPU; reloading would not help
    if (
        not report.host.container
        and report.nvml.status == "library_not_found"
        and drv.installed_module_version is None
    ):
        # no module on disk (modinfo nvidia) and no libnvidia-ml.so.1: nothing to load or
        # rebuild; 'modprobe nvidia' would answer 'Module nvidia not found'
        yield Hit(
            title="The NVIDIA kernel module is not loaded: no NVIDIA driver is installed",
            evidence=(
                *(_describe(fn) for fn in functions),
                "no /proc/driver/nvidia/version and no /sys/module/nvidia",
                "no nvidia module installed (modinfo nvidia) and no libnvidia-ml.so.1 (NVML: "
                "library_not_found)",
            ),
            fix=("Install the NVIDIA driver: the NVML line gives the commands for this system.",),
        )
        return
    yield Hit(
        evidence=(
            *(_describe(fn) for fn in functions),
            "no /proc/driver/nvidia/version and no /sys/module/nvidia",
        ),
        fix=(
            "$ sudo modprobe nvidia && sudo dmesg | grep -i nvidia | tail",
            *rebuild_module(report),
            "$ mokutil --sb-state   # Secure Boot on: enroll the module key or sign the module",
            "$ sudo reboot",
        ),
    )


@rule(
    "GD-DRV-004",
    area="driver",
    severity=Severity.WARNING,
    severities=(Severity.WARNING, Severity.INFO),
    title="A GPU has no driver bound",
    why="The nvidia module is loaded but did not take one of the GPUs: it failed to "
    "initialise it (see `dmesg`), or the GPU is set aside for a virtual machine "
    "(`vfio-pci`, `pci-stub` and the like, reported as information). CUDA cannot use that GPU.",
    fix="Read `sudo dmesg | grep -iE 'nvidia|NVRM'` for the reason; for a passthrough driver, "
    "release the GPU from passthrough if this host should use it.",
    sources=(
        "NVIDIA/DCGM nvvs/src/Software.cpp (checkDenylist)",
        "https://docs.kernel.org/driver-api/vfio.html (a device bound to vfio-pci)",
    ),
)
def unbound_gpu(report: Report, kb: KnowledgeBase) -> Iterator[Hit]:
    drv = report.driver
    if not is_linux_host(report) or drv.module_version is None:
        return
    gpu_fns = [fn for fn in drv.pci_functions if is_gpu_function(fn)]
    if gpu_fns and all(set_aside_for_vm(fn.driver) for fn in gpu_fns):
        return  # GD-DRV-011 reports that no GPU is left for this host (an error)
    for fn in drv.pci_functions:
        if not is_gpu_function(fn) or fn.driver in ("nvidia", "nouveau"):
            continue
        if set_aside_for_vm(fn.driver):
            yield Hit(
                severity=Severity.INFO,
                title=f"GPU at {fn.address} is reserved for a virtual machine ({fn.driver})",
                evidence=(_describe(fn),),
                fix=("Release it from passthrough if this host should use it.",),
            )
        else:
            yield Hit(
                title=f"GPU at {fn.address} has no driver bound",
                evidence=(_describe(fn), f"nvidia module {drv.module_version} is loaded"),
                fix=("$ sudo dmesg | grep -iE 'nvidia|NVRM' | tail -n 30",),
            )


@rule(
    "GD-DRV-005",
    area="driver",
    severity=Severity.WARNING,
    title="Fewer /dev/nvidiaN device files than GPUs",
    why="Each GPU needs its device file `/dev/nvidiaN`. When NVML counts more GPUs than there "
    "are device files, a container's device cgroup or missing `--device` flags hide some "
    "of them, or udev did not create the files (DCGM's *permissions* check).",
    fix="In a container pass every GPU (`--gpus all`); on the host run "
    "`sudo nvidia-modprobe -u -c N` with one `-c` per missing `/dev/nvidiaN` (or reboot) to "
    "create the files.",
    sources=(
        "NVIDIA/nvidia-modprobe nvidia-modprobe.c (-c MINOR creates /dev/nvidiaMINOR, repeatable)",
    ),
)
def device_nodes(report: Report, kb: KnowledgeBase) -> Iterator[Hit]:
    if not is_linux_host(report) or not report.driver.dev_nodes:
        return
    count = len(gpus(report))
    nodes = sorted(n for n in report.driver.dev_nodes if _GPU_NODE.match(n))
    if count and len(nodes) < count:
        # The driver numbers the GPUs it takes 0, 1, ...: the files to create are the gaps.
        have = {int(n.removeprefix("/dev/nvidia")) for n in nodes}
        missing = [n for n in range(count) if n not in have] or list(range(count))
        yield Hit(
            evidence=(
                f"NVML lists {count} GPUs",
                f"device files: {', '.join(nodes) if nodes else 'none'}",
            ),
            fix=(
                *_in_a_container(report, kb),
                "$ sudo nvidia-modprobe -u " + " ".join(f"-c {n}" for n in missing),
            ),
        )


@rule(
    "GD-DRV-006",
    area="driver",
    severity=Severity.INFO,
    title="The host's kernel driver is not visible from this container",
    why="Inside a container `/sys/module/nvidia` and `/proc/driver/nvidia` show the host's "
    "driver only when the host has one and the container runtime exposes it; the PCI bus may "
    "be hidden too. With none of them visible the kernel-driver checks cannot run here; the "
    "NVML and CUDA lines tell whether the container got GPU access.",
    fix="Run `gpudoctor check` on the host to check its driver.",
    marks_unchecked=True,
    sources=(
        "NVIDIA/nvidia-docker#1243",
        "NVIDIA/nvidia-docker#1642",
        "https://docs.nvidia.com/datacenter/cloud-native/container-toolkit/latest/"
        "install-guide.html",
    ),
)
def container_without_driver(report: Report, kb: KnowledgeBase) -> Iterator[Hit]:
    drv = report.driver
    if no_nvidia_gpu(report):
        return  # GD-DRV-001 says there is no GPU at all
    if report.host.container and drv.module_version is None and not drv.pci_functions:
        yield Hit(
            evidence=(
                f"running in {a_container(report.host.container)}",
                "no nvidia module visible",
            ),
            fix=("$ gpudoctor check   # on the host",),
        )
