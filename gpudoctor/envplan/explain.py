"""When no build fits: name the nearest working combination in one line."""

from __future__ import annotations

from packaging.version import Version

from gpudoctor.envplan.choose import NAMES, Candidate
from gpudoctor.envplan.target import Target
from gpudoctor.kb import KnowledgeBase
from gpudoctor.kb.versions import release_key

_FLAGS = {"torch": "--torch", "tensorflow": "--tensorflow"}
_JETSON = {
    "pip": "Jetson GPUs need NVIDIA's JetPack builds, not these wheels",
    "conda-forge": "Jetson GPUs need builds made for Tegra (NVIDIA's JetPack wheels, or "
    "conda-forge's tegra build, which the knowledge base does not record); the linux-aarch64 "
    "builds here are for server ARM (SBSA)",
}


def _only(judged: list[Candidate], allowed: set[str]) -> Candidate | None:
    """The best candidate whose failures are all in ``allowed`` (and at least one)."""
    return next((c for c in judged if c.failed and c.failed <= allowed), None)


def _driver_hints(kb: KnowledgeBase, target: Target, judged: list[Candidate]) -> list[str]:
    """The newest build an upgraded driver would allow, and the cheapest upgrade if lower."""
    blocked = [c for c in judged if c.failed == {"driver"} and c.variant.cuda]
    if not blocked:
        return []

    def floor_text(c: Candidate) -> str:
        return kb.min_driver(c.variant.cuda or "", target.driver_os) or "9999"

    def floor(c: Candidate) -> Version:
        return Version(floor_text(c))

    top = max(release_key(c.release.version) for c in blocked)
    newest = min((c for c in blocked if release_key(c.release.version) == top), key=floor)
    cheapest = min(blocked, key=lambda c: (floor(c), [-x for x in release_key(c.release.version)]))
    hints = []
    for c in (newest, cheapest) if floor(cheapest) < floor(newest) else (newest,):
        major = (c.variant.cuda or "").split(".")[0]
        hints.append(f"upgrade the driver to >= {floor_text(c)} for CUDA {major} ({c.label})")
    return hints


def gpu_text(kb: KnowledgeBase, target: Target) -> str:
    """``CC 12.0, Blackwell`` (the CC alone when its generation is unknown)."""
    arch = kb.architecture(target.cc) if target.cc else None
    return f"CC {target.cc}" + (f", {arch.name}" if arch else "")


def no_fit_message(
    kb: KnowledgeBase,
    target: Target,
    framework: str,
    channel: str,
    judged: list[Candidate],
    *,
    python: str | None,
    version: str | None,
    cpu: bool,
    alternative: str | None = None,
) -> str:
    """Why nothing in ``judged`` fits, and the nearest combination that would (``alternative``:
    what the other ``--source`` has, named before ``--cpu``)."""
    name = NAMES[framework]
    what = f"{name} {version}" if version else name
    kind = "CPU" if cpu or not target.has_gpu else "GPU"
    head = f"no {what} {kind} build from {channel} fits {target.describe(kb)}"
    if python:
        head += f" with Python {python}"
    hints: list[str] = []
    if not any("platform" not in c.failed for c in judged):
        hints.append(f"{name} has no {kind} build for {target.platform} on {channel}")
        if framework == "tensorflow" and target.os == "windows" and kind == "GPU":
            hints.append(
                "TensorFlow GPU on native Windows ended with 2.10: use WSL2 (--os linux --wsl)"
                " or --tensorflow 2.10 --source pip"
            )
    hints += _driver_hints(kb, target, judged)
    if target.cc is not None and kind == "GPU":
        on_platform = [
            c for c in judged if "platform" not in c.failed and "version" not in c.failed
        ]
        blocked_by_arch = bool(on_platform) and "arch" in on_platform[0].failed
        if blocked_by_arch:
            covering = next((c for c in on_platform if "arch" not in c.failed), None)
            if covering is None:
                hints.append(
                    f"no {name} build on {channel} covers this GPU ({gpu_text(kb, target)})"
                )
                if kb.is_igpu(target.cc):
                    hints.append(_JETSON[channel])
            else:
                rel = covering.release.version
                hints.append(
                    f"this GPU ({gpu_text(kb, target)}) needs {name} <= {rel} with "
                    f"{covering.variant.tag}"
                )
    if version is not None:
        other = _only(judged, {"version"})
        if other is not None:
            hints.append(f"{other.label} fits (drop {_FLAGS[framework]} {version})")
    if python is not None:
        other = _only(judged, {"python"})
        if other is not None:
            hints.append(
                f"{other.label} fits with Python {other.release.python_min}-{other.python_max}"
                " (drop --python)"
            )
    if channel == "conda-forge":
        listed = ", ".join(f"{r.package} {r.version}" for r in kb.releases(framework, channel))
        hints.append(
            f"the knowledge base lists only conda-forge {listed} (older conda-forge builds are "
            "not recorded)"
        )
    if alternative:
        hints.append(alternative)
    if kind == "GPU":
        hints.append("or --cpu for a CPU-only environment")
    return head + ": " + "; ".join(hints)
