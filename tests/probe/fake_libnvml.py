"""A fake libnvidia-ml: the C functions nvidia-ml-py calls, answering from an NVML scenario."""

from __future__ import annotations

import ctypes
from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest

from gpudoctor.probe.nvml_api import CODES
from tests.probe.fake_nvml import error_string, field_value, load_scenario

SUCCESS = 0
UNINITIALIZED = CODES["uninitialized"]
INVALID_ARGUMENT = CODES["invalid_argument"]
NOT_SUPPORTED = CODES["not_supported"]
NOT_FOUND = CODES["not_found"]
INSUFFICIENT_SIZE = CODES["insufficient_size"]
ARGUMENT_VERSION_MISMATCH = CODES["argument_version_mismatch"]

# NVML_VALUE_NOT_AVAILABLE for 64-bit fields: what WDDM reports as a process's used memory.
VALUE_NOT_AVAILABLE_ULL = 2**64 - 1
VALUE_NOT_AVAILABLE_UINT = 2**32 - 1

# Scenarios name functions as nvidia-ml-py does; these wrappers call a differently named C
# symbol, so a scenario's "missing_functions" entry must hide that symbol.
C_SYMBOL_OF = {
    "nvmlInit": "nvmlInitWithFlags",
    "nvmlDeviceGetCount": "nvmlDeviceGetCount_v2",
    "nvmlDeviceGetHandleByIndex": "nvmlDeviceGetHandleByIndex_v2",
    "nvmlDeviceGetPciInfo": "nvmlDeviceGetPciInfo_v3",
}

PROCESSES = "nvmlDeviceGetComputeRunningProcesses"
"""The scenario entry that every version of the running-processes call answers from."""


# --- nvml.h layouts, written here independently of nvidia-ml-py's own ctypes classes, so a
# field nvidia-ml-py (or gpudoctor) reads wrongly does not line up with what "C" wrote.
class CMemory(ctypes.Structure):
    """``nvmlMemory_t`` (v1): bytes."""

    _fields_ = [
        ("total", ctypes.c_ulonglong),
        ("free", ctypes.c_ulonglong),
        ("used", ctypes.c_ulonglong),
    ]


class CBar1Memory(ctypes.Structure):
    """``nvmlBAR1Memory_t``: bytes."""

    _fields_ = [
        ("bar1Total", ctypes.c_ulonglong),
        ("bar1Free", ctypes.c_ulonglong),
        ("bar1Used", ctypes.c_ulonglong),
    ]


class CUtilization(ctypes.Structure):
    """``nvmlUtilization_t``: percent."""

    _fields_ = [("gpu", ctypes.c_uint), ("memory", ctypes.c_uint)]


class CPciInfo(ctypes.Structure):
    """``nvmlPciInfo_t`` as filled by ``nvmlDeviceGetPciInfo_v3``."""

    _fields_ = [
        ("busIdLegacy", ctypes.c_char * 16),
        ("domain", ctypes.c_uint),
        ("bus", ctypes.c_uint),
        ("device", ctypes.c_uint),
        ("pciDeviceId", ctypes.c_uint),
        ("pciSubSystemId", ctypes.c_uint),
        ("busId", ctypes.c_char * 32),
    ]


class CExcludedDeviceInfo(ctypes.Structure):
    """``nvmlExcludedDeviceInfo_t``: the excluded GPU's PCI info and UUID."""

    _fields_ = [("pci", CPciInfo), ("uuid", ctypes.c_char * 80)]


class CTemperatureV1(ctypes.Structure):
    """``nvmlTemperature_v1_t``, the versioned struct of ``nvmlDeviceGetTemperatureV``."""

    _fields_ = [
        ("version", ctypes.c_uint),
        ("sensorType", ctypes.c_uint),
        ("temperature", ctypes.c_int),
    ]


# NVML_STRUCT_VERSION(Temperature, 1): the struct size in the low bits, the version above.
TEMPERATURE_V1 = ctypes.sizeof(CTemperatureV1) | (1 << 24)


class CProcessInfo(ctypes.Structure):
    """``nvmlProcessInfo_t``, the element of ``..._v3`` (and ``nvmlProcessInfo_v2_t``)."""

    _fields_ = [
        ("pid", ctypes.c_uint),
        ("usedGpuMemory", ctypes.c_ulonglong),
        ("gpuInstanceId", ctypes.c_uint),
        ("computeInstanceId", ctypes.c_uint),
    ]


