"""Every fact of a report as tables, for `check --verbose` and the Markdown details."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from gpudoctor.model.clock_events import describe
from gpudoctor.model.derived import wsl_name
from gpudoctor.model.report import FrameworkInfo, GpuInfo, IbPort, IommuInfo, Report, Unavailable
from gpudoctor.render.headlines import AREA_LABELS, gib, na


@dataclass(frozen=True)
class Section:
    """A table of facts: a title, column headers and rows of text."""

    title: str
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


def sections(report: Report) -> list[Section]:
    """Every fact of the report, grouped into tables (empty tables left out)."""
    found = [
        _host_section(report),
        _driver_section(report),
        _nvml_section(report),
        *_gpu_sections(report),
        *_hardware_sections(report),
        _library_section(report),
        Section(
            "nvidia-* wheels",
            ("Wheel", "Version"),
            tuple((w.name, w.version) for w in report.cuda.nvidia_wheels),
        ),
        *_framework_sections(report),
        _toolchain_section(report),
        _device_access_section(report),
        Section(
            "Probes",
            ("Probe", "Status", "Seconds", "Message"),
            tuple(
                (p.name, p.status, f"{p.duration_s:.2f}", p.message or "") for p in report.probes
            ),
        ),
        Section(
            "Facts that could not be read",
            ("Fact", "Code", "Message"),
            tuple((u.field, u.code, u.message) for u in _unavailable(report)),
        ),
    ]
    return [s for s in found if s.rows]


def _kv(title: str, pairs: list[tuple[str, str | None]]) -> Section:
    return Section(title, ("Fact", "Value"), tuple((k, v) for k, v in pairs if v))


def _host_section(report: Report) -> Section:
    host, py = report.host, report.host.python
    pairs: list[tuple[str, str | None]] = [
        ("hostname", host.hostname),
        ("OS", f"{host.os_release or host.os} ({host.os})"),
        ("kernel", host.kernel),
        ("architecture", host.arch),
        (
            "CPU",
            f"{host.cpu_model or '?'} × {host.cpu_count}" if host.cpu_count else host.cpu_model,
        ),
        ("memory", gib(host.memory_total_mib) if host.memory_total_mib else None),
        ("glibc", host.glibc),
        ("container", host.container),
        ("WSL", wsl_name(report)),
        ("Python", f"{py.version} ({py.implementation})"),
        ("interpreter", py.executable),
        ("environment", py.env_kind + (f" {py.env_name}" if py.env_name else "")),
        ("environment prefix", py.env_prefix),
    ]
    pairs += [(name, value) for name, value in sorted(host.env.items())]
    return _kv("Host", pairs)


def _driver_section(report: Report) -> Section:
    drv = report.driver
    pairs: list[tuple[str, str | None]] = [
        ("nvidia module", drv.module_version),
        ("/proc/driver/nvidia/version", drv.proc_version_line),
        ("module flavour", drv.module_flavour),
        ("nvidia_uvm loaded", _yes_no(drv.uvm_loaded)),
        ("nouveau loaded", _yes_no(drv.nouveau_loaded)),
        ("device files", ", ".join(drv.dev_nodes) or None),
        ("NVreg_ExcludedGpus", ", ".join(drv.excluded_gpus or ()) or None),
    ]
    pairs += [
        (f"PCI {fn.address}", f"{fn.device_id} class {fn.class_code}: {fn.driver or 'no driver'}")
        for fn in drv.pci_functions
    ]
    pairs += [(f"NVSwitch {fn.address}", fn.device_id) for fn in drv.nvswitches]
    fm = drv.fabric_manager
    if fm is not None:
        state = {True: "running", False: "not running", None: "unknown"}[fm.running]
        detail = ", ".join(x for x in (fm.version, fm.how) if x)
        pairs.append(("Fabric Manager", state + (f" ({detail})" if detail else "")))
    return _kv("Kernel driver", pairs)


def _nvml_section(report: Report) -> Section:
    nvml = report.nvml
    source = f" ({nvml.cuda_driver_version_source})" if nvml.cuda_driver_version_source else ""
    return _kv(
        "NVML",
        [
            ("status", nvml.status),
            ("message", nvml.message or None),
            ("driver", nvml.driver_version),
            ("NVML version", nvml.nvml_version),
            ("CUDA driver version", (nvml.cuda_driver_version or "") + source or None),
            ("v2 CUDA version error", nvml.cuda_v2_error),
            ("missing functions", ", ".join(nvml.missing_functions) or None),
            (
                "excluded GPUs",
                ", ".join(
                    f"{g.pci_bus_id or '?'} ({g.uuid or '?'})" for g in nvml.excluded_gpus or ()
                )
                or None,
            ),
        ],
    )


def _yes_no(value: bool | None) -> str | None:
    return None if value is None else ("yes" if value else "no")


def _gpu_sections(report: Report) -> list[Section]:
    return [_kv(f"GPU {g.index}", _gpu_pairs(g)) for g in report.nvml.gpus]


def _with_pending(current: bool | None, pending: bool | None) -> str | None:
    """``yes``; ``no, pending yes`` when a mode change waits for a GPU reset."""
    shown = _yes_no(current)
    if pending is not None and current is not None and pending != current:
        return f"{shown}, pending {_yes_no(pending)}"
    return shown


def _pair(a: object, b: object, unit: str) -> str | None:
    if a is None and b is None:
        return None
    return f"{na(a)} / {na(b)}{unit}"


def _gpu_pairs(g: GpuInfo) -> list[tuple[str, str | None]]:
    reasons = g.clock_event_reasons
    power = None
    if g.power_draw_w is not None:
        limit = "–" if g.power_limit_w is None else f"{g.power_limit_w:.0f}"
        power = f"{g.power_draw_w:.0f} / {limit} W"
    link = None
    if g.pcie_gen is not None or g.pcie_gen_max is not None:
        link = f"Gen{na(g.pcie_gen)} x{na(g.pcie_width)} / Gen{na(g.pcie_gen_max)} "
        link += f"x{na(g.pcie_width_max)}"
    mig = _with_pending(g.mig_enabled, g.mig_pending)
    ecc = _with_pending(g.ecc_enabled, g.ecc_pending)
    return [
        ("name", "LOST" if g.lost else g.name),
        ("UUID", g.uuid),
        ("serial", g.serial),
        ("PCI bus", g.pci_bus_id),
        ("compute capability", g.compute_capability),
        ("architecture", g.architecture),
        ("memory used / total", _pair(g.memory_used_mib, g.memory_total_mib, " MiB")),
        ("temperature", na(g.temperature_c, " °C") if g.temperature_c is not None else None),
        ("power draw / limit", power),
        ("SM clock / max", _pair(g.sm_clock_mhz, g.sm_clock_max_mhz, " MHz")),
        (
            "utilisation",
            na(g.utilization_gpu_pct, " %") if g.utilization_gpu_pct is not None else None,
        ),
        ("PCIe link now / max", link),
        ("clock-event reasons", None if reasons is None else describe(reasons)),
        ("ECC", ecc),
        (
            "uncorrectable ECC since boot / lifetime",
            _pair(g.ecc_uncorrected_volatile, g.ecc_uncorrected_aggregate, ""),
        ),
        ("retired pages single / double bit", _pair(g.retired_pages_sbe, g.retired_pages_dbe, "")),
        ("page retirement pending", _yes_no(g.retired_pages_pending)),
        (
            "remapped rows correctable / uncorrectable",
            _pair(g.remapped_rows_correctable, g.remapped_rows_uncorrectable, ""),
        ),
        ("row remap pending", _yes_no(g.remap_pending)),
        ("row remap failure", _yes_no(g.remap_failure)),
        ("InfoROM valid", _yes_no(g.inforom_valid)),
        ("persistence mode", _yes_no(g.persistence_mode)),
        ("compute mode", g.compute_mode),
        ("MIG", mig),
        ("NVSwitch fabric", g.fabric_state),
        ("power limit default / range", _limits(g)),
        (
            "applications clock / default",
            _pair(g.app_clock_graphics_mhz, g.app_clock_graphics_default_mhz, " MHz"),
        ),
        ("BAR1", na(g.bar1_total_mib, " MiB") if g.bar1_total_mib is not None else None),
        ("GSP firmware", _gsp(g)),
        ("NVLinks active / listed", _nvlinks(g)),
        ("virtualization", g.virtualization_mode),
        (
            "vGPU licence",
            None if g.vgpu_licensed is None else ("licensed" if g.vgpu_licensed else "none"),
        ),
        *(
            (
                f"MIG {m.index}",
                f"{m.name or '?'}, {na(m.memory_total_mib, ' MiB')}, {m.uuid or '?'}",
            )
            for m in g.mig_devices
        ),
        *(
            (f"process {p.pid}", f"{p.name or '?'}, {na(p.used_memory_mib, ' MiB')}")
            for p in g.processes
        ),
    ]


def _limits(g: GpuInfo) -> str | None:
    if g.power_limit_default_w is None:
        return None
    low, high = g.power_limit_min_w, g.power_limit_max_w
    bounds = f" ({low:g}-{high:g} W)" if low is not None and high is not None else ""
    return f"{g.power_limit_default_w:g} W{bounds}"


def _gsp(g: GpuInfo) -> str | None:
    if g.gsp_firmware_enabled is None:
        return None
    state = "on" if g.gsp_firmware_enabled else "off"
    return f"{state}, {g.gsp_firmware_version}" if g.gsp_firmware_version else state


def _nvlinks(g: GpuInfo) -> str | None:
    if not g.nvlink_count:
        return None
    # The errors are all on the links the report keeps (those down or counting one).
    errors = sum(link.error_total for link in g.nvlinks or ())
    up = g.nvlinks_up or 0
    speed = g.nvlink_speed_mbps
    slower = sum(
        1 for link in g.nvlinks or () if speed and link.speed_mbps and link.speed_mbps < speed
    )
    return (
        f"{up} / {g.nvlink_count}"
        # per link, as nvidia-smi nvlink -s shows it: "18 / 18 at 26.562 GB/s" read as the
        # GPU's whole NVLink bandwidth, which on an H100 is eighteen such links
        + (f", {speed / 1000:.3f} GB/s per link" if speed else "")
        + (f", {slower} slower" if slower else "")
        + (f", {errors} errors counted" if errors else "")
    )


def _hardware_sections(report: Report) -> list[Section]:
    """The kernel log's Xid counts, the InfiniBand ports and the IOMMU."""
    hw = report.hardware
    if hw is None:
        return []
    found = []
    log = hw.kernel_log
    if log is not None:
        pairs: list[tuple[str, str | None]] = [
            ("status", log.status),
            ("source", log.source),
            ("window", None if log.window_h is None else f"{log.window_h:g} h since {log.since}"),
            ("covered from", log.covered_from),
            ("lines read", f"{log.lines_read:,} ({log.bytes_read:,} bytes)"),
            ("cut at its bound", "yes" if log.truncated else None),
            ("why unreadable", log.message or None),
        ]
        pairs += [
            (
                f"{c.kind.upper() if c.kind == 'sxid' else 'Xid'} {c.code} at {c.pci}",
                f"{c.count}x, last {c.last or '?'}: {c.last_message}",
            )
            for c in log.counts
        ]
        pairs += [
            (
                f"RmInitAdapter failed at {f.pci or 'an unnamed GPU'}",
                f"{f.count} lines, last {f.last or '?'}: {f.last_message}",
            )
            for f in log.init_failures or ()
        ]
        found.append(_kv("Kernel log", pairs))
    found.append(_ib_section(hw.ib_ports))
    iommu = hw.iommu
    if iommu is not None and (iommu.groups or iommu.gpu_groups or iommu.bridges):
        iommu_pairs: list[tuple[str, str | None]] = [
            ("IOMMU groups", str(iommu.groups)),
            ("kernel switches", " ".join(iommu.cmdline) or None),
        ]
        iommu_pairs += [(f"GPU {pci}", kind) for pci, kind in sorted(iommu.gpu_groups.items())]
        iommu_pairs += _acs_pairs(iommu)
        found.append(_kv("IOMMU", iommu_pairs))
    return found


