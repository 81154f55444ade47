"""Turning the chosen builds into pins, each with its reason, and the warnings to write."""

from __future__ import annotations

from gpudoctor.envplan.choose import NAMES, Candidate
from gpudoctor.envplan.header import library_path_command
from gpudoctor.envplan.suggest import command_for
from gpudoctor.envplan.target import Target
from gpudoctor.envplan.types import FrameworkPlan, Pin, Plan, Request
from gpudoctor.errors import PlanError
from gpudoctor.kb import KnowledgeBase
from gpudoctor.model.versions import glibc_older, parse_driver, python_key

CHANNELS = ("conda-forge", "nodefaults")


def _python(kb: KnowledgeBase, chosen: list[Candidate], request: Request) -> tuple[str, str]:
    low = max(python_key(c.release.python_min) for c in chosen)
    high = min(python_key(c.python_max) for c in chosen)
    ranges = ", ".join(f"{c.label} supports {c.release.python_min}-{c.python_max}" for c in chosen)
    if request.python is not None:
        major, minor = python_key(request.python)
        return f"{major}.{minor}", f"requested with --python ({ranges})"
    newest = kb.newest_python(f"{low[0]}.{low[1]}", f"{high[0]}.{high[1]}")
    if newest is None:
        raise PlanError(f"no released Python fits every chosen package ({ranges})")
    return newest, f"the newest released Python every chosen package supports ({ranges})"


def _why(kb: KnowledgeBase, target: Target, c: Candidate, request: Request) -> str:
    framework = c.release.framework
    asked = request.version(framework)
    if asked is not None:
        flag = "--torch" if framework == "torch" else "--tensorflow"
        parts = [f"pinned by {flag} {asked}"]
    else:
        parts = [f"newest {NAMES[framework]} release with a build that fits"]
    cuda = c.variant.cuda
    if cuda is None or target.driver is None:
        parts.append(f"CPU build for {target.platform}")
    else:
        runtime = c.variant.pip_cuda or cuda
        support = kb.cuda_support(target.driver, runtime, target.driver_os)
        how = "fully" if support.level == "full" else "through minor-version compatibility"
        wheels = " (the CUDA of the wheels pip installs with it)" if runtime != cuda else ""
        parts.append(f"driver {target.driver} runs CUDA {runtime}{wheels} {how}")
        if c.variant.pip_cudnn is not None and c.variant.pip_cudnn != c.variant.cudnn:
            # the extra sets a floor: pip takes the newest cuDNN, not the one the build was
            # tested with
            parts.append(
                f"pip installs cuDNN {c.variant.pip_cudnn} with it (the newest its floor "
                f"allows; the build was tested with cuDNN {c.variant.cudnn})"
            )
        if c.coverage is not None and c.coverage.kind in ("sass", "ptx_jit"):
            kind = "native code" if c.coverage.kind == "sass" else "PTX only (JIT)"
            parts.append(f"CC {target.cc} covered by {c.coverage.matched} ({kind})")
    parts.append(f"source: {c.variant.source.split('; ')[0]}")
    return "; ".join(parts)


def _unverified(c: Candidate, platform: str) -> str:
    if not c.release.verified:
        return f"release data marked unverified ({c.release.note or 'moving'})"
    if not c.variant.verified:
        return f"build data marked unverified ({c.variant.note or 'moving'})"
    if not c.variant.verified_on(platform):
        return f"the {platform} arch list is not confirmed at its source"
    return ""


def _library_path_step(c: Candidate) -> str:
    """The step TensorFlow's own recipe adds after a conda-supplied CUDA on Linux."""
    command = library_path_command(c.variant.pip)
    return (
        f"{c.label} finds the CUDA libraries from conda only on LD_LIBRARY_PATH, else it runs "
        "on the CPU (TensorFlow's install guide for 2.5-2.13, tensorflow/docs "
        "site/en/install/pip.md: Configure the system paths): once, in the activated "
        f"environment, run the file's Then: line, {command} , and activate it again"
    )


