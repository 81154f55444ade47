"""Framework probes: TF log parsing, and the real PyTorch / TensorFlow children on this machine."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from types import SimpleNamespace

import pytest

from gpudoctor.probe.base import ProbeContext
from gpudoctor.probe.children import _shared, tf_probe, torch_probe
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


def test_tf_needed_sonames_for_cuda_12():
    """TF 2.18+ (CUDA 12.5, cuDNN 9), as TF's own dso_loader log names them."""
    assert tf_probe.needed_sonames("12.5.1", "9") == {
        "cudart": "libcudart.so.12",
        "cublas": "libcublas.so.12",
        "cublaslt": "libcublasLt.so.12",
        "cufft": "libcufft.so.11",
        "cusparse": "libcusparse.so.12",
        "cusolver": "libcusolver.so.11",
        "nvjitlink": "libnvJitLink.so.12",
        "cudnn": "libcudnn.so.9",
    }


def test_tf_needed_sonames_for_cuda_11():
    """TF 2.5-2.14 (CUDA 11.2-11.8, cuDNN 8): cudart keeps .so.11.0, cuFFT is 10, no nvJitLink."""
    assert tf_probe.needed_sonames("11.2", "8") == {
        "cudart": "libcudart.so.11.0",
        "cublas": "libcublas.so.11",
        "cublaslt": "libcublasLt.so.11",
        "cufft": "libcufft.so.10",
        "cusparse": "libcusparse.so.11",
        "cusolver": "libcusolver.so.11",
        "cudnn": "libcudnn.so.8",
    }
    # TF 2.4 was built with CUDA 11.0, whose cuSOLVER was still 10 (tensorflow#48498).
    assert tf_probe.needed_sonames("11.0", "8")["cusolver"] == "libcusolver.so.10"


@pytest.mark.parametrize(
    ("tf_version", "cudnn"), [("2.17.0", "libcudnn.so.8"), ("2.18.0", "libcudnn.so.9")]
)
def test_tf_cudnn_soname_without_build_info_follows_the_tf_release(tf_version, cudnn):
    assert tf_probe.needed_sonames("12.3", "", tf_version)["cudnn"] == cudnn
    assert tf_probe.needed_sonames("11.8", "")["cudnn"] == "libcudnn.so.8"


def test_tf_needed_sonames_for_cuda_13_list_only_the_sure_ones():
    names = tf_probe.needed_sonames("13.0", "9")
    assert names["cudart"] == "libcudart.so.13"
    assert names["cublas"] == "libcublas.so.13"
    assert names["nvjitlink"] == "libnvJitLink.so.13"
    assert all(soname.endswith((".so.13", ".so.9")) for soname in names.values())
    # cuFFT, cuSPARSE and cuSOLVER have majors of their own, unverified for CUDA 13: not guessed.
    assert set(names) == {"cudart", "cublas", "cublaslt", "nvjitlink", "cudnn"}


def test_tf_needed_sonames_unknown_cuda_major_checks_nothing():
    assert tf_probe.needed_sonames("10.1", "7") == {}


def test_tf_child_gets_allow_growth():
    """TF's smoke test must not reserve all GPU memory while others' jobs run."""
    run = FakeRun({"name": "tensorflow", "status": "not_installed"})
    probe_framework(ProbeContext(run=run, env={}), "tensorflow")
    ((_, _, env),) = run.calls
    assert env["TF_FORCE_GPU_ALLOW_GROWTH"] == "true"


def test_torch_arch_flags_sort_by_number():
    flags = "sm_100 sm_50 compute_90 sm_90 sm_120 sm_90a sm_86 sm_75"
    assert torch_probe.sort_arch_flags(flags) == [
        "sm_50",
        "sm_75",
        "sm_86",
        "sm_90",
        "sm_90a",
        "compute_90",
        "sm_100",
        "sm_120",
    ]


class _FakeTorch:
    """Only what arch_list reads: the build's arch flags, and the public fallback."""

    def __init__(self, flags):
        self._C = SimpleNamespace(_cuda_getArchFlags=lambda: flags)
        self.cuda = SimpleNamespace(get_arch_list=lambda: ["from_get_arch_list"])


