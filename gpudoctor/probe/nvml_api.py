"""The narrow slice of NVML that gpudoctor calls, as a Protocol, with NVML's stable constants."""

from __future__ import annotations

from typing import Any, Protocol

# NVML return codes (nvml.h `nvmlReturn_t`); stable across driver releases.
ERROR_NAMES: dict[int, str] = {
    1: "uninitialized",
    2: "invalid_argument",
    3: "not_supported",
    4: "no_permission",
    5: "already_initialized",
    6: "not_found",
    7: "insufficient_size",
    8: "insufficient_power",
    9: "driver_not_loaded",
    10: "timeout",
    11: "irq_issue",
    12: "library_not_found",
    13: "function_not_found",
    14: "corrupted_inforom",
    15: "gpu_is_lost",
    16: "reset_required",
    17: "operating_system",
    18: "lib_rm_version_mismatch",
    19: "in_use",
    20: "memory",
    21: "no_data",
    22: "vgpu_ecc_not_supported",
    23: "insufficient_resources",
    24: "freq_not_supported",
    25: "argument_version_mismatch",
    26: "deprecated",
    27: "not_ready",
    28: "gpu_not_found",
    29: "invalid_state",
    999: "unknown",
}
CODES: dict[str, int] = {name: code for code, name in ERROR_NAMES.items()}

NOT_SUPPORTED = 3
NOT_FOUND = 6
FUNCTION_NOT_FOUND = 13
CORRUPTED_INFOROM = 14
GPU_IS_LOST = 15
UNKNOWN = 999

TEMPERATURE_GPU = 0
CLOCK_GRAPHICS = 0
CLOCK_SM = 1
MEMORY_ERROR_TYPE_UNCORRECTED = 1
VOLATILE_ECC = 0
AGGREGATE_ECC = 1
PAGE_RETIREMENT_CAUSE_SBE = 0
"""``NVML_PAGE_RETIREMENT_CAUSE_MULTIPLE_SINGLE_BIT_ECC_ERRORS``."""
PAGE_RETIREMENT_CAUSE_DBE = 1
NVLINK_MAX_LINKS = 18
"""``NVML_NVLINK_MAX_LINKS`` of drivers up to R570 (H100/H200/B200 have 18); newer bindings say
36, and the collector stops at the first link a GPU does not have anyway."""
NVLINK_ERROR_DL_REPLAY = 0
NVLINK_ERROR_DL_RECOVERY = 1
NVLINK_ERROR_DL_CRC_FLIT = 2
NVLINK_ERROR_DL_CRC_DATA = 3
FI_DEV_NVLINK_GET_SPEED = 164
"""``NVML_FI_DEV_NVLINK_GET_SPEED``, a field of ``nvmlDeviceGetFieldValues``: one NVLink's
speed in MBps, the link given in ``scopeId`` (nvml.h: "NVLink Speed, State and Version field id
164, 165, and 166"). The older per-link fields (``NVML_FI_DEV_NVLINK_SPEED_MBPS_L0``..``L11``)
stop at link 11; H100 and H200 have 18."""
FI_DEV_NVLINK_GET_POWER_STATE = 167
"""``NVML_FI_DEV_NVLINK_GET_POWER_STATE`` (nvml.h: "NVLink Power state. 0=HIGH_SPEED
1=LOW_SPEED")."""
NVLINK_POWER_STATE_LOW = 1
"""``NVML_NVLINK_POWER_STATE_LOW``: an idle link in its low-power state."""
FIELD_VALUE_MEMBERS: dict[int, str] = {
    0: "dVal",
    1: "uiVal",
    2: "ulVal",
    3: "ullVal",
    4: "sllVal",
    5: "siVal",
    6: "usVal",
}
"""``nvmlValueType_t``: which member of a field value's ``nvmlValue_t`` union holds it."""

ARCHITECTURES: dict[int, str] = {
    2: "Kepler",
    3: "Maxwell",
    4: "Pascal",
    5: "Volta",
    6: "Turing",
    7: "Ampere",
    8: "Ada Lovelace",
    9: "Hopper",
    10: "Blackwell",
    13: "Rubin",
}
COMPUTE_MODES: dict[int, str] = {
    0: "default",
    1: "exclusive_thread",
    2: "prohibited",
    3: "exclusive_process",
}


def error_name(code: int | None) -> str:
    """The snake-case name of an NVML return code (``unknown`` for codes we do not know)."""
    if code is None:
        return "unknown"
    return ERROR_NAMES.get(code, f"nvml_error_{code}")


