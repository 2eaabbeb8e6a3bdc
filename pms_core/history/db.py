"""The history database: SQLite file, schema, versions and migrations, the series catalogue.

Layout (schema version 2):

- `devices`, `series` (device, key, unit, full_rate) and `layouts` (the
  ordered series of one packed row) form the catalogue.
- `frames_<device id>(ts ms INTEGER PRIMARY KEY, layout, data)`: one row per
  poll holding the device's full-rate series packed (`rows`). One row per
  poll rather than one per value keeps 30 days of ~40 series at 1 Hz near
  0.5 GB; the integer key in milliseconds makes every insert an append and
  every time-range read a rowid range scan.
- `minutes_<device id>(t INTEGER PRIMARY KEY, layout, data)`: one row per
  device-minute holding (min, max, mean) of every numeric series, packed.
  Charts over a day, long exports and data older than the full-rate
  retention read these.
- `links` (link state changes: outages are gaps), `runs` (PMS starts and
  stops), `alarms` (the alarm journal), `audit` (commands, mode and threshold
  changes).

Version 1 was the first layout: the time series and an alarm journal without
acknowledgement, no audit log, links or runs. `migrate()` brings any older
file to the current version inside one transaction per step; a file from a
newer PMS is refused (never downgraded).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

SCHEMA_VERSION = 2
BUSY_TIMEOUT_MS = 3000


class HistoryError(RuntimeError):
    """The history file cannot be used (corrupt, locked, from a newer PMS); the message says which and where."""


_V2_COMMON = """
CREATE TABLE IF NOT EXISTS links(
    id INTEGER PRIMARY KEY, device TEXT NOT NULL, ts REAL NOT NULL, state TEXT NOT NULL, error TEXT);
CREATE INDEX IF NOT EXISTS links_device_ts ON links(device, ts);
CREATE TABLE IF NOT EXISTS runs(id INTEGER PRIMARY KEY, started REAL NOT NULL, stopped REAL);
CREATE TABLE IF NOT EXISTS audit(
    id INTEGER PRIMARY KEY, ts REAL NOT NULL, kind TEXT NOT NULL, source TEXT, device TEXT, command TEXT,
    params TEXT, status TEXT, writes TEXT, reason TEXT, request_id TEXT, command_id INTEGER);
CREATE INDEX IF NOT EXISTS audit_ts ON audit(ts);
"""

SCHEMA = (
    """
CREATE TABLE schema_version(version INTEGER NOT NULL, applied_at REAL NOT NULL, note TEXT);
CREATE TABLE devices(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, type TEXT NOT NULL);
CREATE TABLE series(
    id INTEGER PRIMARY KEY, device INTEGER NOT NULL REFERENCES devices(id), key TEXT NOT NULL,
    unit TEXT NOT NULL, full_rate INTEGER NOT NULL, UNIQUE(device, key));
CREATE TABLE layouts(id INTEGER PRIMARY KEY, device INTEGER NOT NULL, kind TEXT NOT NULL, series TEXT NOT NULL);
CREATE TABLE alarms(
    id INTEGER PRIMARY KEY, device TEXT NOT NULL, alarm TEXT NOT NULL, code TEXT, severity TEXT, message TEXT,
    raised_at REAL NOT NULL, acknowledged_at REAL, acknowledged_by TEXT, cleared_at REAL);
CREATE INDEX alarms_raised ON alarms(raised_at);
CREATE INDEX alarms_open ON alarms(device, alarm, cleared_at);
"""
    + _V2_COMMON
)


def _migrate_1_to_2(db: sqlite3.Connection) -> None:
    db.execute("ALTER TABLE alarms ADD COLUMN acknowledged_at REAL")
    db.execute("ALTER TABLE alarms ADD COLUMN acknowledged_by TEXT")
    db.execute("CREATE INDEX IF NOT EXISTS alarms_open ON alarms(device, alarm, cleared_at)")
    run_script(db, _V2_COMMON)


def run_script(db: sqlite3.Connection, script: str) -> None:
    """Statement by statement, inside the caller's transaction (executescript would commit it first)."""
    for statement in script.split(";"):
        if statement.strip():
            db.execute(statement)


