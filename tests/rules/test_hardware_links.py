"""Rules on NVLink, InfiniBand, the IOMMU and settings that cost speed without an error."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from gpudoctor.model.findings import Severity
from gpudoctor.model.report import HardwareInfo, IbPort, IommuInfo, NvLink, Report
from tests.rules.builders import diagnose, findings, h100, healthy, with_gpu, with_nvml


def links(active: int, total: int = 18, **errors: int) -> dict[str, Any]:
    """The NVLink fields of a GPU with links 0..active-1 up and ``errors`` on link 0, as the
    probe writes them: the counts, and only the links that are down or count an error."""
    every = [
        NvLink(link=i, active=i < active, **(dict(version=4, **errors) if i == 0 else {}))
        for i in range(total)
    ]
    return {
        "nvlink_count": total,
        "nvlinks_up": active,
        "nvlink_version": 4 if active else None,
        "nvlinks": tuple(link for link in every if not link.active or link.error_total),
    }


UNKNOWN: dict[str, Any] = {"nvlink_count": None, "nvlinks_up": None, "nvlinks": None}
NONE: dict[str, Any] = {"nvlink_count": 0, "nvlinks_up": 0, "nvlinks": ()}


def test_eighteen_links_up_on_an_h100_is_fine():
    report = with_gpu(healthy(), **links(18))
    assert findings(report, "GD-GPU-062") == [] and findings(report, "GD-GPU-063") == []


def test_links_down_on_an_h100_is_an_error_naming_them():
    (found,) = findings(with_gpu(healthy(), **links(16)), "GD-GPU-062")
    assert found.severity == Severity.ERROR
    assert found.title == "GPU 0 (NVIDIA H100 80GB HBM3) has 16 of its 18 NVLinks up"
    assert found.evidence[1] == "links down: 16, 17"


def test_no_link_listed_is_not_judged():
    # NVML NOT_SUPPORTED (MIG mode, a VM) gives no links; unknown (None) too
    assert findings(with_gpu(healthy(), **NONE), "GD-GPU-062") == []
    assert findings(with_gpu(healthy(), **UNKNOWN), "GD-GPU-062") == []


def at_speed(gpu: int, mbps: int, *slow: tuple[int, int]) -> dict[str, Any]:
    """GPU ``gpu``'s fields with 18 links up at ``mbps``, except ``slow`` (link, speed)."""
    kept = tuple(NvLink(link=n, active=True, version=4, speed_mbps=s) for n, s in slow)
    return {**links(18), "nvlink_speed_mbps": mbps, "nvlinks": kept}


def eight_h100s(**per_gpu: dict[str, Any]) -> Report:
    report = healthy()
    report = with_nvml(report, gpus=tuple(h100(i) for i in range(8)))
    for i in range(8):
        report = with_gpu(report, i, **per_gpu.get(f"gpu{i}", at_speed(i, 26562)))
    return report


def test_links_at_one_speed_are_fine_and_unknown_speeds_are_not_judged():
    assert findings(eight_h100s(), "GD-GPU-069") == []
    unknown = {**links(18), "nvlink_speed_mbps": None}
    assert findings(eight_h100s(gpu3=unknown), "GD-GPU-069") == []


def test_a_slow_link_is_named_with_its_speed():
    report = eight_h100s(gpu2=at_speed(2, 26562, (5, 13281)))
    (found,) = findings(report, "GD-GPU-069")
    assert found.severity == Severity.WARNING
    assert found.title == "GPU 2 (NVIDIA H100 80GB HBM3): 1 NVLink(s) slower than the others"
    assert found.evidence == ("link 5: 13.281 GB/s, the GPU's others 26.562 GB/s",)


def test_a_gpu_whose_links_all_run_slower_than_its_siblings_is_named():
    report = eight_h100s(gpu6=at_speed(6, 13281))
    (found,) = findings(report, "GD-GPU-069")
    assert found.title == (
        "GPU 6 (NVIDIA H100 80GB HBM3): its NVLinks run at 13.281 GB/s, others at 26.562 GB/s"
    )
    assert found.fix[0] == "$ nvidia-smi nvlink -s -i 6"


def test_two_models_with_bridges_of_their_own_generation_are_not_compared():
    report = eight_h100s(gpu7=at_speed(7, 25000))
    report = with_gpu(report, 7, name="NVIDIA A100 80GB PCIe")
    assert findings(report, "GD-GPU-069") == []


