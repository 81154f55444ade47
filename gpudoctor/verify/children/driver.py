"""The loop every verify child runs, whatever the framework: build, compare, time, report."""

from __future__ import annotations

import traceback
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

from gpudoctor.model.serialize import to_dict
from gpudoctor.verify import plan as vplan
from gpudoctor.verify.children.compare import compare_logits
from gpudoctor.verify.children.telemetry import NullSampler, Sampler
from gpudoctor.verify.model import FrameworkEnv, HarnessError, Peak, Run
from gpudoctor.verify.timing import Step, TimingPlan, TooSlow, images_per_second, measure

Emit = Callable[[dict[str, Any]], None]


@dataclass(frozen=True, kw_only=True)
class Config:
    """What the parent asked this child to do (sent as JSON on the command line)."""

    models: tuple[str, ...]
    device: str
    mode: str = "inference"
    precision: str = "fp32"
    layout: str = "auto"
    """torch's memory layout: ``auto``, ``nchw`` or ``channels-last``."""
    batch_size: int | None = None
    budget_s: float = vplan.DEFAULT_BUDGET_S
    cpu_budget_s: float | None = None
    """The CPU's budget per model when it differs (``--quick``); None: ``budget_s``."""
    max_blocks: int = 20
    threads: int = 1
    parity: str | None = None
    """``write`` (torch saves weights, input and logits), ``read`` (Keras compares) or None."""
    parity_dir: str | None = None

    @property
    def cpu_budget(self) -> float:
        """Seconds per model on the CPU."""
        return self.budget_s if self.cpu_budget_s is None else self.cpu_budget_s

    @staticmethod
    def from_json(data: dict[str, Any]) -> Config:
        """Rebuild the config the parent serialised."""
        data = dict(data)
        data["models"] = tuple(data["models"])
        return Config(**data)


class Backend(Protocol):
    """The framework-specific half of a child (torch_backend.py, tf_backend.py)."""

    framework: str

    def setup(self, cfg: Config) -> FrameworkEnv: ...
    def matmul_flops(self, device: str, precision: str) -> float: ...
    def build_cpu(self, name: str) -> Any: ...
    def to_gpu(self, model: Any, name: str, device: str) -> Any: ...
    def logits(self, model: Any, x_nhwc: Any, device: str) -> Any: ...
    def timed_step(self, model: Any, name: str, batch: int, device: str) -> tuple[Step, Step]: ...
    def is_oom(self, exc: BaseException) -> bool: ...
    def recover_oom(self, model: Any) -> None: ...
    def release(self) -> None: ...
    def sampler(self, device: str) -> Sampler: ...
    def device_name(self, device: str) -> str: ...
    def save_parity(self, model: Any, path: Path) -> None: ...
    def load_parity(self, model: Any, path: Path) -> None: ...
    def rounding_logits(self, model: Any, x_nhwc: Any, precision: str) -> Any: ...
    def layout(self, device: str) -> str: ...


def run_child(backend: Backend, cfg: Config, emit: Emit) -> None:
    """Verify every model of ``cfg`` on every device this framework can reach."""
    env = backend.setup(cfg)
    if env.unsupported:
        # A framework version this harness cannot drive: say so (the verdict warns), run nothing.
        emit({"event": "env", "env": to_dict(env), "devices": []})
        emit({"event": "done"})
        return
    gpus = _gpu_devices(cfg.device, env)
    devices = [*gpus, *(["cpu"] if cfg.device in ("cpu", "all") else [])]
    cpu_flops = backend.matmul_flops("cpu", "fp32")
    env = replace(env, cpu_matmul_flops=cpu_flops)
    emit({"event": "env", "env": to_dict(env), "devices": devices})
    emit({"event": "peak", "peak": to_dict(_peak(backend, "cpu", "fp32", cpu_flops))})
    for dev in gpus:
        flops = backend.matmul_flops(dev, cfg.precision)
        emit({"event": "peak", "peak": to_dict(_peak(backend, dev, cfg.precision, flops))})
    if not devices:
        # Nothing this framework can run here (a GPU was asked for and there is none).
        emit({"event": "done"})
        return
    for name in cfg.models:
        try:
            _verify_model(backend, cfg, name, gpus, cpu_flops, emit)
        except Exception as exc:  # one model's failure must not stop the others
            _emit_error(emit, backend.framework, name, None, "build", exc)
        backend.release()
    emit({"event": "done"})


