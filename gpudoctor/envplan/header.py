"""The comment block every environment file starts with: target, data date, how to regenerate
it, how to create the environment with its tool, and the reason for every pin."""

from __future__ import annotations

import os
import posixpath
import shlex
import subprocess

from gpudoctor.envplan.emit import comment, comment_safe
from gpudoctor.envplan.types import Plan
from gpudoctor.model import shell


def shell_word(text: str) -> str:
    """``text`` as one word of a shell command on this OS (quoted only when it must be)."""
    if os.name == "nt":
        return subprocess.list2cmdline([text])
    return shlex.quote(text)


def header(plan: Plan, create: str, fmt: str = "conda", notes: tuple[str, ...] = ()) -> list[str]:
    """The ``#`` lines: ``create`` is the command that makes the environment from this file,
    ``fmt`` the --format that writes it, ``notes`` lines said before the reasons."""
    # --cpu on a GPU machine read "environment for driver 570.124.06 (CUDA 12.8), CC 9.0": as
    # if the GPU were planned for
    cpu_only = plan.target.driver is not None and all(fw.cuda is None for fw in plan.frameworks)
    what = "CPU-only environment" if cpu_only and plan.frameworks else "environment"
    lines = comment(f"{what} for {plan.target_text}", "# gpudoctor make-env: ", "#   ")
    if plan.target.gpus:
        lines += comment("GPUs: " + ", ".join(plan.target.gpus), "# ", "#   ")
    if plan.target.cluster:
        # "nodes g[1-2] (...)" from --from-fleet without --partition: not "nodes of nodes"
        of = "" if plan.target.cluster.startswith("nodes ") else "nodes of "
        lines += comment(f"Planned for the compute {of}{plan.target.cluster}", "# ", "#   ")
    if plan.target.unload_modules:
        unload = " ".join(shell.word(m, "NAME") for m in plan.target.unload_modules)
        # the command on a line of its own, however long: a copied line is the whole command
        lines.append(comment_safe(f"# First: module unload {unload}"))
        lines += comment(
            "(they put CUDA libraries on LD_LIBRARY_PATH, which would shadow the environment's "
            "own)",
            "#   ",
            "#   ",
        )
    lines.append(f"# Knowledge base data as of {plan.as_of}; see docs/make-env.md.")
    regenerate = plan.command if fmt == "conda" else f"{plan.command} --format {fmt}"
    # one line however long: a copied line must be the whole command
    lines.append(comment_safe(f"# Regenerate: {regenerate}"))
    if plan.target.driver is not None and plan.target.cc is None:
        lines.append("#   (on that machine: the GPU's compute capability is unknown, and --driver")
        lines.append("#   needs --cc; add both to plan it from anywhere)")
    lines.append(comment_safe(f"# Create with: {create}"))
    then = library_path_then(plan)
    if then:
        # one line: it is a command to copy
        lines.append(comment_safe(f"# Then (once, in the activated environment): {then}"))
    for note in notes:
        lines += comment(note, "# ", "#   ")
    lines.append("#")
    lines.append("# Why each pin:")
    for reason in plan.reasons:
        lines += comment(reason)
    if plan.warnings:
        lines.append("#")
        lines.append("# Warnings:")
        for warning in plan.warnings:
            lines += comment(warning)
    return lines


def library_path_command(pip_specs: tuple[str, ...]) -> str:
    """The activate.d script TensorFlow's recipe writes for a conda-supplied CUDA on Linux.

    TensorFlow wheels before 2.14 look for libcudart/libcudnn only on the loader's path, not
    in the conda prefix or in the nvidia-cudnn wheel (tensorflow/docs site/en/install/pip.md
    before the [and-cuda] rewrite, commit 7442d72c6, "Configure the system paths")."""
    script = "$CONDA_PREFIX/etc/conda/activate.d/env_vars.sh"
    steps = ["mkdir -p $CONDA_PREFIX/etc/conda/activate.d"]
    path = "$CONDA_PREFIX/lib/"
    if any(spec.startswith("nvidia-cudnn") for spec in pip_specs):
        find = "import nvidia.cudnn;print(nvidia.cudnn.__file__)"
        steps.append(f"echo 'CUDNN_PATH=$(dirname $(python -c \"{find}\"))' >> {script}")
        path = "$CUDNN_PATH/lib:" + path
    steps.append(f"echo 'export LD_LIBRARY_PATH={path}:$LD_LIBRARY_PATH' >> {script}")
    return " && ".join(steps)


def library_path_then(plan: Plan) -> str | None:
    """:func:`library_path_command` for a Linux plan whose CUDA comes from conda's
    cudatoolkit (TensorFlow 2.5-2.13 with --source pip); None otherwise."""
    if not plan.target.platform.startswith("linux"):
        return None
    if not any(pin.spec.startswith("cudatoolkit") for pin in plan.conda):
        return None
    return library_path_command(tuple(pin.spec for pin in plan.pip))


def cuda_override(plan: Plan) -> str | None:
    """The compute nodes' CUDA for conda (``CONDA_OVERRIDE_CUDA``) when the environment is
    created on another host (a login node) than the GPUs it is for; None otherwise."""
    if plan.target.cluster is None or not plan.driver_cuda:
        return None
    return plan.driver_cuda if any(fw.cuda for fw in plan.frameworks) else None


def copy_then(path: str, wanted: str, folder_word: str, command: str) -> str:
    """``mkdir ENV && cp PATH ENV/WANTED && COMMAND`` for a file the tool will not read under
    its own name."""
    return f"mkdir {folder_word} && cp {shell_word(path)} {folder_word}/{wanted} && {command}"


def folder_of(path: str) -> str:
    """The folder of ``path`` as typed ("" for the current one)."""
    return posixpath.dirname(path.replace("\\", "/")) if path else ""
