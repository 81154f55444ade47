"""Import and init failures named by their message (issue 21, family 1): each cause from a public
thread, its recorded report, and the generic finding kept for a message nobody catalogued."""

from __future__ import annotations

from pathlib import Path

import pytest

from gpudoctor.model.findings import Severity
from gpudoctor.rules.registry import REGISTRY
from gpudoctor.userfiles.read import load_report
from tests.rules.builders import (
    diagnose,
    findings,
    healthy,
    with_framework,
    with_host,
)

RECORDED = Path(__file__).resolve().parents[1] / "data" / "reports"


def recorded(name: str):
    return load_report(RECORDED / f"failure__{name}.json")


def ids(report) -> set[str]:
    return {f.id for f in diagnose(report).findings}


# --- the recorded reports: each names its cause, none falls back to "fails to import" ---------


@pytest.mark.parametrize(
    ("name", "cause", "thread"),
    [
        (
            "torch_needs_newer_glibc",
            "GD-HOST-034",
            "https://github.com/KumaTea/pytorch-aarch64/issues/16",
        ),
        (
            "tensorflow_libstdcxx_in_conda_env",
            "GD-HOST-035",
            "https://github.com/tensorflow/tensorflow/issues/56562",
        ),
        (
            "tensorflow_cpu_without_avx",
            "GD-HOST-036",
            "https://github.com/tensorflow/tensorflow/issues/6896",
        ),
        (
            "tensorflow_under_numpy2",
            "GD-TF-015",
            "https://github.com/xaviermouy/FishSound_Finder/issues/3",
        ),
        (
            "torch_nccl_cu12_beside_cu13",
            "GD-TORCH-016",
            "https://github.com/pytorch/pytorch/issues/186591",
        ),
        (
            "torch_nccl_older_than_required",
            "GD-TORCH-016",
            "https://github.com/pytorch/pytorch/issues/119932",
        ),
        (
            "torch_wheel_for_other_page_size",
            "GD-TORCH-017",
            "https://github.com/pytorch/pytorch/issues/53597",
        ),
    ],
)
def test_each_recorded_failure_names_its_cause(name: str, cause: str, thread: str) -> None:
    report = recorded(name)
    found = findings(report, cause)
    assert found and found[0].severity == Severity.ERROR, (name, thread)
    generic = [f for f in diagnose(report).findings if f.id in {"GD-TORCH-002", "GD-TF-002"}]
    if cause.startswith("GD-HOST-"):
        # The cause is on the Host line: the framework's own line points at it, never [✓].
        (pointer,) = generic
        assert pointer.severity == Severity.ERROR
        assert f"the cause is {cause} on the Host line" in pointer.title
        assert pointer.fix == (
            f"Fix {cause} on the Host line first, then run gpudoctor check again.",
        )
    else:
        assert not generic, "the generic finding stays out"


@pytest.mark.parametrize(
    ("name", "area"),
    [
        ("torch_needs_newer_glibc", "torch"),
        ("tensorflow_libstdcxx_in_conda_env", "tensorflow"),
        ("tensorflow_cpu_without_avx", "tensorflow"),
    ],
)
def test_a_framework_that_cannot_import_is_never_fine_on_its_own_line(name: str, area: str) -> None:
    """It was `[✓] TensorFlow    crashed`: the cause's finding was on the Host line only."""
    diagnosis = diagnose(recorded(name))
    assert max(f.severity for f in diagnosis.in_area(area)) == Severity.ERROR


def test_mixed_cudnn_at_import_points_at_the_cuda_line() -> None:
    message = (
        "import torch failed: Could not load library libcudnn_cnn_train.so.8. Error: "
        "/usr/lib/x86_64-linux-gnu/libcudnn_cnn_train.so.8: undefined symbol: "
        "_ZN5cudnn3cnn34layerNormFwd_execute_internal_implERKNS_7backend11VariantPackEP11CUstream_st"
    )
    report = with_framework(healthy(), "torch", status="import_error", message=message)
    assert "GD-CUDA-033" in ids(report)
    (pointer,) = findings(report, "GD-TORCH-002")
    assert "GD-CUDA-033 on the CUDA line" in pointer.title


