"""Verify's recorded measurements as frozen data: what the children measured, nothing judged."""

from __future__ import annotations

from dataclasses import dataclass

from gpudoctor.model.hardware import AllReduce

SCHEMA_VERSION = 1
"""Version of verify's JSON document; bump it on any incompatible change (docs/verify.md)."""


FRAMEWORKS = ("torch", "tensorflow")
MODES = ("inference", "training")
PRECISIONS = ("fp32", "tf32", "amp-fp16", "amp-bf16")
LAYOUTS = ("auto", "nchw", "channels-last")
"""What --layout accepts; ``auto``: channels-last for AMP on tensor-core GPUs and on the CPU."""


@dataclass(frozen=True, kw_only=True)
class Settings:
    """What the user asked verify to do."""

    models: tuple[str, ...]
    framework: str
    """``torch``, ``tensorflow`` or ``all``, as given."""
    device: str
    """``cpu``, ``cuda``, ``cuda:N`` or ``all``, as given."""
    mode: str = "inference"
    precision: str = "fp32"
    batch_size: int | None = None
    """None: the per-model defaults."""
    quick: bool = False
    time_budget_s: float = 15.0
    """Seconds per model and device."""
    layout: str = "auto"
    """PyTorch's memory layout as asked: ``auto``, ``nchw`` or ``channels-last`` (LAYOUTS)."""
    cpu_time_budget_s: float | None = None
    """Seconds per model on the CPU when they differ from ``time_budget_s`` (``--quick``
    without ``--time-budget``: 1.5); None: the same."""
    gpu_required: bool = True
    """False for ``--quick`` without ``--device``: on a machine with no NVIDIA GPU at all the
    CPU alone is verified and can pass (a note says no GPU was found); a GPU that is there but
    cannot be used still fails."""

    @property
    def frameworks(self) -> tuple[str, ...]:
        """The frameworks to run, in order (torch first: it writes the parity files)."""
        return FRAMEWORKS if self.framework == "all" else (self.framework,)

    @property
    def cpu_budget_s(self) -> float:
        """Seconds per model on the CPU."""
        return self.time_budget_s if self.cpu_time_budget_s is None else self.cpu_time_budget_s

    @property
    def wants_gpu(self) -> bool:
        """True when the user asked for at least one GPU."""
        return self.device != "cpu"

    @property
    def wants_cpu(self) -> bool:
        """True when the CPU is timed too."""
        return self.device in ("cpu", "all")


@dataclass(frozen=True, kw_only=True)
class GpuInfo:
    """One GPU as a framework sees it."""

    device: str
    """``cuda:N`` in the framework's numbering."""
    name: str
    compute_capability: str | None = None
    memory_mib: int | None = None


@dataclass(frozen=True, kw_only=True)
class FrameworkEnv:
    """How one framework child started: its build, its GPUs, its thread settings."""

    framework: str
    installed: bool = True
    version: str | None = None
    cuda_build: bool = False
    """True when the framework was built with CUDA (not a CPU-only wheel)."""
    cuda_version: str | None = None
    cudnn_version: str | None = None
    cudnn_enabled: bool = False
    gpus: tuple[GpuInfo, ...] = ()
    nvml_gpu_count: int | None = None
    """GPUs NVML sees on the host; None when NVML could not be read."""
    nvml_error: str | None = None
    cpu_threads: int | None = None
    """torch.get_num_threads(), or TF's intra-op threads."""
    inter_op_threads: int | None = None
    tf32: bool | None = None
    """Whether TF32 was allowed for matmul and convolutions in this run."""
    cpu_matmul_flops: float | None = None
    """The CPU matmul probe (FLOP/s, fp32) used to project CPU run times."""
    unsupported: str | None = None
    """Why verify's harness cannot run this framework version (its limit, not the install's)."""
    unverified_gpus: str | None = None
    """GPUs this build can use that verify runs no model on (it reaches GPUs through
    torch.cuda): ``the Apple GPU (MPS)``, ``1 Intel GPU (XPU)``; None where there are none,
    and in results written before 2026-12-08."""
    warnings: tuple[str, ...] = ()
    """What the child could not set up as intended (e.g. TensorFlow's GPU memory growth)."""
    error: str | None = None
    """Why the child failed (crash, timeout, start failure); None when it finished."""
    stderr_tail: str = ""


@dataclass(frozen=True, kw_only=True)
class Peak:
    """A device's measured dense matmul rate in one precision: the "peak" of fraction of peak."""

    framework: str
    device: str
    precision: str
    flops: float


@dataclass(frozen=True, kw_only=True)
class TelemetrySample:
    """One NVML reading taken while a GPU run was timed."""

    t_s: float
    sm_clock_mhz: int | None = None
    clock_event_reasons: int | None = None
    """nvmlDeviceGetCurrentClocksEventReasons bitmask."""
    pcie_gen: int | None = None
    pcie_width: int | None = None
    temperature_c: int | None = None
    power_w: float | None = None
    utilization_pct: int | None = None


