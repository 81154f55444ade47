"""Framework build rules: CPU-only builds, CUDA too new, arch lists, Python, native Windows."""

from __future__ import annotations

import pytest

from gpudoctor.model.findings import Severity
from gpudoctor.rules.catalogue import sorted_rules
from gpudoctor.rules.framework_build import api_level
from tests.rules.builders import (
    FakeKb,
    broken_nvml,
    findings,
    h100,
    healthy,
    severities,
    with_cuda,
    with_driver,
    with_framework,
    with_gpu,
    with_host,
    with_nvml,
)

FRAMEWORK_IDS = {"torch": "GD-TORCH", "tensorflow": "GD-TF"}


@pytest.mark.parametrize("name", ["torch", "tensorflow"])
def test_healthy_builds_have_no_finding(name):
    for n in (4, 5, 6, 7, 13):
        rule = f"{FRAMEWORK_IDS[name]}-{n:03d}"
        if rule != "GD-TORCH-013":
            assert findings(healthy(), rule) == [], rule


@pytest.mark.parametrize("name", ["torch", "tensorflow"])
def test_a_cpu_only_build_on_a_gpu_machine(name):
    report = with_framework(healthy(), name, cuda_build=False, version="2.9.1+cpu")
    (found,) = findings(report, f"{FRAMEWORK_IDS[name]}-004")
    assert found.severity == Severity.ERROR
    assert any("gpudoctor make-env" in step and f"--framework {name}" in step for step in found.fix)


def test_a_cpu_only_tensorflow_gets_and_cuda_only_where_the_extra_exists():
    report = with_framework(healthy(), "tensorflow", cuda_build=False, version="2.20.0")
    (found,) = findings(report, "GD-TF-004")
    assert found.fix[-1] == 'or, on Linux/WSL2: $ pip install "tensorflow[and-cuda]==2.20.0"'
    # tensorflow-cpu 2.12 has no and-cuda extra (2.14 added it): pip would only warn
    report = with_framework(healthy(), "tensorflow", cuda_build=False, version="2.12.0")
    (found,) = findings(report, "GD-TF-004")
    assert not any("and-cuda" in step for step in found.fix)
    assert found.fix[0].startswith("$ gpudoctor make-env")


def test_a_rocm_build_on_an_nvidia_machine_is_not_called_cpu_only():
    # it read "PyTorch 2.9.1+rocm6.4 is a CPU-only build on a machine with an NVIDIA GPU"
    report = with_framework(
        healthy(),
        "torch",
        cuda_build=False,
        build_cuda=None,
        version="2.9.1+rocm6.4",
        gpu_backend="rocm",
        gpu_backend_version="6.4.43482",
        gpu_backend_devices=0,
    )
    (found,) = findings(report, "GD-TORCH-004")
    assert found.severity == Severity.ERROR
    assert found.title == (
        "PyTorch 2.9.1+rocm6.4 is a ROCm build, for AMD GPUs, on a machine with an NVIDIA GPU"
    )
    assert "PyTorch 2.9.1+rocm6.4: built for ROCm (6.4.43482), without CUDA" in found.evidence
    assert any("gpudoctor make-env" in step for step in found.fix)


def test_a_cpu_only_build_without_a_gpu_is_fine():
    report = with_driver(broken_nvml(healthy(), "library_not_found"), pci_functions=())
    report = with_framework(report, "torch", cuda_build=False)
    assert findings(report, "GD-TORCH-004") == []


def test_a_cuda_13_build_on_an_r535_driver_cannot_run():
    report = with_nvml(healthy(), driver_version="535.104.05")
    report = with_framework(report, "torch", build_cuda="13.0", version="2.9.1+cu130")
    (found,) = findings(report, "GD-TORCH-005")
    assert found.severity == Severity.ERROR
    assert "driver 535.104.05 supports up to CUDA 12.2" in found.evidence
    assert any(e.startswith("CUDA 13.0 needs driver 580") for e in found.evidence)
    assert any("--driver 535.104.05" in step for step in found.fix)


def test_a_newer_minor_runs_through_minor_version_compatibility():
    report = with_nvml(healthy(), driver_version="560.35.03")
    (found,) = findings(report, "GD-TORCH-005")  # torch is built for 12.8; the driver's max is 12.6
    assert found.severity == Severity.WARNING
    assert "minor-version compatibility" in found.title


