"""The planner: from a target machine and a request to a Plan (pins, reasons and warnings).

The data types live in types.py; the direction is types <- suggest <- pins <- plan.
"""

from __future__ import annotations

import itertools
import re
from urllib.parse import urlsplit

from gpudoctor.envplan.choose import NAMES, Candidate, best, candidates, glibc_floor
from gpudoctor.envplan.explain import (
    branch_text,
    driver_unlock,
    gpu_text,
    no_fit_message,
    no_recorded_build,
)
from gpudoctor.envplan.pins import build_plan
from gpudoctor.envplan.target import CPU_OPTION, Target
from gpudoctor.envplan.types import (
    FRAMEWORK_CHOICES,
    SOURCES,
    FrameworkPlan,
    Pin,
    Plan,
    Request,
)
from gpudoctor.errors import BadInputError, PlanError
from gpudoctor.kb import FrameworkRelease, KnowledgeBase
from gpudoctor.model.versions import (
    framework_version,
    is_exact,
    parse_driver,
    python_key,
    release_key,
)

__all__ = [
    "FRAMEWORK_CHOICES",
    "SOURCES",
    "FrameworkPlan",
    "Pin",
    "Plan",
    "Request",
    "choose",
    "make_plan",
]


def _flag(framework: str) -> str:
    return "--torch" if framework == "torch" else "--tensorflow"


def _check_exact(release: FrameworkRelease, version: str, framework: str, source: str) -> None:
    """Refuse an exact version (``2.9.7``) the release series never had."""
    name, flag = NAMES[framework], _flag(framework)
    known = release.has_version(version)
    if known is None:
        raise BadInputError(
            f"{flag} {version}: the knowledge base records no patch releases of {name} "
            f"{release.version} on {source}; use {flag} {release.version}"
        )
    if not known:
        listed = (
            ", ".join(release.patches.versions) if release.patches else f"up to {release.latest}"
        )
        raise BadInputError(
            f"{flag} {version}: no such {name} release on {source} ({name} {release.version}: "
            f"{listed})"
        )


def _check_local_label(
    release: FrameworkRelease, version: str, framework: str, request: Request
) -> None:
    """A local label (``2.9.1+cu126``, as ``torch.__version__`` prints it) names one build:
    it must be one the release has, on pip, and agree with --cpu. The planner then takes
    that build only (its wheel is on that build's index alone)."""
    local = framework_version(version).local
    if local is None:
        return
    flag = _flag(framework)
    if framework != "torch":
        raise BadInputError(
            f"{flag} {version}: TensorFlow's wheels carry no local label (drop +{local})"
        )
    if request.source != "pip":
        raise BadInputError(
            f"{flag} {version}: +{local} names a wheel of PyTorch's pip index; conda-forge "
            f"builds are chosen by --source conda-forge alone (drop +{local})"
        )
    tags = [v.tag for v in release.variants]
    if local not in tags:
        raise BadInputError(
            f"{flag} {version}: {NAMES[framework]} {release.version} has no +{local} build "
            f"({', '.join(tags)})"
        )
    if (local == "cpu") != request.cpu:
        raise BadInputError(
            (
                f"{flag} {version}: +cpu names the CPU build: add --cpu"
                if request.cpu_way == CPU_OPTION
                else f"{flag} {version}: +cpu names the CPU build, which {request.cpu_way} "
                f"plans (drop +cpu)"
            )
            if local == "cpu"
            else f"{flag} {version}: +{local} is a GPU build, not one for --cpu"
        )


_URL_SCHEMES = ("https://", "http://", "file://")


def _host(url: str) -> str | None:
    try:
        return urlsplit(url).hostname
    except ValueError:  # http://[: an unclosed IPv6 address
        return None


def _check_index_url(request: Request) -> None:
    """A --torch-index-url must be a URL pip, uv and pixi all take, for a PyTorch pip build."""
    url = request.torch_index_url
    if url is None:
        return
    if not url.lower().startswith(_URL_SCHEMES) or any(c.isspace() for c in url):
        raise BadInputError(
            f"--torch-index-url {url}: give an https://, http:// or file:// URL without spaces"
        )
    if url.lower().startswith(("https://", "http://")) and not _host(url):
        raise BadInputError(f"--torch-index-url {url}: the URL names no host")
    other = re.search(r"\{[^}]*\}", url.replace("{variant}", ""))
    if other:
        # a mistyped placeholder would reach pip as a literal path and 404 on every package
        raise BadInputError(
            f"--torch-index-url {url}: only {{variant}} is replaced, {other.group()} would stay "
            "in the URL"
        )
    # each cause named by the option that is given: --source is make-env's alone, and
    # onboard's message named it (onboard --framework tensorflow --torch-index-url ...)
    if request.source != "pip":
        raise BadInputError(
            "--torch-index-url replaces the PyTorch wheel index of the pip builds: not with "
            f"--source {request.source}"
        )
    if "torch" not in request.frameworks:
        raise BadInputError(
            "--torch-index-url replaces the PyTorch wheel index: it needs --framework torch or both"
        )