class CValue(ctypes.Union):
    """``nvmlValue_t``."""

    _fields_ = [
        ("dVal", ctypes.c_double),
        ("uiVal", ctypes.c_uint),
        ("ulVal", ctypes.c_ulong),
        ("ullVal", ctypes.c_ulonglong),
        ("sllVal", ctypes.c_longlong),
        ("siVal", ctypes.c_int),
        ("usVal", ctypes.c_ushort),
    ]


class CFieldValue(ctypes.Structure):
    """``nvmlFieldValue_t``: the caller sets ``fieldId`` and ``scopeId``, NVML the rest."""

    _fields_ = [
        ("fieldId", ctypes.c_uint),
        ("scopeId", ctypes.c_uint),
        ("timestamp", ctypes.c_longlong),
        ("latencyUsec", ctypes.c_longlong),
        ("valueType", ctypes.c_uint),
        ("nvmlReturn", ctypes.c_uint),
        ("value", CValue),
    ]


class FakeLibUsageError(TypeError):
    """The binding called a C function in a way a real C library would misread (or overrun).

    ctypes would not notice (no argtypes are declared), so the fake is stricter than C: it
    raises, and the collector turns that into an ``exception`` field a test sees.
    """


class _Return(Exception):
    """Not an error: the early return of a "C" function, with its nvmlReturn_t."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


def _int_in(arg: Any, what: str) -> int:
    """An integer argument passed by value: a Python int or a ctypes integer object."""
    if isinstance(arg, int) and not isinstance(arg, bool):
        return arg
    if isinstance(arg, ctypes._SimpleCData) and isinstance(arg.value, int):
        return int(arg.value)
    raise FakeLibUsageError(f"{what}: expected an integer, got {type(arg).__name__}")


def _memory(arg: Any, what: str) -> tuple[int, int]:
    """Address and size of what a pointer argument points at (``byref``, ``pointer``, array)."""
    if arg is None:
        return 0, 0
    if type(arg).__name__ == "CArgObject":  # byref(x): the C function receives &x
        target = arg._obj
        return ctypes.addressof(target), ctypes.sizeof(target)
    if isinstance(arg, ctypes._Pointer):
        return ctypes.cast(arg, ctypes.c_void_p).value or 0, ctypes.sizeof(arg._type_)
    if isinstance(arg, ctypes.Array):  # an array decays to a pointer to its first element
        return ctypes.addressof(arg), ctypes.sizeof(arg)
    raise FakeLibUsageError(f"{what}: expected a pointer, got {type(arg).__name__}")


def _at(arg: Any, ctype: type[Any], what: str) -> Any:
    """The ``ctype`` object that a pointer argument points at, as C would see it."""
    address, size = _memory(arg, what)
    if address == 0:
        raise _Return(INVALID_ARGUMENT)  # NVML's answer to a NULL out-pointer
    if size != ctypes.sizeof(ctype):
        raise FakeLibUsageError(
            f"{what}: the binding passed {size} bytes, nvml.h has {ctypes.sizeof(ctype)}"
        )
    return ctype.from_address(address)


def _put(arg: Any, ctype: type[Any], value: int, what: str) -> None:
    _at(arg, ctype, what).value = value


def _put_string(buffer: Any, length: Any, value: str, what: str) -> None:
    """Copy ``value`` and its NUL into a ``char *`` buffer of ``length`` bytes, as NVML does."""
    if not (isinstance(buffer, ctypes.Array) and buffer._type_ is ctypes.c_char):
        raise FakeLibUsageError(f"{what}: expected a char buffer, got {type(buffer).__name__}")
    size = _int_in(length, f"{what} length")
    if size > ctypes.sizeof(buffer):
        raise FakeLibUsageError(f"{what}: length {size} > buffer of {ctypes.sizeof(buffer)}")
    data = value.encode("utf-8") + b"\0"
    if len(data) > size:
        raise _Return(INSUFFICIENT_SIZE)
    ctypes.memmove(buffer, data, len(data))


def _pci_info(entry: dict[str, Any], out: CPciInfo) -> None:
    bus_id = str(entry["busId"])  # "00000000:83:00.0": domain:bus:device.function
    domain, bus, rest = bus_id.split(":")
    out.domain, out.bus, out.device = int(domain, 16), int(bus, 16), int(rest.split(".")[0], 16)
    out.pciDeviceId = int(entry.get("pciDeviceId", 0))
    out.pciSubSystemId = int(entry.get("pciSubSystemId", 0))
    out.busId = bus_id.encode()
    out.busIdLegacy = f"{out.domain:04X}:{out.bus:02X}:{out.device:02X}.0".encode()


class CFunction:
    """One symbol of the fake library; takes ``restype``/``argtypes`` as a ctypes function does."""

    def __init__(self, lib: FakeLibNvml, name: str, impl: Callable[..., Any]) -> None:
        self.lib, self.name, self.impl = lib, name, impl
        self.restype: Any = ctypes.c_int
        self.argtypes: Any = None

    def __call__(self, *args: Any) -> Any:
        self.lib.calls.append(self.name)
        try:
            result = self.impl(*args)
        except _Return as early:
            return early.code
        except FakeLibUsageError as exc:
            self.lib.usage_errors.append(f"{self.name}: {exc}")
            raise
        if isinstance(result, bytes) and self.restype is not ctypes.c_char_p:
            # Without restype = c_char_p, ctypes would hand back the pointer as an int.
            raise FakeLibUsageError(f"{self.name} returns char * but restype is {self.restype}")
        return result


class FakeLibNvml:
    """Stands in for the ``CDLL("libnvidia-ml.so.1")`` object in ``pynvml.nvmlLib``.

    ``getattr(lib, symbol)`` gives a :class:`CFunction` for every C function nvidia-ml-py's
    wrappers of gpudoctor's calls use; any other symbol, and the scenario's
    ``missing_functions``, raise AttributeError as a real CDLL does for an absent symbol.
    Implementations are the ``_c_<symbol>`` methods; each returns an ``nvmlReturn_t``.
    """

    def __init__(self, scenario: dict[str, Any] | str) -> None:
        self.scenario = load_scenario(scenario) if isinstance(scenario, str) else scenario
        self.calls: list[str] = []
        self.usage_errors: list[str] = []
        self.initialised = False
        self.missing = {C_SYMBOL_OF.get(n, n) for n in self.scenario.get("missing_functions", [])}
        # Opaque nvmlDevice_t values: address -> (device index, MIG slot or None).
        self.handles: dict[int, tuple[int, int | None]] = {}

    def __getattr__(self, name: str) -> CFunction:
        impl = getattr(type(self), f"_c_{name}", None)
        if not name.startswith("nvml") or impl is None or name in self.missing:
            raise AttributeError(name)
        return CFunction(self, name, impl.__get__(self))

    @classmethod
    def symbols(cls) -> set[str]:
        """The C functions this fake library exports."""
        return {n.removeprefix("_c_") for n in vars(cls) if n.startswith("_c_nvml")}

    # --- plumbing -----------------------------------------------------------------------
    def _require_init(self) -> None:
        if not self.initialised:
            raise _Return(UNINITIALIZED)

    @staticmethod
    def _value(table: dict[str, Any], key: str) -> Any:
        """The scenario's answer for ``key``: the value, or raises its NVML error."""
        if key not in table:
            raise _Return(NOT_SUPPORTED)  # as the Python fake: an uncaptured call
        value = table[key]
        if isinstance(value, dict) and set(value) == {"error"}:
            raise _Return(CODES[value["error"]])
        return value

    def _system(self, key: str) -> Any:
        self._require_init()
        return self._value(self.scenario["system"], key)

    def _new_handle(self, device: int, slot: int | None) -> int:
        address = 0x7F00_0000_0000 + (device << 12) + (0 if slot is None else slot + 1) * 16
        self.handles[address] = (device, slot)
        return address

    def _handle(self, handle: Any) -> tuple[int, int | None]:
        """(device index, MIG slot or None) of an ``nvmlDevice_t`` this library handed out."""
        self._require_init()
        if not isinstance(handle, ctypes._Pointer | ctypes.c_void_p):
            raise FakeLibUsageError(f"device handle: got {type(handle).__name__}")
        address = ctypes.cast(handle, ctypes.c_void_p).value or 0
        if address not in self.handles:
            raise _Return(INVALID_ARGUMENT)
        return self.handles[address]

    def _device(self, handle: Any, key: str) -> Any:
        """The answer for ``key`` on ``handle`` (a GPU or a MIG device)."""
        index, slot = self._handle(handle)
        device = self.scenario["devices"][index]
        if slot is None:
            return self._value(device["calls"], key)
        mig = next(m for m in device["mig_devices"] if m["slot"] == slot)
        return self._value(mig["calls"], key)

    def _device_uint(self, handle: Any, out: Any, key: str) -> int:
        _put(out, ctypes.c_uint, int(self._device(handle, key)), key)
        return SUCCESS

    def _device_string(self, handle: Any, buffer: Any, length: Any, key: str) -> int:
        _put_string(buffer, length, str(self._device(handle, key)), key)
        return SUCCESS

    def _device_pair(self, handle: Any, first: Any, second: Any, key: str) -> int:
        a, b = self._device(handle, key)
        _put(first, ctypes.c_uint, int(a), key)
        _put(second, ctypes.c_uint, int(b), key)
        return SUCCESS

    # --- init and system ----------------------------------------------------------------
    def _c_nvmlInitWithFlags(self, flags: Any) -> int:
        if _int_in(flags, "flags") != 0:
            raise FakeLibUsageError("nvmlInitWithFlags: gpudoctor passes no flags")
        error = self.scenario.get("init_error")
        if error:
            return CODES[error]
        self.initialised = True
        return SUCCESS

    def _c_nvmlShutdown(self) -> int:
        self._require_init()
        self.initialised = False
        return SUCCESS

    def _c_nvmlErrorString(self, result: Any) -> bytes:
        return error_string(_int_in(result, "result")).encode()

    def _c_nvmlSystemGetDriverVersion(self, buffer: Any, length: Any) -> int:
        _put_string(buffer, length, str(self._system("nvmlSystemGetDriverVersion")), "version")
        return SUCCESS

    def _c_nvmlSystemGetNVMLVersion(self, buffer: Any, length: Any) -> int:
        _put_string(buffer, length, str(self._system("nvmlSystemGetNVMLVersion")), "version")
        return SUCCESS

    def _c_nvmlSystemGetCudaDriverVersion(self, out: Any) -> int:
        _put(out, ctypes.c_int, int(self._system("nvmlSystemGetCudaDriverVersion")), "version")
        return SUCCESS

    def _c_nvmlSystemGetCudaDriverVersion_v2(self, out: Any) -> int:
        value = int(self._system("nvmlSystemGetCudaDriverVersion_v2"))
        _put(out, ctypes.c_int, value, "version")
        return SUCCESS

    def _c_nvmlSystemGetProcessName(self, pid: Any, buffer: Any, length: Any) -> int:
        self._require_init()
        names = self.scenario.get("process_names", {})
        key = str(_int_in(pid, "pid"))
        if key not in names:
            return NOT_FOUND
        _put_string(buffer, length, names[key], "name")
        return SUCCESS

    # --- devices ------------------------------------------------------------------------
    def _c_nvmlDeviceGetCount_v2(self, out: Any) -> int:
        _put(out, ctypes.c_uint, int(self._system("nvmlDeviceGetCount")), "deviceCount")
        return SUCCESS

    def _c_nvmlGetExcludedDeviceCount(self, out: Any) -> int:
        count = int(self._system("nvmlGetExcludedDeviceCount"))
        _put(out, ctypes.c_uint, count, "deviceCount")
        return SUCCESS

    def _c_nvmlGetExcludedDeviceInfoByIndex(self, index: Any, out: Any) -> int:
        self._require_init()
        i = _int_in(index, "index")
        excluded = self.scenario.get("excluded_devices", [])
        if i >= len(excluded):
            return INVALID_ARGUMENT
        info = _at(out, CExcludedDeviceInfo, "info")
        _pci_info(excluded[i]["pci"], info.pci)
        info.uuid = str(excluded[i].get("uuid", "")).encode()
        return SUCCESS

    def _c_nvmlDeviceGetHandleByIndex_v2(self, index: Any, out: Any) -> int:
        self._require_init()
        i = _int_in(index, "index")
        if i >= len(self.scenario["devices"]):
            return INVALID_ARGUMENT
        error = self.scenario["devices"][i].get("handle_error")
        if error:
            return CODES[error]
        _put(out, ctypes.c_void_p, self._new_handle(i, None), "device")
        return SUCCESS

    def _c_nvmlDeviceGetMigDeviceHandleByIndex(self, handle: Any, index: Any, out: Any) -> int:
        device_index, slot = self._handle(handle)
        i = _int_in(index, "index")
        if slot is not None:
            return INVALID_ARGUMENT  # a MIG device has no MIG devices
        slots = {m["slot"] for m in self.scenario["devices"][device_index]["mig_devices"]}
        if i not in slots:
            return NOT_FOUND
        _put(out, ctypes.c_void_p, self._new_handle(device_index, i), "migDevice")
        return SUCCESS

    def _c_nvmlDeviceGetName(self, handle: Any, buffer: Any, length: Any) -> int:
        return self._device_string(handle, buffer, length, "nvmlDeviceGetName")

    def _c_nvmlDeviceGetUUID(self, handle: Any, buffer: Any, length: Any) -> int:
        return self._device_string(handle, buffer, length, "nvmlDeviceGetUUID")

    def _c_nvmlDeviceGetSerial(self, handle: Any, buffer: Any, length: Any) -> int:
        return self._device_string(handle, buffer, length, "nvmlDeviceGetSerial")

    def _c_nvmlDeviceGetPciInfo_v3(self, handle: Any, out: Any) -> int:
        entry = self._device(handle, "nvmlDeviceGetPciInfo")
        _pci_info(entry, _at(out, CPciInfo, "pci"))
        return SUCCESS

    def _c_nvmlDeviceGetMemoryInfo(self, handle: Any, out: Any) -> int:
        entry = self._device(handle, "nvmlDeviceGetMemoryInfo")
        memory = _at(out, CMemory, "memory")
        memory.total, memory.free, memory.used = entry["total"], entry["free"], entry["used"]
        return SUCCESS

    def _c_nvmlDeviceGetCudaComputeCapability(self, handle: Any, major: Any, minor: Any) -> int:
        a, b = self._device(handle, "nvmlDeviceGetCudaComputeCapability")
        _put(major, ctypes.c_int, int(a), "major")
        _put(minor, ctypes.c_int, int(b), "minor")
        return SUCCESS

    def _c_nvmlDeviceGetArchitecture(self, handle: Any, out: Any) -> int:
        return self._device_uint(handle, out, "nvmlDeviceGetArchitecture")

    def _c_nvmlDeviceGetTemperatureV(self, handle: Any, out: Any) -> int:
        self._handle(handle)
        struct = _at(out, CTemperatureV1, "temperature")
        if struct.version != TEMPERATURE_V1:
            return ARGUMENT_VERSION_MISMATCH
        value = self._device(handle, f"nvmlDeviceGetTemperature:{struct.sensorType}")
        struct.temperature = int(value)
        return SUCCESS

    def _c_nvmlDeviceGetTemperature(self, handle: Any, sensor: Any, out: Any) -> int:
        key = f"nvmlDeviceGetTemperature:{_int_in(sensor, 'sensor')}"
        return self._device_uint(handle, out, key)

    def _c_nvmlDeviceGetPowerUsage(self, handle: Any, out: Any) -> int:
        return self._device_uint(handle, out, "nvmlDeviceGetPowerUsage")

    def _c_nvmlDeviceGetEnforcedPowerLimit(self, handle: Any, out: Any) -> int:
        return self._device_uint(handle, out, "nvmlDeviceGetEnforcedPowerLimit")

    def _c_nvmlDeviceGetClockInfo(self, handle: Any, clock: Any, out: Any) -> int:
        key = f"nvmlDeviceGetClockInfo:{_int_in(clock, 'type')}"
        return self._device_uint(handle, out, key)

    def _c_nvmlDeviceGetMaxClockInfo(self, handle: Any, clock: Any, out: Any) -> int:
        key = f"nvmlDeviceGetMaxClockInfo:{_int_in(clock, 'type')}"
        return self._device_uint(handle, out, key)

    def _c_nvmlDeviceGetUtilizationRates(self, handle: Any, out: Any) -> int:
        entry = self._device(handle, "nvmlDeviceGetUtilizationRates")
        util = _at(out, CUtilization, "utilization")
        util.gpu, util.memory = entry["gpu"], entry["memory"]
        return SUCCESS

    def _c_nvmlDeviceGetCurrPcieLinkGeneration(self, handle: Any, out: Any) -> int:
        return self._device_uint(handle, out, "nvmlDeviceGetCurrPcieLinkGeneration")

    def _c_nvmlDeviceGetMaxPcieLinkGeneration(self, handle: Any, out: Any) -> int:
        return self._device_uint(handle, out, "nvmlDeviceGetMaxPcieLinkGeneration")

    def _c_nvmlDeviceGetCurrPcieLinkWidth(self, handle: Any, out: Any) -> int:
        return self._device_uint(handle, out, "nvmlDeviceGetCurrPcieLinkWidth")

    def _c_nvmlDeviceGetMaxPcieLinkWidth(self, handle: Any, out: Any) -> int:
        return self._device_uint(handle, out, "nvmlDeviceGetMaxPcieLinkWidth")

    def _c_nvmlDeviceGetEccMode(self, handle: Any, current: Any, pending: Any) -> int:
        return self._device_pair(handle, current, pending, "nvmlDeviceGetEccMode")

    def _c_nvmlDeviceGetTotalEccErrors(
        self, handle: Any, error_type: Any, counter: Any, out: Any
    ) -> int:
        e, c = _int_in(error_type, "errorType"), _int_in(counter, "counterType")
        value = self._device(handle, f"nvmlDeviceGetTotalEccErrors:{e}:{c}")
        _put(out, ctypes.c_ulonglong, int(value), "eccCounts")
        return SUCCESS

    def _c_nvmlDeviceGetRetiredPages(self, handle: Any, cause: Any, count: Any, out: Any) -> int:
        pages = self._device(handle, f"nvmlDeviceGetRetiredPages:{_int_in(cause, 'cause')}")
        return _fill_array(count, out, [int(p) for p in pages], ctypes.c_ulonglong, _put_page)

    def _c_nvmlDeviceGetRetiredPagesPendingStatus(self, handle: Any, out: Any) -> int:
        return self._device_uint(handle, out, "nvmlDeviceGetRetiredPagesPendingStatus")

    def _c_nvmlDeviceGetRemappedRows(
        self, handle: Any, corr: Any, unc: Any, pending: Any, failure: Any
    ) -> int:
        values = self._device(handle, "nvmlDeviceGetRemappedRows")
        for out, value in zip((corr, unc, pending, failure), values, strict=True):
            _put(out, ctypes.c_uint, int(value), "remappedRows")
        return SUCCESS

    def _c_nvmlDeviceValidateInforom(self, handle: Any) -> int:
        self._device(handle, "nvmlDeviceValidateInforom")
        return SUCCESS

    def _c_nvmlDeviceGetPersistenceMode(self, handle: Any, out: Any) -> int:
        return self._device_uint(handle, out, "nvmlDeviceGetPersistenceMode")

    def _c_nvmlDeviceGetComputeMode(self, handle: Any, out: Any) -> int:
        return self._device_uint(handle, out, "nvmlDeviceGetComputeMode")

    def _c_nvmlDeviceGetMigMode(self, handle: Any, current: Any, pending: Any) -> int:
        return self._device_pair(handle, current, pending, "nvmlDeviceGetMigMode")

    def _c_nvmlDeviceGetMaxMigDeviceCount(self, handle: Any, out: Any) -> int:
        return self._device_uint(handle, out, "nvmlDeviceGetMaxMigDeviceCount")

    def _c_nvmlDeviceGetCurrentClocksEventReasons(self, handle: Any, out: Any) -> int:
        value = self._device(handle, "nvmlDeviceGetCurrentClocksEventReasons")
        _put(out, ctypes.c_ulonglong, int(value), "clocksEventReasons")
        return SUCCESS

    def _c_nvmlDeviceGetCurrentClocksThrottleReasons(self, handle: Any, out: Any) -> int:
        value = self._device(handle, "nvmlDeviceGetCurrentClocksThrottleReasons")
        _put(out, ctypes.c_ulonglong, int(value), "clocksThrottleReasons")
        return SUCCESS

    def _c_nvmlDeviceGetComputeRunningProcesses_v3(self, handle: Any, count: Any, out: Any) -> int:
        procs = self._device(handle, PROCESSES)
        return _fill_array(count, out, procs, CProcessInfo, _put_process)

    def _c_nvmlDeviceGetComputeRunningProcesses_v2(self, handle: Any, count: Any, out: Any) -> int:
        # nvmlProcessInfo_v2_t has the same layout as the v3 element.
        procs = self._device(handle, PROCESSES)
        return _fill_array(count, out, procs, CProcessInfo, _put_process)

    # --- settings and NVLink (issue 20) -------------------------------------------------
    def _c_nvmlDeviceGetPowerManagementDefaultLimit(self, handle: Any, out: Any) -> int:
        return self._device_uint(handle, out, "nvmlDeviceGetPowerManagementDefaultLimit")

    def _c_nvmlDeviceGetPowerManagementLimit(self, handle: Any, out: Any) -> int:
        return self._device_uint(handle, out, "nvmlDeviceGetPowerManagementLimit")

    def _c_nvmlDeviceGetPowerManagementLimitConstraints(
        self, handle: Any, low: Any, high: Any
    ) -> int:
        return self._device_pair(handle, low, high, "nvmlDeviceGetPowerManagementLimitConstraints")

    def _c_nvmlDeviceGetApplicationsClock(self, handle: Any, clock: Any, out: Any) -> int:
        key = f"nvmlDeviceGetApplicationsClock:{_int_in(clock, 'clockType')}"
        return self._device_uint(handle, out, key)

    def _c_nvmlDeviceGetDefaultApplicationsClock(self, handle: Any, clock: Any, out: Any) -> int:
        key = f"nvmlDeviceGetDefaultApplicationsClock:{_int_in(clock, 'clockType')}"
        return self._device_uint(handle, out, key)

    def _c_nvmlDeviceGetBAR1MemoryInfo(self, handle: Any, out: Any) -> int:
        entry = self._device(handle, "nvmlDeviceGetBAR1MemoryInfo")
        bar1 = _at(out, CBar1Memory, "bar1Memory")
        bar1.bar1Total = int(entry["bar1Total"])
        bar1.bar1Free, bar1.bar1Used = int(entry["bar1Total"]), 0
        return SUCCESS

    def _c_nvmlDeviceGetGspFirmwareMode(self, handle: Any, enabled: Any, default: Any) -> int:
        return self._device_pair(handle, enabled, default, "nvmlDeviceGetGspFirmwareMode")

    def _c_nvmlDeviceGetGspFirmwareVersion(self, handle: Any, buffer: Any) -> int:
        # No length argument: nvml.h says the buffer holds NVML_GSP_FIRMWARE_VERSION_BUF_SIZE.
        value = str(self._device(handle, "nvmlDeviceGetGspFirmwareVersion"))
        _put_string(buffer, GSP_VERSION_BUF_SIZE, value, "version")
        return SUCCESS

    def _c_nvmlDeviceGetNvLinkState(self, handle: Any, link: Any, out: Any) -> int:
        states = self._device(handle, "nvmlDeviceGetNvLinkState")
        index = _int_in(link, "link")
        if index >= len(states):
            return INVALID_ARGUMENT  # a link this GPU does not have
        _put(out, ctypes.c_uint, int(states[index]), "isActive")
        return SUCCESS

    def _c_nvmlDeviceGetNvLinkVersion(self, handle: Any, link: Any, out: Any) -> int:
        _int_in(link, "link")
        return self._device_uint(handle, out, "nvmlDeviceGetNvLinkVersion")

    def _c_nvmlDeviceGetNvLinkErrorCounter(
        self, handle: Any, link: Any, counter: Any, out: Any
    ) -> int:
        index, kind = _int_in(link, "link"), _int_in(counter, "counter")
        device = self.scenario["devices"][self._handle(handle)[0]]["calls"]
        own = f"nvmlDeviceGetNvLinkErrorCounter:{kind}:{index}"
        key = own if own in device else f"nvmlDeviceGetNvLinkErrorCounter:{kind}"
        _put(out, ctypes.c_ulonglong, int(self._device(handle, key)), "counterValue")
        return SUCCESS

    def _c_nvmlDeviceGetFieldValues(self, handle: Any, count: Any, values: Any) -> int:
        index, _slot = self._handle(handle)
        n = _int_in(count, "valuesCount")
        address, size = _memory(values, "values")
        if address == 0 or n <= 0:
            return INVALID_ARGUMENT
        if size < n * ctypes.sizeof(CFieldValue):
            raise FakeLibUsageError(f"valuesCount says {n} values, the array holds fewer")
        table = self.scenario["devices"][index]["calls"]
        whole = table.get("nvmlDeviceGetFieldValues")
        if isinstance(whole, dict) and set(whole) == {"error"}:
            return CODES[whole["error"]]
        for entry in (CFieldValue * n).from_address(address):
            code, value = field_value(table, int(entry.fieldId), int(entry.scopeId))
            entry.nvmlReturn = code
            entry.valueType = 1  # NVML_VALUE_TYPE_UNSIGNED_INT
            entry.value.uiVal = value
        return SUCCESS