class NvmlLike(Protocol):
    """The NVML functions gpudoctor calls, named and shaped as in nvidia-ml-py (``pynvml``).

    The ``pynvml`` module itself is passed in (a module satisfies a Protocol by its
    attributes; the NVML child does exactly that), and tests replay captured machines with a
    fake. A function an old nvidia-ml-py lacks is simply an absent attribute, which the
    collector handles. Struct returns (memory, utilisation, PCI info, processes) are objects
    with the nvidia-ml-py attribute names, typed ``Any`` here.
    """

    NVMLError: type[Exception]
    """Raised by every call; instances carry the NVML return code in ``.value``."""
    NVMLLibraryMismatchError: type[Exception]
    """Raised (instead of NVMLError) by nvidia-ml-py's unversioned wrappers, such as
    ``nvmlDeviceGetComputeRunningProcesses``, when the driver lacks the newest versioned
    function they call; absent from old nvidia-ml-py releases."""

    def nvmlInit(self) -> None: ...
    def nvmlShutdown(self) -> None: ...
    def nvmlSystemGetDriverVersion(self) -> str | bytes: ...
    def nvmlSystemGetNVMLVersion(self) -> str | bytes: ...
    def nvmlSystemGetCudaDriverVersion(self) -> int: ...
    def nvmlSystemGetCudaDriverVersion_v2(self) -> int: ...
    def nvmlSystemGetProcessName(self, pid: int) -> str | bytes: ...
    def nvmlDeviceGetCount(self) -> int: ...
    def nvmlGetExcludedDeviceCount(self) -> int: ...
    def nvmlGetExcludedDeviceInfoByIndex(self, index: int) -> Any:
        """``nvmlExcludedDeviceInfo_t``: ``pci`` (an ``nvmlPciInfo_t``, ``busId``) and
        ``uuid``."""
        ...

    def nvmlDeviceGetHandleByIndex(self, index: int) -> Any: ...
    def nvmlDeviceGetName(self, handle: Any) -> str | bytes: ...
    def nvmlDeviceGetUUID(self, handle: Any) -> str | bytes: ...
    def nvmlDeviceGetSerial(self, handle: Any) -> str | bytes: ...
    def nvmlDeviceGetPciInfo(self, handle: Any) -> Any: ...
    def nvmlDeviceGetMemoryInfo(self, handle: Any) -> Any: ...
    def nvmlDeviceGetCudaComputeCapability(self, handle: Any) -> tuple[int, int]: ...
    def nvmlDeviceGetArchitecture(self, handle: Any) -> int: ...
    def nvmlDeviceGetTemperatureV(self, handle: Any, sensor: int) -> int: ...
    def nvmlDeviceGetTemperature(self, handle: Any, sensor: int) -> int: ...
    def nvmlDeviceGetPowerUsage(self, handle: Any) -> int: ...
    def nvmlDeviceGetEnforcedPowerLimit(self, handle: Any) -> int: ...
    def nvmlDeviceGetClockInfo(self, handle: Any, clock: int) -> int: ...
    def nvmlDeviceGetMaxClockInfo(self, handle: Any, clock: int) -> int: ...
    def nvmlDeviceGetUtilizationRates(self, handle: Any) -> Any: ...
    def nvmlDeviceGetCurrPcieLinkGeneration(self, handle: Any) -> int: ...
    def nvmlDeviceGetMaxPcieLinkGeneration(self, handle: Any) -> int: ...
    def nvmlDeviceGetCurrPcieLinkWidth(self, handle: Any) -> int: ...
    def nvmlDeviceGetMaxPcieLinkWidth(self, handle: Any) -> int: ...
    def nvmlDeviceGetEccMode(self, handle: Any) -> tuple[int, int]: ...
    def nvmlDeviceGetTotalEccErrors(self, handle: Any, error_type: int, counter: int) -> int: ...
    def nvmlDeviceGetRetiredPages(self, handle: Any, cause: int) -> list[int]: ...
    def nvmlDeviceGetRetiredPagesPendingStatus(self, handle: Any) -> int: ...
    def nvmlDeviceGetRemappedRows(self, handle: Any) -> tuple[int, int, int, int]: ...
    def nvmlDeviceValidateInforom(self, handle: Any) -> None: ...
    def nvmlDeviceGetPersistenceMode(self, handle: Any) -> int: ...
    def nvmlDeviceGetComputeMode(self, handle: Any) -> int: ...
    def nvmlDeviceGetMigMode(self, handle: Any) -> tuple[int, int]: ...
    def nvmlDeviceGetMaxMigDeviceCount(self, handle: Any) -> int: ...
    def nvmlDeviceGetMigDeviceHandleByIndex(self, handle: Any, index: int) -> Any: ...
    def nvmlDeviceGetCurrentClocksEventReasons(self, handle: Any) -> int: ...
    def nvmlDeviceGetCurrentClocksThrottleReasons(self, handle: Any) -> int: ...
    def nvmlDeviceGetComputeRunningProcesses_v3(self, handle: Any) -> list[Any]: ...
    def nvmlDeviceGetComputeRunningProcesses_v2(self, handle: Any) -> list[Any]: ...
    def nvmlDeviceGetComputeRunningProcesses(self, handle: Any) -> list[Any]: ...
    def nvmlDeviceGetPowerManagementDefaultLimit(self, handle: Any) -> int: ...
    def nvmlDeviceGetPowerManagementLimit(self, handle: Any) -> int: ...
    def nvmlDeviceGetPowerManagementLimitConstraints(self, handle: Any) -> list[int]: ...
    def nvmlDeviceGetApplicationsClock(self, handle: Any, clock: int) -> int: ...
    def nvmlDeviceGetDefaultApplicationsClock(self, handle: Any, clock: int) -> int: ...
    def nvmlDeviceGetBAR1MemoryInfo(self, handle: Any) -> Any: ...
    def nvmlDeviceGetGspFirmwareMode(self, handle: Any) -> list[int]: ...
    def nvmlDeviceGetGspFirmwareVersion(self, handle: Any) -> str | bytes: ...
    def nvmlDeviceGetNvLinkState(self, handle: Any, link: int) -> int: ...
    def nvmlDeviceGetNvLinkVersion(self, handle: Any, link: int) -> int: ...
    def nvmlDeviceGetNvLinkErrorCounter(self, handle: Any, link: int, counter: int) -> int: ...
    def nvmlDeviceGetFieldValues(self, handle: Any, field_ids: list[int | tuple[int, int]]) -> Any:
        """One ``nvmlFieldValue_t`` per ``(fieldId, scopeId)``, each with its own
        ``nvmlReturn``, ``valueType`` and ``value`` union."""
        ...
