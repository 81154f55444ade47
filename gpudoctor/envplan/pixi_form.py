"""The pixi form: a pixi.toml with the platform, the driver's CUDA as a system requirement, and
conda-forge packages (`--source conda-forge`) or PyPI wheels from their index (`--source pip`)."""

from __future__ import annotations

from packaging.requirements import Requirement

from gpudoctor.envplan.emit import TomlValue, toml_key, toml_value
from gpudoctor.envplan.header import copy_then, cuda_override, folder_of, header, shell_word
from gpudoctor.envplan.types import Plan

MANIFEST = "pixi.toml"


def create_command(path: str, cuda: str | None = None) -> str:
    """``pixi install`` for the manifest at ``path`` (as the user typed it); ``cuda`` is the
    compute nodes' CUDA when it is installed on another host (a login node without a GPU)."""
    # pixi refuses to install a workspace whose [system-requirements] cuda the machine does not
    # meet ("Virtual package '__cuda' does not match any of the available virtual packages on
    # your machine"; fieldsoftheworld/ftw-baselines#117): on a login node it must be told
    install = f"CONDA_OVERRIDE_CUDA={cuda} pixi install" if cuda else "pixi install"
    name = path.replace("\\", "/").rsplit("/", 1)[-1]
    if name == MANIFEST:
        if folder_of(path) in ("", "."):
            return install
        return f"{install} --manifest-path {shell_word(path)}"
    return copy_then(path, MANIFEST, "pixi-env", f"{install} --manifest-path pixi-env")


def conda_entry(spec: str) -> tuple[str, TomlValue]:
    """``pytorch=2.13.*=cuda129*`` as pixi's ``pytorch = { version = "2.13.*", build =
    "cuda129*" }``; conda's ``=X`` means ``X.*``, which pixi spells out."""
    name, _, rest = spec.partition("=")
    version, _, build = rest.partition("=")
    if not version:
        return name, "*"
    if not version.endswith("*"):
        version += ".*"
    if build:
        return name, {"version": version, "build": build}
    return name, version


def pypi_entry(spec: str, index: str | None) -> tuple[str, TomlValue]:
    """``torch==2.9.1`` as ``torch = { version = "==2.9.1", index = "..." }``."""
    req = Requirement(spec)
    version = str(req.specifier) or "*"
    if not index and not req.extras:
        return req.name, version
    entry: dict[str, TomlValue] = {"version": version}
    if req.extras:
        entry["extras"] = sorted(req.extras)
    if index:
        entry["index"] = index
    return req.name, entry


def to_pixi(plan: Plan, path: str = MANIFEST) -> str:
    """The pixi.toml for ``plan``."""
    channels = [c for c in plan.channels if c != "nodefaults"]  # pixi never adds defaults
    lines = header(plan, create_command(path, cuda_override(plan)), "pixi")
    lines += [
        "",
        "[workspace]",
        f"name = {toml_value(plan.name)}",
        f"channels = {toml_value(channels)}",
        f"platforms = {toml_value([plan.target.platform])}",
    ]
    if plan.driver_cuda and any(fw.cuda for fw in plan.frameworks):
        lines += [
            "",
            "[system-requirements]",
            "# the newest CUDA the driver runs (its __cuda): pixi solves for it",
            f"cuda = {toml_value(plan.driver_cuda)}",
        ]
    lines += ["", "[dependencies]"]
    for pin in plan.conda:
        if pin.spec == "pip":  # pixi installs PyPI packages itself (with uv)
            continue
        name, value = conda_entry(pin.spec)
        lines.append(f"{toml_key(name)} = {toml_value(value)}")
    if plan.pip:
        lines += ["", "[pypi-dependencies]"]
        for pin in plan.pip:
            name, value = pypi_entry(pin.spec, pin.index)
            lines.append(f"{toml_key(name)} = {toml_value(value)}")
    return "\n".join(lines) + "\n"
