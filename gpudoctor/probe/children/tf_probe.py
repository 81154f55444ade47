"""Child process (stdlib + tensorflow): TF's build info, the GPUs it registers, what failed to load.

Runs under the inspected interpreter (which may lack gpudoctor) and prints one JSON line with
the field names of gpudoctor.model.report.FrameworkInfo. TF's own log lines on stderr (which
library it could not dlopen) are parsed by the parent.
"""

from __future__ import annotations

import ctypes
import importlib.util
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

if __package__:  # imported as gpudoctor.probe.children.* (the tests)
    from gpudoctor.probe.children._shared import (
        ImportLog,
        cudnn_library,
        first_line,
        gpu_allowed,
        mapped_libraries,
        nvidia_requires,
    )
else:  # run as a script: this folder is sys.path[0], whatever the interpreter
    from _shared import (  # type: ignore[import-not-found,no-redef]
        ImportLog,
        cudnn_library,
        first_line,
        gpu_allowed,
        mapped_libraries,
        nvidia_requires,
    )


LIB_FRAGMENTS = (
    "libcuda.",
    "libcudart",
    "libcudnn",
    "libcublas",
    "libnvjitlink",
    "libnvrtc",
    "libcufft",
    "libcusparse",
    "libcusolver",
)


def loaded_cuda_libraries() -> list[str]:
    """CUDA libraries mapped into this process (Linux /proc/self/maps), in load order."""
    return mapped_libraries(LIB_FRAGMENTS)


# The sonames stream_executor's dso_loader opens, per CUDA major of the build. CUDA 11.x keeps
# libcudart.so.11.0 for every minor and ships cuFFT 10; 11.0 (TF 2.4) still had cuSOLVER 10
# (tensorflow/tensorflow#45848, #48498). nvJitLink exists from CUDA 12 on. TF has no CUDA 13
# build yet (shared/reference/compatibility.md §3): only the sonames that follow the toolkit's
# own major are listed there; cuFFT, cuSPARSE and cuSOLVER (own majors) are left out, unverified.
SONAMES: dict[str, dict[str, str]] = {
    "11": {
        "cudart": "libcudart.so.11.0",
        "cublas": "libcublas.so.11",
        "cublaslt": "libcublasLt.so.11",
        "cufft": "libcufft.so.10",
        "cusparse": "libcusparse.so.11",
        "cusolver": "libcusolver.so.11",
    },
    "12": {
        "cudart": "libcudart.so.12",
        "cublas": "libcublas.so.12",
        "cublaslt": "libcublasLt.so.12",
        "cufft": "libcufft.so.11",
        "cusparse": "libcusparse.so.12",
        "cusolver": "libcusolver.so.11",
        "nvjitlink": "libnvJitLink.so.12",
    },
    "13": {
        "cudart": "libcudart.so.13",
        "cublas": "libcublas.so.13",
        "cublaslt": "libcublasLt.so.13",
        "nvjitlink": "libnvJitLink.so.13",
    },
}


def _major(version: str) -> str:
    return version.strip().split(".", maxsplit=1)[0]


def needed_sonames(cuda: str, cudnn: str, tf_version: str = "") -> dict[str, str]:
    """The sonames a CUDA build of TF dlopens at start-up ({} for a CUDA major not known)."""
    major = _major(cuda) or "12"
    table = SONAMES.get(major)
    if table is None:
        return {}
    names = dict(table)
    if cuda.strip() in ("11.0", "11.0.0"):
        names["cusolver"] = "libcusolver.so.10"
    cudnn_major = _major(cudnn)
    if not cudnn_major.isdigit():
        # Tested builds: cuDNN 8 up to TF 2.17, cuDNN 9 from TF 2.18 (CUDA 12.5).
        cudnn_major = "8" if major == "11" or _older_than_2_18(tf_version) else "9"
    names["cudnn"] = f"libcudnn.so.{cudnn_major}"
    return names


def _older_than_2_18(tf_version: str) -> bool:
    parts = tf_version.split(".")
    try:
        return (int(parts[0]), int(parts[1])) < (2, 18)
    except (IndexError, ValueError):
        return False


def dlopen_failures(sonames: dict[str, str]) -> list[dict[str, str]]:
    """Sonames that neither the loader nor the nvidia-* wheels next to TF can provide."""
    wheel_dirs = [
        d
        for base in sys.path
        if base.endswith(("site-packages", "dist-packages"))
        for d in Path(base).glob("nvidia/*/lib")
    ]
    failed = []
    for name, soname in sonames.items():
        error = None
        for target in [soname, *(str(d / soname) for d in wheel_dirs)]:
            if target != soname and not Path(target).exists():
                continue
            try:
                ctypes.CDLL(target)
            except OSError as exc:
                error = error or str(exc)
                continue
            error = None
            break
        else:
            failed.append({"name": name, "soname": soname, "error": error or "not found"})
    return failed


