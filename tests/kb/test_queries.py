"""The driver, CUDA and framework queries, checked against facts from compatibility.md."""

from __future__ import annotations

import pytest

from gpudoctor.errors import BadInputError
from gpudoctor.kb import KnowledgeBase, load


@pytest.fixture(scope="module")
def kb() -> KnowledgeBase:
    return load()


@pytest.mark.parametrize(
    ("driver", "cuda", "os", "level"),
    [
        ("535.104.05", "12.2", "linux", "full"),
        ("535.104.05", "12.6", "linux", "minor_compat"),
        ("535.104.05", "13.0", "linux", "none"),
        ("525.60.13", "12.8", "linux", "minor_compat"),
        ("525.60.12", "12.0", "linux", "none"),
        ("470.82.01", "11.8", "linux", "minor_compat"),
        ("470.82.01", "11.4", "linux", "full"),
        ("470.82.01", "12.1", "linux", "none"),
        ("580.65.06", "13.0", "linux", "full"),
        ("580.65.06", "13.2", "linux", "minor_compat"),
        ("595.45.04", "13.2.1", "linux", "full"),
        ("595.45.04", "13.3", "linux", "minor_compat"),
        ("610.57.04", "13.3.1", "linux", "full"),
        ("560.94", "12.6", "windows", "full"),
        ("528.33", "12.6", "windows", "minor_compat"),
        ("528.24", "12.6", "windows", "minor_compat"),  # floor 527.41 (release notes Table 3)
        ("527.27", "12.6", "windows", "none"),
        ("450.36.06", "11.0", "linux", "none"),
        ("450.80.02", "11.8", "linux", "minor_compat"),
        ("450.51.05", "11.1", "linux", "none"),
        ("418.39", "10.1", "linux", "full"),
        ("418.39", "10.0", "linux", "full"),
    ],
)
def test_cuda_support(kb: KnowledgeBase, driver: str, cuda: str, os: str, level: str) -> None:
    assert kb.cuda_support(driver, cuda, os).level == level


def test_cuda_support_floors(kb: KnowledgeBase) -> None:
    support = kb.cuda_support("550.54.15", "12.6", "linux")
    assert support.full_min_driver == "560.28.03"
    assert support.mvc_min_driver == "525.60.13"
    assert "docs.nvidia.com" in support.source
    assert kb.cuda_support("700.1", "14.0", "linux").level == "none"


@pytest.mark.parametrize(
    ("driver", "os", "cuda"),
    [
        ("535.104.05", "linux", "12.2"),
        ("535.54.03", "linux", "12.2"),
        ("535.54.02", "linux", "12.1"),
        ("550.54.14", "linux", "12.4"),
        ("570.124.06", "linux", "12.8"),
        ("575.57.08", "linux", "12.9"),
        ("580.95.05", "linux", "13.0"),
        ("470.82.01", "linux", "11.4"),
        ("572.61", "windows", "12.8"),
        # real nvidia-smi captures (shared/captures): R610 reports "CUDA UMD version: 13.3"
        ("610.57.04", "linux", "13.3"),
        ("610.62", "windows", "13.3"),
        ("615.71.09", "linux", "13.4"),
        ("400.1", "linux", None),
    ],
)
def test_max_cuda_for_driver(kb: KnowledgeBase, driver: str, os: str, cuda: str | None) -> None:
    assert kb.max_cuda_for_driver(driver, os) == cuda


def test_branch_table_agrees_with_toolkit_table(kb: KnowledgeBase) -> None:
    # compatibility.md 1.3 lists the branches by hand; each branch's GA driver of its CUDA
    # must map back to that CUDA through the toolkit table
    for branch in kb.branches:
        floor = kb.cuda_support("999.0", branch.cuda, "linux").full_min_driver
        assert floor is not None and floor.startswith(str(branch.branch)), branch
        assert kb.max_cuda_for_driver(floor, "linux") == branch.cuda


def test_min_driver(kb: KnowledgeBase) -> None:
    assert kb.min_driver("12.6", "linux") == "525.60.13"
    assert kb.min_driver("12.6", "linux", minor_compat=False) == "560.28.03"
    assert kb.min_driver("13.0", "windows") == "580"
    assert kb.min_driver("10.2", "linux") == "440.33"


@pytest.mark.parametrize("bad", ["abc", "535", "5350.1.1.1", ""])
def test_bad_driver(kb: KnowledgeBase, bad: str) -> None:
    if bad == "535":
        assert kb.max_cuda_for_driver(bad, "linux") == "12.1"  # a bare branch is accepted
        return
    with pytest.raises(BadInputError):
        kb.max_cuda_for_driver(bad, "linux")


def test_bad_os(kb: KnowledgeBase) -> None:
    with pytest.raises(BadInputError, match="operating system"):
        kb.cuda_support("535.104.05", "12.2", "solaris")


def test_cuda_targets(kb: KnowledgeBase) -> None:
    assert kb.cuda_targets("12.6").lowest_cc == "5.0"  # type: ignore[union-attr]
    assert kb.cuda_targets("13.0").lowest_cc == "7.5"  # type: ignore[union-attr]
    assert kb.cuda_targets("11.8").highest_cc == "9.0"  # type: ignore[union-attr]
    assert kb.cuda_targets("13.4").lowest_cc == "7.5"  # type: ignore[union-attr]
    assert kb.cuda_targets("9.0") is None