GSP_VERSION_BUF_SIZE = 0x40
"""``NVML_GSP_FIRMWARE_VERSION_BUF_SIZE``."""


def _put_page(array: Any, i: int, page: int) -> None:
    array[i] = page


def _put_process(array: Any, i: int, proc: dict[str, Any]) -> None:
    used = proc.get("usedGpuMemory")
    array[i].pid = int(proc["pid"])
    array[i].usedGpuMemory = VALUE_NOT_AVAILABLE_ULL if used is None else int(used)
    array[i].gpuInstanceId = VALUE_NOT_AVAILABLE_UINT  # not a MIG process
    array[i].computeInstanceId = VALUE_NOT_AVAILABLE_UINT


def _fill_array(
    count: Any,
    out: Any,
    items: list[Any],
    element: type[Any],
    put: Callable[[Any, int, Any], None],
) -> int:
    """NVML's two-call protocol: ``*count`` is the capacity in, the number of items out."""
    counter = _at(count, ctypes.c_uint, "count")
    capacity = int(counter.value)
    counter.value = len(items)
    if out is None:  # the size query: SUCCESS only when there is nothing to return
        return INSUFFICIENT_SIZE if items else SUCCESS
    address, size = _memory(out, "array")
    if isinstance(out, ctypes.Array) and ctypes.sizeof(out._type_) != ctypes.sizeof(element):
        raise FakeLibUsageError(
            f"array element is {ctypes.sizeof(out._type_)} bytes, nvml.h has "
            f"{ctypes.sizeof(element)}"
        )
    if capacity * ctypes.sizeof(element) > size:
        raise FakeLibUsageError(f"count says {capacity} elements, the array holds fewer")
    if capacity < len(items):
        return INSUFFICIENT_SIZE
    array = (element * len(items)).from_address(address)
    for i, item in enumerate(items):
        put(array, i, item)
    return SUCCESS


