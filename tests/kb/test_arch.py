"""Arch coverage: the PyTorch DEVICE_REQUIREMENT rule, PTX JIT, arch-specific and Jetson CCs."""

from __future__ import annotations

import pytest

from gpudoctor.errors import BadInputError
from gpudoctor.kb import KnowledgeBase, load
from gpudoctor.kb.arch import parse_entry


@pytest.fixture(scope="module")
def kb() -> KnowledgeBase:
    return load()


@pytest.mark.parametrize(
    ("cc", "arch_list", "kind", "matched"),
    [
        # SASS runs on the same major with minor <= the GPU's
        ("6.1", ["sm_50", "sm_60", "sm_70"], "sass", "sm_60"),
        ("8.9", ["sm_80", "sm_86", "sm_90"], "sass", "sm_86"),
        ("8.0", ["sm_86"], "none", None),
        # a newer major never runs older-major SASS
        ("9.0", ["sm_80", "sm_86"], "none", None),
        # PTX JITs forward onto any newer GPU, but only as JIT
        ("12.0", ["sm_80", "compute_90"], "ptx_jit", "compute_90"),
        ("9.0", ["sm_60", "sm_70", "sm_80", "sm_89", "compute_90"], "ptx_jit", "compute_90"),
        ("8.6", ["compute_90"], "none", None),
        # SASS beats PTX
        ("8.6", ["compute_50", "sm_80"], "sass", "sm_80"),
        # the forms PyTorch and TORCH_CUDA_ARCH_LIST use
        ("8.6", ["8.6"], "sass", "8.6"),
        ("8.6", ["86"], "sass", "86"),
        ("12.0", ["120"], "sass", "120"),
        ("12.0", ["7.5", "8.0", "9.0+PTX"], "ptx_jit", "9.0+PTX"),
        ("9.0", ["8.0", "9.0+PTX"], "sass", "9.0+PTX"),
        # arch-specific code runs only on its exact CC
        ("9.0", ["sm_90a"], "sass", "sm_90a"),
        ("10.3", ["sm_100a"], "none", None),
        ("10.3", ["sm_100"], "sass", "sm_100"),
        # Jetson runs only its own code, and its code runs on no discrete GPU
        ("8.7", ["sm_80", "sm_86"], "none", None),
        ("8.7", ["compute_80"], "none", None),
        ("8.7", ["8.7+PTX"], "sass", "8.7+PTX"),
        ("8.9", ["sm_87"], "none", None),
        ("7.2", ["sm_70", "sm_72"], "sass", "sm_72"),
        ("5.3", ["sm_50", "sm_52"], "none", None),
        # 10.1 was renamed 11.0
        ("11.0", ["sm_101"], "sass", "sm_101"),
        # nothing to judge by
        ("8.6", [], "unknown", None),
        ("8.6", ["garbage"], "unknown", None),
    ],
)
def test_coverage(
    kb: KnowledgeBase, cc: str, arch_list: list[str], kind: str, matched: str | None
) -> None:
    result = kb.arch_coverage(cc, arch_list)
    assert (result.kind, result.matched) == (kind, matched)


def test_bad_cc_is_bad_input(kb: KnowledgeBase) -> None:
    with pytest.raises(BadInputError, match="compute capability"):
        kb.arch_coverage("abc", ["sm_80"])


def test_entry_forms() -> None:
    assert [(e.cc, e.ptx) for e in parse_entry("8.6+PTX")] == [((8, 6), False), ((8, 6), True)]
    assert [(e.cc, e.ptx) for e in parse_entry("compute_120")] == [((12, 0), True)]
    assert [e.suffix for e in parse_entry("sm_100f")] == ["f"]
    assert parse_entry("cuda") == ()


def test_jetson_set_is_data(kb: KnowledgeBase) -> None:
    # the rule reads the set from cuda_arch.toml, not from a literal in the code
    assert set(kb.arch_rules.igpu_ccs) == {"5.3", "6.2", "7.2", "8.7"}
    assert all(kb.is_igpu(cc) for cc in kb.arch_rules.igpu_ccs)
    assert not kb.is_igpu("8.6")
