"""The planner's choices for the machines the issue names, and its refusals."""

from __future__ import annotations

import pytest

from gpudoctor.envplan.plan import Plan, Request, make_plan
from gpudoctor.envplan.target import Target, target_from_args
from gpudoctor.errors import BadInputError, PlanError
from gpudoctor.kb import KnowledgeBase, load


@pytest.fixture(scope="module")
def kb() -> KnowledgeBase:
    return load()


def plan(kb: KnowledgeBase, driver: str, cc: str, **kw: object) -> Plan:
    target_kw = {k: kw.pop(k) for k in ("os", "arch", "wsl") if k in kw}
    target = target_from_args(kb, driver=driver, cc=cc, **target_kw)  # type: ignore[arg-type]
    return make_plan(kb, target, Request(**kw))  # type: ignore[arg-type]


def only(p: Plan) -> tuple[str, str, str | None]:
    (fw,) = p.frameworks
    return fw.name, fw.variant, fw.driver_support


def test_pascal_on_r470_gets_cu118_via_minor_compat(kb: KnowledgeBase) -> None:
    p = plan(kb, "470.82.01", "6.1")
    assert only(p) == ("torch", "cu118", "minor_compat")
    assert p.frameworks[0].version == "2.7.1"  # newest release with cu118 (RELEASE.md)
    assert any("minor-version compatibility" in w for w in p.warnings)
    assert p.frameworks[0].gpu_coverage == "sass"


def test_r580_hopper_prefers_full_support_over_newer_cuda(kb: KnowledgeBase) -> None:
    # 2.14 has cu130 (580.65.06 runs it fully) and cu132 (only through MVC)
    p = plan(kb, "580.65.06", "9.0")
    assert only(p) == ("torch", "cu130", "full")


def test_blackwell_on_r570_needs_cu128(kb: KnowledgeBase) -> None:
    # cu126 lacks sm_120 and cu130/cu132 need R580, so the newest fit is 2.11 cu128
    p = plan(kb, "570.124.06", "12.0")
    assert only(p) == ("torch", "cu128", "full")
    assert p.frameworks[0].version == "2.11"
    assert p.frameworks[0].coverage_entry == "12.0"


def test_volta_on_r535(kb: KnowledgeBase) -> None:
    p = plan(kb, "535.104.05", "7.0")
    assert only(p) == ("torch", "cu126", "minor_compat")
    assert p.python == "3.14"  # PyPI has no cp315 wheel of 2.14 (RELEASE.md lists 3.15)


def test_tensorflow_blackwell_is_ptx_jit_with_warning(kb: KnowledgeBase) -> None:
    p = plan(kb, "570.124.06", "12.0", frameworks=("tensorflow",))
    fw = p.frameworks[0]
    assert (fw.version, fw.gpu_coverage, fw.coverage_entry) == ("2.21", "ptx_jit", "compute_90")
    assert any("only by PTX" in w for w in p.warnings)
    assert p.pip[0].spec == "tensorflow[and-cuda]==2.21.*"


def test_ptx_only_coverage_needs_a_driver_that_runs_the_builds_cuda_fully(
    kb: KnowledgeBase,
) -> None:
    # TensorFlow 2.18-2.21's only code for Hopper is compute_90 PTX from CUDA 12.5; driver
    # 550.54.15 (CUDA 12.4, Colab's) cannot JIT it: "Unsupported .version 8.5; current version
    # is '8.4'" (googlecolab/colabtools#5081), and minor-version compatibility does not cover
    # newer PTX (NVIDIA's CUDA compatibility guide). It was planned 2.21 through MVC.
    p = plan(kb, "550.54.15", "9.0", frameworks=("tensorflow",))
    fw = p.frameworks[0]
    assert (fw.version, fw.variant, fw.driver_support) == ("2.17", "cu123", "full")
    (note,) = [w for w in p.warnings if "newer driver unlocks" in w]
    assert ">= 555.42.02 (R555) gives TensorFlow 2.21" in note
    assert "PTX (compute_90) from CUDA 12.5" in note
    with pytest.raises(PlanError, match=r"needs driver >= 555\.42\.02 \(R555\)"):
        plan(kb, "550.54.15", "9.0", frameworks=("tensorflow",), tensorflow="2.21")
    # a GPU the build has SASS for runs 2.21 on the same driver through MVC
    assert plan(kb, "550.54.15", "8.0", frameworks=("tensorflow",)).frameworks[0].version == (
        "2.21"
    )


