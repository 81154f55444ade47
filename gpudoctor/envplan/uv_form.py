"""The uv form: a pyproject.toml for a new (unpackaged) project that `uv sync` installs."""

from __future__ import annotations

from gpudoctor.envplan.emit import toml_array, toml_key, toml_value
from gpudoctor.envplan.header import copy_then, folder_of, header, shell_word
from gpudoctor.envplan.types import Plan, check_project_name
from gpudoctor.envplan.wheels import check_pip_only, pip_name

PROJECT_FILE = "pyproject.toml"
MARKERS = {
    "linux-64": "sys_platform == 'linux' and platform_machine == 'x86_64'",
    "linux-aarch64": "sys_platform == 'linux' and platform_machine == 'aarch64'",
    "win-64": "sys_platform == 'win32' and platform_machine == 'AMD64'",
}
"""The PEP 508 environment of each conda platform (uv's `environments`)."""


def create_command(path: str) -> str:
    """``uv sync`` for the project file at ``path`` (as the user typed it)."""
    folder = folder_of(path)
    name = path.replace("\\", "/").rsplit("/", 1)[-1]
    if name == PROJECT_FILE:
        return "uv sync" if folder in ("", ".") else f"uv sync --project {shell_word(folder)}"
    return copy_then(path, PROJECT_FILE, "uv-env", "uv sync --project uv-env")


def index_names(plan: Plan) -> dict[str, str]:
    """Index URL -> the name the file gives it (``pytorch-cu126``)."""
    names: dict[str, str] = {}
    for fw in plan.frameworks:
        if fw.index_url and fw.index_url not in names:
            names[fw.index_url] = f"pytorch-{fw.variant}" if fw.cuda else "pytorch-cpu"
    for pin in plan.pip:
        if pin.index and pin.index not in names:
            names[pin.index] = f"index-{len(names) + 1}"
    return names


def to_uv(plan: Plan, path: str = PROJECT_FILE) -> str:
    """The pyproject.toml: Python range, the pins, and PyTorch's index as an explicit index
    that only the packages from it use (`[tool.uv.sources]`)."""
    check_pip_only(plan, "uv")
    check_project_name(plan.name)
    marker = MARKERS[plan.target.platform]
    names = index_names(plan)
    lines = header(plan, create_command(path), "uv")
    lines += [
        "",
        "[project]",
        f"name = {toml_value(plan.name)}",
        'version = "0"',
        f"requires-python = {toml_value(f'=={plan.python}.*')}",
        f"dependencies = {toml_array([pin.spec for pin in plan.pip])}",
        "",
        "[tool.uv]",
        "# an environment, not a package: uv installs the dependencies only",
        "package = false",
        f"environments = {toml_value([marker])}",
        f"required-environments = {toml_value([marker])}",
    ]
    for url, name in names.items():
        lines += [
            "",
            "[[tool.uv.index]]",
            f"name = {toml_value(name)}",
            f"url = {toml_value(url)}",
            "explicit = true",
        ]
    sourced = [(pip_name(pin.spec), names[pin.index]) for pin in plan.pip if pin.index]
    if sourced:
        lines += ["", "[tool.uv.sources]"]
        lines += [f"{toml_key(name)} = {toml_value({'index': index})}" for name, index in sourced]
    return "\n".join(lines) + "\n"
