"""The hardware section: PCIe ACS lines brief, named as lspci names the bits, root noted; the
InfiniBand ports with their card."""

from __future__ import annotations

from dataclasses import replace

from gpudoctor import kb
from gpudoctor.model.report import (
    ExcludedGpu,
    HardwareInfo,
    IbPort,
    InitFailure,
    IommuInfo,
    KernelLogInfo,
    PcieBridgeAcs,
)
from gpudoctor.render import render_report
from gpudoctor.rules import diagnose
from tests.rules.builders import acs_switch, healthy, pcie_acs_box


def verbose(fmt, report):
    return render_report(fmt, report, diagnose(report, kb.load()), verbose=True, color=False)


def test_redirecting_bridges_are_named_with_their_bits():
    for fmt in ("text", "markdown"):
        shown = verbose(fmt, pcie_acs_box())
        assert "3 bridges above the GPUs, 2 with ACS, redirect on at 2" in shown
        assert "ACS 0000:02:08.0" in shown and "SrcValid ReqRedir CmpltRedir UpstreamFwd" in shown


def test_acs_off_is_one_line():
    shown = verbose("text", pcie_acs_box(control=0))
    assert "3 bridges above the GPUs, 2 with ACS, no redirect on" in shown
    assert "ACS 0000:02:08.0" not in shown


def test_not_root_says_reading_needs_root_and_nothing_of_the_bits():
    shown = verbose("text", pcie_acs_box(control=None, status="needs_root"))
    assert "3 bridges above the GPUs; reading ACS needs root" in shown
    assert "ReqRedir" not in shown


def test_one_bridge_is_singular_and_many_are_cut():
    one = IommuInfo(groups=0, bridges=acs_switch(0x1D).bridges[1:2], acs_readable=True)
    shown = verbose("text", replace(healthy(), hardware=HardwareInfo(iommu=one)))
    assert "1 bridge above the GPUs, 1 with ACS, redirect on at 1" in shown
    many = tuple(
        PcieBridgeAcs(
            bridge=f"0000:{i:02x}:00.0",
            status="read",
            control=0x04,
            enabled=("ReqRedir",),
        )
        for i in range(1, 11)
    )
    iommu = IommuInfo(groups=0, bridges=many, acs_readable=True)
    shown = verbose("text", replace(healthy(), hardware=HardwareInfo(iommu=iommu)))
    assert "ACS 0000:08:00.0" in shown and "ACS 0000:09:00.0" not in shown
    assert "2 more redirecting" in shown


def test_a_report_without_bridges_shows_no_acs_line():
    old = IommuInfo(groups=3, gpu_groups={"0000:17:00.0": "DMA"})
    shown = verbose("text", replace(healthy(), hardware=HardwareInfo(iommu=old)))
    assert "IOMMU groups" in shown and "PCIe ACS" not in shown


def test_bridges_not_read_are_not_said_to_have_no_redirect():
    box = acs_switch(0x1D)
    gone = tuple(replace(b, status="unreadable", control=None, enabled=()) for b in box.bridges)
    iommu = replace(box, bridges=gone, acs_readable=None)
    shown = verbose("text", replace(healthy(), hardware=HardwareInfo(iommu=iommu)))
    assert "3 bridges above the GPUs, 0 with ACS, 3 unreadable" in shown
    assert "no redirect on" not in shown
    # one of three unreadable: the other two still read
    some = (*gone[:1], *box.bridges[1:])
    iommu = replace(box, bridges=tuple(replace(b, control=0, enabled=()) for b in some))
    shown = verbose("text", replace(healthy(), hardware=HardwareInfo(iommu=iommu)))
    assert "3 bridges above the GPUs, 2 with ACS, 1 unreadable, no redirect on" in shown


def test_the_nvlink_speed_is_said_to_be_per_link():
    from gpudoctor.model.report import NvLink
    from tests.rules.builders import with_gpu

    slow = (NvLink(link=4, active=True, speed_mbps=13281),)
    report = with_gpu(healthy(), nvlink_count=18, nvlinks_up=18, nvlink_speed_mbps=26562)
    for fmt in ("text", "markdown"):
        assert "18 / 18, 26.562 GB/s per link" in verbose(fmt, report)
    report = with_gpu(report, nvlinks=slow)
    assert "18 / 18, 26.562 GB/s per link, 1 slower" in verbose("text", report)


def _port(device: str, rate: str, hca: str | None, board: str | None) -> IbPort:
    return IbPort(device=device, port=1, state="ACTIVE", rate=rate, hca_type=hca, board_id=board)


def test_the_infiniband_table_names_each_ports_card():
    # The report records each device's hca_type and board_id (GD-HOST-057 compares a port
    # only with ports of the same card), but the table showed neither: a 200 Gb/s storage
    # card read like a degraded rail beside the 400 Gb/s ones
    ports = (
        _port("mlx5_0", "400 Gb/sec (4X NDR)", "MT4129", "MT_0000000838"),
        _port("mlx5_1", "200 Gb/sec (4X HDR)", "MT4125", "MT_0000000359"),
    )
    report = replace(healthy(), hardware=HardwareInfo(ib_ports=ports))
    text = verbose("text", report)
    lines = text.splitlines()
    for device, hca, board in (
        ("mlx5_0", "MT4129", "MT_0000000838"),
        ("mlx5_1", "MT4125", "MT_0000000359"),
    ):
        at = next(i for i, line in enumerate(lines) if f"{device}/1" in line)
        assert hca in lines[at] and board in lines[at + 1], lines[at : at + 2]
    markdown = verbose("markdown", report)
    assert "| Port | Card | State |" in markdown
    assert "| mlx5\\_1/1 | MT4125 MT\\_0000000359 | ACTIVE |" in markdown


def test_an_older_report_keeps_its_infiniband_columns():
    ports = (_port("mlx5_0", "400 Gb/sec (4X NDR)", None, None),)
    markdown = verbose("markdown", replace(healthy(), hardware=HardwareInfo(ib_ports=ports)))
    assert "| Port | State | Physical | Rate |" in markdown
    assert "Card" not in markdown


def test_excluded_gpus_and_gpus_that_failed_to_start_are_shown_in_the_details():
    # The report held them and the details showed neither
    uuid = "GPU-5d5e7c4a-3b1e-9c3f-1e8a-2f1d0c9b8a77"
    report = healthy()
    report = replace(
        report,
        driver=replace(report.driver, excluded_gpus=(uuid,)),
        nvml=replace(
            report.nvml, excluded_gpus=(ExcludedGpu(pci_bus_id="00000000:08:00.0", uuid=uuid),)
        ),
        hardware=HardwareInfo(
            kernel_log=KernelLogInfo(
                status="ok",
                init_failures=(
                    InitFailure(
                        pci="0000:0a:00.0",
                        count=6,
                        last="2026-01-02T01:00:00Z",
                        last_message="RmInitAdapter failed! (0x24:0x72:1568)",
                    ),
                ),
            )
        ),
    )
    shown = verbose("markdown", report)
    assert f"| NVreg\\_ExcludedGpus | {uuid} |" in shown  # Markdown escapes the _
    assert f"| excluded GPUs | 00000000:08:00.0 ({uuid}) |" in shown
    assert (
        "| RmInitAdapter failed at 0000:0a:00.0 | 6 lines, last 2026-01-02T01:00:00Z: "
        "RmInitAdapter failed! (0x24:0x72:1568) |"
    ) in shown
