"""CUDA user-space probe: decoders, origins, and the real child on this machine."""

from __future__ import annotations

import pytest

from gpudoctor.probe.base import ProbeContext
from gpudoctor.probe.children import cuda_probe
from gpudoctor.probe.cuda import probe_cuda
from tests.probe.fakes import FakeRun


@pytest.mark.parametrize(
    ("value", "expected"),
    [(8902, "8.9.2"), (8600, "8.6.0"), (90100, "9.1.0"), (91002, "9.10.2"), (92000, "9.20.0")],
)
def test_decode_cudnn_8_and_9(value, expected):
    assert cuda_probe.decode_cudnn(value) == expected


def test_decode_cuda():
    assert cuda_probe.decode_cuda(12040) == "12.4"
    assert cuda_probe.decode_cuda(13000) == "13.0"


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/usr/lib/wsl/lib/libcuda.so.1", "wsl"),
        ("/home/a/venv/lib/python3.12/site-packages/nvidia/cudnn/lib/libcudnn.so.9", "pip"),
        ("/usr/lib/x86_64-linux-gnu/libcudart.so.12", "system"),
        (None, None),
    ],
)
def test_origin(path, expected):
    assert cuda_probe.origin(path) == expected


def test_origin_ld_library_path(tmp_path, monkeypatch):
    lib = tmp_path / "libcudart.so.12"
    lib.write_text("")
    monkeypatch.setenv("LD_LIBRARY_PATH", f"/nowhere:{tmp_path}")
    assert cuda_probe.origin(str(lib)) == "ld_library_path"


def test_origin_conda(tmp_path, monkeypatch):
    (tmp_path / "conda-meta").mkdir()
    (tmp_path / "lib").mkdir()
    lib = tmp_path / "lib" / "libcudnn.so.9"
    lib.write_text("")
    monkeypatch.setenv("CONDA_PREFIX", str(tmp_path))
    monkeypatch.delenv("LD_LIBRARY_PATH", raising=False)
    assert cuda_probe.origin(str(lib)) == "conda"


def test_nvidia_wheels_from_dist_info_names(tmp_path, monkeypatch):
    for entry in ("nvidia_cudnn_cu12-9.10.2.21.dist-info", "numpy-2.1.0.dist-info"):
        (tmp_path / entry).mkdir()
    monkeypatch.setattr(cuda_probe, "site_dirs", lambda: [str(tmp_path)])
    assert cuda_probe.nvidia_wheels() == [{"name": "nvidia-cudnn-cu12", "version": "9.10.2.21"}]


def test_sonames_a_wheel_ships_are_tried_before_newer_ones(tmp_path, monkeypatch):
    # A cu12 env on a machine with a system CUDA 13: the framework loads libcudart.so.12.
    (tmp_path / "nvidia/cuda_runtime/lib").mkdir(parents=True)
    (tmp_path / "nvidia/cuda_runtime/lib/libcudart.so.12").write_text("")
    monkeypatch.setattr(cuda_probe, "site_dirs", lambda: [str(tmp_path)])
    sonames = cuda_probe.SONAMES["cudart"]
    assert cuda_probe.by_wheels(sonames) == [
        "libcudart.so.12",
        "libcudart.so.13",
        "libcudart.so.11.0",
    ]
    assert cuda_probe.by_wheels(cuda_probe.SONAMES["cublas"]) == cuda_probe.SONAMES["cublas"]


def test_parsed_child_output():
    data = {
        "status": "ok",
        "libcuda_path": "/usr/lib/x86_64-linux-gnu/libcuda.so.590.48.01",
        "cu_init_result": 100,
        "cu_init_error": "CUDA_ERROR_NO_DEVICE",
        "driver_version": "13.1",
        "libraries": [{"name": "cudnn", "soname": "libcudnn.so.9", "version": "9.10.2"}],
        "nvidia_wheels": [{"name": "nvidia-cudnn-cu12", "version": "9.10.2.21"}],
    }
    info = probe_cuda(ProbeContext(run=FakeRun(data)))
    assert info.cu_init_error == "CUDA_ERROR_NO_DEVICE"
    assert info.libraries[0].version == "9.10.2"
    assert info.nvidia_wheels[0].name == "nvidia-cudnn-cu12"


def test_real_child_on_this_machine():
    info = probe_cuda(ProbeContext(timeout_s=30))
    assert info.status == "ok"
    assert {lib.name for lib in info.libraries} == set(cuda_probe.SONAMES)
    for lib in info.libraries:
        assert (lib.path is None) == (lib.error is not None), lib
    if info.libcuda_path is None:  # no driver: the loader's own words say why
        assert "libcuda" in (info.libcuda_error or "")
        assert info.cu_init_result is None
    else:
        assert info.cu_init_result is not None
