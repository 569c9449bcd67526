"""Energy of a timed run: the GPU's own energy counter, and the CPU's RAPL counters.

- **GPU**: NVML's total-energy counter (`nvmlDeviceGetTotalEnergyConsumption`, millijoules,
  Volta and newer), read just before and just after the timed `fit` (the device idle at
  both reads: set up before, synchronised by the run's end), never power polled: a
  sampled power reading covers a fraction of a run on A100/H100-class GPUs. Also the
  GPU's temperature at the start, and the counter's update period where consecutive
  reads show it; a run shorter than ten updates is flagged as too short to trust.
  `idle_watts` measures the GPU's draw over a few seconds before the first timed run, so
  the report can show a run's energy above idle.
- **CPU**: the RAPL package counters (`/sys/class/powercap/intel-rapl:N/energy_uj`),
  summed over packages, with their wrap-around (`max_energy_range_uj`), where the host
  exposes them and they are readable.

Where a counter is absent (no GPU, no driver, no NVML, a VM without RAPL, a file that
cannot be read) or misbehaves (it goes backwards), the run still counts: its energy is
None and the reason is recorded. Nothing is estimated from a TDP figure.

Why `nvidia-ml-py` directly and not Zeus's `ZeusMonitor`, which reads the same counter:
zeus 0.16.0 requires scikit-learn, pandas, pydantic, tyro, httpx and amdsmi (its wheel's
metadata) for the two NVML calls this module makes, and the lent GPU machine has no
network to install them; `nvidia-ml-py` is already in its image.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

RAPL = Path("/sys/class/powercap")
MIN_UPDATES = 10  # a run must span this many counter updates to be trusted


@dataclass
class Reading:
    joules: float | None  # the counter, in joules (cumulative)
    reason: str = ""  # why there is no reading


def _nvml():
    import pynvml  # nvidia-ml-py

    pynvml.nvmlInit()
    return pynvml


class GpuCounter:
    """NVML's total-energy counter of one GPU (by index)."""

    def __init__(self, index: int = 0, nvml: Callable = _nvml) -> None:
        self.reason = ""
        try:
            self.nvml = nvml()
            self.handle = self.nvml.nvmlDeviceGetHandleByIndex(index)
            self.nvml.nvmlDeviceGetTotalEnergyConsumption(self.handle)
        except Exception as err:  # ImportError, NVMLError_*: no counter here, and why
            self.nvml = self.handle = None
            self.reason = f"no NVML energy counter ({type(err).__name__}: {err})"[:200]

    def read(self) -> Reading:
        if self.handle is None:
            return Reading(None, self.reason)
        try:
            return Reading(self.nvml.nvmlDeviceGetTotalEnergyConsumption(self.handle) / 1000)
        except Exception as err:
            return Reading(None, f"NVML read failed ({type(err).__name__})")

    def temperature(self) -> float | None:
        if self.handle is None:
            return None
        try:
            return float(self.nvml.nvmlDeviceGetTemperature(self.handle, 0))  # the GPU die
        except Exception:
            return None

    def update_period(self, wait_s: float = 0.5, clock: Callable = time.perf_counter) -> float:
        """Seconds between two changes of the counter, watched for up to `wait_s`; NaN
        when it did not change twice (an idle GPU's counter may stand still)."""
        changes, last, deadline = [], self.read().joules, clock() + wait_s
        while last is not None and clock() < deadline and len(changes) < 3:
            now = self.read().joules
            if now != last:
                changes.append(clock())
                last = now
        if len(changes) < 2:
            return float("nan")
        return (changes[-1] - changes[0]) / (len(changes) - 1)

    def idle_watts(self, seconds: float = 3.0, sleep: Callable = time.sleep) -> float | None:
        """The GPU's mean draw over `seconds` of doing nothing, from the energy counter."""
        start = self.read().joules
        began = time.perf_counter()
        sleep(seconds)
        end = self.read().joules
        if start is None or end is None or end < start:
            return None
        return (end - start) / (time.perf_counter() - began)


