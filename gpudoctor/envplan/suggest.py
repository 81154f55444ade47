"""The make-env command line for a target and request, and the fix `check` can suggest."""

from __future__ import annotations

import shlex

from gpudoctor.envplan.target import Target, target_from_report
from gpudoctor.envplan.types import Request
from gpudoctor.errors import BadInputError
from gpudoctor.model.report import Report
from gpudoctor.model.versions import glibc_older

NEWEST_GLIBC_FLOOR = "2.28"
"""The newest glibc any build in the knowledge base needs (its ``[[glibc_min]]`` rows and
variants' ``glibc``; tests/envplan/test_suggest.py keeps the two equal). suggest_command runs
in the rules, which may not load the knowledge base: a report's glibc older than this may rule
a release out, so the suggested command names it."""


def command_for(target: Target, request: Request, *, with_glibc: bool = False) -> str:
    """``gpudoctor make-env ...`` that plans ``request`` for ``target`` on any machine.

    ``with_glibc`` names the target's glibc (``--glibc``): the planner passes it when that
    glibc is older than a wheel's manylinux tag in the data, so that it chose the plan.
    """
    args = ["gpudoctor", "make-env"]
    if target.driver is not None and target.cc is None:
        # --driver needs --cc, and --os alone means a machine without a GPU: with the CC
        # unknown (a report without it) no typed target plans the same, so the command is the
        # one to run on that machine, which make-env probes
        pass
    else:
        if target.driver is not None:
            args += ["--driver", target.driver, "--cc", str(target.cc)]
        args += ["--os", target.os]
        if target.arch != "x86_64":
            args += ["--arch", target.arch]
        if target.wsl:
            args.append("--wsl")
        if with_glibc and target.glibc is not None:
            # without it the command plans releases whose wheels this glibc cannot install
            args += ["--glibc", target.glibc]
        if target.partition is not None and target.driver is not None:
            # planned for a partition's nodes from their login node: without it the file made
            # again there would be planned for one machine, and lose the header naming the
            # nodes and the conda form's CONDA_OVERRIDE_CUDA (with --driver/--cc, make-env
            # only asks sinfo for the nodes: no job runs)
            args += ["--partition", target.partition]
    frameworks = request.frameworks
    args += ["--framework", "both" if len(frameworks) == 2 else frameworks[0]]
    for flag, value in (
        ("--python", request.python),
        ("--torch", request.torch),
        ("--tensorflow", request.tensorflow),
    ):
        if value is not None:
            args += [flag, value]
    if request.source != "pip":
        args += ["--source", request.source]
    if request.cpu:
        args.append("--cpu")
    if request.name:
        args += ["--name", request.name]
    if request.torch_index_url:
        args += ["--torch-index-url", request.torch_index_url]
    return shlex.join(args)


def suggest_command(report: Report, framework: str | None = None) -> str:
    """The make-env command that writes a working environment for the machine in ``report``.

    ``framework`` (``torch``, ``tensorflow`` or ``both``) defaults to the frameworks the report
    found installed (PyTorch when none). Pure: reads only the report; the target is spelled
    out (``--driver``/``--cc``) so the command works on any machine. When the report has a
    driver but no compute capability, a GPU without a driver, or a driver whose version could
    not be read, the command omits the target (make-env then probes, and says what it needs).
    """
    if framework is None:
        installed = [fw.name for fw in report.frameworks if fw.status not in ("not_installed",)]
        framework = "both" if len(installed) == 2 else (installed[0] if installed else "torch")
    if framework not in ("torch", "tensorflow", "both"):
        raise BadInputError(f"unknown framework {framework!r} (torch, tensorflow or both)")
    frameworks = ("torch", "tensorflow") if framework == "both" else (framework,)
    request = Request(frameworks=frameworks)
    try:
        target = target_from_report(report, "report")
    except BadInputError:
        return shlex.join(["gpudoctor", "make-env", "--framework", framework])
    if (
        (target.driver is not None and target.cc is None)
        or target.driverless_gpus
        or target.unread_driver
    ):
        # no CC to spell out, a GPU still without its driver, or a driver of unknown version
        # (make-env then says so)
        return shlex.join(["gpudoctor", "make-env", "--framework", framework])
    # a report's glibc that may rule a release out: make-env, typed, would not know it
    return command_for(target, request, with_glibc=glibc_older(target.glibc, NEWEST_GLIBC_FLOOR))
