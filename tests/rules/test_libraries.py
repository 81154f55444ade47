"""Library rules: LD_LIBRARY_PATH shadowing pip's CUDA libraries, cuDNN pins that clash."""

from __future__ import annotations

from gpudoctor.model.findings import Severity
from gpudoctor.model.report import LibraryInfo, PackageInfo
from gpudoctor.rules.libraries import library_of
from tests.rules.builders import findings, healthy, with_cuda, with_env, with_framework

SYSTEM = "/usr/local/cuda-12.4/lib64"


def shadowed():
    report = with_env(healthy(), LD_LIBRARY_PATH=f"{SYSTEM}:/opt/other/lib")
    return with_cuda(
        report,
        libraries=(
            LibraryInfo(
                name="cusparse",
                soname="libcusparse.so.12",
                path=f"{SYSTEM}/libcusparse.so.12",
                origin="ld_library_path",
            ),
        ),
        nvidia_wheels=(
            *report.cuda.nvidia_wheels,
            PackageInfo(name="nvidia-cusparse-cu12", version="12.5.4.2"),
        ),
    )


def test_library_names_from_paths():
    assert library_of("/x/libcublasLt.so.12") == "cublaslt"
    assert library_of("/x/libnvJitLink.so.12") == "nvjitlink"
    assert library_of("C:/x/cudart64_12.dll") is None
    assert library_of("/x/libfoo.so") is None


def test_a_library_taken_from_ld_library_path_while_a_wheel_ships_it():
    (found,) = findings(shadowed(), "GD-CUDA-007")
    assert found.severity == Severity.WARNING
    assert "nvidia-cusparse-cu12 12.5.4.2" in found.evidence[0]
    assert found.fix == ("$ export LD_LIBRARY_PATH=/opt/other/lib",)


def test_an_undefined_symbol_at_import_makes_it_an_error():
    broken = with_framework(
        shadowed(),
        "torch",
        status="import_error",
        message="libcusparse.so.12: undefined symbol: __nvJitLinkComplete_12_4",
    )
    (found,) = findings(broken, "GD-CUDA-007")
    assert found.severity == Severity.ERROR
    assert any("undefined symbol" in e for e in found.evidence)


def test_a_framework_mapping_a_shadowing_library():
    report = with_env(healthy(), LD_LIBRARY_PATH=SYSTEM)
    report = with_framework(report, "torch", loaded_libraries=(f"{SYSTEM}/libcudnn.so.9",))
    (found,) = findings(report, "GD-CUDA-007")
    assert "PyTorch took /usr/local/cuda-12.4/lib64/libcudnn.so.9" in found.evidence[0]
    assert found.fix == ("$ unset LD_LIBRARY_PATH",)


def test_libraries_from_their_wheels_are_fine():
    report = with_env(healthy(), LD_LIBRARY_PATH=SYSTEM)
    assert findings(report, "GD-CUDA-007") == []


def with_cudnn(version: str, tf_pin: str = "nvidia-cudnn-cu12==9.3.0.75"):
    report = with_framework(healthy(), "tensorflow", requires=(tf_pin,))
    return with_cuda(
        report, nvidia_wheels=(PackageInfo(name="nvidia-cudnn-cu12", version=version),)
    )


def test_an_installed_cudnn_older_than_a_pin_is_an_error():
    (found,) = findings(with_cudnn("9.3.0.75"), "GD-CUDA-008")
    assert found.severity == Severity.ERROR
    assert found.title == "PyTorch and TensorFlow pin different cuDNN versions"
    assert "installed nvidia-cudnn-cu12 9.3.0.75 is older than PyTorch needs" in found.evidence
    assert any("--framework torch" in step for step in found.fix)


def test_a_newer_cudnn_than_an_exact_pin_is_a_warning():
    (found,) = findings(with_cudnn("9.10.2.21"), "GD-CUDA-008")
    assert found.severity == Severity.WARNING
    assert "installed nvidia-cudnn-cu12 9.10.2.21 is outside TensorFlow's pin" in found.evidence


def test_compatible_pins_suggest_the_shared_version():
    report = with_cudnn("9.3.0.75", tf_pin="nvidia-cudnn-cu12<10,>=9.3.0.75")
    (found,) = findings(report, "GD-CUDA-008")
    assert found.fix[0] == "$ pip install nvidia-cudnn-cu12==9.10.2.21"
    assert findings(healthy(), "GD-CUDA-008") == []


def test_two_cudnn_wheels_for_different_cuda_majors():
    report = with_framework(healthy(), "torch", requires=("nvidia-cudnn-cu13==9.13.0.50",))
    report = with_cuda(
        report,
        nvidia_wheels=(
            PackageInfo(name="nvidia-cudnn-cu12", version="9.10.2.21"),
            PackageInfo(name="nvidia-cudnn-cu13", version="9.13.0.50"),
        ),
    )
    (found,) = findings(report, "GD-CUDA-008")
    assert found.severity == Severity.WARNING
    assert any("libcudnn.so.9" in e for e in found.evidence)