def test_a_pcie_card_with_a_bridge_link_down_is_a_warning():
    report = with_gpu(healthy(), name="NVIDIA A100 80GB PCIe", **links(2, total=3))
    (found,) = findings(report, "GD-GPU-062")
    assert found.severity == Severity.WARNING and "NVLinks down: 2" in found.title


@pytest.mark.parametrize(
    ("errors", "hit"),
    [
        ({"replay_errors": 4}, False),
        ({"replay_errors": 3, "crc_flit_errors": 2}, True),
        ({"recovery_errors": 9}, True),
    ],
)
def test_nvlink_errors_warn_from_five_on_a_link(errors, hit):
    found = findings(with_gpu(healthy(), **links(18, **errors)), "GD-GPU-063")
    assert bool(found) == hit
    if hit:
        assert found[0].evidence[0].startswith("link 0: CRC flit")


def test_ecc_off_on_a_datacenter_gpu_but_not_on_geforce():
    (found,) = findings(with_gpu(healthy(), ecc_enabled=False, ecc_pending=False), "GD-GPU-064")
    assert found.severity == Severity.WARNING and "H100 SXM5" in found.evidence[0]
    geforce = with_gpu(
        healthy(), name="NVIDIA GeForce RTX 4080 SUPER", ecc_enabled=False, ecc_pending=False
    )
    assert findings(geforce, "GD-GPU-064") == []


def test_a_power_limit_below_the_default():
    report = with_gpu(
        healthy(),
        power_limit_w=500.0,
        power_limit_default_w=700.0,
        power_limit_min_w=200.0,
        power_limit_max_w=700.0,
    )
    (found,) = findings(report, "GD-GPU-065")
    assert "limited to 500 W, below its default 700 W" in found.title
    assert found.evidence == ("power limit 500 W, default 700 W (allowed 200-700 W)",)
    assert found.fix == ("$ sudo nvidia-smi -pl 700 -i 0",)
    # nvidia-smi -pl lowered the requested limit too: the fix sets it back
    lowered = with_gpu(
        healthy(), power_limit_w=500.0, power_limit_default_w=700.0, power_limit_requested_w=500.0
    )
    assert findings(lowered, "GD-GPU-065")[0].fix == ("$ sudo nvidia-smi -pl 700 -i 0",)
    at_default = with_gpu(healthy(), power_limit_w=700.0, power_limit_default_w=700.0)
    assert findings(at_default, "GD-GPU-065") == []
    raised = with_gpu(healthy(), power_limit_w=700.0, power_limit_default_w=600.0)
    assert findings(raised, "GD-GPU-065") == []


def test_application_clocks_below_default():
    report = with_gpu(healthy(), app_clock_graphics_mhz=900, app_clock_graphics_default_mhz=1410)
    (found,) = findings(report, "GD-GPU-066")
    assert "900 MHz, below its default 1410 MHz" in found.title
    hopper = with_gpu(healthy(), app_clock_graphics_mhz=None)  # deprecated there
    assert findings(hopper, "GD-GPU-066") == []


def test_a_power_cap_set_outside_the_driver_is_not_sent_to_nvidia_smi_pl():
    # Before, an H100 whose requested limit was its 700 W default but which the server's
    # management controller held at 500 W read 'limited to 500 W' with the fix
    # 'sudo nvidia-smi -pl 700 -i 0', which changes nothing: the limit it sets is already 700 W.
    capped = with_gpu(
        healthy(),
        power_limit_w=500.0,
        power_limit_default_w=700.0,
        power_limit_requested_w=700.0,
        power_limit_min_w=200.0,
        power_limit_max_w=700.0,
    )
    (found,) = findings(capped, "GD-GPU-065")
    assert found.severity == Severity.WARNING
    assert "held to 500 W, below its default 700 W, by a limit set outside the driver" in (
        found.title
    )
    assert found.evidence[1] == (
        "requested power limit (nvidia-smi -pl) 700 W: another limiter holds the GPU lower, "
        "which nvidia-smi -pl cannot raise"
    )
    assert not any("nvidia-smi -pl" in line for line in found.fix)
    assert found.fix[0] == "$ nvidia-smi -q -d POWER -i 0   # Requested and Current Power Limit"