def test_torch_arch_list_survives_an_odd_flag():
    assert torch_probe.arch_list(_FakeTorch("sm_90 weird sm_100 sm_80")) == [
        "sm_80",
        "sm_90",
        "sm_100",
        "weird",
    ]
    assert torch_probe.arch_list(_FakeTorch("")) == ["from_get_arch_list"]


def test_torch_cudnn_decoding():
    assert _shared.decode_cudnn(91002) == "9.10.2"
    assert _shared.decode_cudnn(8902) == "8.9.2"


@pytest.mark.torch
def test_real_torch_probe_describes_this_cpu_build():
    info = probe_framework(ProbeContext(timeout_s=120), "torch")
    assert info.status == "ok", info.message
    assert info.version and info.version[0].isdigit()
    assert info.python_version == ".".join(map(str, sys.version_info[:3]))
    assert info.numpy_version and info.numpy_error is None  # the torch extra brings numpy
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


@pytest.fixture
def fake_libcudnn(tmp_path):
    """A real shared object named like a system cuDNN 8.2.4 whose cudnnGetVersion says so."""
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        pytest.skip("needs a C compiler")
    source = tmp_path / "cudnn.c"
    source.write_text("unsigned long cudnnGetVersion(void) { return 8204; }\n")
    folder = tmp_path / "usr/local/cuda-11.2/lib64"
    folder.mkdir(parents=True)
    lib = folder / "libcudnn.so.8"
    subprocess.run([compiler, "-shared", "-fPIC", "-o", str(lib), str(source)], check=True)
    return lib


def test_the_loaded_cudnn_file_and_its_own_version_are_recorded(fake_libcudnn, monkeypatch):
    child = _shared  # both framework children record the file through it
    # a system cuDNN put first by LD_LIBRARY_PATH, next to the framework's own libraries
    monkeypatch.setenv("LD_LIBRARY_PATH", f"{fake_libcudnn.parent}:/usr/lib")
    wheel = "/env/lib/python3.11/site-packages/nvidia/cudnn/lib/libcudnn_graph.so.9"
    lib = child.cudnn_library([wheel, str(fake_libcudnn)])
    assert lib == {
        "name": "cudnn",
        "path": str(fake_libcudnn),
        "soname": "libcudnn.so.8",
        "origin": "ld_library_path",
        "version": "8.2.4",
    }
    monkeypatch.setenv("LD_LIBRARY_PATH", "")
    assert child.cudnn_library([str(fake_libcudnn)])["origin"] == "system"
    assert child.library_origin(wheel) == "pip"
    assert child.cudnn_library([wheel]) is None  # only cuDNN's own sub-libraries


def test_a_cudnn_file_that_cannot_be_read_is_still_named(tmp_path):
    broken = tmp_path / "libcudnn.so.9"
    broken.write_text("not an ELF file")
    lib = _shared.cudnn_library([str(broken)])
    assert lib is not None and lib["path"] == str(broken) and "version" not in lib
    assert lib["error"]


@pytest.mark.parametrize(("name", "module"), [("torch", "torch"), ("tensorflow", "tensorflow")])
def test_an_import_that_fails_on_a_shadowing_cudnn_still_names_the_file(
    name, module, fake_libcudnn, tmp_path
):
    # a stand-in framework that loads the cuDNN 8.2.4 on LD_LIBRARY_PATH, then refuses it
    package = tmp_path / "fakes" / module
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(
        "import ctypes\n"
        f"ctypes.CDLL({str(fake_libcudnn)!r})\n"
        "raise ImportError('cuDNN version incompatibility: compiled against (8, 7, 0) but "
        "found runtime version (8, 2, 4)')\n"
    )
    env = {
        **os.environ,
        "PYTHONPATH": str(package.parent),
        "LD_LIBRARY_PATH": str(fake_libcudnn.parent),
    }
    info = probe_framework(ProbeContext(env=env, timeout_s=60), name)
    assert info.status == "import_error" and "(8, 2, 4)" in info.message
    assert info.cudnn_library is not None
    assert info.cudnn_library.path == str(fake_libcudnn)
    assert (info.cudnn_library.version, info.cudnn_library.origin) == ("8.2.4", "ld_library_path")


