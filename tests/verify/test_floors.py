"""The hardware floors shipped in verify/data/hardware_floors.toml: sourced, found, checked."""

from __future__ import annotations

import pytest

from gpudoctor.errors import KnowledgeBaseError
from gpudoctor.verify.references import load_references, parse_references


def test_every_floor_cites_its_file_at_a_commit_and_none_is_verified_yet():
    floors = load_references().floors
    assert floors
    for f in floors:
        assert "/blob/" in f.source and f.source.startswith("https://github.com/"), f
        # one source and no machine of gpudoctor's own behind any of them (yet)
        assert f.verified is False, f
        assert f.gbps > 0


def test_the_cited_figures():
    refs = load_references()
    # DCGM diag-skus: H100 80GB HBM3 minimum_bandwidth 1905000 MB/s
    assert refs.floor("NVIDIA H100 80GB HBM3", "memory").gbps == 1905.0
    # AzureHPC nd96isr_h100_v5.conf: check_gpu_bw 48 335, check_nccl_allreduce 460.0
    assert refs.floor("NVIDIA H100 80GB HBM3", "h2d").gbps == 48.0
    assert refs.floor("nvidia h100 80gb hbm3", "p2p").gbps == 335.0
    assert refs.floor("NVIDIA H100 80GB HBM3", "allreduce", 8).gbps == 460.0
    # an all-reduce floor is for its number of GPUs only
    assert refs.floor("NVIDIA H100 80GB HBM3", "allreduce", 4) is None
    assert refs.floor("NVIDIA H100 80GB HBM3", "allreduce") is None
    assert refs.floor("Tesla T4", "memory") is None


def _doc(**row):
    base = {
        "gpu": "X",
        "kind": "memory",
        "gbps": 1.0,
        "verified": False,
        "source": "s",
        "as_of": __import__("datetime").date(2026, 12, 7),
    }
    return {"f.toml": {"floor": [{**base, **row}]}}


def test_a_floor_row_is_checked_like_a_knowledge_base_row():
    assert parse_references(_doc(gpus=8)).floors[0].gpus == 8
    with pytest.raises(KnowledgeBaseError, match="unknown key"):
        parse_references(_doc(color="red"))
    with pytest.raises(KnowledgeBaseError, match="gbps"):
        parse_references(_doc(gbps="fast"))
    with pytest.raises(KnowledgeBaseError, match="source"):
        parse_references(_doc(source=""))