def check_request(kb: KnowledgeBase, request: Request) -> None:
    """Refuse (one line, exit 2) what no target makes valid: a malformed or unknown Python or
    framework version, a bad --torch-index-url."""
    _validate(kb, request)


def _validate(kb: KnowledgeBase, request: Request) -> None:
    if request.source not in SOURCES:
        raise BadInputError(f"--source {request.source}: use pip or conda-forge")
    _check_index_url(request)
    if request.python is not None and request.python.count(".") > 2:
        # python_key reads 3.12.4.1 as 3.12; the file would pin a Python that does not exist
        raise BadInputError(f"--python {request.python!r} is not like 3.12 or 3.12.4")
    if request.python is not None and python_key(request.python)[0] != 3:
        # no framework release the knowledge base records runs on Python 2 (or a Python 4):
        # a typing mistake, not a machine nothing fits
        raise BadInputError(
            f"--python {request.python}: PyTorch and TensorFlow need Python 3 (like 3.12)"
        )
    for framework in request.frameworks:
        version = request.version(framework)
        if version is None:
            continue
        release_key(version)
        release = kb.release(framework, version, request.source)
        if release is None:
            known = kb.releases(framework, request.source)
            series = ", ".join(reversed([r.version for r in known]))
            if request.source == "conda-forge":
                package = known[0].package if known else framework
                newest = max(known, key=lambda r: release_key(r.version), default=None)
                # a newer feedstock release may exist: "older builds are not recorded" said
                # nothing about it, and the data was not checked for one after its date
                why = (
                    f"newer conda-forge builds were not checked after {newest.as_of}"
                    if newest is not None and release_key(version) > release_key(newest.version)
                    else "older conda-forge builds are not recorded"
                )
                raise BadInputError(
                    f"{NAMES[framework]} {version} is not in the knowledge base for conda-forge: "
                    f"it lists only conda-forge {package} {series} ({why}); use --source pip"
                )
            raise BadInputError(
                f"{NAMES[framework]} {version} is not in the knowledge base for "
                f"{request.source} (known: {series})"
            )
        if is_exact(version):
            _check_exact(release, version, framework, request.source)
            _check_local_label(release, version, framework, request)


def _check_driver_knows_gpu(kb: KnowledgeBase, target: Target, request: Request) -> None:
    """Refuse a command-line target whose driver predates its GPU, or whose driver branch came
    after the last one for its GPU (R470 for Kepler, R580 for Maxwell to Volta): no such machine
    exists.

    Targets read from a machine or a report are not refused: NVML saw the GPU on that driver,
    so a floor above it would be a data error (pins.py warns instead).
    """
    if request.cpu or target.driver is None or target.cc is None or not target.given:
        return
    dropped = kb.driver_drops_cc(target.driver, target.cc)
    if dropped is not None:
        install = f"install the R{dropped.branch} legacy branch (a {dropped.branch}.x driver)"
        # R470 drives a CC 3.0 Kepler, but nothing recorded builds for it: planning for R470
        # would only end in "no build fits"
        none = no_recorded_build(kb, target.cc)
        then = (
            f"{install} to run the GPU, but {none}: plan a CPU-only environment with --cpu"
            if none is not None
            else f"{install} and plan for it"
        )
        raise PlanError(
            f"this GPU ({gpu_text(kb, target)}) is not driven by driver {target.driver}: "
            f"R{dropped.branch} was the last branch for {dropped.architecture} GPUs "
            f"({dropped.source.split(' ')[0]}), so no such machine exists: {then}, "
            "or check --driver and --cc"
        )
    floor = kb.min_driver_for_cc(target.cc, target.driver_os)
    if floor is None or parse_driver(target.driver) >= parse_driver(floor):
        return
    if target.cc_renamed_from is not None:
        return  # the floor is the renamed CC's (R580 says 11.0); a driver saying 10.1 is older
    row = kb.arch_driver(target.cc)
    cuda = f"CUDA {row.cuda}" if row else "the first toolkit for it"
    raise PlanError(
        f"this GPU ({gpu_text(kb, target)}) needs driver >= {floor} (R{floor} shipped with "
        f"{cuda}, the first toolkit for CC {target.cc}); driver {target.driver} predates it, "
        "so no such machine exists: check --driver and --cc"
    )


