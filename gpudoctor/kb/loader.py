"""Reading and validating the TOML data files into a KnowledgeBase."""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from pathlib import Path
from typing import Any

from gpudoctor.errors import BadInputError, KnowledgeBaseError
from gpudoctor.kb.arch import parse_entry
from gpudoctor.kb.knowledge import KnowledgeBase
from gpudoctor.kb.records import (
    Architecture,
    ArchRules,
    CudaTargets,
    CudaToolkit,
    DriverBranch,
    FrameworkRelease,
    MinorCompatFloor,
    PythonRelease,
    Variant,
)
from gpudoctor.kb.versions import cuda_key, parse_cc, parse_driver, python_key, release_key

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib  # type: ignore[import-not-found,unused-ignore]

DATA_DIR = Path(__file__).parent / "data"
PLATFORMS = ("linux-64", "linux-aarch64", "win-64")
_SOURCED = {"source", "as_of", "verified", "note"}

Table = Mapping[str, Any]


def _keys(
    row: Table, where: str, required: AbstractSet[str], optional: AbstractSet[str] = frozenset()
) -> None:
    missing = required - row.keys()
    if missing:
        raise KnowledgeBaseError(f"{where}: missing {', '.join(sorted(missing))}")
    unknown = row.keys() - required - optional
    if unknown:
        raise KnowledgeBaseError(f"{where}: unknown key {', '.join(sorted(unknown))}")


def _sourced(row: Table, where: str) -> dict[str, Any]:
    source, as_of = row.get("source"), row.get("as_of")
    if not isinstance(source, str) or not source.strip():
        raise KnowledgeBaseError(f"{where}: every row needs a non-empty source")
    if not isinstance(as_of, dt.date) or isinstance(as_of, dt.datetime):
        raise KnowledgeBaseError(f"{where}: as_of must be a date like 2026-09-01")
    verified = row.get("verified", True)
    if not isinstance(verified, bool):
        raise KnowledgeBaseError(f"{where}: verified must be true or false")
    return {"source": source, "as_of": as_of, "verified": verified, "note": row.get("note", "")}


def _check(where: str, parse: Any, *values: str | None) -> None:
    for value in values:
        if value is None:
            continue
        try:
            parse(value)
        except BadInputError as exc:
            raise KnowledgeBaseError(f"{where}: {exc}") from None


