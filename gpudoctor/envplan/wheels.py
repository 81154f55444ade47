"""Wheels-only forms: what they cannot hold, and the requirements.txt for venv + pip."""

from __future__ import annotations

from packaging.requirements import Requirement

from gpudoctor.envplan.header import header, shell_word
from gpudoctor.envplan.types import Plan
from gpudoctor.errors import BadInputError, PlanError


def conda_only(plan: Plan) -> list[str]:
    """The conda packages of a pip plan besides Python and pip (``cudatoolkit=11.8``)."""
    return [p.spec for p in plan.conda if p.spec != "pip" and not p.spec.startswith("python=")]


def check_pip_only(plan: Plan, fmt: str) -> None:
    """Refuse a plan a wheels-only form cannot install (conda-forge builds, conda CUDA)."""
    if any(fw.source != "pip" for fw in plan.frameworks):
        raise BadInputError(
            f"--format {fmt} installs wheels only: use --source pip, or --format conda or "
            "pixi for conda-forge builds"
        )
    needs = conda_only(plan)
    if needs:
        builds = ", ".join(f"{fw.name} {fw.version} {fw.variant}" for fw in plan.frameworks)
        raise PlanError(
            f"{builds} needs {', '.join(needs)} from conda, which --format {fmt} cannot "
            "install: use --format conda or --format pixi"
        )


def pip_name(spec: str) -> str:
    """The distribution name of a pip requirement (``tensorflow[and-cuda]==2.21.*``)."""
    return Requirement(spec).name


def to_requirements(plan: Plan, path: str) -> str:
    """The requirements.txt: the index line and the pins, for ``python -m venv`` and pip."""
    check_pip_only(plan, "requirements")
    python = plan.python
    if plan.target.os == "windows":
        create = f"py -{python} -m venv .venv && .venv\\Scripts\\python -m pip install -r "
    else:
        create = f"python{python} -m venv .venv && .venv/bin/python -m pip install -r "
    note = f"Needs Python {python}: pip does not install it; make the venv with that Python."
    lines = header(plan, create + shell_word(path), "requirements", (note,))
    lines += list(plan.pip_options)
    lines += [pin.spec for pin in plan.pip]
    return "\n".join(lines) + "\n"