class RaplCounter:
    """The RAPL package counters of this host, summed, with wrap-around."""

    def __init__(self, root: Path = RAPL) -> None:
        self.zones = sorted(root.glob("intel-rapl:[0-9]*")) if root.is_dir() else []
        self.zones = [z for z in self.zones if ":" not in z.name.split("intel-rapl:")[1]]
        self.reason = "" if self.zones else f"no RAPL package zone under {root}"
        self.ranges = {}
        for zone in self.zones:
            try:
                self.ranges[zone] = int((zone / "max_energy_range_uj").read_text())
                int((zone / "energy_uj").read_text())
            except (OSError, ValueError) as err:
                self.zones, self.reason = [], f"RAPL unreadable ({getattr(err, 'strerror', err)})"
                break

    def read(self) -> list[int] | str:
        """Each package's microjoules, or why not."""
        if not self.zones:
            return self.reason
        try:
            return [int((zone / "energy_uj").read_text()) for zone in self.zones]
        except (OSError, ValueError) as err:
            return f"RAPL unreadable ({getattr(err, 'strerror', err)})"

    def joules(self, start: list[int] | str, end: list[int] | str) -> Reading:
        """The energy between two reads, each package's counter unwrapped once."""
        if isinstance(start, str) or isinstance(end, str):
            return Reading(None, start if isinstance(start, str) else end)
        total = 0
        for zone, a, b in zip(self.zones, start, end, strict=True):
            total += b - a if b >= a else b + self.ranges[zone] - a
        return Reading(total / 1e6)


@dataclass
class Meter:
    """Reads both counters around a timed region: `start()` just before, `stop()` just
    after; `record()` is what a run keeps."""

    gpu: GpuCounter | None
    cpu: RaplCounter
    period_s: float = float("nan")  # the GPU counter's update period, measured once
    idle_w: float | None = None  # the GPU's idle draw, measured once before the runs

    def start(self) -> None:
        self._gpu0 = self.gpu.read() if self.gpu else Reading(None, "a CPU run")
        self._temp = self.gpu.temperature() if self.gpu else None
        self._cpu0 = self.cpu.read()
        self._t0 = time.perf_counter()

    def stop(self) -> dict:
        seconds = time.perf_counter() - self._t0
        gpu1 = self.gpu.read() if self.gpu else Reading(None, "a CPU run")
        cpu = self.cpu.joules(self._cpu0, self.cpu.read())
        gpu_j, gpu_reason = None, gpu1.reason or self._gpu0.reason
        if self._gpu0.joules is not None and gpu1.joules is not None:
            if gpu1.joules < self._gpu0.joules:
                gpu_reason = "the GPU energy counter went backwards"
            else:
                gpu_j, gpu_reason = gpu1.joules - self._gpu0.joules, ""
        short = self.period_s == self.period_s and seconds < MIN_UPDATES * self.period_s
        return {
            "gpu_j": gpu_j,
            "gpu_reason": gpu_reason,
            "gpu_idle_w": self.idle_w,
            "gpu_temperature_c": self._temp,
            "gpu_counter_period_s": None if self.period_s != self.period_s else self.period_s,
            "gpu_too_short": bool(gpu_j is not None and short),
            "cpu_j": cpu.joules,
            "cpu_reason": cpu.reason,
        }


def meter(kind: str, nvml: Callable = _nvml, rapl: Path = RAPL) -> Meter:
    """A Meter for a run on this kind of device (the GPU's counter only on a GPU)."""
    gpu = GpuCounter(0, nvml) if kind == "gpu" else None
    return Meter(gpu, RaplCounter(rapl))


def calibrated(kind: str) -> Meter:
    """A Meter for this kind of device whose GPU counter's update period and idle draw
    are measured, once, before the runs it meters."""
    found = meter(kind)
    if found.gpu is not None and found.gpu.handle is not None:
        found.period_s = found.gpu.update_period()
        found.idle_w = found.gpu.idle_watts()
    return found
