"""The TensorFlow/Keras half of a verify child: build, run and time the models in Keras."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from gpudoctor.verify.children.driver import Config
from gpudoctor.verify.children.telemetry import Sampler, nvml_gpu_count, open_sampler
from gpudoctor.verify.model import FrameworkEnv, GpuInfo
from gpudoctor.verify.timing import Step, best_rate

_POLICY = {"amp-fp16": "mixed_float16", "amp-bf16": "mixed_bfloat16"}
INTER_OP_THREADS = 2


def tf_device(device: str) -> str:
    """``cuda:1`` -> ``/GPU:1``; ``cpu`` -> ``/CPU:0``."""
    return "/CPU:0" if device == "cpu" else f"/GPU:{device.split(':')[1]}"


class TfBackend:
    """Runs the models as Keras functional models, NHWC, under a mixed policy for AMP."""

    framework = "tensorflow"

    def __init__(self) -> None:
        import keras
        import tensorflow as tf

        self.tf, self.keras = tf, keras
        self.cfg: Config | None = None
        self._names: dict[str, str] = {}

    def setup(self, cfg: Config) -> FrameworkEnv:
        """Memory growth, threads, TF32; then what this build and host offer."""
        tf = self.tf
        self.cfg = cfg
        physical = tf.config.list_physical_devices("GPU")
        if cfg.device == "cpu":
            tf.config.set_visible_devices([], "GPU")
            physical = []
        for gpu in physical:
            with contextlib.suppress(RuntimeError, ValueError):
                tf.config.experimental.set_memory_growth(gpu, True)
        tf.config.threading.set_intra_op_parallelism_threads(cfg.threads)
        tf.config.threading.set_inter_op_parallelism_threads(INTER_OP_THREADS)
        tf32 = cfg.precision != "fp32"
        tf.config.experimental.enable_tensor_float_32_execution(tf32)
        info = dict(tf.sysconfig.get_build_info())
        gpus = []
        for i, gpu in enumerate(physical):
            details = tf.config.experimental.get_device_details(gpu)
            cc = details.get("compute_capability")
            name = str(details.get("device_name", gpu.name))
            self._names[f"cuda:{i}"] = name
            gpus.append(
                GpuInfo(
                    device=f"cuda:{i}",
                    name=name,
                    compute_capability=f"{cc[0]}.{cc[1]}" if cc else None,
                )
            )
        cudnn = info.get("cudnn_version")
        count, nvml_error = nvml_gpu_count()
        return FrameworkEnv(
            framework="tensorflow",
            version=tf.__version__,
            cuda_build=bool(tf.test.is_built_with_cuda()),
            cuda_version=str(info["cuda_version"]) if info.get("cuda_version") else None,
            cudnn_version=str(cudnn) if cudnn else None,
            # TensorFlow has no switch to turn cuDNN off: a CUDA build with cuDNN uses it.
            cudnn_enabled=bool(cudnn) and bool(gpus),
            gpus=tuple(gpus),
            nvml_gpu_count=count,
            nvml_error=nvml_error,
            cpu_threads=tf.config.threading.get_intra_op_parallelism_threads(),
            inter_op_threads=tf.config.threading.get_inter_op_parallelism_threads(),
            tf32=tf32,
        )

    def device_name(self, device: str) -> str:
        """The GPU's name, or ``cpu``."""
        return self._names.get(device, "cpu")

    def sampler(self, device: str) -> Sampler:
        """NVML telemetry for this GPU (CUDA ordinals follow PCI order, as NVML's do)."""
        return open_sampler(None, int(device.split(":")[1]))

    def _sync(self) -> None:
        self.tf.test.experimental.sync_devices()

    def matmul_flops(self, device: str, precision: str) -> float:
        """Best dense matmul rate over a few short bursts (FLOP/s), in this run's precision."""
        tf = self.tf
        n = 2048 if device == "cpu" else 8192
        dtype = {"amp-fp16": tf.float16, "amp-bf16": tf.bfloat16}.get(precision, tf.float32)
        if device == "cpu":
            dtype = tf.float32
        with tf.device(tf_device(device)):
            a = tf.random.normal((n, n), dtype=dtype)
            b = tf.random.normal((n, n), dtype=dtype)

            def op() -> None:
                tf.linalg.matmul(a, b)

            return best_rate(op, self._sync, 2.0 * n**3)

    @contextlib.contextmanager
    def _policy(self, device: str) -> Iterator[None]:
        """The mixed policy while a GPU model is built under AMP; float32 otherwise."""
        keras = self.keras
        policy = _POLICY.get(self.cfg.precision if self.cfg else "fp32")
        if device == "cpu" or policy is None:
            yield
            return
        keras.mixed_precision.set_global_policy(policy)
        try:
            yield
        finally:
            keras.mixed_precision.set_global_policy("float32")

    def build_cpu(self, name: str) -> Any:
        """The model with its variables on the CPU, float32, seeded weights."""
        from gpudoctor.refmodels.keras_builder import build_keras

        with self.tf.device("/CPU:0"):
            return build_keras(name, seed=0)

    def to_gpu(self, model: Any, name: str, device: str) -> Any:
        """The same model built on ``device`` (mixed policy under AMP), given the CPU weights."""
        from gpudoctor.refmodels.keras_builder import build_keras

        with self.tf.device(tf_device(device)), self._policy(device):
            twin = build_keras(name)
            twin.set_weights(model.get_weights())
        return twin

    def logits(self, model: Any, x_nhwc: Any, device: str) -> Any:
        """Inference-mode logits as a float32 numpy array."""
        tf = self.tf
        with tf.device(tf_device(device)):
            out = model(tf.constant(x_nhwc), training=False)
            if isinstance(out, list | tuple):
                out = out[0]
            return tf.cast(out, tf.float32).numpy()

    def timed_step(self, model: Any, name: str, batch: int, device: str) -> tuple[Step, Step]:
        """A traced inference or training step on a synthetic batch made on the device."""
        from gpudoctor.refmodels import get_spec

        tf, keras = self.tf, self.keras
        assert self.cfg is not None
        spec = get_spec(name)
        where = tf_device(device)
        with tf.device(where):
            x = tf.random.normal((batch, *spec.input_shape))
            if self.cfg.mode == "inference":
                fn = tf.function(lambda: model(x, training=False))
            else:
                y = tf.random.uniform((batch,), 0, spec.num_classes, dtype=tf.int32)
                opt: Any = keras.optimizers.SGD(learning_rate=1e-4, momentum=0.9)
                if device != "cpu" and self.cfg.precision == "amp-fp16":
                    opt = keras.mixed_precision.LossScaleOptimizer(opt)
                opt.build(model.trainable_variables)
                loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

                def train() -> Any:
                    with tf.GradientTape() as tape:
                        out = model(x, training=True)
                        loss = loss_fn(y, tf.cast(out, tf.float32))
                        scaled = opt.scale_loss(loss)
                    grads = tape.gradient(scaled, model.trainable_variables)
                    opt.apply_gradients(zip(grads, model.trainable_variables, strict=True))
                    return loss

                fn = tf.function(train)

        def step() -> None:
            with tf.device(where):
                fn()

        return step, self._sync

    def is_oom(self, exc: BaseException) -> bool:
        """True for TensorFlow's resource-exhausted (out of GPU memory)."""
        return isinstance(exc, self.tf.errors.ResourceExhaustedError) or "OOM" in str(exc)

    def release(self) -> None:
        """Drop the last model's tensors."""
        gc.collect()

    def save_parity(self, model: Any, path: Path) -> None:
        """TensorFlow is the side that reads, never writes."""
        raise NotImplementedError

    def load_parity(self, model: Any, path: Path) -> None:
        """Give the CPU model the weights the torch child wrote."""
        from gpudoctor.refmodels.weights import load_numpy_into_keras, load_state

        load_numpy_into_keras(load_state(path), model)
