"""Reading the history: the catalogue, chart queries with min/max buckets, and the trend backfill.

Every call opens its own connection (WAL: reads never wait for the writer)
and is blocking: call it from a worker thread (`run_in_executor`), never on
the event loop. Gaps are NaN points: where samples are further apart than
the data's own spacing allows, at every recorded outage (a link state other
than online) and at every PMS start, so a chart never draws a straight line
across a restart or an outage.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Collection, Sequence
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pms_core import history_db as hdb

FULL_RATE_WINDOW = 86400.0  # windows longer than this read the 1-minute table (DECISIONS.md "History size")
MINUTE = 60.0
MIN_GAP = 5.0  # seconds: full-rate samples further apart than max(MIN_GAP, 3 x their median spacing) are a gap
MINUTE_GAP = 150.0  # minute rows further apart than this are a gap

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


@dataclass(frozen=True)
class SeriesData:
    """Points of one series, oldest first; NaN values are gaps. `source`: "full" or "minute"."""

    t: np.ndarray  # float64 epoch seconds
    v: np.ndarray  # float64
    source: str


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
        layouts[lid] = tuple(int(x) for x in text.split(",") if x)
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

    # --- chart queries ---------------------------------------------------------------------------
    def query(self, series: Sequence[Key], t0: float, t1: float, max_points: int = 1000) -> dict[Key, SeriesData]:
        """At most `max_points` points per series over [t0, t1): min and max of each bucket (a one-sample spike
        survives), NaN at gaps. Windows over a day, and buckets of a minute or more, read the 1-minute table."""
        with closing(self.connect()) as db:
            cat = read_catalogue(db)
            out: dict[Key, SeriesData] = {}
            by_device: dict[str, list[SeriesInfo]] = {}
            for key in series:
                info = cat.series.get(key)
                if info is None:
                    out[key] = SeriesData(np.empty(0), np.empty(0), "none")
                else:
                    by_device.setdefault(info.device, []).append(info)
            markers = self._markers(db, t0, t1)
            buckets = max(1, max_points // 2)
            coarse = (t1 - t0) > FULL_RATE_WINDOW or (t1 - t0) / buckets >= MINUTE
            for device, infos in by_device.items():
                full = [i for i in infos if i.full_rate and not coarse]
                rest = [i for i in infos if i not in full]
                if full:
                    t, cols = read_frames(db, cat, full, t0, t1)
                    if len(t) == 0:  # thinned already (older than the full-rate retention): the minute table has it
                        rest += full
                    else:
                        gap = max(MIN_GAP, 3 * float(np.median(np.diff(t)))) if len(t) > 1 else MIN_GAP
                        for info, v in zip(full, cols, strict=True):
                            out[(device, info.key)] = downsample(t, v, v, t0, t1, buckets, gap, markers.get(device))
                if rest:
                    tm, lo, hi, _mean = read_minutes(db, cat, rest, t0, t1)
                    for i, info in enumerate(rest):
                        out[(device, info.key)] = downsample(
                            tm + MINUTE / 2, lo[i], hi[i], t0, t1, buckets, MINUTE_GAP, markers.get(device), "minute"
                        )
            return out

    def _markers(self, db: sqlite3.Connection, t0: float, t1: float) -> dict[str, np.ndarray]:
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
            markers = self._markers(db, grid[0] - oldest if len(grid) else t_end, t_end)
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
    lacks a series. Only the wanted float32 slices leave SQLite (`substr`), not whole rows."""
    device_id = infos[0].device_id
    table, key = (hdb.frames_table(device_id), "ts") if kind == "frame" else (hdb.minutes_table(device_id), "t")
    layouts = cat.layout_of.get((device_id, kind), [])
    size = 4 * width
    parts_k, parts_v = [], []
    for layout in layouts:
        ids = cat.layouts.get(int(layout), ())
        where = [ids.index(i.id) if i.id in ids else None for i in infos]
        cols = ", ".join(f"substr(data, {n * size + 1}, {size})" for n in where if n is not None)
        rows = db.execute(
            f"SELECT {key}{', ' + cols if cols else ''} FROM {table} WHERE layout = ? AND {key} > ? AND {key} < ?",
            (layout, lo, hi),
        ).fetchall()
        keys = np.fromiter((r[0] for r in rows), dtype=np.float64, count=len(rows))
        values = np.full((len(infos), width, len(rows)), np.nan)
        col = 1
        for n, at in enumerate(where):
            if at is not None:
                data = np.frombuffer(b"".join(r[col] for r in rows), dtype=np.float32).reshape(len(rows), width)
                values[n] = data.T
                col += 1
        if len(rows):
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
    ms, values = _read_packed(db, cat, "frame", round(t0 * 1000) - 1, round(t1 * 1000), infos, 1)
    return ms / 1000.0, values[:, 0, :]