def test_tensorflow_conda_forge_has_sass_for_blackwell(kb: KnowledgeBase) -> None:
    p = plan(kb, "570.124.06", "12.0", frameworks=("tensorflow",), source="conda-forge")
    assert p.frameworks[0].gpu_coverage == "sass"
    specs = [pin.spec for pin in p.conda]
    assert "tensorflow=2.19.*=cuda128*" in specs
    assert "cuda-version=12.8" in specs
    assert p.pip == ()


def test_conda_forge_pins_cuda_version_at_or_below_driver(kb: KnowledgeBase) -> None:
    p = plan(kb, "580.65.06", "8.6", source="conda-forge")
    specs = [pin.spec for pin in p.conda]
    assert "pytorch=2.13.*=cuda130*" in specs and "cuda-version=13.0" in specs


def test_windows_tensorflow_gpu_ends_with_2_10(kb: KnowledgeBase) -> None:
    p = plan(kb, "560.94", "8.6", os="windows", frameworks=("tensorflow",))
    fw = p.frameworks[0]
    assert fw.version == "2.10" and fw.cuda == "11.2"
    assert "cudatoolkit=11.2" in [pin.spec for pin in p.conda]


def test_wsl_uses_windows_driver_table(kb: KnowledgeBase) -> None:
    # 528.33 is a Windows driver: the CUDA 12 floor there; on the Linux table it is below 530
    p = plan(kb, "528.33", "8.6", wsl=True)
    assert p.frameworks[0].cuda is not None and p.frameworks[0].cuda.startswith("12.")
    assert p.target.platform == "linux-64"


def test_python_request(kb: KnowledgeBase) -> None:
    p = plan(kb, "535.104.05", "8.0", python="3.9")
    assert p.python == "3.9" and p.frameworks[0].version == "2.8.0"
    with pytest.raises(PlanError, match="drop --python"):
        plan(kb, "535.104.05", "8.0", python="3.9", torch="2.9")


def test_version_request(kb: KnowledgeBase) -> None:
    p = plan(kb, "535.104.05", "8.0", torch="2.5.1")
    assert p.pip[0].spec == "torch==2.5.1"
    with pytest.raises(BadInputError, match="not in the knowledge base"):
        plan(kb, "535.104.05", "8.0", torch="9.9")


def test_cpu(kb: KnowledgeBase) -> None:
    p = plan(kb, "535.104.05", "8.0", cpu=True)
    assert p.frameworks[0].cuda is None
    assert p.pip_options == ("--index-url https://download.pytorch.org/whl/cpu",)
    target = target_from_args(kb, driver=None, cc=None, os="linux")
    p = make_plan(kb, target, Request())
    assert p.frameworks[0].cuda is None
    assert any("CPU-only" in w for w in p.warnings)


def test_nothing_fits_names_the_driver_upgrade(kb: KnowledgeBase) -> None:
    # cu118 (the newest CUDA 11 wheels) stops at 2.7, which stops at Python 3.13
    with pytest.raises(PlanError) as info:
        plan(kb, "470.82.01", "8.6", python="3.14")
    message = str(info.value)
    assert "upgrade the driver to >= 525.60.13 for CUDA 12" in message
    assert "\n" not in message


def test_nothing_fits_names_the_gpu_limit(kb: KnowledgeBase) -> None:
    # Kepler 3.5: only the cu102 wheels of 1.12 carry sm_35, and they stop at Python 3.10
    with pytest.raises(PlanError) as info:
        plan(kb, "470.82.01", "3.5", python="3.12")
    message = str(info.value)
    assert "this GPU (CC 3.5, Kepler) needs PyTorch <= 1.12 with cu102" in message
    assert "PyTorch 1.12.1 cu102 fits with Python 3.7-3.10 (drop --python)" in message


def test_jetson_is_refused_with_a_hint(kb: KnowledgeBase) -> None:
    with pytest.raises(PlanError, match="JetPack"):
        plan(kb, "540.4", "8.7", arch="aarch64")


def test_both_frameworks_refused_on_pip_with_two_envs(kb: KnowledgeBase) -> None:
    with pytest.raises(PlanError, match="make two environments") as info:
        plan(kb, "580.65.06", "9.0", frameworks=("torch", "tensorflow"))
    # PyTorch 2.15 cu130's cuDNN is not recorded: said so, not "cuDNN None"
    assert "None" not in str(info.value)
    assert "PyTorch 2.15 cu130 with cuDNN not recorded" in str(info.value)


