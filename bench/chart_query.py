"""A chart query over the history: at most N points a series for any window, min and max of each bucket, NaN at gaps.

Not part of the PMS: the console's trends are filled by `HistoryReader.backfill`
(rows on one time grid for their ring buffer, which pyqtgraph downsamples when
drawing). This is the query of the issue 6 target (7 days x 4 series < 100 ms),
measured by `bench.history`; the history tests read the stored series back
with it.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import closing
from dataclasses import dataclass

import numpy as np

from pms_core.history.reader import MINUTE, HistoryReader, Key, SeriesInfo, read_catalogue, read_frames, read_minutes

FULL_RATE_WINDOW = 86400.0  # windows longer than this read the 1-minute table (DECISIONS.md "History size")
MIN_GAP = 5.0  # seconds: full-rate samples further apart than max(MIN_GAP, 3 x their median spacing) are a gap
MINUTE_GAP = 150.0  # minute rows further apart than this are a gap


@dataclass(frozen=True)
class SeriesData:
    """Points of one series, oldest first; NaN values are gaps. `source`: "full" or "minute"."""

    t: np.ndarray  # float64 epoch seconds
    v: np.ndarray  # float64
    source: str


class ChartReader(HistoryReader):
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
            markers = self.markers(db, t0, t1)
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