def _peak(backend: Backend, device: str, precision: str, flops: float) -> Peak:
    return Peak(framework=backend.framework, device=device, precision=precision, flops=flops)


def _gpu_devices(requested: str, env: FrameworkEnv) -> list[str]:
    have = [g.device for g in env.gpus]
    if requested in ("all", "cuda"):
        return have
    if requested.startswith("cuda:"):
        return [requested] if requested in have else []
    return []


def _verify_model(
    backend: Backend, cfg: Config, name: str, gpus: list[str], cpu_flops: float, emit: Emit
) -> None:
    from gpudoctor.refmodels import get_spec
    from gpudoctor.refmodels.inputs import make_input

    spec = get_spec(name)
    fw = backend.framework
    flops_img = 2.0 * spec.macs * (3 if cfg.mode == "training" else 1)
    # Planned before anything is built: the plan needs only the model's FLOPs and the matmul
    # rate. Building VGG-16 or ResNet-152 only to skip it took most of `--quick --device cpu`.
    cpu_plan = None
    # --time-budget sets the GPUs' budget too: advice for the CPU must not lower theirs
    keep_s = cfg.budget_s if gpus else 0.0
    if cfg.device in ("cpu", "all"):
        cpu_plan = vplan.plan_cpu(
            flops_img, cpu_flops, cfg.cpu_budget, override=cfg.batch_size, keep_s=keep_s
        )
    cpu_layout = backend.layout("cpu")
    if not gpus and cpu_plan is not None and cpu_plan.batch is None:
        # Nothing left to run on any device: no build, no correctness pass, no parity.
        _skip_as_planned(emit, fw, cfg, name, flops_img, cpu_plan, cpu_layout)
        return
    emit({"event": "phase", "model": name, "device": "cpu", "phase": "build"})
    cpu_model = backend.build_cpu(name)
    x = make_input(spec, vplan.CORRECTNESS_SAMPLES, seed=0, layout="nhwc")
    torch_rounding = None
    if cfg.parity_dir and cfg.parity == "read":
        torch_rounding = _read_parity(backend, cpu_model, name, Path(cfg.parity_dir), emit)
    reference = backend.logits(cpu_model, x, "cpu")
    rounding = None
    if gpus and cfg.precision != "fp32":
        # What the GPU's precision alone does to these logits: its rounding, emulated on the
        # CPU. Deep networks amplify it (ResNet-152 in fp16: 0.17 of the logit scale).
        emulated = backend.rounding_logits(cpu_model, x, cfg.precision)
        # Keras cannot emulate; with the same weights and input, torch's figure holds for it.
        rounding = torch_rounding if emulated is None else _rel_error(reference, emulated)
    if cfg.parity_dir and cfg.parity == "write":
        _write_parity(backend, cpu_model, name, x, reference, Path(cfg.parity_dir), rounding)
    common = cpu_plan.batch if cpu_plan is not None else None
    for dev in gpus:
        gpu_model = None
        try:
            emit({"event": "phase", "model": name, "device": dev, "phase": "correctness"})
            gpu_model = backend.to_gpu(cpu_model, name, dev)
            out = backend.logits(gpu_model, x, dev)
            check = compare_logits(
                reference,
                out,
                model=name,
                framework=fw,
                kind="gpu_vs_cpu",
                reference_label=f"{fw} cpu",
                candidate_label=f"{fw} {dev}",
                precision=cfg.precision,
                rounding_error=rounding,
            )
            emit({"event": "comparison", "comparison": to_dict(check)})
            start = vplan.gpu_batch(name, cfg.mode, cfg.batch_size)
            share = 1.0 if common is None or common == start else 2 / 3
            main = _timed(backend, cfg, gpu_model, name, dev, start, "main", share, flops_img, emit)
            # A common batch larger than the one that fitted after out-of-memory would not fit.
            fits = not main.oom_batch_sizes or common is None or common < main.batch_size
            if common is not None and common != main.batch_size and fits:
                _timed(backend, cfg, gpu_model, name, dev, common, "common", 1 / 3, flops_img, emit)
        except Exception as exc:  # a GPU failure is a finding, not a crash
            _emit_error(emit, fw, name, dev, "gpu", exc)
        finally:
            del gpu_model
            backend.release()
    if cpu_plan is None:
        return
    if cpu_plan.batch is None:
        _skip_as_planned(emit, fw, cfg, name, flops_img, cpu_plan, cpu_layout)
        return
    try:
        _timed(
            backend,
            cfg,
            cpu_model,
            name,
            "cpu",
            cpu_plan.batch,
            "main",
            1.0,
            flops_img,
            emit,
            projected_s=cpu_plan.projected_s,
        )
    except TooSlow as exc:
        needed = vplan.run_seconds(exc.iteration_s)
        advice = vplan.budget_advice(
            needed,
            cpu_plan.batch,
            cfg.cpu_budget,
            batch_given=cfg.batch_size is not None,
            keep_s=keep_s,
        )
        message = (
            f"skipped: {exc} at batch {cpu_plan.batch}, so five timed blocks would overrun the "
            f"{cfg.cpu_budget:,g} s budget (is the machine busy?); {advice}"
        )
        _skip_cpu(
            emit,
            fw,
            cfg,
            name,
            flops_img,
            message,
            cpu_plan.projected_s,
            cpu_layout,
            advised=vplan.advised_budget(needed, keep_s=keep_s),
        )
    except Exception as exc:
        _emit_error(emit, fw, name, "cpu", "cpu", exc)


