"""Read everything gpudoctor needs from an NVML-like object into an NvmlInfo; never raises."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from gpudoctor.model.report import (
    ExcludedGpu,
    GpuInfo,
    GpuProcess,
    MigDevice,
    NvLink,
    NvmlInfo,
    Unavailable,
)
from gpudoctor.probe import nvml_api as api
from gpudoctor.probe.nvml_api import NvmlLike

_MIB = 1024 * 1024
MAX_DEVICES = 64
"""The most GPUs, and MIG devices of one GPU, read: more than any machine has (an HGX board
has 8 GPUs, a GPU at most 7 MIG devices). A larger count is a broken library's number (an
uninitialised 4294967295): reading that many handles took minutes and gigabytes."""

# Newest first. nvidia-ml-py's unversioned nvmlDeviceGetComputeRunningProcesses always calls
# _v3 and raises NVMLLibraryMismatchError (not NVMLError) on drivers without it (R470 era),
# so the versions are asked one by one; the unversioned name is last, for old bindings.
PROCESS_FUNCTIONS = (
    "nvmlDeviceGetComputeRunningProcesses_v3",
    "nvmlDeviceGetComputeRunningProcesses_v2",
    "nvmlDeviceGetComputeRunningProcesses",
)
# nvmlDeviceGetTemperature is deprecated ("will be removed in CUDA 14.0", nvidia-ml-py);
# drivers older than its successor only have the old one.
TEMPERATURE_FUNCTIONS = ("nvmlDeviceGetTemperatureV", "nvmlDeviceGetTemperature")

_INIT_CAUSES = {
    "library_not_found": "libnvidia-ml.so.1 (nvml.dll) could not be loaded",
    "driver_not_loaded": "the NVIDIA kernel driver is not loaded",
    "lib_rm_version_mismatch": "the NVML library and the loaded kernel module differ in version",
    "no_permission": "no permission to open the NVIDIA device files",
}


def decode_cuda_version(value: int) -> str:
    """12040 -> ``12.4``; a non-zero revision digit is kept (12041 -> ``12.4.1``)."""
    major, minor, rev = value // 1000, (value % 1000) // 10, value % 10
    return f"{major}.{minor}.{rev}" if rev else f"{major}.{minor}"


def text(value: Any) -> str:
    """NVML strings arrive as ``str`` or ``bytes`` depending on the binding version."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace").rstrip("\x00")
    return str(value)


@dataclass
class _Failure:
    code: str
    message: str


class _GpuLostError(Exception):
    """Raised inside the per-GPU reader to stop querying a GPU that fell off the bus."""


@dataclass
class _Session:
    nvml: NvmlLike
    missing: list[str] = field(default_factory=list)

    def call(self, name: str, *args: Any) -> Any:
        """The call's value, or a :class:`_Failure`; FunctionNotFound is remembered once."""
        if name in self.missing:
            return _Failure("function_not_found", f"{name} is not available")
        try:
            fn = getattr(self.nvml, name)
        except AttributeError:
            self._note_missing(name)
            return _Failure("function_not_found", f"{name} is not in these NVML bindings")
        try:
            return fn(*args)
        except self.nvml.NVMLError as exc:
            code = getattr(exc, "value", None)
            if code == api.FUNCTION_NOT_FOUND:
                self._note_missing(name)
            return _Failure(api.error_name(code), str(exc) or api.error_name(code))
        except Exception as exc:  # a broken binding must not end the probe
            if isinstance(exc, getattr(self.nvml, "NVMLLibraryMismatchError", ())):
                # nvidia-ml-py's unversioned wrapper found its newest C function missing.
                self._note_missing(name)
                return _Failure("function_not_found", f"{name}: {exc}")
            return _Failure("exception", f"{type(exc).__name__}: {exc}")

    def _note_missing(self, name: str) -> None:
        if name not in self.missing:
            self.missing.append(name)