def _check_driver_installed(target: Target, request: Request) -> None:
    """Refuse a machine whose GPU has no NVIDIA driver yet, or a driver whose version could
    not be read, rather than plan a CPU environment.

    A student whose driver is not installed yet wants a GPU environment once it is; a CPU one
    would install without complaint and then never use the GPU. ``--cpu`` asks for it.
    """
    if request.cpu or target.driver is not None:
        return
    if target.unread_driver:
        signs = "; ".join(target.unread_driver)
        raise PlanError(
            f"{target.origin} shows an NVIDIA GPU with a driver ({signs}), but the driver "
            "version could not be read, so make-env cannot tell which CUDA it runs: give the "
            "driver version (`nvidia-smi` prints it) and the GPUs' lowest compute capability "
            "(--driver VERSION --cc X.Y), or --cpu for a CPU-only environment"
        )
    if not target.driverless_gpus:
        return
    gpus = "; ".join(target.driverless_gpus)
    if target.installed_driver:
        # installed but not running it: installing "the driver" again would not help
        raise PlanError(
            f"{target.origin} shows an NVIDIA GPU ({gpus}) that no NVIDIA driver runs: driver "
            f"{target.installed_driver} is installed but not loaded; fix that first (`gpudoctor "
            "check` says why and how), then run make-env again; or give the driver that will "
            "run it and the GPU's compute capability (--driver VERSION --cc X.Y), or --cpu for "
            "a CPU-only environment"
        )
    raise PlanError(
        f"{target.origin} shows an NVIDIA GPU ({gpus}) but no NVIDIA driver: install the "
        "driver first (`gpudoctor check` says how), then run make-env again; or give the "
        "driver you will install and the GPU's compute capability (--driver VERSION --cc X.Y), "
        "or --cpu for a CPU-only environment"
    )


def _judge(
    kb: KnowledgeBase, target: Target, request: Request, framework: str, channel: str
) -> list[Candidate]:
    return candidates(
        kb,
        target,
        framework,
        channel,
        python=request.python,
        version=request.version(framework),
        cpu=request.cpu,
    )


def _fail(
    kb: KnowledgeBase, target: Target, request: Request, framework: str, judged: list[Candidate]
) -> PlanError:
    other = "conda-forge" if request.source == "pip" else "pip"
    alternative = None
    if request.version(framework) is None:
        alt = best(_judge(kb, target, request, framework, other))
        if alt is not None:
            alternative = f"--source {other} has {alt.label}"
    message = no_fit_message(
        kb,
        target,
        framework,
        request.source,
        judged,
        python=request.python,
        version=request.version(framework),
        cpu=request.cpu,
        alternative=alternative,
    )
    return PlanError(message)


def _cudnn_wheel(c: Candidate) -> str | None:
    """The exact nvidia-cudnn wheel a pip build installs (PyTorch pins its cuDNN exactly)."""
    if c.variant.conda:
        return None
    if c.release.framework == "torch":
        return c.variant.cudnn
    return c.variant.cudnn_pip


def _cudnn_text(c: Candidate) -> str:
    return _cudnn_wheel(c) or c.variant.cudnn or "not recorded"


def _python_range(chosen: list[Candidate]) -> tuple[tuple[int, int], tuple[int, int]]:
    low = max(python_key(c.release.python_min) for c in chosen)
    high = min(python_key(c.python_max) for c in chosen)
    return low, high


def _compatible(a: Candidate, b: Candidate, channel: str) -> bool:
    low, high = _python_range([a, b])
    if low > high:
        return False
    if a.variant.cuda is None and b.variant.cuda is None:
        return True
    if a.variant.cuda is None or b.variant.cuda is None:
        return False
    if channel == "conda-forge":
        return a.variant.cuda == b.variant.cuda
    wheel_a, wheel_b = _cudnn_wheel(a), _cudnn_wheel(b)
    same_major = a.variant.cuda.split(".")[0] == b.variant.cuda.split(".")[0]
    return same_major and wheel_a is not None and wheel_a == wheel_b


def _pair(kb: KnowledgeBase, target: Target, request: Request) -> list[Candidate]:
    fits: dict[str, list[Candidate]] = {}
    for framework in ("torch", "tensorflow"):
        judged = _judge(kb, target, request, framework, request.source)
        fits[framework] = [c for c in judged if c.fits]
        if not fits[framework]:
            raise _fail(kb, target, request, framework, judged)
    torch, tf = fits["torch"], fits["tensorflow"]
    pairs = sorted(itertools.product(range(len(torch)), range(len(tf))), key=lambda p: (sum(p), p))
    for i, j in pairs:
        if _compatible(torch[i], tf[j], request.source):
            return [torch[i], tf[j]]
    a, b = torch[0], tf[0]
    stack = "CUDA/cuDNN stack" if request.source == "pip" else "cuda-version"
    raise PlanError(
        f"PyTorch and TensorFlow share no {stack} on {request.source} for "
        f"{target.describe(kb)} (best: {a.label} with cuDNN {_cudnn_text(a)}, "
        f"{b.label} with cuDNN {_cudnn_text(b)}): make two environments, "
        "with --framework torch and with --framework tensorflow"
    )


