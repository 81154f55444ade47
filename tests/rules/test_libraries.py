"""Library rules: LD_LIBRARY_PATH shadowing pip's CUDA libraries, cuDNN pins that clash."""

from __future__ import annotations

import pytest

from gpudoctor.model.findings import Severity
from gpudoctor.model.report import FrameworkDevice, LibraryInfo, PackageInfo
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


@pytest.mark.parametrize(
    "pin", ["nvidia-cudnn-cu12==9." + "9" * 5000, "nvidia-cudnn-cu12>=9.1,<9." + "9" * 5000]
)
def test_a_cudnn_pin_packaging_cannot_compare_is_no_pin(pin):
    # packaging parses a pin's version only when it compares: a saved report's pin of 5,000
    # digits made check --from-report and fleet report an internal error (exit 3)
    # TensorFlow's pin is passed over; the installed cuDNN is the one PyTorch pins
    assert findings(with_cudnn("9.10.2.21", tf_pin=pin), "GD-CUDA-008") == []


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


# --- GD-CUDA-011: a cuDNN file that shadows the framework's own -------------------------------

OLD_CUDA = "/usr/local/cuda-11.2/lib64"
# The error torch 2.0.1+cu118 raises on a cuDNN 8.2.4 put first by LD_LIBRARY_PATH
# (torch/backends/cudnn/__init__.py, _init; quoted in many public reports).
TORCH_CUDNN_ERROR = (
    "cuDNN did not load: cuDNN version incompatibility: PyTorch was compiled  against (8, 7, 0) "
    "but found runtime version (8, 2, 4). PyTorch already comes bundled with cuDNN."
)


def torch_on_old_cudnn():
    report = with_env(healthy(), LD_LIBRARY_PATH=f"{OLD_CUDA}:/usr/local/nvidia/lib64")
    return with_framework(
        report,
        "torch",
        version="2.0.1+cu118",
        build_cuda="11.8",
        build_cudnn="8.7.0",
        cudnn_runtime="8.2.4",  # what the probe read from the file itself
        message=TORCH_CUDNN_ERROR,
        requires=('nvidia-cudnn-cu11==8.7.0.84; platform_system == "Linux"',),
        cudnn_library=LibraryInfo(
            name="cudnn",
            soname="libcudnn.so.8",
            path=f"{OLD_CUDA}/libcudnn.so.8",
            version="8.2.4",
            origin="ld_library_path",
        ),
    )


def test_a_cudnn_on_ld_library_path_is_named_with_its_variable():
    (found,) = findings(torch_on_old_cudnn(), "GD-CUDA-011")
    assert found.severity == Severity.ERROR
    assert found.title == f"PyTorch loads {OLD_CUDA}/libcudnn.so.8, which shadows its own cuDNN"
    assert found.evidence[0] == f"PyTorch loaded {OLD_CUDA}/libcudnn.so.8 (cuDNN 8.2.4)"
    assert "LD_LIBRARY_PATH=" in found.evidence[1]
    assert "built with cuDNN 8.7.0" in found.evidence[2]
    assert "compiled  against (8, 7, 0)" in found.evidence[3]
    assert found.fix[0] == "$ export LD_LIBRARY_PATH=/usr/local/nvidia/lib64"
    # the wheel the build pins, quoted (zsh stops at an unmatched glob in an unquoted one)
    assert found.fix[1].startswith("$ pip install 'nvidia-cudnn-cu11==8.7.0.84'")
    # and the framework's own finding sees the old runtime too
    assert findings(torch_on_old_cudnn(), "GD-TORCH-011") != []


def test_a_cudnn_a_loaded_module_put_first_names_the_module_to_unload():
    # a login node with `module load cuda/12.4`: the finding said `unset LD_LIBRARY_PATH`
    # (which drops every other module's folders too, until the next `module load` brings it
    # back) and never named the module, where GD-CUDA-007 says `module unload cuda/12.4`
    from dataclasses import replace

    from gpudoctor.model.report import LoadedModule, SiteInfo

    cuda = LoadedModule(
        name="cuda/11.2", file="/sw/modulefiles/cuda/11.2.lua", prefixes=("/usr/local/cuda-11.2",)
    )
    report = torch_on_old_cudnn()
    report = replace(report, site=replace(report.site or SiteInfo(), modules=(cuda,)))
    (found,) = findings(report, "GD-CUDA-011")
    assert found.title == (
        f"PyTorch loads {OLD_CUDA}/libcudnn.so.8 (module cuda/11.2), which shadows its own cuDNN"
    )
    assert (
        f"{OLD_CUDA}/libcudnn.so.8 comes from the loaded module cuda/11.2 "
        "(/sw/modulefiles/cuda/11.2.lua)"
    ) in found.evidence
    assert found.fix[0] == "$ module unload cuda/11.2"
    assert not any("LD_LIBRARY_PATH" in line for line in found.fix)


def test_tensorflow_on_a_system_cudnn_that_fails_its_convolution():
    smoke = "Loaded runtime CuDNN library: 8.1.0 but source was compiled with: 8.6.0."
    report = with_framework(
        healthy(),
        "tensorflow",
        version="2.12.0",
        build_cuda="11.8",
        build_cudnn="8",
        cudnn_runtime="8.1.0",
        devices=(FrameworkDevice(index=0, smoke_ok=False, smoke_error=smoke),),
        requires=(),
        cudnn_library=LibraryInfo(
            name="cudnn",
            path="/usr/lib/x86_64-linux-gnu/libcudnn.so.8",
            version="8.1.0",
            origin="system",
        ),
    )
    (found,) = findings(report, "GD-CUDA-011")
    assert found.severity == Severity.ERROR
    assert "system loader" in found.evidence[1]
    assert smoke in found.evidence
    assert found.fix[0].startswith("$ dpkg -S /usr/lib/x86_64-linux-gnu/libcudnn.so.8")


def test_a_fitting_shadow_is_a_warning_and_the_wheel_is_silent():
    fitting = with_framework(
        torch_on_old_cudnn(),
        "torch",
        build_cudnn="8.2.0",
        message="",
        cudnn_library=LibraryInfo(
            name="cudnn",
            path=f"{OLD_CUDA}/libcudnn.so.8",
            version="8.2.4",
            origin="ld_library_path",
        ),
    )
    assert [f.severity for f in findings(fitting, "GD-CUDA-011")] == [Severity.WARNING]
    own = LibraryInfo(
        name="cudnn", path="/env/site-packages/nvidia/cudnn/lib/libcudnn.so.9", origin="pip"
    )
    assert findings(with_framework(healthy(), "torch", cudnn_library=own), "GD-CUDA-011") == []
    assert findings(healthy(), "GD-CUDA-011") == []