def _warnings(
    kb: KnowledgeBase, target: Target, chosen: list[Candidate], request: Request
) -> list[str]:
    out: list[str] = []
    if request.python is not None:
        row = kb.python_release(request.python)
        if row is None or row.released is None:
            known = (
                "unknown to the knowledge base"
                if row is None
                else "not a final release in the knowledge base"
            )
            out.append(
                f"Python {request.python} is {known}; conda may find only a pre-release of it, "
                "or nothing, and framework wheels for it may be missing"
            )
    if target.wsl1 and not request.cpu:
        # "no NVIDIA driver" sent a WSL 1 user to install one: WSL 1 has no GPU support at all
        out.append(
            "WSL 1 has no GPU support (CUDA runs in WSL 2 only): this is a CPU-only environment; "
            "for the GPU, convert the distribution to WSL 2 in PowerShell (`wsl -l -v` names "
            "it, then `wsl --set-version DISTRO 2`) and run make-env there again"
        )
    elif not target.has_gpu and not request.cpu and target.container:
        # check says the container may only have been started without the GPU: "no NVIDIA
        # driver on the target" sent the user to install one inside it
        host = "Windows" if target.wsl else "the host"
        start = kb.gpu_start(target.container)
        out.append(
            f"no NVIDIA GPU is visible in this {target.container} container: this is a CPU-only "
            f"environment; if {host} has an NVIDIA GPU, run make-env again in a container "
            "started with it" + (f": {start.text}" if start is not None else "")
        )
    elif not target.has_gpu and not request.cpu and target.other_gpus:
        # a ROCm or XPU build that uses its GPU here: this plan would leave that GPU unused
        out.append(
            f"{'; '.join(target.other_gpus)}, but make-env plans CUDA or CPU-only builds: "
            "this is a CPU-only environment that uses no GPU here; keep the environment that "
            "has that build for GPU work (PyTorch's ROCm and XPU wheels: "
            "https://pytorch.org/get-started/locally/)"
        )
    elif not target.has_gpu and not request.cpu:
        out.append("no NVIDIA driver on the target: this is a CPU-only environment")
    out.extend(target.left_out)
    if target.driver is not None and not request.cpu and kb.past_known_branches(target.driver):
        # "CUDA 13.4 or newer" in the header: say what is not known, and why
        newest = max(b.branch for b in kb.branches)
        known = kb.cuda_versions()[-1]
        out.append(
            f"driver {target.driver} is of branch R{parse_driver(target.driver).release[0]}, "
            f"newer than every branch the knowledge base knows (R{newest}; knowledge base as "
            f"of {kb.as_of}): it runs CUDA {known} at least, and the knowledge base records no "
            f"CUDA release after {known}, so none of their driver floors: which newer CUDA this "
            "driver runs fully is not known here (nvidia-smi's 'CUDA Version' on the machine says)"
        )
    if target.arch == "x86_64" and target.cpu_flags is not None and "avx" not in target.cpu_flags:
        # the wheels are compiled for AVX: the environment installs, then the import dies
        for c in chosen:
            stops = (
                "stops with `compiled to use AVX instructions, but these aren't available`"
                if c.release.framework == "tensorflow"
                else "can die of `Illegal instruction` (its CPU kernels assume AVX in places)"
            )
            out.append(
                f"{c.label}: the CPU of {target.origin} lacks AVX (its /proc/cpuinfo), which "
                f"the {NAMES[c.release.framework]} builds are compiled for: the import {stops}; "
                "use a machine (or a VM CPU model) with AVX (`gpudoctor check`: GD-HOST-036)"
            )
    for c in chosen:
        cuda = c.variant.cuda
        if cuda is not None and target.driver is not None:
            # the CUDA whose libraries are installed: the wheels' own when they float
            runtime = c.variant.pip_cuda or cuda
            support = kb.cuda_support(target.driver, runtime, target.driver_os)
            if support.level == "minor_compat":
                floating = (
                    f" ({c.variant.package or c.release.package} sets only floors for its "
                    f"nvidia-* wheels, so pip installs the newest CUDA {runtime.split('.')[0]} "
                    f"ones: CUDA {runtime} as of {c.variant.as_of})"
                    if runtime != cuda
                    else ""
                )
                out.append(
                    f"{c.label}: driver {target.driver} runs CUDA {runtime} only through "
                    "minor-version compatibility (no PTX JIT of newer PTX, no APIs that need a "
                    f"newer driver){floating}; upgrade the driver to >= "
                    f"{support.full_min_driver} for full support"
                )
            if c.coverage is not None and c.coverage.kind == "ptx_jit":
                out.append(
                    f"{c.label}: CC {target.cc} is covered only by PTX ({c.coverage.matched}); "
                    "the driver JIT-compiles kernels at first use (slow first start, kernels "
                    "without PTX missing)"
                )
            if target.cc is None:
                out.append(f"{c.label}: the GPU's compute capability is unknown; not checked")
            if c.variant.status == "experimental":
                out.append(f"{c.label}: {c.variant.tag} is an experimental build of this release")
        if c.variant.conda and cuda is not None and target.platform.startswith("linux"):
            out.append(_library_path_step(c))
        release = c.release
        if release.framework == "torch" and release.channel == "pip" and not release.companions:
            out.append(
                f"{c.label}: no torchvision release for it is recorded (knowledge base as of "
                f"{kb.as_of}), so none is pinned; add torchvision when one is out, or "
                "ask for an older PyTorch with --torch"
            )
        note = _unverified(c, target.platform)
        if note:
            out.append(f"{c.label}: {note}; check it before relying on this file")
    floor = (
        kb.min_driver_for_cc(target.cc, target.driver_os)
        if target.cc and target.driver and not request.cpu
        else None
    )
    if floor and target.driver and parse_driver(target.driver) < parse_driver(floor):
        # only reached for a probed or reported machine: the planner refuses typed targets
        out.append(
            f"{target.origin} shows CC {target.cc} on driver {target.driver}, below the "
            f"driver >= {floor} the knowledge base infers for it (cuda_arch.toml min_driver, "
            "verified = false); the data row may be wrong"
        )
    dropped = (
        kb.driver_drops_cc(target.driver, target.cc)
        if target.cc and target.driver and not request.cpu
        else None
    )
    if dropped is not None:
        # only reached for a probed or reported machine: the planner refuses typed targets
        out.append(
            f"{target.origin} shows CC {target.cc} ({dropped.architecture}) on driver "
            f"{target.driver}, but R{dropped.branch} was the last branch for "
            f"{dropped.architecture} GPUs (driver_branches.toml); such a driver does not take "
            f"the GPU: install a {dropped.branch}.x driver (`gpudoctor check` says more)"
        )
    return out


