"""CSV export of the history, the alarm journal and the audit log (UTF-8 with BOM, so Excel reads Korean names).

Values: `timestamp,device,key,value,unit`, one row per value, in time order.
Full-rate series come at every poll; the other series, and full-rate series
older than the full-rate retention, as their 1-minute means stamped with the
minute's start. Timestamps are ISO 8601 with the local UTC offset and
milliseconds. Blocking: run it in a worker thread; `progress` is called with
a fraction after each hour of data, and `cancel` (a threading.Event) stops it
between hours.
"""

from __future__ import annotations

import csv
import json
import math
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import closing
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pms_core.clock import format_iso
from pms_core.history import db as hdb
from pms_core.history.reader import Catalogue, SeriesInfo, read_catalogue
from pms_core.history.rows import frame_key, frame_time, frame_values, minute_means

What = Literal["values", "alarms", "audit"]
WHATS: tuple[What, ...] = ("values", "alarms", "audit")
CHUNK = 3600.0
STAMPS_KEPT = 100_000  # formatted timestamps kept for reuse (every value of a poll has its poll's time)
VALUE_HEADER = ("timestamp", "device", "key", "value", "unit")
ALARM_HEADER = ("raised_at", "device", "alarm", "code", "severity", "message", "acknowledged_at", "acknowledged_by",
                "cleared_at")  # fmt: skip
AUDIT_HEADER = ("timestamp", "kind", "source", "device", "command", "params", "status", "writes", "reason", "request_id",
                "command_id")  # fmt: skip


class ExportCancelled(Exception):
    pass


def iso(epoch: float | None) -> str:
    return "" if epoch is None else format_iso(epoch)


def number(value: float) -> str:
    return f"{value:.7g}"  # float32 carries 7 significant digits


def export_csv(
    db_path: Path,
    out: Path,
    what: What = "values",
    since: float | None = None,
    until: float | None = None,
    devices: Iterable[str] | None = None,
    keys: Iterable[str] | None = None,
    progress: Callable[[float], None] | None = None,
    cancel: threading.Event | None = None,
) -> int:
    """Write the CSV; returns the number of data rows. Raises HistoryError if the file cannot be read."""
    wanted_devices = set(devices) if devices else None
    wanted_keys = set(keys) if keys else None
    with closing(hdb.connect(db_path, create=False)) as db:
        db.execute("PRAGMA query_only=1")
        out.parent.mkdir(parents=True, exist_ok=True)
        with out.open("w", encoding="utf-8-sig", newline="") as f:
            writer = csv.writer(f)
            if what == "values":
                writer.writerow(VALUE_HEADER)
                rows = _values(db, writer, since, until, wanted_devices, wanted_keys, progress, cancel)
            elif what == "alarms":
                writer.writerow(ALARM_HEADER)
                rows = _alarms(db, writer, since, until, wanted_devices)
            else:
                writer.writerow(AUDIT_HEADER)
                rows = _audit(db, writer, since, until, wanted_devices)
    if progress:
        progress(1.0)
    return rows


Row = tuple[float, int, str, str, str, str]  # time, the device's place, device, key, value, unit


@dataclass(frozen=True)
class _Device:
    """One device in a values export: the series wanted of it and the span of its data."""

    order: int  # its place among the devices (by name): the values of one time come in this order
    name: str
    id: int
    series: dict[int, SeriesInfo]  # by series id
    first: float  # the time of its first data
    last: float  # and of its last
    full_from: float | None  # its first full-rate row: before it, full-rate series come from the minute means

    def in_frames(self, info: SeriesInfo, t: float) -> bool:
        """Whether the series' values at time `t` come from the full-rate rows rather than the minute means."""
        return info.full_rate and self.full_from is not None and t >= self.full_from

    def wanted(self, layout: tuple[int, ...], values: Iterable[float]) -> Iterator[tuple[SeriesInfo, float]]:
        """The wanted series of a packed row with their values, leaving out NaN (no value)."""
        for series_id, value in zip(layout, values, strict=False):
            info = self.series.get(series_id)
            if info is not None and not math.isnan(value):
                yield info, value

    def row(self, t: float, info: SeriesInfo, value: float) -> Row:
        return (t, self.order, self.name, info.key, number(value), info.unit)


def _values(
    db: sqlite3.Connection, writer: Any, since: float | None, until: float | None, devices: set[str] | None,
    keys: set[str] | None, progress: Callable[[float], None] | None, cancel: threading.Event | None,
) -> int:  # fmt: skip
    cat = read_catalogue(db)
    plan = _plan(db, cat, devices, keys)
    if not plan:
        return 0
    start = since if since is not None else min(d.first for d in plan)
    end = until if until is not None else max(d.last for d in plan) + 1e-3
    stamp = lru_cache(maxsize=STAMPS_KEPT)(iso)
    count = 0
    for t0, t1 in _hours(start, end):
        if cancel is not None and cancel.is_set():
            raise ExportCancelled("export cancelled")
        rows = [row for device in plan for row in _device_rows(db, cat.layouts, device, t0, t1)]
        count += _write_in_time_order(writer, rows, stamp)
        if progress:
            progress(min(1.0, (t1 - start) / max(end - start, 1e-9)))
    return count


def _plan(db: sqlite3.Connection, cat: Catalogue, devices: set[str] | None, keys: set[str] | None) -> list[_Device]:
    """The devices to export, by name: the wanted ones that have a wanted series and data."""
    wanted: dict[tuple[str, int], dict[int, SeriesInfo]] = {}
    for info in cat.series.values():  # by device name
        if (devices is None or info.device in devices) and (keys is None or info.key in keys):
            wanted.setdefault((info.device, info.device_id), {})[info.id] = info
    plan: list[_Device] = []
    for (name, device_id), series in wanted.items():
        bounds = _bounds(db, device_id)
        if bounds is not None:
            plan.append(_Device(len(plan), name, device_id, series, *bounds))
    return plan


