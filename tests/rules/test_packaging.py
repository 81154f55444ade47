"""Packaging conflicts inside one environment (issue 21, family 3): two CUDA majors of a library,
Requires-Dist the installed wheels do not meet, cuDNN files from two installs, a failing
convolution. Each from a public thread; the fix names the package to remove or install."""

from __future__ import annotations

from pathlib import Path

import pytest

from gpudoctor.model.findings import Severity
from gpudoctor.model.report import FrameworkDevice, PackageInfo
from gpudoctor.rules.packaging import cuda_major, split_majors, wheel_for_symbol
from gpudoctor.userfiles.read import load_report
from tests.rules.builders import (
    SITE,
    diagnose,
    findings,
    healthy,
    with_cuda,
    with_env,
    with_framework,
    with_host,
)

RECORDED = Path(__file__).resolve().parents[1] / "data" / "reports"


def recorded(name: str):
    return load_report(RECORDED / f"failure__{name}.json")


def wheels(*pairs: tuple[str, str]) -> tuple[PackageInfo, ...]:
    return tuple(PackageInfo(name=n, version=v) for n, v in pairs)


def test_symbols_and_wheel_names() -> None:
    assert wheel_for_symbol("ncclCommRegister") == "nvidia-nccl"
    assert wheel_for_symbol("__nvJitLinkComplete_12_4") == "nvidia-nvjitlink"
    assert wheel_for_symbol("cuptiActivityEnableDriverApi") == "nvidia-cuda-cupti"
    assert wheel_for_symbol("_ZN5torch3jit5parseE") is None
    assert cuda_major("nvidia-nccl-cu13") == "13"
    assert cuda_major("nvidia_cudnn_cu12") == "12"
    assert cuda_major("nvidia-cuda-runtime") is None


# --- GD-CUDA-031: two CUDA majors side by side -------------------------------------------------


def test_nccl_cu12_beside_cu13_names_the_one_to_remove() -> None:
    # https://github.com/pytorch/pytorch/issues/186591: "You are mixing ... nvidia-nccl-cu12==2.29.3
    # nvidia-nccl-cu13==2.29.7. Uninstall the nvidia-nccl-cu12 package"
    (found,) = findings(recorded("torch_nccl_cu12_beside_cu13"), "GD-CUDA-031")
    assert found.severity == Severity.ERROR
    assert found.title == (
        "nvidia-nccl-cu12 and nvidia-nccl-cu13 are both installed: two CUDA majors of one library"
    )
    assert found.evidence[:2] == (
        "nvidia-nccl-cu12 2.29.3 and nvidia-nccl-cu13 2.29.7 are both installed",
        "PyTorch uses CUDA 13",
    )
    assert found.fix == (
        "$ pip uninstall -y nvidia-nccl-cu12   # PyTorch uses CUDA 13",
        "$ pip install --force-reinstall --no-deps nvidia-nccl-cu13==2.29.7",
    )


def test_cudnn_cu11_beside_cu12_in_a_working_env_is_a_warning() -> None:
    # https://github.com/rwth-i6/returnn/issues/1802: "Similarly for most other Nvidia packages,
    # it had both cu11 and cu12"; here torch still imports
    report = with_cuda(
        healthy(),
        nvidia_wheels=wheels(("nvidia-cudnn-cu11", "8.7.0.84"), ("nvidia-cudnn-cu12", "9.10.2.21")),
    )
    (found,) = findings(report, "GD-CUDA-031")
    assert found.severity == Severity.WARNING
    # both frameworks of the healthy report use CUDA 12: the cu11 wheel goes
    assert found.fix[0].startswith("$ pip uninstall -y nvidia-cudnn-cu11   # PyTorch 2.9.1+cu128")


def test_frameworks_of_two_majors_cannot_share_the_env() -> None:
    report = with_cuda(
        healthy(),
        nvidia_wheels=wheels(("nvidia-nccl-cu12", "2.27.3"), ("nvidia-nccl-cu13", "2.27.7")),
    )
    report = with_framework(report, "tensorflow", build_cuda="13.0")
    (found,) = findings(report, "GD-CUDA-031")
    assert found.fix[-1] == "or keep the frameworks in separate environments"
    assert len(split_majors(report)) == 1


def test_one_major_per_library_is_fine() -> None:
    assert findings(healthy(), "GD-CUDA-031") == []


# --- GD-CUDA-032: Requires-Dist not met ------------------------------------------------------


def test_an_older_nccl_than_torch_requires() -> None:
    # https://github.com/pytorch/pytorch/issues/119932 and vllm-project/vllm#4195
    (found,) = findings(recorded("torch_nccl_older_than_required"), "GD-CUDA-032")
    assert found.severity == Severity.ERROR
    assert found.evidence[0] == "PyTorch requires nvidia-nccl-cu12==2.19.3; 2.18.1 is installed"
    assert found.fix == ("$ pip install 'nvidia-nccl-cu12==2.19.3'   # what PyTorch requires",)