def smoke(t: Any, index: int) -> dict[str, object]:
    device: dict[str, object] = {"index": index}
    try:
        gpu = t.config.list_physical_devices("GPU")[index]
        details = t.config.experimental.get_device_details(gpu)
        device["name"] = details.get("device_name")
        cc = details.get("compute_capability")
        if cc:
            device["compute_capability"] = f"{cc[0]}.{cc[1]}"
        a = t.random.stateless_normal((64, 64), seed=(1, 2))
        b = t.random.stateless_normal((64, 64), seed=(3, 4))
        with t.device("/CPU:0"):
            expected = t.matmul(a, b)
        with t.device(f"/GPU:{index}"):
            got = t.matmul(a, b)
        diff = float(t.reduce_max(t.abs(t.identity(got) - expected)))
        # A convolution on the GPU goes through cuDNN (a matmul does not): a cuDNN that does
        # not fit the build fails here ("Loaded runtime CuDNN library: 8.1.0 but source was
        # compiled with: 8.6.0", "DNN library is not found").
        x = t.random.stateless_normal((1, 8, 8, 4), seed=(5, 6))
        w = t.random.stateless_normal((3, 3, 4, 4), seed=(7, 8))
        with t.device("/CPU:0"):
            conv_expected = t.nn.conv2d(x, w, strides=1, padding="SAME")
        with t.device(f"/GPU:{index}"):
            conv_got = t.nn.conv2d(x, w, strides=1, padding="SAME")
        diff = max(diff, float(t.reduce_max(t.abs(t.identity(conv_got) - conv_expected))))
        device["max_abs_diff"] = diff
        device["smoke_ok"] = diff < 1e-2
    except Exception as exc:  # any failure here is itself the finding
        device["smoke_ok"] = False
        device["smoke_error"] = first_line(exc)
    return device


def probe() -> dict[str, object]:
    out: dict[str, object] = {"name": "tensorflow", "python_version": platform.python_version()}
    if importlib.util.find_spec("tensorflow") is None:
        out["status"] = "not_installed"
        return out
    start = time.monotonic()
    out["requires"] = _nvidia_requires()
    with ImportLog() as log:
        try:
            import tensorflow as tf_module
        except Exception as exc:  # any failure here is itself the finding
            failure: Exception | None = exc
        else:
            failure = None
    if failure is not None:
        message = f"import tensorflow failed: {first_line(failure)}"
        out.update(status="import_error", message=message)
        out["import_messages"] = log.notes(failure)
        out["loaded_libraries"] = loaded = loaded_cuda_libraries()
        cudnn = cudnn_library(loaded)  # a shadowing cuDNN that broke the import, by its file
        if cudnn is not None:
            out["cudnn_library"] = cudnn
        return out
    tf: Any = tf_module
    out["status"] = "ok"
    if notes := log.notes():
        out["import_messages"] = notes
    out["version"] = str(tf.__version__)
    try:
        info = dict(tf.sysconfig.get_build_info())
    except Exception:  # any failure here is itself the finding
        info = {}
    cuda_build = bool(info.get("is_cuda_build", False))
    out["cuda_build"] = cuda_build
    out["build_cuda"] = info.get("cuda_version") or None
    out["build_cudnn"] = info.get("cudnn_version") or None
    out["arch_list"] = [str(a) for a in info.get("cuda_compute_capabilities", []) or []]
    out.update(gpu_backend(info, None, sys.platform))
    if not gpu_allowed():
        out["duration_s"] = round(time.monotonic() - start, 3)
        return out
    try:
        gpus = tf.config.list_physical_devices("GPU")
    except Exception as exc:  # any failure here is itself the finding
        gpus = []
        out["init_error"] = first_line(exc)
    out["device_count"] = len(gpus)
    out["cuda_available"] = bool(gpus)
    out.update(gpu_backend(info, len(gpus), sys.platform))
    out["devices"] = [smoke(tf, i) for i in range(len(gpus))]
    if cuda_build and not gpus and sys.platform.startswith("linux"):
        sonames = needed_sonames(
            str(out["build_cuda"] or ""), str(out["build_cudnn"] or ""), str(out["version"])
        )
        out["failed_libraries"] = dlopen_failures(sonames)
    if sys.platform.startswith("win") and not cuda_build:
        out["message"] = "TensorFlow 2.11+ has no GPU support on native Windows (use WSL2)"
    out["loaded_libraries"] = loaded = loaded_cuda_libraries()
    cudnn = cudnn_library(loaded)
    if cudnn is not None:
        out["cudnn_library"] = cudnn
        if cudnn.get("version"):
            out["cudnn_runtime"] = cudnn["version"]
    out["duration_s"] = round(time.monotonic() - start, 3)
    return out


def gpu_backend(info: dict[str, Any], gpus: int | None, platform: str) -> dict[str, object]:
    """A TensorFlow that lists GPUs other than NVIDIA's: a ROCm build (``is_rocm_build`` in its
    build info), or on macOS, which has no CUDA, the GPUs of Apple's Metal plugin; ``gpus`` is
    None before the GPU was asked (only the build is known then)."""
    if info.get("is_rocm_build"):
        out: dict[str, object] = {"gpu_backend": "rocm"}
    elif platform == "darwin" and gpus:
        out = {"gpu_backend": "metal"}
    else:
        return {}
    if gpus is not None:
        out["gpu_backend_devices"] = gpus
    return out


def _nvidia_requires() -> list[str]:
    return nvidia_requires("tensorflow", "tensorflow-cpu", "tf-nightly")


if __name__ == "__main__":
    print(json.dumps(probe()))
    sys.stdout.flush()
    sys.stderr.flush()  # the framework's own log lines, which the parent reads too
    # Skip the interpreter's teardown: unloading the framework takes up to a second and tells
    # the parent nothing (the answer is already out).
    os._exit(0)