def _ib_section(ports: tuple[IbPort, ...]) -> Section:
    """One row per port; the card's chip (``hca_type``) and PSID (``board_id``) after the port
    where the report has them, which tell a storage or front-end card from the GPU rails (a
    report written before 2026-12-08 has neither, and its table keeps its columns)."""
    cards = any(p.hca_type or p.board_id for p in ports)
    headers: tuple[str, ...] = (
        "Port",
        "State",
        "Physical",
        "Rate",
        "Link layer",
        "Downed",
        "Symbol errors",
    )
    if cards:
        headers = (headers[0], "Card", *headers[1:])
    rows = []
    for p in ports:
        card = (f"{na(p.hca_type)} {na(p.board_id)}",) if cards else ()
        rows.append(
            (
                f"{p.device}/{p.port}",
                *card,
                na(p.state),
                na(p.phys_state),
                na(p.rate),
                na(p.link_layer),
                na(p.link_downed),
                na(p.symbol_error),
            )
        )
    return Section("InfiniBand/RoCE ports", headers, tuple(rows))


ACS_SHOWN = 8
"""Bridges with ACS redirect on named one per line (the finding names them too)."""


def _bridges(count: int) -> str:
    return f"{count} bridge{'s' if count != 1 else ''}"


def _acs_pairs(iommu: IommuInfo) -> list[tuple[str, str | None]]:
    """A line on the ACS of the bridges above the GPUs, and one per bridge redirecting."""
    bridges = iommu.bridges or ()
    if not bridges:
        return []
    if iommu.acs_readable is False:
        return [("PCIe ACS", f"{_bridges(len(bridges))} above the GPUs; reading ACS needs root")]
    read = [b for b in bridges if b.status == "read"]
    redirecting = [b for b in read if b.redirects]
    unreadable = sum(1 for b in bridges if b.status not in ("read", "absent"))
    summary = f"{_bridges(len(bridges))} above the GPUs, {len(read)} with ACS"
    summary += f", {unreadable} unreadable" if unreadable else ""
    if redirecting:
        summary += f", redirect on at {len(redirecting)}"
    elif read:
        summary += ", no redirect on"  # of bridges not read, nothing is known
    pairs: list[tuple[str, str | None]] = [("PCIe ACS", summary)]
    pairs += [(f"ACS {b.bridge}", " ".join(b.enabled)) for b in redirecting[:ACS_SHOWN]]
    if len(redirecting) > ACS_SHOWN:
        pairs.append(("ACS ...", f"{len(redirecting) - ACS_SHOWN} more redirecting"))
    return pairs