@dataclass(frozen=True, kw_only=True)
class Telemetry:
    """NVML readings during one GPU run, with the limits they are judged against."""

    available: bool
    message: str = ""
    """Why there is no telemetry, when there is none."""
    max_sm_clock_mhz: int | None = None
    max_pcie_gen: int | None = None
    """The link generation this GPU in this slot can reach (system limit)."""
    max_pcie_width: int | None = None
    gpu_max_pcie_gen: int | None = None
    """The GPU's own maximum; above max_pcie_gen when the slot or riser limits it."""
    gpu_max_pcie_width: int | None = None
    power_limit_w: float | None = None
    samples: tuple[TelemetrySample, ...] = ()


@dataclass(frozen=True, kw_only=True)
class DatasheetPeak:
    """The vendor's dense peak for a GPU model and precision (verify/data/datasheet_peaks.toml)."""

    device: str
    """``cuda:N``: the GPU of this run it applies to."""
    gpu: str
    precision: str
    flops: float
    verified: bool
    source: str


@dataclass(frozen=True, kw_only=True)
class PublishedFigure:
    """The vendor's published training figure for a run's GPU model (published_training.toml).

    Information beside the run, never a verdict: the vendor's recipe (real data, its batch,
    a tuned container) is not verify's.
    """

    device: str
    """``cuda:N``: the GPU of this run it applies to."""
    gpu: str
    framework: str
    model: str
    mode: str
    precision: str
    """What the vendor ran (``amp-fp16`` also stands beside an ``amp-bf16`` run)."""
    gpus: int
    batch_size: int
    """Per GPU, in the vendor's run."""
    images_per_second: float
    """Per GPU: the published total over ``gpus``."""
    conditions: str
    verified: bool
    source: str


@dataclass(frozen=True, kw_only=True)
class Run:
    """One timed (or skipped, or failed) model on one device in one framework."""

    model: str
    framework: str
    device: str
    """``cpu`` or ``cuda:N``."""
    device_name: str = ""
    role: str = "main"
    """``main`` (the device's own batch) or ``common`` (the batch the CPU ran, for the speedup)."""
    mode: str = "inference"
    precision: str = "fp32"
    """The precision this run used: CPU runs are always fp32."""
    layout: str = ""
    """Memory layout of the tensors: ``nchw`` or ``channels_last`` (torch), ``nhwc`` (Keras);
    empty in results written before it was recorded."""
    status: str = "ok"
    """``ok``, ``skipped`` (time budget) or ``error``."""
    message: str = ""
    batch_size: int = 0
    """The batch that ran (after any out-of-memory back-off)."""
    requested_batch_size: int = 0
    oom_batch_sizes: tuple[int, ...] = ()
    """Batches that ran out of memory before ``batch_size`` fitted."""
    images_per_second: float | None = None
    """Median over the timed blocks."""
    spread: float | None = None
    """Inter-quartile range over median of the per-block images/s."""
    block_seconds: tuple[float, ...] = ()
    iterations_per_block: int = 0
    warmup_iterations: int = 0
    warmup_converged: bool = False
    first_call_s: float | None = None
    threads: int | None = None
    flops_per_image: float = 0.0
    """2 × forward MACs, × 3 in training."""
    projected_s: float | None = None
    """CPU only: the projected time that decided the batch, or the skip."""
    advised_budget_s: int | None = None
    """Skipped for time: the --time-budget its message advises (None: it advises a smaller
    batch, or none can help)."""
    telemetry: Telemetry | None = None


@dataclass(frozen=True, kw_only=True)
class Comparison:
    """Logits of the same weights on the same input from two places (devices or frameworks)."""

    model: str
    framework: str
    """The framework that ran the candidate (``tensorflow`` for torch-vs-Keras parity)."""
    kind: str
    """``gpu_vs_cpu`` or ``torch_vs_keras``."""
    reference: str
    """E.g. ``torch cpu``."""
    candidate: str
    """E.g. ``torch cuda:0``."""
    precision: str = "fp32"
    """Precision of the candidate."""
    finite: bool = True
    max_abs_error: float = 0.0
    rel_error: float = 0.0
    """max |candidate - reference| / max |reference|."""
    top1_agree: tuple[bool, ...] = ()
    """Per sample: same arg-max class."""
    rel_margins: tuple[float, ...] = ()
    """Per sample: the reference's top-1 minus top-2 logit, over max |reference|."""
    rounding_error: float | None = None
    """TF32 and AMP: rel_error of the same model on the CPU with the candidate's precision
    emulated (its rounding alone, no fault possible); None when it could not be measured."""


@dataclass(frozen=True, kw_only=True)
class HarnessError:
    """A model (or a whole framework child) that failed outside a timed run."""

    framework: str
    model: str | None = None
    device: str | None = None
    phase: str = ""
    message: str = ""