def test_a_small_bar1_is_information_on_a_big_gpu_only():
    (found,) = findings(with_gpu(healthy(), bar1_total_mib=256), "GD-GPU-067")
    assert found.severity == Severity.INFO
    assert findings(with_gpu(healthy(), bar1_total_mib=131072), "GD-GPU-067") == []
    small = with_gpu(healthy(), bar1_total_mib=256, memory_total_mib=8192)
    assert findings(small, "GD-GPU-067") == []


# --- InfiniBand -------------------------------------------------------------------------------


def with_ports(report: Report, *ports: IbPort, rate: float | None = None) -> Report:
    return replace(report, hardware=HardwareInfo(ib_ports=ports, ib_expected_rate_gbps=rate))


def ib(device: str, state: str = "ACTIVE", rate: float = 400.0, **changes) -> IbPort:
    counters = {"link_downed": 0, "symbol_error": 0, "link_error_recovery": 0, **changes}
    return IbPort(
        device=device,
        port=1,
        state=state,
        phys_state="LinkUp" if state == "ACTIVE" else "Polling",
        rate=f"{rate:g} Gb/sec (4X NDR)",
        rate_gbps=rate,
        link_layer="InfiniBand",
        **counters,
    )


def test_healthy_rails_give_nothing():
    report = with_ports(healthy(), *(ib(f"mlx5_{i}") for i in range(8)), rate=400)
    ids = {f.id for f in diagnose(report).findings}
    assert not ids & {"GD-HOST-056", "GD-HOST-057", "GD-HOST-058"}


def test_a_port_down_among_active_siblings():
    report = with_ports(healthy(), ib("mlx5_0"), ib("mlx5_1", state="DOWN"))
    (found,) = findings(report, "GD-HOST-056")
    assert found.title == "InfiniBand/RoCE mlx5_1 port 1 is DOWN"


def test_unused_and_disabled_ports_are_left_alone():
    assert findings(with_ports(healthy(), ib("mlx5_0", state="DOWN")), "GD-HOST-056") == []
    dual = (ib("mlx5_0"), replace(ib("mlx5_0", state="DOWN"), port=2, phys_state="Polling"))
    assert findings(with_ports(healthy(), *dual), "GD-HOST-056") == []  # second port, no cable
    rail = with_ports(healthy(), ib("mlx5_0"), ib("mlx5_1", state="DOWN"))
    assert findings(rail, "GD-HOST-056")  # a rail (another HCA) polling for its peer
    admin = replace(ib("mlx5_1", state="DOWN"), phys_state="Disabled")
    assert findings(with_ports(healthy(), ib("mlx5_0"), admin), "GD-HOST-056") == []
    ethernet = replace(ib("mlx5_1", state="DOWN"), link_layer="Ethernet")
    roce = (replace(ib("mlx5_0"), link_layer="Ethernet"), ethernet)
    assert findings(with_ports(healthy(), *roce), "GD-HOST-056") == []


def test_with_an_expected_rate_every_port_down_counts():
    both = with_ports(healthy(), ib("mlx5_0", state="DOWN"), ib("mlx5_1", state="DOWN"), rate=400)
    assert len(findings(both, "GD-HOST-056")) == 2


def test_a_slower_port_than_its_siblings_or_than_expected():
    report = with_ports(healthy(), ib("mlx5_0"), ib("mlx5_1", rate=200.0), ib("mlx5_2"))
    (found,) = findings(report, "GD-HOST-057")
    assert "mlx5_1 port 1 runs at 200 Gb/s, not 400" in found.title
    expected = with_ports(healthy(), ib("mlx5_0"), ib("mlx5_1"), rate=800)
    assert len(findings(expected, "GD-HOST-057")) == 2


