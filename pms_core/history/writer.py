"""The history writer: time series, alarm journal and audit log on SQLite, written off the event loop.

Bus handlers only put the event on a queue (no copy: events are frozen). A
writer thread takes everything queued every `BATCH_SECONDS` and writes it in
one transaction: a killed process loses at most that last batch. Queries and
exports open their own read connections (WAL lets them read while the writer
writes): see `reader` and `export`.

What is stored:
- Registers whose map says `"history": "full"` (the ~40 series the console
  charts and the alarms need) and the full-rate derived values, at every
  poll (one packed row per poll and device, see `rows`).
- Every other numeric register value (not bit fields, not commands) and the
  numeric derived values (each device class's `DERIVED_SERIES`): 1-minute
  (min, max, mean) per device. The minute table holds the full-rate series
  too, so long windows read one small table.
- Retention: full-rate rows older than `retention_days` are deleted (their
  minute aggregates stay: the data is thinned, not dropped); minute rows are
  kept `MINUTE_RETENTION_FACTOR` times as long.
- Link state changes (outages become gaps), PMS runs, the alarm journal
  (raised / acknowledged by whom / cleared) and the audit log (every command
  stage, mode, threshold and automatic-mode state change).

A history file that cannot be used (corrupt, locked, newer schema, disk
full) is logged and raised as the PMS alarm `history_unavailable`; the PMS
keeps polling and controlling without history.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import logging
import math
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pms_core.alarms import ActiveAlarm, AlarmMonitor
from pms_core.automation.operation_manager import OperationStatus
from pms_core.bus import AlarmAcknowledged, AlarmChanged, Bus, LinkStateChanged, Snapshot
from pms_core.clock import Clock
from pms_core.commands import CommandResult
from pms_core.config import HistoryConfig
from pms_core.devices import DerivedSeries, derived_series
from pms_core.history import db as hdb
from pms_core.history.rows import NAN, frame_key, layout_text, minute_key, pack_frame, pack_minute
from pms_core.paths import data_dir
from pms_core.registers import DeviceMap
from pms_core.supervision import Watch

log = logging.getLogger(__name__)

BATCH_SECONDS = 1.0  # real seconds between transactions
PRUNE_EVERY = 3600.0  # plant seconds between retention passes
MINUTE_RETENTION_FACTOR = 3  # minute aggregates live 3 x retention_days (90 days by default)
HISTORY_ALARM = "history_unavailable"


def default_path(config: HistoryConfig) -> Path:
    return Path(config.path) if config.path else data_dir() / "history.db"


@dataclass
class _Minute:
    """The running 1-minute aggregate of one device."""

    start: int
    layout: int
    mins: list[float]
    maxs: list[float]
    sums: list[float]
    counts: list[int]

    @classmethod
    def empty(cls, start: int, layout: int, n: int) -> _Minute:
        return cls(start, layout, [math.inf] * n, [-math.inf] * n, [0.0] * n, [0] * n)

    def add(self, values: list[float | None]) -> None:
        for i, v in enumerate(values):
            if v is None or math.isnan(v):
                continue
            self.mins[i] = min(self.mins[i], v)
            self.maxs[i] = max(self.maxs[i], v)
            self.sums[i] += v
            self.counts[i] += 1

    def blob(self) -> bytes:
        return pack_minute(
            (lo, hi, total / n) if n else (NAN, NAN, NAN)
            for lo, hi, total, n in zip(self.mins, self.maxs, self.sums, self.counts, strict=True)
        )


@dataclass
class _DeviceLayout:
    device_id: int
    frame_layout: int
    minute_layout: int
    full: tuple[str, ...]
    numeric: tuple[str, ...]
    minute: _Minute | None = None
    full_index: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.full_index = [self.numeric.index(k) for k in self.full]


@dataclass
class _Flush:
    done: concurrent.futures.Future[None] = field(default_factory=concurrent.futures.Future)


_STOP = object()


def numeric_keys(device_map: DeviceMap, derived: dict[str, DerivedSeries], snap: Snapshot) -> tuple[str, ...]:
    """The snapshot's numeric series: registers that are not bit fields or commands, and numeric derived values."""
    keys = [
        k for k in snap.values
        if (reg := device_map.registers.get(k)) is not None and reg.type != "bitmask" and reg.role != "control"
    ]  # fmt: skip
    keys += [k for k in snap.derived if k in derived]
    return tuple(keys)


def full_rate(device_map: DeviceMap, derived: dict[str, DerivedSeries], key: str) -> bool:
    reg = device_map.registers.get(key)
    if reg is not None:
        return reg.history == "full"
    return key in derived and derived[key].full_rate


def unit_of(device_map: DeviceMap, derived: dict[str, DerivedSeries], key: str) -> str:
    reg = device_map.registers.get(key)
    if reg is not None:
        return reg.unit
    return derived[key].unit if key in derived else ""