def _name(chosen: list[Candidate], request: Request) -> str:
    if request.name:
        return request.name
    parts = [
        ("torch" if c.release.framework == "torch" else "tf") + c.release.version for c in chosen
    ]
    last = chosen[-1].variant
    parts.append(last.tag if last.cuda else "cpu")
    return "-".join(parts)


def index_url(c: Candidate, request: Request) -> str | None:
    """The wheel index of a pip build: its official one, or the mirror --torch-index-url names."""
    official = c.variant.index_url
    if official is None or request.torch_index_url is None or c.release.framework != "torch":
        return official
    return request.torch_index_url.replace("{variant}", c.variant.tag)


def _index_why(c: Candidate, request: Request) -> str:
    why = f"the wheel index of {c.label}"
    if index_url(c, request) != c.variant.index_url:
        why += f" (a mirror, by --torch-index-url; official: {c.variant.index_url})"
    return why


def _framework_plan(c: Candidate, channel: str, platform: str, request: Request) -> FrameworkPlan:
    return FrameworkPlan(
        name=c.release.framework,
        version=c.version,
        cuda=c.variant.pip_cuda or c.variant.cuda,
        cudnn=c.variant.installed_cudnn,
        build_cuda=c.variant.cuda,
        build_cudnn=c.variant.cudnn,
        source=channel,
        variant=c.variant.tag,
        index_url=index_url(c, request) if channel == "pip" else None,
        driver_support=c.driver_level,
        gpu_coverage=(c.coverage.kind if c.coverage else ("unknown" if c.variant.cuda else None)),
        coverage_entry=c.coverage.matched if c.coverage else None,
        verified=c.release.verified and c.variant.verified_on(platform),
        data_source=c.variant.source,
        as_of=c.variant.as_of.isoformat(),
    )


