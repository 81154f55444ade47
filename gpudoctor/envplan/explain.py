"""When no build fits: name the nearest working combination in one line."""

from __future__ import annotations

from packaging.version import Version

from gpudoctor.envplan.choose import NAMES, Candidate, glibc_floor
from gpudoctor.envplan.target import Target
from gpudoctor.kb import KnowledgeBase
from gpudoctor.model.versions import release_key

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


def _driver_blocked(judged: list[Candidate]) -> list[Candidate]:
    """The CUDA builds only the driver blocks: it runs no CUDA of theirs, or not fully enough
    to JIT the PTX that is their only code for the GPU."""
    return [c for c in judged if c.failed and c.failed <= {"driver", "ptx"} and c.variant.cuda]


def _floor(kb: KnowledgeBase, target: Target, c: Candidate) -> str | None:
    """The oldest driver that runs ``c`` on the target: its CUDA's minor-version compatibility
    floor, or the toolkit's own driver when the GPU needs its PTX JIT-compiled."""
    return kb.min_driver(c.variant.cuda or "", target.driver_os, minor_compat="ptx" not in c.failed)


def _driver_hints(kb: KnowledgeBase, target: Target, judged: list[Candidate]) -> list[str]:
    """The newest build an upgraded driver would allow, and the cheapest upgrade if lower."""
    blocked = _driver_blocked(judged)
    if not blocked:
        return []

    def floor_text(c: Candidate) -> str:
        return _floor(kb, target, c) or "9999"

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


def driver_unlock(
    kb: KnowledgeBase, target: Target, judged: list[Candidate]
) -> tuple[str, str, list[Candidate]] | None:
    """The newest release that only the driver blocks: ``(floor, release, its builds)`` with
    the lowest driver floor among them, or None."""
    blocked = _driver_blocked(judged)
    if not blocked:
        return None
    top = max(release_key(c.release.version) for c in blocked)
    newest = [c for c in blocked if release_key(c.release.version) == top]
    floors = {c.variant.tag: _floor(kb, target, c) for c in newest}
    floor = min((f for f in floors.values() if f), key=Version, default=None)
    if floor is None:
        return None
    builds = [c for c in newest if floors[c.variant.tag] == floor]
    return floor, newest[0].release.version, builds


def branch_text(floor: str) -> str:
    """``>= 580 (R580)``, ``>= 525.60.13 (R525)``: the driver and its branch."""
    return f">= {floor} (R{floor.split('.', maxsplit=1)[0]})"


def _pinned_driver_message(
    kb: KnowledgeBase, target: Target, framework: str, version: str, judged: list[Candidate]
) -> str | None:
    """One sentence for ``--torch V`` that only a newer driver would allow."""
    mine = [c for c in judged if "version" not in c.failed and "platform" not in c.failed]
    unlock = driver_unlock(kb, target, mine)
    if unlock is None or any(c.fits for c in mine):
        return None
    floor, _, builds = unlock
    name, flag = NAMES[framework], _FLAGS[framework]
    tags = " and ".join(c.variant.tag for c in builds)
    max_cuda = kb.max_cuda_for_driver(target.driver or "", target.driver_os)
    runs = f"runs CUDA {max_cuda} at most" if max_cuda else "predates every CUDA it has"
    text = (
        f"{flag} {version}: {name} {version} needs driver {branch_text(floor)} for this GPU "
        f"({gpu_text(kb, target)}): its {tags} build{'s' if len(builds) > 1 else ''} need"
        f"{'' if len(builds) > 1 else 's'} it and driver {target.driver} {runs}"
    )
    no_code = [c.variant.tag for c in mine if c.failed == {"arch"}]
    if no_code:
        text += f", while its {' and '.join(no_code)} build has no code for CC {target.cc}"
    other = _only(judged, {"version"})
    ways = [f"upgrade the driver to {branch_text(floor)}"]
    if other is not None:
        ways.append(f"drop {flag} {version} ({other.label} fits this driver)")
    ways.append("use --cpu for a CPU-only environment")
    return text + ": " + ", ".join(ways[:-1]) + " or " + ways[-1]


