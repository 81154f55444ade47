"""Child process (stdlib + torch): what PyTorch was built with and what it can really use.

Runs under the inspected interpreter (which may lack gpudoctor) and prints one JSON line with
the field names of gpudoctor.model.report.FrameworkInfo.
"""

from __future__ import annotations

import importlib.util
import itertools
import json
import os
import platform
import sys
import time
import warnings
from typing import Any

if __package__:  # imported as gpudoctor.probe.children.* (the tests)
    from gpudoctor.probe.children._shared import (
        ImportLog,
        cudnn_library,
        decode_cudnn,
        first_line,
        gpu_allowed,
        mapped_libraries,
        nvidia_requires,
    )
else:  # run as a script: this folder is sys.path[0], whatever the interpreter
    from _shared import (  # type: ignore[import-not-found,no-redef]
        ImportLog,
        cudnn_library,
        decode_cudnn,
        first_line,
        gpu_allowed,
        mapped_libraries,
        nvidia_requires,
    )


LIB_FRAGMENTS = ("libcuda.", "libcudart", "libcudnn", "libcublas", "libnvjitlink", "libnvrtc")


def loaded_cuda_libraries() -> list[str]:
    """CUDA libraries mapped into this process (Linux /proc/self/maps), in load order."""
    return mapped_libraries(LIB_FRAGMENTS)


def _libraries_so_far(out: dict[str, object]) -> None:
    """The CUDA libraries mapped so far and the cuDNN file among them, into ``out``."""
    out["loaded_libraries"] = loaded = loaded_cuda_libraries()
    cudnn = cudnn_library(loaded)
    if cudnn is not None:
        out["cudnn_library"] = cudnn


def _arch_key(flag: str) -> tuple[int, int, str, str]:
    """sm_50 < sm_90 < sm_90a < compute_90 < sm_100; a flag without ``_<number>`` goes last."""
    prefix, _, number = flag.partition("_")
    digits = "".join(itertools.takewhile(str.isdigit, number))
    if not digits:
        return (sys.maxsize, 0, "", flag)
    return (int(digits), 0 if prefix == "sm" else 1, number[len(digits) :], flag)


def sort_arch_flags(flags: str) -> list[str]:
    """The build's arch flags (``sm_90 sm_100 compute_90``), unique, in numeric order."""
    return sorted(set(flags.split()), key=_arch_key)


def arch_list(torch: Any) -> list[str]:
    # torch.cuda.get_arch_list() is [] whenever CUDA is unavailable; the build's flags are not.
    try:
        flags = torch._C._cuda_getArchFlags()
        if flags:
            return sort_arch_flags(str(flags))
    except Exception:  # an odd build must not cost the whole probe: try the public call
        pass
    try:
        return list(torch.cuda.get_arch_list())
    except (AttributeError, RuntimeError):
        return []


def conv(t: Any, device: str) -> dict[str, object]:
    """A small 2-D convolution on ``device`` (``cuda:0``), which goes through cuDNN (a matmul
    never does), against the CPU's: a cuDNN that loads but cannot run (a sub-library missing
    from the wheel or taken from another install) fails here, as in the TensorFlow probe."""
    try:
        gen = t.Generator().manual_seed(1)
        x = t.randn(1, 4, 8, 8, generator=gen)
        w = t.randn(4, 4, 3, 3, generator=gen)
        expected = t.nn.functional.conv2d(x, w, padding=1)
        got = t.nn.functional.conv2d(x.to(device), w.to(device), padding=1)
        diff = float((got.cpu() - expected).abs().max())
        # relative: cuDNN may use TF32 for convolutions (PyTorch's default allows it)
        scale = max(1.0, float(expected.abs().max()))
        return {"conv_ok": diff / scale < 1e-2}
    except Exception as exc:  # any failure here is itself the finding
        return {"conv_ok": False, "conv_error": first_line(exc)}


def smoke(t: Any, index: int) -> dict[str, object]:
    """A 64x64 matmul on GPU ``index`` against the same matmul on the CPU, then a convolution
    (recorded apart: ``conv_ok``)."""
    device: dict[str, object] = {"index": index}
    try:
        device["name"] = t.cuda.get_device_name(index)
        major, minor = t.cuda.get_device_capability(index)
        device["compute_capability"] = f"{major}.{minor}"
        gen = t.Generator().manual_seed(0)
        a = t.randn(64, 64, generator=gen)
        b = t.randn(64, 64, generator=gen)
        expected = a @ b
        got = (a.to(f"cuda:{index}") @ b.to(f"cuda:{index}")).cpu()
        diff = float((got - expected).abs().max())
        device["max_abs_diff"] = diff
        device["smoke_ok"] = diff < 1e-2
    except Exception as exc:  # any failure here is itself the finding
        device["smoke_ok"] = False
        device["smoke_error"] = first_line(exc)
        return device
    device.update(conv(t, f"cuda:{index}"))
    return device