@dataclass
class _GpuReader:
    """Fills the fields of one GpuInfo, one wrapped NVML call at a time."""

    session: _Session
    index: int
    handle: Any
    values: dict[str, Any] = field(default_factory=dict)
    errors: list[Unavailable] = field(default_factory=list)
    lost: bool = False

    def read(self, fields: str | tuple[str, ...], fn: str, *args: Any) -> Any:
        """Call ``fn(handle, *args)``; on failure record ``fields`` as Unavailable, return None."""
        result = self.session.call(fn, self.handle, *args)
        if not isinstance(result, _Failure):
            return result
        if result.code == "function_not_found":
            return None
        for name in (fields,) if isinstance(fields, str) else fields:
            self.errors.append(
                Unavailable(
                    field=f"gpu[{self.index}].{name}", code=result.code, message=result.message
                )
            )
        if result.code == "gpu_is_lost":
            self.lost = True
            raise _GpuLostError
        return None

    def read_first(self, fields: str | tuple[str, ...], fns: tuple[str, ...], *args: Any) -> Any:
        """Like :meth:`read` with the first of ``fns`` (newest first) this driver has."""
        for fn in fns:
            value = self.read(fields, fn, *args)
            if value is not None or fn not in self.session.missing:
                return value
        return None

    def put(self, name: str, fn: str, convert: Callable[[Any], Any], *args: Any) -> None:
        raw = self.read(name, fn, *args)
        if raw is not None:
            self.values[name] = convert(raw)


def collect_nvml(nvml: NvmlLike) -> NvmlInfo:
    """Initialise NVML, read the system and every GPU, shut down; errors become data."""
    session = _Session(nvml)
    init = session.call("nvmlInit")
    if isinstance(init, _Failure):
        status = {"unknown": "unknown_error", "exception": "unknown_error"}.get(
            init.code, init.code
        )
        cause = _INIT_CAUSES.get(status, "")
        # pynvml's texts differ in a final full stop ("...version mismatch."); drop it so the
        # cause reads as part of one sentence.
        text = init.message.rstrip(". ")
        message = f"nvmlInit failed: {text}" + (f" ({cause})" if cause else "")
        return NvmlInfo(status=status, message=message, missing_functions=tuple(session.missing))
    try:
        return _collect_initialised(session)
    finally:
        session.call("nvmlShutdown")


def _collect_initialised(session: _Session) -> NvmlInfo:
    errors: list[Unavailable] = []

    def system(name: str, fn: str) -> Any:
        result = session.call(fn)
        if isinstance(result, _Failure):
            if result.code != "function_not_found":
                errors.append(
                    Unavailable(field=f"nvml.{name}", code=result.code, message=result.message)
                )
            return None
        return result

    driver = system("driver_version", "nvmlSystemGetDriverVersion")
    nvml_version = system("nvml_version", "nvmlSystemGetNVMLVersion")
    cuda, source, v2_error = _cuda_driver_version(session, errors)
    count = system("device_count", "nvmlDeviceGetCount")
    gpus = tuple(
        _collect_gpu(session, i) for i in range(_bounded(count, "nvml.device_count", errors))
    )
    excluded = _excluded_gpus(session, errors)
    return NvmlInfo(
        status="ok",
        driver_version=text(driver) if driver is not None else None,
        nvml_version=text(nvml_version) if nvml_version is not None else None,
        cuda_driver_version=cuda,
        cuda_driver_version_source=source,
        cuda_v2_error=v2_error,
        gpus=gpus,
        excluded_gpus=excluded,
        missing_functions=tuple(session.missing),
        errors=tuple(errors),
    )


def _bounded(count: Any, name: str, errors: list[Unavailable], most: int = MAX_DEVICES) -> int:
    """``count`` as a number of devices to read, at most ``most`` (said if cut)."""
    n = int(count or 0)
    if n > most:
        errors.append(
            Unavailable(
                field=name,
                code="out_of_range",
                message=f"NVML counts {n} devices, more than any machine has: the first "
                f"{most} were read",
            )
        )
    return max(0, min(n, most))


MAX_EXCLUDED = 64
"""At most this many excluded GPUs are read (a node has 8 or 16; a count above is bad data)."""


