"""The headless PMS runner: `python main.py [--config FILE] [--simulate] [--log-level L]`.

`python main.py --version` prints `PMS <version> (<variant> build)` and exits 0 (no config read).

One PMS per data folder: a second copy on the same data folder exits with code 3 ("PMS is already running").

`python main.py --config FILE export --out F.csv [--since ISO] [--until ISO] [--device NAME]
[--what values|alarms|audit]` writes the history as CSV instead (times without an offset are local).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import logging.handlers
import sys
from pathlib import Path

from pms_core.build_info import build_info
from pms_core.clock import REAL_CLOCK, parse_iso
from pms_core.config import DEFAULT_CONFIG, ConfigError, LoadedConfig, load_config
from pms_core.history import default_path
from pms_core.history_db import HistoryError
from pms_core.history_export import WHATS, export_csv
from pms_core.instance_lock import AlreadyRunning, InstanceLock
from pms_core.paths import data_dir
from pms_core.runtime import Runtime, state_file
from pms_core.shutdown import wait_for_stop_signal
from pms_core.simulator import Simulator

log = logging.getLogger("pms")

SUMMARY_EVERY = 30.0  # seconds between one-line plant summaries in the log
ALREADY_RUNNING = 3  # the exit code of a second copy on a data folder that a running PMS holds


def setup_logging(level: str, file: str | None) -> Path:
    path = Path(file) if file else data_dir() / "logs" / "pms.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    handlers: list[logging.Handler] = [
        logging.StreamHandler(),
        logging.handlers.RotatingFileHandler(path, maxBytes=5_000_000, backupCount=5, encoding="utf-8"),
    ]
    root = logging.getLogger()
    root.setLevel(level)
    for handler in handlers:
        handler.setFormatter(fmt)
        root.addHandler(handler)
    return path


def lock_data_folder(loaded: LoadedConfig) -> tuple[InstanceLock, str | None]:
    """Take the lock of the folder that holds the PMS's writable state (the state file's: beside the history,
    else the data folder); AlreadyRunning if another PMS holds it.

    A folder where no lock can be taken for another reason (read-only, a file system without locks) does not stop
    the PMS, as a history that cannot be written does not: it runs unguarded, and the warning returned says so.
    """
    lock = InstanceLock(state_file(loaded.config.history.path, None).parent)
    try:
        lock.acquire()  # AlreadyRunning is not an OSError: it passes to the caller
    except OSError as exc:
        return lock, f"cannot lock {lock.path} ({exc}): a second PMS on this data folder would not be stopped"
    return lock, None


def already_running_line(exc: AlreadyRunning) -> str:
    return f"PMS is already running ({exc.who}); this copy exits. Data folder: {exc.folder}"


def summary(runtime: Runtime) -> str:
    parts = []
    for dev in runtime.devices.values():
        snap = dev.snapshot
        if dev.state != "online" or snap is None:
            parts.append(f"{dev.name}: {dev.state}")
        elif dev.type == "BMS":
            parts.append(f"{dev.name}: SOC {snap.value('battery_soc')} % {snap.value('battery_power')} kW")
        elif dev.type == "PCS":
            parts.append(f"{dev.name}: {snap.value('operating_mode')} {snap.value('battery_instantaneous_power')} kW")
        else:
            parts.append(f"{dev.name}: {snap.value('operating_mode')} PV {snap.value('input_power')} kW")
    return " | ".join(parts)


async def run(loaded: LoadedConfig, simulate: bool) -> None:
    simulator = Simulator(loaded, REAL_CLOCK) if simulate else None
    if simulator:
        await simulator.start()
    runtime = Runtime(loaded)
    await runtime.start()

    async def log_summaries() -> None:
        while True:
            await asyncio.sleep(SUMMARY_EVERY)
            log.info("%s", summary(runtime))

    summaries = asyncio.create_task(log_summaries(), name="summaries")
    try:
        await wait_for_stop_signal()
        log.info("stopping")
    finally:
        summaries.cancel()
        await asyncio.gather(summaries, return_exceptions=True)
        await runtime.stop()
        if simulator:
            await simulator.stop()


def run_export(loaded: LoadedConfig, args: argparse.Namespace) -> int:
    """The `export` subcommand: reads the history file of the config (a running PMS may keep writing it)."""
    try:
        since = parse_iso(args.since) if args.since else None
        until = parse_iso(args.until) if args.until else None
    except ValueError as exc:
        print(f"export: bad time: {exc} (use ISO 8601, e.g. 2025-05-01T06:00 or 2025-05-01T06:00+09:00)", file=sys.stderr)
        return 2
    unknown = sorted(set(args.device or ()) - {d.name for d in loaded.devices})
    if unknown:
        print(f"export: unknown device(s) {', '.join(unknown)}: the config has {', '.join(d.name for d in loaded.devices)}",
              file=sys.stderr)  # fmt: skip
        return 2
    path = default_path(loaded.config.history)
    try:
        rows = export_csv(path, args.out, args.what, since, until, args.device)
    except HistoryError as exc:
        print(f"export: {exc}", file=sys.stderr)
        return 1
    print(f"exported {rows} {args.what} row(s) from {path} to {args.out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="main.py", description="PMS headless runner")
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG, help="config file (default: config/config.yml)")
    parser.add_argument(
        "--simulate", action="store_true", help="start the plant simulator in-process on the configured ports"
    )
    parser.add_argument("--log-level", choices=["DEBUG", "INFO", "WARNING", "ERROR"], help="overrides logging.level")
    # Not argparse's action="version": that exits from inside parse_args; this returns 0 like every other path.
    parser.add_argument("--version", action="store_true", help="print the version and the build variant, then exit")
    sub = parser.add_subparsers(dest="command", metavar="export")
    export = sub.add_parser("export", help="write the history, the alarm journal or the audit log as CSV, then exit")
    export.add_argument("--out", type=Path, required=True, help="the CSV file to write (UTF-8 with BOM)")
    export.add_argument("--since", help="ISO 8601 start (without an offset: local time); default the first record")
    export.add_argument("--until", help="ISO 8601 end, exclusive (without an offset: local time); default the last")
    export.add_argument("--device", action="append", help="only this device (repeatable)")
    export.add_argument("--what", choices=WHATS, default="values", help="values (default), alarms or audit")
    args = parser.parse_args(argv)
    if args.version:
        print(build_info().banner)
        return 0
    try:
        loaded = load_config(args.config)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    if args.command == "export":
        return run_export(loaded, args)  # only reads the history: no lock, it runs beside a running PMS
    # Before the log file is opened and before anything polls or connects: a second copy leaves no trace but
    # its one line on stderr (two processes rotating one log file would fight over it).
    try:
        lock, unguarded = lock_data_folder(loaded)
    except AlreadyRunning as exc:
        print(already_running_line(exc), file=sys.stderr)
        return ALREADY_RUNNING
    try:
        cfg = loaded.config.logging
        log_file = setup_logging(args.log_level or cfg.level, cfg.file)
        # The log's first line says which program wrote what follows: a support case starts by reading it.
        log.info("%s starting with %s%s; log file %s", build_info().banner, args.config,
                 " on the simulator" if args.simulate else "", log_file)  # fmt: skip
        if unguarded:
            log.warning("%s", unguarded)
        asyncio.run(run(loaded, args.simulate))
    finally:
        lock.release()
    return 0


if __name__ == "__main__":
    sys.exit(main())