def test_glibc_compares_the_wanted_version_with_the_hosts() -> None:
    # KumaTea/pytorch-aarch64#16: "Ubuntu 18.04 ships with ver. 2.27 of GLIBC"
    (found,) = findings(recorded("torch_needs_newer_glibc"), "GD-HOST-034")
    assert found.title == "PyTorch needs glibc 2.28; this host has 2.27"
    assert "the build needs glibc 2.28; this host (Ubuntu 18.04.6 LTS) has 2.27" in found.evidence
    assert found.evidence[0].startswith(
        "PyTorch: import torch failed: /lib/x86_64-linux-gnu/libc.so.6: version `GLIBC_2.28' "
        "not found (required by "
    )
    assert found.fix[0].startswith("Run it on an OS (or in a container image) whose glibc is 2.28")


def test_glibc_not_older_on_the_host_says_another_libc_was_loaded() -> None:
    report = with_host(recorded("torch_needs_newer_glibc"), glibc="2.35")
    (found,) = findings(report, "GD-HOST-034")
    assert "not older than 2.28" in found.evidence[1]
    report = with_host(report, glibc=None)
    (found,) = findings(report, "GD-HOST-034")
    assert "the report does not record this host's glibc" in found.evidence


def test_libstdcxx_in_a_conda_env_gets_the_conda_fix() -> None:
    # atzberg/mango-selm#25: "Update the conda libraries ... conda install -c conda-forge gcc gxx"
    (found,) = findings(recorded("tensorflow_libstdcxx_in_conda_env"), "GD-HOST-035")
    assert "GLIBCXX_3.4.30" in found.title and "_pywrap_tensorflow_internal.so" in found.title
    assert found.fix == (
        "$ conda install -c conda-forge gcc gxx   # a newer libstdc++ in the environment",
    )


def test_libstdcxx_of_the_system_gets_both_ways() -> None:
    # vietanhdev/anylabeling#110: /lib/x86_64-linux-gnu/libstdc++.so.6 lacks GLIBCXX_3.4.29
    message = (
        "import torch failed: /lib/x86_64-linux-gnu/libstdc++.so.6: version `GLIBCXX_3.4.29' "
        "not found (required by /home/zk/conda/envs/x/lib/python3.8/site-packages/torch/lib/"
        "libtorch_cpu.so)"
    )
    report = with_framework(
        healthy(), "torch", status="import_error", message=message, version=None
    )
    (found,) = findings(report, "GD-HOST-035")
    assert "libstdc++.so.6 lacks" in found.title
    assert found.fix[0].startswith("In a conda environment: $ conda install -c conda-forge gcc gxx")


def test_a_cpu_without_avx_is_told_from_the_recorded_flags() -> None:
    (found,) = findings(recorded("tensorflow_cpu_without_avx"), "GD-HOST-036")
    assert found.title == "TensorFlow needs AVX, which this CPU lacks"
    assert "/proc/cpuinfo does not list avx (it lists: sse4_1 sse4_2)" in found.evidence
    assert "CPU: Intel(R) Xeon(R) CPU           E5620  @ 2.40GHz" in found.evidence


def test_a_report_without_cpu_flags_says_so() -> None:
    report = with_host(recorded("tensorflow_cpu_without_avx"), cpu_flags=None)
    (found,) = findings(report, "GD-HOST-036")
    assert any("does not record the CPU's flags" in line for line in found.evidence)