def _library_section(report: Report) -> Section:
    cuda = report.cuda
    rows = [
        (
            lib.name,
            lib.version or "–",
            lib.origin or "–",
            lib.path or lib.error or lib.soname or "–",
        )
        for lib in cuda.libraries
    ]
    if cuda.libcuda_path or cuda.libcuda_error:
        rows.insert(
            0,
            (
                "libcuda",
                cuda.driver_version or "–",
                "driver",
                cuda.libcuda_path or cuda.libcuda_error or "–",
            ),
        )
    return Section("CUDA libraries", ("Library", "Version", "From", "Path"), tuple(rows))


def _framework_sections(report: Report) -> list[Section]:
    return [
        _kv(AREA_LABELS.get(fw.name, fw.name), _framework_pairs(fw)) for fw in report.frameworks
    ]


def _framework_pairs(fw: FrameworkInfo) -> list[tuple[str, str | None]]:
    build = None if fw.cuda_build is None else ("CUDA" if fw.cuda_build else "CPU only")
    return [
        ("status", fw.status),
        ("message", fw.message or None),
        ("version", fw.version),
        ("build", build),
        ("built for CUDA", fw.build_cuda),
        (
            "cuDNN built with / loaded",
            _pair(fw.build_cudnn, fw.cudnn_runtime, "")
            if fw.build_cudnn or fw.cudnn_runtime
            else None,
        ),
        ("CUDA available", _yes_no(fw.cuda_available)),
        ("device count", None if fw.device_count is None else str(fw.device_count)),
        *(
            (
                f"device {d.index}",
                f"{d.name or '?'} ({d.compute_capability or '?'})"
                + (
                    ""
                    if d.smoke_ok is None
                    else (
                        ", usable: smoke test ok"
                        if d.smoke_ok
                        else ", not usable: smoke test FAILED"
                    )
                )
                + (f": {d.smoke_error}" if d.smoke_error else ""),
            )
            for d in fw.devices
        ),
        ("arch list", " ".join(fw.arch_list) or None),
        ("init error", fw.init_error),
        *(
            (f"failed {lib.soname or lib.name}", lib.error or "not found")
            for lib in fw.failed_libraries
        ),
        (
            "cuDNN file",
            None
            if fw.cudnn_library is None
            else f"{fw.cudnn_library.path} ({fw.cudnn_library.version or '?'}, "
            f"{fw.cudnn_library.origin or '?'})",
        ),
        ("loaded libraries", ", ".join(fw.loaded_libraries) or None),
        ("requires", ", ".join(fw.requires) or None),
        ("Python", fw.python_version),
    ]