def test_both_frameworks_cpu(kb: KnowledgeBase) -> None:
    p = plan(kb, "580.65.06", "9.0", frameworks=("torch", "tensorflow"), cpu=True)
    assert [fw.name for fw in p.frameworks] == ["torch", "tensorflow"]
    assert p.pip_options == ("--extra-index-url https://download.pytorch.org/whl/cpu",)
    assert p.python == "3.13"  # TF 2.21 tops out at 3.13


def test_driver_floors_are_quoted_as_nvidia_writes_them(kb: KnowledgeBase) -> None:
    # packaging normalises 450.80.02 to 450.80.2; the message must keep the real version.
    with pytest.raises(PlanError) as info:
        plan(kb, "440.33", "7.5", python="3.11")  # cu102 (1.12) stops at Python 3.10
    assert ">= 450.80.02 for CUDA 11" in str(info.value)


def test_gpu_without_driver_is_refused_unless_cpu(kb: KnowledgeBase) -> None:
    gpu = "PCI 0000:01:00.0, device 0x26b9, no driver bound"
    target = Target(driver=None, cc=None, origin="this machine", driverless_gpus=(gpu,))
    with pytest.raises(PlanError, match="install the driver first") as info:
        make_plan(kb, target, Request())
    assert str(info.value).startswith(f"this machine shows an NVIDIA GPU ({gpu})")
    assert make_plan(kb, target, Request(cpu=True)).frameworks[0].cuda is None
    no_gpu = Target(driver=None, cc=None, origin="this machine")
    assert make_plan(kb, no_gpu, Request()).frameworks[0].cuda is None


def test_a_driver_of_unknown_version_is_refused_unless_cpu(kb: KnowledgeBase) -> None:
    target = Target(
        driver=None,
        cc=None,
        os="windows",
        origin="report r.json",
        unread_driver=("CUDA counts 1 device",),
    )
    with pytest.raises(PlanError) as info:
        make_plan(kb, target, Request())
    message = str(info.value)
    assert message.startswith(
        "report r.json shows an NVIDIA GPU with a driver (CUDA counts 1 device), but the driver "
        "version could not be read"
    )
    assert "--driver VERSION --cc X.Y" in message and "--cpu" in message
    assert "install the driver first" not in message
    assert make_plan(kb, target, Request(cpu=True)).frameworks[0].cuda is None


@pytest.mark.parametrize("framework", ["torch", "tensorflow"])
def test_kepler_cc_3_0_on_r470_is_told_cpu_only(kb: KnowledgeBase, framework: str) -> None:
    # CUDA 11 dropped CC 3.0 and no recorded build has sm_30: it said only "no PyTorch build on
    # pip covers this GPU", as if another framework, channel or driver might
    with pytest.raises(PlanError) as err:
        plan(kb, "470.256.02", "3.0", frameworks=(framework,))
    message = str(err.value)
    assert (
        "no PyTorch or TensorFlow GPU build the knowledge base records has code for CC 3.0 "
        "(their arch lists start above it; CUDA 10.2 is the last CUDA that builds for CC 3.0)"
        ": of what it records, only a CPU-only environment fits this machine"
    ) in message
    assert plan(kb, "470.256.02", "3.0", cpu=True).frameworks[0].cuda is None


def test_kepler_cc_3_0_on_a_newer_branch_is_not_told_to_plan_for_r470(kb: KnowledgeBase) -> None:
    # it said "install the R470 legacy branch (a 470.x driver) and plan for it", a plan that
    # then fails: R470 runs the GPU, but nothing recorded builds for CC 3.0
    with pytest.raises(PlanError) as err:
        plan(kb, "535.104.05", "3.0")
    message = str(err.value)
    assert "and plan for it" not in message
    assert (
        "install the R470 legacy branch (a 470.x driver) to run the GPU, but no PyTorch or "
        "TensorFlow GPU build the knowledge base records has code for CC 3.0"
    ) in message
    assert "plan a CPU-only environment with --cpu" in message


