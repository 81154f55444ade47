"""Recorded reports of software-stack failures from public threads (issue 21, families 1 and 3).

Each is the H100 capture's healthy report with only what the cited thread shows changed: the
framework's own words (quoted), the installed wheels, the host's glibc or CPU. Built by
tests/probe/make_reports.py; tests/rules/test_import_errors.py and test_packaging.py check that
each names its cause.
"""

from __future__ import annotations

import dataclasses

from gpudoctor.model.report import (
    FrameworkInfo,
    NvmlInfo,
    PackageInfo,
    PythonInfo,
    Report,
)
from tests.probe.report_parts import (
    CU126_REQUIRES,
    CU126_WHEELS,
    SITE,
    TF_ABSENT,
    cuda_ok,
    driver_from,
    host_from,
    pip_lib,
    report,
    torch_ok,
)

CONDA = "/home/ada/miniconda3/envs/dl"
CONDA_SITE = f"{CONDA}/lib/python3.12/site-packages"


def _torch_import_error(message: str, **changes: object) -> FrameworkInfo:
    fw = FrameworkInfo(
        name="torch",
        status="import_error",
        message=f"import torch failed: {message}",
        python_version="3.12.3",
        duration_s=1.9,
    )
    return dataclasses.replace(fw, **changes)  # type: ignore[arg-type]


