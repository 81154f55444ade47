"""The planner's data: what was asked (Request) and what make-env writes (Plan, its pins)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from gpudoctor.envplan.target import CPU_OPTION, Target, refuse_macos
from gpudoctor.errors import BadInputError

SOURCES = ("pip", "conda-forge")
FRAMEWORK_CHOICES = ("torch", "tensorflow", "both")
PIP_ONLY = ("uv", "requirements")
"""Forms that install wheels only: they cannot hold conda packages."""
ALIASES = {"amd64": "x86_64", "x64": "x86_64", "arm64": "aarch64", "win32": "windows"}
"""Other names platforms go by (`uname -m` on macOS and Windows' PROCESSOR_ARCHITECTURE say
``arm64`` / ``AMD64``; Python's sys.platform says ``win32``)."""
FRAMEWORK_ALIASES = {"all": "both", "pytorch": "torch", "tf": "tensorflow"}
"""Other spellings of --framework: verify's ``all``, the project's and conda-forge's package
name ``pytorch``, and the usual short name ``tf``."""
RESERVED_NAMES = ("base", "root")
"""conda's ``RESERVED_ENV_NAMES``: the base environment and its old name (conda/conda#15118)."""
FORBIDDEN_CHARS = "/ :#"
"""conda's ``PREFIX_NAME_DISALLOWED_CHARS`` (conda/base/constants.py)."""
SOLVE_TIMEOUT_S = 120.0
"""--solve-timeout's default: how long --solve reads the channels and solves, together, before
it gives up on them (here, not in solve.py, so that make-env's options do not import asyncio)."""


def choice(flag: str, value: str, allowed: tuple[str, ...], *, aliases: bool = False) -> str:
    """``value`` in its canonical spelling (any case; other tools' platform names with
    ``aliases``); validated here rather than with click.Choice so that a bad value is one line,
    exit 2."""
    canonical = value.lower()
    if aliases:
        canonical = ALIASES.get(canonical, canonical)
    if flag == "--os":
        refuse_macos(value)
    if canonical not in allowed:
        shown = value or "''"  # an empty value must still be visible in the message
        raise BadInputError(f"{flag} {shown}: use {' or '.join(allowed)}")
    return canonical


_PROJECT_NAME = re.compile(r"^([A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9])$", re.IGNORECASE)


def check_project_name(name: str) -> None:
    """Refuse a name that is not a valid Python project name (PEP 508), as uv would."""
    if not _PROJECT_NAME.match(name):
        raise BadInputError(
            f"--name {name!r}: a uv project name has only letters, digits, '.', '_' and '-', "
            "and starts and ends with a letter or digit"
        )


_VERSION_EXAMPLES = {"--python": "3.12", "--torch": "2.9", "--tensorflow": "2.21"}


def check_typed(values: list[tuple[str, str | None]]) -> None:
    """Refuse control characters (a newline, ESC, ...) in any typed value: each one ends up in
    the file, its comments or its commands; and an empty version."""
    for flag, value in values:
        # '' is falsy: --tensorflow '' beside --framework torch was taken and written out
        if value == "" and flag in _VERSION_EXAMPLES:
            raise BadInputError(f"{flag} is empty: give a version like {_VERSION_EXAMPLES[flag]}")
        if value and not value.isprintable():
            raise BadInputError(f"{flag} {value!r}: control characters are not allowed")


def check_env_name(name: str) -> None:
    """Refuse a --name that ``conda env create`` would refuse (``PrefixData.validate_name``)."""
    if not name or any(c in name for c in FORBIDDEN_CHARS) or not name.isprintable():
        raise BadInputError(
            f"--name {name!r}: a conda environment name must be non-empty, "
            "without spaces, control characters, '/', ':' or '#'"
        )
    if name in RESERVED_NAMES:
        raise BadInputError(
            f"--name {name}: conda reserves 'base' and 'root' for its own base environment; "
            "choose another name"
        )


@dataclass(frozen=True, kw_only=True)
class Request:
    """What the user asked make-env for."""

    frameworks: tuple[str, ...] = ("torch",)
    python: str | None = None
    torch: str | None = None
    tensorflow: str | None = None
    source: str = "pip"
    cpu: bool = False
    name: str | None = None
    torch_index_url: str | None = None
    """A mirror of the PyTorch wheel index (``--torch-index-url``); ``{variant}`` in it becomes
    the build's tag (``cu126``)."""
    cpu_way: str = CPU_OPTION
    """How the messages say to ask for a CPU-only environment: make-env's ``--cpu``, or for
    a command that has no such option (onboard) :data:`CPU_COMMAND`."""

    def version(self, framework: str) -> str | None:
        """The version pinned for ``framework``, if any."""
        return self.torch if framework == "torch" else self.tensorflow

    @classmethod
    def from_options(
        cls,
        *,
        framework: str = "torch",
        source: str = "pip",
        fmt: str = "conda",
        python: str | None = None,
        torch: str | None = None,
        tensorflow: str | None = None,
        cpu: bool = False,
        name: str | None = None,
        torch_index_url: str | None = None,
    ) -> Request:
        """A request from make-env's options as typed, each checked (one line, exit 2);
        ``fmt`` is the form it will be written in (wheels-only forms take pip builds only)."""
        check_typed(
            [
                ("--framework", framework),
                ("--python", python),
                ("--torch", torch),
                ("--tensorflow", tensorflow),
                ("--source", source),
                ("--name", name),
                ("--torch-index-url", torch_index_url),
            ]
        )
        # verify says --framework all, conda-forge's package is pytorch: synonyms
        framework = FRAMEWORK_ALIASES.get(framework.lower(), framework)
        framework = choice("--framework", framework, FRAMEWORK_CHOICES)
        source = choice("--source", source, SOURCES)
        if fmt in PIP_ONLY and source != "pip":
            raise BadInputError(
                f"--format {fmt} installs wheels only: use --source pip, or --format conda or "
                "pixi for conda-forge builds"
            )
        if torch and framework == "tensorflow":
            raise BadInputError("--torch needs --framework torch or both")
        if tensorflow and framework == "torch":
            raise BadInputError("--tensorflow needs --framework tensorflow or both")
        if name is not None and fmt == "requirements":
            # it reached the Regenerate line alone: the file names no environment
            raise BadInputError(
                f"--name {name}: requirements.txt names no environment (you make the venv); "
                "--name goes with --format conda, uv or pixi"
            )
        if name is not None:
            check_env_name(name)
            if fmt == "uv":
                check_project_name(name)
        return cls(
            frameworks=("torch", "tensorflow") if framework == "both" else (framework,),
            python=python,
            torch=torch,
            tensorflow=tensorflow,
            source=source,
            cpu=cpu,
            name=name,
            torch_index_url=torch_index_url,
        )


@dataclass(frozen=True, kw_only=True)
class Pin:
    """One line of the environment file and why it is there."""

    spec: str
    """The line as the file writes it (``torch==2.9.1``, ``python=3.14``)."""
    reason: str
    """Why it is there, with the knowledge-base row it comes from."""
    index: str | None = None
    """The wheel index this pip package must come from (PyTorch's), None for PyPI or conda."""


@dataclass(frozen=True, kw_only=True)
class FrameworkPlan:
    """The build chosen for one framework."""

    name: str
    version: str
    """The exact version asked for (``--torch 2.9.0``), else the newest known patch release
    (``2.9.1``), else the series (``2.14``)."""
    cuda: str | None
    """The CUDA whose libraries get installed: the wheels' own where a package sets floors
    (TensorFlow 2.20+ ``[and-cuda]``: 12.9), else the build's."""
    cudnn: str | None
    """The cuDNN that gets installed, as exactly as the data knows it (the wheel pip takes
    under a floor, 9.28.0.42 for TensorFlow 2.20+; a pinned wheel; else the build's)."""
    build_cuda: str | None = None
    """The CUDA the build was made and tested with (its variant: 12.5 for TensorFlow 2.21)."""
    build_cudnn: str | None = None
    """The cuDNN the build was made and tested with (9.3 for TensorFlow 2.21)."""
    source: str
    """Where the build comes from: ``pip`` or ``conda-forge``."""
    variant: str
    """The build's tag: its CUDA variant (``cu126``) or ``cpu``."""
    index_url: str | None
    """The wheel index pip takes it from (a mirror with --torch-index-url); None for PyPI and
    conda-forge."""
    driver_support: str | None
    """``full``, ``minor_compat``, or None for a CPU build."""
    gpu_coverage: str | None
    """``sass``, ``ptx_jit``, ``unknown``, or None for a CPU build."""
    coverage_entry: str | None
    """The entry of the build's arch list that covers the GPU (``6.0`` for a CC 6.1 GPU), as
    the list writes it; None when no GPU is known or for a CPU build."""
    verified: bool
    """False when the data behind the build is an inference (``verified = false`` in the
    knowledge base), not a published fact."""
    data_source: str
    """Where the knowledge base's row for the build comes from."""
    as_of: str
    """The date of that row (``2026-09-01``)."""


@dataclass(frozen=True, kw_only=True)
class Plan:
    """Everything make-env writes: the environment and the reasons behind it."""

    name: str
    """The environment's name (``torch2.9-cu126``)."""
    python: str
    """The Python it is for (``3.14``)."""
    target: Target
    """What the plan is for: the machine, report, fleet or typed driver and GPU."""
    target_text: str
    frameworks: tuple[FrameworkPlan, ...]
    """The build chosen for each framework."""
    channels: tuple[str, ...]
    """The conda channels, in order."""
    conda: tuple[Pin, ...]
    pip: tuple[Pin, ...]
    pip_options: tuple[str, ...]
    """pip's options (``--index-url ...``), as the files write them."""
    warnings: tuple[str, ...]
    """What may not work as planned, in sentences (make-env prints them on stderr too)."""
    reasons: tuple[str, ...]
    """Why each pin, one line each, as the file's header says them."""
    as_of: str
    """The knowledge base's date: the newest ``as_of`` of any of its rows."""
    command: str
    """The make-env command line that regenerates this plan on any machine."""
    driver_cuda: str | None = None
    """The newest CUDA the target's driver runs fully (conda's ``__cuda``), None without one."""
