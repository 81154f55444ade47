"""NVML sampled in a background thread while a GPU run is timed; no NVML means "no telemetry"."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from typing import Any

from gpudoctor.verify.model import Telemetry, TelemetrySample

SAMPLE_INTERVAL_S = 0.1


class NullSampler:
    """Stands in when NVML cannot be read; records why."""

    def __init__(self, message: str) -> None:
        self.message = message

    def on_timed(self, active: bool) -> None:
        """Nothing to start or stop."""

    def result(self) -> Telemetry:
        """No samples, with the reason."""
        return Telemetry(available=False, message=self.message)


class NvmlSampler:
    """Reads clocks, clock-event reasons, PCIe link, temperature, power and utilisation."""

    def __init__(self, nvml: Any, handle: Any, interval_s: float = SAMPLE_INTERVAL_S) -> None:
        self._nvml, self._handle, self._interval = nvml, handle, interval_s
        self._samples: list[TelemetrySample] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._t0 = time.monotonic()
        h = handle
        self._limits = {
            "max_sm_clock_mhz": _try(lambda: nvml.nvmlDeviceGetMaxClockInfo(h, nvml.NVML_CLOCK_SM)),
            "max_pcie_gen": _try(lambda: nvml.nvmlDeviceGetMaxPcieLinkGeneration(h)),
            "max_pcie_width": _try(lambda: nvml.nvmlDeviceGetMaxPcieLinkWidth(h)),
            "gpu_max_pcie_gen": _try(lambda: nvml.nvmlDeviceGetGpuMaxPcieLinkGeneration(h)),
            "gpu_max_pcie_width": _try(lambda: _gpu_max_width(nvml, h)),
            "power_limit_w": _try(lambda: nvml.nvmlDeviceGetEnforcedPowerLimit(h) / 1000.0),
        }

    def on_timed(self, active: bool) -> None:
        """Start sampling when the timed blocks start; stop when they end."""
        if active and self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._loop, name="nvml-sampler", daemon=True)
            self._thread.start()
        elif not active and self._thread is not None:
            self._stop.set()
            self._thread.join(timeout=5.0)
            self._thread = None

    def _loop(self) -> None:
        while True:
            self._samples.append(self._read())
            if self._stop.wait(self._interval):
                return

    def _read(self) -> TelemetrySample:
        nvml, h = self._nvml, self._handle
        power = _try(lambda: nvml.nvmlDeviceGetPowerUsage(h))
        util = _try(lambda: nvml.nvmlDeviceGetUtilizationRates(h).gpu)
        return TelemetrySample(
            t_s=round(time.monotonic() - self._t0, 3),
            sm_clock_mhz=_try(lambda: nvml.nvmlDeviceGetClockInfo(h, nvml.NVML_CLOCK_SM)),
            clock_event_reasons=_try(lambda: _reasons(nvml, h)),
            pcie_gen=_try(lambda: nvml.nvmlDeviceGetCurrPcieLinkGeneration(h)),
            pcie_width=_try(lambda: nvml.nvmlDeviceGetCurrPcieLinkWidth(h)),
            temperature_c=_try(lambda: nvml.nvmlDeviceGetTemperature(h, nvml.NVML_TEMPERATURE_GPU)),
            power_w=power / 1000.0 if power is not None else None,
            utilization_pct=util,
        )

    def result(self) -> Telemetry:
        """The samples taken, with the limits they are judged against."""
        return Telemetry(available=True, samples=tuple(self._samples), **self._limits)


Sampler = NullSampler | NvmlSampler


def open_sampler(uuid: str | None, ordinal: int) -> Sampler:
    """A sampler for the GPU a framework calls ``cuda:ordinal`` (found by UUID when known)."""
    try:
        import pynvml

        pynvml.nvmlInit()
    except Exception as exc:  # any NVML failure only means "no telemetry"
        return NullSampler(f"NVML unavailable: {exc}")
    try:
        handle = _handle(pynvml, uuid, ordinal)
    except Exception as exc:
        return NullSampler(f"NVML could not find the GPU: {exc}")
    return NvmlSampler(pynvml, handle)


def nvml_gpu_count() -> tuple[int | None, str | None]:
    """GPUs on the host as NVML sees them, or (None, why not)."""
    try:
        import pynvml

        pynvml.nvmlInit()
        return int(pynvml.nvmlDeviceGetCount()), None
    except Exception as exc:
        return None, str(exc) or type(exc).__name__


def _handle(nvml: Any, uuid: str | None, ordinal: int) -> Any:
    if uuid:
        try:
            return nvml.nvmlDeviceGetHandleByUUID(uuid)
        except Exception:  # a MIG slice or an odd UUID form: fall back to the ordinal
            pass
    visible = os.environ.get("CUDA_VISIBLE_DEVICES", "").strip()
    if visible:
        entry = visible.split(",")[ordinal].strip()
        if entry.isdigit():
            return nvml.nvmlDeviceGetHandleByIndex(int(entry))
        return nvml.nvmlDeviceGetHandleByUUID(entry)
    # The parent sets CUDA_DEVICE_ORDER=PCI_BUS_ID, so CUDA's ordinals are NVML's indices.
    return nvml.nvmlDeviceGetHandleByIndex(ordinal)


def _reasons(nvml: Any, h: Any) -> int:
    fn = getattr(nvml, "nvmlDeviceGetCurrentClocksEventReasons", None)
    if fn is None:
        fn = nvml.nvmlDeviceGetCurrentClocksThrottleReasons
    return int(fn(h))


def _gpu_max_width(nvml: Any, h: Any) -> int | None:
    fn = getattr(nvml, "nvmlDeviceGetGpuMaxPcieLinkWidth", None)
    return int(fn(h)) if fn is not None else None


def _try(read: Callable[[], Any]) -> Any:
    try:
        value = read()
    except Exception:  # a field this GPU does not report stays None
        return None
    return value
