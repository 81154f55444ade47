"""The PyTorch half of a verify child: build, run and time the reference models in torch."""

from __future__ import annotations

import contextlib
import copy
import gc
from pathlib import Path
from typing import Any

from gpudoctor.verify.children.driver import Config
from gpudoctor.verify.children.telemetry import Sampler, nvml_gpu_count, open_sampler
from gpudoctor.verify.model import FrameworkEnv, GpuInfo
from gpudoctor.verify.timing import PEAK_SIZES, Step, best_rate

TENSOR_CORE_CC = (7, 0)
"""Volta and newer have tensor cores, where channels-last pays under AMP (benchmarks.md §9.1)."""
OOM_MESSAGES = ("out of memory", "CUDNN_STATUS_ALLOC_FAILED", "CUBLAS_STATUS_ALLOC_FAILED")
"""RuntimeError texts that mean the GPU ran out of memory (cuDNN and cuBLAS say it their way)."""


class TorchBackend:
    """Runs the models as torch modules, NCHW, with autocast for the AMP precisions."""

    framework = "torch"

    def __init__(self, torch_module: Any = None) -> None:
        """Import torch, or take a stand-in (tests)."""
        if torch_module is None:
            import torch

            torch_module = torch
        self.torch = torch_module
        self.cfg: Config | None = None
        self._cc: dict[str, tuple[int, int]] = {}

    # --- set-up ------------------------------------------------------------------------------

    def setup(self, cfg: Config) -> FrameworkEnv:
        """Threads, cuDNN autotuner, TF32 flags; then what this build and host offer."""
        torch = self.torch
        self.cfg = cfg
        torch.set_num_threads(cfg.threads)
        torch.backends.cudnn.benchmark = True
        tf32 = cfg.precision != "fp32"
        torch.backends.cuda.matmul.allow_tf32 = tf32
        torch.backends.cudnn.allow_tf32 = tf32
        gpus: list[GpuInfo] = []
        cudnn_version = None
        if cfg.device != "cpu" and torch.cuda.is_available():
            for i in range(torch.cuda.device_count()):
                props = torch.cuda.get_device_properties(i)
                self._cc[f"cuda:{i}"] = (props.major, props.minor)
                gpus.append(
                    GpuInfo(
                        device=f"cuda:{i}",
                        name=props.name,
                        compute_capability=f"{props.major}.{props.minor}",
                        memory_mib=int(props.total_memory // 2**20),
                    )
                )
            version = (
                torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None
            )
            cudnn_version = str(version) if version else None
        count, nvml_error = nvml_gpu_count()
        return FrameworkEnv(
            unverified_gpus=None if cfg.device == "cpu" else unverified_gpus(torch),
            framework="torch",
            version=torch.__version__,
            cuda_build=torch.version.cuda is not None,
            cuda_version=torch.version.cuda,
            cudnn_version=cudnn_version,
            cudnn_enabled=bool(cudnn_version) and bool(torch.backends.cudnn.enabled),
            gpus=tuple(gpus),
            nvml_gpu_count=count,
            nvml_error=nvml_error,
            cpu_threads=torch.get_num_threads(),
            inter_op_threads=torch.get_num_interop_threads(),
            tf32=tf32,
        )

    def device_name(self, device: str) -> str:
        """The GPU's name, or ``cpu``."""
        if device == "cpu":
            return "cpu"
        return str(self.torch.cuda.get_device_name(self.torch.device(device)))

    def sampler(self, device: str) -> Sampler:
        """NVML telemetry for this GPU, found by its UUID."""
        props = self.torch.cuda.get_device_properties(self.torch.device(device))
        uuid = getattr(props, "uuid", None)
        text = str(uuid) if uuid is not None else None
        if text and not text.startswith(("GPU-", "MIG-")):
            text = f"GPU-{text}"
        return open_sampler(text, int(device.split(":")[1]))

    def layout(self, device: str) -> str:
        """``channels_last`` or ``nchw`` for this device, from ``--layout``.

        ``auto``: channels-last on the CPU (measured faster there: ResNet-50 at batch 16 on
        the 2-core build VM, 16 -> 24 images/s) and for AMP on GPUs with tensor cores (an H200
        ran ResNet-50 at 1.37x in fp16, 1.53x in bf16), as NVIDIA's published figures are
        taken; NCHW otherwise, with channels-last an option.
        """
        cfg = self.cfg
        asked = cfg.layout if cfg is not None else "auto"
        if asked in ("nchw", "channels-last"):
            return asked.replace("-", "_")
        if device == "cpu":
            return "channels_last"
        amp = cfg is not None and cfg.precision.startswith("amp")
        tensor_cores = self._cc.get(device, (0, 0)) >= TENSOR_CORE_CC
        return "channels_last" if amp and tensor_cores else "nchw"

    def _format(self, device: str) -> Any:
        torch = self.torch
        if self.layout(device) == "channels_last":
            return torch.channels_last
        return torch.contiguous_format

    # --- measuring ---------------------------------------------------------------------------

    def _sync(self, device: str) -> Step:
        if device == "cpu":
            return lambda: None
        dev = self.torch.device(device)
        return lambda: self.torch.cuda.synchronize(dev)

    def _dtype(self, precision: str) -> Any:
        torch = self.torch
        return {"amp-fp16": torch.float16, "amp-bf16": torch.bfloat16}.get(precision, torch.float32)

    def matmul_flops(self, device: str, precision: str) -> float:
        """Best dense matmul rate over a few short bursts (FLOP/s), in this run's precision."""
        torch = self.torch
        dtype = torch.float32 if device == "cpu" else self._dtype(precision)
        sync = self._sync(device)
        best = 0.0
        for n in PEAK_SIZES["cpu" if device == "cpu" else "gpu"]:
            a = torch.randn(n, n, device=device, dtype=dtype)
            b = torch.randn(n, n, device=device, dtype=dtype)

            def op(a: Any = a, b: Any = b) -> None:
                torch.mm(a, b)

            best = max(best, best_rate(op, sync, 2.0 * n**3, gpu=device != "cpu"))
        return best

    def _autocast(self, device: str) -> Any:
        cfg = self.cfg
        if device == "cpu" or cfg is None or not cfg.precision.startswith("amp"):
            return contextlib.nullcontext()
        return self.torch.autocast("cuda", dtype=self._dtype(cfg.precision))

    # --- models ------------------------------------------------------------------------------

    def build_cpu(self, name: str) -> Any:
        """The model on the CPU, float32, eval mode, seeded weights."""
        from gpudoctor.refmodels.torch_builder import build_torch

        return build_torch(name, seed=0).to(memory_format=self._format("cpu"))

    def to_gpu(self, model: Any, name: str, device: str) -> Any:
        """A copy of the CPU model (same weights) on ``device``, in that device's layout."""
        return copy.deepcopy(model).to(device, memory_format=self._format(device))

    def logits(self, model: Any, x_nhwc: Any, device: str) -> Any:
        """Eval-mode logits as a float32 numpy array."""
        torch = self.torch
        x = torch.from_numpy(x_nhwc.transpose(0, 3, 1, 2).copy()).to(device)
        x = x.contiguous(memory_format=self._format(device))
        model.eval()
        with torch.inference_mode(), self._autocast(device):
            out = _main_output(model(x))
        return out.float().cpu().numpy()

    def rounding_logits(self, model: Any, x_nhwc: Any, precision: str) -> Any:
        """CPU logits with ``precision``'s rounding emulated (rounding.py); None for fp32."""
        from gpudoctor.verify.children.rounding import emulating, rounder

        torch = self.torch
        if rounder(torch, precision) is None:
            return None
        x = torch.from_numpy(x_nhwc.transpose(0, 3, 1, 2).copy())
        x = x.contiguous(memory_format=self._format("cpu"))
        model.eval()
        with emulating(torch, model, precision), torch.inference_mode():
            out = _main_output(model(x))
        return out.float().numpy()

    def timed_step(self, model: Any, name: str, batch: int, device: str) -> tuple[Step, Step]:
        """One inference or training step on a synthetic batch made on the device."""
        from gpudoctor.refmodels import get_spec

        torch = self.torch
        assert self.cfg is not None
        spec = get_spec(name)
        h, w, c = spec.input_shape
        x = torch.randn(batch, c, h, w, device=device).contiguous(
            memory_format=self._format(device)
        )
        autocast = self._autocast
        if self.cfg.mode == "inference":
            model.eval()

            def infer() -> None:
                with torch.inference_mode(), autocast(device):
                    model(x)

            return infer, self._sync(device)
        model.train()
        y = torch.randint(0, spec.num_classes, (batch,), device=device)
        opt = torch.optim.SGD(model.parameters(), lr=1e-4, momentum=0.9)
        fp16 = device != "cpu" and self.cfg.precision == "amp-fp16"
        # torch.amp.GradScaler is torch >= 2.3; older releases keep it under torch.cuda.amp.
        scaler_class = getattr(torch.amp, "GradScaler", None)
        scaler = (
            scaler_class("cuda", enabled=fp16)
            if scaler_class is not None
            else torch.cuda.amp.GradScaler(enabled=fp16)
        )

        def train() -> None:
            with autocast(device):
                loss = torch.nn.functional.cross_entropy(_main_output(model(x)).float(), y)
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
            opt.zero_grad(set_to_none=True)

        return train, self._sync(device)

    def is_oom(self, exc: BaseException) -> bool:
        """True for CUDA out-of-memory, including cuDNN's and cuBLAS's allocation failures."""
        # torch.cuda.OutOfMemoryError is torch >= 1.13; before it, a RuntimeError says so.
        oom_class = getattr(self.torch.cuda, "OutOfMemoryError", None)
        if oom_class is not None and isinstance(exc, oom_class):
            return True
        return isinstance(exc, RuntimeError) and any(m in str(exc) for m in OOM_MESSAGES)

    def recover_oom(self, model: Any) -> None:
        """Drop what a failed step left on the GPU before retrying at a smaller batch."""
        # A backward pass that ran out of memory leaves .grad tensors on the model.
        model.zero_grad(set_to_none=True)
        self.release()

    def release(self) -> None:
        """Give cached GPU memory back between models."""
        gc.collect()
        if self.torch.cuda.is_available():
            self.torch.cuda.empty_cache()

    # --- parity with Keras -------------------------------------------------------------------

    def save_parity(self, model: Any, path: Path) -> None:
        """Write the weights as numpy arrays for the Keras child."""
        from gpudoctor.refmodels.weights import save_state, torch_state_to_numpy

        save_state(torch_state_to_numpy(model), path)

    def load_parity(self, model: Any, path: Path) -> None:
        """Torch is the side that writes, never reads."""
        raise NotImplementedError


def unverified_gpus(torch: Any) -> str | None:
    """The GPUs this build can use outside torch.cuda, which verify runs no model on: Apple's
    through MPS, Intel's through XPU (a ROCm build's are torch.cuda's, and verified)."""
    try:
        if torch.backends.mps.is_available():
            return "the Apple GPU (MPS)"
        xpu = getattr(torch, "xpu", None)
        if getattr(torch.version, "xpu", None) and xpu is not None and xpu.is_available():
            count = int(xpu.device_count())
            return f"{count} Intel GPU{'s' if count != 1 else ''} (XPU)"
    except Exception:  # an old torch without these: none that it could use
        return None
    return None


def _main_output(out: Any) -> Any:
    return out[0] if isinstance(out, tuple | list) else out