@pytest.mark.parametrize(
    ("driver", "cc", "branch", "arch"),
    [
        ("590.48.01", "6.1", "580", "Pascal"),  # GTX 1080 on R590 (issue 11)
        ("535.104.05", "3.7", "470", "Kepler"),  # K80 on R535 (issue 11)
        ("590.48.01", "5.2", "580", "Maxwell"),
        ("595.45.04", "7.0", "580", "Volta"),
    ],
)
def test_a_driver_branch_after_the_gpus_last_is_refused(
    kb: KnowledgeBase, driver: str, cc: str, branch: str, arch: str
) -> None:
    with pytest.raises(PlanError) as err:
        plan(kb, driver, cc)
    message = str(err.value)
    assert f"R{branch} was the last branch for {arch} GPUs" in message
    assert f"install the R{branch} legacy branch" in message
    assert "no such machine exists" in message
    # --cpu asks for no GPU build, so the driver does not matter
    assert plan(kb, driver, cc, cpu=True).frameworks[0].cuda is None


@pytest.mark.parametrize(
    ("driver", "cc"), [("580.95.05", "6.1"), ("580.95.05", "7.0"), ("470.82.01", "3.7")]
)
def test_the_last_branch_itself_still_plans(kb: KnowledgeBase, driver: str, cc: str) -> None:
    assert plan(kb, driver, cc).frameworks[0].cuda


def test_a_reported_gpu_past_its_last_branch_is_only_warned_about(kb: KnowledgeBase) -> None:
    # NVML saw it on that driver: the data row would be wrong, so warn rather than refuse
    target = Target(driver="590.48.01", cc="6.1", origin="report node7.json")
    p = make_plan(kb, target, Request())
    assert any(
        "report node7.json shows CC 6.1 (Pascal) on driver 590.48.01" in w
        and "R580 was the last branch" in w
        for w in p.warnings
    ), p.warnings


def test_a_pip_torch_without_torchvision_gets_numpy_for_verify(kb: KnowledgeBase) -> None:
    # pip's torch does not depend on numpy; without torchvision nothing brings it, and
    # `gpudoctor verify` then fails every model (GD-TORCH-014)
    target = target_from_args(kb, driver=None, cc=None, os="linux")
    p = make_plan(kb, target, Request(cpu=True))
    specs = [pin.spec for pin in p.pip]
    if any(spec.startswith("torchvision") for spec in specs):
        pytest.skip("the knowledge base's newest CPU torch has a torchvision now")
    assert "numpy>=1.22" in specs
    # where torchvision is pinned it brings numpy: no extra pin
    older = make_plan(kb, target, Request(cpu=True, torch="2.9"))
    assert any(s.startswith("torchvision") for s in (pin.spec for pin in older.pip))
    assert not any(pin.spec.startswith("numpy") for pin in older.pip)


@pytest.mark.parametrize("version", ["2.13", "2.14"])
def test_no_python_3_15_for_torch_without_cp315_wheels(kb: KnowledgeBase, version: str) -> None:
    # RELEASE.md lists 3.15 for 2.13 and 2.14, PyPI has no cp315 wheel of them (issue 24);
    # the shipped data has CPython 3.15 released (2026-10-09)
    assert kb.newest_python("3.10", "3.15") == "3.15"
    for driver, cc in [("580.65.06", "9.0"), ("535.104.05", "8.0")]:
        p = plan(kb, driver, cc, torch=version)
        assert p.frameworks[0].version.startswith(version)
        assert p.python == "3.14", (driver, cc)
        with pytest.raises(PlanError, match="drop --python"):
            plan(kb, driver, cc, torch=version, python="3.15")
    # 2.15.0 has cp315 wheels: with 3.15 released it is chosen there
    assert plan(kb, "580.65.06", "9.0", torch="2.15").python == "3.15"


def test_tensorflow_2_14_and_cuda_stops_at_python_3_10(kb: KnowledgeBase) -> None:
    # tensorflow[and-cuda] 2.14.0/2.14.1 requires tensorrt==8.5.3.1, whose only wheels on PyPI
    # are cp36-cp310 (uv pip compile 'tensorflow[and-cuda]==2.14.*' --python-version 3.11:
    # "tensorrt==8.5.3.1 has no wheels with a matching Python ABI tag"); with Python 3.11 pip
    # cannot install the environment at all.
    p = plan(kb, "470.82.01", "6.1", frameworks=("tensorflow",))
    assert (p.frameworks[0].version, p.frameworks[0].variant) == ("2.14", "cu118")
    assert p.python == "3.10"
    # asked for 3.11, the R470 machine gets 2.13 (cudatoolkit from conda, no tensorrt)
    p = plan(kb, "470.82.01", "6.1", frameworks=("tensorflow",), python="3.11")
    assert (p.frameworks[0].version, p.python) == ("2.13", "3.11")


