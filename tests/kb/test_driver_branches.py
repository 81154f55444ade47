"""Driver branches that drop GPUs, and the kernel-module flavour a GPU needs, by CC and PCI ID."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from gpudoctor.errors import KnowledgeBaseError
from gpudoctor.kb import KnowledgeBase, load
from gpudoctor.kb.loader import DATA_DIR, load_dir


@pytest.fixture(scope="module")
def kb() -> KnowledgeBase:
    return load()


@pytest.mark.parametrize(
    ("driver", "cc", "branch"),
    [
        ("590.48.01", "6.1", 580),  # the typed machine: Pascal on R590
        ("535.104.05", "3.7", 470),  # K80 on R535
        ("595.45.04", "7.0", 580),  # V100 on R595
        ("600.1", "5.2", 580),
        ("470.256.02", "2.1", 390),  # Fermi on the Kepler legacy branch
    ],
)
def test_a_newer_branch_drops_old_gpus(
    kb: KnowledgeBase, driver: str, cc: str, branch: int
) -> None:
    row = kb.driver_drops_cc(driver, cc)
    assert row is not None and row.branch == branch
    assert "nvidia" in row.source


@pytest.mark.parametrize(
    ("driver", "cc"),
    [
        ("580.105.08", "6.1"),  # the last branch still drives it
        ("470.256.02", "3.5"),
        ("610.43.02", "7.5"),  # Turing and newer: no last branch yet
        ("610.43.02", "12.0"),
        ("590.48.01", "6.2"),  # Jetson: drivers come with JetPack
    ],
)
def test_supported_pairs_pass(kb: KnowledgeBase, driver: str, cc: str) -> None:
    assert kb.driver_drops_cc(driver, cc) is None


@pytest.mark.parametrize(
    ("device", "module", "last"),
    [
        ("10de:2b85", "open", None),  # RTX 5090
        ("0x2901", "open", None),  # B200
        ("2E12", "open", None),  # GB10
        ("2335", "any", None),  # H200 (the real capture)
        ("10de:2342", "open", None),  # GH200 120GB / 480GB: Grace Hopper, open modules only
        ("2348", "open", None),  # GH200 144G HBM3e
        ("2341", "any", None),  # the IDs either side of the GH200s keep "any"
        ("2343", "any", None),
        ("2349", "any", None),
        ("1e81", "any", None),  # RTX 2080 SUPER
        ("1d01", "proprietary", 580),  # GT 1030 (negativo17/nvidia-driver#158)
        ("1db1", "proprietary", 580),  # V100
        ("102d", "proprietary", 470),  # K80
    ],
)
def test_pci_ranges(kb: KnowledgeBase, device: str, module: str, last: int | None) -> None:
    row = kb.pci_range(device)
    assert row is not None
    assert row.kernel_module == module
    assert row.last_branch == last


def test_kepler_ids_say_each_generation_they_may_be(kb: KnowledgeBase) -> None:
    # Fermi (GT 520, 0x1040) and Tesla GPUs share Kepler's IDs: R470 is no branch for them
    for device in ("0fc6", "1040", "102d", "05e1"):
        row = kb.pci_range(device)
        assert row is not None
        assert row.per_generation == (("Kepler", 470), ("Fermi", 390), ("Tesla", 340))
    assert kb.pci_range("1b80").per_generation == ()  # Maxwell, Pascal, Volta: R580 for each


def test_grid_k340_k1_and_k2_have_r367_inside_keplers_range(kb: KnowledgeBase) -> None:
    # NVIDIA's supported-gpus.json: 0x0FEF, 0x0FF2 and 0x11BF are 367.xx boards; the IDs
    # beside them keep the Kepler-or-older row (R470, with each generation's branch)
    for device, board in (("0fef", "GRID K340"), ("0ff2", "GRID K1"), ("11bf", "GRID K2")):
        row = kb.pci_range(device)
        assert row is not None
        assert (row.generation, row.last_branch, row.per_generation) == (
            f"Kepler ({board})",
            367,
            (),
        )
        assert kb.driver_drops_device("470.256.02", device) is row
    for device in ("0fee", "0ff0", "0ff1", "0ff3", "11be", "11c0"):
        assert kb.pci_range(device).last_branch == 470
    assert kb.driver_drops_device("470.256.02", "0ff6") is None  # Quadro K1100M: R470 drives it


def test_pci_device_drop(kb: KnowledgeBase) -> None:
    assert kb.driver_drops_device("590.48.01", "1d01") is not None
    assert kb.driver_drops_device("580.105.08", "1d01") is None
    assert kb.driver_drops_device("590.48.01", "2335") is None
    assert kb.pci_range("not an id") is None
    assert kb.pci_range("1ffff") is None


def test_ranges_cover_every_id(kb: KnowledgeBase) -> None:
    assert all(kb.pci_range(f"{i:04x}") is not None for i in range(0, 0x10000, 0x40))


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('last = "28ff"', 'last = "2900"', "overlap"),
        # a row may sit inside another (GRID K1 in Kepler's), never across its edge
        ('first = "0ff2"\nlast = "0ff2"', 'first = "0ff2"\nlast = "1340"', "overlap"),
        ('first = "0ff2"\nlast = "0ff2"', 'first = "0000"\nlast = "133f"', "overlap"),
        ('first = "2900"', 'first = "29g0"', "hex"),
        ('kernel_module = "any"', 'kernel_module = "both"', "kernel_module"),
        ('cc_max = "3.7"', 'cc_max = "2.9"', "cc_min is above"),
        ("branch = 470", 'branch = "470"', "branch"),
        ('per_generation = ["Kepler", ', 'per_generation = ["Kepplr", ', "no last_branch"),
        ('per_generation = ["Kepler", ', "per_generation = [", "newest of per_generation"),
        # one name is no ambiguity: the fix read 'does not tell Kepler from ' and nothing
        ('"Kepler", "Fermi", "Tesla"]', '"Kepler"]', "one architecture"),
    ],
)
def test_broken_rows_are_refused(tmp_path: Path, old: str, new: str, message: str) -> None:
    folder = tmp_path / "data"
    shutil.copytree(DATA_DIR, folder)
    path = folder / "driver_branches.toml"
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(KnowledgeBaseError, match=message):
        load_dir(folder)
