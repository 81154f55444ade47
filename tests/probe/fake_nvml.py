"""A fake NVML that replays a scenario (tests/data/nvml/*.json) through the NvmlLike protocol.

A scenario maps each NVML function (with its arguments after ``:``) to the value the machine
returned, or to ``{"error": "<name>"}`` (names as in gpudoctor.probe.nvml_api.ERROR_NAMES).
A scenario may name a ``base`` scenario and override parts of it: top-level keys replace the
base's; a device entry ``{"from_base": i, "calls": {...}}`` starts from base device ``i``.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from gpudoctor.probe.nvml_api import CODES, FUNCTION_NOT_FOUND, NOT_FOUND, NOT_SUPPORTED

SCENARIOS = Path(__file__).resolve().parents[1] / "data" / "nvml"


# str(pynvml.NVMLError(code)) in nvidia-ml-py (its NVMLError._errcode_to_string), so that
# messages in replayed reports read as on a real machine.
PYNVML_ERROR_TEXT = {
    1: "Uninitialized",
    2: "Invalid Argument",
    3: "Not Supported",
    4: "Insufficient Permissions",
    5: "Already Initialized",
    6: "Not Found",
    7: "Insufficient Size",
    8: "Insufficient External Power",
    9: "Driver Not Loaded",
    10: "Timeout",
    11: "Interrupt Request Issue",
    12: "NVML Shared Library Not Found",
    13: "Function Not Found",
    14: "Corrupted infoROM",
    15: "GPU is lost",
    16: "GPU requires restart",
    17: "The operating system has blocked the request.",
    18: "RM has detected an NVML/RM version mismatch.",
    20: "Insufficient Memory",
    999: "Unknown Error",
}


def error_string(code: int) -> str:
    """The text of NVML error ``code`` as nvidia-ml-py gives it.

    For codes outside its table nvidia-ml-py asks libnvidia-ml's ``nvmlErrorString``; the
    fake library (tests/probe/fake_libnvml.py) answers that with the code's name.
    """
    if code in PYNVML_ERROR_TEXT:
        return PYNVML_ERROR_TEXT[code]
    names = {value: name for name, value in CODES.items()}
    return names.get(code, str(code)).replace("_", " ").title()


class FakeNVMLError(Exception):
    """Shaped like pynvml.NVMLError: the return code in ``.value``."""

    def __init__(self, value: int) -> None:
        super().__init__(value)
        self.value = value

    def __str__(self) -> str:
        return error_string(self.value)


class FakeNVMLLibraryMismatchError(Exception):
    """Shaped like pynvml.NVMLLibraryMismatchError: a plain Exception, not an NVMLError."""


def load_scenario(name: str) -> dict[str, Any]:
    """A scenario by file stem, with its ``base`` (if any) merged in."""
    data = json.loads((SCENARIOS / f"{name}.json").read_text(encoding="utf-8"))
    base_name = data.pop("base", None)
    if base_name is None:
        return data
    base = load_scenario(base_name)
    merged = copy.deepcopy(base)
    for key, value in data.items():
        if key == "devices":
            merged["devices"] = [_merge_device(base["devices"], d) for d in value]
        elif key == "system":
            merged["system"] = {**base["system"], **value}
        else:
            merged[key] = value
    return merged


def _merge_device(base_devices: list[dict[str, Any]], device: dict[str, Any]) -> dict[str, Any]:
    if "from_base" not in device:
        return device
    merged = copy.deepcopy(base_devices[device["from_base"]])
    merged["calls"].update(device.get("calls", {}))
    for key in ("handle_error", "mig_devices"):
        if key in device:
            merged[key] = device[key]
    return merged


def scenario_names() -> list[str]:
    return sorted(p.stem for p in SCENARIOS.glob("*.json"))


def capture_scenario_names() -> list[str]:
    """The scenarios converted from real captures (the failure ones start with ``failure__``)."""
    return [n for n in scenario_names() if not n.startswith("failure__")]


def _to_object(value: Any) -> Any:
    if isinstance(value, dict):
        return SimpleNamespace(**{k: _to_object(v) for k, v in value.items()})
    if isinstance(value, list) and value and isinstance(value[0], int):
        return value
    if isinstance(value, list):
        return [_to_object(v) for v in value]
    return value


def field_value(table: dict[str, Any], field_id: int, scope: int) -> tuple[int, int]:
    """(nvmlReturn, value) of one field value: ``nvmlDeviceGetFieldValues:<fieldId>`` records
    a list by scope (an NVLink's number), each a number or ``{"error": name}``; a field or
    scope not recorded answers NOT_SUPPORTED in its own entry, as NVML does for a field the
    driver does not have. ``nvmlDeviceGetFieldValues`` alone records a failure of the call."""
    recorded = table.get(f"nvmlDeviceGetFieldValues:{field_id}")
    if not isinstance(recorded, list) or not 0 <= scope < len(recorded):
        return NOT_SUPPORTED, 0
    value = recorded[scope]
    if isinstance(value, dict):
        return CODES[value["error"]], 0
    return 0, int(value)


class FakeHandle:
    def __init__(self, device: int, mig_slot: int | None = None) -> None:
        self.device = device
        self.mig_slot = mig_slot


class FakeNvml:
    """Replays one scenario; records every call so tests can check what was asked."""

    NVMLError = FakeNVMLError
    NVMLLibraryMismatchError = FakeNVMLLibraryMismatchError

    def __init__(self, scenario: dict[str, Any] | str) -> None:
        self.scenario = load_scenario(scenario) if isinstance(scenario, str) else scenario
        self.calls: list[str] = []
        self.initialised = False

    # --- plumbing -----------------------------------------------------------------------
    def _answer(self, name: str, table: dict[str, Any], key: str, call: str = "") -> Any:
        """The scenario's ``table[key]`` for a call to ``name`` (recorded as ``call``)."""
        self.calls.append(call or key)
        if name in self.scenario.get("missing_functions", []):
            raise FakeNVMLError(FUNCTION_NOT_FOUND)
        if key not in table:
            raise FakeNVMLError(NOT_SUPPORTED)
        value = table[key]
        if isinstance(value, dict) and set(value) == {"error"}:
            raise FakeNVMLError(CODES[value["error"]])
        return _to_object(copy.deepcopy(value))

    def _system(self, name: str) -> Any:
        return self._answer(name, self.scenario["system"], name)

    def _device(self, name: str, handle: FakeHandle, *args: Any, entry: str = "") -> Any:
        """Answer ``name`` from the scenario's entry ``entry`` (default: its own name).

        Versions of one function (``..._v3``, ``...V``) share the captured entry of the
        unversioned name; the call is recorded under the name really called.
        """
        suffix = [str(a) for a in args]
        key, call = ":".join([entry or name, *suffix]), ":".join([name, *suffix])
        device = self.scenario["devices"][handle.device]
        if handle.mig_slot is not None:
            mig = next(m for m in device["mig_devices"] if m["slot"] == handle.mig_slot)
            return self._answer(name, mig["calls"], key, call)
        return self._answer(name, device["calls"], key, call)

    # --- NvmlLike -----------------------------------------------------------------------
    def nvmlInit(self) -> None:
        self.calls.append("nvmlInit")
        error = self.scenario.get("init_error")
        if error:
            raise FakeNVMLError(CODES[error])
        self.initialised = True

    def nvmlShutdown(self) -> None:
        self.calls.append("nvmlShutdown")
        self.initialised = False

    def nvmlSystemGetDriverVersion(self) -> str:
        return self._system("nvmlSystemGetDriverVersion")

    def nvmlSystemGetNVMLVersion(self) -> bytes:
        # nvidia-ml-py 13 decodes to str, but bindings have returned bytes: the collector must
        # normalise it, and this fake makes sure it does.
        return str(self._system("nvmlSystemGetNVMLVersion")).encode()

    def nvmlSystemGetCudaDriverVersion(self) -> int:
        return self._system("nvmlSystemGetCudaDriverVersion")

    def nvmlSystemGetCudaDriverVersion_v2(self) -> int:
        return self._system("nvmlSystemGetCudaDriverVersion_v2")

    def nvmlSystemGetProcessName(self, pid: int) -> str:
        names = self.scenario.get("process_names", {})
        if str(pid) not in names:
            raise FakeNVMLError(NOT_FOUND)
        return names[str(pid)]

    def nvmlDeviceGetCount(self) -> int:
        return self._system("nvmlDeviceGetCount")

    def nvmlGetExcludedDeviceCount(self) -> int:
        """``system.nvmlGetExcludedDeviceCount``; NOT_SUPPORTED where the scenario has none."""
        return self._system("nvmlGetExcludedDeviceCount")

    def nvmlGetExcludedDeviceInfoByIndex(self, index: int) -> Any:
        """The scenario's ``excluded_devices[index]``: ``{"pci": {"busId": ...}, "uuid": ...}``
        (bytes, as nvidia-ml-py's ctypes struct gives them), or ``{"error": name}``."""
        table = dict(enumerate(self.scenario.get("excluded_devices", [])))
        name = "nvmlGetExcludedDeviceInfoByIndex"
        self.calls.append(f"{name}:{index}")
        if name in self.scenario.get("missing_functions", []):
            raise FakeNVMLError(FUNCTION_NOT_FOUND)
        if index not in table:
            raise FakeNVMLError(CODES["invalid_argument"])
        value = table[index]
        if set(value) == {"error"}:
            raise FakeNVMLError(CODES[value["error"]])
        pci = SimpleNamespace(busId=str(value["pci"]["busId"]).encode())
        return SimpleNamespace(pci=pci, uuid=str(value.get("uuid", "")).encode())

    def nvmlDeviceGetHandleByIndex(self, index: int) -> FakeHandle:
        self.calls.append(f"nvmlDeviceGetHandleByIndex:{index}")
        error = self.scenario["devices"][index].get("handle_error")
        if error:
            raise FakeNVMLError(CODES[error])
        return FakeHandle(index)

    def nvmlDeviceGetName(self, handle: FakeHandle) -> bytes:
        return str(self._device("nvmlDeviceGetName", handle)).encode()

    def nvmlDeviceGetUUID(self, handle: FakeHandle) -> str:
        return self._device("nvmlDeviceGetUUID", handle)

    def nvmlDeviceGetSerial(self, handle: FakeHandle) -> str:
        return self._device("nvmlDeviceGetSerial", handle)

    def nvmlDeviceGetPciInfo(self, handle: FakeHandle) -> Any:
        return self._device("nvmlDeviceGetPciInfo", handle)

    def nvmlDeviceGetMemoryInfo(self, handle: FakeHandle) -> Any:
        return self._device("nvmlDeviceGetMemoryInfo", handle)

    def nvmlDeviceGetCudaComputeCapability(self, handle: FakeHandle) -> tuple[int, int]:
        major, minor = self._device("nvmlDeviceGetCudaComputeCapability", handle)
        return major, minor

    def nvmlDeviceGetArchitecture(self, handle: FakeHandle) -> int:
        return self._device("nvmlDeviceGetArchitecture", handle)

    def nvmlDeviceGetTemperatureV(self, handle: FakeHandle, sensor: int) -> int:
        entry = "nvmlDeviceGetTemperature"
        return self._device("nvmlDeviceGetTemperatureV", handle, sensor, entry=entry)

    def nvmlDeviceGetTemperature(self, handle: FakeHandle, sensor: int) -> int:
        return self._device("nvmlDeviceGetTemperature", handle, sensor)

    def nvmlDeviceGetPowerUsage(self, handle: FakeHandle) -> int:
        return self._device("nvmlDeviceGetPowerUsage", handle)

    def nvmlDeviceGetEnforcedPowerLimit(self, handle: FakeHandle) -> int:
        return self._device("nvmlDeviceGetEnforcedPowerLimit", handle)

    def nvmlDeviceGetClockInfo(self, handle: FakeHandle, clock: int) -> int:
        return self._device("nvmlDeviceGetClockInfo", handle, clock)

    def nvmlDeviceGetMaxClockInfo(self, handle: FakeHandle, clock: int) -> int:
        return self._device("nvmlDeviceGetMaxClockInfo", handle, clock)

    def nvmlDeviceGetUtilizationRates(self, handle: FakeHandle) -> Any:
        return self._device("nvmlDeviceGetUtilizationRates", handle)

    def nvmlDeviceGetCurrPcieLinkGeneration(self, handle: FakeHandle) -> int:
        return self._device("nvmlDeviceGetCurrPcieLinkGeneration", handle)

    def nvmlDeviceGetMaxPcieLinkGeneration(self, handle: FakeHandle) -> int:
        return self._device("nvmlDeviceGetMaxPcieLinkGeneration", handle)

    def nvmlDeviceGetCurrPcieLinkWidth(self, handle: FakeHandle) -> int:
        return self._device("nvmlDeviceGetCurrPcieLinkWidth", handle)

    def nvmlDeviceGetMaxPcieLinkWidth(self, handle: FakeHandle) -> int:
        return self._device("nvmlDeviceGetMaxPcieLinkWidth", handle)

    def nvmlDeviceGetEccMode(self, handle: FakeHandle) -> tuple[int, int]:
        current, pending = self._device("nvmlDeviceGetEccMode", handle)
        return current, pending

    def nvmlDeviceGetTotalEccErrors(self, handle: FakeHandle, error_type: int, counter: int) -> int:
        return self._device("nvmlDeviceGetTotalEccErrors", handle, error_type, counter)

    def nvmlDeviceGetRetiredPages(self, handle: FakeHandle, cause: int) -> list[int]:
        return self._device("nvmlDeviceGetRetiredPages", handle, cause)

    def nvmlDeviceGetRetiredPagesPendingStatus(self, handle: FakeHandle) -> int:
        return self._device("nvmlDeviceGetRetiredPagesPendingStatus", handle)

    def nvmlDeviceGetRemappedRows(self, handle: FakeHandle) -> tuple[int, int, int, int]:
        corr, unc, pending, failure = self._device("nvmlDeviceGetRemappedRows", handle)
        return corr, unc, pending, failure

    def nvmlDeviceValidateInforom(self, handle: FakeHandle) -> None:
        self._device("nvmlDeviceValidateInforom", handle)

    def nvmlDeviceGetPersistenceMode(self, handle: FakeHandle) -> int:
        return self._device("nvmlDeviceGetPersistenceMode", handle)

    def nvmlDeviceGetComputeMode(self, handle: FakeHandle) -> int:
        return self._device("nvmlDeviceGetComputeMode", handle)

    def nvmlDeviceGetMigMode(self, handle: FakeHandle) -> tuple[int, int]:
        current, pending = self._device("nvmlDeviceGetMigMode", handle)
        return current, pending

    def nvmlDeviceGetMaxMigDeviceCount(self, handle: FakeHandle) -> int:
        return self._device("nvmlDeviceGetMaxMigDeviceCount", handle)

    def nvmlDeviceGetMigDeviceHandleByIndex(self, handle: FakeHandle, index: int) -> FakeHandle:
        self.calls.append(f"nvmlDeviceGetMigDeviceHandleByIndex:{index}")
        slots = {m["slot"] for m in self.scenario["devices"][handle.device]["mig_devices"]}
        if index not in slots:
            raise FakeNVMLError(NOT_FOUND)
        return FakeHandle(handle.device, index)

    def nvmlDeviceGetCurrentClocksEventReasons(self, handle: FakeHandle) -> int:
        return self._device("nvmlDeviceGetCurrentClocksEventReasons", handle)

    def nvmlDeviceGetCurrentClocksThrottleReasons(self, handle: FakeHandle) -> int:
        return self._device("nvmlDeviceGetCurrentClocksThrottleReasons", handle)

    def nvmlDeviceGetComputeRunningProcesses_v3(self, handle: FakeHandle) -> list[Any]:
        entry = "nvmlDeviceGetComputeRunningProcesses"
        return self._device("nvmlDeviceGetComputeRunningProcesses_v3", handle, entry=entry)

    def nvmlDeviceGetComputeRunningProcesses_v2(self, handle: FakeHandle) -> list[Any]:
        entry = "nvmlDeviceGetComputeRunningProcesses"
        return self._device("nvmlDeviceGetComputeRunningProcesses_v2", handle, entry=entry)

    def nvmlDeviceGetComputeRunningProcesses(self, handle: FakeHandle) -> list[Any]:
        # As nvidia-ml-py 13: the unversioned wrapper calls _v3, and turns its FunctionNotFound
        # into NVMLLibraryMismatchError.
        self.calls.append("nvmlDeviceGetComputeRunningProcesses")
        try:
            return self.nvmlDeviceGetComputeRunningProcesses_v3(handle)
        except FakeNVMLError as exc:
            if exc.value == FUNCTION_NOT_FOUND:
                raise FakeNVMLLibraryMismatchError(
                    "Unversioned function called and the pyNVML version does not match the "
                    "NVML lib version."
                ) from exc
            raise

    # --- settings and NVLink (issue 20) -------------------------------------------------
    def nvmlDeviceGetPowerManagementDefaultLimit(self, handle: FakeHandle) -> int:
        return self._device("nvmlDeviceGetPowerManagementDefaultLimit", handle)

    def nvmlDeviceGetPowerManagementLimit(self, handle: FakeHandle) -> int:
        return self._device("nvmlDeviceGetPowerManagementLimit", handle)

    def nvmlDeviceGetPowerManagementLimitConstraints(self, handle: FakeHandle) -> list[int]:
        low, high = self._device("nvmlDeviceGetPowerManagementLimitConstraints", handle)
        return [low, high]

    def nvmlDeviceGetApplicationsClock(self, handle: FakeHandle, clock: int) -> int:
        return self._device("nvmlDeviceGetApplicationsClock", handle, clock)

    def nvmlDeviceGetDefaultApplicationsClock(self, handle: FakeHandle, clock: int) -> int:
        return self._device("nvmlDeviceGetDefaultApplicationsClock", handle, clock)

    def nvmlDeviceGetBAR1MemoryInfo(self, handle: FakeHandle) -> Any:
        return self._device("nvmlDeviceGetBAR1MemoryInfo", handle)

    def nvmlDeviceGetGspFirmwareMode(self, handle: FakeHandle) -> list[int]:
        enabled, default = self._device("nvmlDeviceGetGspFirmwareMode", handle)
        return [enabled, default]

    def nvmlDeviceGetGspFirmwareVersion(self, handle: FakeHandle) -> bytes:
        return str(self._device("nvmlDeviceGetGspFirmwareVersion", handle)).encode()

    def nvmlDeviceGetNvLinkState(self, handle: FakeHandle, link: int) -> int:
        """Recorded as one list (``nvmlDeviceGetNvLinkState``: a state per link); a link past
        its end is INVALID_ARGUMENT, as NVML answers for a link the GPU does not have."""
        states = self._device("nvmlDeviceGetNvLinkState", handle)
        if link >= len(states):
            raise FakeNVMLError(CODES["invalid_argument"])
        return int(states[link])

    def nvmlDeviceGetNvLinkVersion(self, handle: FakeHandle, link: int) -> int:
        return self._device("nvmlDeviceGetNvLinkVersion", handle)

    def nvmlDeviceGetFieldValues(
        self, handle: FakeHandle, field_ids: list[int | tuple[int, int]]
    ) -> list[SimpleNamespace]:
        """Shaped as nvidia-ml-py's answer: one entry per ``(fieldId, scopeId)``, each with its
        own ``nvmlReturn``; the values come from :func:`field_value`."""
        name = "nvmlDeviceGetFieldValues"
        self.calls.append(f"{name}:" + ",".join(str(f) for f in field_ids))
        if name in self.scenario.get("missing_functions", []):
            raise FakeNVMLError(FUNCTION_NOT_FOUND)
        table = self.scenario["devices"][handle.device]["calls"]
        whole = table.get(name)
        if isinstance(whole, dict) and set(whole) == {"error"}:
            raise FakeNVMLError(CODES[whole["error"]])
        entries = []
        for requested in field_ids:
            field_id, scope = requested if isinstance(requested, tuple) else (requested, 0)
            code, value = field_value(table, field_id, scope)
            entries.append(
                SimpleNamespace(
                    fieldId=field_id,
                    scopeId=scope,
                    nvmlReturn=code,
                    valueType=1,  # NVML_VALUE_TYPE_UNSIGNED_INT
                    value=SimpleNamespace(uiVal=value),
                )
            )
        return entries

    def nvmlDeviceGetNvLinkErrorCounter(self, handle: FakeHandle, link: int, counter: int) -> int:
        """``nvmlDeviceGetNvLinkErrorCounter:<counter>``: one count for every link, unless
        ``...:<counter>:<link>`` records that link's own."""
        device = self.scenario["devices"][handle.device]["calls"]
        own = f"nvmlDeviceGetNvLinkErrorCounter:{counter}:{link}"
        if own in device:
            return self._device("nvmlDeviceGetNvLinkErrorCounter", handle, counter, link)
        return self._device("nvmlDeviceGetNvLinkErrorCounter", handle, counter)
