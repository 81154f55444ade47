"""Toolchain probe against a fake PATH and fake commands: what it records, and its bounds."""

from __future__ import annotations

import os
import stat

from gpudoctor.probe.base import ProbeContext
from gpudoctor.probe.runcmd import CmdResult
from gpudoctor.probe.toolchain import (
    COMMAND_TIMEOUT_S,
    libcuda_entries,
    nvcc_release,
    probe_toolchain,
)
from tests.probe.fakes import write

NVCC = (
    "nvcc: NVIDIA (R) Cuda compiler driver\nCopyright (c) 2005-2024 NVIDIA Corporation\n"
    "Built on Thu_Mar_28_02:18:24_PDT_2024\nCuda compilation tools, release 12.4, V12.4.131\n"
)
LDCONFIG = (
    "1234 libs found in cache `/etc/ld.so.cache'\n"
    "\tlibcudart.so.12 (libc6,x86-64) => /usr/local/cuda/lib64/libcudart.so.12\n"
    "\tlibcuda.so.1 (libc6,x86-64) => /lib/x86_64-linux-gnu/libcuda.so.1\n"
    "\tlibcuda.so (libc6,x86-64) => /lib/x86_64-linux-gnu/libcuda.so\n"
)


def executable(root, absolute):
    path = write(root, absolute, "#!/bin/sh\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


class Answers:
    """A fake run_cmd that answers by program name and records every call's limit."""

    def __init__(self, **by_name: CmdResult) -> None:
        self.by_name = by_name
        self.calls: list[tuple[str, float]] = []

    def __call__(self, argv, *, timeout_s, env=None, **kw):
        name = os.path.basename(argv[0])
        self.calls.append((name, timeout_s))
        return self.by_name.get(name, CmdResult(argv=tuple(argv), returncode=1))


def ok(stdout: str) -> CmdResult:
    return CmdResult(argv=(), returncode=0, stdout=stdout)


def test_parsers():
    assert nvcc_release(NVCC) == "12.4"
    assert nvcc_release("garbage") is None
    assert libcuda_entries(LDCONFIG) == (
        "libcuda.so.1 => /lib/x86_64-linux-gnu/libcuda.so.1",
        "libcuda.so => /lib/x86_64-linux-gnu/libcuda.so",
    )


def test_cuda_home_from_the_variable_and_every_command_bounded(tmp_path):
    home = tmp_path / "cuda-12.4"
    executable(tmp_path, "/cuda-12.4/bin/nvcc")
    executable(tmp_path, "/bin/gcc")
    executable(tmp_path, "/bin/ldconfig")
    run = Answers(nvcc=ok(NVCC), gcc=ok("gcc (GCC) 13.2.0\n"), ldconfig=ok(LDCONFIG))
    env = {"CUDA_HOME": str(home), "PATH": str(tmp_path / "bin")}
    # root stays "/": the paths above are real files under tmp_path
    info = probe_toolchain(ProbeContext(env=env, run=run))
    assert info.cuda_home == str(home) and info.cuda_home_from == "CUDA_HOME"
    assert info.nvcc_version == "12.4"
    assert [(c.name, c.version) for c in info.compilers] == [("gcc", "gcc (GCC) 13.2.0")]
    assert info.ldconfig_read
    assert info.libcuda_cache[0].startswith("libcuda.so.1 =>")
    assert all(limit <= COMMAND_TIMEOUT_S for _, limit in run.calls)


def test_nothing_installed(tmp_path):
    run = Answers()
    info = probe_toolchain(ProbeContext(env={"PATH": str(tmp_path)}, root=tmp_path, run=run))
    assert (info.cuda_home, info.nvcc, info.compilers, info.ldconfig_read) == (
        None,
        None,
        (),
        False,
    )
    assert run.calls == []


def test_a_hung_nvcc_is_recorded_not_waited_for(tmp_path):
    executable(tmp_path, "/cuda/bin/nvcc")
    hung = CmdResult(argv=(), returncode=None, timed_out=True)
    info = probe_toolchain(
        ProbeContext(env={"CUDA_PATH": "/cuda", "PATH": ""}, root=tmp_path, run=Answers(nvcc=hung))
    )
    assert info.cuda_home_from == "CUDA_PATH" and info.nvcc_version is None
    (error,) = info.errors
    assert error.field == "toolchain.nvcc_version" and error.code == "timeout"


def test_windows_toolkit_nvcc_exe(tmp_path):
    executable(tmp_path, "/cuda/v12.4/bin/nvcc.exe")
    run = Answers(**{"nvcc.exe": ok(NVCC)})
    env = {"CUDA_PATH": "/cuda/v12.4", "PATH": ""}
    info = probe_toolchain(ProbeContext(env=env, root=tmp_path, run=run))
    assert info.nvcc == "/cuda/v12.4/bin/nvcc.exe" and info.nvcc_version == "12.4"


def test_cuda_home_above_nvcc_on_path(tmp_path):
    executable(tmp_path, "/opt/cuda-12.4/bin/nvcc")
    env = {"PATH": str(tmp_path / "opt/cuda-12.4/bin")}
    info = probe_toolchain(ProbeContext(env=env, run=Answers(nvcc=ok(NVCC))))
    assert info.cuda_home == str(tmp_path / "opt/cuda-12.4")
    assert info.cuda_home_from == "nvcc on PATH" and info.nvcc_version == "12.4"
