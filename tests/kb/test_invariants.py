"""Invariants across the knowledge base's tables: facts in one file that another file must agree
with. Each check returns what breaks it, so a test can show it on the shipped data (nothing) and
on a broken copy (the row named)."""

from __future__ import annotations

import datetime as dt
import itertools
import shutil
from pathlib import Path

import pytest
from packaging.version import Version

from gpudoctor.kb import KnowledgeBase, load
from gpudoctor.kb.arch import parse_entry
from gpudoctor.kb.loader import DATA_DIR, load_dir
from gpudoctor.kb.records import Sourced
from gpudoctor.model.versions import cuda_key, parse_cc, parse_driver

TODAY = dt.date.today()


@pytest.fixture(scope="module")
def kb() -> KnowledgeBase:
    return load()


def every_row(kb: KnowledgeBase) -> list[Sourced]:
    """Every sourced row of every table, the framework variants and patch lists included."""
    rows: list[Sourced] = [
        *kb.toolkits,
        *kb.minor_compat,
        *kb.branches,
        *kb.targets,
        *kb.architectures,
        kb.arch_rules,
        *kb.arch_drivers,
        *kb.pythons,
        *kb.numpy_limits,
        *kb.glibc_floors,
        *kb.last_branches,
        *kb.pci_ranges,
        *kb.message_patterns,
        *kb.xids,
        *kb.gpu_models,
        *kb.cudnn_floors,
        *kb.gpu_starts,
    ]
    for release in kb.release_rows:
        rows += [release, *release.variants]
        if release.patches is not None:
            rows.append(release.patches)
    return rows


def undated_or_future(kb: KnowledgeBase, today: dt.date) -> list[str]:
    """Rows with no source, or dated after ``today`` (a fact cannot be read in the future)."""
    return [
        repr(row)[:120]
        for row in every_row(kb)
        if not row.source.strip() or not dt.date(2019, 1, 1) <= row.as_of <= today
    ]


def gpu_builds_without_a_driver_floor(kb: KnowledgeBase) -> list[str]:
    """GPU builds whose CUDA no driver row covers on an OS they are published for."""
    broken = []
    for release in kb.release_rows:
        for variant in release.variants:
            if variant.cuda is None:
                continue
            systems = {"windows" if p == "win-64" else "linux" for p in variant.platforms}
            for os in sorted(systems):
                if kb.min_driver(variant.cuda, os) is None:
                    broken.append(f"{release.framework} {release.version} {variant.tag} {os}")
    return broken


def cudnn_mismatches(kb: KnowledgeBase) -> list[str]:
    """TensorFlow GPU builds without a cuDNN; cuDNN 9 below CUDA 11.8 or 8 beside CUDA 13;
    a cuDNN that make-env judges (``pip_cudnn``) that no ``[[cudnn]]`` range holds."""
    broken = []
    for release in kb.release_rows:
        for variant in release.variants:
            if variant.cuda is None:
                continue
            name = f"{release.framework} {release.channel} {release.version} {variant.tag}"
            if release.framework == "tensorflow" and not variant.cudnn:
                broken.append(f"{name}: no cuDNN")
            major = int(variant.cudnn.split(".")[0]) if variant.cudnn else None
            if major == 9 and cuda_key(variant.cuda) < cuda_key("11.8"):
                broken.append(f"{name}: cuDNN 9 needs CUDA 11.8 or newer")
            if major is not None and major < 9 and cuda_key(variant.cuda) >= cuda_key("13.0"):
                broken.append(f"{name}: cuDNN {variant.cudnn} has no CUDA 13 build")
            if variant.pip_cudnn and kb.cudnn_floor(variant.pip_cudnn) is None:
                broken.append(f"{name}: no [[cudnn]] row holds {variant.pip_cudnn}")
    return broken


def arch_lists_out_of_order_or_range(kb: KnowledgeBase) -> list[str]:
    """Arch lists not in rising CC order, or naming a CC their CUDA cannot compile for."""
    broken = []
    for release in kb.release_rows:
        for variant in release.variants:
            targets = kb.cuda_targets(variant.cuda) if variant.cuda else None
            for platform, entries in variant.arch.items():
                name = f"{release.framework} {release.version} {variant.tag} {platform}"
                # one CC per entry ("12.0+PTX" is SASS and PTX of one CC); a PTX entry may
                # repeat the CC of the SASS before it (sm_120;compute_120), nothing else may
                ccs = [parse_entry(text)[0].cc for text in entries]
                parsed = [e for text in entries for e in parse_entry(text)]
                repeated = len({(e.cc, e.ptx, e.suffix) for e in parsed}) != len(parsed)
                if repeated or any(b < a for a, b in itertools.pairwise(ccs)):
                    broken.append(f"{name}: {';'.join(entries)} is not in rising order")
                if targets is None or not ccs:
                    continue
                low, high = parse_cc(targets.lowest_cc), parse_cc(targets.highest_cc)
                outside = [cc for cc in ccs if not low <= cc <= high]
                if outside:
                    broken.append(f"{name}: {outside} outside CUDA {variant.cuda}'s targets")
    return broken


