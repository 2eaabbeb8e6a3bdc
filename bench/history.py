"""The history: write CPU, file size, chart query and trend redraw.

Targets (issue 6): 3 devices at 0.5 s written with < 2 % of one core; 30 days
at 1 Hz < 1 GB; a chart query of 7 days x 4 series < 100 ms; the trend redraw
for that window < 50 ms.

- Write CPU: the real History (bus handler, queue, writer thread, SQLite) fed
  with snapshots shaped like the simulator's (every polled register of the
  three maps), one batch per second as in the product; plant time runs faster
  than real time, and the process CPU is divided by the plant seconds covered.
- Size: 7 days at 1 Hz for the three devices in the writer's own layout
  (catalogue and layouts made by the writer, rows bulk-inserted), projected to
  30 days.
- Query and redraw on that file: the chart query (`bench.chart_query`) for the
  console's four trend series, and the trend panel loaded from `backfill`
  then redrawn.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PyQt5.QtWidgets import QApplication

from bench.chart_query import ChartReader
from pms_core.bus import Bus, Snapshot
from pms_core.clock import Clock
from pms_core.config import DeviceConfig
from pms_core.devices import Device, make_device
from pms_core.history import History, HistoryReader
from pms_core.history import db as hdb
from pms_core.history.rows import frame_key, layout_series, minute_key, pack_rows
from pms_core.modbus import ModbusLink
from pms_core.registers import DeviceMap, load_map
from pms_gui.trends import TrendPanel

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parent.parent
DEVICES = {"bms": "BMS", "pcs": "PCS", "dcdc": "DCDC"}
TREND = [("bms", "battery_soc"), ("bms", "battery_power"), ("dcdc", "input_power"), ("pcs", "ac_active_power")]
DAY = 86400


def maps() -> dict[str, DeviceMap]:
    return {name: load_map(ROOT / "config" / f"{kind.lower()}_map.json") for name, kind in DEVICES.items()}


def devices(device_maps: dict[str, DeviceMap], clock: Clock) -> dict[str, Device]:
    """The devices, for their derived values only: their links are never used."""
    link = ModbusLink("127.0.0.1", 1)
    return {name: make_device(DeviceConfig(name=name, type=DEVICES[name], ip="127.0.0.1"), m, link, clock)
            for name, m in device_maps.items()}  # fmt: skip


def snapshot(device: Device, ts: float, rng: np.random.Generator) -> Snapshot:
    names = [r for r, reg in device.map.registers.items() if reg.readable and reg.verified]
    noise = rng.normal(50, 5, len(names))
    values: dict[str, float | int | None] = {r: round(float(x), 1) for r, x in zip(names, noise, strict=True)}
    raw = {r: int(v) & 0xFFFF for r, v in values.items() if v is not None}
    return Snapshot(device.name, device.type, ts, 0.0, values, raw, device.derive(values, raw, ts))


async def write_cpu(folder: Path, plant_seconds: float = 600.0, interval: float = 0.5) -> dict[str, float]:
    """3 devices every `interval` s: one transaction a (plant) second, as the writer batches them."""
    device_maps, rng = maps(), np.random.default_rng(1)
    clock = Clock()
    history = History(folder / "cpu.db", 30, Bus(), clock, device_maps)
    await history.start()
    templates = {n: [snapshot(d, clock.now(), rng) for _ in range(20)] for n, d in devices(device_maps, clock).items()}
    start = clock.now() - plant_seconds
    cpu0, wall0 = time.process_time(), time.perf_counter()
    steps = round(plant_seconds / interval)
    per_batch = round(1 / interval)
    for k in range(steps):
        ts = start + k * interval
        for name in device_maps:
            tpl = templates[name][k % 20]
            history.bus.publish(Snapshot(name, tpl.device_type, ts, 0.0, tpl.values, tpl.raw, tpl.derived))
        if (k + 1) % per_batch == 0:
            await history.flush()  # one commit per second of plant time, as in the product
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    await history.stop()
    return {
        "plant_seconds": plant_seconds,
        "snapshots": steps * len(device_maps),
        "transactions": history.batches,
        "wall_s": round(wall, 2),
        "cpu_percent_of_core": round(100 * cpu / plant_seconds, 3),
        "target_cpu_percent": 2,
    }


async def build_week(path: Path, days: float = 7.0) -> None:
    """The writer makes the catalogue and layouts; the rows of `days` at 1 Hz are then bulk-inserted in its format."""
    device_maps, rng = maps(), np.random.default_rng(2)
    clock = Clock()
    history = History(path, 30, Bus(), clock, device_maps)
    await history.start()
    end = clock.now()
    start = end - days * DAY
    for device in devices(device_maps, clock).values():
        history.bus.publish(snapshot(device, start - 10, rng))
    await history.flush()
    await history.stop()
    db = hdb.connect(path, create=False)
    seconds = np.arange(start, end, 1.0)
    for name in device_maps:
        (device_id,) = db.execute("SELECT id FROM devices WHERE name=?", (name,)).fetchone()
        (frame_layout, frame_series), (minute_layout, minute_series) = [
            (lid, len(layout_series(text))) for lid, text in
            db.execute("SELECT id, series FROM layouts WHERE device=? ORDER BY kind", (device_id,))
        ]  # fmt: skip
        # frames: a slow sine with noise and a one-sample spike a day
        base = 50 + 40 * np.sin(seconds / 7200)[:, None] + rng.normal(0, 1, (len(seconds), frame_series))
        base[::DAY, 0] = 999
        db.execute("BEGIN")
        db.executemany(
            f"INSERT OR REPLACE INTO {hdb.frames_table(device_id)} VALUES (?, ?, ?)",
            ((frame_key(t), frame_layout, data) for t, data in zip(seconds, pack_rows(base), strict=True)),
        )
        minutes = np.arange(minute_key(start), end, 60.0)
        mins = rng.normal(50, 5, (len(minutes), minute_series, 3))
        db.executemany(
            f"INSERT OR REPLACE INTO {hdb.minutes_table(device_id)} VALUES (?, ?, ?)",
            ((minute_key(t), minute_layout, data) for t, data in zip(minutes, pack_rows(mins), strict=True)),
        )
        db.execute("COMMIT")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()


def size_and_queries(path: Path, days: float) -> dict[str, float]:
    size = path.stat().st_size
    reader = ChartReader(path)
    end = time.time()
    results: dict[str, float] = {
        "days_written_1hz": days,
        "file_mb": round(size / 2**20, 1),
        "projected_30_days_mb": round(size * 30 / days / 2**20, 1),
        "target_30_days_mb": 1024,
    }
    for label, window in (("10min", 600), ("1h", 3600), ("24h", DAY), ("7d", 7 * DAY), ("30d", 30 * DAY)):
        reader.query(TREND, end - window, end, 2000)  # warm the page cache, as a running console has it
        times = []
        for _ in range(5):
            t0 = time.perf_counter()
            out = reader.query(TREND, end - window, end, 2000)
            times.append(time.perf_counter() - t0)
        results[f"query_{label}_4_series_ms"] = round(1000 * min(times), 1)
        results[f"query_{label}_points"] = max(len(d.t) for d in out.values())
    results["target_query_7d_ms"] = 100
    t0 = time.perf_counter()
    t, _y = reader.backfill(TREND, end, 7 * DAY)
    results["backfill_7d_ms"] = round(1000 * (time.perf_counter() - t0), 1)
    results["backfill_rows"] = len(t)
    return results


class _Clocked:
    """What the trend panel needs of a runtime: the clock, and every device type present (all curves drawn)."""

    clock = Clock()

    @staticmethod
    def device_of_type(device_type: str) -> object:
        return object()


def trend_redraw(path: Path) -> dict[str, float]:
    """The console's trend panel loaded from the backfill of that file, redrawn for the 7-day window."""
    app = QApplication.instance() or QApplication(sys.argv[:1])
    panel = TrendPanel(_Clocked())  # type: ignore[arg-type]  # drawing needs only the clock
    panel.resize(1200, 500)
    panel.show()
    t, y = HistoryReader(path).backfill(TREND, time.time(), 7 * DAY)
    panel.ring.load(t, y.astype(np.float32))
    out = {}
    for label, seconds in (("7d", 7 * DAY), ("24h", DAY), ("10min", 600)):
        panel.set_window(seconds)
        app.processEvents()
        times = []
        for _ in range(5):
            t0 = time.perf_counter()
            panel.redraw()
            panel.graphics.repaint()
            app.processEvents()
            times.append(time.perf_counter() - t0)
        out[f"trend_redraw_{label}_ms"] = round(1000 * min(times), 1)
    out["target_trend_redraw_7d_ms"] = 50
    panel.close()
    return out


def main(quick: bool = False) -> dict[str, dict[str, float]]:
    days = 2.0 if quick else 7.0
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        results = {"write_3_devices_0.5s": asyncio.run(write_cpu(folder, 120.0 if quick else 600.0))}
        week = folder / "week.db"
        asyncio.run(build_week(week, days))
        results["size_and_queries"] = size_and_queries(week, days)
        results["trend_redraw"] = trend_redraw(week)
        with sqlite3.connect(week) as db:
            results["size_and_queries"]["frames_rows"] = sum(
                db.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                for (t,) in db.execute("SELECT name FROM sqlite_master WHERE name LIKE 'frames_%'")
            )
    for name, r in results.items():
        print(f"{name:22s} " + "  ".join(f"{k}={v}" for k, v in r.items()))
    return results


if __name__ == "__main__":
    main(quick="--quick" in sys.argv)
