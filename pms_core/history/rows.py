"""The packed rows of the history's time series: the one module that knows their format.

Each device has two tables of packed rows (`db.ensure_device_tables`), a row
being (key INTEGER PRIMARY KEY, layout, data):

- `frames_<device id>`: one row per poll; key: the poll's time in
  milliseconds; data: one value per full-rate series.
- `minutes_<device id>`: one row per device-minute; key: the minute's start
  in seconds; data: (min, max, mean) per numeric series.

`data` is float32 in the machine's byte order (little-endian on every PC the
PMS runs on), NaN where there is no value, in the order of the row's layout:
the row `layout` of table `layouts`, whose `series` lists the series ids in
that order, comma-separated.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Iterator
from typing import Final, TypeVar

import numpy as np

TYPECODE: Final = "f"  # float32, for `array`
DTYPE = np.float32  # the same, for numpy
ITEM_SIZE = 4  # bytes a value
FRAME_WIDTH = 1  # values a series in a frame
MINUTE_WIDTH = 3  # values a series in a minute row: (min, max, mean)
MIN, MAX, MEAN = range(MINUTE_WIDTH)
MINUTE = 60  # seconds
NAN = float("nan")

Time = TypeVar("Time", float, np.ndarray)


# --- layouts ----------------------------------------------------------------------------------------
def layout_text(series: Iterable[int]) -> str:
    """A layout's `series` column: its series ids in packed order."""
    return ",".join(map(str, series))


def layout_series(text: str) -> tuple[int, ...]:
    return tuple(int(x) for x in text.split(",") if x)


# --- keys ------------------------------------------------------------------------------------------
def frame_key(t: float) -> int:
    """A frame's key: its time in milliseconds."""
    return round(t * 1000)


def frame_time(key: Time) -> Time:
    """The time (epoch seconds) of a frame key, or of an array of them."""
    return key / 1000


def minute_key(t: float) -> int:
    """A minute row's key: the start of the minute `t` falls in, in seconds."""
    return int(t // MINUTE) * MINUTE


# --- data ------------------------------------------------------------------------------------------
def pack_frame(values: Iterable[float | None]) -> bytes:
    """A frame's data from one value per series (None: no value)."""
    return array(TYPECODE, (NAN if v is None else v for v in values)).tobytes()


def pack_minute(aggregates: Iterable[tuple[float, float, float]]) -> bytes:
    """A minute row's data from each series' (min, max, mean)."""
    out = array(TYPECODE)
    for aggregate in aggregates:
        out.extend(aggregate)
    return out.tobytes()


def pack_rows(values: np.ndarray) -> Iterator[bytes]:
    """The data of many rows at once (bulk inserts): `values[row, ...]` holds each row's values in packed order."""
    flat = np.ascontiguousarray(values, dtype=DTYPE).reshape(len(values), -1)
    return (row.tobytes() for row in flat)


def frame_values(data: bytes) -> array[float]:
    """A frame's values, one per series of its layout."""
    return array(TYPECODE, data)


def minute_means(data: bytes) -> array[float]:
    """A minute row's means, one per series of its layout."""
    return array(TYPECODE, data)[MEAN::MINUTE_WIDTH]


def slice_sql(position: int, width: int) -> str:
    """SQL for the bytes of the series at `position` of a row's layout, `width` values a series: reading only these
    keeps the rest of the row inside SQLite."""
    size = ITEM_SIZE * width
    return f"substr(data, {position * size + 1}, {size})"


def unpack_slices(slices: Iterable[bytes], width: int) -> np.ndarray:
    """One series over many rows from the slices `slice_sql` read: values[row, width]."""
    return np.frombuffer(b"".join(slices), dtype=DTYPE).reshape(-1, width)
