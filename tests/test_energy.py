"""Energy counters with fakes: NVML's counter (it works, it is absent, it goes backwards),
RAPL's files (summed over packages, wrap-around, unreadable, absent); and the report's
energy and cost tables, prices given on the command line."""

import math
import time
from pathlib import Path

import pytest
from rich.console import Console

from cnnbench import energy
from cnnbench.report import cli

MATRIX = Path(__file__).parent / "fixtures" / "matrix.jsonl"


class FakeNvml:
    """pynvml's calls the counter makes, over a list of millijoule readings."""

    def __init__(self, readings, temperature=41):
        self.readings = list(readings)
        self.temperature = temperature

    def __call__(self):
        return self

    def nvmlDeviceGetHandleByIndex(self, index):  # noqa: N802  (pynvml's name)
        return index

    def nvmlDeviceGetTotalEnergyConsumption(self, handle):  # noqa: N802
        return self.readings.pop(0) if len(self.readings) > 1 else self.readings[0]

    def nvmlDeviceGetTemperature(self, handle, sensor):  # noqa: N802
        return self.temperature


def _no_nvml():
    raise ImportError("No module named 'pynvml'")


def test_a_gpu_run_reads_the_counter_around_the_fit(tmp_path):
    nvml = FakeNvml([1_000_000, 1_000_000, 1_450_500])  # probe, start, stop (mJ)
    meter = energy.meter("gpu", nvml=nvml, rapl=tmp_path / "none")
    meter.period_s = 0.1
    meter.start()
    record = meter.stop()
    assert record["gpu_j"] == pytest.approx(450.5) and record["gpu_reason"] == ""
    assert record["gpu_temperature_c"] == 41.0
    assert record["gpu_too_short"] is True  # a run of microseconds: under ten updates
    assert record["cpu_j"] is None and "no RAPL package zone" in record["cpu_reason"]


def test_a_counter_that_goes_backwards_or_is_absent_gives_no_joules_and_a_reason(tmp_path):
    backwards = energy.meter("gpu", nvml=FakeNvml([5_000, 5_000, 4_000]), rapl=tmp_path)
    backwards.start()
    record = backwards.stop()
    assert (
        record["gpu_j"] is None and record["gpu_reason"] == "the GPU energy counter went backwards"
    )
    absent = energy.meter("gpu", nvml=_no_nvml, rapl=tmp_path)
    absent.start()
    record = absent.stop()
    assert record["gpu_j"] is None and "no NVML energy counter (ImportError" in record["gpu_reason"]


def _rapl(root: Path, zones: dict[str, tuple[int, int]]) -> Path:
    for name, (value, limit) in zones.items():
        zone = root / name
        zone.mkdir(parents=True)
        (zone / "energy_uj").write_text(f"{value}\n")
        (zone / "max_energy_range_uj").write_text(f"{limit}\n")
    (root / "intel-rapl:0:0").mkdir()  # a sub-zone (core): never counted twice
    return root


def test_rapl_sums_packages_and_unwraps_a_counter_once(tmp_path):
    root = _rapl(tmp_path, {"intel-rapl:0": (900, 1000), "intel-rapl:1": (100, 1000)})
    counter = energy.RaplCounter(root)
    start = counter.read()
    (root / "intel-rapl:0" / "energy_uj").write_text("50\n")  # wrapped: 900 -> 1000 -> 50
    (root / "intel-rapl:1" / "energy_uj").write_text("300\n")
    reading = counter.joules(start, counter.read())
    assert reading.joules == pytest.approx((150 + 200) / 1e6)


def test_rapl_unreadable_or_absent_is_a_reason(tmp_path):
    assert "no RAPL package zone" in energy.RaplCounter(tmp_path / "absent").reason
    root = _rapl(tmp_path / "r", {"intel-rapl:0": (1, 1000)})
    (root / "intel-rapl:0" / "energy_uj").unlink()
    (root / "intel-rapl:0" / "energy_uj").mkdir()  # unreadable even as root
    counter = energy.RaplCounter(root)
    assert counter.read().startswith("RAPL unreadable")
    assert counter.joules(counter.read(), counter.read()).joules is None