def _excluded_gpus(session: _Session, errors: list[Unavailable]) -> tuple[ExcludedGpu, ...] | None:
    """The GPUs the driver excluded on purpose (``NVreg_ExcludedGpus``): their PCI bus id and
    UUID; empty where none is excluded. None where the driver or the bindings lack the calls
    (silent, as the fabric and virtualization calls: a missing call here is no news for the
    NVML-functions finding) or the count failed (recorded as ``nvml.excluded_gpus``)."""
    count = session.call("nvmlGetExcludedDeviceCount")
    if isinstance(count, _Failure):
        session.missing[:] = [n for n in session.missing if n != "nvmlGetExcludedDeviceCount"]
        if count.code not in _QUIET:
            errors.append(
                Unavailable(field="nvml.excluded_gpus", code=count.code, message=count.message)
            )
        return None
    found = []
    for index in range(_bounded(count, "nvml.excluded_gpus", errors, MAX_EXCLUDED)):
        info = session.call("nvmlGetExcludedDeviceInfoByIndex", index)
        if isinstance(info, _Failure):
            session.missing[:] = [
                n for n in session.missing if n != "nvmlGetExcludedDeviceInfoByIndex"
            ]
            errors.append(
                Unavailable(
                    field=f"nvml.excluded_gpus[{index}]", code=info.code, message=info.message
                )
            )
            continue
        pci = getattr(info, "pci", None)
        bus_id = text(getattr(pci, "busId", b"")) if pci is not None else ""
        uuid = text(getattr(info, "uuid", b""))
        found.append(ExcludedGpu(pci_bus_id=bus_id or None, uuid=uuid or None))
    return tuple(found)


def _cuda_driver_version(
    session: _Session, errors: list[Unavailable]
) -> tuple[str | None, str | None, str | None]:
    # v2 asks libcuda itself; v1 falls back to a built-in number when libcuda is missing, so
    # "v2 failed, v1 answered" is the signature of a container without the compute libraries.
    v2 = session.call("nvmlSystemGetCudaDriverVersion_v2")
    if not isinstance(v2, _Failure):
        return decode_cuda_version(int(v2)), "v2", None
    v1 = session.call("nvmlSystemGetCudaDriverVersion")
    if not isinstance(v1, _Failure):
        return decode_cuda_version(int(v1)), "v1", v2.code
    errors.append(Unavailable(field="nvml.cuda_driver_version", code=v1.code, message=v1.message))
    return None, None, v2.code


def _collect_gpu(session: _Session, index: int) -> GpuInfo:
    handle = session.call("nvmlDeviceGetHandleByIndex", index)
    if isinstance(handle, _Failure):
        return GpuInfo(
            index=index,
            lost=True,
            errors=(Unavailable(field=f"gpu[{index}]", code=handle.code, message=handle.message),),
        )
    reader = _GpuReader(session, index, handle)
    try:
        _read_identity(reader)
        _read_health(reader)
        _read_modes(reader)
        _read_fabric(reader)
        _read_settings(reader)
        _read_nvlinks(reader)
        _read_virtualization(reader)
    except _GpuLostError:
        pass
    return GpuInfo(index=index, lost=reader.lost, errors=tuple(reader.errors), **reader.values)


FABRIC_STATES = {0: "not_supported", 1: "not_started", 2: "in_progress", 3: "completed"}
"""``nvmlGpuFabricState_t``: NVSwitch fabric registration, which Fabric Manager completes."""


def _read_fabric(r: _GpuReader) -> None:
    """The GPU's NVSwitch fabric state, where the bindings and the driver have the call.

    Silent otherwise: most GPUs have no fabric, and a missing call here is no news for the
    NVML-functions finding (the kernel-driver probe finds NVSwitches on the PCI bus anyway).
    """
    import ctypes

    fn = getattr(r.session.nvml, "nvmlDeviceGetGpuFabricInfo", None)
    struct = getattr(r.session.nvml, "c_nvmlGpuFabricInfo_t", None)
    if fn is None or struct is None:
        return
    info = struct()
    try:
        fn(r.handle, ctypes.byref(info))
    except Exception:  # NOT_SUPPORTED, FUNCTION_NOT_FOUND, an odd binding: nothing to record
        return
    state = int(getattr(info, "state", -1))
    r.values["fabric_state"] = FABRIC_STATES.get(state, f"unknown ({state})")


# Settings that cost performance without an error: where the driver cannot say (deprecated,
# not supported), the field stays null and no Unavailable is recorded: that is no news.
_QUIET = frozenset({"not_supported", "deprecated", "function_not_found", "invalid_argument"})


def _quiet(r: _GpuReader, name: str, fn: str, *args: Any) -> Any:
    """Call ``fn``; a quiet failure gives None, a loud one (no permission, lost) is recorded."""
    result = r.session.call(fn, r.handle, *args)
    if not isinstance(result, _Failure):
        return result
    if result.code not in _QUIET:
        r.errors.append(
            Unavailable(field=f"gpu[{r.index}].{name}", code=result.code, message=result.message)
        )
        if result.code == "gpu_is_lost":
            r.lost = True
            raise _GpuLostError
    return None