def test_a_requirement_whose_marker_does_not_apply_is_skipped() -> None:
    report = with_cuda(healthy(), nvidia_wheels=wheels(("nvidia-nccl-cu12", "2.18.1")))
    reqs = (
        'nvidia-nccl-cu12==2.19.3; platform_system == "Linux" and platform_machine == "aarch64"',
    )
    assert findings(with_framework(report, "torch", requires=reqs), "GD-CUDA-032") == []
    reqs = (
        'nvidia-nccl-cu12==2.19.3; platform_system == "Linux" and platform_machine == "x86_64"',
    )
    (found,) = findings(with_framework(report, "torch", requires=reqs), "GD-CUDA-032")
    assert found.severity == Severity.WARNING  # torch still imports


def test_missing_wheels_and_cudnn_pins_are_left_alone() -> None:
    reqs = ('nvidia-nccl-cu12==2.19.3; platform_system == "Linux"',)
    assert findings(with_framework(healthy(), "torch", requires=reqs), "GD-CUDA-032") == []
    # cuDNN pins are GD-CUDA-008's
    report = with_cuda(healthy(), nvidia_wheels=wheels(("nvidia-cudnn-cu12", "9.1.0.70")))
    assert findings(report, "GD-CUDA-032") == []


def test_a_pin_packaging_cannot_compare_is_skipped() -> None:
    # packaging parses a specifier's version only when it compares: a saved report pinning
    # 12.<5,000 digits> made check --from-report and fleet report an internal error (exit 3)
    report = with_cuda(healthy(), nvidia_wheels=wheels(("nvidia-nccl-cu12", "2.18.1")))
    reqs = ("nvidia-nccl-cu12==2." + "9" * 5000, "nvidia-nccl-cu12>=2.19")
    (found,) = findings(with_framework(report, "torch", requires=reqs), "GD-CUDA-032")
    assert found.evidence == (
        "PyTorch 2.9.1+cu128 requires nvidia-nccl-cu12>=2.19; 2.18.1 is installed",
    )
    assert not any("99999" in line for line in found.evidence)


# --- GD-CUDA-033: cuDNN from two installs ---------------------------------------------------


def test_a_cudnn_engine_from_the_system_is_named() -> None:
    # https://github.com/pytorch/pytorch/issues/185512: "libcudnn_engines_tensor_ir.so.9 is
    # loaded from the host system", F.conv2d fails with CUDNN_STATUS_SUBLIBRARY_VERSION_MISMATCH
    report = recorded("torch_cudnn_engine_from_system")
    (found,) = findings(report, "GD-CUDA-033")
    assert found.severity == Severity.ERROR
    assert (
        "PyTorch 2.13.0+cu130 mapped cuDNN from /lib/x86_64-linux-gnu: "
        "libcudnn_engines_tensor_ir.so.9"
    ) in found.evidence
    assert found.fix[0].startswith(
        "$ dpkg -S /lib/x86_64-linux-gnu/libcudnn_engines_tensor_ir.so.9"
    )
    assert found.fix[-1] == "or upgrade the cuDNN wheel: $ pip install -U nvidia-cudnn-cu13"
    assert findings(report, "GD-TORCH-018") == []  # the mix is the cause, said once


@pytest.mark.parametrize(
    ("os_release", "command"),
    [
        ("Ubuntu 22.04.5 LTS", "$ dpkg -S"),
        ("Fedora Linux 44 (Workstation Edition)", "$ rpm -qf"),
        ("Rocky Linux 9.4 (Blue Onyx)", "$ rpm -qf"),
        ("Arch Linux", "$ dpkg -S"),  # unknown: both, in turn
    ],
)
def test_the_package_that_holds_the_foreign_cudnn_file_is_asked_of_this_distro(
    os_release: str, command: str
) -> None:
    # On Fedora and Rocky the fix's command was `dpkg -S`, which they do not have.
    report = with_host(recorded("torch_cudnn_engine_from_system"), os_release=os_release)
    (found,) = findings(report, "GD-CUDA-033")
    path = "/lib/x86_64-linux-gnu/libcudnn_engines_tensor_ir.so.9"
    assert found.fix[0].startswith(f"{command} {path}"), found.fix[0]
    rpm_too = os_release.startswith("Arch")
    assert (f"|| rpm -qf {path}" in found.fix[0]) is rpm_too
    assert ("dpkg" in found.fix[0]) is not os_release.startswith(("Fedora", "Rocky"))


