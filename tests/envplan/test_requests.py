"""What the user pins and what the machine is: exact versions, numpy, impossible targets,
conda-forge's limits and Jetson."""

from __future__ import annotations

from typing import Any

import pytest

from gpudoctor.envplan.plan import Plan, Request, make_plan
from gpudoctor.envplan.target import Target, target_from_args
from gpudoctor.errors import BadInputError, PlanError
from gpudoctor.kb import KnowledgeBase, load

R535 = ("535.104.05", "8.6")


@pytest.fixture(scope="module")
def kb() -> KnowledgeBase:
    return load()


def plan(kb: KnowledgeBase, driver: str, cc: str, **kw: object) -> Plan:
    target_kw = {k: kw.pop(k) for k in ("os", "arch", "wsl") if k in kw}
    target = target_from_args(kb, driver=driver, cc=cc, **target_kw)  # type: ignore[arg-type]
    return make_plan(kb, target, Request(**kw))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"torch": "2.9.7"}, "--torch 2.9.7: no such PyTorch release"),
        ({"torch": "2.14.5"}, "--torch 2.14.5: no such PyTorch release"),
        (
            {"tensorflow": "2.20.9", "frameworks": ("tensorflow",)},
            "--tensorflow 2.20.9: no such TensorFlow release",
        ),
        ({"tensorflow": "2.16.0", "frameworks": ("tensorflow",)}, "2.16.1, 2.16.2"),
        ({"torch": "2.13.1", "source": "conda-forge"}, "up to 2.13.0"),
    ],
)
def test_unpublished_exact_version_is_bad_input(
    kb: KnowledgeBase, kw: dict[str, Any], message: str
) -> None:
    with pytest.raises(BadInputError, match=message) as info:
        plan(kb, *R535, **kw)
    assert "\n" not in str(info.value)


def test_exact_version_is_what_the_plan_says(kb: KnowledgeBase) -> None:
    p = plan(kb, *R535, torch="2.9.0")
    assert p.pip[0].spec == "torch==2.9.0"
    assert p.frameworks[0].version == "2.9.0"
    reason = p.pip[0].reason
    assert reason.startswith("PyTorch 2.9.0 cu128: pinned by --torch 2.9.0;"), reason
    assert "2.9.1" not in " ".join(p.reasons) and "newest" not in reason


def test_series_request_says_pinned_too(kb: KnowledgeBase) -> None:
    p = plan(kb, *R535, tensorflow="2.20", frameworks=("tensorflow",))
    assert p.pip[0].spec == "tensorflow[and-cuda]==2.20.*"
    assert "pinned by --tensorflow 2.20" in p.pip[0].reason
    default = plan(kb, *R535)
    assert "newest PyTorch release with a build that fits" in default.pip[0].reason


def test_conda_forge_exact_pin(kb: KnowledgeBase) -> None:
    p = plan(kb, "580.65.06", "8.6", source="conda-forge", torch="2.13.0")
    assert "pytorch=2.13.0=cuda130*" in [pin.spec for pin in p.conda]
    assert "pinned by --torch 2.13.0" in " ".join(p.reasons)


def _numpy(p: Plan) -> list[str]:
    return [pin.spec for pin in p.pip if pin.spec.startswith("numpy")]


def test_old_tensorflow_gets_numpy_below_2(kb: KnowledgeBase) -> None:
    # TF 2.10 requires only numpy>=1.20: on Python 3.10 pip would install numpy 2
    p = plan(kb, *R535, tensorflow="2.10", frameworks=("tensorflow",))
    assert _numpy(p) == ["numpy<2"]
    (pin,) = [pin for pin in p.pip if pin.spec == "numpy<2"]
    assert "TensorFlow 2.10" in pin.reason and "numpy 1.x" in pin.reason
    assert any(r.startswith("numpy<2: ") for r in p.reasons)
    assert _numpy(plan(kb, *R535, frameworks=("tensorflow",))) == []


