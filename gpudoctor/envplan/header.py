"""The comment block every environment file starts with: target, data date, how to regenerate
it, how to create the environment with its tool, and the reason for every pin."""

from __future__ import annotations

import os
import posixpath
import shlex
import subprocess

from gpudoctor.envplan.emit import comment, comment_safe
from gpudoctor.envplan.types import Plan


def shell_word(text: str) -> str:
    """``text`` as one word of a shell command on this OS (quoted only when it must be)."""
    if os.name == "nt":
        return subprocess.list2cmdline([text])
    return shlex.quote(text)


def header(plan: Plan, create: str, fmt: str = "conda", notes: tuple[str, ...] = ()) -> list[str]:
    """The ``#`` lines: ``create`` is the command that makes the environment from this file,
    ``fmt`` the --format that writes it, ``notes`` lines said before the reasons."""
    lines = comment(f"environment for {plan.target_text}", "# gpudoctor make-env: ", "#   ")
    if plan.target.gpus:
        lines += comment("GPUs: " + ", ".join(plan.target.gpus), "# ", "#   ")
    if plan.target.cluster:
        lines += comment(f"Planned for the compute nodes of {plan.target.cluster}", "# ", "#   ")
    if plan.target.unload_modules:
        unload = " ".join(plan.target.unload_modules)
        lines += comment(
            f"First: module unload {unload}   (they put CUDA libraries on LD_LIBRARY_PATH, "
            "which would shadow the environment's own)",
            "# ",
            "#   ",
        )
    lines.append(f"# Knowledge base data as of {plan.as_of}; see docs/make-env.md.")
    regenerate = plan.command if fmt == "conda" else f"{plan.command} --format {fmt}"
    # one line however long: a copied line must be the whole command
    lines.append(comment_safe(f"# Regenerate: {regenerate}"))
    lines.append(comment_safe(f"# Create with: {create}"))
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
