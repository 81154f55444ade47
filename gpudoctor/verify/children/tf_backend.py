"""The TensorFlow/Keras half of a verify child: build, run and time the models in Keras."""

from __future__ import annotations

import contextlib
import gc
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from gpudoctor.refmodels.keras_builder import KERAS_MAJOR, keras_major
from gpudoctor.verify.children.driver import Config
from gpudoctor.verify.children.telemetry import Sampler, nvml_gpu_count, open_sampler
from gpudoctor.verify.model import FrameworkEnv, GpuInfo
from gpudoctor.verify.timing import PEAK_SIZES, Step, best_rate

_POLICY = {"amp-fp16": "mixed_float16", "amp-bf16": "mixed_bfloat16"}
INTER_OP_THREADS = 2


def tf_device(device: str) -> str:
    """``cuda:1`` -> ``/GPU:1``; ``cpu`` -> ``/CPU:0``."""
    return "/CPU:0" if device == "cpu" else f"/GPU:{device.split(':')[1]}"


def harness_limit(tf_version: str, keras_version: str, keras_backend: str | None) -> str | None:
    """Why this harness cannot verify this TensorFlow/Keras pair, or None when it can.

    The Keras side (keras_builder's ``keras.ops``, the optimizers' ``scale_loss``) is written
    for Keras 3, which TensorFlow ships as ``keras`` from 2.16 on. Older pairs are still what
    make-env recommends in places (TensorFlow 2.14 for Pascal on R470, 2.10 on native Windows),
    so this is reported as the harness's limit, never as a fault of the install.
    """
    major = keras_major(keras_version)
    if major is None or major < KERAS_MAJOR:
        return (
            f"verify's Keras side needs Keras {KERAS_MAJOR} (TensorFlow >= 2.16); TensorFlow "
            f"{tf_version} (Keras {keras_version}) was not verified: a limit of this harness, "
            "not a fault of the install (`gpudoctor check` still reads it)"
        )
    if keras_backend not in (None, "tensorflow"):
        return (
            f"verify's Keras side needs Keras's TensorFlow backend, not {keras_backend} "
            f"(KERAS_BACKEND); TensorFlow {tf_version} was not verified"
        )
    return None


def device_sync(tf: Any, where: str) -> Step:
    """Wait for the work queued on ``where``.

    ``tf.test.experimental.sync_devices`` is TensorFlow >= 2.13; before it, fetching a scalar
    computed on the device waits for everything queued there before it.
    """
    sync_devices = getattr(getattr(tf.test, "experimental", None), "sync_devices", None)
    if sync_devices is not None:
        return sync_devices  # type: ignore[no-any-return]

    def fetch() -> None:
        with tf.device(where):
            tf.reduce_sum(tf.zeros((1,))).numpy()

    return fetch


def _keras_backend(keras: Any) -> str | None:
    backend = getattr(getattr(keras, "backend", None), "backend", None)
    return str(backend()) if callable(backend) else None


class TfBackend:
    """Runs the models as Keras functional models, NHWC, under a mixed policy for AMP."""

    framework = "tensorflow"

    def __init__(self, modules: tuple[Any, Any] | None = None) -> None:
        """Import TensorFlow and Keras, or take ``(tf, keras)`` stand-ins (tests)."""
        if modules is None:
            # The TensorFlow child is the only user of Keras here, and it needs the TF backend.
            os.environ["KERAS_BACKEND"] = "tensorflow"
            import keras
            import tensorflow

            modules = (tensorflow, keras)
        self.tf, self.keras = modules
        self.cfg: Config | None = None
        self._names: dict[str, str] = {}

    def setup(self, cfg: Config) -> FrameworkEnv:
        """Memory growth, threads, TF32; then what this build and host offer."""
        tf = self.tf
        self.cfg = cfg
        keras_version = str(getattr(self.keras, "__version__", "unknown"))
        unsupported = harness_limit(tf.__version__, keras_version, _keras_backend(self.keras))
        warnings: list[str] = []
        physical = tf.config.list_physical_devices("GPU")
        if cfg.device == "cpu":
            tf.config.set_visible_devices([], "GPU")
            physical = []
        for gpu in physical:
            try:
                tf.config.experimental.set_memory_growth(gpu, True)
            except (RuntimeError, ValueError) as exc:
                # Typically "Physical devices cannot be modified after being initialized":
                # TensorFlow then takes all of the GPU's memory, so say so.
                warnings.append(
                    f"TensorFlow GPU memory growth could not be set on {gpu.name}: {exc} "
                    "(TensorFlow may hold all of that GPU's memory)"
                )
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
            unsupported=unsupported,
            warnings=tuple(warnings),
        )

    def device_name(self, device: str) -> str:
        """The GPU's name, or ``cpu``."""
        return self._names.get(device, "cpu")

    def sampler(self, device: str) -> Sampler:
        """NVML telemetry for this GPU (CUDA ordinals follow PCI order, as NVML's do)."""
        return open_sampler(None, int(device.split(":")[1]))

    def matmul_flops(self, device: str, precision: str) -> float:
        """Best dense matmul rate over a few short bursts (FLOP/s), in this run's precision."""
        tf = self.tf
        dtype = {"amp-fp16": tf.float16, "amp-bf16": tf.bfloat16}.get(precision, tf.float32)
        if device == "cpu":
            dtype = tf.float32
        best = 0.0
        sync = device_sync(tf, tf_device(device))
        for n in PEAK_SIZES["cpu" if device == "cpu" else "gpu"]:
            with tf.device(tf_device(device)):
                a = tf.random.normal((n, n), dtype=dtype)
                b = tf.random.normal((n, n), dtype=dtype)

                def op(a: Any = a, b: Any = b) -> None:
                    tf.linalg.matmul(a, b)

                best = max(best, best_rate(op, sync, 2.0 * n**3, gpu=device != "cpu"))
        return best

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
                # Keras 3 optimizers scale the loss themselves (identity unless loss-scaling).
                scale = getattr(opt, "scale_loss", None)

                def train() -> Any:
                    with tf.GradientTape() as tape:
                        out = model(x, training=True)
                        loss = loss_fn(y, tf.cast(out, tf.float32))
                        scaled = scale(loss) if scale is not None else loss
                    grads = tape.gradient(scaled, model.trainable_variables)
                    opt.apply_gradients(zip(grads, model.trainable_variables, strict=True))
                    return loss

                fn = tf.function(train)

        def step() -> None:
            with tf.device(where):
                fn()

        return step, device_sync(tf, where)

    def is_oom(self, exc: BaseException) -> bool:
        """True for TensorFlow's resource-exhausted (out of GPU memory)."""
        return isinstance(exc, self.tf.errors.ResourceExhaustedError) or "OOM" in str(exc)

    def recover_oom(self, model: Any) -> None:
        """Free the failed step's tensors (Keras keeps no gradients on the model)."""
        self.release()

    def release(self) -> None:
        """Drop the last model's tensors."""
        gc.collect()

    def layout(self, device: str) -> str:
        """Keras convolutions run channels-last everywhere."""
        return "nhwc"

    def rounding_logits(self, model: Any, x_nhwc: Any, precision: str) -> Any:
        """None: Keras has no hooks to emulate with; the torch child's figure is used instead."""
        return None

    def save_parity(self, model: Any, path: Path) -> None:
        """TensorFlow is the side that reads, never writes."""
        raise NotImplementedError

    def load_parity(self, model: Any, path: Path) -> None:
        """Give the CPU model the weights the torch child wrote."""
        from gpudoctor.refmodels.weights import load_numpy_into_keras, load_state

        load_numpy_into_keras(load_state(path), model)
