"""Reading the history: the catalogue, the trend backfill, energy counters and the recent audit log.

Every call opens its own connection (WAL: reads never wait for the writer)
and is blocking: call it from a worker thread (`run_in_executor`), never on
the event loop. Gaps are NaN: where a sample is older than its device's stale
limit, at every recorded outage (a link state other than online) and at every
PMS start, so a chart never draws a straight line across a restart or an
outage.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Collection, Sequence
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pms_core.history import db as hdb
from pms_core.history import rows

MINUTE = float(rows.MINUTE)

Key = tuple[str, str]  # (device name, series key)


@dataclass(frozen=True)
class SeriesInfo:
    id: int
    device: str
    device_id: int
    device_type: str
    key: str
    unit: str
    full_rate: bool


@dataclass
class Catalogue:
    series: dict[Key, SeriesInfo]
    layouts: dict[int, tuple[int, ...]]  # layout id -> series ids in packed order
    layout_of: dict[tuple[int, str], list[int]]  # (device id, "frame" | "minute") -> its layout ids

    def devices(self) -> list[str]:
        return sorted({k[0] for k in self.series})

    def keys(self, device: str) -> list[str]:
        return [k for d, k in self.series if d == device]


def read_catalogue(db: sqlite3.Connection) -> Catalogue:
    series = {
        (name, key): SeriesInfo(sid, name, did, dtype, key, unit, bool(full))
        for sid, name, did, dtype, key, unit, full in db.execute(
            "SELECT s.id, d.name, d.id, d.type, s.key, s.unit, s.full_rate FROM series s JOIN devices d ON s.device = d.id "
            "ORDER BY d.name, s.id"
        )
    }
    layouts: dict[int, tuple[int, ...]] = {}
    layout_of: dict[tuple[int, str], list[int]] = {}
    for lid, device_id, kind, text in db.execute("SELECT id, device, kind, series FROM layouts ORDER BY id"):
        layouts[lid] = rows.layout_series(text)
        layout_of.setdefault((device_id, kind), []).append(lid)
    return Catalogue(series, layouts, layout_of)


class HistoryReader:
    def __init__(self, path: Path) -> None:
        self.path = path

    def connect(self) -> sqlite3.Connection:
        db = hdb.connect(self.path, create=False)
        db.execute("PRAGMA query_only=1")
        return db

    def catalogue(self) -> Catalogue:
        with closing(self.connect()) as db:
            return read_catalogue(db)

    def recent_audit(self, limit: int) -> list[tuple[Any, ...]]:
        """The newest `limit` audit entries, newest first: (ts, kind, source, device, command, params, status, reason,
        command_id)."""
        with closing(self.connect()) as db:
            return db.execute(
                "SELECT ts, kind, source, device, command, params, status, reason, command_id FROM audit "
                "ORDER BY id DESC LIMIT ?",
                (limit,),
            ).fetchall()

    def first_values(self, device: str, keys: Sequence[str], t0: float, t1: float) -> tuple[dict[str, float], float]:
        """The earliest 1-minute minimum of each series in [t0, t1) and the earliest such minute ({} and t1 if none):
        the first value of a counter that only grows."""
        with closing(self.connect()) as db:
            cat = read_catalogue(db)
            infos = [cat.series[(device, k)] for k in keys if (device, k) in cat.series]
            if not infos:
                return {}, t1
            t, lo, _hi, _mean = read_minutes(db, cat, infos, t0, t1)
        first: dict[str, float] = {}
        since = t1
        for info, row in zip(infos, lo, strict=True):
            known = np.flatnonzero((t >= t0) & ~np.isnan(row))
            if len(known):
                first[info.key] = float(row[known[0]])
                since = min(since, float(t[known[0]]))
        return first, since

    def energy_between(
        self, device: str, keys: Sequence[str], since: float, until: float, *, day_counters: Collection[str] = ()
    ) -> dict[str, float]:
        """What each energy counter (kWh) of `device` counted over [since, until): the sum of its increases
        (`counter_increase`), from its last reading before `since` (the minute just before it, when the PMS was running
        then, so that consecutive windows add up) or else its first reading in the window, to its last one. Each
        minute's value is its maximum: a counter only grows within a minute, and one reading taken while the PCS's kWh
        register had wrapped and its MWh one not yet moved on (energy.py) does not look like a restart. `day_counters`:
        keys that restart from zero (the DC-DC's today's-generation register at its midnight). Keys without a reading
        in the window are left out."""
        with closing(self.connect()) as db:
            cat = read_catalogue(db)
            infos = [cat.series[(device, k)] for k in keys if (device, k) in cat.series]
            if not infos:
                return {}
            t, _lo, hi, _mean = read_minutes(db, cat, infos, since - MINUTE, until)
        out: dict[str, float] = {}
        for info, row in zip(infos, hi, strict=True):
            known = (t >= since - MINUTE) & (t < until) & ~np.isnan(row)
            if known.any():
                out[info.key] = counter_increase(row[known], from_zero=info.key in day_counters)
        return out

    def markers(self, db: sqlite3.Connection, t0: float, t1: float) -> dict[str, np.ndarray]:
        """Per device, the times where a gap must show: outages started and PMS runs started."""
        starts = [r[0] for r in db.execute("SELECT started FROM runs WHERE started >= ? AND started < ?", (t0, t1))]
        out: dict[str, list[float]] = {}
        for device, ts in db.execute(
            "SELECT device, ts FROM links WHERE state != 'online' AND ts >= ? AND ts < ?", (t0, t1)
        ):
            out.setdefault(device, []).append(ts)
        devices = {r[0] for r in db.execute("SELECT name FROM devices")}
        return {d: np.array(sorted(out.get(d, []) + starts), dtype=np.float64) for d in devices | set(out)}

    # --- the console's trend backfill ------------------------------------------------------------
    def backfill(
        self, series: Sequence[Key], t_end: float, span: float, fine: float = 3600.0, step: float = 1.0,
        max_age: float | dict[str, float] = 5.0,
    ) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
        """Rows for a chart's ring buffer, common times for all series: over the last `fine` seconds one row per
        `step` (the latest sample no older than `max_age` (seconds, or per device name: its stale limit), else NaN, like
        the live sampler); before that two rows
        per minute (its min, then its max, so spikes survive). Returns (t, values[len(series), n])."""
        start, fine_start = t_end - span, t_end - fine
        with closing(self.connect()) as db:
            cat = read_catalogue(db)
            first_minute = np.floor(start / MINUTE) * MINUTE
            minutes = np.arange(first_minute, fine_start - MINUTE + 1e-6, MINUTE)  # whole minutes before `fine`
            grid = np.arange(minutes[-1] + MINUTE if len(minutes) else fine_start, t_end, step)
            ages = max_age if isinstance(max_age, dict) else {}
            default_age = 5.0 if isinstance(max_age, dict) else max_age
            oldest = max([default_age, *ages.values()])
            markers = self.markers(db, grid[0] - oldest if len(grid) else t_end, t_end)
            if len(grid):  # a row at every restart and outage: NaN there for that device, even for a short one
                extra = np.concatenate([m[(m > grid[0]) & (m < t_end)] for m in markers.values()] or [np.empty(0)])
                grid = np.unique(np.concatenate([grid, extra]))
            coarse = np.full((len(series), 2 * len(minutes)), np.nan)
            detail = np.full((len(series), len(grid)), np.nan)
            infos = [cat.series.get(k) for k in series]
            for device in {i.device for i in infos if i}:
                mine = [(n, i) for n, i in enumerate(infos) if i and i.device == device]
                if len(minutes):
                    tm, lo, hi, _mean = read_minutes(db, cat, [i for _, i in mine], minutes[0], minutes[-1] + MINUTE)
                    idx = ((tm - minutes[0]) / MINUTE).astype(np.int64)
                    for j, (n, _) in enumerate(mine):
                        coarse[n, 2 * idx] = lo[j]
                        coarse[n, 2 * idx + 1] = hi[j]
                full = [(n, i) for n, i in mine if i.full_rate]
                if full and len(grid):
                    age = ages.get(device, default_age)
                    t, cols = read_frames(db, cat, [i for _, i in full], grid[0] - age, t_end)
                    if len(t):
                        at = np.searchsorted(t, grid, side="right") - 1
                        sample_t = t[np.clip(at, 0, None)]
                        ok = (at >= 0) & (grid - sample_t <= age)
                        marks = markers.get(device)
                        if marks is not None and len(marks):  # a restart or an outage since that sample: a gap
                            ok &= np.searchsorted(marks, grid, side="right") == np.searchsorted(marks, sample_t, "right")
                        for (n, _), v in zip(full, cols, strict=True):
                            detail[n] = np.where(ok, v[np.clip(at, 0, None)], np.nan)
            tc = np.repeat(minutes, 2) + np.tile([MINUTE / 4, 3 * MINUTE / 4], len(minutes))
            return np.concatenate([tc, grid]), np.concatenate([coarse, detail], axis=1)


# --- energy counters -------------------------------------------------------------------------------
def counter_increase(values: np.ndarray, from_zero: bool = False) -> float:
    """The energy a counter counted over its readings (oldest first): the sum of its increases.

    A reading lower than the one before is a restart (the device was replaced or its counter reset, or a day
    counter began a new day), never negative energy: the drop itself counts nothing, and the counting goes on from
    the new value. With `from_zero` the counter restarted from zero, so the new value was counted since the restart
    and is added (a day counter read again only after midnight, the PMS having been off then). Without it, what a
    replaced device had counted before its first reading is unknown and left out."""
    steps = np.diff(values)
    total = float(steps[steps > 0].sum())
    if from_zero:
        total += float(values[1:][steps < 0].sum())
    return total


# --- reading packed rows ----------------------------------------------------------------------------
def _read_packed(
    db: sqlite3.Connection, cat: Catalogue, kind: str, lo: float, hi: float, infos: Sequence[SeriesInfo], width: int
) -> tuple[np.ndarray, np.ndarray]:
    """Rows of a packed table with `key` in (lo, hi): (keys, values[len(infos), width, n]), NaN where a row's layout
    lacks a series. Only the wanted slices of the rows leave SQLite, not whole rows."""
    device_id = infos[0].device_id
    table, key = (hdb.frames_table(device_id), "ts") if kind == "frame" else (hdb.minutes_table(device_id), "t")
    layouts = cat.layout_of.get((device_id, kind), [])
    parts_k, parts_v = [], []
    for layout in layouts:
        ids = cat.layouts.get(int(layout), ())
        where = [ids.index(i.id) if i.id in ids else None for i in infos]
        cols = ", ".join(rows.slice_sql(n, width) for n in where if n is not None)
        found = db.execute(
            f"SELECT {key}{', ' + cols if cols else ''} FROM {table} WHERE layout = ? AND {key} > ? AND {key} < ?",
            (layout, lo, hi),
        ).fetchall()
        keys = np.fromiter((r[0] for r in found), dtype=np.float64, count=len(found))
        values = np.full((len(infos), width, len(found)), np.nan)
        col = 1
        for n, at in enumerate(where):
            if at is not None:
                values[n] = rows.unpack_slices((r[col] for r in found), width).T
                col += 1
        if len(found):
            parts_k.append(keys)
            parts_v.append(values)
    if not parts_k:
        return np.empty(0), np.full((len(infos), width, 0), np.nan)
    keys, values = np.concatenate(parts_k), np.concatenate(parts_v, axis=2)
    if len(parts_k) > 1:
        order = np.argsort(keys, kind="stable")
        keys, values = keys[order], values[:, :, order]
    return keys, values


def read_frames(
    db: sqlite3.Connection, cat: Catalogue, infos: Sequence[SeriesInfo], t0: float, t1: float
) -> tuple[np.ndarray, np.ndarray]:
    """Full-rate samples of one device's series over [t0, t1): (t, values[len(infos), n])."""
    keys, values = _read_packed(db, cat, "frame", rows.frame_key(t0) - 1, rows.frame_key(t1), infos, rows.FRAME_WIDTH)
    return rows.frame_time(keys), values[:, 0, :]


def read_minutes(
    db: sqlite3.Connection, cat: Catalogue, infos: Sequence[SeriesInfo], t0: float, t1: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """1-minute rows of one device's series with a start in [t0 - 59, t1): (t, min, max, mean), each [len(infos), n]."""
    t, values = _read_packed(db, cat, "minute", t0 - MINUTE, t1, infos, rows.MINUTE_WIDTH)
    return t, values[:, rows.MIN, :], values[:, rows.MAX, :], values[:, rows.MEAN, :]
