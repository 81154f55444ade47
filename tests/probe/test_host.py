"""Host probe against fake file trees, fake environments and fake interpreters."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from gpudoctor.probe.base import ProbeContext
from gpudoctor.probe.host import (
    ENV_VARS,
    parse_cpuinfo,
    parse_meminfo,
    parse_os_release,
    probe_host,
)
from tests.probe.fakes import FakeRun, other_python, write

CPUINFO = """processor\t: 0
model name\t: AMD EPYC 9454 48-Core Processor
processor\t: 1
model name\t: AMD EPYC 9454 48-Core Processor
"""


def test_parsers():
    assert parse_os_release('NAME="Ubuntu"\nPRETTY_NAME="Ubuntu 22.04.5 LTS"\n') == (
        "Ubuntu 22.04.5 LTS"
    )
    assert parse_os_release(None) is None
    assert parse_cpuinfo(CPUINFO) == ("AMD EPYC 9454 48-Core Processor", 2)
    assert parse_meminfo("MemTotal:       24683520 kB\nMemFree: 1 kB\n") == 24683520 // 1024
    assert parse_meminfo("garbage") is None


def host_tree(root: Path) -> None:
    write(root, "/etc/os-release", 'PRETTY_NAME="Ubuntu 22.04.5 LTS"\n')
    write(root, "/proc/cpuinfo", CPUINFO)
    write(root, "/proc/meminfo", "MemTotal:       2097152 kB\n")
    write(root, "/proc/sys/kernel/osrelease", "5.15.0-185-generic\n")
    write(root, "/proc/version", "Linux version 5.15.0-185-generic (buildd@lcy02)\n")


def test_bare_metal_host(tmp_path):
    host_tree(tmp_path)
    env = {"CUDA_VISIBLE_DEVICES": "0,1", "HOME": "/home/ada", "CUDA_PROFILE": "1"}
    info = probe_host(ProbeContext(root=tmp_path, env=env, python=sys.executable))
    assert info.os_release == "Ubuntu 22.04.5 LTS"
    assert info.kernel == "5.15.0-185-generic"
    assert info.cpu_model == "AMD EPYC 9454 48-Core Processor"
    assert info.cpu_count == 2
    assert info.memory_total_mib == 2048
    assert info.container is None
    assert info.wsl is False
    # Only the variables that matter, and only those set.
    assert info.env == {"CUDA_VISIBLE_DEVICES": "0,1", "CUDA_PROFILE": "1"}
    assert info.python.executable == sys.executable
    assert info.python.version.startswith(f"{sys.version_info[0]}.{sys.version_info[1]}")


def test_the_report_says_how_a_pasted_command_starts_this_gpudoctor(tmp_path):
    # no gpudoctor on PATH (run as `python -m gpudoctor` from a venv not on PATH): the fixes
    # said a bare `gpudoctor ...`, which failed there; the report now says how to start it
    host_tree(tmp_path)
    info = probe_host(ProbeContext(root=tmp_path, env={"PATH": str(tmp_path / "bin")}))
    assert info.gpudoctor_command == (sys.executable, "-m", "gpudoctor")
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "gpudoctor").write_text("#!/bin/sh\n")
    (tmp_path / "bin" / "gpudoctor").chmod(0o755)
    info = probe_host(ProbeContext(root=tmp_path, env={"PATH": str(tmp_path / "bin")}))
    assert info.gpudoctor_command == ("gpudoctor",)


def test_every_dcgm_slowdown_variable_is_watched():
    for name in (
        "NSIGHT_CUDA_DEBUGGER",
        "CUDA_INJECTION64_PATH",
        "OPENCL_PROFILE",
        "CUDA_DEVICE_WAITS_ON_EXCEPTION",
        "CUDA_LAUNCH_BLOCKING",
    ):
        assert name in ENV_VARS


@pytest.mark.parametrize(
    ("marker", "cgroup", "expected"),
    [
        ("/.dockerenv", "", "docker"),
        ("/run/.containerenv", "", "podman"),
        (None, "0::/kubepods/besteffort/pod1234\n", "container"),
        (None, "12:devices:/docker/0123abcd\n", "docker"),
        (None, "0::/init.scope\n", None),
    ],
)
def test_container_markers(tmp_path, marker, cgroup, expected):
    host_tree(tmp_path)
    if marker:
        write(tmp_path, marker)
    write(tmp_path, "/proc/1/cgroup", cgroup)
    info = probe_host(ProbeContext(root=tmp_path, env={}, python=sys.executable))
    assert info.container == expected


def test_wsl2(tmp_path):
    host_tree(tmp_path)
    write(tmp_path, "/proc/version", "Linux version 5.15.167.4-microsoft-standard-WSL2\n")
    write(tmp_path, "/dev/dxg")
    info = probe_host(ProbeContext(root=tmp_path, env={}, python=sys.executable))
    assert info.wsl is True
    assert (info.dxg, info.wsl_libcuda) == (True, None)
    write(tmp_path, "/usr/lib/wsl/lib/libcuda.so.1")
    info = probe_host(ProbeContext(root=tmp_path, env={}, python=sys.executable))
    assert info.wsl_libcuda == "/usr/lib/wsl/lib/libcuda.so.1"


def test_a_container_under_wsl2_is_known_by_dev_dxg_and_the_driver_store(tmp_path):
    # WSL2 never shows the GPU in /sys: NVIDIA's container runtime passes /dev/dxg and mounts
    # the driver store's libcuda.so.1.1 at its own path (NVIDIA/libnvidia-container
    # src/nvc_info.c lookup_devices; nvidia-container-toolkit pkg/nvcdi/driver-wsl.go)
    host_tree(tmp_path)
    write(tmp_path, "/proc/version", "Linux version 6.6.87.2-microsoft-standard-WSL2\n")
    write(tmp_path, "/.dockerenv")
    info = probe_host(ProbeContext(root=tmp_path, env={}, python=sys.executable))
    assert (info.container, info.wsl, info.dxg, info.wsl_libcuda) == ("docker", True, False, None)
    write(tmp_path, "/dev/dxg")
    store = "/usr/lib/wsl/drivers/nv_dispi.inf_amd64_0123456789abcdef"
    write(tmp_path, f"{store}/libcuda.so.1.1")
    info = probe_host(ProbeContext(root=tmp_path, env={}, python=sys.executable))
    assert (info.dxg, info.wsl_libcuda) == (True, f"{store}/libcuda.so.1.1")


def test_outside_wsl_dev_dxg_is_not_looked_for(tmp_path):
    host_tree(tmp_path)
    info = probe_host(ProbeContext(root=tmp_path, env={}, python=sys.executable))
    assert (info.wsl, info.dxg, info.wsl_libcuda) == (False, None, None)


def test_another_interpreter_is_asked_through_a_child(tmp_path):
    host_tree(tmp_path)
    answer = {
        "version": "3.10.14",
        "executable": "/opt/conda/envs/tf/bin/python",
        "implementation": "CPython",
        "env_kind": "conda",
        "env_prefix": "/opt/conda/envs/tf",
        "env_name": "tf",
    }
    run = FakeRun(answer)
    ctx = ProbeContext(root=tmp_path, env={}, python="/opt/conda/envs/tf/bin/python", run=run)
    info = probe_host(ctx)
    assert info.python.env_kind == "conda" and info.python.env_name == "tf"
    ((argv, timeout, _),) = run.calls
    assert argv[0] == "/opt/conda/envs/tf/bin/python"
    assert argv[1].endswith("python_info.py")
    assert timeout <= 15


def test_an_interpreter_that_hangs_is_reported_not_waited_for(tmp_path):
    host_tree(tmp_path)
    ctx = ProbeContext(root=tmp_path, env={}, python="/opt/x/python", run=FakeRun(timed_out=True))
    info = probe_host(ctx)
    assert info.python.executable == "/opt/x/python"
    assert info.errors[0].field == "host.python"
    assert info.errors[0].code == "timeout"


@pytest.mark.skipif(other_python() is None, reason="needs a second interpreter")
def test_real_second_interpreter_without_gpudoctor(tmp_path):
    """The python_info child is stdlib-only: it runs under an interpreter without gpudoctor."""
    other = other_python()
    info = probe_host(ProbeContext(root=tmp_path, python=other, timeout_s=20))
    assert info.errors == ()
    assert info.python.version[0] == "3"
    assert info.python.env_kind in ("system", "venv", "conda")


def test_another_venv_of_the_same_base_python_is_another_interpreter(tmp_path):
    # a venv's bin/python is a link to the base interpreter, as gpudoctor's own may be
    from gpudoctor.probe.host import same_interpreter

    other = tmp_path / "venv" / "bin" / "python"
    other.parent.mkdir(parents=True)
    other.symlink_to(Path(sys.executable).resolve())
    assert not same_interpreter(str(other))
    assert same_interpreter(sys.executable)