def test_torch_release(kb: KnowledgeBase) -> None:
    release = kb.torch_release("2.9.1")
    assert release is not None
    assert (release.python_min, release.python_max) == ("3.10", "3.14")
    cu126 = release.variant("cu126")
    assert cu126 is not None and cu126.cuda == "12.6" and cu126.cudnn == "9.10.2.21"
    assert cu126.index_url == "https://download.pytorch.org/whl/cu126"
    assert "6.1" in cu126.arch["win-64"] and "6.1" not in cu126.arch["linux-64"]
    cu130 = release.variant("cu130")
    assert cu130 is not None and cu130.status == "experimental"
    assert cu130.arch["linux-aarch64"][-1] == "12.0"  # release wheels carry no PTX (#188925)
    cpu = release.variant("cpu")
    assert cpu is not None and cpu.cuda is None and "win-64" in cpu.platforms
    assert kb.torch_release("2.9") is release
    assert kb.torch_release("0.4") is None


def test_torch_volta_dropped_in_2_11(kb: KnowledgeBase) -> None:
    cu128_210 = kb.torch_release("2.10").variant("cu128")  # type: ignore[union-attr]
    cu128_211 = kb.torch_release("2.11").variant("cu128")  # type: ignore[union-attr]
    assert kb.arch_coverage("7.0", cu128_210.arch["linux-64"]).kind == "sass"  # type: ignore[union-attr]
    assert kb.arch_coverage("7.0", cu128_211.arch["linux-64"]).kind == "none"  # type: ignore[union-attr]


def test_tensorflow_release(kb: KnowledgeBase) -> None:
    tf = kb.tensorflow_release("2.20.0")
    assert tf is not None
    gpu = tf.variant("cu125")
    assert gpu is not None and gpu.cudnn == "9.3" and gpu.package == "tensorflow[and-cuda]"
    assert "win-64" not in gpu.platforms  # native Windows GPU ended with 2.10
    old = kb.tensorflow_release("2.10")
    assert old is not None
    assert "win-64" in old.variants[0].platforms
    assert "cudatoolkit=11.2" in old.variants[0].conda
    assert kb.tensorflow_release("2.21").verified  # type: ignore[union-attr]


def test_python_supported(kb: KnowledgeBase) -> None:
    assert kb.python_supported("tensorflow", "2.21", "3.13") is True
    assert kb.python_supported("tensorflow", "2.21", "3.14") is False
    assert kb.python_supported("torch", "2.5.1", "3.12.4") is True
    assert kb.python_supported("torch", "2.5", "3.13") is False
    assert kb.python_supported("torch", "0.1", "3.12") is None
    with pytest.raises(BadInputError):
        kb.python_supported("jax", "0.4", "3.12")


def test_releases_newest_first(kb: KnowledgeBase) -> None:
    versions = [r.version for r in kb.releases("torch")]
    assert versions[0] == "2.15"
    assert versions.index("2.10") < versions.index("2.9")
    assert versions == sorted(versions, key=lambda v: tuple(map(int, v.split("."))), reverse=True)


def test_conda_forge(kb: KnowledgeBase) -> None:
    torch = kb.conda_forge_release("torch", "2.13")
    assert torch is not None and torch.package == "pytorch"
    assert {v.tag for v in torch.variants} == {"cuda128", "cuda129", "cuda130", "cpu"}
    # the feedstock's .ci_support builds 2.13.0 for Python 3.10-3.14 on every platform (the
    # row said 3.13, unconfirmed, so conda-forge files got an older Python than they could)
    assert (torch.python_min, torch.python_max, torch.verified) == ("3.10", "3.14", True)
    tf = kb.conda_forge_release("tensorflow", "2.19.1")
    assert tf is not None
    assert (tf.python_min, tf.python_max, tf.verified) == ("3.10", "3.13", True)
    assert tf.variant("cuda128").platforms == ("linux-64",)  # type: ignore[union-attr]
    assert kb.arch_coverage("12.0", tf.variant("cuda128").arch["linux-64"]).kind == "sass"  # type: ignore[union-attr]


def test_glibc_floors_per_platform(kb: KnowledgeBase) -> None:
    # x86_64 wheels are manylinux_2_28 from 2.7; the aarch64 ones from 2.6 (release blog), so
    # an aarch64 host with glibc 2.26 (Amazon Linux 2) got torch 2.6+ that pip cannot install
    assert kb.glibc_min("torch", "2.6", "linux-64") is None
    assert kb.glibc_min("torch", "2.7", "linux-64").glibc == "2.28"  # type: ignore[union-attr]
    assert kb.glibc_min("torch", "2.6.0", "linux-aarch64").glibc == "2.28"  # type: ignore[union-attr]
    assert kb.glibc_min("torch", "2.15", "linux-aarch64").glibc == "2.28"  # type: ignore[union-attr]
    assert kb.glibc_min("torch", "2.5", "linux-aarch64") is None
    assert kb.glibc_min("torch", "2.15", "win-64") is None
    # 2.6 put only its cu126 wheels on manylinux 2.28 (pytorch/pytorch#141565)
    torch26 = kb.release("torch", "2.6")
    assert torch26 is not None
    assert {v.tag: v.glibc for v in torch26.variants if v.cuda} == {
        "cu118": None,
        "cu124": None,
        "cu126": "2.28",
    }