def _toolchain_section(report: Report) -> Section:
    tc = report.toolchain
    if tc is None:
        return _kv("Build toolchain", [])
    home = f"{tc.cuda_home} (from {tc.cuda_home_from})" if tc.cuda_home else None
    cache = ", ".join(tc.libcuda_cache) or "no libcuda entry" if tc.ldconfig_read else None
    pairs: list[tuple[str, str | None]] = [
        ("CUDA toolkit", home),
        ("nvcc", f"{tc.nvcc} (CUDA {tc.nvcc_version or '?'})" if tc.nvcc else None),
        ("ptxas", tc.ptxas),
        ("linker cache", cache),
    ]
    pairs += [
        (c.name, f"{c.path}" + (f" ({c.version})" if c.version else "")) for c in tc.compilers
    ]
    return _kv("Build toolchain", pairs)


def _device_access_section(report: Report) -> Section:
    access = report.device_access
    if access is None:
        return _kv("Device access", [])
    pairs: list[tuple[str, str | None]] = [
        ("cgroup", access.cgroup_version),
        ("cgroup path", access.cgroup_path),
        ("unit's device policy", "; ".join(access.unit_devices or ()) or None),
        ("devices.list", "; ".join(access.devices_list) or None),
        ("SELinux", access.selinux),
        ("AppArmor", _yes_no(access.apparmor)),
        ("process label", access.security_context),
    ]
    for node in access.nodes:
        opened = {True: "opened", False: f"not opened: {node.open_error}", None: None}
        detail = ", ".join(x for x in (node.mode, opened[node.opened]) if x)
        pairs.append((node.path, detail or "present"))
    return _kv("Device access", pairs)


def _unavailable(report: Report) -> Iterator[Unavailable]:
    yield from report.host.errors
    yield from report.driver.errors
    yield from report.nvml.errors
    for gpu in report.nvml.gpus:
        yield from gpu.errors
    if report.hardware is not None:
        yield from report.hardware.errors
    if report.toolchain is not None:
        yield from report.toolchain.errors
    if report.device_access is not None:
        yield from report.device_access.errors
