"""The headless runner behind main.py, once its command line is parsed: the run loop and the `export` subcommand.

The plant simulator of `--simulate` is given by the caller (main.py passes pms_sim's): the core does not import it.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Callable
from typing import Protocol

from pms_core.build_info import build_info
from pms_core.clock import parse_iso
from pms_core.config import ConfigError, LoadedConfig, load_config
from pms_core.data_folder import ALREADY_RUNNING, already_running_line, lock_data_folder
from pms_core.history import HistoryError, default_path, export_csv
from pms_core.instance_lock import AlreadyRunning
from pms_core.logs import setup_logging
from pms_core.runtime import Runtime
from pms_core.shutdown import wait_for_stop_signal

log = logging.getLogger("pms")

SUMMARY_EVERY = 30.0  # seconds between one-line plant summaries in the log


class Simulated(Protocol):
    """A plant served in-process on the configured ports (pms_sim.Simulator)."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


SimulatorFactory = Callable[[LoadedConfig], Simulated]


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


async def run(loaded: LoadedConfig, simulator: SimulatorFactory | None) -> None:
    """The PMS until a stop signal, on the plant `simulator` makes (started first, stopped last) if given."""
    plant = simulator(loaded) if simulator else None
    if plant:
        await plant.start()
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
        if plant:
            await plant.stop()


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


def main(args: argparse.Namespace, simulator: SimulatorFactory) -> int:
    """main.py's parsed command line run to its exit code; `simulator` makes the plant that `--simulate` serves."""
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
        asyncio.run(run(loaded, simulator if args.simulate else None))
    finally:
        lock.release()
    return 0