def _skip_as_planned(
    emit: Emit, fw: str, cfg: Config, name: str, flops: float, plan: vplan.CpuPlan, layout: str
) -> None:
    """Report the CPU run that the plan ruled out before anything was built."""
    _skip_cpu(
        emit,
        fw,
        cfg,
        name,
        flops,
        plan.message,
        plan.projected_s,
        layout,
        advised=plan.advised_budget_s,
    )


def _skip_cpu(
    emit: Emit,
    fw: str,
    cfg: Config,
    name: str,
    flops: float,
    message: str,
    projected: float,
    layout: str = "",
    *,
    advised: int | None = None,
) -> None:
    """Report a CPU run that the time budget rules out: never a silent gap in the table."""
    skipped = Run(
        model=name,
        framework=fw,
        device="cpu",
        device_name="cpu",
        mode=cfg.mode,
        layout=layout,
        status="skipped",
        message=message,
        requested_batch_size=cfg.batch_size or vplan.COMMON_BATCH,
        threads=cfg.threads,
        flops_per_image=flops,
        projected_s=projected,
        advised_budget_s=advised,
    )
    emit({"event": "run", "run": to_dict(skipped)})


def _timed(
    backend: Backend,
    cfg: Config,
    model: Any,
    name: str,
    device: str,
    batch: int,
    role: str,
    share: float,
    flops_img: float,
    emit: Emit,
    *,
    projected_s: float | None = None,
) -> Run:
    """Time one model on one device, halving the batch on out-of-memory until it fits."""
    budget = (cfg.cpu_budget if device == "cpu" else cfg.budget_s) * share
    emit(
        {
            "event": "phase",
            "model": name,
            "device": device,
            "phase": "timing",
            "batch": batch,
            "budget_s": budget,
            "role": role,
        }
    )
    # On the CPU a first call far over projection means five blocks cannot fit: give up early.
    first_cap = budget * vplan.CPU_FIRST_CALL_SHARE if device == "cpu" else None
    plan = TimingPlan(budget_s=budget, max_blocks=cfg.max_blocks, max_first_call_s=first_cap)
    ooms: list[int] = []
    size = batch
    while True:
        sampler: Sampler = NullSampler("CPU run") if device == "cpu" else backend.sampler(device)
        oom = False
        try:
            step, sync = backend.timed_step(model, name, size, device)
            timing = measure(step, sync, plan, on_timed=sampler.on_timed)
        except Exception as exc:
            if device == "cpu" or size <= 1 or not backend.is_oom(exc):
                raise
            oom = True
        if not oom:
            break
        # The failed attempt's tensors (its batch, optimizer state, activations held by the
        # traceback) are only freed once the except block has dropped them; the gradients
        # left on the model by a failed backward pass are dropped by recover_oom.
        step = sync = None  # type: ignore[assignment]
        backend.recover_oom(model)
        ooms.append(size)
        size //= 2
    ips, spread = images_per_second(timing, size)
    run = Run(
        model=name,
        framework=backend.framework,
        device=device,
        device_name=backend.device_name(device),
        role=role,
        mode=cfg.mode,
        precision="fp32" if device == "cpu" else cfg.precision,
        layout=backend.layout(device),
        batch_size=size,
        requested_batch_size=batch,
        oom_batch_sizes=tuple(ooms),
        images_per_second=ips,
        spread=spread,
        block_seconds=timing.block_seconds,
        iterations_per_block=timing.iterations_per_block,
        warmup_iterations=timing.warmup_iterations,
        warmup_converged=timing.warmup_converged,
        first_call_s=timing.first_call_s,
        threads=cfg.threads if device == "cpu" else None,
        flops_per_image=flops_img,
        projected_s=projected_s,
        telemetry=None if device == "cpu" else sampler.result(),
    )
    emit({"event": "run", "run": to_dict(run)})
    return run