def _report(tmp_path, *args):
    console = Console(record=True, width=160, color_system=None)
    code = cli.main([str(MATRIX), "--out", str(tmp_path / "out"), *map(str, args)], console=console)
    return code, console.export_text()


def test_the_energy_and_cost_tables(tmp_path):
    code, text = _report(tmp_path, "--table", "energy", "--table", "cost", "--price", "gpu=3.6")
    assert code == 0
    summary = (tmp_path / "out" / "summary.md").read_text()
    # H100 jax native fp32 at 8 filters: 300 W over a 3.3 s median run, 70 W idle
    assert "990 J (1.8 J/1000 images" in summary and "above idle 759 J" in summary
    assert "$0.0033 per run" in summary  # 3.3 s at $3.60 an hour
    assert "Dollars per run" in text
    assert "Dollars per run" not in _report(tmp_path, "--table", "all")[1]  # no price, no table


@pytest.mark.parametrize(
    "price, message",
    [
        ("gpu", "expected DEVICE=DOLLARS_PER_HOUR"),
        ("tpu=2", "no run on 'tpu'; known:"),
        ("gpu=-1", "a price must be a finite number >= 0"),
        ("gpu=nan", "a price must be a finite number >= 0"),
        ("gpu=cheap", "'cheap' is not a number"),
    ],
)
def test_a_bad_price_is_one_line(tmp_path, capsys, price, message):
    code, _ = _report(tmp_path, "--price", price)
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and message in err
    assert not (tmp_path / "out").exists()


def test_a_rapl_counter_that_did_not_move_adds_nothing(tmp_path):
    root = _rapl(tmp_path, {"intel-rapl:0": (500, 1000)})
    counter = energy.RaplCounter(root)
    reading = counter.joules(counter.read(), counter.read())
    assert reading.joules == 0.0  # never a wrap-around's worth


class Clock:
    def __init__(self, step):
        self.now, self.step = 0.0, step

    def __call__(self):
        self.now += self.step
        return self.now


def test_the_counter_period_and_idle_draw_are_what_the_counter_shows():
    # the counter moves every other read, and the fake clock 0.05 s each time it is read:
    # between two changes it is read three times (two loop checks, one stamp): 0.15 s
    nvml = FakeNvml([0, 0, 0, 100, 100, 200, 200, 300, 300, 400])
    gpu = energy.GpuCounter(0, nvml)
    assert gpu.update_period(wait_s=5, clock=Clock(0.05)) == pytest.approx(0.15)
    still = energy.GpuCounter(0, FakeNvml([7, 7]))
    assert math.isnan(still.update_period(wait_s=0.2, clock=Clock(0.05)))
    idle = energy.GpuCounter(0, FakeNvml([0, 0, 90_000]))  # probe, start, end: 90 J
    watts = idle.idle_watts(seconds=0.0, sleep=lambda s: time.sleep(0.01))
    assert 90 / 0.05 < watts < 90 / 0.009  # 90 J over about 0.01 s


def test_a_run_of_a_few_counter_updates_is_flagged_and_a_long_one_is_not(tmp_path, monkeypatch):
    meter = energy.meter("gpu", nvml=FakeNvml([0, 0, 5_000]), rapl=tmp_path / "none")
    meter.period_s = 0.1
    ticks = [0.0, 0.5, 100.0, 101.5]  # start, stop: 0.5 s, then 1.5 s

    def clock():
        return ticks.pop(0) if len(ticks) > 1 else ticks[0]

    monkeypatch.setattr(energy.time, "perf_counter", clock)
    meter.start()
    assert meter.stop()["gpu_too_short"] is True  # 5 updates < MIN_UPDATES
    meter.gpu = energy.GpuCounter(0, FakeNvml([0, 0, 5_000]))
    meter.start()
    assert meter.stop()["gpu_too_short"] is False  # 15 updates
