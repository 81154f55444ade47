"""What both framework children share: the parent's GPU gate and the cuDNN file they mapped.

Imported by torch_probe.py and tf_probe.py, which run as scripts under the inspected
interpreter (which may lack gpudoctor): this file sits beside them on their sys.path. Standard
library only.
"""

from __future__ import annotations

import ctypes
import os
import time
from pathlib import Path


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]


def decode_cudnn(value: int) -> str:
    """cuDNN 9: M*10000+m*100+p (91002 = 9.10.2); cuDNN <= 8: M*1000+m*100+p (8902 = 8.9.2)."""
    if value >= 10000:
        return f"{value // 10000}.{(value % 10000) // 100}.{value % 100}"
    return f"{value // 1000}.{(value % 1000) // 100}.{value % 100}"


def gpu_allowed() -> bool:
    """Wait, after the import, until the parent says whether to touch the GPU (it waits for
    NVML first; see gpudoctor.probe.frameworks.Gate). No gate: go on at once."""
    gate = os.environ.get("GPUDOCTOR_PROBE_GATE")
    if not gate:
        return True
    path = Path(gate)
    while not path.exists():
        time.sleep(0.01)  # the parent's timeout ends this child if it never comes
    try:
        return path.read_text(encoding="ascii").strip() != "skip"
    except OSError:
        return False


def library_origin(path: str) -> str:
    """Where a loaded library came from: LD_LIBRARY_PATH, a pip wheel, conda, or the system."""
    folder = path.rsplit("/", 1)[0]
    ld_dirs = [d.rstrip("/") for d in os.environ.get("LD_LIBRARY_PATH", "").split(":") if d]
    if folder in ld_dirs:
        return "ld_library_path"
    if "/site-packages/" in path or "/dist-packages/" in path:
        return "pip"
    conda = os.environ.get("CONDA_PREFIX", "").rstrip("/")
    if conda and path.startswith(conda + "/"):
        return "conda"
    return "system"


def cudnn_library(paths: list[str]) -> dict[str, object] | None:
    """The main cuDNN file this process mapped and the version that very file reports.

    Read from the file itself (``cudnnGetVersion``), so it is known also when the framework
    refused it: that is how a cuDNN on LD_LIBRARY_PATH that shadows the wheel gets named.
    """
    found = [p for p in paths if p.rsplit("/", 1)[-1].lower().startswith("libcudnn.so")]
    if not found:
        return None
    path = found[0]
    lib: dict[str, object] = {
        "name": "cudnn",
        "path": path,
        "soname": path.rsplit("/", 1)[-1],
        "origin": library_origin(path),
    }
    try:
        handle = ctypes.CDLL(path)
        handle.cudnnGetVersion.restype = ctypes.c_size_t
        lib["version"] = decode_cudnn(int(handle.cudnnGetVersion()))
    except (OSError, AttributeError) as exc:
        lib["error"] = _first_line(exc)
    return lib