def read_minutes(
    db: sqlite3.Connection, cat: Catalogue, infos: Sequence[SeriesInfo], t0: float, t1: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """1-minute rows of one device's series with a start in [t0 - 59, t1): (t, min, max, mean), each [len(infos), n]."""
    t, values = _read_packed(db, cat, "minute", t0 - MINUTE, t1, infos, 3)
    return t, values[:, 0, :], values[:, 1, :], values[:, 2, :]


# --- downsampling ----------------------------------------------------------------------------------
def downsample(
    t: np.ndarray, lo: np.ndarray, hi: np.ndarray, t0: float, t1: float, buckets: int, gap: float,
    markers: np.ndarray | None = None, source: str = "full",
) -> SeriesData:  # fmt: skip
    """Min and max of each of `buckets` equal buckets over [t0, t1) in time order (2 points a bucket at most),
    every sample as it is when they are few; a NaN point where consecutive data are more than `gap` apart and at
    every marker. `lo` / `hi`: per sample its minimum and maximum (the same array for raw samples)."""
    raw = lo is hi
    keep = (t >= t0) & (t < t1)
    t, lo, hi = t[keep], lo[keep], hi[keep]
    if len(t) == 0:
        return SeriesData(np.empty(0), np.empty(0), source)
    if len(t) <= 2 * buckets and raw:  # few raw samples: all of them
        pt, pv = t, lo
    elif len(t) <= buckets:  # few minute rows: each row's min and max
        pt = np.column_stack([t - MINUTE / 4, t + MINUTE / 4]).ravel()
        pv = np.column_stack([lo, hi]).ravel()
    else:
        width = (t1 - t0) / buckets
        b = np.clip(((t - t0) / width).astype(np.int64), 0, buckets - 1)
        starts = np.flatnonzero(np.diff(b, prepend=-1))
        imin = np.lexsort((lo, b))[starts]  # NaN sorts last: the bucket's smallest value
        imax = np.lexsort((-hi, b))[starts]  # its largest
        a, z = np.minimum(imin, imax), np.maximum(imin, imax)
        va = np.where(a == imin, lo[imin], hi[imax])
        vz = np.where(a == imin, hi[imax], lo[imin])
        pt = np.column_stack([t[a], t[z]]).ravel()
        pv = np.column_stack([va, vz]).ravel()
    breaks = np.flatnonzero(np.diff(t) > gap)  # judged on the samples themselves, not on the buckets
    return _with_gaps(pt, pv, (t[breaks] + t[breaks + 1]) / 2, markers, t0, t1, source)


def _with_gaps(
    pt: np.ndarray, pv: np.ndarray, gap_times: np.ndarray, markers: np.ndarray | None, t0: float, t1: float, source: str
) -> SeriesData:
    extra = gap_times
    if markers is not None and len(markers):
        extra = np.concatenate([extra, markers[(markers >= t0) & (markers < t1)]])
    if len(extra):
        pt = np.concatenate([pt, extra])
        pv = np.concatenate([pv, np.full(len(extra), np.nan)])
        order = np.argsort(pt, kind="stable")
        pt, pv = pt[order], pv[order]
    return SeriesData(pt.astype(np.float64), pv.astype(np.float64), source)
