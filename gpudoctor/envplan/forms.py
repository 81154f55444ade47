"""The forms make-env writes (conda, uv, pixi, requirements, json) and their usual files."""

from __future__ import annotations

from collections.abc import Callable

from gpudoctor.envplan.pixi_form import to_pixi
from gpudoctor.envplan.types import PIP_ONLY, Plan
from gpudoctor.envplan.uv_form import to_uv
from gpudoctor.envplan.wheels import to_requirements
from gpudoctor.envplan.writers import to_json, to_yaml

FORMATS = ("conda", "uv", "pixi", "requirements", "json")
DEFAULT_FILES = {
    "conda": "environment.yml",
    "uv": "pyproject.toml",
    "pixi": "pixi.toml",
    "requirements": "requirements.txt",
}


RENDERERS: dict[str, Callable[[Plan, str], str]] = {
    "conda": to_yaml,
    "uv": to_uv,
    "pixi": to_pixi,
    "requirements": to_requirements,
    "json": lambda plan, _path: to_json(plan),
}
"""Every form `make-env --format` writes: (plan, the file's name for its create line) -> text.
Which form an --output name asks for is cli/formats.py's MAKE_ENV registry."""


def render(plan: Plan, fmt: str, path: str | None = None) -> str:
    """``plan`` in form ``fmt``; ``path`` is the file as the user named it (for the create
    command), None for the form's usual name."""
    renderer = RENDERERS.get(fmt)
    if renderer is None:
        msg = f"unknown format {fmt!r} (one of {', '.join(RENDERERS)})"
        raise ValueError(msg)
    return renderer(plan, path or DEFAULT_FILES.get(fmt, "plan.json"))


__all__ = ["DEFAULT_FILES", "FORMATS", "PIP_ONLY", "RENDERERS", "render"]
