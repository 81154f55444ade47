"""Reading and validating the TOML data files into a KnowledgeBase."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from packaging.specifiers import InvalidSpecifier, SpecifierSet

from gpudoctor.datarows import (
    CC,
    DATE,
    DRIVER,
    FLAG,
    PLATFORM_LIST,
    PLATFORMS,
    ROWS,
    TABLE,
    TEXT,
    TEXT_TABLE,
    TEXTS,
    VERSION,
    WHOLE,
    Table,
    check,
    located,
    read,
    shape,
    sourced,
    tables,
)
from gpudoctor.errors import KnowledgeBaseError
from gpudoctor.kb.containers import gpu_starts
from gpudoctor.kb.framework_files import frameworks, glibc_floors, numpy_limits
from gpudoctor.kb.knowledge import KnowledgeBase
from gpudoctor.kb.messages import message_patterns
from gpudoctor.kb.records import (
    XID_ACTIONS,
    XID_BLAMES,
    ArchDriver,
    Architecture,
    ArchRules,
    CudaTargets,
    CudaToolkit,
    CudnnFloor,
    DriverBranch,
    FrameworkRelease,
    GlibcFloor,
    GpuModel,
    LastBranch,
    MinorCompatFloor,
    NumpyLimit,
    PciRange,
    PythonRelease,
    XidEntry,
)
from gpudoctor.model.versions import cuda_key, parse_cc, parse_driver, python_key, release_key

DATA_DIR = Path(__file__).parent / "data"


def _drivers(data: Table, name: str) -> tuple[Any, ...]:
    tables(data, name, {"toolkit": ROWS, "minor_compat": ROWS, "branch": ROWS})
    toolkits: list[CudaToolkit] = []
    for i, row in enumerate(data.get("toolkit", [])):
        where = f"{name} toolkit[{i}]"
        shape(
            row,
            where,
            {"cuda": VERSION, "linux_driver": DRIVER},
            {"update": WHOLE, "windows_driver": DRIVER},
        )
        check(where, cuda_key, row["cuda"])
        check(where, parse_driver, row["linux_driver"], row.get("windows_driver"))
        toolkits.append(
            CudaToolkit(
                cuda=cuda_key(row["cuda"]),
                update=row.get("update", 0),
                linux_driver=row["linux_driver"],
                windows_driver=row.get("windows_driver"),
                **sourced(row, where),
            )
        )
    floors: list[MinorCompatFloor] = []
    for i, row in enumerate(data.get("minor_compat", [])):
        where = f"{name} minor_compat[{i}]"
        shape(
            row,
            where,
            {"major": WHOLE, "linux_driver": DRIVER, "windows_driver": DRIVER},
            {"first_minor": WHOLE},
        )
        check(where, parse_driver, row["linux_driver"], row["windows_driver"])
        floors.append(
            MinorCompatFloor(
                major=row["major"],
                first_minor=row.get("first_minor", 0),
                linux_driver=row["linux_driver"],
                windows_driver=row["windows_driver"],
                **sourced(row, where),
            )
        )
    branches: list[DriverBranch] = []
    for i, row in enumerate(data.get("branch", [])):
        where = f"{name} branch[{i}]"
        shape(row, where, {"branch": WHOLE, "cuda": VERSION})
        check(where, cuda_key, row["cuda"])
        branches.append(
            DriverBranch(
                branch=row["branch"],
                cuda=cuda_key(row["cuda"]),
                **sourced(row, where),
            )
        )
    return tuple(toolkits), tuple(floors), tuple(branches)


def _arch(data: Table, name: str) -> tuple[Any, ...]:
    tables(
        data,
        name,
        {
            "rules": TABLE,
            "targets": ROWS,
            "architecture": ROWS,
            "min_driver": ROWS,
            "cudnn": ROWS,
        },
    )
    rules_row = data.get("rules")
    if not isinstance(rules_row, Mapping):
        raise KnowledgeBaseError(f"{name}: missing [rules]")
    shape(rules_row, f"{name} rules", {"igpu_ccs": TEXTS}, {"renamed": TEXT_TABLE})
    renamed = dict(rules_row.get("renamed", {}))
    check(f"{name} rules", parse_cc, *rules_row["igpu_ccs"], *renamed, *renamed.values())
    rules = ArchRules(
        igpu_ccs=tuple(rules_row["igpu_ccs"]),
        renamed=renamed,
        **sourced(rules_row, f"{name} rules"),
    )
    targets: list[CudaTargets] = []
    for i, row in enumerate(data.get("targets", [])):
        where = f"{name} targets[{i}]"
        shape(
            row,
            where,
            {"cuda_min": VERSION, "cuda_max": VERSION, "lowest_cc": CC, "highest_cc": CC},
        )
        check(where, cuda_key, row["cuda_min"], row["cuda_max"])
        check(where, parse_cc, row["lowest_cc"], row["highest_cc"])
        targets.append(
            CudaTargets(
                cuda_min=row["cuda_min"],
                cuda_max=row["cuda_max"],
                lowest_cc=row["lowest_cc"],
                highest_cc=row["highest_cc"],
                **sourced(row, where),
            )
        )
    archs: list[Architecture] = []
    for i, row in enumerate(data.get("architecture", [])):
        where = f"{name} architecture[{i}]"
        shape(
            row,
            where,
            {"cc": CC, "name": TEXT},
            {"examples": TEXT, "igpu": FLAG, "platforms": PLATFORM_LIST},
        )
        check(where, parse_cc, row["cc"])
        platforms = tuple(row.get("platforms", ()))
        if ("platforms" in row and not platforms) or any(p not in PLATFORMS for p in platforms):
            raise KnowledgeBaseError(
                f"{where}: platforms {row.get('platforms')!r}: use some of {', '.join(PLATFORMS)}"
            )
        if row.get("igpu", False) and not platforms:
            # a Jetson is an Arm system on a chip: planned for x86_64, make-env offered builds
            # no Jetson can run
            raise KnowledgeBaseError(f"{where}: an igpu row needs its platforms")
        archs.append(
            Architecture(
                cc=row["cc"],
                name=row["name"],
                examples=row.get("examples", ""),
                igpu=bool(row.get("igpu", False)),
                platforms=platforms,
                **sourced(row, where),
            )
        )
    drivers: list[ArchDriver] = []
    for i, row in enumerate(data.get("min_driver", [])):
        where = f"{name} min_driver[{i}]"
        shape(row, where, {"cc": CC, "driver": DRIVER, "cuda": VERSION})
        check(where, parse_cc, row["cc"])
        check(where, parse_driver, row["driver"])
        check(where, cuda_key, row["cuda"])
        drivers.append(
            ArchDriver(cc=row["cc"], driver=row["driver"], cuda=row["cuda"], **sourced(row, where))
        )
    return rules, tuple(targets), tuple(archs), tuple(drivers)


def _cudnn_floors(data: Table, name: str) -> tuple[CudnnFloor, ...]:
    floors: list[CudnnFloor] = []
    for i, row in enumerate(data.get("cudnn", [])):
        where = f"{name} cudnn[{i}]"
        shape(row, where, {"versions": TEXT, "lowest_cc": CC})
        check(where, parse_cc, row["lowest_cc"])
        try:
            SpecifierSet(row["versions"])
        except InvalidSpecifier as exc:
            raise KnowledgeBaseError(f"{where}: {exc}") from None
        floors.append(
            CudnnFloor(versions=row["versions"], lowest_cc=row["lowest_cc"], **sourced(row, where))
        )
    return tuple(floors)


def _pythons(data: Table, name: str) -> tuple[PythonRelease, ...]:
    tables(data, name, {"python": ROWS})
    rows: list[PythonRelease] = []
    for i, row in enumerate(data.get("python", [])):
        where = f"{name} python[{i}]"
        shape(row, where, {"version": VERSION}, {"released": DATE})
        check(where, python_key, row["version"])
        released = row.get("released")
        if released is not None and not isinstance(released, dt.date):
            raise KnowledgeBaseError(f"{where}: released must be a date")
        rows.append(PythonRelease(version=row["version"], released=released, **sourced(row, where)))
    return tuple(rows)


_MODULES = ("proprietary", "any", "open")


def _device_id(where: str, text: Any) -> int:
    if not isinstance(text, str) or len(text) != 4:
        raise KnowledgeBaseError(f"{where}: a PCI device ID is 4 hex digits, like 2b85")
    try:
        return int(text, 16)
    except ValueError:
        raise KnowledgeBaseError(f"{where}: {text!r} is not 4 hex digits") from None


def _driver_branches(data: Table, name: str) -> tuple[Any, ...]:
    tables(data, name, {"last_branch": ROWS, "pci_range": ROWS})
    last: list[LastBranch] = []
    for i, row in enumerate(data.get("last_branch", [])):
        where = f"{name} last_branch[{i}]"
        shape(row, where, {"architecture": TEXT, "cc_min": CC, "cc_max": CC, "branch": WHOLE})
        check(where, parse_cc, row["cc_min"], row["cc_max"])
        if parse_cc(row["cc_min"]) > parse_cc(row["cc_max"]):
            raise KnowledgeBaseError(f"{where}: cc_min is above cc_max")
        last.append(
            LastBranch(
                architecture=row["architecture"],
                cc_min=row["cc_min"],
                cc_max=row["cc_max"],
                branch=row["branch"],
                **sourced(row, where),
            )
        )
    ranges: list[PciRange] = []
    for i, row in enumerate(data.get("pci_range", [])):
        where = f"{name} pci_range[{i}]"
        shape(
            row,
            where,
            {"first": TEXT, "last": TEXT, "generation": TEXT, "kernel_module": TEXT},
            {"last_branch": WHOLE, "per_generation": TEXTS},
        )
        first, last_id = _device_id(where, row["first"]), _device_id(where, row["last"])
        if first > last_id:
            raise KnowledgeBaseError(f"{where}: first is above last")
        if row["kernel_module"] not in _MODULES:
            raise KnowledgeBaseError(f"{where}: kernel_module must be one of {', '.join(_MODULES)}")
        ranges.append(
            PciRange(
                first=first,
                last=last_id,
                generation=row["generation"],
                last_branch=row.get("last_branch"),
                per_generation=_per_generation(where, row, last),
                kernel_module=row["kernel_module"],
                **sourced(row, where),
            )
        )
    return tuple(last), tuple(ranges)


def _per_generation(
    where: str, row: dict[str, Any], last: list[LastBranch]
) -> tuple[tuple[str, int], ...]:
    """``per_generation``'s architectures, each with its last branch from the ``last_branch``
    rows, newest first; the newest must be the range's own ``last_branch``."""
    names = row.get("per_generation", [])
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise KnowledgeBaseError(f"{where}: per_generation must be a list of architecture names")
    if len(names) == 1:
        # one generation is no ambiguity: the fix would read 'does not tell Kepler from '
        raise KnowledgeBaseError(
            f"{where}: per_generation names one architecture; give two or more, or none"
        )
    branches = {b.architecture: b.branch for b in last}
    unknown = [name for name in names if name not in branches]
    if unknown:
        raise KnowledgeBaseError(f"{where}: per_generation names {unknown[0]!r}, no last_branch")
    found = sorted(((name, branches[name]) for name in names), key=lambda p: -p[1])
    if found and found[0][1] != row.get("last_branch"):
        raise KnowledgeBaseError(
            f"{where}: last_branch must be the newest of per_generation's (R{found[0][1]})"
        )
    return tuple(found)