MIGRATIONS: dict[int, Callable[[sqlite3.Connection], None]] = {1: _migrate_1_to_2}


CACHE_KIB = 512


def connect(path: Path, *, create: bool) -> sqlite3.Connection:
    """Open the file (WAL, NORMAL sync: a killed process loses nothing committed); raise HistoryError if unusable."""
    if not create and not path.exists():
        raise HistoryError(f"no history database at {path}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False)
    except (OSError, sqlite3.Error) as exc:
        raise HistoryError(f"cannot open the history database {path}: {exc}") from exc
    try:
        db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        mode = db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise HistoryError(f"the history database {path} cannot use WAL mode (journal_mode={mode})")
        db.execute("PRAGMA synchronous=NORMAL")
        # A small page cache: the writer appends and the chart queries scan, neither re-reads much; SQLite's
        # default 2 MB per connection only made the resident memory creep up for the first hours (bench.soak).
        db.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
        db.execute("PRAGMA foreign_keys=OFF")
        migrate(db, path)
    except sqlite3.DatabaseError as exc:
        db.close()
        raise HistoryError(describe(exc, path)) from exc
    except HistoryError:
        db.close()
        raise
    return db


def describe(exc: sqlite3.Error, path: Path) -> str:
    text = str(exc)
    if "locked" in text or "busy" in text:
        return f"the history database {path} is locked by another program ({text}): running without history"
    if "not a database" in text or "malformed" in text or "corrupt" in text:
        return f"the history database {path} is corrupt ({text}): running without history; move it aside to start anew"
    return f"the history database {path} cannot be used ({text}): running without history"


def version(db: sqlite3.Connection) -> int:
    """The file's schema version; 0 for an empty file."""
    has_table = db.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='schema_version'").fetchone()
    if not has_table:
        tables = db.execute("SELECT count(*) FROM sqlite_master WHERE type='table'").fetchone()[0]
        if tables:
            raise HistoryError("the file holds tables but no schema_version: not a PMS history database")
        return 0
    row = db.execute("SELECT max(version) FROM schema_version").fetchone()
    return int(row[0] or 0)


def migrate(db: sqlite3.Connection, path: Path) -> int:
    """Create or migrate to SCHEMA_VERSION; returns the version found before."""
    found = version(db)
    if found > SCHEMA_VERSION:
        raise HistoryError(
            f"the history database {path} has schema version {found}, newer than this PMS ({SCHEMA_VERSION}): "
            "running without history"
        )
    if found == 0:
        db.execute("BEGIN IMMEDIATE")
        run_script(db, SCHEMA)
        db.execute("INSERT INTO schema_version VALUES (?, ?, 'created')", (SCHEMA_VERSION, time.time()))
        db.execute("COMMIT")
        return 0
    for step in range(found, SCHEMA_VERSION):
        db.execute("BEGIN IMMEDIATE")
        try:
            MIGRATIONS[step](db)
            db.execute("INSERT INTO schema_version VALUES (?, ?, ?)", (step + 1, time.time(), f"migrated from {step}"))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
    return found


def insert(db: sqlite3.Connection, sql: str, params: tuple[object, ...]) -> int:
    """Run one INSERT; the id of the row it made."""
    row_id = db.execute(sql, params).lastrowid
    if row_id is None:
        raise sqlite3.DatabaseError(f"no row inserted by {sql}")
    return row_id


def frames_table(device_id: int) -> str:
    return f"frames_{int(device_id)}"


def minutes_table(device_id: int) -> str:
    return f"minutes_{int(device_id)}"


def ensure_device_tables(db: sqlite3.Connection, device_id: int) -> None:
    db.execute(f"CREATE TABLE IF NOT EXISTS {frames_table(device_id)}(ts INTEGER PRIMARY KEY, layout INTEGER, data BLOB)")
    db.execute(f"CREATE TABLE IF NOT EXISTS {minutes_table(device_id)}(t INTEGER PRIMARY KEY, layout INTEGER, data BLOB)")
