"""Writing a Plan as a conda environment.yml (through emit.yaml_scalar) or as JSON."""

from __future__ import annotations

import json
from typing import Any

from gpudoctor import __version__
from gpudoctor.envplan.emit import yaml_scalar
from gpudoctor.envplan.header import cuda_override, header, shell_word
from gpudoctor.envplan.types import Plan

__all__ = ["DEFAULT_FILE", "SCHEMA_VERSION", "shell_word", "to_dict", "to_json", "to_yaml"]

DEFAULT_FILE = "environment.yml"

SCHEMA_VERSION = 1
"""The JSON plan's version (docs/make-env.md); bumped on any change that breaks a reader."""


def to_yaml(plan: Plan, path: str = DEFAULT_FILE) -> str:
    """The environment.yml: a comment block with the target and the reasons, then the spec.

    ``path`` is the file as the user named it, for the ``conda env create -f`` line.
    """
    cuda = cuda_override(plan)
    # On a login node conda sees no __cuda: the override makes it solve for the nodes' CUDA.
    prefix = f"CONDA_OVERRIDE_CUDA={cuda} " if cuda else ""
    lines = header(plan, f"{prefix}conda env create -f {shell_word(path)}")
    lines.append(f"name: {yaml_scalar(plan.name)}")
    lines.append("channels:")
    lines += [f"  - {yaml_scalar(c)}" for c in plan.channels]
    lines.append("dependencies:")
    lines += [f"  - {yaml_scalar(pin.spec)}" for pin in plan.conda]
    if plan.pip:
        lines.append("  - pip:")
        lines += [f"      - {yaml_scalar(o)}" for o in plan.pip_options]
        lines += [f"      - {yaml_scalar(pin.spec)}" for pin in plan.pip]
    if cuda:
        # set on activation: a later `conda install` in the environment solves the same way
        lines += ["variables:", f"  CONDA_OVERRIDE_CUDA: {yaml_scalar(cuda)}"]
    return "\n".join(lines) + "\n"


def to_dict(plan: Plan) -> dict[str, Any]:
    """The plan as JSON-ready data (the shape is documented in docs/make-env.md)."""
    target = plan.target
    return {
        # what wrote it, as every other gpudoctor document says (a script can tell a plan
        # from a check report or a verify result, and a newer form from this one)
        "schema_version": SCHEMA_VERSION,
        "tool": "gpudoctor make-env",
        "gpudoctor_version": __version__,
        "name": plan.name,
        "python": plan.python,
        "frameworks": [
            {
                "name": fw.name,
                "version": fw.version,
                "cuda": fw.cuda,
                "cudnn": fw.cudnn,
                "build_cuda": fw.build_cuda,
                "build_cudnn": fw.build_cudnn,
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
            "glibc": target.glibc,
            "platform": target.platform,
            "gpus": list(target.gpus),
            "origin": target.origin,
            "cluster": target.cluster,
            "unload_modules": list(target.unload_modules),
            "description": plan.target_text,
        },
        "warnings": list(plan.warnings),
        "reasons": list(plan.reasons),
        "command": plan.command,
        "knowledge_base_as_of": plan.as_of,
    }


def to_json(plan: Plan) -> str:
    """The plan as indented JSON."""
    return json.dumps(to_dict(plan), indent=2, sort_keys=True) + "\n"
