"""History, alarm journal, audit log and CSV export: real SQLite on disk, the simulator over real TCP, plant time
accelerated where a day must pass."""

from __future__ import annotations

import csv
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from bench.chart_query import ChartReader, downsample
from pms_core.bus import Bus, Snapshot
from pms_core.clock import Clock
from pms_core.commands import CommandResult
from pms_core.config import load_config
from pms_core.history import HISTORY_ALARM, History, HistoryReader
from pms_core.history import db as hdb
from pms_core.registers import load_map
from tests.helpers.broker import Recorder
from tests.helpers.configs import today_at, write_config
from tests.helpers.mqtt import B, ask
from tests.helpers.paths import ROOT
from tests.helpers.site import SimulatedSite
from tests.helpers.waiting import wait_for

DAY = 86400.0
ALARM = "trip_1.0"


def journal(path: Path, alarm: str) -> list[dict]:
    with sqlite3.connect(path) as db:
        db.row_factory = sqlite3.Row
        return [dict(r) for r in db.execute("SELECT * FROM alarms WHERE alarm=? ORDER BY id", (alarm,))]


def audit(path: Path) -> list[dict]:
    with sqlite3.connect(path) as db:
        db.row_factory = sqlite3.Row
        return [dict(r) for r in db.execute("SELECT * FROM audit ORDER BY id")]


def read_csv(path: Path) -> list[dict]:
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf"), "UTF-8 with BOM"
    return list(csv.DictReader(raw.decode("utf-8-sig").splitlines()))