def _read_settings(r: _GpuReader) -> None:
    """Power limits, applications clocks, BAR1 and GSP firmware: settings that cost speed."""
    default = _quiet(r, "power_limit_default_w", "nvmlDeviceGetPowerManagementDefaultLimit")
    if default is not None:
        r.values["power_limit_default_w"] = int(default) / 1000.0
    requested = _quiet(r, "power_limit_requested_w", "nvmlDeviceGetPowerManagementLimit")
    if requested is not None:
        r.values["power_limit_requested_w"] = int(requested) / 1000.0
    bounds = _quiet(r, "power_limit_max_w", "nvmlDeviceGetPowerManagementLimitConstraints")
    if bounds is not None:
        r.values["power_limit_min_w"] = int(bounds[0]) / 1000.0
        r.values["power_limit_max_w"] = int(bounds[1]) / 1000.0
    app = _quiet(r, "app_clock_graphics_mhz", "nvmlDeviceGetApplicationsClock", api.CLOCK_GRAPHICS)
    if app is not None:
        r.values["app_clock_graphics_mhz"] = int(app)
    app_default = _quiet(
        r,
        "app_clock_graphics_default_mhz",
        "nvmlDeviceGetDefaultApplicationsClock",
        api.CLOCK_GRAPHICS,
    )
    if app_default is not None:
        r.values["app_clock_graphics_default_mhz"] = int(app_default)
    bar1 = _quiet(r, "bar1_total_mib", "nvmlDeviceGetBAR1MemoryInfo")
    if bar1 is not None:
        r.values["bar1_total_mib"] = int(bar1.bar1Total) // _MIB
    gsp = _quiet(r, "gsp_firmware_enabled", "nvmlDeviceGetGspFirmwareMode")
    if gsp is not None:
        r.values["gsp_firmware_enabled"] = int(gsp[0]) == 1
        r.values["gsp_firmware_default"] = int(gsp[1]) == 1
    version = _quiet(r, "gsp_firmware_version", "nvmlDeviceGetGspFirmwareVersion")
    if version is not None and text(version):
        r.values["gsp_firmware_version"] = text(version)


_NVLINK_COUNTERS = (
    ("crc_flit_errors", api.NVLINK_ERROR_DL_CRC_FLIT),
    ("crc_data_errors", api.NVLINK_ERROR_DL_CRC_DATA),
    ("replay_errors", api.NVLINK_ERROR_DL_REPLAY),
    ("recovery_errors", api.NVLINK_ERROR_DL_RECOVERY),
)


def _read_nvlinks(r: _GpuReader) -> None:
    """The NVLinks' count, how many are up, their version and speed, and the links that are
    down, count errors or run slower than the GPU's fastest link (state, counters, speed),
    link 0 upwards until the first link the GPU does not have (NOT_SUPPORTED or
    INVALID_ARGUMENT): a count of 0 and ``()`` for a GPU without NVLink.

    A counter the driver does not keep stays null; so do all of them when the call is missing
    (old drivers). On Hopper this per-link call is the one that counts: the legacy NVLink
    error field values answer zero there, and nvidia-smi reads these counters
    (DataDog/datadog-agent#55966). A GPU
    in MIG mode answers no NVLink query: its links stay null (unknown).
    """
    if r.values.get("mig_enabled"):
        return  # "Nvlink queries are not supported for Devices in MIG mode" (nvidia-smi)
    count = 0
    version: int | None = None
    down: list[NvLink] = []
    up: list[NvLink] = []
    for link in range(api.NVLINK_MAX_LINKS):
        state = r.session.call("nvmlDeviceGetNvLinkState", r.handle, link)
        if isinstance(state, _Failure):
            if state.code == "function_not_found":
                return  # an old driver or binding: unknown, not "no NVLink"
            if state.code in _QUIET:
                break
            r.errors.append(
                Unavailable(field=f"gpu[{r.index}].nvlinks", code=state.code, message=state.message)
            )
            if state.code == "gpu_is_lost":
                r.lost = True
                raise _GpuLostError
            return  # no permission, timeout: unknown, not "no NVLink"
        count += 1
        if int(state) != 1:
            # A link that is down has nothing to count; each call may be a firmware round
            # trip (GSP), and an 8-GPU board has 144 links.
            down.append(NvLink(link=link, active=False))
            continue
        values: dict[str, int | None] = {}
        got = r.session.call("nvmlDeviceGetNvLinkVersion", r.handle, link)
        values["version"] = None if isinstance(got, _Failure) else int(got)
        if not up:
            version = values["version"]
        for name, counter in _NVLINK_COUNTERS:
            n = r.session.call("nvmlDeviceGetNvLinkErrorCounter", r.handle, link, counter)
            values[name] = None if isinstance(n, _Failure) else int(n)
        up.append(NvLink(link=link, active=True, **values))
    speeds = _nvlink_speeds(r, [link.link for link in up])
    fastest = max(speeds.values(), default=None)
    notable = list(down)
    for nvlink in up:
        speed = speeds.get(nvlink.link)
        slow = speed is not None and fastest is not None and speed < fastest
        # A healthy link carries nothing worth a line: only the count, version and speed keep it.
        if nvlink.error_total or slow:
            # the speed only where it differs: a link at full speed reads it from the GPU's
            notable.append(replace(nvlink, speed_mbps=speed if slow else None))
    r.values["nvlink_count"] = count
    r.values["nvlinks_up"] = len(up)
    r.values["nvlink_version"] = version
    r.values["nvlink_speed_mbps"] = fastest
    r.values["nvlinks"] = tuple(sorted(notable, key=lambda n: n.link))