def test_torch_probe_records_a_missing_numpy(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(
        torch_probe.importlib.util,
        "find_spec",
        lambda name, *a: None if name == "numpy" else real(name, *a),
    )
    assert torch_probe.numpy_facts() == {"numpy_error": "not installed"}


def test_torch_probe_records_a_numpy_that_fails_to_import(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def broken(name, *args, **kwargs):
        if name == "numpy":
            raise ImportError("numpy.core.multiarray failed to import")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", broken)
    facts = torch_probe.numpy_facts()
    assert facts == {"numpy_error": "import numpy failed: numpy.core.multiarray failed to import"}


def test_the_numpy_facts_reach_the_report():
    child = {
        "name": "torch",
        "status": "ok",
        "version": "2.13.0+cpu",
        "numpy_error": "not installed",
    }
    info = probe_framework(ProbeContext(run=FakeRun(child)), "torch")
    assert info.numpy_error == "not installed" and info.numpy_version is None


def _fake_torch(hip=None, xpu=None, mps_built=False, mps_available=False, xpus=0):
    """Just what gpu_backend and backend_devices ask of a torch module."""
    mps = SimpleNamespace(is_built=lambda: mps_built, is_available=lambda: mps_available)
    return SimpleNamespace(
        version=SimpleNamespace(hip=hip, xpu=xpu, cuda=None),
        backends=SimpleNamespace(mps=mps),
        xpu=SimpleNamespace(is_available=lambda: xpus > 0, device_count=lambda: xpus),
    )


def test_torch_probe_names_the_backend_of_a_build_for_other_gpus():
    # the probe wrote nothing of it: a ROCm, XPU or macOS build read as "CPU-only build"
    rocm = _fake_torch(hip="6.4.43482")
    assert torch_probe.gpu_backend(rocm) == {
        "gpu_backend": "rocm",
        "gpu_backend_version": "6.4.43482",
    }
    assert torch_probe.backend_devices(rocm, "rocm", 2) == 2
    xpu = _fake_torch(xpu="20250101", xpus=1)
    assert torch_probe.gpu_backend(xpu) == {"gpu_backend": "xpu", "gpu_backend_version": "20250101"}
    assert torch_probe.backend_devices(xpu, "xpu", 0) == 1
    mac = _fake_torch(mps_built=True, mps_available=True)
    assert torch_probe.gpu_backend(mac) == {"gpu_backend": "mps"}
    assert torch_probe.backend_devices(mac, "mps", 0) == 1
    assert torch_probe.backend_devices(_fake_torch(mps_built=True), "mps", 0) == 0
    assert torch_probe.gpu_backend(_fake_torch()) == {}  # a CUDA or CPU-only build


def test_the_real_cpu_build_has_no_other_gpu_backend():
    torch = pytest.importorskip("torch")
    if torch.version.cuda is None:  # this CI machine: the CPU wheel
        assert torch_probe.gpu_backend(torch) == {}


def test_the_backend_facts_reach_the_report():
    child = {
        "name": "torch",
        "status": "ok",
        "version": "2.9.1+rocm6.4",
        "gpu_backend": "rocm",
        "gpu_backend_version": "6.4.43482",
        "gpu_backend_devices": 1,
    }
    info = probe_framework(ProbeContext(run=FakeRun(child)), "torch")
    assert (info.gpu_backend, info.gpu_backend_version, info.gpu_backend_devices) == (
        "rocm",
        "6.4.43482",
        1,
    )


def test_tensorflow_probe_names_a_rocm_build_and_the_metal_plugin():
    # a tensorflow-rocm or a Mac's Metal GPU read "CPU-only build" beside the GPUs it listed
    rocm = {"is_rocm_build": True, "is_cuda_build": False}
    assert tf_probe.gpu_backend(rocm, None, "linux") == {"gpu_backend": "rocm"}
    assert tf_probe.gpu_backend(rocm, 2, "linux") == {
        "gpu_backend": "rocm",
        "gpu_backend_devices": 2,
    }
    mac = {"is_cuda_build": False}
    assert tf_probe.gpu_backend(mac, 1, "darwin") == {
        "gpu_backend": "metal",
        "gpu_backend_devices": 1,
    }
    assert tf_probe.gpu_backend(mac, 0, "darwin") == {}  # no plugin: the CPU
    assert tf_probe.gpu_backend({"is_cuda_build": True}, 1, "linux") == {}
