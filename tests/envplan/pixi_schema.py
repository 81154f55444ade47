"""A structural check of pixi.toml by pixi's documented manifest schema (pixi is not on PyPI).

It follows the schema pixi publishes (https://pixi.sh/latest/schema/manifest/schema.json, read
for v0.50): the top-level tables allowed, `[workspace]` with its required `channels` and known
platforms, `[system-requirements]` keys, conda dependencies as a MatchSpec string or a table of
MatchSpec fields, PyPI dependencies as a PEP 440 string or a table (`version`, `extras`, `index`,
...). Only the parts make-env writes are checked in depth; unknown keys are errors, as in the
schema (`additionalProperties: false`)."""

from __future__ import annotations

from typing import Any

from packaging.specifiers import SpecifierSet

TOP = {
    "$schema", "activation", "build-dependencies", "dependencies", "environments", "feature",
    "host-dependencies", "package", "project", "pypi-dependencies", "pypi-options",
    "system-requirements", "target", "tasks", "tool", "workspace",
}  # fmt: skip
WORKSPACE = {
    "authors", "build-variants", "channel-priority", "channels", "conda-pypi-map",
    "description", "documentation", "exclude-newer", "homepage", "license", "license-file",
    "name", "platforms", "preview", "pypi-options", "readme", "repository", "requires-pixi",
    "s3-options", "version",
}  # fmt: skip
PLATFORMS = {
    "emscripten-wasm32", "linux-32", "linux-64", "linux-aarch64", "linux-armv6l",
    "linux-armv7l", "linux-ppc64", "linux-ppc64le", "linux-riscv32", "linux-riscv64",
    "linux-s390x", "noarch", "osx-64", "osx-arm64", "unknown", "wasi-wasm32", "win-32",
    "win-64", "win-arm64", "zos-z",
}  # fmt: skip
SYSTEM = {"archspec", "cuda", "libc", "linux", "macos", "unix"}
MATCHSPEC_TABLE = {
    "branch", "build", "build-number", "channel", "file-name", "git", "license", "md5", "path",
    "rev", "sha256", "subdir", "subdirectory", "tag", "url", "version",
}  # fmt: skip
PYPI_VERSION_TABLE = {"extras", "index", "version"}


def problems(doc: dict[str, Any]) -> list[str]:
    """What in ``doc`` (a parsed pixi.toml) the schema does not allow; empty when valid."""
    out = [f"unknown top-level key {k!r}" for k in doc if k not in TOP]
    workspace = doc.get("workspace", doc.get("project"))
    if not isinstance(workspace, dict):
        return [*out, "no [workspace] table"]
    out += [f"unknown [workspace] key {k!r}" for k in workspace if k not in WORKSPACE]
    channels = workspace.get("channels")
    if not isinstance(channels, list) or not all(isinstance(c, str) and c for c in channels):
        out.append("[workspace] channels must be a list of channel names")
    for platform in workspace.get("platforms", []):
        if platform not in PLATFORMS:
            out.append(f"unknown platform {platform!r}")
    if "name" in workspace and not (isinstance(workspace["name"], str) and workspace["name"]):
        out.append("[workspace] name must be a non-empty string")
    for key, value in doc.get("system-requirements", {}).items():
        if key not in SYSTEM:
            out.append(f"unknown [system-requirements] key {key!r}")
        elif key == "cuda" and not (isinstance(value, (str, int, float)) and str(value)):
            out.append("[system-requirements] cuda must be a version")
    for name, spec in doc.get("dependencies", {}).items():
        if isinstance(spec, str):
            if not spec:
                out.append(f"dependency {name}: empty MatchSpec")
        elif isinstance(spec, dict):
            out += [
                f"dependency {name}: unknown key {k!r}" for k in spec if k not in MATCHSPEC_TABLE
            ]
            out += [
                f"dependency {name}: {k} must be a non-empty string"
                for k, v in spec.items()
                if not (isinstance(v, str) and v)
            ]
        else:
            out.append(f"dependency {name}: not a MatchSpec string or table")
    for name, spec in doc.get("pypi-dependencies", {}).items():
        table = {"version": spec} if isinstance(spec, str) else spec
        if not isinstance(table, dict):
            out.append(f"pypi dependency {name}: not a string or table")
            continue
        out += [
            f"pypi dependency {name}: unknown key {k!r}"
            for k in table
            if k not in PYPI_VERSION_TABLE
        ]
        version = table.get("version", "*")
        if version != "*":
            try:
                SpecifierSet(version)
            except ValueError:
                out.append(f"pypi dependency {name}: {version!r} is not a PEP 440 specifier")
        extras = table.get("extras", [])
        if not (isinstance(extras, list) and all(isinstance(e, str) and e for e in extras)):
            out.append(f"pypi dependency {name}: extras must be a list of names")
        if "index" in table and not str(table["index"]).startswith(
            ("https://", "http://", "file://")
        ):
            out.append(f"pypi dependency {name}: index must be a URL")
    return out