def install(monkeypatch: pytest.MonkeyPatch, pynvml: ModuleType, lib: FakeLibNvml) -> None:
    """Make ``pynvml`` talk to ``lib`` as if it had loaded it; ``monkeypatch`` undoes it all.

    nvidia-ml-py loads the library once into the global ``nvmlLib`` and caches each symbol
    it looks up; both are replaced, so the real library (on a GPU machine) is never touched.
    A ``library_not_found`` scenario leaves ``nvmlLib`` unset and makes ``CDLL`` fail, so
    nvidia-ml-py's own ``_LoadNvmlLibrary`` raises as it does on a machine without a driver.
    """
    monkeypatch.setattr(pynvml, "_nvmlGetFunctionPointer_cache", {})
    monkeypatch.setattr(pynvml, "_nvmlLib_refcount", 0)
    # NVMLError.__str__ caches the texts it asks nvmlErrorString for: keep them per test.
    monkeypatch.setattr(
        pynvml.NVMLError, "_errcode_to_string", dict(pynvml.NVMLError._errcode_to_string)
    )
    if lib.scenario.get("init_error") == "library_not_found":
        monkeypatch.setattr(pynvml, "nvmlLib", None)

        def no_library(name: str, *args: Any, **kwargs: Any) -> Any:
            raise OSError(f"{name}: cannot open shared object file: No such file or directory")

        monkeypatch.setattr(pynvml, "CDLL", no_library)
    else:
        monkeypatch.setattr(pynvml, "nvmlLib", lib)
