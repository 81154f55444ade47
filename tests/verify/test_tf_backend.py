"""The TensorFlow child's set-up on stand-in modules: Keras 2 is a harness limit, memory growth."""

from __future__ import annotations

import sys
from types import SimpleNamespace
from typing import Any

import pytest

from gpudoctor.refmodels.keras_builder import build_keras
from gpudoctor.verify.children import tf_backend
from gpudoctor.verify.children.driver import Config
from gpudoctor.verify.children.tf_backend import TfBackend, device_sync, harness_limit


class FakeTensor:
    def __init__(self, log: list[str]) -> None:
        self.log = log

    def numpy(self) -> float:
        self.log.append("numpy")
        return 0.0


def fake_tf(
    version: str = "2.21.0", growth_error: Exception | None = None, sync_devices: bool = True
) -> Any:
    """Just enough of ``tensorflow`` for TfBackend.setup and device_sync, with one GPU."""
    log: list[str] = []
    threads = {"intra": 0, "inter": 0}
    gpu = SimpleNamespace(name="/physical_device:GPU:0", device_type="GPU")

    def set_memory_growth(device: Any, enable: bool) -> None:
        if growth_error is not None:
            raise growth_error
        log.append(f"growth {device.name}")

    experimental = SimpleNamespace(
        set_memory_growth=set_memory_growth,
        enable_tensor_float_32_execution=lambda on: log.append(f"tf32 {on}"),
        get_device_details=lambda d: {"compute_capability": (8, 0), "device_name": "Fake A100"},
    )
    threading = SimpleNamespace(
        set_intra_op_parallelism_threads=lambda n: threads.update(intra=n),
        set_inter_op_parallelism_threads=lambda n: threads.update(inter=n),
        get_intra_op_parallelism_threads=lambda: threads["intra"],
        get_inter_op_parallelism_threads=lambda: threads["inter"],
    )
    test_experimental = SimpleNamespace()
    if sync_devices:
        test_experimental.sync_devices = lambda: log.append("sync_devices")

    class Where:
        def __init__(self, name: str) -> None:
            self.name = name

        def __enter__(self) -> None:
            log.append(f"on {self.name}")

        def __exit__(self, *exc: object) -> None:
            pass

    return SimpleNamespace(
        __version__=version,
        log=log,
        config=SimpleNamespace(
            list_physical_devices=lambda kind: [gpu],
            set_visible_devices=lambda devices, kind: log.append("hide GPUs"),
            experimental=experimental,
            threading=threading,
        ),
        sysconfig=SimpleNamespace(
            get_build_info=lambda: {"cuda_version": "12.3", "cudnn_version": "8"}
        ),
        test=SimpleNamespace(is_built_with_cuda=lambda: True, experimental=test_experimental),
        device=Where,
        zeros=lambda shape: FakeTensor(log),
        reduce_sum=lambda t: t,
    )


def fake_keras(version: str = "3.15.1", backend: str = "tensorflow") -> Any:
    return SimpleNamespace(__version__=version, backend=SimpleNamespace(backend=lambda: backend))


@pytest.fixture(autouse=True)
def _no_nvml(monkeypatch):
    monkeypatch.setattr(tf_backend, "nvml_gpu_count", lambda: (1, None))


def _setup(tf: Any, keras: Any, device: str = "all") -> Any:
    backend = TfBackend((tf, keras))
    return backend.setup(Config(models=("lenet5",), device=device, threads=2))


def test_keras_3_on_tensorflow_is_verifiable():
    env = _setup(fake_tf(), fake_keras())
    assert env.unsupported is None and env.warnings == ()
    assert [g.name for g in env.gpus] == ["Fake A100"]


@pytest.mark.parametrize(
    ("tf_version", "keras_version"), [("2.14.1", "2.14.0"), ("2.10.1", "2.10.0")]
)
def test_keras_2_is_reported_as_the_harness_limit_not_a_broken_install(tf_version, keras_version):
    env = _setup(fake_tf(tf_version), fake_keras(keras_version))
    assert env.unsupported is not None
    assert "needs Keras 3 (TensorFlow >= 2.16)" in env.unsupported
    assert f"TensorFlow {tf_version}" in env.unsupported and "not verified" in env.unsupported
    assert env.error is None
    # what setup saw is still recorded, so the verdict can judge the GPU it found
    assert env.version == tf_version and len(env.gpus) == 1


def test_keras_3_on_another_backend_is_not_verifiable():
    assert "KERAS_BACKEND" in (harness_limit("2.21.0", "3.15.1", "jax") or "")
    assert harness_limit("2.21.0", "3.15.1", "tensorflow") is None
    assert harness_limit("2.15.0", "3.0.0", None) is None
    assert harness_limit("2.21.0", "not-a-version", "tensorflow") is not None


def test_memory_growth_that_cannot_be_set_is_recorded():
    error = RuntimeError("Physical devices cannot be modified after being initialized")
    env = _setup(fake_tf(growth_error=error), fake_keras())
    (warning,) = env.warnings
    assert warning.startswith("TensorFlow GPU memory growth could not be set")
    assert "cannot be modified after being initialized" in warning
    assert "GPU:0" in warning


def test_memory_growth_is_set_on_every_gpu():
    tf = fake_tf()
    env = _setup(tf, fake_keras())
    assert "growth /physical_device:GPU:0" in tf.log and env.warnings == ()


def test_sync_uses_sync_devices_where_tensorflow_has_it():
    tf = fake_tf()
    device_sync(tf, "/GPU:0")()
    assert tf.log == ["sync_devices"]


def test_sync_falls_back_to_a_scalar_fetch_on_the_device_before_tensorflow_2_13():
    tf = fake_tf("2.12.0", sync_devices=False)
    device_sync(tf, "/GPU:1")()
    assert tf.log == ["on /GPU:1", "numpy"]


def test_the_keras_builder_refuses_keras_2_in_one_line(monkeypatch):
    monkeypatch.setitem(sys.modules, "keras", fake_keras("2.14.0"))
    with pytest.raises(RuntimeError, match=r"need Keras 3 .*this is Keras 2\.14\.0"):
        build_keras("lenet5")