@pytest.mark.parametrize(
    "ended",
    [
        "was killed by SIGILL",
        "exited with status -4",  # as reports written before 2026-12-08 say it
    ],
)
def test_sigill_is_an_illegal_instruction(ended: str) -> None:
    # pytorch/pytorch#37577: SIGILL from libtorch_cpu.so at import on a CPU without AVX; the
    # probe sees the child die of signal 4
    message = f"the torch probe crashed: the probe process {ended}: no output"
    report = with_framework(healthy(), "torch", status="crashed", message=message, version=None)
    report = with_host(report, cpu_flags=("sse4_1", "sse4_2"))
    (found,) = findings(report, "GD-HOST-036")
    assert "illegal instruction" in found.title
    assert "the CPU lacks avx, avx2, fma" in found.evidence
    (pointer,) = findings(report, "GD-TORCH-002")  # PyTorch's line points at the Host line
    assert pointer.title == "PyTorch crashes on import: the cause is GD-HOST-036 on the Host line"


def test_numpy_2_under_a_numpy_1_build_names_the_numpy_version() -> None:
    (found,) = findings(recorded("tensorflow_under_numpy2"), "GD-TF-015")
    assert found.title == (
        "TensorFlow fails to import: a module built against NumPy 1.x cannot run with the "
        "installed NumPy 2.0.0"
    )
    assert found.fix[0].startswith("$ pip install 'numpy<2'")


def test_numpy_2_under_a_numpy_1_build_cites_the_frameworks_own_thread() -> None:
    # The banner's row cites a PyTorch thread and a TensorFlow one: each finding names its own.
    (tf,) = findings(recorded("tensorflow_under_numpy2"), "GD-TF-015")
    assert "from a public report: https://github.com/tensorflow/tensorflow/issues/102743" in (
        tf.evidence
    )
    (torch,) = findings(recorded("torch_2_2_under_numpy2"), "GD-TORCH-015")
    assert "from a public report: https://github.com/pytorch/pytorch/issues/135013" in (
        torch.evidence
    )
    rule = REGISTRY["GD-TF-015"]
    assert rule.sources[0].startswith("https://github.com/tensorflow/tensorflow/issues/")
    assert "https://github.com/pytorch/pytorch/issues/135013 (PyTorch)" in rule.sources


def test_the_recorded_torch_2_2_under_numpy_2_is_a_warning() -> None:
    # https://github.com/xai4space/meteors/issues/20: torch imports, NumPy's banner and
    # "Failed to initialize NumPy: _ARRAY_API not found"
    report = recorded("torch_2_2_under_numpy2")
    (found,) = findings(report, "GD-TORCH-015")
    assert found.severity == Severity.WARNING
    assert "numpy 2.0.0 is installed" in found.evidence
    assert found.title == (
        "PyTorch 2.2.2+cu121 cannot use NumPy: a module built against NumPy 1.x cannot run with "
        "the installed NumPy 2.0.0"
    )
    assert {f.severity for f in diagnose(report).findings} <= {
        Severity.WARNING,
        Severity.INFO,
        Severity.OK,
    }


def test_a_working_torch_that_warns_about_numpy_is_a_warning() -> None:
    # xai4space/meteors#20: torch imports, then warns "Failed to initialize NumPy: _ARRAY_API
    # not found"
    report = with_framework(
        healthy(),
        "torch",
        import_messages=(
            "UserWarning: Failed to initialize NumPy: _ARRAY_API not found (Triggered internally "
            "at ..\\torch\\csrc\\utils\\tensor_numpy.cpp:84.)",
        ),
    )
    (found,) = findings(report, "GD-TORCH-015")
    assert found.severity == Severity.WARNING
    assert found.title.startswith("PyTorch 2.9.1+cu128 cannot use NumPy")


def test_undefined_symbol_names_the_wheel_to_remove() -> None:
    # pytorch/pytorch#186591, ptrblck: "Uninstall the nvidia-nccl-cu12 package"
    (found,) = findings(recorded("torch_nccl_cu12_beside_cu13"), "GD-TORCH-016")
    assert found.title == (
        "PyTorch fails to import: libtorch_cuda.so needs ncclCommResume, which the loaded "
        "library lacks"
    )
    assert found.fix[0] == "$ pip uninstall -y nvidia-nccl-cu12   # PyTorch uses CUDA 13"
    assert "reinstall torch" not in " ".join(found.fix)


