"""Framework probes: TF log parsing, and the real PyTorch / TensorFlow children on this machine."""

from __future__ import annotations

import sys

import pytest

from gpudoctor.probe.base import ProbeContext
from gpudoctor.probe.children import tf_probe, torch_probe
from gpudoctor.probe.frameworks import parse_tf_stderr, probe_framework
from tests.probe.fakes import FakeRun, other_python

TF_LOG = "\n".join(
    [
        "2023-03-01 10:00:00.000000: W tensorflow/compiler/xla/stream_executor/platform/default/"
        "dso_loader.cc:64] Could not load dynamic library 'libcudnn.so.8'; dlerror: "
        "libcudnn.so.8: cannot open shared object file: No such file or directory",
        "2023-03-01 10:00:00.000001: W tensorflow/core/common_runtime/gpu/gpu_device.cc:1934] "
        "Cannot dlopen some GPU libraries. Please make sure the missing libraries mentioned "
        "above are installed properly if you would like to use GPU.",
        "Skipping registering GPU devices...",
    ]
)


def test_parse_tf_stderr_names_the_library():
    failed, summary = parse_tf_stderr(TF_LOG)
    (lib,) = failed
    assert lib.soname == "libcudnn.so.8"
    assert lib.name == "cudnn"
    assert "cannot open shared object file" in (lib.error or "")
    assert summary is not None and summary.startswith("Cannot dlopen some GPU libraries")
    assert parse_tf_stderr("") == ((), None)


def test_tf_log_is_merged_into_the_child_answer():
    child = {"name": "tensorflow", "status": "ok", "cuda_build": True, "device_count": 0}
    info = probe_framework(ProbeContext(run=FakeRun(child, stderr=TF_LOG)), "tensorflow")
    assert info.failed_libraries[0].soname == "libcudnn.so.8"
    assert info.init_error.startswith("Cannot dlopen some GPU libraries")


def test_tf_needed_sonames_follow_the_build():
    names = tf_probe.needed_sonames("12.5.1", "9")
    assert names["cudnn"] == "libcudnn.so.9"
    assert names["cudart"] == "libcudart.so.12"
    assert names["cufft"] == "libcufft.so.11"


def test_torch_cudnn_decoding():
    assert torch_probe.decode_cudnn(91002) == "9.10.2"
    assert torch_probe.decode_cudnn(8902) == "8.9.2"


@pytest.mark.torch
def test_real_torch_probe_describes_this_cpu_build():
    info = probe_framework(ProbeContext(timeout_s=120), "torch")
    assert info.status == "ok", info.message
    assert info.version and info.version[0].isdigit()
    assert info.python_version == ".".join(map(str, sys.version_info[:3]))
    if info.cuda_build is False:  # this CI machine: CPU wheel, no GPU
        assert info.build_cuda is None
        assert info.cuda_available is False
        assert info.arch_list == ()
        assert info.devices == ()
        assert info.init_error is None


@pytest.mark.tensorflow
def test_real_tensorflow_probe_describes_this_cpu_build():
    info = probe_framework(ProbeContext(timeout_s=120), "tensorflow")
    assert info.status == "ok", info.message
    assert info.version and info.version.startswith("2.")
    if info.cuda_build is False:
        assert info.cuda_available is False
        assert info.device_count == 0
        assert info.failed_libraries == ()


@pytest.mark.skipif(other_python() is None, reason="needs a second interpreter")
@pytest.mark.parametrize("name", ["torch", "tensorflow"])
def test_children_run_under_an_interpreter_without_gpudoctor(name):
    other = other_python()
    info = probe_framework(ProbeContext(python=other, timeout_s=60), name)
    assert info.status in ("ok", "not_installed", "import_error"), info.message
    assert info.python_version