def _nvlink_speeds(r: _GpuReader, links: list[int]) -> dict[int, int]:
    """Each active link's speed in MBps (``NVML_FI_DEV_NVLINK_GET_SPEED``, the link as the
    field's scope), all in one ``nvmlDeviceGetFieldValues`` call with each link's power state
    (``NVML_FI_DEV_NVLINK_GET_POWER_STATE``): one driver round trip, not one per link.

    Left out: a link whose speed NVML does not give (an older driver answers NOT_SUPPORTED for
    the field), a zero (NCCL reads it as no speed), and a link NVML says is in its low-power
    state, idle and slower by design: judged slow, it would be a false alarm on an idle node.
    """
    if not links:
        return {}
    asked = [(field, link) for link in links for field in _SPEED_FIELDS]
    got = _quiet(r, "nvlink_speed_mbps", "nvmlDeviceGetFieldValues", asked)
    if got is None:
        return {}
    try:
        values = [_field_value(entry) for entry in got]
    except TypeError:  # a broken binding's answer: no speeds, not a failed probe
        return {}
    values += [None] * (len(asked) - len(values))  # a binding that answered fewer
    speeds: dict[int, int] = {}
    for i, link in enumerate(links):
        speed, power = values[2 * i], values[2 * i + 1]
        if power == api.NVLINK_POWER_STATE_LOW:
            continue
        if speed is not None and speed > 0:
            speeds[link] = speed
    return speeds


_SPEED_FIELDS = (api.FI_DEV_NVLINK_GET_SPEED, api.FI_DEV_NVLINK_GET_POWER_STATE)


def _field_value(entry: Any) -> int | None:
    """One ``nvmlFieldValue_t``'s value as an int, or None where NVML gave none."""
    if getattr(entry, "nvmlReturn", None) != 0:
        return None
    member = api.FIELD_VALUE_MEMBERS.get(getattr(entry, "valueType", 1), "uiVal")
    try:
        return int(getattr(entry.value, member))
    except (AttributeError, TypeError, ValueError, OverflowError):
        return None


VIRTUALIZATION_MODES = {0: "none", 1: "passthrough", 2: "vgpu", 3: "host_vgpu", 4: "host_vsga"}
"""``nvmlGpuVirtualizationMode_t``."""