def _xids(data: Table, name: str) -> tuple[XidEntry, ...]:
    tables(data, name, {"xid": ROWS})
    rows: list[XidEntry] = []
    for i, row in enumerate(data.get("xid", [])):
        where = f"{name} xid[{i}]"
        shape(
            row,
            where,
            {"code": WHOLE, "name": TEXT, "meaning": TEXT, "blame": TEXT, "action": TEXT},
        )
        code = row["code"]
        if not 0 < code < 1000:
            raise KnowledgeBaseError(f"{where}: code must be a number from 1 to 999")
        if row["blame"] not in XID_BLAMES:
            raise KnowledgeBaseError(f"{where}: blame must be one of {', '.join(XID_BLAMES)}")
        if row["action"] not in XID_ACTIONS:
            raise KnowledgeBaseError(f"{where}: action must be one of {', '.join(XID_ACTIONS)}")
        for text in ("name", "meaning"):
            if not isinstance(row[text], str) or not row[text].strip():
                raise KnowledgeBaseError(f"{where}: {text} must be a non-empty string")
        rows.append(
            XidEntry(
                code=code,
                name=row["name"],
                meaning=row["meaning"],
                blame=row["blame"],
                action=row["action"],
                **sourced(row, where),
            )
        )
    return tuple(rows)


