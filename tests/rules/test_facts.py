"""Facts the rules share: whether the machine has an NVIDIA GPU at all."""

from __future__ import annotations

import pytest

from gpudoctor.model.report import PciFunction, Unavailable
from gpudoctor.rules.facts import host_gpu_evidence, no_nvidia_gpu, not_applicable
from tests.rules.builders import healthy, no_gpu_machine, with_driver, with_env, with_host

GPU_FN = PciFunction(address="0000:01:00.0", device_id="0x2330", class_code="0x030200", driver=None)
UNREADABLE = Unavailable(
    field="driver.pci_functions", code="not_visible", message="no /sys/bus/pci"
)


def test_a_machine_with_nothing_nvidia_has_no_gpu_on_the_host_and_in_a_container():
    assert no_nvidia_gpu(no_gpu_machine())
    assert no_nvidia_gpu(no_gpu_machine(container="docker"))
    assert not no_nvidia_gpu(healthy())


@pytest.mark.parametrize(
    "trace",
    [
        {"pci_functions": (GPU_FN,)},
        {"module_version": "590.48.01"},
        {"dev_nodes": ("/dev/nvidiactl",)},
        {"errors": (UNREADABLE,)},
    ],
)
def test_any_sign_of_a_gpu_or_an_unreadable_pci_bus_is_not_no_gpu(trace):
    for container in (None, "docker"):
        assert not no_nvidia_gpu(with_driver(no_gpu_machine(container), **trace))


def test_nvidia_visible_devices_is_no_gpu_on_the_host():
    # NVIDIA's CUDA images set it themselves: the host's PCI bus, which a container sees,
    # answers whether there is a GPU, and the variable names only what the image expects
    assert no_nvidia_gpu(with_env(no_gpu_machine("docker"), NVIDIA_VISIBLE_DEVICES="all"))
    assert no_nvidia_gpu(with_env(no_gpu_machine(), NVIDIA_VISIBLE_DEVICES="all"))
    assert host_gpu_evidence(with_env(no_gpu_machine("docker"), NVIDIA_VISIBLE_DEVICES="all")) == (
        "NVIDIA_VISIBLE_DEVICES='all'",
    )
    assert host_gpu_evidence(no_gpu_machine("docker")) == ()


@pytest.mark.parametrize("host", [{"os": "windows"}, {"wsl": True}, {"os": "darwin"}])
def test_other_platforms_are_never_judged_from_sys(host):
    assert not no_nvidia_gpu(with_host(no_gpu_machine(), **host))


def test_not_applicable_areas():
    report = no_gpu_machine()
    assert [a for a in ("host", "driver", "nvml", "gpu", "cuda") if not_applicable(report, a)] == [
        "nvml",
        "gpu",
        "cuda",
    ]
    assert not any(not_applicable(healthy(), a) for a in ("nvml", "gpu", "cuda"))
