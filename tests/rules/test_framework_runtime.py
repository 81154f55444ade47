"""Framework runtime rules: import, timeouts, GPU use, library loading, smoke tests, cuDNN."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from gpudoctor.model.findings import Severity
from gpudoctor.model.report import (
    FrameworkDevice,
    FrameworkInfo,
    LibraryInfo,
    PythonInfo,
    Unavailable,
)
from gpudoctor.probe.child import hung_message
from gpudoctor.rules.registry import REGISTRY
from gpudoctor.userfiles.read import load_report
from tests.rules.builders import (
    broken_nvml,
    diagnose,
    findings,
    h100,
    healthy,
    no_gpu_machine,
    with_cuda,
    with_env,
    with_framework,
    with_gpu,
    with_host,
    with_nvml,
    without_framework,
)

REPORTS = Path(__file__).resolve().parents[1] / "data" / "reports"


def test_healthy_frameworks_have_no_finding():
    for prefix in ("GD-TORCH", "GD-TF"):
        for n in (1, 2, 3, 8, 9, 10, 11, 12):
            assert findings(healthy(), f"{prefix}-{n:03d}") == [], (prefix, n)


def test_not_installed_and_not_probed_are_information():
    report = with_framework(healthy(), "tensorflow", status="not_installed", version=None)
    (found,) = findings(report, "GD-TF-001")
    assert found.severity == Severity.INFO and found.title == "TensorFlow is not installed"
    (absent,) = findings(without_framework(healthy(), "torch"), "GD-TORCH-001")
    assert absent.title == "PyTorch was not checked"


@pytest.mark.parametrize(
    ("name", "rule", "line"),
    [
        ("torch", "GD-TORCH-001", "$ python3 -m pip install torch"),
        ("tensorflow", "GD-TF-001", "$ python3 -m pip install tensorflow"),
    ],
)
def test_a_framework_missing_on_a_mac_is_installed_with_pip_not_make_env(name, rule, line):
    # the fix was `gpudoctor make-env --framework torch`, which refuses a Mac
    from tests.rules.builders import mac

    report = replace(mac(), frameworks=(FrameworkInfo(name=name, status="not_installed"),))
    (found,) = findings(report, rule)
    (step,) = found.fix
    assert step.startswith(line) and "make-env" not in step


def test_a_failed_smoke_test_on_an_amd_gpu_sends_to_rocm_not_nvidia_smi():
    # "$ nvidia-smi -q -d ECC,PERFORMANCE" was the fix for a ROCm build's AMD GPU
    from tests.rules.builders import rocm_machine

    gpu = FrameworkDevice(
        index=0,
        name="AMD Radeon RX 7900 XTX",
        compute_capability="11.0",
        smoke_ok=False,
        smoke_error="HIP error: invalid device function",
    )
    report = with_framework(rocm_machine(), "torch", devices=(gpu,))
    (found,) = findings(report, "GD-TORCH-010")
    assert "$ rocminfo" in found.fix
    assert not any("nvidia-smi" in step for step in found.fix)


def test_an_import_error_shows_the_loaders_words():
    message = "libcudnn.so.9: cannot open shared object file: No such file or directory"
    report = with_framework(healthy(), "torch", status="import_error", message=message)
    (found,) = findings(report, "GD-TORCH-002")
    assert message in found.evidence[0]
    assert any("libcudnn.so.9 is missing" in step for step in found.fix)


def test_an_undefined_symbol_points_at_ld_library_path():
    report = with_env(healthy(), LD_LIBRARY_PATH="/usr/local/cuda/lib64")
    report = with_framework(
        report, "torch", status="crashed", message="undefined symbol: cusparseX"
    )
    (found,) = findings(report, "GD-TORCH-002")
    assert "crashes" in found.title
    assert found.fix[0].startswith("$ unset LD_LIBRARY_PATH")


TORCH_CHILD = "import torch (and a tiny GPU computation)"


def timed_out(report, seconds=1, *, abandoned=False):
    """The torch probe as it reads when its child ran out of time: nothing but the message."""
    # What the framework probe writes when its child runs out of time.
    message = hung_message(TORCH_CHILD, seconds, abandoned=abandoned)
    stopped = FrameworkInfo(
        name="torch", status="timeout", message=message, duration_s=float(seconds)
    )
    others = tuple(f for f in report.frameworks if f.name != "torch")
    return replace(report, frameworks=(stopped, *others))


def with_probe_seconds(report, **seconds):
    probes = tuple(
        replace(p, duration_s=seconds[p.name]) if p.name in seconds else p for p in report.probes
    )
    return replace(report, probes=probes)


def test_a_timeout_without_a_gpu_blames_the_import_not_a_driver():
    (found,) = findings(timed_out(no_gpu_machine(container="docker")), "GD-TORCH-003")
    assert found.severity == Severity.WARNING
    assert found.title == ("The PyTorch probe did not finish in time: the import was slow or stuck")
    text = " ".join((found.title, *found.evidence, *found.fix))
    assert "driver is probably hung" not in text and "Xid" not in text and "xid" not in text
    assert "reboot" not in text
    assert found.evidence[0] == "PyTorch probe: import torch did not finish within 1 s"
    assert "$ gpudoctor check --python /home/ada/venvs/dl/bin/python --timeout 300" in found.fix
    assert '$ time /home/ada/venvs/dl/bin/python -c "import torch"' in found.fix


def test_the_check_to_run_again_names_the_interpreter_the_report_inspected():
    report = with_host(
        no_gpu_machine(),
        python=PythonInfo(version="3.11.9", executable="/opt/my envs/py311/bin/python"),
    )
    (found,) = findings(timed_out(report), "GD-TORCH-003")
    again = "$ gpudoctor check --python '/opt/my envs/py311/bin/python' --timeout 300"
    assert again in found.fix
    windows = with_host(
        healthy(),
        os="windows",
        python=PythonInfo(version="3.12.3", executable="C:\\Program Files\\Python312\\python.exe"),
    )
    (found,) = findings(timed_out(windows), "GD-TORCH-003")
    again = '> gpudoctor check --python "C:\\Program Files\\Python312\\python.exe" --timeout 300'
    assert again in found.fix


def test_a_redacted_interpreter_is_not_pasted_into_the_command():
    report = with_host(
        no_gpu_machine(),
        python=PythonInfo(version="3.12.3", executable="/home/<user>/venvs/dl/bin/python"),
    )
    (found,) = findings(timed_out(report), "GD-TORCH-003")
    assert "Run the same gpudoctor check command again with --timeout 300." in found.fix
    assert not any("<user>" in step for step in found.fix)


def test_a_larger_limit_is_suggested_only_while_one_is_allowed():
    report = no_gpu_machine()
    assert "$ gpudoctor check --python /home/ada/venvs/dl/bin/python --timeout 600" in (
        findings(timed_out(report, 300), "GD-TORCH-003")[0].fix
    )
    (found,) = findings(timed_out(report, 600), "GD-TORCH-003")
    assert not any("--timeout" in step for step in found.fix)
    assert any(step.startswith("$ time ") for step in found.fix)


def test_a_timeout_with_a_gpu_but_a_healthy_driver_does_not_blame_the_driver():
    report = with_probe_seconds(timed_out(healthy(), 60), nvml=0.4, cuda=0.3)
    (found,) = findings(report, "GD-TORCH-003")
    assert found.severity == Severity.WARNING
    assert found.title == "The PyTorch probe did not finish in time"
    assert found.evidence == (
        "PyTorch probe: import torch (and a tiny GPU computation) did not finish within 60 s",
        "NVML answered in 0.4 s and cuInit succeeded in 0.3 s",
    )
    assert not any("xid" in step.lower() or "reboot" in step for step in found.fix)
    assert '$ time /home/ada/venvs/dl/bin/python -c "import torch; torch.zeros(1).cuda()"' in (
        found.fix
    )


def test_a_timeout_on_a_machine_with_a_lost_gpu_may_come_from_it():
    report = timed_out(load_report(REPORTS / "failure__one_gpu_lost.json"), 60)
    (found,) = findings(report, "GD-TORCH-003")
    assert found.severity == Severity.ERROR
    assert found.title == "The PyTorch probe timed out, and the report shows a GPU or driver fault"
    assert "GPU 1 is lost (GD-GPU-001): the timeout may come from it" in found.evidence
    assert "NVML answered in 0.1 s and cuInit succeeded in 0.1 s" in found.evidence
    assert not any("points at the driver" in e for e in found.evidence)
    assert "$ sudo dmesg | grep -i xid" in found.fix
    stuck = timed_out(load_report(REPORTS / "failure__one_gpu_lost.json"), 60, abandoned=True)
    (found,) = findings(stuck, "GD-TORCH-003")
    assert "the report also shows: GPU 1 is lost (GD-GPU-001)" in found.evidence


def test_a_driver_fault_the_report_shows_makes_the_timeout_an_error():
    nvml_broken = broken_nvml(timed_out(healthy(), 60), "unknown_error", "Unknown Error")
    (found,) = findings(nvml_broken, "GD-TORCH-003")
    assert found.severity == Severity.ERROR
    assert (
        "NVML failed to start: unknown_error (GD-NVML-007): the timeout may come from it"
        in found.evidence
    )
    uvm = with_cuda(
        timed_out(healthy(), 60), cu_init_result=999, cu_init_error="CUDA_ERROR_UNKNOWN"
    )
    (found,) = findings(uvm, "GD-TORCH-003")
    assert found.severity == Severity.ERROR
    assert any("CUDA_ERROR_UNKNOWN (GD-CUDA-002)" in e for e in found.evidence)
    # gpudoctor's own NVML child breaking is no driver fault
    probe_broke = with_nvml(
        timed_out(healthy(), 60),
        status="unknown_error",
        gpus=(),
        errors=(Unavailable(field="nvml", code="probe_failed", message="crashed"),),
    )
    assert findings(probe_broke, "GD-TORCH-003")[0].severity == Severity.WARNING


def test_on_windows_the_import_is_timed_with_powershell():
    report = timed_out(with_host(healthy(), os="windows"), 60)
    (found,) = findings(report, "GD-TORCH-003")
    assert '> Measure-Command { python -c "import torch" }' in found.fix


def test_slow_nvml_hints_at_the_driver_without_calling_it_wedged():
    report = with_probe_seconds(timed_out(healthy(), 60), nvml=14.0)
    (found,) = findings(report, "GD-TORCH-003")
    assert found.severity == Severity.WARNING
    assert found.title == "The PyTorch probe did not finish in time, and NVML was slow too"
    assert "NVML took 14.0 s to answer" in found.evidence[1]
    assert found.fix[0] == "$ sudo dmesg | grep -i xid"


def test_a_timeout_with_cuinit_or_nvml_timing_out_too_is_a_wedged_driver():
    cuda_hung = with_cuda(timed_out(healthy(), 30), status="timeout")
    (found,) = findings(cuda_hung, "GD-TORCH-003")
    assert found.severity == Severity.ERROR
    assert found.title == (
        "PyTorch timed out, and so did cuInit: the NVIDIA driver is probably wedged"
    )
    assert "cuInit timed out as well (GD-CUDA-006)" in found.evidence
    assert found.fix == ("$ sudo dmesg | grep -i xid", "$ sudo reboot")
    wedged = with_nvml(timed_out(healthy(), 30), status="timeout", gpus=())
    assert "wedged" in findings(wedged, "GD-TORCH-003")[0].title


def test_a_probe_that_could_not_be_killed_is_stuck_in_the_kernel():
    (found,) = findings(timed_out(healthy(), 30, abandoned=True), "GD-TORCH-003")
    assert found.severity == Severity.ERROR
    assert "stuck inside the kernel" in found.title and "may be wedged" in found.title
    assert "$ ps -eo pid,stat,wchan:32,cmd | awk '$2 ~ /^D/'" in found.fix
    (no_gpu,) = findings(timed_out(no_gpu_machine(), 30, abandoned=True), "GD-TORCH-003")
    assert "NVIDIA" not in no_gpu.title and "xid" not in " ".join(no_gpu.fix).lower()
    assert any("network file system" in e for e in no_gpu.evidence)


def test_the_timeout_evidence_never_repeats_the_probes_guess():
    for report in (
        timed_out(no_gpu_machine()),
        timed_out(healthy()),
        with_cuda(timed_out(healthy()), status="timeout"),
        timed_out(healthy(), abandoned=True),
    ):
        (found,) = findings(report, "GD-TORCH-003")
        assert not any("probably hung" in e or "reboot the machine" in e for e in found.evidence)


def test_an_unlicensed_vgpu_is_a_likely_cause():
    report = with_framework(healthy(), "torch", cuda_available=False)
    report = with_gpu(report, virtualization_mode="vgpu", vgpu_licensed=False)
    (found,) = findings(report, "GD-TORCH-008")
    assert (
        "likely cause: GPU 0 is a vGPU without a licence: CUDA is restricted (GD-GPU-016)"
        in found.evidence
    )
    assert found.fix == (
        "Fix the causes above (each has its own finding), then run gpudoctor check again.",
    )


def test_a_gpu_build_that_cannot_use_the_gpu_lists_the_causes():
    report = with_framework(
        healthy(), "torch", cuda_available=False, init_error="no CUDA GPUs are available"
    )
    report = with_env(report, CUDA_VISIBLE_DEVICES="")
    report = with_cuda(report, cu_init_result=100, cu_init_error="CUDA_ERROR_NO_DEVICE")
    (found,) = findings(report, "GD-TORCH-008")
    assert "PyTorch says: no CUDA GPUs are available" in found.evidence
    causes = [e for e in found.evidence if e.startswith("likely cause")]
    assert any("GD-HOST-001" in c for c in causes)
    assert any("CUDA_ERROR_NO_DEVICE" in c for c in causes)


def test_without_a_known_cause_the_fix_reproduces_the_error():
    report = with_framework(healthy(), "torch", cuda_available=False)
    (found,) = findings(report, "GD-TORCH-008")
    assert any("torch.cuda.init()" in step for step in found.fix)
    # it said "Fix the causes above" with no cause above
    assert not any("causes above" in step for step in found.fix)
    report = broken_nvml(report, "driver_not_loaded")
    assert any("NVML: driver_not_loaded" in e for e in findings(report, "GD-TORCH-008")[0].evidence)


def test_failed_libraries_are_named_once():
    failed = (
        LibraryInfo(
            name="cudnn",
            soname="libcudnn.so.9",
            error="libcudnn.so.9: cannot open shared object file",
        ),
    )
    report = with_framework(healthy(), "tensorflow", cuda_available=False, failed_libraries=failed)
    (found,) = findings(report, "GD-TF-009")
    assert found.title == "TensorFlow 2.20.0 could not load: libcudnn.so.9"
    assert found.evidence == ("libcudnn.so.9: cannot open shared object file",)
    # TensorFlow's loader logs "Could not load dynamic library '...'; dlerror: ..." (XLA's
    # tsl/platform/default/dso_loader.cc): a grep for "dlopen" alone keeps only the summary.
    (search,) = [line for line in found.fix if "TF_CPP_MAX_VLOG_LEVEL=3" in line]
    assert search.endswith("grep -iE 'dynamic library|dlopen'")
    assert findings(report, "GD-TF-008") == []  # the libraries are the cause


@pytest.mark.parametrize(
    ("version", "wanted"),
    [
        ("2.20.0", '$ pip install --force-reinstall "tensorflow[and-cuda]==2.20.0"'),
        # PyPI has no local labels: a pin with one finds nothing there
        ("2.15.0+nv24.3", '$ pip install --force-reinstall "tensorflow[and-cuda]==2.15.0"'),
    ],
)
def test_the_tensorflow_reinstall_pins_a_version_pypi_has(version, wanted):
    failed = (LibraryInfo(name="cudnn", soname="libcudnn.so.9", error="not found"),)
    report = with_framework(
        healthy(), "tensorflow", version=version, cuda_available=False, failed_libraries=failed
    )
    (found,) = findings(report, "GD-TF-009")
    assert found.fix[0] == wanted


def test_a_tensorflow_without_the_and_cuda_extra_is_not_told_to_install_it():
    # tensorflow 2.12.0 has no and-cuda extra: pip warns "does not provide the extra" and
    # installs no CUDA library, so the reinstall GD-TF-009 and GD-TF-002 gave did nothing
    failed = (LibraryInfo(name="cudnn", soname="libcudnn.so.8", error="not found"),)
    report = with_framework(
        healthy(), "tensorflow", version="2.12.0", cuda_available=False, failed_libraries=failed
    )
    (found,) = findings(report, "GD-TF-009")
    assert not any("pip install" in step for step in found.fix)
    assert found.fix[0].startswith("TensorFlow 2.12.0 has no [and-cuda] extra")
    assert "$ gpudoctor make-env" in found.fix[0]
    assert found.fix[0].endswith("--framework tensorflow --tensorflow 2.12.0")
    report = with_framework(healthy(), "tensorflow", version="2.12.0", status="import_error")
    report = with_framework(report, "tensorflow", message="ImportError: libfoo.so: bad ELF")
    (found,) = findings(report, "GD-TF-002")
    assert not any("pip install" in step for step in found.fix)


def test_a_failed_or_wrong_smoke_test():
    wrong = (
        FrameworkDevice(
            index=0, name="H100", compute_capability="9.0", smoke_ok=False, max_abs_diff=3.5
        ),
    )
    (found,) = findings(with_framework(healthy(), "torch", devices=wrong), "GD-TORCH-010")
    assert (
        "wrong results" in found.title
        and "largest difference from the CPU result: 3.5" in found.evidence
    )


def test_a_smoke_failure_on_an_uncovered_gpu_is_left_to_the_arch_rule():
    report = with_gpu(healthy(), compute_capability="6.1")
    dev = FrameworkDevice(
        index=0, compute_capability="6.1", smoke_ok=False, smoke_error="no kernel image"
    )
    report = with_framework(report, "torch", devices=(dev,))
    assert findings(report, "GD-TORCH-010") == []
    assert any(
        "confirmed on device 0: no kernel image" in e
        for e in findings(report, "GD-TORCH-006")[0].evidence
    )


def test_a_cudnn_older_than_the_build():
    old = with_framework(healthy(), "torch", cudnn_runtime="9.1.0")
    (found,) = findings(old, "GD-TORCH-011")
    assert found.evidence == ("PyTorch 2.9.1+cu128 built with cuDNN 9.10.2", "loaded cuDNN 9.1.0")
    assert (
        findings(with_framework(healthy(), "torch", cudnn_runtime="9.12.0"), "GD-TORCH-011") == []
    )
    assert findings(with_framework(healthy(), "torch", cudnn_runtime="8.9.7"), "GD-TORCH-011")
    major_only = with_framework(healthy(), "tensorflow", build_cudnn="9", cudnn_runtime="9.1.0")
    assert findings(major_only, "GD-TF-011") == []


def test_a_cudnn_older_than_the_build_is_fixed_with_a_pin_pip_can_match():
    # The wheels carry four numbers (8.7.0.84): `==8.7.0` matches none of them.
    old = with_framework(healthy(), "torch", cudnn_runtime="9.1.0")
    (found,) = findings(old, "GD-TORCH-011")
    assert (
        found.title
        == "PyTorch 2.9.1+cu128 loads cuDNN 9.1.0, older than the 9.10.2 it was built with"
    )
    assert found.fix[0].startswith("$ pip install 'nvidia-cudnn-cu12==9.10.2.21'")
    assert "GD-CUDA-011" in found.fix[1]
    unpinned = with_framework(
        healthy(),
        "torch",
        version="2.2.0+cu118",
        build_cuda="11.8",
        build_cudnn="8.7.0",
        cudnn_runtime="8.2.4",
        requires=(),
    )
    (found,) = findings(unpinned, "GD-TORCH-011")
    assert found.fix[0].startswith("$ pip install 'nvidia-cudnn-cu11==8.7.0.*'")
    # TensorFlow 2.10 was built with cuDNN 8.1: the oldest nvidia-cudnn-cu11 wheel on PyPI is
    # 8.5.0.96, so a pip pin cannot install; conda-forge's cudnn 8.1.0 (TF's own recipe) can.
    tf210 = with_framework(
        healthy(),
        "tensorflow",
        version="2.10.1",
        build_cuda="11.2",
        build_cudnn="8.1.0",
        cudnn_runtime="7.6.5",
        requires=(),
    )
    (found,) = findings(tf210, "GD-TF-011")
    assert "pip install" not in found.fix[0]
    assert "conda install -c conda-forge 'cudnn=8.1.0'" in found.fix[0]


def test_a_cudnn_of_a_newer_major_is_not_called_older():
    newer = with_framework(
        healthy(),
        "torch",
        version="2.2.0+cu118",
        build_cuda="11.8",
        build_cudnn="8.7.0",
        cudnn_runtime="9.10.2",
    )
    (found,) = findings(newer, "GD-TORCH-011")
    assert found.title == (
        "PyTorch 2.2.0+cu118 loads cuDNN 9.10.2, another major version than the 8.7.0 it was "
        "built with"
    )
    # the declared pin is cuDNN 9, not the 8.7.0 it was built with: not offered
    assert found.fix[0].startswith("$ pip install 'nvidia-cudnn-cu11==8.7.0.*'")


def test_a_framework_that_sees_fewer_gpus():
    two = with_nvml(healthy(), gpus=(h100(0), h100(1)))
    assert [f.severity for f in findings(two, "GD-TORCH-012")] == [Severity.WARNING]
    assert findings(with_env(two, CUDA_VISIBLE_DEVICES="1"), "GD-TORCH-012") == []


def test_a_cuda_build_on_a_machine_without_a_gpu_is_information():
    failed = (LibraryInfo(name="cuda", soname="libcuda.so.1", error="libcuda.so.1: not found"),)
    report = with_framework(
        no_gpu_machine(),
        "tensorflow",
        version="2.21.0",
        cuda_build=True,
        build_cuda="12.5.1",
        failed_libraries=failed,
    )
    (found,) = findings(report, "GD-TF-008")
    assert found.severity == Severity.INFO
    assert "runs on the CPU" in found.title
    assert findings(report, "GD-TF-009") == []
    torch = with_framework(no_gpu_machine(), "torch", cuda_build=True, build_cuda="12.8")
    assert [f.severity for f in findings(torch, "GD-TORCH-008")] == [Severity.INFO]


def test_numpy_missing_next_to_torch_says_verify_cannot_run():
    report = with_framework(no_gpu_machine(), "torch", numpy_error="not installed")
    (found,) = findings(report, "GD-TORCH-014")
    assert found.severity == Severity.WARNING
    assert "numpy is missing" in found.title and "gpudoctor verify" in found.title
    assert any("not installed" in line for line in found.evidence)
    (fix,) = found.fix
    assert fix.startswith("$ ") and fix.endswith("-m pip install numpy")
    assert "GD-TORCH-000" not in {f.id for f in diagnose(report).findings}


def test_a_numpy_that_fails_to_import_is_reinstalled():
    error = "import numpy failed: numpy.core.multiarray failed to import"
    report = with_framework(healthy(), "torch", numpy_error=error)
    (found,) = findings(report, "GD-TORCH-014")
    assert "fails to import" in found.title
    assert error in found.evidence[0]
    assert found.fix[0].endswith("-m pip install --force-reinstall numpy")


@pytest.mark.parametrize("version", ["2.2.2+cu121", "1.12.1+cu102"])
def test_numpy_for_a_torch_built_against_numpy_1_is_numpy_below_2(version):
    # `pip install numpy` takes numpy 2.x, and torch before 2.3 then fails to import it
    # (GD-TORCH-015): the fix installed what the next check reports as the next problem
    report = with_framework(healthy(), "torch", version=version, numpy_error="not installed")
    (found,) = findings(report, "GD-TORCH-014")
    assert found.fix[0].endswith("-m pip install 'numpy<2'"), found.fix
    assert any("built against numpy 1.x: numpy<2" in line for line in found.evidence)
    broken = with_framework(report, "torch", numpy_error="import numpy failed: x")
    (found,) = findings(broken, "GD-TORCH-014")
    assert found.fix[0].endswith("-m pip install --force-reinstall 'numpy<2'"), found.fix


def test_numpy_for_an_unreadable_torch_version_is_plain_numpy():
    report = with_framework(healthy(), "torch", version="weird", numpy_error="not installed")
    (found,) = findings(report, "GD-TORCH-014")
    assert found.fix[0].endswith("-m pip install numpy")


def test_numpy_present_or_not_recorded_is_no_finding():
    # an older report has neither field: unknown is not a problem
    for changes in ({}, {"numpy_version": "2.3.1"}):
        assert findings(with_framework(healthy(), "torch", **changes), "GD-TORCH-014") == []
    # a torch that does not import is GD-TORCH-002's business, not this rule's
    broken = with_framework(
        healthy(), "torch", status="import_error", numpy_error="not installed", message="x"
    )
    assert findings(broken, "GD-TORCH-014") == []


def test_a_torch_reinstall_names_the_index_its_local_label_comes_from():
    # It said `pip install --force-reinstall torch==2.9.1+cu128`: PyPI has no +cu128 build, so
    # pip finds no match; PyTorch's own index for that label has it.
    failed = with_framework(
        healthy(), "torch", status="import_error", message="import torch failed: something odd"
    )
    (found,) = findings(failed, "GD-TORCH-002")
    assert found.fix[-1] == (
        "$ pip install --force-reinstall torch==2.9.1 "
        "--index-url https://download.pytorch.org/whl/cu128"
    )
    cpu = with_framework(failed, "torch", version="2.13.0+cpu")
    assert findings(cpu, "GD-TORCH-002")[0].fix[-1].endswith("/whl/cpu")
    pypi = with_framework(failed, "torch", version="2.9.1")
    assert (
        findings(pypi, "GD-TORCH-002")[0].fix[-1] == "$ pip install --force-reinstall torch==2.9.1"
    )


@pytest.mark.parametrize(
    ("rule_id", "fw"), [("GD-TF-008", "TensorFlow"), ("GD-TORCH-008", "PyTorch")]
)
def test_the_gpu_use_rules_name_is_true_on_a_node_without_a_gpu(rule_id: str, fw: str) -> None:
    # fleet report's 'Means' column shows the catalogue title beside every node the finding is
    # on, information ones with no GPU too: it read 'TensorFlow is a GPU build but cannot use
    # the GPU' there. A machine with a GPU it cannot use still reads so in its own title.
    assert REGISTRY[rule_id].title == f"{fw} is a GPU build and finds no usable GPU"
    name = "tensorflow" if fw == "TensorFlow" else "torch"
    (found,) = findings(with_framework(healthy(), name, cuda_available=False), rule_id)
    assert found.severity == Severity.ERROR
    assert found.title == f"{fw} is a GPU build but cannot use the GPU"


@pytest.mark.parametrize(
    ("fw", "rule_id"), [("torch", "GD-TORCH-008"), ("tensorflow", "GD-TF-008")]
)
def test_a_cuda_build_on_a_machine_whose_every_gpu_is_excluded_says_so_as_a_warning(fw, rule_id):
    # Every GPU excluded with NVreg_ExcludedGpus: '... is a GPU build but cannot use the GPU',
    # an error whose fix was 'fix the causes above', beside GD-GPU-070's information and
    # GD-CUDA-004's warning that the admin excluded them
    from tests.rules.builders import every_gpu_excluded

    report = with_framework(every_gpu_excluded(), fw, cuda_available=False)
    (found,) = findings(report, rule_id)
    assert found.severity == Severity.WARNING
    assert found.title.endswith(
        "the admin excluded every GPU from the driver (NVreg_ExcludedGpus): it runs on the CPU here"
    )
    assert max(f.severity for f in diagnose(report).findings) == Severity.WARNING


def test_the_check_to_run_again_starts_gpudoctor_as_it_was_started():
    # run as `python -m gpudoctor` from a venv not on PATH, the timeout's fix said
    # '$ gpudoctor check --python ... --timeout 300': 'gpudoctor: command not found', while
    # every other fix's gpudoctor command (GD-HOST-007's, make-env's) started as it was started
    venv = "/home/ada/.venvs/gpudoctor/bin/python"
    report = with_host(no_gpu_machine(), gpudoctor_command=(venv, "-m", "gpudoctor"))
    (found,) = findings(timed_out(report), "GD-TORCH-003")
    again = f"$ {venv} -m gpudoctor check --python /home/ada/venvs/dl/bin/python --timeout 300"
    assert again in found.fix