def _cuda_past_the_data(driver, api):
    """A build for a CUDA one minor past the knowledge base's newest, on ``driver`` whose own
    CUDA version (cuDriverGetVersion, nvidia-smi's) is ``api`` (None: not read)."""
    from gpudoctor.kb import load

    major, minor = load().cuda_versions()[-1].split(".")
    cuda = f"{major}.{int(minor) + 1}"
    report = with_nvml(healthy(), driver_version=driver, cuda_driver_version=api)
    report = with_cuda(report, driver_version=api)
    return cuda, with_framework(report, "torch", build_cuda=cuda, version="9.9.0")


def test_a_cuda_newer_than_the_data_is_judged_by_the_drivers_own_cuda_version():
    # CUDA 13.5 is not in the knowledge base (13.4 is its newest): only its major's MVC floor
    # is, so an R620 driver that runs 13.5 fully read "runs only through minor-version
    # compatibility" and "supports up to CUDA 13.4"
    from gpudoctor.kb import load

    newest = max(b.branch for b in load().branches)
    cuda, report = _cuda_past_the_data(f"{newest + 5}.70.06", None)
    assert findings(_cuda_past_the_data(f"{newest + 5}.70.06", cuda)[1], "GD-TORCH-005") == []
    (found,) = findings(report, "GD-TORCH-005")
    assert found.severity == Severity.WARNING
    assert found.title.endswith(
        "at least through minor-version compatibility (full support not known)"
    )
    assert any(
        e.endswith(
            "at least (its branch is newer than every one gpudoctor's knowledge base records)"
        )
        for e in found.evidence
    ), found.evidence
    assert any(
        e.startswith(f"CUDA {cuda} is not in gpudoctor's knowledge base") for e in found.evidence
    )
    assert found.fix[0].startswith(f"If nvidia-smi's 'CUDA Version' is below {cuda}")
    # the driver's own CUDA version below the build's: minor-version compatibility, said plainly
    known = load().cuda_versions()[-1]
    (older,) = findings(_cuda_past_the_data(f"{newest}.70.06", known)[1], "GD-TORCH-005")
    assert older.title.endswith("only through minor-version compatibility")


def test_the_kb_level_decides():
    assert severities(findings(healthy(), "GD-TORCH-005", FakeKb(support="none"))) == [
        Severity.ERROR
    ]
    assert findings(healthy(), "GD-TORCH-005", FakeKb(support="full")) == []


def test_without_a_driver_version_the_cuda_api_version_decides():
    report = with_driver(with_nvml(healthy(), driver_version=None), module_version=None)
    assert api_level(with_cuda(report, driver_version="12.4"), "12.8") == "minor_compat"
    assert api_level(with_cuda(report, driver_version="12.4"), "13.0") == "none"
    assert api_level(with_cuda(report, driver_version="13.1"), "12.8") == "full"
    report = with_cuda(report, driver_version="12.4")
    assert severities(
        findings(with_framework(report, "torch", build_cuda="13.0"), "GD-TORCH-005")
    ) == [Severity.ERROR]


def test_a_pascal_gpu_on_a_cu128_wheel_has_no_kernels():
    report = with_gpu(healthy(), name="NVIDIA GeForce GTX 1080 Ti", compute_capability="6.1")
    report = with_framework(report, "torch", devices=())
    (found,) = findings(report, "GD-TORCH-006")
    assert found.severity == Severity.ERROR
    assert "6.1 (sm_61)" in found.title
    assert any("--cc 6.1" in step for step in found.fix)


@pytest.mark.parametrize("name", ["torch", "tensorflow"])
def test_a_kepler_cc_3_0_is_told_no_build_has_code_for_it(name):
    # its fix was the make-env command, which answers that nothing fits (CUDA 11 dropped
    # CC 3.0 and no recorded build has sm_30): the finding now says so itself
    report = with_gpu(healthy(), name="NVIDIA GeForce GTX 680", compute_capability="3.0")
    report = with_framework(report, name, arch_list=("sm_37", "sm_50", "sm_60"), devices=())
    (found,) = findings(report, f"{FRAMEWORK_IDS[name]}-006")
    assert found.severity == Severity.ERROR
    assert found.fix == (
        "No PyTorch or TensorFlow GPU build gpudoctor's knowledge base records has code for "
        "compute capability 3.0 (CUDA 10.2 is the last CUDA that builds for it): on this GPU, "
        "train on the CPU (`gpudoctor make-env --cpu` plans that environment), or use a newer "
        "GPU.",
    )


