"""Small stand-in wheels with real names and versions, and PEP 503 indexes over them on disk,
so that uv and pip resolve and install a generated environment without downloading CUDA."""

from __future__ import annotations

import base64
import hashlib
import zipfile
from pathlib import Path

from packaging.utils import canonicalize_name


def _digest(data: bytes) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def build_wheel(
    folder: Path,
    name: str,
    version: str,
    *,
    requires: tuple[str, ...] = (),
    extras: tuple[str, ...] = (),
    marker: str = "",
) -> Path:
    """A ``py3-none-any`` wheel of ``name`` ``version`` whose module records ``marker`` (which
    index it came from). ``requires`` are Requires-Dist lines; ``extras`` Provides-Extra."""
    folder.mkdir(parents=True, exist_ok=True)
    dist = canonicalize_name(name).replace("-", "_")
    info = f"{dist}-{version}.dist-info"
    metadata = "\n".join(
        [
            "Metadata-Version: 2.1",
            f"Name: {name}",
            f"Version: {version}",
            *(f"Provides-Extra: {extra}" for extra in extras),
            *(f"Requires-Dist: {req}" for req in requires),
            "",
        ]
    )
    files = {
        f"{dist}/__init__.py": f"__version__ = {version!r}\nFROM = {marker!r}\n",
        f"{info}/METADATA": metadata,
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: gpudoctor-tests\n"
        "Root-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = [
        f"{path},sha256={_digest(text.encode())},{len(text.encode())}"
        for path, text in files.items()
    ]
    record.append(f"{info}/RECORD,,")
    files[f"{info}/RECORD"] = "\n".join(record) + "\n"
    path = folder / f"{dist}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as zf:
        for member, text in files.items():
            zf.writestr(member, text)
    return path


def simple_index(root: Path, wheels: list[Path]) -> str:
    """A PEP 503 index at ``root`` (one page per project) over ``wheels``; its file:// URL."""
    projects: dict[str, list[Path]] = {}
    for wheel in wheels:
        project = canonicalize_name(wheel.name.split("-")[0])
        projects.setdefault(project, []).append(wheel)
    for project, found in projects.items():
        page = root / project
        page.mkdir(parents=True, exist_ok=True)
        links = "".join(
            f'<a href="{w.resolve().as_uri()}#sha256={hashlib.sha256(w.read_bytes()).hexdigest()}"'
            f">{w.name}</a><br>\n"
            for w in found
        )
        (page / "index.html").write_text(f"<html><body>\n{links}</body></html>\n")
    links = "".join(f'<a href="{p}/">{p}</a><br>\n' for p in sorted(projects))
    (root / "index.html").write_text(f"<html><body>\n{links}</body></html>\n")
    return root.resolve().as_uri()