def test_old_torch_gets_numpy_below_2(kb: KnowledgeBase) -> None:
    p = plan(kb, *R535, torch="2.2")
    assert _numpy(p) == ["numpy<2"] and "unverified" in p.pip[-1].reason
    assert _numpy(plan(kb, *R535, torch="2.3")) == []
    assert _numpy(plan(kb, "560.94", "8.6", os="windows", torch="2.4.0")) == ["numpy<2"]
    assert _numpy(plan(kb, "560.94", "8.6", os="windows", torch="2.4")) == []  # 2.4.1


def test_numpy_pin_appears_once_for_two_frameworks(kb: KnowledgeBase) -> None:
    p = plan(
        kb, *R535, frameworks=("torch", "tensorflow"), torch="2.2", tensorflow="2.10", cpu=True
    )
    assert _numpy(p) == ["numpy<2"]
    reason = next(pin.reason for pin in p.pip if pin.spec == "numpy<2")
    assert "PyTorch 2.2.2" in reason and "TensorFlow 2.10" in reason


@pytest.mark.parametrize(
    ("driver", "cc", "floor"),
    [("560.35.03", "12.0", "570"), ("470.82.01", "12.0", "570"), ("515.65.01", "8.9", "520")],
)
def test_driver_older_than_the_gpu_is_refused(
    kb: KnowledgeBase, driver: str, cc: str, floor: str
) -> None:
    with pytest.raises(PlanError) as info:
        plan(kb, driver, cc)
    message = str(info.value)
    assert f"needs driver >= {floor}" in message and f"CC {cc}" in message
    assert "\n" not in message


def test_driver_at_the_gpu_floor_is_planned(kb: KnowledgeBase) -> None:
    assert plan(kb, "570.124.06", "12.0").frameworks[0].variant == "cu128"
    assert plan(kb, "560.35.03", "12.0", cpu=True).frameworks[0].cuda is None


def test_reported_machine_is_warned_not_refused(kb: KnowledgeBase) -> None:
    # NVML saw the GPU on this driver, so the (inferred) floor must be wrong: warn only
    target = Target(driver="565.57.01", cc="12.0", origin="report node7.json")
    p = make_plan(kb, target, Request())
    assert any("min_driver" in w and "may be wrong" in w for w in p.warnings)


def test_conda_forge_limit_is_named(kb: KnowledgeBase) -> None:
    with pytest.raises(BadInputError) as info:
        plan(kb, *R535, source="conda-forge", torch="2.9")
    message = str(info.value)
    assert "lists only conda-forge pytorch 2.13" in message and "--source pip" in message
    with pytest.raises(PlanError) as nofit:
        plan(kb, "470.82.01", "6.1", source="conda-forge")
    message = str(nofit.value)
    assert "lists only conda-forge pytorch 2.13" in message
    # older builds are missing from the data, and newer ones were not looked for after its date
    as_of = max(r.as_of for r in kb.releases("torch", "conda-forge"))
    assert f"not recorded, nor newer ones after {as_of})" in message
    assert "--source pip has PyTorch 2.7.1 cu118" in message
    assert message.endswith("or --cpu for a CPU-only environment")


def test_jetson_is_not_offered_the_sbsa_build(kb: KnowledgeBase) -> None:
    # conda-forge's CUDA 13 linux-aarch64 list names 8.7, but it is the server-ARM build
    with pytest.raises(PlanError) as info:
        plan(kb, "580.65.06", "8.7", arch="aarch64", source="conda-forge")
    assert "Tegra" in str(info.value)
    with pytest.raises(PlanError) as pip:
        plan(kb, "580.65.06", "8.7", arch="aarch64")
    assert "--source conda-forge" not in str(pip.value) and "JetPack" in str(pip.value)
    # a discrete GPU on server ARM still gets that build
    p = plan(kb, "580.65.06", "9.0", arch="aarch64", source="conda-forge")
    assert p.frameworks[0].variant == "cuda130"