def _read_virtualization(r: _GpuReader) -> None:
    """The GPU's virtualization mode and, in a vGPU guest, whether a licence is
    held (an unlicensed vGPU loses CUDA once its grace period ends).

    Silent where the bindings or the driver lack the calls (drivers before R470 have no
    licensable-features v4; GeForce answers Not Supported): most GPUs are bare metal, and a
    missing call here is no news for the NVML-functions finding.
    """
    get_mode = getattr(r.session.nvml, "nvmlDeviceGetVirtualizationMode", None)
    if get_mode is None:
        return
    try:
        mode = int(get_mode(r.handle))
    except Exception:  # NOT_SUPPORTED, FUNCTION_NOT_FOUND: nothing to record
        return
    r.values["virtualization_mode"] = VIRTUALIZATION_MODES.get(mode, f"unknown ({mode})")
    get_features = getattr(r.session.nvml, "nvmlDeviceGetGridLicensableFeatures", None)
    # Only a vGPU (mode 2) needs a licence for CUDA: a passthrough GPU in a cloud VM has none
    # and computes all the same, so its licence state would only mislead.
    if mode != 2 or get_features is None:
        return
    try:
        features = get_features(r.handle)
        if not int(features.isGridLicenseSupported):
            return
        count = int(features.licensableFeaturesCount)
        states = [int(f.featureState) for f in list(features.gridLicensableFeatures)[:count]]
    except Exception:  # an old driver or an odd binding: the licence state stays unknown
        return
    # featureState is non-zero for a feature that is currently licensed (nvml.h).
    r.values["vgpu_licensed"] = any(states)


def _read_identity(r: _GpuReader) -> None:
    r.put("name", "nvmlDeviceGetName", text)
    r.put("uuid", "nvmlDeviceGetUUID", text)
    r.put("serial", "nvmlDeviceGetSerial", text)
    r.put("pci_bus_id", "nvmlDeviceGetPciInfo", lambda p: text(p.busId))
    mem = r.read(("memory_total_mib", "memory_used_mib"), "nvmlDeviceGetMemoryInfo")
    if mem is not None:
        r.values["memory_total_mib"] = int(mem.total) // _MIB
        r.values["memory_used_mib"] = int(mem.used) // _MIB
    r.put("compute_capability", "nvmlDeviceGetCudaComputeCapability", lambda cc: f"{cc[0]}.{cc[1]}")
    r.put(
        "architecture",
        "nvmlDeviceGetArchitecture",
        lambda a: api.ARCHITECTURES.get(int(a), f"unknown ({a})"),
    )


def _read_health(r: _GpuReader) -> None:
    temperature = r.read_first("temperature_c", TEMPERATURE_FUNCTIONS, api.TEMPERATURE_GPU)
    if temperature is not None:
        r.values["temperature_c"] = int(temperature)
    r.put("power_draw_w", "nvmlDeviceGetPowerUsage", lambda mw: int(mw) / 1000.0)
    r.put("power_limit_w", "nvmlDeviceGetEnforcedPowerLimit", lambda mw: int(mw) / 1000.0)
    r.put("sm_clock_mhz", "nvmlDeviceGetClockInfo", int, api.CLOCK_SM)
    r.put("sm_clock_max_mhz", "nvmlDeviceGetMaxClockInfo", int, api.CLOCK_SM)
    r.put("utilization_gpu_pct", "nvmlDeviceGetUtilizationRates", lambda u: int(u.gpu))
    r.put("pcie_gen", "nvmlDeviceGetCurrPcieLinkGeneration", int)
    r.put("pcie_gen_max", "nvmlDeviceGetMaxPcieLinkGeneration", int)
    r.put("pcie_width", "nvmlDeviceGetCurrPcieLinkWidth", int)
    r.put("pcie_width_max", "nvmlDeviceGetMaxPcieLinkWidth", int)
    ecc = r.read(("ecc_enabled", "ecc_pending"), "nvmlDeviceGetEccMode")
    if ecc is not None:
        r.values["ecc_enabled"] = int(ecc[0]) == 1
        r.values["ecc_pending"] = int(ecc[1]) == 1
    r.put(
        "ecc_uncorrected_volatile",
        "nvmlDeviceGetTotalEccErrors",
        int,
        api.MEMORY_ERROR_TYPE_UNCORRECTED,
        api.VOLATILE_ECC,
    )
    r.put(
        "ecc_uncorrected_aggregate",
        "nvmlDeviceGetTotalEccErrors",
        int,
        api.MEMORY_ERROR_TYPE_UNCORRECTED,
        api.AGGREGATE_ECC,
    )
    r.put("retired_pages_sbe", "nvmlDeviceGetRetiredPages", len, api.PAGE_RETIREMENT_CAUSE_SBE)
    r.put("retired_pages_dbe", "nvmlDeviceGetRetiredPages", len, api.PAGE_RETIREMENT_CAUSE_DBE)
    r.put("retired_pages_pending", "nvmlDeviceGetRetiredPagesPendingStatus", lambda s: int(s) == 1)
    rows = r.read(
        (
            "remapped_rows_correctable",
            "remapped_rows_uncorrectable",
            "remap_pending",
            "remap_failure",
        ),
        "nvmlDeviceGetRemappedRows",
    )
    if rows is not None:
        corr, unc, pending, failure = (int(x) for x in rows)
        r.values.update(
            remapped_rows_correctable=corr,
            remapped_rows_uncorrectable=unc,
            remap_pending=pending != 0,
            remap_failure=failure != 0,
        )
    _read_inforom(r)
    _read_clock_events(r)


