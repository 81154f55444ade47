"""xid.toml and gpu_models.toml: every row sourced, the common Xids present, bad rows refused."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from gpudoctor.errors import KnowledgeBaseError
from gpudoctor.kb import load
from gpudoctor.kb.loader import DATA_DIR, load_dir
from gpudoctor.kb.records import XID_ACTIONS, XID_BLAMES

# Issue 20: the Xids a lab meets most, and the ones with a meaning of their own.
COMMON = (13, 31, 32, 43, 45, 48, 61, 62, 63, 64, 68, 69, 74, 79, 92, 94, 95, 109, 119, 120)


def test_the_common_xids_are_catalogued_with_meaning_blame_and_action():
    kb = load()
    for code in (*COMMON, 121, 140, 143, *range(144, 151), 154):
        entry = kb.xid(code)
        assert entry is not None, code
        assert entry.name and entry.meaning and entry.source.strip()
        assert entry.blame in XID_BLAMES and entry.action in XID_ACTIONS


# NVIDIA's catalogue (analyzing-xid-catalog.html): 13 and 31 RESTART_APP, 43 IGNORE.
@pytest.mark.parametrize(
    ("code", "action"), [(13, "restart_job"), (31, "restart_job"), (43, "none")]
)
def test_the_application_xids_blame_the_application(code, action):
    entry = load().xid(code)
    assert entry is not None and (entry.blame, entry.action) == ("application", action)


@pytest.mark.parametrize(
    ("code", "blame", "action"),
    [
        (79, "hardware", "reboot"),
        (48, "hardware", "reset_gpu"),
        (94, "hardware", "restart_job"),  # contained: only the job that touched it is hit
        (95, "hardware", "reset_gpu"),
        (119, "driver", "reset_gpu"),
        (64, "hardware", "reset_gpu"),  # RESET_GPU, then CONTACT_SUPPORT
        (63, "hardware", "none"),  # IGNORE: the remap waits for the next reset
        (109, "unknown", "reset_gpu"),
        (143, "hardware", "reset_gpu"),
        (147, "hardware", "none"),  # the decode sheet lists only non-fatal TREX statuses
        # RESET_GPU in the catalogue; before 2026-12-07 absent, so only a warning
        (46, "unknown", "reset_gpu"),
        (136, "hardware", "reset_gpu"),
        (155, "unknown", "reset_gpu"),
        (156, "hardware", "reset_gpu"),
        (158, "unknown", "reset_gpu"),
    ],
)
def test_hardware_xids_name_their_action(code, blame, action):
    entry = load().xid(code)
    assert entry is not None and (entry.blame, entry.action) == (blame, action)


def test_only_rows_not_reread_at_nvidia_are_unverified():
    # 2026-12-07: 48 and 74 (workflow buckets not read) and 61 (older GPUs not read).
    unverified = {code for code in range(1, 200) if (e := load().xid(code)) and not e.verified}
    assert unverified == {48, 61, 74}


def test_an_unknown_xid_is_none():
    assert load().xid(999) is None


@pytest.mark.parametrize(
    ("name", "label", "links"),
    [
        ("NVIDIA H100 80GB HBM3", "H100 SXM5", 18),
        ("NVIDIA H200", "H200 SXM", 18),
        ("NVIDIA H200 NVL", "H200 NVL", None),
        ("NVIDIA H100 PCIe", "H100 PCIe/NVL", None),
        ("NVIDIA A100-SXM4-80GB", "A100 SXM4", 12),
        ("NVIDIA A100 80GB PCIe", "A100 PCIe", None),
        ("NVIDIA L40S", "other datacenter", None),
    ],
)
def test_gpu_models_by_their_nvml_names(name, label, links):
    model = load().gpu_model(name)
    assert model is not None and (model.label, model.nvlinks) == (label, links)
    assert model.ecc


@pytest.mark.parametrize("name", ["NVIDIA GeForce RTX 4080 SUPER", "NVIDIA GeForce RTX 2080 SUPER"])
def test_a_geforce_card_is_no_datacenter_model(name):
    assert load().gpu_model(name) is None


def _copy(tmp_path: Path) -> Path:
    folder = tmp_path / "data"
    shutil.copytree(DATA_DIR, folder)
    return folder


@pytest.mark.parametrize(
    ("file", "old", "new", "message"),
    [
        ("xid.toml", 'blame = "application"', 'blame = "user"', "blame must be one of"),
        ("xid.toml", 'action = "reboot"', 'action = "pray"', "action must be one of"),
        ("xid.toml", "code = 79\n", "code = 0\n", "code must be a number"),
        ("xid.toml", "code = 79\n", 'code = "79"\n', "code must be a whole number, not '79'"),
        ("xid.toml", "code = 48\n", "code = 13\n", "duplicate Xid"),
        ("xid.toml", "[[xid]]\ncode = 8\n", "[[xid]]\nbogus = 1\ncode = 8\n", "unknown key"),
        ("xid.toml", 'name = "GPU has fallen off the bus"', 'name = ""', "non-empty"),
        ("xid.toml", "as_of = 2026-12-07\n", 'as_of = "soon"\n', "as_of"),
        ("gpu_models.toml", 'name_regex = "H200 NVL"', 'name_regex = "H200 (NVL"', "name_regex"),
        ("gpu_models.toml", "nvlinks = 12", "nvlinks = -1", "nvlinks"),
        ("gpu_models.toml", "nvlinks = 12", 'nvlinks = "12"', "nvlinks"),
        ("gpu_models.toml", "ecc = true", 'ecc = "yes"', "ecc"),
    ],
)
def test_a_bad_row_is_refused(tmp_path, file, old, new, message):
    folder = _copy(tmp_path)
    path = folder / file
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(KnowledgeBaseError, match=message):
        load_dir(folder)


def test_a_row_without_source_is_refused(tmp_path):
    folder = _copy(tmp_path)
    path = folder / "xid.toml"
    text = path.read_text(encoding="utf-8")
    start = text.index('source = "', text.index("code = 79"))
    end = text.index("\n", start)
    path.write_text(text[:start] + 'source = ""' + text[end:], encoding="utf-8")
    with pytest.raises(KnowledgeBaseError, match="source"):
        load_dir(folder)
