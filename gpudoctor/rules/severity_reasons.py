"""Why each finding has its severity: what it does to a training run (docs/findings.md).

The scale: **error** when the GPU cannot be used by a framework, or a run would fail or give
wrong results; **warning** when runs work but slower, fragile, on the wrong card, or when
something a user would build cannot be built; **info** when nothing about a run changes.
A finding whose usual form is a warning is an error where the report shows the GPU unusable.
"""

from __future__ import annotations

GENERIC_OK = (
    "Not a problem: it states that every rule of the area ran and none found a warning or an error."
)

REASONS: dict[str, str] = {
    # --- host ---
    "GD-HOST-001": "Error: with every GPU hidden no framework can use one. Information on a "
    "machine with no NVIDIA GPU, where CPU-only jobs hide GPUs on purpose.",
    "GD-HOST-002": "Warning: CUDA stops at the first bad entry, so the GPUs after it are "
    "lost while those before still work; information on a machine with no NVIDIA GPU.",
    "GD-HOST-003": "Information while nothing selects GPUs by number: runs work on every card. "
    "A warning once `CUDA_VISIBLE_DEVICES` selects by index without `PCI_BUS_ID`: the job "
    "runs, but on another card than the user chose (slower, or sharing one).",
    "GD-HOST-004": "Warning: runs work but slower or with changed failure behaviour.",
    "GD-HOST-005": "Error: CUDA fails to initialise under WSL2 with the wrong libcuda.",
    "GD-HOST-006": "Warning: a fact is missing, so a problem may be unreported; the area's "
    "own finding says what the timeout means for it.",
    "GD-HOST-007": "Warning: nothing is broken, but GPU work does not run here; information "
    "when SLURM's controller did not answer, or SLURM is not configured here, and the finding "
    "only says so.",
    "GD-HOST-008": "Error: the job cannot use any GPU, though the node has them.",
    "GD-HOST-009": "Information: the job uses the GPUs it asked for; the rest are not its.",
    "GD-HOST-010": "Warning: training starts, then DataLoader workers die on larger batches.",
    "GD-HOST-011": "Warning: runs fail when checkpoints or caches no longer fit.",
    "GD-HOST-012": "Warning: installs and downloads fail as the home directory fills.",
    "GD-HOST-061": "Warning: training on the host works, but no GPU container can start "
    "(`docker run --gpus` fails at once).",
    "GD-HOST-013": "Information: installs are slower, nothing fails.",
    "GD-HOST-014": "Information: imports are slower, nothing fails.",
    # --- driver ---
    "GD-DRV-001": "Error inside a SLURM job given GPUs (every GPU job sent to the node "
    "fails); a warning elsewhere (training runs, on the CPU only), and on macOS where "
    "PyTorch's MPS is not available; information on a SLURM login node, on macOS otherwise, "
    "where no NVIDIA GPU is expected, where a ROCm or XPU build of PyTorch uses an AMD "
    "or Intel GPU, and on native Windows with no sign of an NVIDIA driver (GD-NVML-001 says "
    "it; the driver line's mark says so too).",
    "GD-DRV-002": "Error: CUDA cannot use a GPU that nouveau drives.",
    "GD-DRV-003": "Error: without the kernel module no framework can use the GPU.",
    "GD-DRV-004": "Warning: one GPU is unusable, others still work. Information for a GPU "
    "reserved for a virtual machine on purpose while others remain; when none remains, "
    "GD-DRV-011 reports an error instead.",
    "GD-DRV-005": "Warning: the hidden GPUs are unusable; the others work.",
    "GD-DRV-006": "Information: the driver cannot be checked from here; NVML and CUDA still "
    "tell whether the GPU works.",
    "GD-DRV-007": "Error: the installed module cannot drive the GPU at all.",
    "GD-DRV-008": "Error: the installed module cannot drive the GPU at all.",
    "GD-DRV-009": "Error: the installed branch cannot drive the GPU at all.",
    "GD-DRV-010": "Error: CUDA does not start on an NVSwitch system without Fabric Manager.",
    "GD-DRV-011": "Error: no GPU is left for this host, so no framework can use one (the "
    "per-GPU information of GD-DRV-004 would understate it).",
    # --- NVML ---
    "GD-NVML-001": "Error where a GPU is present or expected: without the driver's libraries "
    "nothing can use it; a warning in a container, and on native Windows, that cannot tell.",
    "GD-NVML-002": "Error: the driver is not running, so no framework can use the GPU.",
    "GD-NVML-003": "Error: NVML and CUDA both refuse to start until the module matches.",
    "GD-NVML-004": "Error: a process that cannot open the device files cannot use the GPU.",
    "GD-NVML-005": "Error: a wedged driver hangs every CUDA program.",
    "GD-NVML-006": "Warning: only gpudoctor's own GPU facts are missing; frameworks do not "
    "use the bindings.",
    "GD-NVML-007": "Error: NVML and CUDA share the driver; a failing NVML nearly always means "
    "CUDA fails too.",
    "GD-NVML-008": "Information: a few facts are missing from the report; runs are unaffected.",
    "GD-NVML-009": "Error: with no GPU listed, no framework can use one.",
    "GD-NVML-010": "Information: there is no GPU (on macOS, no NVIDIA driver at all), so a "
    "missing NVML is expected.",
    "GD-NVML-011": "Error: the container can no longer open the GPU; every CUDA program in "
    "it fails until it is recreated.",
    "GD-NVML-012": "Error: the process cannot open the GPU, so no framework can use it.",
    "GD-NVML-013": "Error: the process cannot open the GPU, so no framework can use it.",
    # --- GPU ---
    "GD-GPU-001": "Error: the GPU is gone until a reset or reboot.",
    "GD-GPU-002": "Error while volatile uncorrectable errors are present (results may be "
    "wrong, jobs crash); a warning for a history of them on a GPU that works now.",
    "GD-GPU-003": "Error at DCGM's limit of 63 retired pages (the GPU is to be replaced); a "
    "warning below it: the GPU works, and the pages are retired at the next reset.",
    "GD-GPU-004": "Error at DCGM's limit of 512 uncorrectable remaps; a warning below it: "
    "the GPU works, and the rows are remapped at the next reset.",
    "GD-GPU-005": "Error: the memory fault cannot be repaired; the GPU needs service.",
    "GD-GPU-006": "Warning: the GPU works; health facts and some tools may be wrong.",
    "GD-GPU-007": "Warning: runs work, but slower.",
    "GD-GPU-008": "Warning under load: transfers are slower; information when the load is "
    "unknown (an idle link drops its generation by design and is not reported).",
    "GD-GPU-009": "Warning: runs start, then fail with out-of-memory errors.",
    "GD-GPU-010": "Error when MIG is on with no instance (CUDA has no device at all); a "
    "warning for a mode change that waits for a reset; information otherwise: each process "
    "works, on one instance.",
    "GD-GPU-011": "Information: the first CUDA call is slower; nothing fails.",
    "GD-GPU-012": "Error: no CUDA process may use a prohibited GPU; information for an "
    "exclusive mode, where one process works.",
    "GD-GPU-013": "Information: the health checks could not run; another finding says why.",
    "GD-GPU-014": "Warning: the GPU works in its old ECC mode until reset.",
    "GD-GPU-015": "Warning: transfers are slower; runs work.",
    "GD-GPU-016": "Error: once the licence grace period ends CUDA stops working on the vGPU, "
    "whatever the moment of the check.",
    # --- CUDA user space ---
    "GD-CUDA-001": "Error: without libcuda no framework can use the GPU; information in a "
    "Mac's report that counts CUDA devices (GD-CUDA-010 says the rest: macOS has no CUDA "
    "at all) and on native Windows with no sign of an NVIDIA driver "
    "(GD-NVML-001 says it).",
    "GD-CUDA-002": "Error: cuInit fails, so no framework can use the GPU.",
    "GD-CUDA-003": "Error: CUDA refuses to start with a mismatched libcuda.",
    "GD-CUDA-004": "Error: CUDA finds no usable GPU. A warning where the admin excluded every "
    "GPU from the driver (NVreg_ExcludedGpus): nothing is broken, but GPU work does not run "
    "here.",
    "GD-CUDA-005": "Error: CUDA fails to start.",
    "GD-CUDA-006": "Error: a wedged driver hangs every CUDA program.",
    "GD-CUDA-007": "Error when an import already failed on the shadowing library; a warning "
    "while it works until a kernel needs a missing symbol.",
    "GD-CUDA-008": "Error when the installed cuDNN is older than a framework's pin (cuDNN "
    "refuses to run); a warning for a newer minor, which usually works.",
    "GD-CUDA-009": "Warning: the missing GPUs are unusable; the others work.",
    "GD-CUDA-010": "Information: the check was skipped on purpose, or there is no NVIDIA "
    "GPU (on macOS, no CUDA at all) to check.",
    "GD-CUDA-011": "Error when the framework refuses the shadowing cuDNN; a warning when it "
    "still loads.",
    "GD-CUDA-012": "Warning: training with the installed packages works; only building a "
    "CUDA extension against PyTorch fails.",
    "GD-CUDA-013": "Warning: eager PyTorch works; `torch.compile` on the GPU fails.",
    "GD-CUDA-014": "Warning: eager PyTorch works; `torch.compile` on the GPU and extension "
    "builds fail.",
    # --- issue 21: causes named from a failure's message; packaging conflicts ---
    "GD-HOST-034": "Error: the framework's library does not load, so the framework cannot run.",
    "GD-HOST-035": "Error: the framework's library does not load, so the framework cannot run.",
    "GD-HOST-036": "Error: the framework aborts on its first vector instruction (or refuses "
    "to import), so it cannot run on this CPU.",
    "GD-CUDA-031": "Warning: which copy a process loads depends on import order and paths; "
    "runs work until one loads the other major's library and fails or slows down.",
    "GD-CUDA-032": "Warning: the framework usually imports with the wrong version, but the "
    "combination is untested and fails in the collectives or kernels the pin protects.",
    "GD-CUDA-033": "Error: two cuDNN installs in one process fail at the first convolution "
    "or give undefined behaviour; the framework cannot be trusted on the GPU.",
    "GD-TORCH-018": "Error: cuDNN loads but cannot run a convolution, so every CNN fails on "
    "the GPU.",
    # --- issue 20: what the hardware went through, settings that cost speed ---
    "GD-HOST-055": "Information: the log could not be read, so nothing is known about Xids; "
    "a run is not affected by that.",
    "GD-HOST-056": "Warning: jobs on this node run, but multi-node jobs over that port fail "
    "or fall back to a slower path.",
    "GD-HOST-057": "Warning: multi-node jobs run at the slower port's speed.",
    "GD-HOST-058": "Warning when the port went down and up (collectives stall or time out "
    "when it does); information for error counts alone.",
    "GD-HOST-059": "Warning: peer-to-peer traffic between the GPUs goes through the CPU, "
    "slower, and NCCL may hang; single-GPU runs are unaffected.",
    "GD-HOST-060": "Warning: peer-to-peer traffic between the GPUs (or between a GPU and its "
    "NIC) goes through the CPU, slower, and NCCL may hang; information where NVLink carries "
    "the GPUs' traffic and no RDMA port is present, where only root ports redirect (their "
    "GPUs meet in the CPU anyway), or where ACS could not be read.",
    "GD-GPU-056": "Error when the catalogue's action for the Xid is a GPU reset, a reboot or "
    "a repair (the GPU may fail the next job); a warning for an Xid whose action is only to "
    "restart the job, and for one whose lines all predate the current boot (the reboot has "
    "already reset the GPU); information for Xids the catalogue says need nothing.",
    "GD-GPU-057": "Information: such Xids follow from the application's own faults; the GPU "
    "and the next job are fine.",
    "GD-GPU-058": "Error: this many hardware Xids in a short time mean the GPU fails jobs; "
    "the node should take none until repaired.",
    "GD-GPU-059": "Error: after a GSP timeout the GPU does not take work until reset; a "
    "warning when every such line predates the current boot.",
    "GD-GPU-060": "Error: the driver itself says the GPU needs a reset or a reboot before it "
    "can be trusted with work.",
    "GD-GPU-061": "Error for a fatal SXid: traffic through that NVSwitch stops, and "
    "multi-GPU jobs hang or fail; a warning for a non-fatal one, corrected by the hardware.",
    "GD-GPU-062": "Error when fewer links are up than the model has: collectives lose "
    "bandwidth or fail over to PCIe, and multi-GPU jobs run far slower or hang; a warning "
    "for links down on a model whose link count is not known.",
    "GD-GPU-063": "Warning: the hardware retries and corrects, so runs stay correct but "
    "slower; a link that keeps counting errors is failing.",
    "GD-GPU-064": "Warning: runs work and get a little more memory, but an uncorrected "
    "memory error goes unseen and can corrupt a result silently.",
    "GD-GPU-065": "Warning: runs work, slower than the GPU can.",
    "GD-GPU-066": "Warning: runs work, slower than the GPU can.",
    "GD-GPU-067": "Information: frameworks work the same; only peer and host-to-device "
    "transfers on some systems are slower.",
    "GD-GPU-068": "Error: SLURM keeps sending jobs that ask for every GPU of the node, and "
    "they fail; a warning when the node has more GPUs than SLURM gives out (runs work, the "
    "extra GPUs stay idle); information when MIG is on and neither count matches, or inside "
    "a job, where the count cannot be judged.",
    "GD-GPU-069": "Warning: runs work; collectives that cross the slow links are slower.",
    "GD-GPU-070": "Error: no framework can use the missing GPU until a reboot brings it "
    "back, and a run that asks for every GPU of the machine fails; the others still work.",
}

