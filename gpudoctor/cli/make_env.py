"""`gpudoctor make-env`: write an environment (conda, uv, pixi, pip) that works on a machine."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from gpudoctor.cli.files import emit, is_stdout
from gpudoctor.cli.formats import MAKE_ENV
from gpudoctor.cli.options import (
    STDIN_IS_A_TERMINAL,
    FilePath,
    dash_aware_path,
    debug_option,
    force_option,
)
from gpudoctor.envplan.forms import DEFAULT_FILES, PIP_ONLY
from gpudoctor.envplan.plan import FRAMEWORK_CHOICES, SOURCES, Plan, Request, make_plan
from gpudoctor.envplan.target import ARCHES, OSES, Target, target_from_args, target_from_report
from gpudoctor.envplan.uv_form import check_project_name
from gpudoctor.errors import BadInputError, ExitCode
from gpudoctor.kb import KnowledgeBase, load

ALIASES = {"amd64": "x86_64", "x64": "x86_64", "arm64": "aarch64", "win32": "windows"}
"""Other names platforms go by (`uname -m` on macOS and Windows' PROCESSOR_ARCHITECTURE say
``arm64`` / ``AMD64``; Python's sys.platform says ``win32``)."""


def _choice(flag: str, value: str, allowed: tuple[str, ...], *, aliases: bool = False) -> str:
    """``value`` in its canonical spelling (any case; other tools' platform names with
    ``aliases``); validated here rather than with click.Choice so that a bad value is one line,
    exit 2."""
    canonical = value.lower()
    if aliases:
        canonical = ALIASES.get(canonical, canonical)
    if canonical not in allowed:
        raise BadInputError(f"{flag} {value}: use {' or '.join(allowed)}")
    return canonical


RESERVED_NAMES = ("base", "root")
"""conda's ``RESERVED_ENV_NAMES``: the base environment and its old name (conda/conda#15118)."""
FORBIDDEN_CHARS = "/ :#"
"""conda's ``PREFIX_NAME_DISALLOWED_CHARS`` (conda/base/constants.py)."""


def _check_name(name: str) -> None:
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


def _create_path(output: Path | None, to_stdout: bool, fmt: str) -> str:
    """The file for the create line (``conda env create -f``): as typed, or the default name."""
    if to_stdout or output is None or is_stdout(output):
        return DEFAULT_FILES.get(fmt, "plan.json")
    return str(output)


def _check_typed(values: list[tuple[str, str | None]]) -> None:
    """Refuse control characters (a newline, ESC, ...) in any typed value: each one ends up in
    the file, its comments or its commands."""
    for flag, value in values:
        if value and not value.isprintable():
            raise BadInputError(f"{flag} {value!r}: control characters are not allowed")


def _format(fmt: str | None, output: Path | None) -> str:
    """The form to write: --format (``yaml`` is the old name of conda), else from --output."""
    return MAKE_ENV.resolve(fmt, output)


def _target(
    kb: KnowledgeBase,
    from_report: Path | None,
    driver: str | None,
    cc: str | None,
    os: str | None,
    arch: str | None,
    wsl: bool,
) -> Target:
    given = driver is not None or cc is not None or os is not None or arch is not None or wsl
    if from_report is not None:
        if given:
            raise BadInputError("--from-report cannot be combined with --driver/--cc/--os/--arch")
        from gpudoctor.userfiles.read import load_report

        if str(from_report) == "-":  # the report comes on standard input
            if sys.stdin.isatty():
                raise BadInputError(STDIN_IS_A_TERMINAL)
            report = load_report(from_report)  # standard input, up to the size limit
            return target_from_report(report, "the report on standard input")
        return target_from_report(load_report(from_report), f"report {from_report.name}")
    if given:
        return target_from_args(
            kb,
            driver=driver,
            cc=cc,
            os=_choice("--os", os or "linux", OSES, aliases=True),
            arch=_choice("--arch", arch or "x86_64", ARCHES, aliases=True),
            wsl=wsl,
        )
    from gpudoctor.probe.base import ProbeContext
    from gpudoctor.probe.collect import collect_report

    return target_from_report(collect_report(ProbeContext(), frameworks=False), "this machine")


def _summary(plan: Plan, where: str) -> str:
    builds = ", ".join(
        f"{fw.name} {fw.version} ({fw.variant if fw.cuda else 'CPU'}, {fw.source})"
        for fw in plan.frameworks
    )
    return f"{where}: {builds}, Python {plan.python} for {plan.target_text}"


@click.command("make-env")
@click.option(
    "--from-report",
    "from_report",
    type=FilePath(dir_okay=False),
    default=None,
    callback=dash_aware_path,
    help="Plan for the machine a saved `check --format json` report describes (- reads stdin).",
)
@click.option(
    "--driver", default=None, help="Plan for another machine: its driver, e.g. 535.104.05."
)
@click.option("--cc", default=None, help="With --driver: the lowest compute capability, e.g. 8.6.")
@click.option(
    "--os",
    "os_name",
    default=None,
    help="The other machine's OS: linux (default) or windows; without --driver, one with no GPU.",
)
@click.option("--arch", default=None, help="The other machine's CPU: x86_64 (default) or aarch64.")
@click.option(
    "--wsl", is_flag=True, help="The other machine is WSL2 (Linux packages, Windows driver)."
)
@click.option(
    "--framework",
    default="torch",
    show_default=True,
    help="torch, tensorflow, or both (in one environment when their CUDA stacks agree; "
    "all, as verify spells it, is accepted too).",
)
@click.option("--python", "python", default=None, help="Python X.Y (default: newest that fits).")
@click.option("--torch", "torch_version", default=None, help="PyTorch version, e.g. 2.9 or 2.9.1.")
@click.option("--tensorflow", "tf_version", default=None, help="TensorFlow version, e.g. 2.20.")
@click.option(
    "--source",
    default="pip",
    show_default=True,
    help="pip (official wheels; Python from conda-forge) or conda-forge (conda packages).",
)
@click.option("--cpu", is_flag=True, help="CPU-only builds.")
@click.option("--name", default=None, help="The environment name (default: from the builds).")
@click.option(
    "--output",
    "-o",
    type=FilePath(dir_okay=False),
    default=None,
    callback=dash_aware_path,
    help="Write to FILE, - for standard output (default: environment.yml, pyproject.toml, "
    "pixi.toml or requirements.txt by --format; json: stdout).",
)
@force_option
@click.option("--stdout", "to_stdout", is_flag=True, help="Print instead of writing a file.")
@click.option(
    "--format",
    "fmt",
    default=None,
    help="conda (environment.yml), uv (pyproject.toml), pixi (pixi.toml), requirements "
    "(requirements.txt for venv + pip) or json (the plan). Default: from --output's name, "
    "else conda.",
)
@click.option(
    "--torch-index-url",
    "torch_index_url",
    default=None,
    metavar="URL",
    help="A mirror of the PyTorch wheel index to use in every form ({variant} becomes cu126, "
    "cpu, ...).",
)
@click.option(
    "--solve",
    is_flag=True,
    help="Solve the conda part for the target's __cuda/__cuda_arch first (needs py-rattler).",
)
@click.option(
    "--solve-channel",
    "solve_channels",
    multiple=True,
    help="With --solve: a channel URL or folder to solve against instead of conda-forge.",
)
@debug_option
def command(
    from_report: Path | None,
    driver: str | None,
    cc: str | None,
    os_name: str | None,
    arch: str | None,
    wsl: bool,
    framework: str,
    python: str | None,
    torch_version: str | None,
    tf_version: str | None,
    source: str,
    cpu: bool,
    name: str | None,
    output: Path | None,
    force: bool,
    to_stdout: bool,
    fmt: str | None,
    torch_index_url: str | None,
    solve: bool,
    solve_channels: tuple[str, ...],
) -> int:
    """Write an environment whose PyTorch/TensorFlow build fits a machine.

    The form is a conda environment.yml, a uv project, a pixi manifest or a requirements.txt
    (--format); every form holds the same plan.

    With no target options the machine is this one. The build chosen is the newest release
    whose CUDA the driver runs (fully, else through minor-version compatibility, with a
    warning), whose arch list covers the GPU, and which supports the Python and the platform.
    Exit 1 when nothing fits, naming the nearest working combination.
    """
    _check_typed(
        [
            ("--driver", driver),
            ("--cc", cc),
            ("--os", os_name),
            ("--arch", arch),
            ("--framework", framework),
            ("--python", python),
            ("--torch", torch_version),
            ("--tensorflow", tf_version),
            ("--source", source),
            ("--name", name),
            ("--format", fmt),
            ("--torch-index-url", torch_index_url),
            ("--output", None if output is None else str(output)),
            ("--from-report", None if from_report is None else str(from_report)),
            *(("--solve-channel", c) for c in solve_channels),
        ]
    )
    # verify says --framework all; make-env takes it as a synonym of both
    framework = "both" if framework.lower() == "all" else framework
    framework = _choice("--framework", framework, FRAMEWORK_CHOICES)
    source = _choice("--source", source, SOURCES)
    fmt = _format(fmt, output)
    if fmt in PIP_ONLY and source != "pip":
        raise BadInputError(
            f"--format {fmt} installs wheels only: use --source pip, or --format conda or pixi "
            "for conda-forge builds"
        )
    if torch_version and framework == "tensorflow":
        raise BadInputError("--torch needs --framework torch or both")
    if tf_version and framework == "torch":
        raise BadInputError("--tensorflow needs --framework tensorflow or both")
    if to_stdout and output is not None:
        raise BadInputError("--stdout and --output exclude each other")
    if solve_channels and not solve:
        raise BadInputError("--solve-channel needs --solve")
    if name is not None:
        _check_name(name)
        if fmt == "uv":
            check_project_name(name)
    kb = load()
    target = _target(kb, from_report, driver, cc, os_name, arch, wsl)
    frameworks = ("torch", "tensorflow") if framework == "both" else (framework,)
    request = Request(
        frameworks=frameworks,
        python=python,
        torch=torch_version,
        tensorflow=tf_version,
        source=source,
        cpu=cpu,
        name=name,
        torch_index_url=torch_index_url,
    )
    plan = make_plan(kb, target, request)
    if solve:
        from gpudoctor.envplan.solve import solve_plan

        result = solve_plan(kb, plan, solve_channels)
        click.echo(
            f"--solve: solvable with {', '.join(result.virtual_packages)}: "
            + ", ".join(result.records),
            err=True,
        )
    text = MAKE_ENV.render(fmt, plan, _create_path(output, to_stdout, fmt))
    printed = output is None and (to_stdout or fmt == "json")
    # on stderr, like check and verify: stdout stays free for the file itself (-o -)
    emit(
        text,
        None if printed else output or Path(DEFAULT_FILES[fmt]),
        force=force,
        note=lambda path: "\n".join(
            [_summary(plan, f"wrote {path}"), *(f"warning: {w}" for w in plan.warnings)]
        ),
    )
    return int(ExitCode.OK)
