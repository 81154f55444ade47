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