def test_a_slow_port_says_whether_lanes_or_speed_were_lost():
    # Before, a port at "200 Gb/sec (2X NDR)" and one at "200 Gb/sec (4X HDR)" beside "400
    # Gb/sec (4X NDR)" read the same: the kernel's width and speed tell half the lanes down
    # from a link trained a generation lower.
    lanes = replace(ib("mlx5_1"), rate="200 Gb/sec (2X NDR)", rate_gbps=200.0)
    (found,) = findings(with_ports(healthy(), ib("mlx5_0"), lanes), "GD-HOST-057")
    assert found.evidence[1] == (
        "2X where mlx5_0 port 1 runs 4X: lanes of the link are down (a cable, transceiver or "
        "switch-port fault)"
    )
    speed = replace(ib("mlx5_1"), rate="200 Gb/sec (4X HDR)", rate_gbps=200.0)
    (found,) = findings(with_ports(healthy(), ib("mlx5_0"), speed), "GD-HOST-057")
    assert found.evidence[1].startswith("HDR where mlx5_0 port 1 runs NDR: the link trained at")
    # RoCE: the kernel derives width and speed from the Ethernet speed; nothing more is said
    roce = [replace(p, link_layer="Ethernet") for p in (ib("mlx5_0"), lanes)]
    (found,) = findings(with_ports(healthy(), *roce), "GD-HOST-057")
    assert len(found.evidence) == 1


def test_roce_ports_are_not_compared_with_infiniband_ones():
    roce = replace(ib("mlx5_9", rate=100.0), link_layer="Ethernet")
    assert findings(with_ports(healthy(), ib("mlx5_0"), roce), "GD-HOST-057") == []


def test_a_card_of_another_model_is_not_a_slow_rail():
    # Before, a 100 GbE front-end NIC (a ConnectX-6 Dx) beside 400 Gb/s RoCE rails (ConnectX-7)
    # read "mlx5_0 port 1 runs at 100 Gb/s, not 400", with a cable to reseat.
    def card(port: IbPort, hca: str, board: str) -> IbPort:
        return replace(port, link_layer="Ethernet", hca_type=hca, board_id=board)

    front = card(ib("mlx5_0", rate=100.0), "MT4125", "MT_0000000359")
    rails = [card(ib(f"mlx5_{i}"), "MT4129", "MT_0000000838") for i in (1, 2, 3)]
    assert findings(with_ports(healthy(), front, *rails), "GD-HOST-057") == []
    slow = replace(rails[2], rate="200 Gb/sec (2X NDR)", rate_gbps=200.0)
    (found,) = findings(with_ports(healthy(), front, *rails[:2], slow), "GD-HOST-057")
    assert found.title.endswith("mlx5_3 port 1 runs at 200 Gb/s, not 400")
    assert found.evidence == (
        "mlx5_3 port 1: 200 Gb/sec (2X NDR); its fastest sibling on a card of the same model "
        "(MT4129, MT_0000000838): 400 Gb/s",
    )
    # --ib-rate holds every port to the rate the administrator gave, whatever its card
    assert len(findings(with_ports(healthy(), front, *rails, rate=400), "GD-HOST-057")) == 1


def test_a_flapping_port():
    report = with_ports(healthy(), ib("mlx5_0", link_downed=3, symbol_error=120))
    (found,) = findings(report, "GD-HOST-058")
    assert found.severity == Severity.WARNING and "is flapping" in found.title
    assert "link_downed 3" in found.evidence[0] and "symbol_error 120" in found.evidence[0]
    # perfquery's positional arguments are a LID and a port (perfquery(8): perfquery [options]
    # [<lid|guid> [[port(s)] [reset_mask]]]); the local device is named with -C and -P.
    assert found.fix == ("$ sudo perfquery -x -C mlx5_0 -P 1   # watch whether they grow",)
    (symbols,) = findings(with_ports(healthy(), ib("mlx5_0", symbol_error=4)), "GD-HOST-058")
    assert symbols.severity == Severity.INFO and "symbol errors" in symbols.title


def test_a_port_that_went_down_once_is_not_called_flapping():
    # Before, one link_downed since boot (a switch restarted) read "is flapping".
    (found,) = findings(with_ports(healthy(), ib("mlx5_0", link_downed=1)), "GD-HOST-058")
    assert found.severity == Severity.WARNING
    assert found.title.endswith("mlx5_0 port 1 went down once since its counters were cleared")


# --- IOMMU ------------------------------------------------------------------------------------


def two_pcie_gpus(report: Report, kinds: dict[str, str], nvlinks=NONE) -> Report:
    gpus = (
        replace(h100(0), name="NVIDIA L40S", **nvlinks),
        replace(h100(1), name="NVIDIA L40S", **nvlinks),
    )
    report = with_nvml(report, gpus=gpus)
    iommu = IommuInfo(groups=120, gpu_groups=kinds, cmdline=("intel_iommu=on",))
    return replace(report, hardware=HardwareInfo(iommu=iommu))