def _gpu_models(data: Table, name: str) -> tuple[GpuModel, ...]:
    tables(data, name, {"model": ROWS})
    rows: list[GpuModel] = []
    for i, row in enumerate(data.get("model", [])):
        where = f"{name} model[{i}]"
        shape(row, where, {"name_regex": TEXT, "label": TEXT}, {"nvlinks": WHOLE, "ecc": FLAG})
        try:
            re.compile(row["name_regex"])
        except (re.error, TypeError) as exc:
            raise KnowledgeBaseError(f"{where}: name_regex: {exc}") from None
        links = row.get("nvlinks")
        if links is not None and links < 0:
            raise KnowledgeBaseError(f"{where}: nvlinks must be a whole number")
        rows.append(
            GpuModel(
                name_regex=row["name_regex"],
                label=row["label"],
                nvlinks=links,
                ecc=row.get("ecc", True),
                **sourced(row, where),
            )
        )
    return tuple(rows)


def load_dir(folder: Path = DATA_DIR) -> KnowledgeBase:
    """Read every data file in ``folder`` (uncached; tests point it at their own data).

    A malformed file raises a KnowledgeBaseError naming the file, the line of the row and the
    problem (``located``).
    """
    with located(folder / "cuda_drivers.toml"):
        toolkits, floors, branches = _drivers(
            read(folder / "cuda_drivers.toml"), "cuda_drivers.toml"
        )
    with located(folder / "cuda_arch.toml"):
        arch = read(folder / "cuda_arch.toml")
        rules, targets, archs, arch_drivers = _arch(arch, "cuda_arch.toml")
        cudnn_floors = _cudnn_floors(arch, "cuda_arch.toml")
    releases: list[FrameworkRelease] = []
    limits: list[NumpyLimit] = []
    glibcs: list[GlibcFloor] = []
    for file, framework, channel in (
        ("torch.toml", "torch", "pip"),
        ("tensorflow.toml", "tensorflow", "pip"),
        ("conda_forge.toml", "", "conda-forge"),
    ):
        path = folder / file
        if path.exists():
            with located(path):
                data = read(path)
                releases.extend(frameworks(data, file))
                if framework:
                    limits.extend(numpy_limits(data, file, framework, channel))
                    glibcs.extend(glibc_floors(data, file, framework, channel))
                elif "numpy_max" in data:
                    raise KnowledgeBaseError(f"{file}: numpy_max rows belong in the pip files")
    with located(folder / "python.toml"):
        pythons = _pythons(read(folder / "python.toml"), "python.toml")
    last_branches: tuple[LastBranch, ...] = ()
    pci_ranges: tuple[PciRange, ...] = ()
    messages: tuple[Any, ...] = ()
    xids: tuple[XidEntry, ...] = ()
    models: tuple[GpuModel, ...] = ()
    starts: tuple[Any, ...] = ()
    for file in (
        "driver_branches.toml",
        "import_errors.toml",
        "xid.toml",
        "gpu_models.toml",
        "containers.toml",
    ):
        path = folder / file
        if not path.exists():
            continue
        with located(path):
            data = read(path)
            if file == "driver_branches.toml":
                last_branches, pci_ranges = _driver_branches(data, file)
            elif file == "import_errors.toml":
                messages = message_patterns(data, file)
            elif file == "xid.toml":
                xids = _xids(data, file)
            elif file == "gpu_models.toml":
                models = _gpu_models(data, file)
            else:
                starts = gpu_starts(data, file)
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
        arch_drivers=arch_drivers,
        numpy_limits=tuple(limits),
        glibc_floors=tuple(glibcs),
        last_branches=last_branches,
        pci_ranges=pci_ranges,
        message_patterns=messages,
        xids=xids,
        gpu_models=models,
        gpu_starts=starts,
        cudnn_floors=cudnn_floors,
    )
    kb.validate()
    return kb
