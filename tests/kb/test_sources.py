"""Every knowledge-base source names a primary place; the rows an audit found wrong stay fixed."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from gpudoctor.kb import KnowledgeBase, load
from gpudoctor.kb.loader import DATA_DIR

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

_URL = re.compile(r"https?://\S+")
_REPO = re.compile(r"\b[A-Za-z0-9][\w.-]*/[\w.-]+")
_AFTER_REPO = (
    re.compile(r"#\d+"),  # an issue or pull request: pytorch/pytorch#141142
    re.compile(r"\s+commits?\s+[0-9a-f]{7,}"),  # a commit: llvm/llvm-project commit 0f49116
    re.compile(r"\s+\(?[\w.-]*[/.][\w./-]+"),  # a path: pytorch/pytorch .ci/manywheel/build.sh
)


def names_primary_place(source: str) -> bool:
    """A vendor page (a URL), or a repository with a path, a commit or an issue number."""
    if _URL.search(source):
        return True
    for match in _REPO.finditer(source):
        rest = source[match.end() : match.end() + 100]
        if any(p.match(rest) for p in _AFTER_REPO):
            return True
    return False


def _sources(node: Any, where: str) -> Iterator[tuple[str, str]]:
    if isinstance(node, dict):
        if isinstance(node.get("source"), str):
            yield where, node["source"]
        for key, value in node.items():
            yield from _sources(value, f"{where}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _sources(value, f"{where}[{i}]")


def _all_sources() -> list[tuple[str, str]]:
    found = []
    for path in sorted(DATA_DIR.glob("*.toml")):
        with path.open("rb") as fh:
            found += list(_sources(tomllib.load(fh), path.name))
    return found


def test_every_source_names_a_primary_place() -> None:
    sources = _all_sources()
    assert len(sources) > 150  # arch lists and patch lists included, not only loaded rows
    bad = [f"{where}: {source}" for where, source in sources if not names_primary_place(source)]
    assert bad == []


@pytest.mark.parametrize(
    ("source", "primary"),
    [
        ("https://docs.nvidia.com/cuda/cuda-toolkit-release-notes/index.html (Table 3)", True),
        ("pytorch/pytorch#141142", True),
        ("pytorch/builder commit fa48aaf5 on release/2.5", True),
        ("pytorch/pytorch .ci/manywheel/build_cuda.sh", True),
        ("CUDA 12.8 release notes (sm_100 added)", False),
        ("derived from the toolkit table (compatibility.md 1.3)", False),
        ("assumed equal to the Linux list", False),
        ("gitlab.kitware.com/cmake/cmake/-/merge_requests/8031", False),  # no scheme, no path
    ],
)
def test_what_counts_as_a_primary_place(source: str, primary: bool) -> None:
    assert names_primary_place(source) is primary


@pytest.fixture(scope="module")
def kb() -> KnowledgeBase:
    return load()


def _arch(kb: KnowledgeBase, version: str, tag: str, platform: str) -> tuple[str, ...]:
    release = kb.torch_release(version)
    assert release is not None
    variant = release.variant(tag)
    assert variant is not None
    return tuple(variant.arch[platform])


@pytest.mark.parametrize("version", ["2.5", "2.6"])
def test_cu124_release_wheels_carry_no_ptx(kb: KnowledgeBase, version: str) -> None:
    # pytorch/builder fa48aaf5, builder#2008, pytorch#141142: a Blackwell GPU has no JIT path
    arch = _arch(kb, version, "cu124", "linux-64")
    assert arch == ("5.0", "6.0", "7.0", "7.5", "8.0", "8.6", "9.0")
    assert kb.arch_coverage("12.0", arch).kind == "none"


@pytest.mark.parametrize(
    ("version", "tag"), [("2.8", "cu128"), ("2.9", "cu128"), ("2.10", "cu128"), ("2.8", "cu129")]
)
def test_windows_cu128_keeps_volta(kb: KnowledgeBase, version: str, tag: str) -> None:
    assert _arch(kb, version, tag, "win-64")[0] == "7.0"  # pytorch#164470, #158265


@pytest.mark.parametrize("version", ["2.9", "2.10", "2.11", "2.12", "2.14"])
def test_cu13_release_wheels_carry_no_ptx(kb: KnowledgeBase, version: str) -> None:
    arch = _arch(kb, version, "cu130", "linux-64")
    assert arch[-1] == "12.0" and not any("PTX" in a for a in arch)


def test_only_2_13_0_shipped_ptx(kb: KnowledgeBase) -> None:
    assert _arch(kb, "2.13", "cu130", "linux-64")[-1] == "12.0+PTX"  # pytorch#188925


def test_the_real_h200_capture_agrees(kb: KnowledgeBase) -> None:
    # torch 2.11.0+cu130 on the H200 reported sm_75 ... sm_120 and no compute_120
    arch = _arch(kb, "2.11", "cu130", "linux-64")
    assert [f"sm_{a.replace('.', '')}" for a in arch] == [
        "sm_75",
        "sm_80",
        "sm_86",
        "sm_90",
        "sm_100",
        "sm_120",
    ]


def test_cuda_12_minor_compat_floor_on_windows_is_527_41(kb: KnowledgeBase) -> None:
    assert kb.cuda_support("527.41", "12.6", "windows").level == "minor_compat"
    assert kb.cuda_support("527.27", "12.6", "windows").level == "none"


@pytest.mark.parametrize("version", ["2.6", "2.7"])
def test_cu118_lists_of_2_6_and_2_7_are_marked_unverified(kb: KnowledgeBase, version: str) -> None:
    release = kb.torch_release(version)
    assert release is not None
    variant = release.variant("cu118")
    assert variant is not None and not variant.verified_on("linux-64")


# --- issue 24 (2026-12-07) ---


def test_torch_2_7_cu128_wheels_carry_ptx(kb: KnowledgeBase) -> None:
    # pytorch#157516 took +PTX out of the 12.8 builds only for 2.8; released 2.7.0+cu128 and
    # 2.7.1+cu128 wheels report compute_120, so a later GPU has a JIT path on them
    arch = _arch(kb, "2.7", "cu128", "linux-64")
    assert arch == ("7.5", "8.0", "8.6", "9.0", "10.0", "12.0+PTX")
    assert kb.arch_coverage("13.0", arch).kind == "ptx_jit"  # a GPU newer than every SASS
    assert _arch(kb, "2.7", "cu128", "win-64")[-1] == "12.0"  # no +PTX on Windows
    assert _arch(kb, "2.8", "cu128", "linux-64")[-1] == "12.0"  # #157516 on release/2.8


def test_torch_2_14_on_pypi_is_a_cuda_13_0_build(kb: KnowledgeBase) -> None:
    # PyPI's torch 2.14.0 and 2.14.1 require cuda-toolkit==13.0.3 and nvidia-cudnn-cu13==9.24.0.43;
    # RFC pytorch#190355 had proposed 13.2 for PyPI
    release = kb.torch_release("2.14")
    assert release is not None
    assert "cuda-toolkit==13.0.3" in release.source
    assert "13.2 stable on PyPI" not in release.source
    assert release.variant("cu130").cudnn == "9.24.0.43"  # type: ignore[union-attr]


@pytest.mark.parametrize("version", ["2.13", "2.14"])
def test_python_range_is_what_pypi_wheels_give(kb: KnowledgeBase, version: str) -> None:
    # RELEASE.md says <=3.15, but PyPI has no cp315 wheel of 2.13.0, 2.14.0 or 2.14.1
    release = kb.torch_release(version)
    assert release is not None and release.python_max == "3.14"
    assert kb.python_supported("torch", version, "3.15") is False
    assert kb.python_supported("torch", "2.15", "3.15") is True  # 2.15.0 has cp315 wheels


# --- KB audit (2026-12-08) ---


def test_no_source_is_a_paste_or_a_third_party_copy() -> None:
    # the legacy PCI IDs were cited from pastebin copies of NVIDIA's lists and a research
    # project's device file; NVIDIA's own list (supported-gpus.json) says which branch drives each
    bad = [
        f"{where}: {source[:80]}"
        for where, source in _all_sources()
        if "pastebin.com" in source or "ANLAB-KAIST" in source
    ]
    assert bad == []


def test_legacy_ids_are_nvidias(kb: KnowledgeBase) -> None:
    # NVIDIA's supported-gpus.json: 0x12BA (Quadro K510M) is the last 470.xx GPU, 0x1340 (GeForce
    # 830M) the first 580.xx one; the cited Kepler example is one NVIDIA's Linux list has
    low, high = kb.pci_range("12ba"), kb.pci_range("1340")
    assert low is not None and low.last_branch == 470
    assert high is not None and high.last_branch == 580
    assert "0x0FC6 GTX 650" in low.source and "0x0FC0" not in low.source
    assert "367.xx" in low.note  # GRID K340/K1/K2: R470 is not their branch


def test_r610_is_a_cuda_13_3_branch_at_nvidia(kb: KnowledgeBase) -> None:
    # NVIDIA's own driver manifest (redistrib_610.57.04.json: cuda_compat for 13.3), not only
    # the nvidia-smi captures, says what R610 is
    row = next(b for b in kb.branches if b.branch == 610)
    assert row.cuda == "13.3" and row.verified
    assert "redistrib_610.57.04.json" in row.source


def test_no_branch_row_without_its_toolkit(kb: KnowledgeBase) -> None:
    # R620 (CUDA 13.5) exists, but with no 13.5 [[toolkit]] row a [[branch]] row for it would
    # make an R620 driver read as "CUDA 13.4" instead of "CUDA 13.4 or newer"
    cudas = {t.cuda for t in kb.toolkits}
    assert all(b.cuda in cudas for b in kb.branches)
    assert kb.past_known_branches("620.70.06")
    assert kb.max_cuda_for_driver("620.70.06", "linux") == "13.4"


def test_cuda_13_3_driver_is_from_nvidias_manifest(kb: KnowledgeBase) -> None:
    # 610.43.02 was read from distribution packagers and a runfile name in public scripts;
    # NVIDIA's redist manifests of 13.3.0 and 13.3.1 ship its forward-compatibility libcuda
    rows = [t for t in kb.toolkits if t.cuda == "13.3"]
    assert len(rows) == 2
    for row in rows:
        assert row.linux_driver == "610.43.02"
        assert f"redistrib_13.3.{row.update}.json" in row.source
        assert "glfs" not in row.source and "AOSC" not in row.source


def test_cudnn_pre_turing_cut_cites_nvidias_matrices(kb: KnowledgeBase) -> None:
    # the 9.11+ row rested on the projects that hit it; NVIDIA's 9.10.2 matrix (CC 5.0 and
    # later) and 9.17.0 matrix (7.5 and later) bracket it
    old, new = kb.cudnn_floor("9.10.2.21"), kb.cudnn_floor("9.17.0.29")
    assert old is not None and old.lowest_cc == "5.0"
    assert new is not None and new.lowest_cc == "7.5"
    assert "cudnn-support-matrix" in new.source and "9.17.0" in new.source