def test_tensorflow_with_conda_cuda_on_linux_says_to_set_ld_library_path(kb: KnowledgeBase) -> None:
    # TensorFlow 2.5-2.13 wheels do not look in the conda prefix for cudatoolkit/cudnn (nor in
    # the nvidia-cudnn-cu11 wheel): tensorflow/docs site/en/install/pip.md before commit
    # 7442d72c6 (2023-09-28), step "Configure the system paths"; without it TF runs on the CPU
    p = plan(kb, "470.82.01", "3.7", frameworks=("tensorflow",))
    assert p.frameworks[0].version == "2.13"
    (note,) = [w for w in p.warnings if "LD_LIBRARY_PATH" in w]
    assert "CUDNN_PATH" in note and "activate.d" in note
    p = plan(kb, "470.82.01", "6.1", frameworks=("tensorflow",), tensorflow="2.11")
    (note,) = [w for w in p.warnings if "LD_LIBRARY_PATH" in w]
    assert "CUDNN_PATH" not in note and "$CONDA_PREFIX/lib/" in note
    # conda puts Library\bin on PATH on Windows; the and-cuda wheels find their own libraries
    for p in (
        plan(kb, "560.94", "8.6", os="windows", frameworks=("tensorflow",)),
        plan(kb, "470.82.01", "6.1", frameworks=("tensorflow",)),
    ):
        assert not [w for w in p.warnings if "LD_LIBRARY_PATH" in w]


def test_kepler_gets_no_build_that_bundles_cudnn_9(kb: KnowledgeBase) -> None:
    # cuDNN 9 (torch 2.4+ cu118 bundles 9.1.0.70) supports CC 5.0 and later only (cuDNN 9.0.0
    # support matrix, CUDA 11.8 and 12.x); a K80 (CC 3.7) on R470 got torch 2.7.1 cu118, whose
    # own kernels include sm_37 but whose convolutions would fail in cuDNN
    p = plan(kb, "470.82.01", "3.7")
    fw = p.frameworks[0]
    assert (fw.version, fw.variant, fw.cudnn) == ("2.3.1", "cu118", "8.7.0.84")
    # Maxwell is in cuDNN 9's list: unchanged
    assert plan(kb, "470.82.01", "5.0").frameworks[0].version == "2.7.1"
    with pytest.raises(PlanError, match=r"cuDNN 9\.1\.0\.70, which supports CC 5\.0 and later"):
        plan(kb, "470.82.01", "3.7", torch="2.7")
    floor = kb.cudnn_floor("9.1.0.70")
    assert floor is not None and floor.lowest_cc == "5.0"
    assert kb.cudnn_floor("8.7.0.84") is None


@pytest.mark.parametrize(("driver", "cc"), [("535.104.05", "7.0"), ("580.95.05", "6.1")])
def test_pre_turing_gets_no_tensorflow_whose_pip_cudnn_dropped_it(
    kb: KnowledgeBase, driver: str, cc: str
) -> None:
    # tensorflow[and-cuda] 2.20/2.21 set only a cuDNN floor and pip installs the newest
    # (nvidia-cudnn-cu12 9.28.0.42, uv pip compile on 2026-12-07); cuDNN 9.11+ has no code for
    # GPUs before Turing (conda-forge/tensorflow-feedstock#457: segmentation faults). 2.19 pins
    # 9.3.0.75. Turing and later keep 2.21.
    p = plan(kb, driver, cc, frameworks=("tensorflow",))
    assert p.frameworks[0].version == "2.19"
    assert [pin.spec for pin in p.pip] == ["tensorflow[and-cuda]==2.19.*"]
    assert plan(kb, driver, "7.5", frameworks=("tensorflow",)).frameworks[0].version == "2.21"
    floor = kb.cudnn_floor("9.28.0.42")
    assert floor is not None and floor.lowest_cc == "7.5"


