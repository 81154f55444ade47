"""Package-manager logs: apt's history.log and dnf's rpm log, from recorded samples."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator

import pytest

from gpudoctor.probe.base import ProbeContext
from gpudoctor.probe.pkglog import (
    package_actions,
    parse_apt_history,
    parse_dnf_rpm_log,
    read_tail,
    utc,
)
from tests.conftest import DATA

LOGS = DATA / "pkglog"


@pytest.fixture
def zone(monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    """Set the local time zone for one test (apt logs local time), restored after it."""

    def use(name: str) -> None:
        monkeypatch.setenv("TZ", name)
        time.tzset()

    use("UTC")
    yield use
    monkeypatch.undo()
    time.tzset()


@pytest.mark.usefixtures("zone")
def test_apt_history_keeps_driver_cuda_and_kernel_actions_with_the_command():
    actions = parse_apt_history((LOGS / "history.log").read_text(), "apt")
    assert [(a.action, a.package) for a in actions] == [
        ("upgrade", "nvidia-dkms-590-open"),
        ("upgrade", "libnvidia-compute-590"),
        ("upgrade", "nvidia-utils-590"),
        ("install", "linux-image-6.8.0-90-generic"),
        ("install", "linux-modules-6.8.0-90-generic"),
        ("remove", "cuda-toolkit-12-8"),
    ]  # libssl and vim are no concern of gpudoctor's
    dkms = actions[0]
    assert (dkms.old_version, dkms.new_version) == ("590.44.01-0ubuntu1", "590.48.01-0ubuntu1")
    assert dkms.command == "/usr/bin/unattended-upgrade"
    assert actions[-1].old_version == "12.8.1-1" and actions[-1].new_version is None


def test_dnf_pairs_an_upgrade_with_the_version_it_replaced():
    actions = parse_dnf_rpm_log((LOGS / "dnf.rpm.log").read_text(), "dnf")
    assert [(a.when, a.action, a.package, a.old_version, a.new_version) for a in actions] == [
        (
            "2026-12-01T06:25:12Z",
            "upgrade",
            "nvidia-driver",
            "3:590.44.01-1.el9",
            "3:590.48.01-1.el9",
        ),
        ("2026-12-01T06:25:20Z", "install", "kernel-core", None, "5.14.0-570.el9"),
        ("2026-12-01T06:25:21Z", "remove", "cuda-compat-12-8", "570.124.06-1", None),
    ]


def test_local_apt_times_become_utc(zone):
    zone("Europe/Berlin")
    assert utc("2026-12-01  06:25:11") == "2026-12-01T05:25:11Z"
    assert parse_apt_history((LOGS / "history.log").read_text(), "apt")[0].when == (
        "2026-12-01T05:25:11Z"
    )
    assert utc("2026-12-01T06:25:12+0000") == "2026-12-01T06:25:12Z"
    assert utc("not a time") == "not a time"


@pytest.mark.usefixtures("zone")
def test_the_probe_reads_both_logs_under_a_fake_root(tmp_path):
    (tmp_path / "var/log/apt").mkdir(parents=True)
    shutil.copy(LOGS / "history.log", tmp_path / "var/log/apt/history.log")
    shutil.copy(LOGS / "dnf.rpm.log", tmp_path / "var/log/dnf.rpm.log")
    found = package_actions(ProbeContext(root=tmp_path))
    assert len(found) == 9
    assert {a.source for a in found} == {"/var/log/apt/history.log", "/var/log/dnf.rpm.log"}
    assert package_actions(ProbeContext(root=tmp_path / "nothing")) == ()


def test_only_the_tail_of_a_huge_log_is_read_and_a_fifo_is_not_opened(tmp_path):
    log = tmp_path / "big.log"
    log.write_bytes(b"x" * 5000 + b"\nlast line\n")
    assert read_tail(ProbeContext(root=tmp_path), "/big.log", limit=100) == "last line\n"
    os.mkfifo(tmp_path / "fifo")
    assert read_tail(ProbeContext(root=tmp_path), "/fifo") is None  # never waits for a writer


@pytest.mark.usefixtures("zone")
def test_a_long_run_without_a_version_takes_linear_time():
    # a tail of NUL bytes (a log cut by a crash) in an Upgrade line: the package pattern was
    # tried from each of its characters, 5 s for these 20,000 (29 s for 40,000; diff ran it)
    log = (LOGS / "history.log").read_text()
    log = log.replace("Upgrade: ", "Upgrade: " + "\x00" * 20_000 + ", ", 1)
    start = time.monotonic()
    actions = parse_apt_history(log, "apt")
    assert time.monotonic() - start < 0.5
    assert actions == parse_apt_history((LOGS / "history.log").read_text(), "apt")


def test_garbage_is_no_action():
    assert parse_apt_history("Start-Date\n\x00\x01garbage: (", "apt") == []
    assert parse_dnf_rpm_log("2026-12-01T06:25:12+0000 SUBDEBUG Upgrade:\n", "dnf") == []


def test_apts_compressed_first_rotation_is_read(tmp_path):
    """apt's logrotate rule compresses at once (debian/apt.logrotate: monthly, compress, no
    delaycompress): last month's driver upgrade is in history.log.1.gz, never history.log.1."""
    import gzip

    folder = tmp_path / "var/log/apt"
    folder.mkdir(parents=True)
    (folder / "history.log.1.gz").write_bytes(gzip.compress((LOGS / "history.log").read_bytes()))
    (folder / "history.log").write_text("")
    found = package_actions(ProbeContext(root=tmp_path))
    assert [a.package for a in found] == [
        a.package for a in parse_apt_history((LOGS / "history.log").read_text(), "apt")
    ]
    assert found and {a.source for a in found} == {"/var/log/apt/history.log"}
    # the same period also left uncompressed (a rotation rule changed): listed once
    shutil.copy(LOGS / "history.log", folder / "history.log.1")
    assert package_actions(ProbeContext(root=tmp_path)) == found


def test_a_damaged_or_inflating_rotation_is_no_action(tmp_path, monkeypatch):
    import gzip

    from gpudoctor.probe import pkglog

    (tmp_path / "bad.gz").write_bytes(b"\x1f\x8b\x08\x00" + bytes(6) + b"\xff" * 64)
    assert pkglog.read_gzip_tail(ProbeContext(root=tmp_path), "/bad.gz") is None
    (tmp_path / "not.gz").write_text("plain text")
    assert pkglog.read_gzip_tail(ProbeContext(root=tmp_path), "/not.gz") is None
    (tmp_path / "bomb.gz").write_bytes(gzip.compress(b"\n" * (1 << 20)))
    monkeypatch.setattr(pkglog, "MAX_INFLATED_BYTES", 1 << 19)
    assert pkglog.read_gzip_tail(ProbeContext(root=tmp_path), "/bomb.gz") is None
    tail = b"x" * 5000 + b"\nlast line\n"
    (tmp_path / "big.gz").write_bytes(gzip.compress(tail))
    assert pkglog.read_gzip_tail(ProbeContext(root=tmp_path), "/big.gz", limit=100) == "last line\n"