def choose(kb: KnowledgeBase, target: Target, request: Request) -> list[Candidate]:
    """The builds make-env would install, one per framework; raises PlanError when none fits."""
    _validate(kb, request)
    _check_driver_installed(target, request)
    _check_driver_knows_gpu(kb, target, request)
    if len(request.frameworks) == 2:
        return _pair(kb, target, request)
    framework = request.frameworks[0]
    judged = _judge(kb, target, request, framework, request.source)
    chosen = best(judged)
    if chosen is None:
        raise _fail(kb, target, request, framework, judged)
    return [chosen]


def _newer_driver_notes(
    kb: KnowledgeBase, target: Target, request: Request, chosen: list[Candidate]
) -> list[str]:
    """What a newer driver would unlock: the driver branch and the newer release it allows."""
    notes = []
    for c in chosen:
        framework = c.release.framework
        if request.version(framework) is not None or c.variant.cuda is None:
            continue
        unlock = driver_unlock(
            kb, target, _judge(kb, target, request, framework, c.release.channel)
        )
        if unlock is None or release_key(unlock[1]) <= release_key(c.release.version):
            continue
        floor, _, builds = unlock
        tags = ", ".join(b.variant.tag for b in builds)
        ptx = next((b for b in builds if "ptx" in b.failed and b.coverage), None)
        why = (
            f" (its only code for CC {target.cc} is PTX ({ptx.coverage.matched}) from CUDA "
            f"{ptx.variant.cuda}, which driver {target.driver} cannot JIT-compile: minor-version "
            "compatibility does not cover newer PTX)"
            if ptx is not None and ptx.coverage is not None
            else ""
        )
        notes.append(
            f"a newer driver unlocks a newer {NAMES[framework]}: driver {branch_text(floor)} "
            f"gives {NAMES[framework]} {builds[0].version} ({tags}){why}; {c.label} is the "
            f"newest driver {target.driver} runs (run make-env again after upgrading)"
        )
    return notes


def _glibc_notes(
    kb: KnowledgeBase, target: Target, request: Request, chosen: list[Candidate]
) -> list[str]:
    """Newer releases the target's glibc rules out (their wheels' manylinux tag)."""
    notes = []
    for c in chosen:
        framework = c.release.framework
        judged = _judge(kb, target, request, framework, c.release.channel)
        newer = [
            x
            for x in judged
            if x.failed == {"glibc"}
            and release_key(x.release.version) > release_key(c.release.version)
        ]
        if not newer:
            notes += _glibc_build_note(kb, target, c, judged)
            continue
        oldest = min(newer, key=lambda x: release_key(x.release.version))
        floor = kb.glibc_min(framework, oldest.release.version, target.platform, c.release.channel)
        if floor is None:
            continue
        notes.append(
            f"{c.label}: glibc {target.glibc} of {target.glibc_owner} is older than the glibc "
            f"{floor.glibc} that the wheels of {NAMES[framework]} {oldest.release.version} and "
            f"later need (manylinux_{floor.glibc.replace('.', '_')}: pip finds none for this "
            "machine), so an older release is planned; a newer OS unlocks them"
        )
    return notes


def _glibc_build_note(
    kb: KnowledgeBase, target: Target, c: Candidate, judged: list[Candidate]
) -> list[str]:
    """A better build of the same release that the target's glibc rules out (conda-forge's
    CUDA 13 builds depend on ``__glibc >=2.28``, its CUDA 12 ones on 2.17)."""
    better = next(
        (
            x
            for x in judged
            if x.failed == {"glibc"} and x.release is c.release and x.rank() > c.rank()
        ),
        None,
    )
    if better is None:
        return []
    floor = glibc_floor(kb, target.platform, better.release, better.variant, better.version)
    if floor is None:
        return []
    return [
        f"{c.label}: glibc {target.glibc} of {target.glibc_owner} is older than the glibc "
        f"{floor} that {better.label} needs, so {c.variant.tag} is planned; a newer OS "
        "unlocks it"
    ]


def make_plan(kb: KnowledgeBase, target: Target, request: Request) -> Plan:
    """The full plan: builds, Python, pins with reasons, warnings."""
    chosen = choose(kb, target, request)
    notes = _newer_driver_notes(kb, target, request, chosen)
    if target.glibc:
        notes += _glibc_notes(kb, target, request, chosen)
    return build_plan(kb, target, request, chosen, notes=tuple(notes))