def test_a_cudnn_folder_on_ld_library_path_is_dropped_from_it() -> None:
    # https://github.com/pytorch/pytorch/issues/119989: libcudnn_cnn_train.so.8 from
    # /usr/local/cuda-12.3/lib64; the workaround was unset LD_LIBRARY_PATH
    message = (
        "Could not load library libcudnn_cnn_train.so.8. Error: /usr/local/cuda-12.3/lib64/"
        "libcudnn_cnn_train.so.8: undefined symbol: _ZN5cudnn3cnn34layerNormFwd_execute_"
        "internal_implERKNS_7backend11VariantPackEP11CUstream_stRNS0_18LayerNormFwdParamsERKNS1_"
        "20NormForwardOperationEmb, version libcudnn_cnn_infer.so.8"
    )
    wheel = f"{SITE}/nvidia/cudnn/lib"
    report = with_env(healthy(), LD_LIBRARY_PATH="/usr/local/cuda-12.3/lib64:/opt/other")
    report = with_framework(
        report,
        "torch",
        devices=(FrameworkDevice(index=0, smoke_ok=True, conv_ok=False, conv_error=message),),
        loaded_libraries=(
            f"{wheel}/libcudnn.so.8",
            f"{wheel}/libcudnn_ops_infer.so.8",
            "/usr/local/cuda-12.3/lib64/libcudnn_cnn_train.so.8",
        ),
    )
    (found,) = findings(report, "GD-CUDA-033")
    assert found.fix[0] == "$ export LD_LIBRARY_PATH=/opt/other"
    assert (
        "$ unset LD_LIBRARY_PATH   # or drop the folder of /usr/local/cuda-12.3/lib64/"
        in (found.fix[1])
    )


def test_mixed_cudnn_that_still_runs_is_a_warning() -> None:
    wheel = f"{SITE}/nvidia/cudnn/lib"
    report = with_framework(
        healthy(),
        "torch",
        loaded_libraries=(f"{wheel}/libcudnn.so.9", "/usr/lib/x86_64-linux-gnu/libcudnn_adv.so.9"),
    )
    (found,) = findings(report, "GD-CUDA-033")
    assert found.severity == Severity.WARNING
    assert not any("files in one process" in line for line in found.evidence)


def test_cudnn_8_and_9_in_one_process_are_said_so() -> None:
    # https://github.com/pytorch/pytorch/issues/104808: "some CuDNN libraries were loaded from
    # 8.8 (fetch from pypi) and some from 8.9 (installed in /usr/local/cuda)"; here a system
    # cuDNN 8 beside the wheel's cuDNN 9
    wheel = f"{SITE}/nvidia/cudnn/lib"
    report = with_framework(
        healthy(),
        "torch",
        loaded_libraries=(
            f"{wheel}/libcudnn.so.9",
            "/usr/local/cuda/lib64/libcudnn_ops_infer.so.8",
        ),
        devices=(FrameworkDevice(index=0, smoke_ok=True, conv_ok=False, conv_error="segfault"),),
    )
    (found,) = findings(report, "GD-CUDA-033")
    assert found.severity == Severity.ERROR
    assert "cuDNN 8 and 9 files in one process" in found.evidence
    assert "GPU 0: segfault" in found.evidence


# --- GD-TORCH-018: the convolution ---------------------------------------------------------


def test_the_recorded_convolution_that_fails_in_one_cudnn() -> None:
    # https://github.com/pytorch/builder/pull/1847: a cuDNN 9 wheel without
    # libcudnn_engines_precompiled; F.conv2d: CUDNN_STATUS_NOT_INITIALIZED
    report = recorded("torch_conv_fails_cudnn_not_initialized")
    (found,) = findings(report, "GD-TORCH-018")
    assert found.severity == Severity.ERROR
    assert "CUDNN_STATUS_NOT_INITIALIZED" in found.evidence[1]
    assert findings(report, "GD-CUDA-033") == []  # one cuDNN install: nothing mixed
    assert findings(report, "GD-TORCH-010") == []  # the matmul worked


def test_a_failing_convolution_without_a_known_cause() -> None:
    report = with_framework(
        healthy(),
        "torch",
        devices=(
            FrameworkDevice(
                index=0,
                name="NVIDIA H100 80GB HBM3",
                smoke_ok=True,
                conv_ok=False,
                conv_error="cuDNN error: CUDNN_STATUS_NOT_INITIALIZED",
            ),
        ),
    )
    (found,) = findings(report, "GD-TORCH-018")
    assert found.title == ("PyTorch 2.9.1+cu128: a convolution fails on GPU 0 although cuDNN loads")
    assert "error: cuDNN error: CUDNN_STATUS_NOT_INITIALIZED" in found.evidence
    assert found.fix[0] == (
        "$ pip install --force-reinstall 'nvidia-cudnn-cu12==9.10.2.21'   # the cuDNN "
        "PyTorch 2.9.1+cu128 pins"
    )


def test_a_convolution_not_run_or_passed_is_silent() -> None:
    assert findings(healthy(), "GD-TORCH-018") == []
    report = with_framework(
        healthy(), "torch", devices=(FrameworkDevice(index=0, smoke_ok=True, conv_ok=True),)
    )
    assert findings(report, "GD-TORCH-018") == []
    # a GPU whose matmul failed too is GD-TORCH-010's
    report = with_framework(
        healthy(),
        "torch",
        devices=(FrameworkDevice(index=0, smoke_ok=False, smoke_error="x", conv_ok=False),),
    )
    assert findings(report, "GD-TORCH-018") == []
    assert "GD-TORCH-010" in {f.id for f in diagnose(report).findings}
