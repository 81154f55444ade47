"""Device-access probe against fake /sys, /proc and /dev trees, and its open child for real."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from gpudoctor.probe.base import ProbeContext
from gpudoctor.probe.child import script
from gpudoctor.probe.device_access import OPEN_TIMEOUT_S, probe_device_access
from tests.probe.fakes import FakeRun, write


def tree(root, *, v2: bool):
    for node in ("nvidia0", "nvidiactl", "nvidia-uvm"):
        write(root, f"/dev/{node}").chmod(0o666)
    (root / "dev/nvidia-caps").mkdir()
    if v2:
        write(root, "/sys/fs/cgroup/cgroup.controllers", "cpuset cpu io memory pids\n")
    else:
        write(root, "/proc/self/cgroup", "12:devices:/docker/abc\n1:name=systemd:/docker/abc\n")
        write(root, "/sys/fs/cgroup/devices/docker/abc/devices.list", "c 1:5 rwm\nc 195:* m\n")
    write(root, "/sys/fs/selinux/enforce", "1")
    write(root, "/proc/self/attr/current", "system_u:system_r:container_t:s0:c1,c2\x00")


def test_cgroup_v2_selinux_and_the_one_open(tmp_path):
    tree(tmp_path, v2=True)
    ctl = str(tmp_path / "dev/nvidiactl")
    run = FakeRun({ctl: "EPERM: Operation not permitted"})
    info = probe_device_access(ProbeContext(root=tmp_path, env={}, run=run))
    assert info.cgroup_version == "v2" and info.devices_list == ()
    assert info.selinux == "enforcing"
    assert info.security_context == "system_u:system_r:container_t:s0:c1,c2"
    nodes = {n.path: n for n in info.nodes}
    assert set(nodes) == {"/dev/nvidia0", "/dev/nvidiactl", "/dev/nvidia-uvm"}  # no folders
    assert nodes["/dev/nvidiactl"].open_error == "EPERM: Operation not permitted"
    assert nodes["/dev/nvidiactl"].opened is False
    assert nodes["/dev/nvidia0"].opened is None  # opening it may start the GPU: not tried
    assert nodes["/dev/nvidia0"].mode == "-rw-rw-rw-"
    ((argv, limit, _),) = run.calls
    assert argv[-1] == ctl and limit == OPEN_TIMEOUT_S


def test_cgroup_v1_devices_list_of_the_own_cgroup(tmp_path):
    tree(tmp_path, v2=False)
    (tmp_path / "sys/fs/cgroup/memory").mkdir(parents=True)
    ctl = str(tmp_path / "dev/nvidiactl")
    info = probe_device_access(ProbeContext(root=tmp_path, env={}, run=FakeRun({ctl: None})))
    assert info.cgroup_version == "v1"
    assert info.devices_list == ("c 1:5 rwm", "c 195:* m")
    assert {n.path: n.opened for n in info.nodes}["/dev/nvidiactl"] is True


def test_a_hung_open_is_an_error_not_a_hang(tmp_path):
    tree(tmp_path, v2=True)
    info = probe_device_access(
        ProbeContext(root=tmp_path, env={}, run=FakeRun(timed_out=True, abandoned=True))
    )
    (error,) = info.errors
    assert error.field == "device_access.nodes" and "did not return" in error.message
    assert all(n.opened is None for n in info.nodes)


@pytest.mark.parametrize("said", ['{"n": ' + "9" * 5000 + "}", "[" * 100_000, "[1, 2]"])
def test_an_open_child_that_printed_no_object_is_an_error(tmp_path, said):
    # a number of 5,000 digits (ValueError) and deep nesting (RecursionError) passed the
    # JSONDecodeError this caught, and a list has no .items(): the probe crashed
    tree(tmp_path, v2=True)
    info = probe_device_access(ProbeContext(root=tmp_path, env={}, run=FakeRun(stdout=said)))
    (error,) = info.errors
    assert "printed no result" in error.message


def test_no_nvidia_devices_runs_no_child(tmp_path):
    (tmp_path / "dev").mkdir()
    run = FakeRun({})
    info = probe_device_access(ProbeContext(root=tmp_path, env={}, run=run))
    assert info.nodes == () and run.calls == []


def test_the_open_child_reports_errno_names(tmp_path):
    readable = tmp_path / "ok"
    readable.write_text("")
    missing = tmp_path / "missing"
    out = subprocess.run(
        [sys.executable, script("device_open.py"), str(readable), str(missing)],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert json.loads(out.stdout) == {
        str(readable): None,
        str(missing): "ENOENT: No such file or directory",
    }


def test_a_host_without_sys_or_dev_records_nothing(tmp_path):
    info = probe_device_access(ProbeContext(root=tmp_path, env={}, run=FakeRun({})))
    assert info.selinux is None and info.cgroup_version is None and info.nodes == ()


class _Systemctl:
    """The open child's answer, and ``systemctl show``'s for the unit asked about."""

    def __init__(self, shown: str, returncode: int = 0) -> None:
        self.shown, self.returncode, self.asked = shown, returncode, []

    def __call__(self, argv, *, timeout_s, env=None, stdin=None):
        from gpudoctor.probe.runcmd import CmdResult

        if "show" not in argv:
            return FakeRun({})(argv, timeout_s=timeout_s, env=env)
        self.asked.append((tuple(argv), timeout_s))
        return CmdResult(argv=tuple(argv), returncode=self.returncode, stdout=self.shown)


def _with_systemctl(tmp_path, own: str):
    tree(tmp_path, v2=True)
    write(tmp_path, "/proc/self/cgroup", f"0::{own}\n")
    bin_dir = tmp_path / "bin"
    write(bin_dir, "/systemctl", "#!/bin/sh\n").chmod(0o755)
    return {"PATH": str(bin_dir)}


def test_cgroup_v2_records_the_own_cgroup_and_its_units_device_policy(tmp_path):
    # a cgroup v2 device filter (DeviceAllow=, SLURM's ConstrainDevices) is an eBPF program
    # nothing lists: the report recorded only 'v2', and GD-GPU-070 called the GPUs a unit was
    # not allowed lost
    from gpudoctor.probe.device_access import SYSTEMCTL_TIMEOUT_S

    env = _with_systemctl(tmp_path, "/system.slice/train.service")
    run = _Systemctl(
        "DevicePolicy=closed\nDeviceAllow=/dev/nvidia0 rw\nDeviceAllow=/dev/nvidiactl rw\n"
    )
    info = probe_device_access(ProbeContext(root=tmp_path, env=env, run=run))
    assert info.cgroup_path == "/system.slice/train.service"
    assert info.unit_devices == (
        "DevicePolicy=closed",
        "DeviceAllow=/dev/nvidia0 rw",
        "DeviceAllow=/dev/nvidiactl rw",
    )
    ((argv, limit),) = run.asked
    assert argv[1:] == (
        "show",
        "--property=DevicePolicy",
        "--property=DeviceAllow",
        "train.service",
    )
    assert limit == SYSTEMCTL_TIMEOUT_S


@pytest.mark.parametrize(
    "own",
    [
        "/user.slice/user-1000.slice/session-3.scope",  # a login: its units filter nothing
        "/system.slice/slurmstepd.scope/job_42/step_0/user/task_0",  # SLURM's own filter
        "/",
    ],
)
def test_no_unit_is_asked_about_outside_a_system_unit(tmp_path, own):
    env = _with_systemctl(tmp_path, own)
    run = _Systemctl("DevicePolicy=auto\n")
    info = probe_device_access(ProbeContext(root=tmp_path, env=env, run=run))
    assert info.cgroup_path == own and info.unit_devices is None and run.asked == []


@pytest.mark.parametrize(("shown", "returncode"), [("", 1), ("Something=else\n", 0)])
def test_a_systemctl_that_does_not_answer_records_no_policy(tmp_path, shown, returncode):
    # 'System has not been booted with systemd as init system' (exit 1), or an answer without
    # DevicePolicy, which systemd always prints
    env = _with_systemctl(tmp_path, "/system.slice/train.service")
    info = probe_device_access(
        ProbeContext(root=tmp_path, env=env, run=_Systemctl(shown, returncode))
    )
    assert info.unit_devices is None