_FRAMEWORK = {
    "001": "Information: a framework that is not installed is not a fault.",
    "002": "Error: a framework that does not import cannot run.",
    "003": "Error when the probe hung in the kernel or the GPU or driver is at fault (a run "
    "would hang too); a warning when the import or first GPU use was only slow.",
    "004": "Error: a CPU-only build cannot use the GPU; information on a SLURM login node, "
    "which has no GPU, where it only says the build would not use the GPU nodes' GPUs.",
    "005": "Error when the driver cannot run the build's CUDA at all; a warning when it runs "
    "through minor-version compatibility with limits.",
    "006": "Error when no kernel matches the GPU, or the PTX JIT in fact fails on it (the "
    "smoke test failed, or the driver runs the build's CUDA only through minor-version "
    "compatibility, which cannot JIT it): the framework cannot use the GPU. A warning when "
    "PTX JIT covers it and works (slow first run, some kernels missing).",
    "007": "Warning: an unsupported Python may work, but wheels and fixes are not made for it.",
    "008": "Error: the framework cannot use the GPU; information on a machine with no "
    "NVIDIA GPU, where a CUDA build runs on the CPU as intended; a warning in a container "
    "that shows no GPU of its host, which may have none, and where the admin excluded every "
    "GPU from the driver (NVreg_ExcludedGpus): nothing is broken, no GPU work runs here.",
    "009": "Error: the framework cannot use the GPU without those libraries.",
    "010": "Error: a GPU that computes wrongly or not at all cannot be trained on.",
    "011": "Error: the framework refuses (or misbehaves with) the older cuDNN.",
    "012": "Warning: the hidden GPUs are unusable; the others work.",
    "013": "Error: TensorFlow cannot use the GPU on native Windows.",
    "014": "Warning: training works; only `gpudoctor verify` cannot run.",
    "015": "Error when the import fails: the framework cannot run. A warning when it only "
    "warns: it runs, but any NumPy interop (tensor.numpy(), data loaders) may crash.",
    "016": "Error: the framework does not import, so it cannot run.",
    "017": "Error: the library cannot be loaded on this platform, so the framework cannot run.",
}
for _number, _text in _FRAMEWORK.items():
    REASONS[f"GD-TORCH-{_number}"] = _text
    REASONS[f"GD-TF-{_number}"] = _text


def reason(rule_id: str) -> str | None:
    """Why the finding ``rule_id`` has its severity; None when none is recorded."""
    if rule_id.endswith("-000"):
        return GENERIC_OK
    return REASONS.get(rule_id)
