"""`check --since` and `--ib-rate`, and a replayed report's hardware section shown safely."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from gpudoctor.cli.options import parse_since
from gpudoctor.errors import BadInputError
from gpudoctor.model.report import HardwareInfo, IbPort, KernelLogInfo, XidCount
from tests.cli.test_check import MIG, one_line_error, saved
from tests.conftest import Cli
from tests.rules.builders import healthy

NOW = 1_765_000_000.0  # 2025-12-06T05:46:40Z


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("72h", 72 * 3600),
        ("3d", 3 * 86400),
        ("90m", 5400),
        ("1w", 7 * 86400),
        ("2025-12-05", NOW - 1_764_892_800),  # midnight UTC
        ("2025-12-06T05:00:00+00:00", 2800),
        ("2025-12-06T06:00:00+01:00", 2800),
    ],
)
def test_since_takes_durations_and_dates(text, seconds):
    assert parse_since(text, NOW) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["soon", "72", "-3d", "0h", "2031-01-01", "2020-01-01", "3 days"])
def test_a_bad_since_is_refused(text):
    with pytest.raises(BadInputError, match="--since"):
        parse_since(text, NOW)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("0h", "a duration of zero reads no kernel log"),
        ("2031-01-01", "a time in the future reads no kernel log"),
        ("400d", "within the last 366 days"),
        ("2020-01-01", "within the last 366 days"),
    ],
)
def test_a_since_out_of_range_says_which_way(text, says):
    # `--since 0h` said "the window must lie within the last 366 days", which it does.
    with pytest.raises(BadInputError, match=says):
        parse_since(text, NOW)


def test_a_bad_since_is_one_line_exit_2(cli: Cli):
    result = cli("check", "--since", "yesterday-ish", "--no-frameworks")
    one_line_error(result)
    assert "72h" in result.stderr


def test_since_cannot_replay_a_saved_report(cli: Cli):
    one_line_error(cli("check", "--from-report", str(MIG), "--since", "3d"))


def ib_report():
    ports = tuple(
        IbPort(device=f"mlx5_{i}", port=1, state="ACTIVE", rate_gbps=200.0, link_layer="InfiniBand")
        for i in range(2)
    )
    return replace(healthy(), hardware=HardwareInfo(ib_ports=ports))


def test_ib_rate_is_recorded_and_judged_on_a_replayed_report(cli: Cli, tmp_path):
    path = saved(tmp_path, ib_report())
    assert "GD-HOST-057" not in cli("check", "--from-report", path).stdout
    result = cli("check", "--from-report", path, "--ib-rate", "400", "--format", "json")
    doc = json.loads(result.stdout)
    assert doc["hardware"]["ib_expected_rate_gbps"] == 400.0
    assert [f["id"] for f in doc["findings"]].count("GD-HOST-057") == 2


@pytest.mark.parametrize("rate", ["0", "fast", "nan"])
def test_a_bad_ib_rate_is_refused(cli: Cli, tmp_path, rate):
    result = cli("check", "--from-report", saved(tmp_path, ib_report()), "--ib-rate", rate)
    assert result.exit_code == 2 and "Traceback" not in result.stderr


def test_a_word_for_a_number_is_called_not_a_number(cli: Cli, tmp_path):
    # Click's own words were "'fast' is not a valid float range".
    result = cli("check", "--from-report", saved(tmp_path, ib_report()), "--ib-rate", "fast")
    assert "'fast' is not a valid number" in result.stderr
    assert "float range" not in cli("check", "--help").stdout.lower()


def test_a_hostile_kernel_line_reaches_the_terminal_inert(cli: Cli, tmp_path):
    hostile = "\x1b]0;owned\x07\x1b[2J fallen off the bus\u202e"
    log = KernelLogInfo(
        status="ok",
        source="/dev/kmsg",
        window_h=72.0,
        counts=(XidCount(kind="xid", code=79, pci="0000:01:00", count=1, last_message=hostile),),
    )
    path = saved(tmp_path, replace(healthy(), hardware=HardwareInfo(kernel_log=log)))
    for fmt in ("text", "markdown"):
        result = cli("check", "--from-report", path, "--format", fmt)
        assert result.exit_code == 1, result
        assert "GD-GPU-056" in result.stdout
        assert "\x1b" not in result.stdout and "\u202e" not in result.stdout
        assert "\\x1b" in result.stdout


def test_an_old_report_without_the_hardware_section_still_replays(cli: Cli, tmp_path):
    doc = json.loads(Path(saved(tmp_path, healthy())).read_text(encoding="utf-8"))
    doc.pop("hardware")
    for gpu in doc["nvml"]["gpus"]:
        for key in (
            "nvlink_count",
            "nvlinks_up",
            "nvlink_version",
            "nvlinks",
            "power_limit_default_w",
            "bar1_total_mib",
            "gsp_firmware_enabled",
        ):
            gpu.pop(key)
    path = tmp_path / "old.json"
    path.write_text(json.dumps(doc))
    result = cli("check", "--from-report", str(path))
    assert result.exit_code == 0, result


def test_since_travels_to_the_compute_node():
    from gpudoctor.cli.check import _node_argv

    argv = _node_argv(None, None, timeout_s=60, frameworks=False, since="2h")
    assert argv[-2:] == ["--since", "2h"]
    assert "--since" not in _node_argv(None, None, timeout_s=60, frameworks=False)


def test_the_window_reaches_the_probe_on_this_machine(cli: Cli):
    result = cli("check", "--no-frameworks", "--since", "90m", "--format", "json")
    assert result.exit_code in (0, 1), result
    log = json.loads(result.stdout)["hardware"]["kernel_log"]
    assert log["window_h"] == 1.5
    assert log["status"] in ("ok", "unreadable", "unsupported")


def test_kernel_lines_are_redacted_like_every_other_string():
    from gpudoctor.model.redact import redact

    line = "GPU-509665ad-b600-ac93-3616-d754b23d636d on node-17, core in /home/ada/run/core"
    log = KernelLogInfo(
        status="ok",
        counts=(XidCount(kind="xid", code=79, pci="0000:01:00", count=1, last_message=line),),
    )
    report = replace(healthy(), hardware=HardwareInfo(kernel_log=log))
    shown = redact(report, user_names=("ada",)).hardware
    assert shown is not None and shown.kernel_log is not None
    message = shown.kernel_log.counts[0].last_message
    assert "509665ad" not in message
    assert "node-17" not in message
    assert "/ada/" not in message  # user names are redacted as path components, as elsewhere


@pytest.mark.parametrize("text", ["\u0663d", "\uff13d", "\u0663\u0660m"])
def test_since_takes_ascii_digits_only(cli, text):
    # "٣d" (Arabic-Indic 3) was read as 3 days: \d matches every script's digits
    result = cli("check", "--no-frameworks", "--no-history", "--since", text)
    assert result.exit_code == 2, result
    assert result.stderr.startswith(f"gpudoctor: error: --since '{text}': give a duration like")