def test_undefined_symbol_names_the_version_required() -> None:
    # vllm-project/vllm#4195: "you installed pytorch 2.2, but has nvidia-nccl-cu12==2.18"
    (found,) = findings(recorded("torch_nccl_older_than_required"), "GD-TORCH-016")
    assert found.fix == ("$ pip install 'nvidia-nccl-cu12==2.19.3'   # what PyTorch requires",)
    assert "PyTorch requires nvidia-nccl-cu12==2.19.3; 2.18.1 is installed (GD-CUDA-032)" in (
        found.evidence
    )


def test_undefined_symbol_of_no_known_library_points_at_ld_library_path() -> None:
    message = (
        "import torch failed: /x/site-packages/torch/lib/libtorch_python.so: undefined symbol: "
        "_ZN5torch3jit17parseSchemaOrNameERKSs"
    )
    report = with_framework(healthy(), "torch", status="import_error", message=message)
    (found,) = findings(report, "GD-TORCH-016")
    assert found.fix[0].startswith("See which copy was loaded")  # the catalogue's own fix
    report = with_host(report, env={"LD_LIBRARY_PATH": "/usr/local/cuda/lib64"})
    (found,) = findings(report, "GD-TORCH-016")
    assert found.fix[0].startswith("$ unset LD_LIBRARY_PATH")


def test_a_wheel_built_for_smaller_pages_is_named() -> None:
    # pytorch/pytorch#53597; fixed by pytorch/builder#682 (64 KiB-aligned aarch64 wheels)
    message = (
        "import torch failed: /venv/lib64/python3.6/site-packages/torch/lib/"
        "libtorch_global_deps.so: ELF load command alignment not page-aligned"
    )
    report = with_framework(healthy(), "torch", status="import_error", message=message)
    report = with_host(report, arch="aarch64", kernel="4.18.0-240.el8.aarch64")
    (found,) = findings(report, "GD-TORCH-017")
    assert "libtorch_global_deps.so was built for a smaller memory page" in found.title
    assert "this machine: aarch64, kernel 4.18.0-240.el8.aarch64" in found.evidence
    assert "pytorch/builder#682" in found.fix[0]
    assert found.fix[1] == "$ pip install --upgrade torch"


def test_no_catalogued_fix_puts_prose_into_its_command() -> None:
    """A fix step's command runs from its `$ ` to the end of the step: the terminal keeps it
    whole to be pasted. It read `($ pip install --upgrade torch): PyTorch's builds ...`."""
    from gpudoctor import kb

    for row in kb.load().message_patterns:
        for step in row.fix:
            at = step.find("$ ")
            command = step[at:].split("   #")[0] if at >= 0 else ""
            assert command.count("(") >= command.count(")"), (row.id, step)


def test_an_unknown_message_keeps_the_generic_finding() -> None:
    message = "import torch failed: something nobody has catalogued"
    report = with_framework(healthy(), "torch", status="import_error", message=message)
    (generic,) = findings(report, "GD-TORCH-002")
    assert generic.evidence == (f"PyTorch 2.9.1+cu128: {message}",)
    specific = {"GD-HOST-034", "GD-HOST-035", "GD-HOST-036", "GD-TORCH-015", "GD-TORCH-016"}
    assert not (specific & ids(report))


def test_a_healthy_report_has_none_of_these() -> None:
    new = {
        "GD-HOST-034",
        "GD-HOST-035",
        "GD-HOST-036",
        "GD-TORCH-015",
        "GD-TORCH-016",
        "GD-TORCH-017",
        "GD-TF-015",
        "GD-TF-016",
        "GD-TF-017",
    }
    assert not (new & ids(healthy()))


def test_a_long_message_is_quoted_on_one_bounded_line() -> None:
    message = "import torch failed: _ARRAY_API not found\n" + "x" * 5000
    report = with_framework(healthy(), "torch", status="import_error", message=message)
    (found,) = findings(report, "GD-TORCH-015")
    assert "\n" not in found.evidence[0] and len(found.evidence[0]) < 400