def _rel_error(reference: Any, candidate: Any) -> float:
    """max |candidate - reference| / max |reference|, as compare_logits measures it."""
    import numpy as np

    ref = np.asarray(reference, dtype=np.float64)
    cand = np.asarray(candidate, dtype=np.float64).reshape(ref.shape)
    return float(np.abs(cand - ref).max() / max(float(np.abs(ref).max()), 1e-12))


def _write_parity(
    backend: Backend,
    model: Any,
    name: str,
    x: Any,
    logits: Any,
    folder: Path,
    rounding: float | None = None,
) -> None:
    import numpy as np

    backend.save_parity(model, folder / f"{name}.weights.npz")
    extra = {} if rounding is None else {"rounding_error": np.float64(rounding)}
    np.savez(folder / f"{name}.io.npz", input=x, logits=np.asarray(logits), **extra)


def _read_parity(backend: Backend, model: Any, name: str, folder: Path, emit: Emit) -> float | None:
    """Load torch's weights into the Keras model and compare on torch's input (both on CPU).

    Returns torch's emulated rounding error for this model, when torch measured one.
    """
    import numpy as np

    weights, io_file = folder / f"{name}.weights.npz", folder / f"{name}.io.npz"
    if not (weights.exists() and io_file.exists()):
        return None
    emit({"event": "phase", "model": name, "device": "cpu", "phase": "parity"})
    backend.load_parity(model, weights)
    with np.load(io_file) as io:
        x, torch_logits = io["input"], io["logits"]
        rounding = float(io["rounding_error"]) if "rounding_error" in io.files else None
    out = backend.logits(model, x, "cpu")
    check = compare_logits(
        torch_logits,
        out,
        model=name,
        framework=backend.framework,
        kind="torch_vs_keras",
        reference_label="torch cpu",
        candidate_label=f"{backend.framework} cpu",
        precision="fp32",
    )
    emit({"event": "comparison", "comparison": to_dict(check)})
    return rounding


def _emit_error(
    emit: Emit,
    framework: str,
    model: str | None,
    device: str | None,
    phase: str,
    exc: BaseException,
) -> None:
    frame = traceback.extract_tb(exc.__traceback__)[-1:] if exc.__traceback__ else []
    where = f" ({Path(frame[0].filename).name}:{frame[0].lineno})" if frame else ""
    message = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}{where}"
    error = HarnessError(
        framework=framework, model=model, device=device, phase=phase, message=message[:500]
    )
    emit({"event": "error", "error": to_dict(error)})