# --- a simulated day, polled over TCP, into the history and out as CSV ------------------------------
@pytest.mark.tcp
@pytest.mark.slow
async def test_a_simulated_day_round_trips_into_history_and_csv(tmp_path, data_folder):
    speed, poll = 4320.0, 120.0  # a plant day in 20 s, a poll every 2 plant minutes
    start = today_at() - DAY
    loaded = load_config(write_config(tmp_path, poll_interval=poll), plant_speed=speed)
    clock = Clock(speed, start=start)
    async with SimulatedSite(loaded, clock) as plant:
        await plant.all_online()
        history = plant.runtime.history
        assert history.ok and history.path == data_folder / "history.db"
        await wait_for(lambda: clock.now() >= start + DAY, 60, "a plant day")
        await history.flush()
    dcdc, bms = plant.name("DCDC"), plant.name("BMS")

    reader = ChartReader(history.path)
    day = reader.query([(dcdc, "input_voltage"), (bms, "battery_soc")], start, start + DAY, 2000)
    pv = day[(dcdc, "input_voltage")]
    assert pv.source == "minute"  # a day in 2000 points: buckets over a minute read the 1-minute table
    polled = ~np.isnan(pv.v)  # every other minute has no poll (every 2 plant minutes): the nearest that has one
    t, v = pv.t[polled], pv.v[polled]
    at = {h: v[np.argmin(np.abs(t - (start + h * 3600)))] for h in (3, 12, 21)}
    assert at == {3: 0.0, 12: 520.0, 21: 0.0}  # the simulator's sun: 520 V on the PV input by day only
    noon = reader.query([(dcdc, "input_voltage")], start + 11.5 * 3600, start + 12.5 * 3600, 1000)[(dcdc, "input_voltage")]
    assert noon.source == "full" and 20 <= np.count_nonzero(~np.isnan(noon.v)) <= 40  # every 2-minute poll of that hour
    assert np.nanmin(noon.v) == 520.0

    out = tmp_path / "day.csv"
    (tmp_path / "site").mkdir()
    site = write_config(tmp_path / "site")  # the same devices and history at real-time poll rates, as a site has them
    proc = subprocess.run(  # noqa: ASYNC221 (the CLI as an operator runs it; the PMS has stopped)
        [sys.executable, "main.py", "--config", str(site), "export", "--out", str(out),
         "--since", datetime.fromtimestamp(start).isoformat(), "--until", datetime.fromtimestamp(start + DAY).isoformat()],
        cwd=ROOT, capture_output=True, text=True, timeout=60, env=dict(os.environ), check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    rows = read_csv(out)
    assert list(rows[0]) == ["timestamp", "device", "key", "value", "unit"]
    units = {(r["device"], r["key"]): r["unit"] for r in rows}
    assert units[(bms, "battery_soc")] == "%" and units[(dcdc, "input_voltage")] == "V"
    assert units[(bms, "battery_power")] == "kW" and units[(dcdc, "today_kwh")] == "kWh"  # derived; 1-minute series
    stamps = [datetime.fromisoformat(r["timestamp"]) for r in rows]
    assert all(s.tzinfo is not None for s in stamps[:50])
    epochs = [s.timestamp() for s in stamps]
    assert epochs == sorted(epochs) and start <= epochs[0] < start + 600 and start + DAY - 600 < epochs[-1] < start + DAY
    noon_pv = [float(r["value"]) for r, e in zip(rows, epochs, strict=True)
               if r["device"] == dcdc and r["key"] == "input_voltage" and abs(e - (start + 12 * 3600)) < 600]  # fmt: skip
    assert noon_pv and set(noon_pv) == {520.0}
    polls = {r["timestamp"] for r in rows if r["device"] == bms and r["key"] == "battery_soc"}
    assert 600 <= len(polls) <= 730  # ~720 polls in the day, every one a row
    assert f"exported {len(rows)} values row(s)" in proc.stdout


# --- the alarm journal over MQTT and across a restart -------------------------------------------------
@pytest.mark.tcp
@pytest.mark.broker
async def test_alarm_journal_raised_acknowledged_over_mqtt_restored_after_restart_and_cleared(tmp_path, broker):
    loaded = load_config(write_config(tmp_path, mqtt={"port": broker.port, "client_id": "pms-test"}))
    rec = Recorder(broker.port, (f"{B}/#",))
    try:
        async with SimulatedSite(loaded, Clock(), mqtt=True) as plant:
            await plant.all_online()
            await wait_for(lambda: plant.runtime.mqtt.connected, 10, "connected to the broker")
            path, pcs = plant.runtime.history.path, plant.name("PCS")
            plant.sim.set_bits(pcs, "trip_1", 1)
            await wait_for(lambda: (pcs, "trip_1.0") in plant.runtime.alarms.active, 5, "the trip raised")
            await plant.runtime.history.flush()
            [row] = journal(path, ALARM)
            assert (row["device"], row["alarm"], row["severity"], row["code"]) == (pcs, "trip_1.0", "fault", "IR24.0")
            assert row["cleared_at"] is None and row["acknowledged_by"] is None
            answer = await ask(rec, f"{B}/control/alarm_ack", {"device_name": pcs, "alarm": "trip_1.0"})
            assert answer["success"]
            await plant.runtime.history.flush()
            [row] = journal(path, ALARM)
            assert row["acknowledged_by"] == "mqtt" and row["acknowledged_at"] >= row["raised_at"]
        # restart while the trip is still on: active again at once, with its acknowledgement, no second entry
        async with SimulatedSite(loaded, Clock(), mqtt=False) as plant:
            active = plant.runtime.alarms.active[(pcs, "trip_1.0")]
            assert active.acknowledged_by == "mqtt" and active.event.timestamp == row["raised_at"]
            await plant.all_online()
            await plant.runtime.history.flush()
            assert len(journal(path, ALARM)) == 1
            plant.sim.set_bits(pcs, "trip_1", 0)
            await wait_for(lambda: (pcs, "trip_1.0") not in plant.runtime.alarms.active, 5, "the trip cleared")
            await plant.runtime.history.flush()
            [row] = journal(path, ALARM)
            assert row["cleared_at"] is not None and row["cleared_at"] >= row["acknowledged_at"]
        # restart after it cleared: nothing active
        async with SimulatedSite(loaded, Clock()) as plant:
            assert (pcs, "trip_1.0") not in plant.runtime.alarms.active
    finally:
        rec.close()


@pytest.mark.tcp
async def test_alarm_cleared_while_the_pms_was_down_is_closed_by_the_first_poll(tmp_path):
    loaded = load_config(write_config(tmp_path))
    async with SimulatedSite(loaded, Clock()) as plant:
        await plant.all_online()
        pcs = plant.name("PCS")
        plant.sim.set_bits(pcs, "trip_1", 1 << 15)
        await wait_for(lambda: (pcs, "trip_1.15") in plant.runtime.alarms.active, 5, "emergency stop raised")
        assert plant.runtime.alarms.acknowledge(pcs, "trip_1.15", "gui") is None
        path = plant.runtime.history.path
    async with SimulatedSite(loaded, Clock()) as plant:  # a fresh simulator: the trip is gone
        assert plant.runtime.alarms.active[(pcs, "trip_1.15")].acknowledged_by == "gui"
        await wait_for(lambda: (pcs, "trip_1.15") not in plant.runtime.alarms.active, 5, "closed by the first poll")
        await plant.runtime.history.flush()
    [row] = journal(path, "trip_1.15")
    assert row["acknowledged_by"] == "gui" and row["cleared_at"] is not None


# --- the audit log -------------------------------------------------------------------------------------
@pytest.mark.tcp
async def test_audit_log_holds_every_command_stage_mode_and_threshold_change(site):
    rt, pcs = site.runtime, site.name("PCS")
    results: list[CommandResult] = []
    rt.bus.subscribe(CommandResult, results.append)
    result = await rt.commands.execute(pcs, "operation_mode", {"mode": "charge"}, source="gui", request_id="r-7")
    assert result.status == "written"
    refused = await rt.commands.execute(pcs, "operation_mode", {"mode": "fly"}, source="mqtt", request_id="r-8")
    assert refused.status == "failed"
    assert rt.operation.update_settings({"soc_high_threshold": 90}, rt.pcs_rating_kw(), source="mqtt").ok
    assert rt.operation.set_mode("auto", source="gui").ok
    await wait_for(lambda: any(r.status == "confirmed" for r in results), 15, "the charge confirmed")
    await rt.history.flush()
    rows = audit(rt.history.path)
    commands = [r for r in rows if r["kind"] == "command" and r["request_id"] == "r-7"]
    assert [r["status"] for r in commands] == ["written", "confirmed"]
    assert commands[0]["source"] == "gui" and commands[0]["device"] == pcs and commands[0]["command"] == "operation_mode"
    assert commands[0]["writes"] == "[[22, 85]]" and '"charge"' in commands[0]["params"]
    [bad] = [r for r in rows if r["request_id"] == "r-8"]
    assert bad["status"] == "failed" and bad["source"] == "mqtt" and bad["reason"]
    [threshold] = [r for r in rows if r["kind"] == "threshold"]
    assert threshold["command"] == "soc_high_threshold" and threshold["status"] == "90.0" and threshold["source"] == "mqtt"
    assert '"old": 88' in threshold["params"]
    modes = [(r["status"], r["source"]) for r in rows if r["kind"] == "mode"]
    assert modes == [("auto", "gui")]  # with who asked for it


# --- queries -------------------------------------------------------------------------------------------
WINDOWS = (600, 3600, 6 * 3600, DAY, 7 * DAY, 30 * DAY)


@pytest.mark.parametrize("max_points", [100, 1000])
def test_downsampling_keeps_a_one_sample_spike_at_every_window(max_points):
    now = 1_750_000_000.0
    for window in WINDOWS:
        t = np.arange(now - window, now, 1.0)
        v = np.sin(t / 600) * 10
        spike_at = len(t) // 3 + 7
        v[spike_at], v[spike_at + len(t) // 3] = 1000.0, -1000.0
        out = downsample(t, v, v, now - window, now, max_points // 2, 5.0)
        assert len(out.t) <= max_points, window
        assert np.nanmax(out.v) == 1000.0 and np.nanmin(out.v) == -1000.0, window
        assert np.all(np.diff(out.t) >= 0)
        assert not np.isnan(out.v).any()  # no gaps in continuous data


def synthetic_history(tmp_path: Path) -> tuple[History, dict, float]:
    """A History of one BMS "rack" fed by the test with snapshots at the times it chooses."""
    bms_map = load_map(ROOT / "config" / "bms_map.json")
    clock = Clock()
    history = History(tmp_path / "h.db", 30, Bus(), clock, {"rack": bms_map})
    base = {name: 0 for name, reg in bms_map.registers.items() if reg.readable}
    return history, base, clock.now()


def feed(history: History, base: dict, times: np.ndarray, soc) -> None:
    for ts in times:
        history.bus.publish(Snapshot("rack", "BMS", float(ts), 0.0, dict(base, battery_soc=soc(ts)), {}, {}))


@pytest.mark.slow
async def test_queries_from_disk_keep_a_spike_and_show_gaps_at_every_window(tmp_path):
    history, base, now = synthetic_history(tmp_path)
    span, step = 2 * DAY, 2.0
    spike, gap = now - 300.0, (now - DAY / 2, now - DAY / 2 + 1800)
    await history.start()
    times = np.arange(now - span, now, step)
    times = times[(times < gap[0]) | (times >= gap[1])]
    feed(history, base, times, lambda ts: 999.0 if abs(ts - spike) < step / 2 else 50.0 + 10 * np.sin(ts / 3600))
    await history.flush()
    await history.stop()
    reader = ChartReader(history.path)
    key = ("rack", "battery_soc")
    for window in WINDOWS:
        for max_points in (200, 2000):
            data = reader.query([key], now - window, now, max_points)[key]
            assert len(data.t) <= max_points + 2, (window, max_points)
            assert np.nanmax(data.v) == pytest.approx(999.0), (window, max_points, data.source)
            if window >= DAY:  # the half-hour outage is in the window: a NaN between its edges, no line across
                assert (np.isnan(data.v) & (data.t > gap[0] - 120) & (data.t < gap[1] + 120)).any(), (window, max_points)
                assert not ((data.t > gap[0] + 120) & (data.t < gap[1] - 120) & ~np.isnan(data.v)).any()
    temp = reader.query([("rack", "module_0_max_temp")], now - 3600, now, 100)[("rack", "module_0_max_temp")]
    assert temp.source == "minute" and len(temp.t)  # a 1-minute series


async def test_trend_backfill_rows(tmp_path):
    history, base, now = synthetic_history(tmp_path)
    await history.start()
    feed(history, base, np.arange(now - 3 * 3600, now - 600, 1.0), lambda ts: ts % 100)  # then 10 min off
    await history.flush()
    await history.stop()
    t, y = HistoryReader(history.path).backfill([("rack", "battery_soc"), ("nowhere", "x")], now, 7 * DAY, fine=3600)
    assert np.all(np.diff(t) > 0) and y.shape == (2, len(t))
    assert np.isnan(y[1]).all()
    recent = t > now - 3600
    assert np.count_nonzero(recent) == pytest.approx(3600, abs=2)  # one row a second for the last hour
    assert not np.isnan(y[0][recent & (t < now - 700)]).any()
    assert np.isnan(y[0][t > now - 590]).all()  # the time the PMS was off is a gap
    old = (t > now - 3 * 3600 + 120) & (t < now - 3600 - 120)
    assert np.nanmax(y[0][old]) > 99 and np.nanmin(y[0][old]) < 1  # each minute's min and max
    assert np.isnan(y[0][t < now - 3 * 3600 - 120]).all()


async def test_a_register_is_stored_at_every_poll_when_its_map_says_so(tmp_path):
    """Which series are full-rate is map data (rule 1): one key in the JSON, no Python."""
    data = json.loads((ROOT / "config" / "bms_map.json").read_text(encoding="utf-8"))
    assert "history" not in data["registers"]["module_0_max_temp"]  # a 1-minute series as shipped
    data["registers"]["module_0_max_temp"]["history"] = "full"
    (tmp_path / "bms_map.json").write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    bms_map = load_map(tmp_path / "bms_map.json")
    clock = Clock()
    history = History(tmp_path / "h.db", 30, Bus(), clock, {"rack": bms_map})
    now = clock.now()
    await history.start()
    base = {name: 0 for name, reg in bms_map.registers.items() if reg.readable}
    feed(history, base, np.arange(now - 600, now, 1.0), lambda ts: 50.0)
    await history.flush()
    await history.stop()
    key = ("rack", "module_0_max_temp")
    temp = ChartReader(history.path).query([key], now - 601, now, 2000)[key]
    assert temp.source == "full" and len(temp.t) == 600  # every poll


# --- schema versions, broken files --------------------------------------------------------------------
V1_SCHEMA = """
CREATE TABLE schema_version(version INTEGER NOT NULL, applied_at REAL NOT NULL, note TEXT);
INSERT INTO schema_version VALUES (1, 0, 'created');
CREATE TABLE devices(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, type TEXT NOT NULL);
CREATE TABLE series(id INTEGER PRIMARY KEY, device INTEGER NOT NULL, key TEXT NOT NULL, unit TEXT NOT NULL,
                    full_rate INTEGER NOT NULL, UNIQUE(device, key));
CREATE TABLE layouts(id INTEGER PRIMARY KEY, device INTEGER NOT NULL, kind TEXT NOT NULL, series TEXT NOT NULL);
CREATE TABLE alarms(id INTEGER PRIMARY KEY, device TEXT NOT NULL, alarm TEXT NOT NULL, code TEXT, severity TEXT,
                    message TEXT, raised_at REAL NOT NULL, cleared_at REAL);
CREATE INDEX alarms_raised ON alarms(raised_at);
CREATE TABLE frames_1(ts INTEGER PRIMARY KEY, layout INTEGER, data BLOB);
CREATE TABLE minutes_1(t INTEGER PRIMARY KEY, layout INTEGER, data BLOB);
"""


@pytest.mark.tcp
async def test_a_version_1_database_is_migrated_and_its_data_kept(tmp_path, data_folder):
    loaded = load_config(write_config(tmp_path))
    pcs = next(d.name for d in loaded.devices if d.type == "PCS")
    path = data_folder / "history.db"
    path.parent.mkdir(parents=True)
    now = time.time()
    with sqlite3.connect(path) as db:
        db.executescript(V1_SCHEMA)
        db.execute("INSERT INTO devices VALUES (1, ?, 'PCS')", (pcs,))
        db.execute("INSERT INTO series VALUES (1, 1, 'ac_active_power', 'kW', 1)")
        db.execute("INSERT INTO layouts VALUES (1, 1, 'frame', '1')")
        db.executemany("INSERT INTO frames_1 VALUES (?, 1, ?)",
                       [(round((now - 100 + i) * 1000), np.float32(i).tobytes()) for i in range(50)])  # fmt: skip
        db.execute("INSERT INTO alarms(device, alarm, code, severity, message, raised_at) VALUES (?, 'trip_1.0', "
                   "'IR24.0', 'fault', 'Over Current', ?)", (pcs, now - 60))  # fmt: skip
    async with SimulatedSite(loaded, Clock()) as plant:
        history = plant.runtime.history
        assert history.ok
        assert (pcs, "trip_1.0") in plant.runtime.alarms.active  # the v1 journal's open alarm, restored
        await plant.all_online()
        await history.flush()
    with sqlite3.connect(path) as db:
        versions = [r[0] for r in db.execute("SELECT version FROM schema_version ORDER BY version")]
        columns = {r[1] for r in db.execute("PRAGMA table_info(alarms)")}
    assert versions == [1, 2] and {"acknowledged_at", "acknowledged_by"} <= columns
    old = ChartReader(path).query([(pcs, "ac_active_power")], now - 200, now - 40, 1000)[(pcs, "ac_active_power")]
    assert list(old.v[~np.isnan(old.v)][:50]) == list(range(50))


@pytest.mark.tcp
async def test_a_corrupt_history_file_is_reported_and_the_pms_keeps_polling(tmp_path, data_folder, caplog):
    path = data_folder / "history.db"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"this is not a database, it was cut by a power failure" * 200)
    loaded = load_config(write_config(tmp_path))
    async with SimulatedSite(loaded, Clock()) as plant:
        history = plant.runtime.history
        assert history.status == "failed" and "corrupt" in history.error and str(path) in history.error
        alarm = plant.runtime.alarms.active[("PMS", HISTORY_ALARM)]
        assert alarm.event.severity == "warning" and "corrupt" in alarm.event.message
        await plant.all_online()
        bms = plant.device("BMS")
        first = bms.snapshot.timestamp
        await wait_for(lambda: bms.snapshot.timestamp > first + 0.5, 5, "polling goes on")
        await history.flush()  # no writer: returns at once
    assert any("corrupt" in r.getMessage() and r.levelname == "ERROR" for r in caplog.records)
    assert path.read_bytes().startswith(b"this is not")  # left for the operator, never overwritten


@pytest.mark.tcp
async def test_a_locked_history_file_is_reported(tmp_path, data_folder, monkeypatch):
    monkeypatch.setattr(hdb, "BUSY_TIMEOUT_MS", 200)
    path = data_folder / "history.db"
    hdb.connect(path, create=True).close()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("PRAGMA locking_mode=EXCLUSIVE")
    holder.execute("BEGIN EXCLUSIVE")
    try:
        async with SimulatedSite(load_config(write_config(tmp_path)), Clock()) as plant:
            assert plant.runtime.history.status == "failed" and "locked" in plant.runtime.history.error
            assert ("PMS", HISTORY_ALARM) in plant.runtime.alarms.active
            await plant.all_online()
    finally:
        holder.close()


# --- kill -9 while writing --------------------------------------------------------------------------
WRITER = """
import asyncio, sys
sys.path.insert(0, {root!r})
from pathlib import Path
from pms_core.bus import Bus, Snapshot
from pms_core.clock import Clock
from pms_core.commands import CommandResult
from pms_core.history import History
from pms_core.registers import load_map

async def main():
    bms = load_map(Path({root!r}) / "config" / "bms_map.json")
    base = {{n: 1 for n, r in bms.registers.items() if r.readable}}
    clock, bus = Clock(), Bus()
    history = History(Path({path!r}), 30, bus, clock, {{"rack": bms}})
    await history.start()
    t0, n = clock.now() - 86400, 0
    while True:
        for _ in range(200):
            n += 1
            bus.publish(Snapshot("rack", "BMS", t0 + n * 0.5, 0.0, dict(base, battery_soc=n % 1000), {{}}, {{}}))
        if n % 2000 == 0:
            await history.flush()
            print("committed", n, flush=True)
        await asyncio.sleep(0)

asyncio.run(main())
"""


def test_kill_9_while_writing_loses_at_most_the_last_batch(tmp_path):
    path = tmp_path / "killed.db"
    proc = subprocess.Popen([sys.executable, "-c", WRITER.format(root=str(ROOT), path=str(path))],
                            stdout=subprocess.PIPE, text=True)  # fmt: skip
    committed = 0
    try:
        for line in proc.stdout:
            committed = int(line.split()[1])
            if committed >= 10_000:
                break
        time.sleep(0.3)  # the child is in the middle of its next batches
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        proc.stdout.close()
    assert committed >= 10_000
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        ts = [r[0] for r in db.execute("SELECT ts FROM frames_1 ORDER BY ts")]
    assert len(ts) >= committed  # everything flushed before the kill is there
    assert ts == list(range(ts[0], ts[0] + 500 * len(ts), 500))  # and nothing in between is missing
    reopened = hdb.connect(path, create=True)  # opens cleanly, ready for the next run
    reopened.close()