def test_tensorflow_wheels_that_float_are_judged_by_the_cuda_pip_installs(
    kb: KnowledgeBase,
) -> None:
    # tensorflow[and-cuda] 2.20/2.21 set floors (>=12.5), and pip resolves the newest CUDA 12
    # wheels (uv pip compile on 2026-12-07: nvidia-cuda-runtime-cu12 12.9.79): a driver of
    # R560 runs 12.5 fully but 12.9 only through minor-version compatibility, and full support
    # needs 575.51.03, not the 555.42.02 of CUDA 12.5
    p = plan(kb, "560.35.03", "8.6", frameworks=("tensorflow",))
    assert p.frameworks[0].version == "2.21"
    (note,) = [w for w in p.warnings if "minor-version compatibility" in w]
    assert "CUDA 12.9" in note and ">= 575.51.03" in note and "555.42.02" not in note
    assert p.frameworks[0].driver_support == "minor_compat"  # the JSON plan says the same
    assert any("runs CUDA 12.9 (the CUDA of the wheels pip installs" in r for r in p.reasons)
    # 2.19 pins its wheels to CUDA 12.5: judged by 12.5
    p = plan(kb, "560.35.03", "8.6", frameworks=("tensorflow",), tensorflow="2.19")
    assert not [w for w in p.warnings if "minor-version compatibility" in w]


def test_wsl1_is_a_cpu_plan_that_says_why(kb: KnowledgeBase) -> None:
    # WSL 1 has no GPU support: the plan read "no NVIDIA driver, linux-64 under WSL2", and
    # its warning "no NVIDIA driver on the target" sent the user to install one
    from gpudoctor.envplan.suggest import command_for

    target = Target(driver=None, cc=None, wsl1=True, origin="this machine")
    p = make_plan(kb, target, Request())
    assert "under WSL 1" in p.target_text and "WSL2" not in p.target_text
    assert not any("no NVIDIA driver" in w for w in p.warnings)
    (why,) = [w for w in p.warnings if w.startswith("WSL 1 has no GPU support")]
    assert "wsl --set-version DISTRO 2" in why
    assert "--wsl" not in command_for(target, Request())
    cpu = make_plan(kb, target, Request(cpu=True))
    assert not any("WSL 1" in w for w in cpu.warnings)


def test_a_container_that_shows_no_gpu_is_told_how_to_start_it_with_one(
    kb: KnowledgeBase,
) -> None:
    # a WSL2 docker container started without --gpus: check says Windows may have a GPU and to
    # restart it with --gpus all, while make-env's warning read "no NVIDIA driver on the
    # target", which sent the user to install one inside the container
    target = Target(driver=None, cc=None, wsl=True, container="docker", origin="report.json")
    p = make_plan(kb, target, Request())
    assert not any("no NVIDIA driver on the target" in w for w in p.warnings)
    (why,) = [w for w in p.warnings if w.startswith("no NVIDIA GPU is visible in this docker")]
    assert "if Windows has an NVIDIA GPU" in why and "docker run --gpus all ..." in why
    pod = make_plan(kb, Target(driver=None, cc=None, container="kubernetes"), Request())
    assert any("if the host has an NVIDIA GPU" in w and "nvidia.com/gpu" in w for w in pod.warnings)
    bare = make_plan(kb, Target(driver=None, cc=None), Request())
    assert "no NVIDIA driver on the target: this is a CPU-only environment" in bare.warnings


def test_a_driver_past_every_known_branch_is_told_what_is_not_known(kb: KnowledgeBase) -> None:
    # R620 (CUDA 13.5's branch) is newer than every [[branch]] row: the header's "CUDA 13.4 or
    # newer" was all it said, leaving open whether 13.5's floor was checked
    newest = max(b.branch for b in kb.branches)
    cuda = kb.cuda_versions()[-1]
    driver = f"{newest + 5}.70.06"
    p = plan(kb, driver, "9.0")
    assert (
        f"driver {driver} is of branch R{newest + 5}, newer than every branch the knowledge "
        f"base knows (R{newest}; knowledge base as of {kb.as_of}): it runs CUDA {cuda} at "
        f"least, and the knowledge base records no CUDA release after {cuda}"
    ) in " ".join(p.warnings)
    # a known branch, or a CPU-only plan, has nothing to say about it
    assert not any("newer than every branch" in w for w in plan(kb, "580.65.06", "9.0").warnings)
    assert not any(
        "newer than every branch" in w for w in plan(kb, driver, "9.0", cpu=True).warnings
    )
