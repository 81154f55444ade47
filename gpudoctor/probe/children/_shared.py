"""What both framework children share: the parent's GPU gate and the cuDNN file they mapped.

Imported by torch_probe.py and tf_probe.py, which run as scripts under the inspected
interpreter (which may lack gpudoctor): this file sits beside them on their sys.path. Standard
library only.
"""

from __future__ import annotations

import ctypes
import os
import sys
import time
import warnings
from pathlib import Path


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message, or its type's name when it has none."""
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]


def mapped_libraries(fragments: tuple[str, ...]) -> list[str]:
    """The libraries mapped into this process (Linux /proc/self/maps) whose file names start
    with one of ``fragments`` (``libcudnn``), in load order."""
    paths: list[str] = []
    try:
        with Path("/proc/self/maps").open(encoding="utf-8", errors="replace") as fh:
            for line in fh:
                parts = line.split(None, 5)
                path = parts[5].strip() if len(parts) == 6 else ""
                name = path.rsplit("/", 1)[-1].lower()
                if path.startswith("/") and name.startswith(fragments) and path not in paths:
                    paths.append(path)
    except OSError:
        pass
    return paths


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
        lib["error"] = first_line(exc)
    return lib


NOTES_MAX = 8
"""Lines of import notes a child records (each at most NOTE_CHARS characters)."""
NOTE_CHARS = 300
_LOG_MAX = 65536
_KEPT_WARNINGS = (UserWarning, RuntimeWarning, ImportWarning)


def _one_line(text: str) -> str:
    line = " ".join(text.split())
    return line[:NOTE_CHARS]


def error_chain(exc: BaseException) -> list[str]:
    """The exception and those chained to it (``raise ... from``, "during handling of"), the
    first raised first, each as ``Type: first line``: the cause is often the first one."""
    chain: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen and len(chain) < NOTES_MAX:
        seen.add(id(current))
        chain.append(_one_line(f"{type(current).__name__}: {first_line(current)}"))
        current = current.__cause__ or current.__context__
    return chain[::-1]


class ImportLog:
    """While an import runs: what it writes to ``sys.stderr`` (still passed on) and the warnings
    it raises. NumPy prints its "compiled using NumPy 1.x" banner this way, and PyTorch warns
    "Failed to initialize NumPy"; both are lost from the exception itself."""

    def __init__(self) -> None:
        self.text = ""
        self.caught: list[warnings.WarningMessage] = []
        self._real = sys.stderr
        self._warnings = warnings.catch_warnings(record=True)

    def __enter__(self) -> ImportLog:
        self._real = sys.stderr
        sys.stderr = self
        caught = self._warnings.__enter__()  # the list it fills (empty now, so not "or []")
        self.caught = caught if caught is not None else []
        warnings.simplefilter("always")
        return self

    def __exit__(self, *exc: object) -> None:
        self._warnings.__exit__(*exc)  # type: ignore[arg-type]
        sys.stderr = self._real

    def write(self, text: str) -> int:
        if len(self.text) < _LOG_MAX:
            self.text += text
        return self._real.write(text)

    def flush(self) -> None:
        self._real.flush()

    def __getattr__(self, name: str) -> object:  # fileno, isatty, encoding: the real stream's
        return getattr(self._real, name)

    def notes(self, exc: BaseException | None = None) -> list[str]:
        """The error chain, the blocks the import printed (traceback frames left out) and the
        warnings it raised, without repeats: at most NOTES_MAX lines of NOTE_CHARS characters."""
        found = error_chain(exc) if exc is not None else []
        for block in self.text.split("\n\n"):
            kept = [
                line
                for line in block.splitlines()
                if line.strip() and not line.startswith((" ", "\t", "Traceback ("))
            ]
            if kept:
                found.append(_one_line(" ".join(kept)))
        found += [
            _one_line(f"{w.category.__name__}: {w.message}")
            for w in self.caught
            if issubclass(w.category, _KEPT_WARNINGS)
        ]
        return list(dict.fromkeys(n for n in found if n))[:NOTES_MAX]


def nvidia_requires(*dists: str) -> list[str]:
    """The ``Requires-Dist`` lines on ``nvidia-*`` wheels of the first of ``dists`` installed,
    from its metadata alone (no import: it is read also when the import failed)."""
    from importlib import metadata

    for dist in dists:
        try:
            reqs = metadata.requires(dist) or []
        except metadata.PackageNotFoundError:
            continue
        return [r for r in reqs if r.lower().startswith("nvidia-")]
    return []