def software_reports(h100: dict, h100_nvml: NvmlInfo) -> dict[str, Report]:
    out: dict[str, Report] = {}
    host = host_from(h100)
    driver = driver_from(h100, h100_nvml)
    cuda = cuda_ok(h100, h100_nvml, 1)

    # https://github.com/KumaTea/pytorch-aarch64/issues/16: Ubuntu 18.04 (glibc 2.27) and a
    # torch wheel that needs GLIBC_2.28 (here the x86_64 host of the capture).
    out["failure__torch_needs_newer_glibc"] = report(
        dataclasses.replace(host, os_release="Ubuntu 18.04.6 LTS", glibc="2.27"),
        driver,
        h100_nvml,
        cuda,
        _torch_import_error(
            "/lib/x86_64-linux-gnu/libc.so.6: version `GLIBC_2.28' not found (required by "
            f"{SITE}/torch/lib/libtorch_python.so)",
            requires=CU126_REQUIRES,
        ),
        TF_ABSENT,
    )

    # https://github.com/tensorflow/tensorflow/issues/56562: a conda env whose own libstdc++ is
    # older than TensorFlow's build (the fix: https://github.com/atzberg/mango-selm/issues/25).
    conda_python = PythonInfo(
        version="3.12.3",
        executable=f"{CONDA}/bin/python",
        env_kind="conda",
        env_prefix=CONDA,
        env_name="dl",
    )
    out["failure__tensorflow_libstdcxx_in_conda_env"] = report(
        dataclasses.replace(host, python=conda_python),
        driver,
        h100_nvml,
        cuda,
        FrameworkInfo(name="torch", status="not_installed"),
        FrameworkInfo(
            name="tensorflow",
            status="import_error",
            message=(
                f"import tensorflow failed: {CONDA}/bin/../lib/libstdc++.so.6: version "
                "`GLIBCXX_3.4.30' not found (required by "
                f"{CONDA_SITE}/tensorflow/python/_pywrap_tensorflow_internal.so)"
            ),
            import_messages=(
                f"ImportError: {CONDA}/bin/../lib/libstdc++.so.6: version `GLIBCXX_3.4.30' not "
                f"found (required by {CONDA_SITE}/tensorflow/python/"
                "_pywrap_tensorflow_internal.so)",
                "ImportError: Failed to load the native TensorFlow runtime.",
            ),
            python_version="3.12.3",
            duration_s=2.2,
        ),
    )

    # https://github.com/tensorflow/tensorflow/issues/6896 (comment of 2018-12-07): an Intel
    # Xeon E5620 (Westmere: SSE4.2, no AVX); TensorFlow aborts in cpu_feature_guard.
    out["failure__tensorflow_cpu_without_avx"] = report(
        dataclasses.replace(
            host,
            cpu_model="Intel(R) Xeon(R) CPU           E5620  @ 2.40GHz",
            cpu_flags=("sse4_1", "sse4_2"),
        ),
        driver,
        h100_nvml,
        cuda,
        FrameworkInfo(name="torch", status="not_installed"),
        FrameworkInfo(
            name="tensorflow",
            status="crashed",
            message=(
                "the tensorflow probe crashed: the probe process was killed by SIGABRT: "
                "2026-11-28 12:00:00.000000: F tensorflow/core/platform/cpu_feature_guard.cc:37] "
                "The TensorFlow library was compiled to use AVX instructions, but these aren't "
                "available on your machine."
            ),
            duration_s=1.4,
        ),
    )

    # https://github.com/xaviermouy/FishSound_Finder/issues/3 and
    # https://github.com/CameronBodine/PINGMapper/issues/123: TensorFlow built against NumPy 1.x
    # (2.15.1 here: a release before 2.18, the first built against NumPy 2) under NumPy 2.0.0.
    out["failure__tensorflow_under_numpy2"] = report(
        host,
        driver,
        h100_nvml,
        cuda,
        FrameworkInfo(name="torch", status="not_installed"),
        FrameworkInfo(
            name="tensorflow",
            status="import_error",
            message="import tensorflow failed: numpy.core.umath failed to import",
            import_messages=(
                "AttributeError: _ARRAY_API not found",
                "ImportError: numpy.core._multiarray_umath failed to import",
                "ImportError: numpy.core.umath failed to import",
                "A module that was compiled using NumPy 1.x cannot be run in NumPy 2.0.0 as it "
                "may crash. To support both 1.x and 2.x versions of NumPy, modules must be "
                "compiled with NumPy 2.0. Some module may need to rebuild instead e.g. with "
                "'pybind11>=2.12'.",
                "If you are a user of the module, the easiest solution will be to downgrade to "
                "'numpy<2' or try to upgrade the affected module. We expect that some modules "
                "will need time to support NumPy 2.",
            ),
            python_version="3.11.9",
            duration_s=3.1,
        ),
    )

    # https://github.com/pytorch/pytorch/issues/186591: PyTorch for CUDA 13 with both
    # nvidia-nccl-cu12 2.29.3 and nvidia-nccl-cu13 2.29.7 installed; import torch fails on
    # ncclCommResume; the maintainer: uninstall nvidia-nccl-cu12.
    cu13_requires = (
        'nvidia-cudnn-cu13==9.20.0.48; platform_system == "Linux"',
        'nvidia-nccl-cu13==2.29.7; platform_system == "Linux"',
    )
    cu13_wheels = (
        PackageInfo(name="nvidia-cudnn-cu13", version="9.20.0.48"),
        PackageInfo(name="nvidia-nccl-cu12", version="2.29.3"),
        PackageInfo(name="nvidia-nccl-cu13", version="2.29.7"),
    )
    out["failure__torch_nccl_cu12_beside_cu13"] = report(
        host,
        driver,
        h100_nvml,
        dataclasses.replace(cuda, nvidia_wheels=cu13_wheels),
        _torch_import_error(
            f"{SITE}/torch/lib/libtorch_cuda.so: undefined symbol: ncclCommResume",
            import_messages=(
                f"ImportError: {SITE}/torch/lib/libtorch_cuda.so: undefined symbol: ncclCommResume",
            ),
            requires=cu13_requires,
        ),
        TF_ABSENT,
    )

    # https://github.com/pytorch/pytorch/issues/119932 and
    # https://github.com/vllm-project/vllm/issues/4195: PyTorch 2.2 requires
    # nvidia-nccl-cu12==2.19.3, another package left 2.18.1; import fails on ncclCommRegister.
    nccl_old = (*CU126_WHEELS, PackageInfo(name="nvidia-nccl-cu12", version="2.18.1"))
    out["failure__torch_nccl_older_than_required"] = report(
        host,
        driver,
        h100_nvml,
        dataclasses.replace(cuda, nvidia_wheels=nccl_old),
        _torch_import_error(
            f"{SITE}/torch/lib/libtorch_cuda.so: undefined symbol: ncclCommRegister",
            requires=(
                'nvidia-cudnn-cu12==8.9.2.26; platform_system == "Linux" and '
                'platform_machine == "x86_64"',
                'nvidia-nccl-cu12==2.19.3; platform_system == "Linux" and '
                'platform_machine == "x86_64"',
            ),
        ),
        TF_ABSENT,
    )

    # https://github.com/pytorch/pytorch/issues/185512 (and #188892): a CUDA 13 PyTorch whose
    # nvidia-cudnn-cu13 9.20.0.48 lacks libcudnn_engines_tensor_ir.so.9; the loader takes the
    # system's (libcudnn9-cuda-12); import works, F.conv2d fails.
    wheel_cudnn = [
        pip_lib("cudnn", name)
        for name in (
            "libcudnn.so.9",
            "libcudnn_graph.so.9",
            "libcudnn_engines_precompiled.so.9",
            "libcudnn_heuristic.so.9",
            "libcudnn_engines_runtime_compiled.so.9",
        )
    ]
    base = torch_ok(h100_nvml.gpus)
    torch_cu130 = dataclasses.replace(
        base,
        version="2.13.0+cu130",
        build_cuda="13.0",
        build_cudnn="9.20.0",
        cudnn_runtime="9.20.0",
        devices=tuple(
            dataclasses.replace(
                d, conv_ok=False, conv_error="CUDNN_STATUS_SUBLIBRARY_VERSION_MISMATCH"
            )
            for d in base.devices
        ),
        loaded_libraries=(
            *[p for p in base.loaded_libraries if "cudnn" not in p],
            *wheel_cudnn,
            "/lib/x86_64-linux-gnu/libcudnn_engines_tensor_ir.so.9",
        ),
        requires=cu13_requires,
    )
    out["failure__torch_cudnn_engine_from_system"] = report(
        host,
        driver,
        h100_nvml,
        dataclasses.replace(
            cuda,
            nvidia_wheels=(cu13_wheels[0], cu13_wheels[2]),  # the cu13 wheels only
        ),
        torch_cu130,
        TF_ABSENT,
    )
    # https://github.com/pytorch/pytorch/issues/53597: the torch 1.8.0 aarch64 wheel on CentOS 8
    # (64 KiB pages): "ELF load command alignment not page-aligned"; fixed by
    # https://github.com/pytorch/builder/pull/682. The capture's host, as an aarch64 CentOS 8.
    out["failure__torch_wheel_for_other_page_size"] = report(
        dataclasses.replace(
            host,
            os_release="CentOS Linux 8",
            kernel="4.18.0-240.el8.aarch64",
            arch="aarch64",
            glibc="2.28",
        ),
        driver,
        h100_nvml,
        cuda,
        _torch_import_error(
            f"{SITE}/torch/lib/libtorch_global_deps.so: ELF load command alignment not page-aligned"
        ),
        TF_ABSENT,
    )

    # https://github.com/xai4space/meteors/issues/20: torch 2.2 (built against NumPy 1.x)
    # imports under NumPy 2.0.0, prints NumPy's banner and warns "Failed to initialize NumPy:
    # _ARRAY_API not found"; torch itself works.
    cu121 = torch_ok(h100_nvml.gpus)
    out["failure__torch_2_2_under_numpy2"] = report(
        dataclasses.replace(host, python=dataclasses.replace(host.python, version="3.11.9")),
        driver,
        h100_nvml,
        dataclasses.replace(
            cuda,
            nvidia_wheels=tuple(
                PackageInfo(name=w.name, version="8.9.2.26") if w.name == "nvidia-cudnn-cu12" else w
                for w in CU126_WHEELS
            ),
        ),
        dataclasses.replace(
            cu121,
            version="2.2.2+cu121",
            build_cuda="12.1",
            build_cudnn="8.9.2",
            cudnn_runtime="8.9.2",
            loaded_libraries=tuple(
                p.replace("libcudnn.so.9", "libcudnn.so.8") for p in cu121.loaded_libraries
            ),
            requires=(
                'nvidia-cudnn-cu12==8.9.2.26; platform_system == "Linux" and '
                'platform_machine == "x86_64"',
            ),
            numpy_version="2.0.0",
            python_version="3.11.9",
            import_messages=(
                "A module that was compiled using NumPy 1.x cannot be run in NumPy 2.0.0 as it "
                "may crash. To support both 1.x and 2.x versions of NumPy, modules must be "
                "compiled with NumPy 2.0. Some module may need to rebuild instead e.g. with "
                "'pybind11>=2.12'.",
                "UserWarning: Failed to initialize NumPy: _ARRAY_API not found (Triggered "
                "internally at ../torch/csrc/utils/tensor_numpy.cpp:84.)",
            ),
        ),
        TF_ABSENT,
    )

    # https://github.com/pytorch/builder/pull/1847 (tinglvv's test of a cuDNN 9 wheel that lacked
    # libcudnn_engines_precompiled): the import works, the convolution fails with
    # CUDNN_STATUS_NOT_INITIALIZED; no second cuDNN is in the process.
    ok = torch_ok(h100_nvml.gpus)
    out["failure__torch_conv_fails_cudnn_not_initialized"] = report(
        host,
        driver,
        h100_nvml,
        cuda,
        dataclasses.replace(
            ok,
            devices=tuple(
                dataclasses.replace(
                    d,
                    conv_ok=False,
                    conv_error=(
                        "CUDNN_BACKEND_TENSOR_DESCRIPTOR cudnnFinalize failed cudnn_status: "
                        "CUDNN_STATUS_NOT_INITIALIZED"
                    ),
                )
                for d in ok.devices
            ),
        ),
        TF_ABSENT,
    )
    return out