def _hours(start: float, end: float) -> Iterator[tuple[float, float]]:
    """[start, end) in chunks of CHUNK seconds."""
    t = start
    while t < end:
        chunk_end = min(t + CHUNK, end)
        yield t, chunk_end
        t = chunk_end


def _device_rows(
    db: sqlite3.Connection, layouts: dict[int, tuple[int, ...]], device: _Device, t0: float, t1: float
) -> Iterator[Row]:
    """The device's values in [t0, t1): full-rate ones at every poll, the others as their minute's mean."""
    yield from _full_rate_rows(db, layouts, device, t0, t1)
    yield from _minute_rows(db, layouts, device, t0, t1)


def _full_rate_rows(
    db: sqlite3.Connection, layouts: dict[int, tuple[int, ...]], device: _Device, t0: float, t1: float
) -> Iterator[Row]:
    """The values of the full-rate rows in [t0, t1) (there are none before the device's first one)."""
    if device.full_from is None or t1 <= device.full_from:
        return
    for key, layout, data in db.execute(
        f"SELECT ts, layout, data FROM {hdb.frames_table(device.id)} WHERE ts >= ? AND ts < ? ORDER BY ts",
        (frame_key(max(t0, device.full_from)), frame_key(t1)),
    ):
        t = frame_time(key)
        for info, value in device.wanted(layouts.get(layout, ()), frame_values(data)):
            yield device.row(t, info, value)


def _minute_rows(
    db: sqlite3.Connection, layouts: dict[int, tuple[int, ...]], device: _Device, t0: float, t1: float
) -> Iterator[Row]:
    """Minute means stamped with the minute's start, of the series the full-rate rows do not hold then."""
    for minute, layout, data in db.execute(
        f"SELECT t, layout, data FROM {hdb.minutes_table(device.id)} WHERE t >= ? AND t < ? ORDER BY t", (t0, t1)
    ):
        for info, mean in device.wanted(layouts.get(layout, ()), minute_means(data)):
            if not device.in_frames(info, minute):
                yield device.row(float(minute), info, mean)


def _write_in_time_order(writer: Any, rows: list[Row], stamp: Callable[[float], str]) -> int:
    """Write the rows by time, the devices of one time in their order; returns how many."""
    rows.sort(key=lambda r: (r[0], r[1]))
    for t, _order, name, key, value, unit in rows:
        writer.writerow((stamp(t), name, key, value, unit))
    return len(rows)


def _bounds(db: sqlite3.Connection, device_id: int) -> tuple[float, float, float | None] | None:
    """(first time, last time, first full-rate time) of a device's data, None without data."""
    frames, minutes = hdb.frames_table(device_id), hdb.minutes_table(device_id)
    try:
        f0, f1 = db.execute(f"SELECT min(ts), max(ts) FROM {frames}").fetchone()
        m0, m1 = db.execute(f"SELECT min(t), max(t) FROM {minutes}").fetchone()
    except sqlite3.OperationalError:
        return None
    first_frame = frame_time(f0) if f0 is not None else None
    last_frame = frame_time(f1) if f1 is not None else None
    firsts = [x for x in (first_frame, m0) if x is not None]
    lasts = [x for x in (last_frame, m1 + 59.999 if m1 is not None else None) if x is not None]
    if not firsts:
        return None
    return min(firsts), max(lasts), first_frame


def _alarms(db: sqlite3.Connection, writer: Any, since: float | None, until: float | None, devices: set[str] | None) -> int:
    """Alarms active at some time in the range (raised before its end, not cleared before its start)."""
    rows = db.execute(
        "SELECT raised_at, device, alarm, code, severity, message, acknowledged_at, acknowledged_by, cleared_at "
        "FROM alarms WHERE raised_at < ? AND (cleared_at IS NULL OR cleared_at >= ?) ORDER BY raised_at, id",
        (until if until is not None else float("inf"), since if since is not None else float("-inf")),
    ).fetchall()

    def line(row: tuple[Any, ...]) -> tuple[Any, ...]:
        raised, device, alarm, code, severity, message, acked, by, cleared = row
        return iso(raised), device, alarm, code, severity, message, iso(acked), by or "", iso(cleared)

    return _write_rows(writer, rows, devices, 1, line)


def _audit(db: sqlite3.Connection, writer: Any, since: float | None, until: float | None, devices: set[str] | None) -> int:
    rows = db.execute(
        "SELECT ts, kind, source, device, command, params, status, writes, reason, request_id, command_id FROM audit "
        "WHERE ts >= ? AND ts < ? ORDER BY ts, id",
        (since if since is not None else float("-inf"), until if until is not None else float("inf")),
    ).fetchall()

    def line(row: tuple[Any, ...]) -> tuple[Any, ...]:
        ts, kind, source, device, command, params, status, writes, reason, request_id, command_id = row
        written = " ".join(f"{a}={v:#06x}" for a, v in json.loads(writes)) if writes else ""
        return (iso(ts), kind, source or "", device or "", command or "", params or "", status or "", written,
                reason or "", request_id or "", "" if command_id is None else command_id)  # fmt: skip

    return _write_rows(writer, rows, devices, 3, line)


def _write_rows(
    writer: Any, rows: list[tuple[Any, ...]], devices: set[str] | None, device_at: int,
    line: Callable[[tuple[Any, ...]], tuple[Any, ...]],
) -> int:  # fmt: skip
    """Write each row of a wanted device (its name in column `device_at`) as `line` makes it; returns the count."""
    count = 0
    for row in rows:
        if devices is None or row[device_at] in devices:
            writer.writerow(line(row))
            count += 1
    return count