def _pip_version(c: Candidate) -> str:
    if c.pinned is not None:
        return f"=={c.pinned}"
    if c.release.latest:
        return f"=={c.release.latest}"
    return f"=={c.release.version}.*"


def _numpy_pins(kb: KnowledgeBase, target: Target, chosen: list[Candidate]) -> list[Pin]:
    """``numpy<2`` for builds made against numpy 1.x (once, whichever frameworks need it)."""
    pins: dict[str, list[str]] = {}
    for c in chosen:
        limit = kb.numpy_max(c.release.framework, c.version, target.platform)
        if limit is not None:
            why = f"{c.label} was built against numpy 1.x and breaks under numpy 2"
            if not limit.verified:
                why += " (data marked unverified)"
            pins.setdefault(limit.requirement, []).append(
                f"{why}; source: {limit.source.split('; ')[0]}"
            )
    return [Pin(spec=spec, reason="; ".join(whys)) for spec, whys in pins.items()]


def _numpy_for_verify(chosen: list[Candidate], pip: list[Pin]) -> list[Pin]:
    """``numpy`` when nothing else brings it: pip's torch does not depend on it, torchvision
    and TensorFlow do; without it `gpudoctor verify` fails every model (GD-TORCH-014)."""
    frameworks = {c.release.framework for c in chosen}
    bare_torch = any(c.release.framework == "torch" and not c.release.companions for c in chosen)
    pinned = any(p.spec.split("<")[0].split("=")[0].split(">")[0] == "numpy" for p in pip)
    if not bare_torch or "tensorflow" in frameworks or pinned:
        return []
    why = (
        "torch from pip does not depend on numpy and no torchvision (which does) is pinned; "
        "`gpudoctor verify` and torch's numpy interop need it"
    )
    return [Pin(spec="numpy>=1.22", reason=why)]


def _pip_pins(kb: KnowledgeBase, target: Target, c: Candidate, request: Request) -> list[Pin]:
    release, variant = c.release, c.variant
    package = variant.package or release.package
    index = index_url(c, request)
    pins = [
        Pin(
            spec=f"{package}{_pip_version(c)}",
            reason=f"{c.label}: {_why(kb, target, c, request)}",
            index=index,
        )
    ]
    for companion, series in release.companions.items():
        pins.append(
            Pin(
                spec=f"{companion}=={series}.*",
                reason=f"the {companion} series released with {release.framework} "
                f"{release.version}",
                index=index,
            )
        )
    pins.extend(Pin(spec=p, reason=variant.note or f"needed by {c.label}") for p in variant.pip)
    return pins