def test_architecture(kb: KnowledgeBase) -> None:
    assert kb.architecture("6.1").name == "Pascal"  # type: ignore[union-attr]
    assert kb.is_known_cc("12.0")
    assert not kb.is_known_cc("99.1")
    assert not kb.is_known_cc("x")


def test_newest_python_skips_unreleased(kb: KnowledgeBase) -> None:
    # 3.15 read "not released as of the data date" in data dated 2026-12-07; PEP 790 had its
    # final due 2026-10-01 (moved to 2026-10-09, per pages not confirmed at python.org)
    row = kb.python_release("3.15")
    assert row is not None and str(row.released) == "2026-10-09" and not row.verified
    assert kb.newest_python("3.10", "3.15") == "3.15"
    assert kb.newest_python("3.10", "3.14") == "3.14"
    assert kb.newest_python("3.9", "3.12") == "3.12"
    assert kb.newest_python("3.14", "3.13") is None


def test_arch_verification_is_per_platform(kb: KnowledgeBase) -> None:
    cu118 = kb.torch_release("2.5").variant("cu118")  # type: ignore[union-attr]
    assert cu118 is not None
    assert cu118.verified_on("linux-64")
    assert not cu118.verified_on("win-64")  # the Windows list is assumed from Linux


@pytest.mark.parametrize(
    ("cc", "os", "floor"),
    [
        ("12.0", "linux", "570"),  # RTX 50: CUDA 12.8 added sm_120, shipped with R570
        ("sm_120", "windows", "570"),
        ("10.0", "linux", "570"),  # B200
        ("9.0", "linux", "520"),  # Hopper: CUDA 11.8
        ("8.9", "linux", "520"),  # Ada: CUDA 11.8
        ("8.6", "linux", "455"),  # RTX 30: CUDA 11.1
        ("10.1", "linux", "580"),  # Thor's old CC, renamed 11.0 in CUDA 13.0
        ("8.7", "linux", None),  # Jetson: drivers come with JetPack
        ("6.1", "linux", None),  # older than every toolkit in the data
        ("12.0", "darwin", None),
    ],
)
def test_min_driver_for_cc(kb: KnowledgeBase, cc: str, os: str, floor: str | None) -> None:
    assert kb.min_driver_for_cc(cc, os) == floor


def test_min_driver_rows_are_marked_as_inference(kb: KnowledgeBase) -> None:
    row = kb.arch_driver("12.0")
    assert row is not None and row.cuda == "12.8" and not row.verified
    assert "2.1" in row.source and "1.3" in row.source


@pytest.mark.parametrize(
    ("framework", "version", "platform", "numpy"),
    [
        ("tensorflow", "2.10", "linux-64", "numpy<2"),
        ("tensorflow", "2.11.1", "linux-64", "numpy<2"),
        ("tensorflow", "2.17", "linux-64", "numpy<2"),
        ("tensorflow", "2.18", "linux-64", None),  # first built against numpy 2
        ("torch", "2.2.2", "linux-64", "numpy<2"),
        ("torch", "2.3.1", "linux-64", None),
        ("torch", "2.4.0", "win-64", "numpy<2"),  # pytorch/pytorch#131668
        ("torch", "2.4.1", "win-64", None),
        ("torch", "2.9.1", "win-64", None),
    ],
)
def test_numpy_max(
    kb: KnowledgeBase, framework: str, version: str, platform: str, numpy: str | None
) -> None:
    limit = kb.numpy_max(framework, version, platform)
    assert (limit.requirement if limit else None) == numpy
    if limit is not None:
        assert limit.source and limit.as_of


def test_numpy_max_is_per_channel(kb: KnowledgeBase) -> None:
    assert kb.numpy_max("tensorflow", "2.10", "linux-64", channel="conda-forge") is None


def test_torch_2_15(kb: KnowledgeBase) -> None:
    # PyPI metadata of torch 2.15.0: Requires-Python >=3.11, default build CUDA 13.2 with
    # cuDNN 9.26.0.51; RFC pytorch/pytorch#190385: CUDA 12.6 builds removed
    release = kb.torch_release("2.15.0")
    assert release is not None and release.verified
    assert (release.python_min, release.python_max) == ("3.11", "3.15")
    assert kb.python_supported("torch", "2.15", "3.10") is False
    assert {v.tag for v in release.variants} == {"cu130", "cu132", "cpu"}
    assert release.variant("cu132").cudnn == "9.26.0.51"  # type: ignore[union-attr]
    assert not release.variant("cu130").verified  # type: ignore[union-attr]
    assert release.variant("cu132").unverified_arch  # type: ignore[union-attr]
    assert release.has_version("2.15.0") and not release.has_version("2.15.1")