def test_a_translating_iommu_on_a_pcie_box_warns():
    report = two_pcie_gpus(healthy(), {"0000:17:00.0": "DMA-FQ", "0000:65:00.0": "DMA-FQ"})
    (found,) = findings(report, "GD-HOST-059")
    assert found.severity == Severity.WARNING
    assert found.evidence == (
        "IOMMU group type of the GPUs: 0000:17:00.0: DMA-FQ, 0000:65:00.0: DMA-FQ",
        "kernel command line: intel_iommu=on",
    )


def test_the_iommu_fix_uses_the_boot_loader_tool_of_the_distribution():
    # Before, every machine was told to run update-grub, which RHEL, Rocky and Fedora (grubby,
    # grub2-mkconfig) do not have: a Rocky Linux GPU node's admin got a command not found.
    report = two_pcie_gpus(healthy(), {"0000:17:00.0": "DMA", "0000:65:00.0": "DMA"})

    def fix_on(os_release: str | None, container: str | None = None) -> tuple[str, ...]:
        host = replace(report.host, os_release=os_release, container=container)
        (found,) = findings(replace(report, host=host), "GD-HOST-059")
        return found.fix

    assert fix_on("Rocky Linux 9.4 (Blue Onyx)") == (
        '$ sudo grubby --update-kernel=ALL --args="iommu=pt" && sudo reboot',
    )
    assert fix_on("Ubuntu 22.04.5 LTS") == (
        "Add iommu=pt to GRUB_CMDLINE_LINUX in /etc/default/grub, then: "
        "$ sudo update-grub && sudo reboot",
    )
    # openSUSE, SLES and Arch got both the Debian and the RHEL command, neither of which they
    # have (no update-grub, no grubby): each gets its own
    for suse in (
        "openSUSE Leap 15.6",
        "openSUSE Tumbleweed",
        "SUSE Linux Enterprise Server 15 SP6",
    ):
        assert fix_on(suse) == (
            "Add iommu=pt to GRUB_CMDLINE_LINUX in /etc/default/grub, then: "
            "$ sudo grub2-mkconfig -o /boot/grub2/grub.cfg && sudo reboot",
        ), suse
    (arch,) = fix_on("Arch Linux")
    assert arch.startswith(
        "Add iommu=pt to GRUB_CMDLINE_LINUX in /etc/default/grub, then: "
        "$ sudo grub-mkconfig -o /boot/grub/grub.cfg && sudo reboot (with systemd-boot"
    )
    # unknown (a container: the host's family is not known; or an unrecognised distribution):
    # the file to edit and GRUB's own command, and grubby for Fedora/RHEL
    for unknown in (fix_on("Ubuntu 22.04.5 LTS", container="docker"), fix_on("Gentoo Linux")):
        assert unknown == (
            "Add iommu=pt to GRUB_CMDLINE_LINUX in /etc/default/grub, then: regenerate GRUB's "
            "configuration with the host's command, e.g. $ sudo grub-mkconfig -o "
            "/boot/grub/grub.cfg && sudo reboot (update-grub on Debian/Ubuntu; grub2-mkconfig "
            "-o /boot/grub2/grub.cfg where GRUB is installed as grub2, as on openSUSE/SLES)",
            'Fedora/RHEL: $ sudo grubby --update-kernel=ALL --args="iommu=pt" && sudo reboot',
        )


def test_passthrough_nvlink_or_one_gpu_is_fine():
    passthrough = two_pcie_gpus(healthy(), {"a": "identity", "b": "identity"})
    assert findings(passthrough, "GD-HOST-059") == []
    with_links = two_pcie_gpus(healthy(), {"a": "DMA", "b": "DMA"}, nvlinks=links(4, total=4))
    assert findings(with_links, "GD-HOST-059") == []
    unknown_links = two_pcie_gpus(healthy(), {"a": "DMA", "b": "DMA"}, nvlinks=UNKNOWN)
    assert findings(unknown_links, "GD-HOST-059") == []
    one = replace(
        healthy(),
        hardware=HardwareInfo(iommu=IommuInfo(groups=3, gpu_groups={"a": "DMA"})),
    )
    assert findings(one, "GD-HOST-059") == []