def _conda_forge_pins(
    kb: KnowledgeBase, target: Target, chosen: list[Candidate], request: Request
) -> list[Pin]:
    pins: list[Pin] = []
    cudas: list[str] = []
    for c in chosen:
        tag = c.variant.tag if c.variant.cuda else "cpu"
        version = c.pinned or f"{c.release.version}.*"
        pins.append(
            Pin(
                spec=f"{c.release.package}={version}={tag}*",
                reason=f"{c.label}: {_why(kb, target, c, request)}",
            )
        )
        if c.variant.cuda and c.variant.cuda not in cudas:
            cudas.append(c.variant.cuda)
    for cuda in cudas:
        max_cuda = (
            kb.max_cuda_for_driver(target.driver, target.driver_os) if target.driver else None
        )
        pins.append(
            Pin(
                spec=f"cuda-version={cuda}",
                reason=f"pins every CUDA library to {cuda}; conda-forge checks the driver only "
                f"by major (__cuda is {max_cuda} here), so the solver could pick a newer minor",
            )
        )
    return pins


def _glibc_decides(kb: KnowledgeBase, target: Target) -> bool:
    """True when the target's glibc is older than a wheel's glibc floor in the data for its
    platform: it rules releases out, so the command that plans the same must name it."""
    if target.glibc is None:
        return False
    floors = [
        floor.glibc
        for floor in kb.glibc_floors
        if not floor.platforms or target.platform in floor.platforms
    ]
    floors += [
        variant.glibc
        for framework in NAMES
        for channel in ("pip", "conda-forge")
        for release in kb.releases(framework, channel)
        for variant in release.variants
        if variant.glibc is not None and target.platform in variant.arch
    ]
    return any(glibc_older(target.glibc, floor) for floor in floors)


def build_plan(
    kb: KnowledgeBase,
    target: Target,
    request: Request,
    chosen: list[Candidate],
    notes: tuple[str, ...] = (),
) -> Plan:
    """Assemble the plan for the builds ``chosen`` by the planner; ``notes`` are written with
    the warnings (what a newer driver would unlock)."""
    python, python_why = _python(kb, chosen, request)
    conda: list[Pin] = [Pin(spec=f"python={python}", reason=python_why)]
    pip: list[Pin] = []
    options: list[tuple[str, str]] = []
    if request.source == "pip":
        conda.append(Pin(spec="pip", reason="installs the pip section"))
        for c in chosen:
            why = c.variant.note or f"needed by {c.label}"
            conda.extend(Pin(spec=spec, reason=why) for spec in c.variant.conda)
            pip.extend(_pip_pins(kb, target, c, request))
        pip.extend(_numpy_pins(kb, target, chosen))
        pip.extend(_numpy_for_verify(chosen, pip))
        indexed = [c for c in chosen if c.variant.index_url]
        if len(indexed) == 1 and len(chosen) == 1:
            url = index_url(indexed[0], request)
            options.append((f"--index-url {url}", _index_why(indexed[0], request)))
        for c in indexed if len(chosen) > 1 else ():
            options.append(
                (
                    f"--extra-index-url {index_url(c, request)}",
                    "PyPI serves the other packages; the local version label (+cpu, +cu126) "
                    f"makes pip take {c.label} from this index",
                )
            )
    else:
        conda.extend(_conda_forge_pins(kb, target, chosen, request))
    reasons = [f"{p.spec}: {p.reason}" for p in conda if p.spec != "pip"]
    reasons += [f"{option}: {why}" for option, why in options]
    reasons += [f"{p.spec}: {p.reason}" for p in pip]
    return Plan(
        name=_name(chosen, request),
        python=python,
        target=target,
        target_text=target.describe(kb),
        frameworks=tuple(
            _framework_plan(c, request.source, target.platform, request) for c in chosen
        ),
        channels=CHANNELS,
        conda=tuple(conda),
        pip=tuple(pip),
        pip_options=tuple(option for option, _ in options),
        warnings=(*_warnings(kb, target, chosen, request), *notes),
        reasons=tuple(reasons),
        as_of=kb.as_of.isoformat(),
        command=command_for(target, request, with_glibc=_glibc_decides(kb, target)),
        driver_cuda=(
            kb.max_cuda_for_driver(target.driver, target.driver_os) if target.driver else None
        ),
    )