def _read(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            data: dict[str, Any] = tomllib.load(fh)
            return data
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise KnowledgeBaseError(f"{path.name}: {exc}") from None


def _drivers(data: Table, name: str) -> tuple[Any, ...]:
    toolkits: list[CudaToolkit] = []
    for i, row in enumerate(data.get("toolkit", [])):
        where = f"{name} toolkit[{i}]"
        _keys(
            row,
            where,
            {"cuda", "linux_driver", "source", "as_of"},
            {"update", "windows_driver"} | _SOURCED,
        )
        _check(where, cuda_key, row["cuda"])
        _check(where, parse_driver, row["linux_driver"], row.get("windows_driver"))
        toolkits.append(
            CudaToolkit(
                cuda=cuda_key(row["cuda"]),
                update=int(row.get("update", 0)),
                linux_driver=row["linux_driver"],
                windows_driver=row.get("windows_driver"),
                **_sourced(row, where),
            )
        )
    floors: list[MinorCompatFloor] = []
    for i, row in enumerate(data.get("minor_compat", [])):
        where = f"{name} minor_compat[{i}]"
        _keys(
            row,
            where,
            {"major", "linux_driver", "windows_driver", "source", "as_of"},
            {"first_minor"} | _SOURCED,
        )
        _check(where, parse_driver, row["linux_driver"], row["windows_driver"])
        floors.append(
            MinorCompatFloor(
                major=int(row["major"]),
                first_minor=int(row.get("first_minor", 0)),
                linux_driver=row["linux_driver"],
                windows_driver=row["windows_driver"],
                **_sourced(row, where),
            )
        )
    branches: list[DriverBranch] = []
    for i, row in enumerate(data.get("branch", [])):
        where = f"{name} branch[{i}]"
        _keys(row, where, {"branch", "cuda", "source", "as_of"}, _SOURCED)
        _check(where, cuda_key, row["cuda"])
        branches.append(
            DriverBranch(
                branch=int(row["branch"]), cuda=cuda_key(row["cuda"]), **_sourced(row, where)
            )
        )
    return tuple(toolkits), tuple(floors), tuple(branches)


def _arch(data: Table, name: str) -> tuple[Any, ...]:
    rules_row = data.get("rules")
    if not isinstance(rules_row, Mapping):
        raise KnowledgeBaseError(f"{name}: missing [rules]")
    _keys(rules_row, f"{name} rules", {"igpu_ccs", "source", "as_of"}, {"renamed"} | _SOURCED)
    renamed = dict(rules_row.get("renamed", {}))
    _check(f"{name} rules", parse_cc, *rules_row["igpu_ccs"], *renamed, *renamed.values())
    rules = ArchRules(
        igpu_ccs=tuple(rules_row["igpu_ccs"]),
        renamed=renamed,
        **_sourced(rules_row, f"{name} rules"),
    )
    targets: list[CudaTargets] = []
    for i, row in enumerate(data.get("targets", [])):
        where = f"{name} targets[{i}]"
        _keys(
            row,
            where,
            {"cuda_min", "cuda_max", "lowest_cc", "highest_cc", "source", "as_of"},
            _SOURCED,
        )
        _check(where, cuda_key, row["cuda_min"], row["cuda_max"])
        _check(where, parse_cc, row["lowest_cc"], row["highest_cc"])
        targets.append(
            CudaTargets(
                cuda_min=row["cuda_min"],
                cuda_max=row["cuda_max"],
                lowest_cc=row["lowest_cc"],
                highest_cc=row["highest_cc"],
                **_sourced(row, where),
            )
        )
    archs: list[Architecture] = []
    for i, row in enumerate(data.get("architecture", [])):
        where = f"{name} architecture[{i}]"
        _keys(row, where, {"cc", "name", "source", "as_of"}, {"examples", "igpu"} | _SOURCED)
        _check(where, parse_cc, row["cc"])
        archs.append(
            Architecture(
                cc=row["cc"],
                name=row["name"],
                examples=row.get("examples", ""),
                igpu=bool(row.get("igpu", False)),
                **_sourced(row, where),
            )
        )
    return rules, tuple(targets), tuple(archs)


def _arch_lists(data: Table, name: str) -> dict[str, tuple[tuple[str, ...], bool, str]]:
    lists: dict[str, tuple[tuple[str, ...], bool, str]] = {}
    for key, row in data.get("arch_lists", {}).items():
        where = f"{name} arch_lists.{key}"
        _keys(row, where, {"list", "source", "as_of"}, _SOURCED)
        meta = _sourced(row, where)
        entries = tuple(p for p in row["list"].replace(",", ";").split(";") if p.strip())
        for entry in entries:
            if not parse_entry(entry):
                raise KnowledgeBaseError(f"{where}: {entry!r} is no arch")
        lists[key] = (entries, meta["verified"], meta["source"])
    return lists


def _variant(
    row: Table,
    where: str,
    lists: Mapping[str, tuple[tuple[str, ...], bool, str]],
    inherited: Mapping[str, Any],
) -> Variant:
    _keys(
        row,
        where,
        {"tag", "cuda", "arch"},
        {"cudnn", "status", "index_url", "package", "conda", "pip", "cudnn_pip", "python_max"}
        | _SOURCED,
    )
    _check(where, cuda_key, row["cuda"])
    _check(where, python_key, row.get("python_max"))
    meta = _sourced({**inherited, **row}, where)
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
        unverified_arch=tuple(unverified),
        **meta,
    )


