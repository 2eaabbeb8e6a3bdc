"""The headless PMS runner: `python main.py [--config FILE] [--simulate] [--log-level L]`.

`python main.py --version` prints `PMS <version> (<variant> build)` and exits 0 (no config read).

One PMS per data folder: a second copy on the same data folder exits with code 3 ("PMS is already running").

`python main.py --config FILE export --out F.csv [--since ISO] [--until ISO] [--device NAME]
[--what values|alarms|audit]` writes the history as CSV instead (times without an offset are local).

Only the command line is here: the runner is pms_core/headless.py, the plant of `--simulate` is pms_sim's.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pms_core import headless
from pms_core.clock import REAL_CLOCK
from pms_core.config import DEFAULT_CONFIG, LoadedConfig
from pms_core.history import WHATS
from pms_sim import Simulator


def simulator(loaded: LoadedConfig) -> Simulator:
    """The plant that `--simulate` serves in-process on the configured ports (the run itself: pms_core/headless.py)."""
    return Simulator(loaded, REAL_CLOCK)


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
    return headless.main(parser.parse_args(argv), simulator)


if __name__ == "__main__":
    sys.exit(main())
