"""The history: time series, alarm journal and audit log in one SQLite file.

- `db`: the file, its schema, versions and migrations, the per-device tables.
- `rows`: the packed row format of the time-series tables.
- `writer`: `History`, the thread that writes what the bus carries.
- `reader`: `HistoryReader`, what the console and the runtime read back.
- `export`: the CSV export.
"""

from __future__ import annotations

from pms_core.history.db import HistoryError
from pms_core.history.export import WHATS, ExportCancelled, What, export_csv
from pms_core.history.reader import HistoryReader, counter_increase
from pms_core.history.writer import HISTORY_ALARM, History, default_path, make_history

__all__ = [
    "HISTORY_ALARM",
    "WHATS",
    "ExportCancelled",
    "History",
    "HistoryError",
    "HistoryReader",
    "What",
    "counter_increase",
    "default_path",
    "export_csv",
    "make_history",
]