def gpu_backend(t: Any) -> dict[str, object]:
    """The backend of a build for GPUs other than NVIDIA's: ROCm (``torch.version.hip``), Intel's
    XPU (``torch.version.xpu``) or Apple's MPS (``torch.backends.mps.is_built()``: PyTorch's
    macOS wheels); empty for a CUDA or CPU-only build."""
    version = getattr(t, "version", None)
    for name, attr in (("rocm", "hip"), ("xpu", "xpu")):
        value = getattr(version, attr, None)
        if value:
            return {"gpu_backend": name, "gpu_backend_version": str(value)}
    try:
        if t.backends.mps.is_built():
            return {"gpu_backend": "mps"}
    except Exception:  # an old torch without torch.backends.mps: no MPS
        pass
    return {}


def backend_devices(t: Any, backend: str, rocm_count: int) -> int | None:
    """GPUs the backend can use here (MPS: 1 or 0); None when asking it failed."""
    try:
        if backend == "rocm":
            return rocm_count  # a ROCm build lists its GPUs through torch.cuda
        if backend == "xpu":
            return int(t.xpu.device_count()) if t.xpu.is_available() else 0
        return 1 if t.backends.mps.is_available() else 0
    except Exception:  # any failure here reads as "not asked"
        return None


def numpy_facts() -> dict[str, object]:
    """Whether numpy imports here: torch runs without it, but verify (and torch's numpy
    interop) cannot, and ``pip install torch`` does not bring it."""
    if importlib.util.find_spec("numpy") is None:
        return {"numpy_error": "not installed"}
    try:
        import numpy
    except Exception as exc:  # a broken numpy (another ABI, a half install) is the finding
        return {"numpy_error": f"import numpy failed: {first_line(exc)}"}
    return {"numpy_version": str(getattr(numpy, "__version__", "unknown"))}


def probe() -> dict[str, object]:
    out: dict[str, object] = {"name": "torch", "python_version": platform.python_version()}
    if importlib.util.find_spec("torch") is None:
        out["status"] = "not_installed"
        return out
    start = time.monotonic()
    out["requires"] = nvidia_requires("torch")
    with ImportLog() as log:
        try:
            import torch as torch_module
        except Exception as exc:  # any failure here is itself the finding
            failure: Exception | None = exc
        else:
            failure = None
    if failure is not None:
        out.update(status="import_error", message=f"import torch failed: {first_line(failure)}")
        out["import_messages"] = log.notes(failure)
        _libraries_so_far(out)  # a shadowing cuDNN that broke the import is named by its file
        return out
    torch: Any = torch_module  # typed loosely: the child must run against any torch version
    out["status"] = "ok"
    if said := log.notes():  # a working import that warned ("Failed to initialize NumPy")
        out["import_messages"] = said
    out.update(numpy_facts())
    out["version"] = str(torch.__version__)
    build_cuda = getattr(torch.version, "cuda", None)
    out["cuda_build"] = build_cuda is not None
    out["build_cuda"] = build_cuda
    if getattr(torch.version, "hip", None):
        out["message"] = f"ROCm build (HIP {torch.version.hip}), not CUDA"
    backend = gpu_backend(torch)
    out.update(backend)
    try:
        compiled = torch._C._cudnn.getCompileVersion()
        out["build_cudnn"] = ".".join(str(x) for x in compiled)
    except (AttributeError, RuntimeError):
        pass
    out["arch_list"] = arch_list(torch)
    if not gpu_allowed():
        out["loaded_libraries"] = loaded_cuda_libraries()
        out["duration_s"] = round(time.monotonic() - start, 3)
        return out
    notes: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out["cuda_available"] = available = bool(torch.cuda.is_available())
        out["device_count"] = count = torch.cuda.device_count() if available else 0
        if build_cuda is not None and not available:
            try:
                torch.cuda.init()
            except Exception as exc:  # any failure here is itself the finding
                out["init_error"] = str(exc).strip()
        devices = [smoke(torch, i) for i in range(count)]
    notes += [str(w.message).strip() for w in caught if "cuda" in str(w.message).lower()]
    if "init_error" not in out and build_cuda is not None and not available and notes:
        out["init_error"] = notes[0]
    elif notes:
        out["message"] = " | ".join(dict.fromkeys(notes))
    out["devices"] = devices
    if backend:
        out["gpu_backend_devices"] = backend_devices(torch, str(backend["gpu_backend"]), count)
    try:
        runtime = torch.backends.cudnn.version() if build_cuda is not None else None
        if runtime:
            out["cudnn_runtime"] = decode_cudnn(int(runtime))
    except Exception as exc:  # any failure here is itself the finding
        out["cudnn_runtime"] = None
        out.setdefault("message", f"cuDNN did not load: {first_line(exc)}")
    out["loaded_libraries"] = loaded = loaded_cuda_libraries()
    cudnn = cudnn_library(loaded)
    if cudnn is not None:
        out["cudnn_library"] = cudnn
        # torch refused the file (a version check): the file still says what it is
        if out.get("cudnn_runtime") is None and cudnn.get("version"):
            out["cudnn_runtime"] = cudnn["version"]
    out["duration_s"] = round(time.monotonic() - start, 3)
    return out


if __name__ == "__main__":
    print(json.dumps(probe()))
    sys.stdout.flush()
    sys.stderr.flush()  # the framework's own log lines, which the parent reads too
    # Skip the interpreter's teardown: unloading the framework takes up to a second and tells
    # the parent nothing (the answer is already out).
    os._exit(0)
