"""Writing a Plan as a conda environment.yml (by hand, no YAML library) or as JSON."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import textwrap
from typing import Any

from gpudoctor.envplan.plan import Plan

_PLAIN = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.=<>-]*$")
_WIDTH = 98
DEFAULT_FILE = "environment.yml"


def _scalar(text: str) -> str:
    """A YAML scalar: plain when safe, else double-quoted (JSON strings are valid YAML)."""
    return text if _PLAIN.match(text) else json.dumps(text)


def _comment(text: str, first: str = "#   - ", rest: str = "#     ") -> list[str]:
    return textwrap.wrap(
        text, width=_WIDTH, initial_indent=first, subsequent_indent=rest, break_on_hyphens=False
    )


def shell_word(text: str) -> str:
    """``text`` as one word of a shell command on this OS (quoted only when it must be)."""
    if os.name == "nt":
        return subprocess.list2cmdline([text])
    return shlex.quote(text)


def to_yaml(plan: Plan, path: str = DEFAULT_FILE) -> str:
    """The environment.yml: a comment block with the target and the reasons, then the spec.

    ``path`` is the file as the user named it, for the ``conda env create -f`` line.
    """
    lines = _comment(f"environment for {plan.target_text}", "# gpudoctor make-env: ", "#   ")
    if plan.target.gpus:
        lines += _comment("GPUs: " + ", ".join(plan.target.gpus), "# ", "#   ")
    lines.append(f"# Knowledge base data as of {plan.as_of}; see docs/make-env.md.")
    # one line however long: a copied first line must be the whole command
    lines.append(f"# Regenerate: {plan.command}")
    lines.append(f"# Create with: conda env create -f {shell_word(path)}")
    lines.append("#")
    lines.append("# Why each pin:")
    for reason in plan.reasons:
        lines += _comment(reason)
    if plan.warnings:
        lines.append("#")
        lines.append("# Warnings:")
        for warning in plan.warnings:
            lines += _comment(warning)
    lines.append(f"name: {_scalar(plan.name)}")
    lines.append("channels:")
    lines += [f"  - {_scalar(c)}" for c in plan.channels]
    lines.append("dependencies:")
    lines += [f"  - {_scalar(pin.spec)}" for pin in plan.conda]
    if plan.pip:
        lines.append("  - pip:")
        lines += [f"      - {_scalar(o)}" for o in plan.pip_options]
        lines += [f"      - {_scalar(pin.spec)}" for pin in plan.pip]
    return "\n".join(lines) + "\n"


def to_dict(plan: Plan) -> dict[str, Any]:
    """The plan as JSON-ready data (the shape is documented in docs/make-env.md)."""
    target = plan.target
    return {
        "name": plan.name,
        "python": plan.python,
        "frameworks": [
            {
                "name": fw.name,
                "version": fw.version,
                "cuda": fw.cuda,
                "cudnn": fw.cudnn,
                "source": fw.source,
                "variant": fw.variant,
                "index_url": fw.index_url,
                "driver_support": fw.driver_support,
                "gpu_coverage": fw.gpu_coverage,
                "coverage_entry": fw.coverage_entry,
                "verified": fw.verified,
                "data_source": fw.data_source,
                "as_of": fw.as_of,
            }
            for fw in plan.frameworks
        ],
        "channels": list(plan.channels),
        "conda": [pin.spec for pin in plan.conda],
        "pip": [pin.spec for pin in plan.pip],
        "pip_options": list(plan.pip_options),
        "pins": [{"spec": p.spec, "reason": p.reason} for p in (*plan.conda, *plan.pip)],
        "target": {
            "driver": target.driver,
            "cc": target.cc,
            "os": target.os,
            "arch": target.arch,
            "wsl": target.wsl,
            "platform": target.platform,
            "gpus": list(target.gpus),
            "origin": target.origin,
            "description": plan.target_text,
        },
        "warnings": list(plan.warnings),
        "reasons": list(plan.reasons),
        "command": plan.command,
        "knowledge_base_as_of": plan.as_of,
    }


def to_json(plan: Plan) -> str:
    """The plan as indented JSON."""
    return json.dumps(to_dict(plan), indent=2) + "\n"
