"""`python -m pms_sim [--config FILE] [--speed N] [--without OPTION]`: serve the plant on its own."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import sys
from pathlib import Path

from pms_core.clock import Clock
from pms_core.config import DEFAULT_CONFIG, ConfigError, load_config
from pms_core.shutdown import wait_for_stop_signal
from pms_sim import OPTIONS, PlantParams, Simulator


async def serve(config: Path, speed: float, soc: float, pv_peak: float, without: tuple[str, ...] = ()) -> None:
    loaded = load_config(config)
    sim = Simulator(loaded, Clock(speed), PlantParams(initial_soc=soc, pv_peak_kw=pv_peak), without=without)
    await sim.start()
    try:
        await wait_for_stop_signal()
    finally:
        await sim.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pms_sim", description=__doc__)
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG, help="devices and ports to serve")
    parser.add_argument("--speed", type=float, default=1.0, help="plant seconds per real second (60: an hour a minute)")
    parser.add_argument("--soc", type=float, default=50.0, help="initial state of charge, %%")
    parser.add_argument("--pv-peak", type=float, default=15.0, help="PV peak power at noon, kW")
    parser.add_argument(
        "--without",
        action="append",
        default=[],
        choices=sorted(OPTIONS),
        metavar="OPTION",
        help=f"leave out an optional block, answered with exception 0x02 (repeatable; one of: {', '.join(OPTIONS)})",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(serve(args.config, args.speed, args.soc, args.pv_peak, tuple(args.without)))
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