def _frameworks(data: Table, name: str) -> tuple[FrameworkRelease, ...]:
    defaults = dict(data.get("defaults", {}))
    cpu = data.get("cpu")
    if not isinstance(cpu, Mapping):
        raise KnowledgeBaseError(f"{name}: missing [cpu]")
    _keys(cpu, f"{name} cpu", {"tag", "platforms", "source", "as_of"}, {"index_url"} | _SOURCED)
    cpu_meta = _sourced(cpu, f"{name} cpu")
    lists = _arch_lists(data, name)
    releases: list[FrameworkRelease] = []
    for i, row in enumerate(data.get("release", [])):
        merged = {**defaults, **row}
        where = f"{name} release[{i}] ({row.get('version')})"
        _keys(
            merged,
            where,
            {
                "framework",
                "channel",
                "package",
                "version",
                "python_min",
                "python_max",
                "variant",
                "source",
                "as_of",
            },
            {"latest", "released", "companions", "cpu_platforms"} | _SOURCED,
        )
        if merged["framework"] not in ("torch", "tensorflow"):
            raise KnowledgeBaseError(f"{where}: unknown framework {merged['framework']!r}")
        _check(where, release_key, merged["version"], merged.get("latest"))
        _check(where, python_key, merged["python_min"], merged["python_max"])
        if python_key(merged["python_min"]) > python_key(merged["python_max"]):
            raise KnowledgeBaseError(f"{where}: python_min is above python_max")
        meta = _sourced(row, where)
        variants = [
            _variant(
                v,
                f"{where} variant[{j}]",
                lists,
                {"source": meta["source"], "as_of": meta["as_of"], "verified": meta["verified"]},
            )
            for j, v in enumerate(merged["variant"])
        ]
        platforms: list[str] = list(merged.get("cpu_platforms") or cpu["platforms"])
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
        releases.append(
            FrameworkRelease(
                framework=merged["framework"],
                channel=merged["channel"],
                version=".".join(map(str, release_key(merged["version"]))),
                latest=merged.get("latest"),
                released=merged.get("released", ""),
                package=merged["package"],
                python_min=merged["python_min"],
                python_max=merged["python_max"],
                variants=tuple(variants),
                companions=dict(merged.get("companions", {})),
                **meta,
            )
        )
    return tuple(releases)


def _pythons(data: Table, name: str) -> tuple[PythonRelease, ...]:
    rows: list[PythonRelease] = []
    for i, row in enumerate(data.get("python", [])):
        where = f"{name} python[{i}]"
        _keys(row, where, {"version", "source", "as_of"}, {"released"} | _SOURCED)
        _check(where, python_key, row["version"])
        released = row.get("released")
        if released is not None and not isinstance(released, dt.date):
            raise KnowledgeBaseError(f"{where}: released must be a date")
        rows.append(
            PythonRelease(version=row["version"], released=released, **_sourced(row, where))
        )
    return tuple(rows)


def load_dir(folder: Path = DATA_DIR) -> KnowledgeBase:
    """Read every data file in ``folder`` (uncached; tests point it at their own data)."""
    drivers = _read(folder / "cuda_drivers.toml")
    arch = _read(folder / "cuda_arch.toml")
    toolkits, floors, branches = _drivers(drivers, "cuda_drivers.toml")
    rules, targets, archs = _arch(arch, "cuda_arch.toml")
    releases: list[FrameworkRelease] = []
    for file in ("torch.toml", "tensorflow.toml", "conda_forge.toml"):
        path = folder / file
        if path.exists():
            releases.extend(_frameworks(_read(path), file))
    pythons = _pythons(_read(folder / "python.toml"), "python.toml")
    releases.sort(key=lambda r: release_key(r.version), reverse=True)
    kb = KnowledgeBase(
        toolkits=toolkits,
        minor_compat=floors,
        branches=branches,
        targets=targets,
        architectures=archs,
        arch_rules=rules,
        release_rows=tuple(releases),
        pythons=pythons,
    )
    kb.validate()
    return kb