def driver_tables_disagree(kb: KnowledgeBase) -> list[str]:
    """[[toolkit]], [[branch]] and [[minor_compat]] telling different stories: a toolkit's driver
    is of the branch that [[branch]] gives that toolkit's CUDA, and fully supports it; no MVC
    floor lies above the driver of a toolkit it covers."""
    broken = []
    branches = {str(b.branch): b.cuda for b in kb.branches}
    for toolkit in kb.toolkits:
        branch = (toolkit.linux_driver or "").split(".")[0]
        if branches.get(branch) != toolkit.cuda:
            broken.append(
                f"{toolkit.cuda} update {toolkit.update}: driver {toolkit.linux_driver}, but "
                f"[[branch]] R{branch} -> {branches.get(branch)}"
            )
        elif kb.max_cuda_for_driver(toolkit.linux_driver or "", "linux") != toolkit.cuda:
            broken.append(f"{toolkit.cuda} update {toolkit.update}: {toolkit.linux_driver}")
    for floor in kb.minor_compat:
        for toolkit in kb.toolkits:
            if int(toolkit.cuda.split(".")[0]) != floor.major:
                continue
            if cuda_key(toolkit.cuda) < cuda_key(f"{floor.major}.{floor.first_minor}"):
                continue
            pairs = [
                (floor.linux_driver, toolkit.linux_driver),
                (floor.windows_driver, toolkit.windows_driver),
            ]
            for mvc, full in pairs:
                if mvc and full and _driver(mvc) > _driver(full):
                    broken.append(f"MVC {floor.major}.x {mvc} above {toolkit.cuda}'s {full}")
    return broken


def _driver(text: str) -> Version:
    return parse_driver(text) if "." in text else Version(text)  # a branch floor: "580"


def pythons_unknown(kb: KnowledgeBase) -> list[str]:
    """Framework releases whose newest Python is no CPython in python.toml: make-env's default
    is the newest *released* Python of the range, which it reads there (older lower bounds,
    3.6 and 3.7, need no row)."""
    known = {p.version for p in kb.pythons}
    return [
        f"{release.framework} {release.channel} {release.version}: {release.python_max}"
        for release in kb.release_rows
        if release.python_max not in known
    ]


CHECKS = {
    "dates": lambda kb: undated_or_future(kb, TODAY),
    "driver floors": gpu_builds_without_a_driver_floor,
    "cudnn": cudnn_mismatches,
    "arch lists": arch_lists_out_of_order_or_range,
    "driver tables": driver_tables_disagree,
    "pythons": pythons_unknown,
}


@pytest.mark.parametrize("check", CHECKS)
def test_the_shipped_data_holds(kb: KnowledgeBase, check: str) -> None:
    assert CHECKS[check](kb) == []


def test_every_table_is_counted(kb: KnowledgeBase) -> None:
    # a new table in KnowledgeBase must be added to every_row, or its dates go unchecked
    tables = [
        name
        for name, value in vars(kb).items()
        if isinstance(value, tuple) and value and isinstance(value[0], Sourced)
    ]
    rows = every_row(kb)
    assert len(rows) > 200
    counted = {id(row) for row in rows}
    for name in tables:
        assert all(id(row) in counted for row in getattr(kb, name)), name
    assert kb.as_of <= TODAY


# --- each check finds the break it is for, in a copy of the data edited one line -----------


def _broken(tmp_path: Path, file: str, old: str, new: str, count: int = 1) -> KnowledgeBase:
    folder = tmp_path / "data"
    shutil.copytree(DATA_DIR, folder)
    path = folder / file
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, count), encoding="utf-8")
    return load_dir(folder)


def test_a_row_dated_tomorrow_is_found(tmp_path: Path) -> None:
    broken = _broken(tmp_path, "xid.toml", "as_of = 2026-12-07", "as_of = 2099-01-01")
    assert len(undated_or_future(broken, TODAY)) == 1


def test_a_build_newer_than_every_toolkit_is_found(tmp_path: Path) -> None:
    broken = _broken(tmp_path, "torch.toml", 'cuda = "13.2"', 'cuda = "14.0"')
    assert gpu_builds_without_a_driver_floor(broken)


def test_cudnn_9_on_cuda_11_2_is_found(tmp_path: Path) -> None:
    broken = _broken(tmp_path, "tensorflow.toml", 'cudnn = "8.1"', 'cudnn = "9.1"')
    assert any("cuDNN 9 needs CUDA 11.8" in line for line in cudnn_mismatches(broken))


def test_an_arch_list_out_of_order_or_beyond_its_cuda_is_found(tmp_path: Path) -> None:
    cu126 = '[arch_lists.cu126]\nlist = "5.0;6.0;7.0;7.5;8.0;8.6;9.0"'
    swapped = _broken(tmp_path, "torch.toml", cu126, cu126.replace("6.0;7.0", "7.0;6.0"))
    assert any("cu126 linux-64" in b and "rising order" in b for b in _arch(swapped))
    beyond = _broken(tmp_path / "b", "torch.toml", cu126, cu126.replace("9.0", "9.0;12.0"))
    assert any("outside CUDA 12.6" in b for b in _arch(beyond))


def _arch(kb: KnowledgeBase) -> list[str]:
    return arch_lists_out_of_order_or_range(kb)


def test_a_toolkit_driver_below_its_branch_is_found(tmp_path: Path) -> None:
    broken = _broken(
        tmp_path, "cuda_drivers.toml", 'linux_driver = "570.26"', 'linux_driver = "565.1"'
    )
    assert any("12.8 update 0" in line for line in driver_tables_disagree(broken))


def test_a_python_that_python_toml_lacks_is_found(tmp_path: Path) -> None:
    broken = _broken(tmp_path, "tensorflow.toml", 'python_max = "3.13"', 'python_max = "3.19"')
    assert pythons_unknown(broken)


def test_a_minor_compat_floor_above_a_toolkit_it_covers_is_found(tmp_path: Path) -> None:
    # a floor above 12.0 GA's own driver cannot be: 12.0 would not run on the driver it shipped
    floor = 'major = 12\nlinux_driver = "525.60.13"'
    broken = _broken(tmp_path, "cuda_drivers.toml", floor, floor.replace("525.60.13", "530.1"))
    assert any("MVC 12.x 530.1 above 12.0" in line for line in driver_tables_disagree(broken))