def _cudnn_note(kb: KnowledgeBase, target: Target, judged: list[Candidate]) -> str:
    """`` (PyTorch 2.7.1 cu118 comes with cuDNN 9.1.0.70, ...)`` when a build's own kernels
    cover the GPU but the cuDNN it installs does not."""
    for c in judged:
        floor = kb.cudnn_floor(c.variant.installed_cudnn)
        arch = c.variant.arch.get(target.platform, ())
        if floor is None or target.cc is None or not arch:
            continue
        if kb.arch_coverage(target.cc, arch).kind != "none":
            return (
                f" ({c.label} comes with cuDNN {c.variant.installed_cudnn}, which supports CC "
                f"{floor.lowest_cc} and later)"
            )
    return ""


def no_recorded_build(kb: KnowledgeBase, cc: str) -> str | None:
    """Why no environment with a GPU build can be planned for CC ``cc`` on any driver: no
    PyTorch or TensorFlow GPU build of any channel and platform the knowledge base records has
    code (SASS or PTX it can compile) for it, as for Kepler's CC 3.0; None where one has."""
    if kb.gpu_build_covers(cc):
        return None
    last = kb.last_cuda_for_cc(cc)
    why = f"; CUDA {last} is the last CUDA that builds for CC {cc}" if last else ""
    return (
        f"no PyTorch or TensorFlow GPU build the knowledge base records has code for CC {cc} "
        f"(their arch lists start above it{why})"
    )


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
    if version is not None and not cpu and python is None and target.driver is not None:
        pinned = _pinned_driver_message(kb, target, framework, version, judged)
        if pinned is not None:
            return pinned
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
    blocked = next((c for c in judged if "glibc" in c.failed and "version" not in c.failed), None)
    if blocked is not None:
        floor = glibc_floor(kb, target.platform, blocked.release, blocked.variant, blocked.version)
        if floor is not None:
            tag = (
                f"manylinux_{floor.replace('.', '_')}"
                if blocked.release.channel == "pip"
                else f"__glibc >={floor}"
            )
            hints.append(
                f"the {'wheels' if blocked.release.channel == 'pip' else 'packages'} of "
                f"{blocked.label} need glibc >= {floor} ({tag}) and {target.glibc_owner} has "
                f"glibc {target.glibc}"
            )
    if target.cc is not None and kind == "GPU":
        on_platform = [
            c for c in judged if "platform" not in c.failed and "version" not in c.failed
        ]
        blocked_by_arch = bool(on_platform) and "arch" in on_platform[0].failed
        if blocked_by_arch:
            covering = next((c for c in on_platform if "arch" not in c.failed), None)
            if covering is not None and "driver" in covering.failed:
                pass  # the driver hints above name the newer driver that build needs
            elif covering is None:
                hints.append(
                    f"no {what} build on {channel} covers this GPU ({gpu_text(kb, target)})"
                    + _cudnn_note(kb, target, on_platform)
                )
                none = no_recorded_build(kb, target.cc)
                if none is not None:  # no other framework, channel or driver helps either
                    hints.append(
                        none + ": of what it records, only a CPU-only environment fits this machine"
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
        known = kb.releases(framework, channel)
        listed = ", ".join(f"{r.package} {r.version}" for r in known)
        # a GPU too new for the listed builds may fit a newer feedstock release: not only the
        # older ones are missing from the data
        checked = max((r.as_of for r in known), default=None)
        newer = f", nor newer ones after {checked}" if checked is not None else ""
        hints.append(
            f"the knowledge base lists only conda-forge {listed} (older conda-forge builds are "
            f"not recorded{newer})"
        )
    if alternative:
        hints.append(alternative)
    if kind == "GPU":
        hints.append("or --cpu for a CPU-only environment")
    return head + ": " + "; ".join(hints)