@dataclass(frozen=True, kw_only=True)
class VerifyResult:
    """Everything one ``gpudoctor verify`` measured."""

    settings: Settings
    frameworks: tuple[FrameworkEnv, ...] = ()
    peaks: tuple[Peak, ...] = ()
    runs: tuple[Run, ...] = ()
    comparisons: tuple[Comparison, ...] = ()
    errors: tuple[HarnessError, ...] = ()
    datasheet_peaks: tuple[DatasheetPeak, ...] = ()
    """Per GPU and precision run, the datasheet peak when the knowledge base has the model."""
    published_figures: tuple[PublishedFigure, ...] = ()
    """Per main GPU run whose GPU model and configuration NVIDIA publishes a figure for; empty in
    results written before 2026-12-07."""
    cpu_count: int | None = None
    started_at: str = ""
    """UTC, ``2026-12-07T04:05:06Z`` (``+00:00`` instead of ``Z`` in results written before
    2026-12-07)."""
    duration_s: float = 0.0
    """Wall time in seconds: the models' runs and the ``--hardware``/``--burn`` measurements
    (results written before 2026-12-08 counted the models' alone, 0.0 without them)."""
    hardware: HardwareResult | None = None
    """``--hardware`` and ``--burn``; None when neither was asked (and in results written
    before 2026-12-07)."""


# --- hardware: --hardware and --burn ---------------------------------------------------

HARDWARE_VERSION = 1
"""Version of ``hardware`` in verify's JSON (absent in results written before 2026-12-07)."""

ITEMS = ("memory", "h2d", "d2h", "p2p", "allreduce")
"""What ``--hardware`` may name (``all`` is every one of them)."""
GPU_ONLY = ("h2d", "d2h", "p2p")
"""Measurements that need a GPU: on the CPU they are left out, saying so."""


@dataclass(frozen=True, kw_only=True)
class Bandwidth:
    """One bandwidth measurement: device memory, host<->device, or one GPU pair."""

    kind: str
    """``memory`` (a copy within the device: bytes read + written), ``h2d``, ``d2h`` (pinned
    host memory) or ``p2p`` (device to peer device)."""
    device: str
    """``cpu`` or ``cuda:N`` (the source of a ``p2p`` copy)."""
    device_name: str = ""
    peer: str = ""
    """``p2p``: the destination GPU."""
    link: str = ""
    """``p2p``: ``nvlink`` or ``pcie`` (as NVML says); empty when NVML could not tell."""
    bytes: int = 0
    """Buffer size of one copy."""
    seconds: float = 0.0
    """Median seconds of one copy."""
    gbps: float | None = None
    """GB/s (10^9 bytes): 2 S / t for ``memory``, S / t for the others."""
    status: str = "ok"
    """``ok`` or ``error``."""
    message: str = ""


@dataclass(frozen=True, kw_only=True)
class BurnDevice:
    """``--burn``: sustained matrix products on one device, checked against the first round."""

    device: str
    device_name: str = ""
    seconds: float = 0.0
    rounds: int = 0
    """Rounds run; each multiplies the same matrices and compares with round one."""
    mismatched_rounds: int = 0
    """Rounds whose product differed from round one (the same kernel on the same inputs must
    give the same bits: a difference is silent data corruption)."""
    max_rel_diff: float = 0.0
    finite: bool = True
    flops: tuple[float, ...] = ()
    """Matrix-product rate of each round, FLOP/s (drift: the last rounds against the first)."""
    telemetry: Telemetry | None = None
    """NVML's clocks, temperatures, power and throttle reasons, sampled during the burn."""
    status: str = "ok"
    message: str = ""


@dataclass(frozen=True, kw_only=True)
class HardwareSettings:
    """What ``--hardware`` and ``--burn`` asked for."""

    items: tuple[str, ...] = ()
    burn_s: float | None = None
    device: str = "all"
    """verify's ``--device``: ``cpu`` measures the host, the others the GPUs."""
    ranks: int = 2
    """Local processes of the CPU all-reduce (on GPUs: one per GPU)."""


@dataclass(frozen=True, kw_only=True)
class HardwareFloor:
    """A knowledge-base floor that applied to this run's GPUs (verify/data/hardware_floors.toml)."""

    gpu: str
    kind: str
    gbps: float
    verified: bool
    source: str
    gpus: int = 0


@dataclass(frozen=True, kw_only=True)
class HardwareResult:
    """Everything ``--hardware`` and ``--burn`` measured."""

    version: int = HARDWARE_VERSION
    settings: HardwareSettings = HardwareSettings()
    bandwidths: tuple[Bandwidth, ...] = ()
    allreduce: AllReduce | None = None
    burn: tuple[BurnDevice, ...] = ()
    notes: tuple[str, ...] = ()
    """What was left out and why (e.g. h2d on the CPU)."""
    errors: tuple[str, ...] = ()
    """Measurements that failed as a whole (a child that hung, crashed or could not start)."""
    duration_s: float = 0.0
    floors: tuple[HardwareFloor, ...] = ()
    """The floors the measured GPU models have in the knowledge base (the verdict's)."""

    def floor(self, gpu: str, kind: str, gpus: int = 0) -> HardwareFloor | None:
        """The floor of ``kind`` for GPU model ``gpu`` among ``floors``."""
        name = gpu.strip().lower()
        return next(
            (f for f in self.floors if f.gpu.lower() == name and f.kind == kind and f.gpus == gpus),
            None,
        )
