"""Reading the framework data files (torch, tensorflow, conda_forge): releases and their builds."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import Version

from gpudoctor.datarows import (
    FLAG,
    PLATFORM_LIST,
    PLATFORMS,
    ROWS,
    TABLE,
    TEXT,
    TEXT_TABLE,
    TEXTS,
    VERSION,
    VERSION_LISTS,
    Fields,
    Table,
    check,
    platform_list,
    shape,
    sourced,
    tables,
)
from gpudoctor.errors import KnowledgeBaseError
from gpudoctor.kb.arch import parse_entry
from gpudoctor.kb.records import FrameworkRelease, GlibcFloor, NumpyLimit, Patches, Variant
from gpudoctor.model.versions import (
    cuda_key,
    framework_version,
    major_minor,
    python_key,
    release_key,
)

FILE: Fields = {
    "defaults": TABLE,
    "cpu": TABLE,
    "patches": TABLE,
    "arch_lists": TABLE,
    "release": ROWS,
    "numpy_max": ROWS,
    "glibc_min": ROWS,
}
"""The tables of a framework file."""
RELEASE: Fields = {
    "framework": TEXT,
    "channel": TEXT,
    "package": TEXT,
    "version": VERSION,
    "python_min": VERSION,
    "python_max": VERSION,
    "variant": ROWS,
}
"""The keys a ``[[release]]`` row must hold (itself or from ``[defaults]``)."""
RELEASE_OPTIONAL: Fields = {
    "latest": VERSION,
    "released": TEXT,
    "companions": TEXT_TABLE,
    "cpu_platforms": PLATFORM_LIST,
}
VARIANT_OPTIONAL: Fields = {
    "cudnn": VERSION,
    "status": TEXT,
    "index_url": TEXT,
    "package": TEXT,
    "conda": TEXTS,
    "pip": TEXTS,
    "cudnn_pip": VERSION,
    "python_max": VERSION,
    "pip_cuda": VERSION,
    "pip_cudnn": VERSION,
    "tegra": FLAG,
    "glibc": VERSION,
}


def _arch_lists(data: Table, name: str) -> dict[str, tuple[tuple[str, ...], bool, str]]:
    lists: dict[str, tuple[tuple[str, ...], bool, str]] = {}
    for key, row in data.get("arch_lists", {}).items():
        where = f"{name} arch_lists.{key}"
        shape(row, where, {"list": TEXT})
        meta = sourced(row, where)
        entries = tuple(p for p in row["list"].replace(",", ";").split(";") if p.strip())
        for entry in entries:
            if not parse_entry(entry):
                raise KnowledgeBaseError(f"{where}: {entry!r} is no arch")
        lists[key] = (entries, meta["verified"], meta["source"])
    return lists


def _glibc_version(text: str) -> tuple[int, int]:
    return major_minor(text, "glibc version", "2.28")


def _variant(
    row: Table,
    where: str,
    lists: Mapping[str, tuple[tuple[str, ...], bool, str]],
    inherited: Mapping[str, Any],
) -> Variant:
    shape(
        row,
        where,
        {"tag": TEXT, "cuda": VERSION, "arch": TEXT_TABLE},
        VARIANT_OPTIONAL,
        own_source=False,
    )
    check(where, cuda_key, row["cuda"], row.get("pip_cuda"))
    check(where, python_key, row.get("python_max"))
    check(where, _glibc_version, row.get("glibc"))
    meta = sourced({**inherited, **row}, where)
    arch: dict[str, tuple[str, ...]] = {}
    unverified: list[str] = []
    for platform, value in row["arch"].items():
        if platform not in PLATFORMS:
            raise KnowledgeBaseError(f"{where}: unknown platform {platform!r}")
        if value.startswith("@"):
            if value[1:] not in lists:
                raise KnowledgeBaseError(f"{where}: no arch list named {value[1:]!r}")
            entries, verified, source = lists[value[1:]]
            if not verified:
                unverified.append(platform)
            if source not in meta["source"]:
                meta["source"] = f"{meta['source']}; arch {platform}: {source}"
        else:
            entries = tuple(p for p in value.replace(",", ";").split(";") if p.strip())
        arch[platform] = entries
    status = row.get("status", "stable")
    if status not in ("stable", "experimental"):
        raise KnowledgeBaseError(f"{where}: status must be stable or experimental")
    return Variant(
        tag=row["tag"],
        cuda=cuda_key(row["cuda"]),
        cudnn=row.get("cudnn"),
        status=status,
        index_url=row.get("index_url"),
        package=row.get("package"),
        arch=arch,
        conda=tuple(row.get("conda", ())),
        pip=tuple(row.get("pip", ())),
        cudnn_pip=row.get("cudnn_pip"),
        python_max=row.get("python_max"),
        pip_cuda=cuda_key(row["pip_cuda"]) if row.get("pip_cuda") else None,
        pip_cudnn=row.get("pip_cudnn"),
        unverified_arch=tuple(unverified),
        tegra=row.get("tegra", False),
        glibc=row.get("glibc"),
        **meta,
    )


def _patches(data: Table, name: str) -> dict[str, Patches]:
    """``[patches]``: every published version per series, e.g. ``"2.9" = ["2.9.0", "2.9.1"]``."""
    row = data.get("patches")
    if row is None:
        return {}
    where = f"{name} patches"
    shape(row, where, {"versions": VERSION_LISTS})
    meta = sourced(row, where)
    out: dict[str, Patches] = {}
    for series, versions in row["versions"].items():
        check(where, framework_version, series, *versions)
        key = ".".join(map(str, release_key(series)))
        if not versions or any(release_key(v) != release_key(series) for v in versions):
            raise KnowledgeBaseError(f"{where}: {series} lists a version of another series")
        out[key] = Patches(versions=tuple(versions), **meta)
    return out


def numpy_limits(data: Table, name: str, framework: str, channel: str) -> list[NumpyLimit]:
    """The ``[[numpy_max]]`` rows of one pip framework file."""
    limits: list[NumpyLimit] = []
    for i, row in enumerate(data.get("numpy_max", [])):
        where = f"{name} numpy_max[{i}]"
        shape(row, where, {"versions": TEXT, "numpy": TEXT}, {"platforms": PLATFORM_LIST})
        try:
            SpecifierSet(row["versions"])
            SpecifierSet(row["numpy"])
        except InvalidSpecifier as exc:
            raise KnowledgeBaseError(f"{where}: {exc}") from None
        platforms = platform_list(where, "platforms", row.get("platforms", []))
        limits.append(
            NumpyLimit(
                framework=framework,
                channel=channel,
                versions=row["versions"],
                numpy=row["numpy"],
                platforms=platforms,
                **sourced(row, where),
            )
        )
    return limits


def frameworks(data: Table, name: str) -> tuple[FrameworkRelease, ...]:
    """Every ``[[release]]`` of one framework file, with its variants, CPU build and patches."""
    tables(data, name, FILE)
    defaults = dict(data.get("defaults", {}))
    shape(defaults, f"{name} defaults", {}, {**RELEASE, **RELEASE_OPTIONAL}, own_source=False)
    patches = _patches(data, name)
    cpu = data.get("cpu")
    if not isinstance(cpu, Mapping):
        raise KnowledgeBaseError(f"{name}: missing [cpu]")
    shape(cpu, f"{name} cpu", {"tag": TEXT, "platforms": PLATFORM_LIST}, {"index_url": TEXT})
    cpu_meta = sourced(cpu, f"{name} cpu")
    lists = _arch_lists(data, name)
    releases: list[FrameworkRelease] = []
    for i, row in enumerate(data.get("release", [])):
        merged = {**defaults, **row}
        where = f"{name} release[{i}] ({row.get('version')})"
        shape(merged, where, RELEASE, RELEASE_OPTIONAL)
        if merged["framework"] not in ("torch", "tensorflow"):
            raise KnowledgeBaseError(f"{where}: unknown framework {merged['framework']!r}")
        check(where, release_key, merged["version"], merged.get("latest"))
        check(where, python_key, merged["python_min"], merged["python_max"])
        if python_key(merged["python_min"]) > python_key(merged["python_max"]):
            raise KnowledgeBaseError(f"{where}: python_min is above python_max")
        meta = sourced(row, where)
        variants = [
            _variant(
                v,
                f"{where} variant[{j}]",
                lists,
                {"source": meta["source"], "as_of": meta["as_of"], "verified": meta["verified"]},
            )
            for j, v in enumerate(merged["variant"])
        ]
        platforms: list[str] = list(
            platform_list(where, "cpu_platforms", merged["cpu_platforms"])
            if merged.get("cpu_platforms")
            else platform_list(f"{name} cpu", "platforms", cpu["platforms"])
        )
        variants.append(
            Variant(
                tag=cpu["tag"],
                cuda=None,
                index_url=cpu.get("index_url"),
                arch=dict.fromkeys(platforms, ()),
                **cpu_meta,
            )
        )
        tags = [v.tag for v in variants]
        if len(set(tags)) != len(tags):
            raise KnowledgeBaseError(f"{where}: a variant tag appears twice")
        series = ".".join(map(str, release_key(merged["version"])))
        if any(r.version == series and r.framework == merged["framework"] for r in releases):
            raise KnowledgeBaseError(f"{where}: duplicate release {series}")
        published = patches.pop(series, None)
        latest = merged.get("latest")
        if published and latest and Version(latest) not in map(Version, published.versions):
            raise KnowledgeBaseError(f"{where}: latest {latest} is not in [patches]")
        releases.append(
            FrameworkRelease(
                framework=merged["framework"],
                channel=merged["channel"],
                version=series,
                latest=merged.get("latest"),
                released=merged.get("released", ""),
                package=merged["package"],
                python_min=merged["python_min"],
                python_max=merged["python_max"],
                variants=tuple(variants),
                companions=dict(merged.get("companions", {})),
                patches=published,
                **meta,
            )
        )
    if patches:
        raise KnowledgeBaseError(f"{name} patches: no release {', '.join(patches)}")
    return tuple(releases)


def glibc_floors(data: Table, name: str, framework: str, channel: str) -> list[GlibcFloor]:
    """The ``[[glibc_min]]`` rows of one pip framework file."""
    floors: list[GlibcFloor] = []
    for i, row in enumerate(data.get("glibc_min", [])):
        where = f"{name} glibc_min[{i}]"
        shape(row, where, {"versions": TEXT, "glibc": VERSION}, {"platforms": PLATFORM_LIST})
        try:
            SpecifierSet(row["versions"])
        except InvalidSpecifier as exc:
            raise KnowledgeBaseError(f"{where}: {exc}") from None
        check(where, python_key, row["glibc"])  # major.minor, as glibc versions are
        platforms = platform_list(where, "platforms", row.get("platforms", []))
        floors.append(
            GlibcFloor(
                framework=framework,
                channel=channel,
                versions=row["versions"],
                glibc=row["glibc"],
                platforms=platforms,
                **sourced(row, where),
            )
        )
    return floors
