"""The child's loop with a fake framework: OOM back-off, the common batch, skips, errors."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from gpudoctor.model.serialize import from_dict
from gpudoctor.verify.children.driver import Config, run_child
from gpudoctor.verify.children.telemetry import NullSampler
from gpudoctor.verify.model import Comparison, FrameworkEnv, GpuInfo, HarnessError, Run
from gpudoctor.verify.timing import Step

np = pytest.importorskip("numpy")


class FakeOOM(RuntimeError):
    pass


class FakeBackend:
    """A framework with one GPU that holds at most ``gpu_capacity`` images per batch."""

    framework = "torch"

    def __init__(
        self,
        gpu_capacity: int = 10_000,
        cpu_step_s: float = 0.0,
        gpu_noise: float = 0.0,
        fail_build: bool = False,
        unsupported: str | None = None,
    ) -> None:
        self.gpu_capacity, self.cpu_step_s, self.gpu_noise = gpu_capacity, cpu_step_s, gpu_noise
        self.fail_build, self.unsupported = fail_build, unsupported
        self.batches: list[tuple[str, int]] = []
        self.calls: list[str] = []

    def setup(self, cfg: Config) -> FrameworkEnv:
        return FrameworkEnv(
            framework="torch",
            version="0",
            cuda_build=True,
            cudnn_enabled=True,
            gpus=(GpuInfo(device="cuda:0", name="Fake GPU"),),
            unsupported=self.unsupported,
        )

    def matmul_flops(self, device: str, precision: str) -> float:
        self.calls.append(f"peak {device}")
        return 1e15 if device == "cpu" else 1e16

    def build_cpu(self, name: str) -> Any:
        self.calls.append(f"build {name}")
        if self.fail_build:
            raise ValueError("cannot build")
        return "model"

    def to_gpu(self, model: Any, name: str, device: str) -> Any:
        return "gpu-model"

    def logits(self, model: Any, x_nhwc: Any, device: str) -> Any:
        base = np.tile(np.arange(10, dtype=np.float32), (len(x_nhwc), 1))
        return base + (self.gpu_noise if device != "cpu" else 0.0)

    def timed_step(self, model: Any, name: str, batch: int, device: str) -> tuple[Step, Step]:
        self.batches.append((device, batch))
        self.calls.append(f"step {device} {batch}")
        if device != "cpu" and batch > self.gpu_capacity:
            raise FakeOOM("CUDA out of memory")
        if device == "cpu" and self.cpu_step_s:
            import time

            return (lambda: time.sleep(self.cpu_step_s)), (lambda: None)
        return (lambda: None), (lambda: None)

    def is_oom(self, exc: BaseException) -> bool:
        return isinstance(exc, FakeOOM)

    def recover_oom(self, model: Any) -> None:
        self.calls.append(f"recover {model}")

    def release(self) -> None:
        pass

    def sampler(self, device: str) -> NullSampler:
        return NullSampler("fake GPU")

    def device_name(self, device: str) -> str:
        return "Fake GPU" if device != "cpu" else "cpu"

    def save_parity(self, model: Any, path: Path) -> None:
        raise NotImplementedError

    def load_parity(self, model: Any, path: Path) -> None:
        raise NotImplementedError

    def layout(self, device: str) -> str:
        return "nchw" if device != "cpu" else "channels_last"

    rounding_shift: float | None = None
    """What the emulated precision adds to every logit; None: cannot emulate (like Keras)."""

    def rounding_logits(self, model: Any, x_nhwc: Any, precision: str) -> Any:
        self.calls.append(f"rounding {precision}")
        if self.rounding_shift is None:
            return None
        return np.tile(np.arange(10, dtype=np.float32), (len(x_nhwc), 1)) + self.rounding_shift


def _run(backend: FakeBackend, **cfg: Any) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    config = Config(
        **{
            "models": ("lenet5",),
            "device": "all",
            "budget_s": 0.2,
            "max_blocks": 5,
            "threads": 1,
            **cfg,
        }
    )
    run_child(backend, config, events.append)
    assert events[-1] == {"event": "done"}
    return events


def _runs(events: list[dict[str, Any]]) -> list[Run]:
    return [from_dict(Run, e["run"]) for e in events if e["event"] == "run"]


def test_out_of_memory_halves_the_batch_and_records_it():
    backend = FakeBackend(gpu_capacity=300)
    runs = _runs(_run(backend))
    main = next(r for r in runs if r.device == "cuda:0" and r.role == "main")
    assert main.status == "ok"
    assert main.requested_batch_size == 1024
    assert main.oom_batch_sizes == (1024, 512)
    assert main.batch_size == 256
    assert ("cuda:0", 1024) in backend.batches and ("cuda:0", 256) in backend.batches


def test_each_out_of_memory_is_recovered_from_on_the_gpu_model_before_the_retry():
    backend = FakeBackend(gpu_capacity=300)
    _run(backend)
    gpu = [c for c in backend.calls if c.startswith(("step cuda:0", "recover"))]
    assert gpu[:6] == [
        "step cuda:0 1024",
        "recover gpu-model",
        "step cuda:0 512",
        "recover gpu-model",
        "step cuda:0 256",
        "step cuda:0 32",
    ]


def test_the_gpu_also_runs_the_batch_the_cpu_runs():
    runs = _runs(_run(FakeBackend()))
    by = {(r.device, r.role): r for r in runs}
    assert set(by) == {("cuda:0", "main"), ("cuda:0", "common"), ("cpu", "main")}
    assert by[("cuda:0", "common")].batch_size == by[("cpu", "main")].batch_size == 32
    assert len(by[("cpu", "main")].block_seconds) >= 5


def test_gpu_and_cpu_logits_are_compared():
    events = _run(FakeBackend(gpu_noise=0.5))
    (check,) = [
        from_dict(Comparison, e["comparison"]) for e in events if e["event"] == "comparison"
    ]
    assert (check.kind, check.reference, check.candidate) == (
        "gpu_vs_cpu",
        "torch cpu",
        "torch cuda:0",
    )
    assert check.rel_error == pytest.approx(0.5 / 9)


def test_a_cpu_run_far_slower_than_projected_is_skipped_with_the_reason():
    runs = _runs(_run(FakeBackend(cpu_step_s=0.3), device="cpu"))
    (cpu,) = runs
    assert cpu.status == "skipped"
    assert "first iteration took" in cpu.message
    # 0.3 s an iteration: the shortest run (first call, a warm-up window, five blocks) is 2.1 s,
    # advised with half as much again to spare
    assert re.search(r"raise --time-budget to [4-9] to run it", cpu.message), cpu.message


def test_a_model_that_fails_to_build_is_reported_and_the_child_goes_on():
    events = _run(FakeBackend(fail_build=True), models=("lenet5", "alexnet"))
    errors = [from_dict(HarnessError, e["error"]) for e in events if e["event"] == "error"]
    assert [e.model for e in errors] == ["lenet5", "alexnet"]
    assert "ValueError: cannot build" in errors[0].message


def test_no_reachable_device_means_no_work():
    events = _run(FakeBackend(), device="cuda:3")
    assert [e["event"] for e in events] == ["env", "peak", "done"]


def test_a_framework_version_the_harness_cannot_drive_runs_nothing():
    backend = FakeBackend(unsupported="verify's Keras side needs Keras 3")
    events = _run(backend)
    assert [e["event"] for e in events] == ["env", "done"]
    env = from_dict(FrameworkEnv, events[0]["env"])
    assert env.unsupported == "verify's Keras side needs Keras 3"
    assert events[0]["devices"] == []
    assert backend.calls == []


def _comparisons(events: list[dict[str, Any]]) -> list[Comparison]:
    return [from_dict(Comparison, e["comparison"]) for e in events if e["event"] == "comparison"]


def test_under_amp_the_emulated_rounding_error_is_recorded_beside_the_measured_one():
    backend = FakeBackend(gpu_noise=1.5)
    backend.rounding_shift = 1.8
    (check,) = _comparisons(_run(backend, precision="amp-fp16"))
    assert check.rel_error == pytest.approx(1.5 / 9)
    assert check.rounding_error == pytest.approx(1.8 / 9)
    assert "rounding amp-fp16" in backend.calls


def test_fp32_needs_no_rounding_figure():
    backend = FakeBackend()
    backend.rounding_shift = 1.0
    (check,) = _comparisons(_run(backend))
    assert check.rounding_error is None
    assert not any(c.startswith("rounding") for c in backend.calls)


class ParityBackend(FakeBackend):
    """Writes (torch) or reads (Keras) the parity files without real weights."""

    def save_parity(self, model: Any, path: Path) -> None:
        path.write_bytes(b"weights")

    def load_parity(self, model: Any, path: Path) -> None:
        assert path.read_bytes() == b"weights"


def test_keras_uses_the_rounding_error_torch_measured_on_the_same_weights(tmp_path):
    torch_side = ParityBackend(gpu_noise=0.9)
    torch_side.rounding_shift = 0.9
    _run(torch_side, precision="amp-bf16", parity="write", parity_dir=str(tmp_path))
    keras_side = ParityBackend(gpu_noise=0.9)  # cannot emulate: rounding_shift stays None
    keras_side.framework = "tensorflow"
    events = _run(keras_side, precision="amp-bf16", parity="read", parity_dir=str(tmp_path))
    gpu = [c for c in _comparisons(events) if c.kind == "gpu_vs_cpu"]
    assert [c.rounding_error for c in gpu] == [pytest.approx(0.1)]


def test_every_run_records_its_layout():
    runs = _runs(_run(FakeBackend()))
    assert {(r.device, r.layout) for r in runs} == {("cuda:0", "nchw"), ("cpu", "channels_last")}


class SlowCpuBackend(FakeBackend):
    """A CPU at 1 GFLOP/s: LeNet-5 fits a short budget, VGG-16 and ResNet-50 never do."""

    def matmul_flops(self, device: str, precision: str) -> float:
        return 1e9 if device == "cpu" else super().matmul_flops(device, precision)


def test_a_model_the_budget_skips_on_the_cpu_is_never_built():
    backend = SlowCpuBackend()
    events = _run(backend, models=("vgg16", "lenet5", "resnet50"), device="cpu", budget_s=1.0)
    assert [c for c in backend.calls if c.startswith("build")] == ["build lenet5"]
    runs = {r.model: r for r in _runs(events)}
    assert runs["lenet5"].status == "ok"
    for name in ("vgg16", "resnet50"):
        assert runs[name].status == "skipped" and "exceeds the 1 s budget" in runs[name].message
    # nothing was built, so nothing was compared or reported as a build phase for them
    assert not any(
        e.get("model") in ("vgg16", "resnet50") and e["event"] == "phase" for e in events
    )


def test_a_model_skipped_on_the_cpu_is_still_built_for_its_gpu_run():
    backend = SlowCpuBackend()
    events = _run(backend, models=("vgg16",), device="all", budget_s=1.0)
    assert "build vgg16" in backend.calls
    by = {(r.device, r.status) for r in _runs(events)}
    assert ("cpu", "skipped") in by and ("cuda:0", "ok") in by


def test_the_cpu_has_its_own_budget_when_one_is_given():
    # --quick: 4 s per model on a GPU, 2 s on the CPU
    events = _run(FakeBackend(), budget_s=4.0, cpu_budget_s=0.3)
    budgets = {
        (e["device"], e["role"]): e["budget_s"]
        for e in events
        if e["event"] == "phase" and e["phase"] == "timing"
    }
    assert budgets[("cpu", "main")] == pytest.approx(0.3)
    assert budgets[("cuda:0", "main")] == pytest.approx(4.0 * 2 / 3)


def test_the_cpu_budget_decides_what_is_skipped():
    backend = SlowCpuBackend()
    # LeNet-5 fits 1 s on a 1 GFLOP/s CPU; at 0.01 s it does not, and is not even built
    events = _run(backend, device="cpu", budget_s=1.0, cpu_budget_s=0.01)
    (run,) = _runs(events)
    assert run.status == "skipped" and "exceeds the 0.01 s budget" in run.message
    assert not any(c.startswith("build") for c in backend.calls)


def test_the_advice_for_a_skipped_cpu_run_never_lowers_the_gpus_budget():
    # --quick on a GPU machine: 4 s per model on the GPU, a short CPU budget. LeNet-5 at
    # 1 GFLOP/s projects 0.09 s at batch 8, over a 0.05 s CPU budget: the advice read "raise
    # --time-budget to 1", and following it cut the GPU's 4 s to 1 s for every model
    events = _run(SlowCpuBackend(), device="all", budget_s=4.0, cpu_budget_s=0.05)
    (cpu,) = [r for r in _runs(events) if r.device == "cpu"]
    assert cpu.status == "skipped", cpu
    assert "raise --time-budget to 4 to run it" in cpu.message, cpu.message
    # without a GPU nothing else runs under --time-budget: the projection alone decides
    events = _run(SlowCpuBackend(), device="cpu", budget_s=4.0, cpu_budget_s=0.05)
    (cpu,) = _runs(events)
    assert "raise --time-budget to 1 to run it" in cpu.message, cpu.message