def test_a_kepler_cc_3_7_keeps_the_make_env_command():
    # a K80 (3.7) has builds with sm_37 (PyTorch up to 2.3 cu118 with cuDNN 8): make-env finds one
    report = with_gpu(healthy(), name="Tesla K80", compute_capability="3.7")
    report = with_framework(report, "torch", devices=())
    (found,) = findings(report, "GD-TORCH-006")
    assert any("gpudoctor make-env" in step and "--cc 3.7" in step for step in found.fix)


def test_a_gpu_newer_than_the_build_runs_only_through_ptx():
    report = with_nvml(healthy(), gpus=(h100(name="NVIDIA B200", compute_capability="10.0"),))
    report = with_framework(report, "tensorflow", arch_list=("sm_80", "sm_89", "compute_90"))
    (found,) = findings(report, "GD-TF-006")
    assert found.severity == Severity.WARNING
    assert "only PTX compute_90 covers it: compiled at first use" in found.evidence


def test_jetson_runs_only_its_own_code():
    report = with_nvml(healthy(), gpus=(h100(name="Orin", compute_capability="8.7"),))
    report = with_framework(report, "torch", arch_list=("sm_80", "sm_86"), devices=())
    assert severities(findings(report, "GD-TORCH-006")) == [Severity.ERROR]


def test_an_empty_arch_list_is_not_judged():
    report = with_framework(healthy(), "torch", arch_list=())
    assert findings(report, "GD-TORCH-006") == []


def test_python_outside_the_supported_range():
    report = with_framework(healthy(), "torch", python_version="3.9.18")
    (found,) = findings(report, "GD-TORCH-007")
    assert (
        found.title == "Python 3.9 is outside PyTorch 2.9.1+cu128's supported range (3.10 to 3.14)"
    )
    assert findings(healthy(), "GD-TORCH-007") == []


def test_the_python_range_is_said_to_follow_the_published_wheels():
    # torch.toml follows PyPI's wheels where RELEASE.md lists more (2.13 and 2.14: 3.15 in
    # RELEASE.md, no cp315 wheel), so explain must not name RELEASE.md as the range's source
    (rule,) = [r for r in sorted_rules() if r.id == "GD-TORCH-007"]
    assert "PyPI" in rule.why and any("pypi.org" in source for source in rule.sources)


def test_unknown_releases_are_not_judged():
    report = with_framework(healthy(), "torch", version="9.0.0.dev20990101", python_version="3.5")
    assert findings(report, "GD-TORCH-007") == []


def test_tensorflow_after_2_10_on_native_windows():
    windows = with_host(healthy(), os="windows", os_release="Windows 11")
    report = with_framework(windows, "tensorflow", cuda_build=False)
    (found,) = findings(report, "GD-TF-013")
    assert any("WSL2" in step for step in found.fix)
    assert "> wsl --install" in found.fix  # a PowerShell step of its own, not inside prose
    assert findings(report, "GD-TF-004") == []  # the same cause, reported once
    assert findings(with_framework(windows, "tensorflow", version="2.10.1"), "GD-TF-013") == []


@pytest.mark.parametrize(
    ("python", "native"),
    [
        ("3.12.3", "in an environment with Python 3.10: $ gpudoctor make-env"),
        (
            "3.10.11",
            "$ conda install -c conda-forge cudatoolkit=11.2 cudnn=8.1.0 && pip install "
            '"tensorflow<2.11"',
        ),
    ],
)
def test_tensorflow_2_10_on_native_windows_is_offered_only_where_its_python_can_take_it(
    python, native
):
    # `pip install "tensorflow<2.11"` was the fix under Python 3.12, which 2.10 has no wheel for
    windows = with_host(healthy(), os="windows", os_release="Windows 11")
    report = with_framework(windows, "tensorflow", cuda_build=False, python_version=python)
    (found,) = findings(report, "GD-TF-013")
    (step,) = [s for s in found.fix if s.startswith("or TensorFlow 2.10")]
    assert native in step
    if python.startswith("3.12"):
        assert "no wheel for Python 3.12.3" in step and "--framework tensorflow" in step
