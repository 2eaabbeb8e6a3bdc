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
from array import array
from collections.abc import Callable, Iterable
from contextlib import closing
from pathlib import Path
from typing import Any, Literal

from pms_core import history_db as hdb
from pms_core.clock import format_iso

What = Literal["values", "alarms", "audit"]
WHATS: tuple[What, ...] = ("values", "alarms", "audit")
CHUNK = 3600.0
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


def _values(
    db: sqlite3.Connection, writer: Any, since: float | None, until: float | None, devices: set[str] | None,
    keys: set[str] | None, progress: Callable[[float], None] | None, cancel: threading.Event | None,
) -> int:  # fmt: skip
    # per device: (name, id, series id -> (key, unit, full_rate)), the first full-rate time
    plan = []
    layouts = {lid: [int(x) for x in text.split(",") if x] for lid, text in db.execute("SELECT id, series FROM layouts")}
    for device_id, name in db.execute("SELECT id, name FROM devices ORDER BY name").fetchall():
        if devices is not None and name not in devices:
            continue
        series = {
            sid: (key, unit, bool(full))
            for sid, key, unit, full in db.execute(
                "SELECT id, key, unit, full_rate FROM series WHERE device=?", (device_id,)
            )
            if keys is None or key in keys
        }
        if not series:
            continue
        bounds = _bounds(db, device_id)
        if bounds is None:
            continue
        plan.append((name, device_id, series, bounds))
    if not plan:
        return 0
    start = since if since is not None else min(b[0] for *_, b in plan)
    end = until if until is not None else max(b[1] for *_, b in plan) + 1e-3
    count = 0
    t = start
    total = max(end - start, 1e-9)
    stamps: dict[float, str] = {}
    while t < end:
        if cancel is not None and cancel.is_set():
            raise ExportCancelled("export cancelled")
        chunk_end = min(t + CHUNK, end)
        rows: list[tuple[float, int, str, str, str, str]] = []
        for order, (name, device_id, series, bounds) in enumerate(plan):
            full_from = bounds[2]  # first full-rate row: before it, full-rate series come from the minute means
            if full_from is not None and chunk_end > full_from:
                for ts, layout, blob in db.execute(
                    f"SELECT ts, layout, data FROM {hdb.frames_table(device_id)} WHERE ts >= ? AND ts < ? ORDER BY ts",
                    (round(max(t, full_from) * 1000), round(chunk_end * 1000)),
                ):
                    values = array("f", blob)
                    for sid, value in zip(layouts.get(layout, ()), values, strict=False):
                        info = series.get(sid)
                        if info is not None and not math.isnan(value):
                            rows.append((ts / 1000, order, name, info[0], number(value), info[1]))
            for minute, layout, blob in db.execute(
                f"SELECT t, layout, data FROM {hdb.minutes_table(device_id)} WHERE t >= ? AND t < ? ORDER BY t",
                (t, chunk_end),
            ):
                values = array("f", blob)
                for n, sid in enumerate(layouts.get(layout, ())):
                    info = series.get(sid)
                    if info is None or (info[2] and full_from is not None and minute >= full_from):
                        continue
                    mean = values[3 * n + 2]
                    if not math.isnan(mean):
                        rows.append((float(minute), order, name, info[0], number(mean), info[1]))
        rows.sort(key=lambda r: (r[0], r[1]))
        for ts, _order, name, key, value, unit in rows:
            stamp = stamps.get(ts)
            if stamp is None:
                if len(stamps) > 100_000:
                    stamps.clear()
                stamp = stamps[ts] = iso(ts)
            writer.writerow((stamp, name, key, value, unit))
        count += len(rows)
        t = chunk_end
        if progress:
            progress(min(1.0, (t - start) / total))
    return count


def _bounds(db: sqlite3.Connection, device_id: int) -> tuple[float, float, float | None] | None:
    """(first time, last time, first full-rate time) of a device's data, None without data."""
    frames, minutes = hdb.frames_table(device_id), hdb.minutes_table(device_id)
    try:
        f0, f1 = db.execute(f"SELECT min(ts), max(ts) FROM {frames}").fetchone()
        m0, m1 = db.execute(f"SELECT min(t), max(t) FROM {minutes}").fetchone()
    except sqlite3.OperationalError:
        return None
    firsts = [x for x in (f0 / 1000 if f0 is not None else None, m0) if x is not None]
    lasts = [x for x in (f1 / 1000 if f1 is not None else None, m1 + 59.999 if m1 is not None else None) if x is not None]
    if not firsts:
        return None
    return min(firsts), max(lasts), (f0 / 1000 if f0 is not None else None)


def _alarms(db: sqlite3.Connection, writer: Any, since: float | None, until: float | None, devices: set[str] | None) -> int:
    """Alarms active at some time in the range (raised before its end, not cleared before its start)."""
    rows = db.execute(
        "SELECT raised_at, device, alarm, code, severity, message, acknowledged_at, acknowledged_by, cleared_at "
        "FROM alarms WHERE raised_at < ? AND (cleared_at IS NULL OR cleared_at >= ?) ORDER BY raised_at, id",
        (until if until is not None else float("inf"), since if since is not None else float("-inf")),
    ).fetchall()
    count = 0
    for raised, device, alarm, code, severity, message, acked, by, cleared in rows:
        if devices is not None and device not in devices:
            continue
        writer.writerow((iso(raised), device, alarm, code, severity, message, iso(acked), by or "", iso(cleared)))
        count += 1
    return count


def _audit(db: sqlite3.Connection, writer: Any, since: float | None, until: float | None, devices: set[str] | None) -> int:
    rows = db.execute(
        "SELECT ts, kind, source, device, command, params, status, writes, reason, request_id, command_id FROM audit "
        "WHERE ts >= ? AND ts < ? ORDER BY ts, id",
        (since if since is not None else float("-inf"), until if until is not None else float("inf")),
    ).fetchall()
    count = 0
    for ts, kind, source, device, command, params, status, writes, reason, request_id, command_id in rows:
        if devices is not None and device not in devices:
            continue
        written = " ".join(f"{a}={v:#06x}" for a, v in json.loads(writes)) if writes else ""
        writer.writerow((iso(ts), kind, source or "", device or "", command or "", params or "", status or "", written,
                         reason or "", request_id or "", "" if command_id is None else command_id))  # fmt: skip
        count += 1
    return count
