"""The forms make-env writes (conda, uv, pixi, requirements, json) and how each is picked."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import PurePath

from gpudoctor.envplan.pixi_form import to_pixi
from gpudoctor.envplan.types import PIP_ONLY, Plan, choice
from gpudoctor.envplan.uv_form import to_uv
from gpudoctor.envplan.wheels import to_requirements
from gpudoctor.envplan.writers import to_json, to_yaml
from gpudoctor.errors import BadInputError

FORMATS = ("conda", "uv", "pixi", "requirements", "json")
DEFAULT_FILES = {
    "conda": "environment.yml",
    "uv": "pyproject.toml",
    "pixi": "pixi.toml",
    "requirements": "requirements.txt",
}


def format_for_path(path: str) -> str | None:
    """The form an output file name asks for, None when it does not say (then conda)."""
    name = PurePath(path).name.lower()
    suffix = PurePath(name).suffix
    if suffix == ".json":
        return "json"
    if name == "pyproject.toml":
        return "uv"
    if name == "pixi.toml":
        return "pixi"
    if suffix == ".txt":
        return "requirements"
    if suffix in (".yml", ".yaml"):
        return "conda"
    if suffix == ".toml":
        raise BadInputError(
            f"--output {path}: a .toml file may be a uv or a pixi project; "
            "say which with --format uv or --format pixi"
        )
    return None


def resolve_format(fmt: str | None, output: str | None) -> str:
    """The form to write: --format (``yaml`` is the old name of conda), else from --output's
    name, else conda."""
    if fmt is None:
        return (format_for_path(output) if output is not None else None) or "conda"
    fmt = "conda" if fmt.lower() == "yaml" else fmt
    return choice("--format", fmt, FORMATS)


__all__ = ["DEFAULT_FILES", "FORMATS", "PIP_ONLY", "format_for_path", "render", "resolve_format"]

_RENDER: dict[str, Callable[[Plan, str], str]] = {
    "conda": to_yaml,
    "uv": to_uv,
    "pixi": to_pixi,
    "requirements": to_requirements,
    "json": lambda plan, _path: to_json(plan),
}


def render(plan: Plan, fmt: str, path: str | None = None) -> str:
    """``plan`` in form ``fmt``; ``path`` is the file as the user named it (for the create
    command), None for the form's usual name."""
    return _RENDER[fmt](plan, path or DEFAULT_FILES.get(fmt, "plan.json"))