def _read_inforom(r: _GpuReader) -> None:
    result = r.session.call("nvmlDeviceValidateInforom", r.handle)
    if not isinstance(result, _Failure):
        r.values["inforom_valid"] = True
    elif result.code == "corrupted_inforom":
        r.values["inforom_valid"] = False
    elif result.code == "gpu_is_lost":
        r.read("inforom_valid", "nvmlDeviceValidateInforom")
    elif result.code != "function_not_found":
        r.errors.append(
            Unavailable(
                field=f"gpu[{r.index}].inforom_valid", code=result.code, message=result.message
            )
        )


def _read_clock_events(r: _GpuReader) -> None:
    # Renamed in NVML 12.2 (R535): "ClocksEventReasons" is the new name, "ClocksThrottleReasons"
    # the old one that older drivers and bindings still carry.
    value = r.read_first(
        "clock_event_reasons",
        ("nvmlDeviceGetCurrentClocksEventReasons", "nvmlDeviceGetCurrentClocksThrottleReasons"),
    )
    if value is not None:
        r.values["clock_event_reasons"] = int(value)


def _read_modes(r: _GpuReader) -> None:
    r.put("persistence_mode", "nvmlDeviceGetPersistenceMode", lambda m: int(m) == 1)
    r.put(
        "compute_mode",
        "nvmlDeviceGetComputeMode",
        lambda m: api.COMPUTE_MODES.get(int(m), f"unknown ({m})"),
    )
    mig = r.read(("mig_enabled", "mig_pending"), "nvmlDeviceGetMigMode")
    if mig is not None:
        r.values["mig_enabled"] = int(mig[0]) == 1
        r.values["mig_pending"] = int(mig[1]) == 1
        if r.values["mig_enabled"]:
            r.values["mig_devices"] = _read_mig_devices(r)
    procs = r.read_first("processes", PROCESS_FUNCTIONS)
    if procs is not None:
        r.values["processes"] = tuple(_process(r.session, p) for p in procs)


def _read_mig_devices(r: _GpuReader) -> tuple[MigDevice, ...]:
    count = r.read("mig_devices", "nvmlDeviceGetMaxMigDeviceCount")
    devices: list[MigDevice] = []
    for i in range(_bounded(count, f"gpu[{r.index}].mig_devices", r.errors)):
        handle = r.session.call("nvmlDeviceGetMigDeviceHandleByIndex", r.handle, i)
        if isinstance(handle, _Failure):
            if handle.code != "not_found":  # an empty slot is not an error
                r.errors.append(
                    Unavailable(
                        field=f"gpu[{r.index}].mig_devices[{i}]",
                        code=handle.code,
                        message=handle.message,
                    )
                )
            continue
        uuid = r.session.call("nvmlDeviceGetUUID", handle)
        name = r.session.call("nvmlDeviceGetName", handle)
        mem = r.session.call("nvmlDeviceGetMemoryInfo", handle)
        devices.append(
            MigDevice(
                index=i,
                uuid=None if isinstance(uuid, _Failure) else text(uuid),
                name=None if isinstance(name, _Failure) else text(name),
                memory_total_mib=None if isinstance(mem, _Failure) else int(mem.total) // _MIB,
            )
        )
    return tuple(devices)


def _process(session: _Session, proc: Any) -> GpuProcess:
    pid = int(proc.pid)
    used = getattr(proc, "usedGpuMemory", None)
    name = session.call("nvmlSystemGetProcessName", pid)
    return GpuProcess(
        pid=pid,
        name=None if isinstance(name, _Failure) else text(name),
        used_memory_mib=int(used) // _MIB if isinstance(used, int) else None,
    )