def as_float(value: Any) -> float | None:
    if value is None or isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


class History:
    """Subscribes to the bus, writes in a thread; `status` is "off" before start, then "ok" or "failed"."""

    def __init__(
        self,
        path: Path,
        retention_days: float,
        bus: Bus,
        clock: Clock,
        maps: dict[str, DeviceMap],
        alarms: AlarmMonitor | None = None,
    ) -> None:
        self.path = path
        self.retention = retention_days * 86400.0
        self.bus = bus
        self.clock = clock
        self.maps = maps
        self.alarms = alarms
        self.status = "off"
        self.error: str | None = None
        self._watch = Watch("history writer", bus, clock)
        self.batches = 0  # transactions written (tests, benchmark)
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._db: sqlite3.Connection | None = None
        self._unsubscribe: list[Any] = []
        self._layouts: dict[str, _DeviceLayout] = {}
        self._open_alarms: dict[tuple[str, str], int] = {}  # (device, alarm) -> journal row id
        self._last_status: OperationStatus | None = None
        self._run_id: int | None = None
        self._last_prune = -math.inf

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    # --- life cycle (event loop side) ----------------------------------------------------------
    async def start(self, status: OperationStatus | None = None) -> None:
        """Open (or create, or migrate) the file off the loop, restore the active alarms, start writing."""
        self._loop = asyncio.get_running_loop()
        self._last_status = status
        try:
            restored = await self._loop.run_in_executor(None, self._open)
        except hdb.HistoryError as exc:
            self._fail(str(exc))
            return
        if self.alarms is not None:
            self.alarms.restore(restored)
        bus = self.bus
        self._unsubscribe = [
            bus.subscribe(Snapshot, self._put),
            bus.subscribe(LinkStateChanged, self._put),
            bus.subscribe(AlarmChanged, self._put),
            bus.subscribe(AlarmAcknowledged, self._put),
            bus.subscribe(CommandResult, self._put),
            bus.subscribe(OperationStatus, self._put),
        ]
        self._thread = threading.Thread(target=self._run, name="history writer", daemon=True)
        self._thread.start()
        self.status = "ok"
        log.info("history in %s (full rate %.0f days, then 1-minute aggregates)", self.path, self.retention / 86400)

    async def flush(self) -> None:
        """Wait until everything published so far is committed (tests, export of the latest data)."""
        if self._thread is None or not self._thread.is_alive():
            return
        marker = _Flush()
        self._queue.put(marker)
        await asyncio.wrap_future(marker.done)

    async def stop(self) -> None:
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe = []
        if self._thread is not None:
            self._queue.put(_STOP)
            thread = self._thread
            await asyncio.get_running_loop().run_in_executor(None, thread.join)
            self._thread = None
        if self.status == "ok":
            self.status = "off"

    def _put(self, event: object) -> None:
        self._queue.put(event)

    def _fail(self, message: str) -> None:
        """Report once: log, and the PMS alarm (alarms dock, MQTT alarm list). Runs on the loop."""
        if self.status == "failed":
            return
        self.status = "failed"
        self.error = message
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe = []
        log.error("history: %s", message)
        self.bus.publish(AlarmChanged("PMS", HISTORY_ALARM, HISTORY_ALARM, "warning", True, message, self.clock.now()))

    # --- writer thread ---------------------------------------------------------------------------
    def _open(self) -> list[ActiveAlarm]:
        self._db = db = hdb.connect(self.path, create=True)
        now = self.clock.now()
        try:
            self._run_id = hdb.insert(db, "INSERT INTO runs(started) VALUES (?)", (now,))
            return self._restore_alarms(db, now)
        except sqlite3.Error as exc:
            db.close()
            self._db = None
            raise hdb.HistoryError(hdb.describe(exc, self.path)) from exc

    def _restore_alarms(self, db: sqlite3.Connection, now: float) -> list[ActiveAlarm]:
        """Open journal entries of device alarms come back as active; the PMS's own (auto mode HOLD...) are closed."""
        rows = db.execute(
            "SELECT id, device, alarm, code, severity, message, raised_at, acknowledged_by FROM alarms "
            "WHERE cleared_at IS NULL ORDER BY id"
        ).fetchall()
        restored: list[ActiveAlarm] = []
        stale: list[int] = []
        for row_id, device, alarm, code, severity, message, raised, by in rows:
            key = (device, alarm)
            if self.alarms is None or not self.alarms.is_device_alarm(device, alarm) or key in self._open_alarms:
                stale.append(row_id)
                continue
            self._open_alarms[key] = row_id
            event = AlarmChanged(device, alarm, code or "", severity or "warning", True, message or "", raised)
            restored.append(ActiveAlarm(event, by))
        if stale:
            db.executemany("UPDATE alarms SET cleared_at=? WHERE id=?", [(now, i) for i in stale])
        if restored:
            log.info("restored %d active alarm(s) from the journal", len(restored))
        return restored

    def _run(self) -> None:
        stop = False
        while not stop:
            items = [self._queue.get()]
            deadline = time.monotonic() + BATCH_SECONDS
            while items[-1] is not _STOP and not isinstance(items[-1], _Flush):
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                try:
                    items.append(self._queue.get(timeout=left))
                except queue.Empty:
                    break
            stop = items[-1] is _STOP
            try:
                self._write(items, final=stop)
            except Exception as exc:  # a bug must not end the writer (history would say OK while its queue grows)
                self._rollback()
                self._on_loop(self._watch.failed, exc)
            else:
                if self._watch.failing:
                    self._on_loop(self._watch.ok)
            for item in items:
                if isinstance(item, _Flush):
                    item.done.set_result(None)
        if self._db is not None:
            self._db.close()
            self._db = None

    def _rollback(self) -> None:
        if self._db is not None:
            with contextlib.suppress(sqlite3.Error):
                self._db.execute("ROLLBACK")

    def _on_loop(self, callback: Callable[..., None], *args: object) -> None:
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(callback, *args)

    def _write(self, items: list[object], final: bool = False) -> None:
        db = self._db
        if db is None:
            return
        try:
            db.execute("BEGIN IMMEDIATE")
            touched: set[str] = set()
            for item in items:
                if isinstance(item, Snapshot):
                    self._snapshot(db, item)
                    touched.add(item.device_name)
                elif isinstance(item, AlarmChanged):
                    self._alarm(db, item)
                elif isinstance(item, AlarmAcknowledged):
                    self._acknowledged(db, item)
                elif isinstance(item, CommandResult):
                    self._command(db, item)
                elif isinstance(item, OperationStatus):
                    self._operation(db, item)
                elif isinstance(item, LinkStateChanged):
                    db.execute(
                        "INSERT INTO links(device, ts, state, error) VALUES (?, ?, ?, ?)",
                        (item.device_name, item.since, item.state, item.error),
                    )
            for name in touched:  # the running minute, so a kill loses no more than this batch
                self._write_minute(db, self._layouts[name])
            if final and self._run_id is not None:
                db.execute("UPDATE runs SET stopped=? WHERE id=?", (self.clock.now(), self._run_id))
            # Scheduled by monotonic time (a correction of the PC's clock does not delay it); retention is wall time.
            if self.clock.monotonic() - self._last_prune >= PRUNE_EVERY:
                self._last_prune = self.clock.monotonic()
                self._prune(db, self.clock.now())
            db.execute("COMMIT")
            self.batches += 1
        except sqlite3.Error as exc:
            with contextlib.suppress(sqlite3.Error):
                db.execute("ROLLBACK")
            db.close()
            self._db = None
            self._on_loop(self._fail, hdb.describe(exc, self.path))

    # --- what each event writes --------------------------------------------------------------------
    def _layout(self, db: sqlite3.Connection, snap: Snapshot) -> _DeviceLayout:
        layout = self._layouts.get(snap.device_name)
        if layout is not None:
            return layout
        device_map, derived = self.maps[snap.device_name], derived_series(snap.device_type)
        row = db.execute("SELECT id FROM devices WHERE name=?", (snap.device_name,)).fetchone()
        device_id = int(row[0]) if row else hdb.insert(
            db, "INSERT INTO devices(name, type) VALUES (?, ?)", (snap.device_name, snap.device_type)
        )  # fmt: skip
        hdb.ensure_device_tables(db, device_id)
        numeric = numeric_keys(device_map, derived, snap)
        full = tuple(k for k in numeric if full_rate(device_map, derived, k))
        ids: dict[str, int] = {}
        for key in numeric:
            db.execute(
                "INSERT INTO series(device, key, unit, full_rate) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(device, key) DO UPDATE SET unit=excluded.unit, full_rate=excluded.full_rate",
                (device_id, key, unit_of(device_map, derived, key), int(key in full)),
            )
            ids[key] = db.execute("SELECT id FROM series WHERE device=? AND key=?", (device_id, key)).fetchone()[0]
        layout = _DeviceLayout(
            device_id, self._layout_id(db, device_id, "frame", [ids[k] for k in full]),
            self._layout_id(db, device_id, "minute", [ids[k] for k in numeric]), full, numeric,
        )  # fmt: skip
        self._layouts[snap.device_name] = layout
        return layout

    @staticmethod
    def _layout_id(db: sqlite3.Connection, device_id: int, kind: str, series: list[int]) -> int:
        text = layout_text(series)
        row = db.execute("SELECT id FROM layouts WHERE device=? AND kind=? AND series=?", (device_id, kind, text)).fetchone()
        if row:
            return int(row[0])
        return hdb.insert(db, "INSERT INTO layouts(device, kind, series) VALUES (?, ?, ?)", (device_id, kind, text))

    def _snapshot(self, db: sqlite3.Connection, snap: Snapshot) -> None:
        layout = self._layout(db, snap)
        values, derived = snap.values, snap.derived
        row = [as_float(derived[k] if k in derived else values.get(k)) for k in layout.numeric]
        if layout.full:
            db.execute(
                f"INSERT OR REPLACE INTO {hdb.frames_table(layout.device_id)} VALUES (?, ?, ?)",
                (frame_key(snap.timestamp), layout.frame_layout, pack_frame(row[i] for i in layout.full_index)),
            )
        start = minute_key(snap.timestamp)
        minute = layout.minute
        if minute is None or minute.start != start:
            if minute is not None:
                self._write_minute(db, layout)
            minute = layout.minute = _Minute.empty(start, layout.minute_layout, len(layout.numeric))
        minute.add(row)

    @staticmethod
    def _write_minute(db: sqlite3.Connection, layout: _DeviceLayout) -> None:
        m = layout.minute
        if m is not None:
            db.execute(
                f"INSERT OR REPLACE INTO {hdb.minutes_table(layout.device_id)} VALUES (?, ?, ?)",
                (m.start, m.layout, m.blob()),
            )

    def _alarm(self, db: sqlite3.Connection, event: AlarmChanged) -> None:
        key = (event.device_name, event.alarm)
        row_id = self._open_alarms.get(key)
        if event.active and row_id is None:
            sql = "INSERT INTO alarms(device, alarm, code, severity, message, raised_at) VALUES (?, ?, ?, ?, ?, ?)"
            params = (event.device_name, event.alarm, event.code, event.severity, event.message, event.timestamp)
            self._open_alarms[key] = hdb.insert(db, sql, params)
        elif not event.active and row_id is not None:
            del self._open_alarms[key]
            db.execute("UPDATE alarms SET cleared_at=? WHERE id=?", (event.timestamp, row_id))

    def _acknowledged(self, db: sqlite3.Connection, event: AlarmAcknowledged) -> None:
        row_id = self._open_alarms.get((event.device_name, event.alarm))
        if row_id is not None:
            db.execute(
                "UPDATE alarms SET acknowledged_at=?, acknowledged_by=? WHERE id=? AND acknowledged_at IS NULL",
                (event.timestamp, event.by, row_id),
            )

    @staticmethod
    def _command(db: sqlite3.Connection, r: CommandResult) -> None:
        db.execute(
            "INSERT INTO audit(ts, kind, source, device, command, params, status, writes, reason, request_id, command_id) "
            "VALUES (?, 'command', ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (r.timestamp, r.source, r.device_name, r.command, json.dumps(r.params, ensure_ascii=False, default=str),
             r.status, json.dumps([list(w) for w in r.writes]), r.reason, r.request_id, r.id),
        )  # fmt: skip

    def _operation(self, db: sqlite3.Connection, status: OperationStatus) -> None:
        before, self._last_status = self._last_status, status
        rows: list[tuple[Any, ...]] = []
        if before is None or status.mode != before.mode:
            rows.append((status.timestamp, "mode", status.changed_by, "PMS", "operation_mode",
                         json.dumps({"mode": status.mode}), status.mode, None))  # fmt: skip
        if before is None or status.auto.state != before.auto.state:
            rows.append((status.timestamp, "auto_state", status.changed_by, "PMS", "auto_state",
                         json.dumps({"state": status.auto.state, "step": status.auto.step}), status.auto.state,
                         status.auto.reason))  # fmt: skip
        for key, value in status.thresholds.items():
            old = None if before is None else before.thresholds.get(key)
            if before is not None and old != value:
                rows.append((status.timestamp, "threshold", status.changed_by, "PMS", key,
                             json.dumps({"old": old, "new": value}), str(value), None))  # fmt: skip
        db.executemany(
            "INSERT INTO audit(ts, kind, source, device, command, params, status, reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )

    def _prune(self, db: sqlite3.Connection, now: float) -> None:
        full_cut = round((now - self.retention) * 1000)
        minute_cut = int(now - MINUTE_RETENTION_FACTOR * self.retention)
        for (device_id,) in db.execute("SELECT id FROM devices").fetchall():
            hdb.ensure_device_tables(db, device_id)
            db.execute(f"DELETE FROM {hdb.frames_table(device_id)} WHERE ts < ?", (full_cut,))
            db.execute(f"DELETE FROM {hdb.minutes_table(device_id)} WHERE t < ?", (minute_cut,))


def make_history(
    config: HistoryConfig, bus: Bus, clock: Clock, maps: dict[str, DeviceMap], alarms: AlarmMonitor | None
) -> History:
    return History(default_path(config), config.retention_days, bus, clock, maps, alarms)
