"""Child process (stdlib only): load libcuda and the CUDA libraries, print what resolved as JSON.

Runs under the inspected interpreter, which may not have gpudoctor installed. The output has
the field names of gpudoctor.model.report.CudaInfo.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import site
import sys
from pathlib import Path

WINDOWS = sys.platform.startswith("win")
LIBCUDA = "nvcuda.dll" if WINDOWS else "libcuda.so.1"
# Newest first: the first soname that loads is the one a framework would most likely get.
SONAMES = {
    "cudart": ["libcudart.so.13", "libcudart.so.12", "libcudart.so.11.0"],
    "cublas": ["libcublas.so.13", "libcublas.so.12", "libcublas.so.11"],
    "cudnn": ["libcudnn.so.9", "libcudnn.so.8"],
    "nvrtc": ["libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so.11.2"],
    "nvjitlink": ["libnvJitLink.so.13", "libnvJitLink.so.12"],
}
DLLS = {
    "cudart": ["cudart64_13.dll", "cudart64_12.dll", "cudart64_110.dll"],
    "cublas": ["cublas64_13.dll", "cublas64_12.dll", "cublas64_11.dll"],
    "cudnn": ["cudnn64_9.dll", "cudnn64_8.dll"],
    "nvrtc": ["nvrtc64_130_0.dll", "nvrtc64_120_0.dll", "nvrtc64_112_0.dll"],
    "nvjitlink": ["nvJitLink_130_0.dll", "nvJitLink_120_0.dll"],
}
CU_RESULTS = {
    0: "CUDA_SUCCESS",
    1: "CUDA_ERROR_INVALID_VALUE",
    2: "CUDA_ERROR_OUT_OF_MEMORY",
    3: "CUDA_ERROR_NOT_INITIALIZED",
    4: "CUDA_ERROR_DEINITIALIZED",
    34: "CUDA_ERROR_STUB_LIBRARY",
    46: "CUDA_ERROR_DEVICE_UNAVAILABLE",
    100: "CUDA_ERROR_NO_DEVICE",
    101: "CUDA_ERROR_INVALID_DEVICE",
    102: "CUDA_ERROR_DEVICE_NOT_LICENSED",
    304: "CUDA_ERROR_OPERATING_SYSTEM",
    800: "CUDA_ERROR_NOT_PERMITTED",
    801: "CUDA_ERROR_NOT_SUPPORTED",
    802: "CUDA_ERROR_SYSTEM_NOT_READY",
    803: "CUDA_ERROR_SYSTEM_DRIVER_MISMATCH",
    804: "CUDA_ERROR_COMPAT_NOT_SUPPORTED_ON_DEVICE",
    999: "CUDA_ERROR_UNKNOWN",
}


def decode_cuda(value: int) -> str:
    """12040 -> 12.4 (12041 -> 12.4.1)."""
    major, minor, rev = value // 1000, (value % 1000) // 10, value % 10
    return f"{major}.{minor}.{rev}" if rev else f"{major}.{minor}"


def decode_cudnn(value: int) -> str:
    """cuDNN 9 encodes M*10000+m*100+p (90100 = 9.1.0), cuDNN <= 8 M*1000+m*100+p (8902)."""
    if value >= 10000:
        return f"{value // 10000}.{(value % 10000) // 100}.{value % 100}"
    return f"{value // 1000}.{(value % 1000) // 100}.{value % 100}"


def mapped_path(fragment: str) -> str | None:
    """The file a loaded library came from, read from /proc/self/maps (Linux)."""
    try:
        with Path("/proc/self/maps").open(encoding="utf-8", errors="replace") as fh:
            for line in fh:
                parts = line.split(None, 5)
                path = parts[5].strip() if len(parts) == 6 else ""
                if path.startswith("/") and fragment in Path(path).name:
                    return path
    except OSError:
        pass
    return None


def loaded_path(lib: ctypes.CDLL, soname: str) -> str | None:
    if WINDOWS:
        buf = ctypes.create_unicode_buffer(1024)
        kernel32 = ctypes.WinDLL("kernel32")  # type: ignore[attr-defined]
        if kernel32.GetModuleFileNameW(ctypes.c_void_p(lib._handle), buf, 1024):
            return buf.value
        return None
    return mapped_path(soname.split(".so", maxsplit=1)[0] + ".so")


def site_dirs() -> list[str]:
    dirs = [p for p in sys.path if p.endswith(("site-packages", "dist-packages"))]
    with contextlib.suppress(AttributeError):  # some embedded/virtualenv builds lack it
        dirs += site.getsitepackages()
    return list(dict.fromkeys(d for d in dirs if Path(d).is_dir()))


def wheel_candidates(soname: str) -> list[str]:
    """Copies of ``soname`` inside installed nvidia-* wheels (site-packages/nvidia/*/lib)."""
    sub = "bin" if WINDOWS else "lib"
    found: list[str] = []
    for base in site_dirs():
        found += sorted(str(p) for p in Path(base).glob(f"nvidia/*/{sub}/{soname}"))
    return found


def origin(path: str | None) -> str | None:
    if not path:
        return None
    norm = path.replace("\\", "/")
    if "/usr/lib/wsl/" in norm:
        return "wsl"
    if "-packages/nvidia/" in norm or "-packages/torch/lib" in norm:
        return "pip"
    real = Path(path).resolve()
    ld_path = os.environ.get("PATH" if WINDOWS else "LD_LIBRARY_PATH", "")
    for entry in filter(None, ld_path.split(os.pathsep)):
        if Path(entry).is_dir() and Path(entry).resolve() == real.parent:
            return "ld_library_path"
    prefixes = [os.environ.get("CONDA_PREFIX", ""), sys.prefix]
    for prefix in filter(None, prefixes):
        root = Path(prefix).resolve()
        if (root / "conda-meta").is_dir() and root in real.parents:
            return "conda"
    return "system"


def try_load(name: str) -> tuple[ctypes.CDLL | None, str | None]:
    try:
        return ctypes.CDLL(name), None
    except OSError as exc:
        return None, str(exc) or f"{name}: cannot be loaded"


def int_out(fn: object, *args: object) -> int | None:
    value = ctypes.c_int()
    try:
        result = fn(*args, ctypes.byref(value))  # type: ignore[operator]
    except (AttributeError, OSError, TypeError):
        return None
    return value.value if result == 0 else None


def library_version(name: str, lib: ctypes.CDLL) -> str | None:
    try:
        if name == "cudart":
            value = int_out(lib.cudaRuntimeGetVersion)
            return decode_cuda(value) if value else None
        if name == "cudnn":
            fn = lib.cudnnGetVersion
            fn.restype = ctypes.c_size_t
            value = int(fn())
            return decode_cudnn(value) if value else None
        if name == "cublas":
            parts = [int_out(lib.cublasGetProperty, ctypes.c_int(k)) for k in (0, 1, 2)]
            return ".".join(str(p) for p in parts) if None not in parts else None
        if name in ("nvrtc", "nvjitlink"):
            fn = lib.nvrtcVersion if name == "nvrtc" else lib.nvJitLinkVersion
            major, minor = ctypes.c_int(), ctypes.c_int()
            if fn(ctypes.byref(major), ctypes.byref(minor)) == 0:
                return f"{major.value}.{minor.value}"
    except (AttributeError, OSError, ValueError):
        return None
    return None


def by_wheels(sonames: list[str]) -> list[str]:
    """``sonames`` with those an installed nvidia-* wheel ships first, the rest newest first.

    A framework asks for the soname its wheels ship (``libcudart.so.12`` in a cu12 env), not
    the newest one on the machine: trying a system CUDA 13's ``libcudart.so.13`` first would
    report a library the framework never loads, and miss the cu12 one that LD_LIBRARY_PATH
    (an environment module) really puts in front of the wheel's.
    """
    shipped = [s for s in sonames if wheel_candidates(s)]
    return shipped + [s for s in sonames if s not in shipped]


def resolve(name: str) -> dict[str, object]:
    """Where one CUDA library resolves: the loader's own search first, then nvidia-* wheels."""
    sonames = by_wheels((DLLS if WINDOWS else SONAMES)[name])
    errors: list[str] = []
    for soname in sonames:
        for target in [soname, *wheel_candidates(soname)]:
            lib, error = try_load(target)
            if lib is not None:
                path = target if Path(target).is_absolute() else loaded_path(lib, soname)
                return {
                    "name": name,
                    "soname": soname,
                    "path": path,
                    "version": library_version(name, lib),
                    "origin": origin(path),
                    "error": None,
                }
            errors.append(error or f"{target}: cannot be loaded")
    # A library that exists but misses a dependency says so in words that do not start with
    # its own name: that is the line worth showing.
    telling = [e for e in errors if "cannot open shared object file" not in e or "/" in e]
    return {
        "name": name,
        "soname": None,
        "path": None,
        "version": None,
        "origin": None,
        "error": (telling or errors or ["not found"])[0],
    }


def probe_libcuda(out: dict[str, object]) -> None:
    lib, error = try_load(LIBCUDA)
    if lib is None:
        out["libcuda_error"] = error
        return
    out["libcuda_path"] = loaded_path(lib, LIBCUDA)
    try:
        result = int(lib.cuInit(0))
    except (AttributeError, OSError) as exc:
        out["libcuda_error"] = f"cuInit is not callable: {exc}"
        return
    out["cu_init_result"] = result
    name = ctypes.c_char_p()
    try:
        got = lib.cuGetErrorName(result, ctypes.byref(name)) == 0 and name.value
    except (AttributeError, OSError):
        got = False
    out["cu_init_error"] = (
        name.value.decode() if got and name.value else CU_RESULTS.get(result, f"CUresult {result}")
    )
    version = int_out(lib.cuDriverGetVersion)
    if version:
        out["driver_version"] = decode_cuda(version)
    if result == 0:
        out["device_count"] = int_out(lib.cuDeviceGetCount)


def nvidia_wheels() -> list[dict[str, str]]:
    """Installed nvidia-* distributions, from their .dist-info folder names.

    Reading folder names is ~50x faster than importlib.metadata.distributions() in a large env.
    """
    wheels: dict[str, str] = {}
    for base in site_dirs():
        try:
            entries = [p.name for p in Path(base).iterdir()]
        except OSError:
            continue
        for entry in entries:
            if entry.lower().startswith("nvidia") and entry.endswith(".dist-info"):
                name, _, version = entry[: -len(".dist-info")].partition("-")
                wheels.setdefault(name.lower().replace("_", "-"), version)
    return [{"name": n, "version": v} for n, v in sorted(wheels.items())]


def main() -> int:
    out: dict[str, object] = {"status": "ok"}
    probe_libcuda(out)
    out["libraries"] = [resolve(name) for name in SONAMES]
    out["nvidia_wheels"] = nvidia_wheels()
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
