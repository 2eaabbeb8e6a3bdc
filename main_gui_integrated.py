"""The operator console: `python main_gui_integrated.py [--config FILE] [--demo] [--lang ko|en]
[--screenshot PATH --exit-after S] [--selftest] [--version]`; the built PMS_GUI_Application takes the same flags.

`--demo` runs the console on the plant simulator in daylight (PV producing), with an MQTT broker of its own when
Mosquitto is installed (pms_gui/demo.py); `--version` prints `PMS <version> (<variant> build)` and exits 0.

`--selftest` proves an installation (or a build) end to end: its own simulator on
free loopback ports, the console offscreen, every device polled online, one
command through the command service confirmed by the simulator; exit 0, or 1
with the reason on stderr and in the log.

One PMS per data folder, as with main.py: a second console (or a console beside a running main.py) on the same
data folder says so and exits with code 3. The selftest's data folder is its own temporary one: it runs beside a
running PMS.

Only the command line is here: the console's boot (Qt, the qasync loop, the lock, the log, the start-up message
boxes) is pms_gui/boot.py, the selftest pms_gui/selftest.py.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pms_core.config import DEFAULT_CONFIG
from pms_gui import boot, i18n
from pms_gui.selftest import SELFTEST_TIMEOUT


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = boot.Parser(prog="main_gui_integrated.py", description="PMS operator console")
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG, help="config file (default: config/config.yml)")
    parser.add_argument(
        "--demo",
        action="store_true",
        help="start the plant simulator in-process on the configured ports, in daylight; with Mosquitto installed,"
        " also an MQTT broker of its own on a free loopback port (else MQTT is off)",
    )
    parser.add_argument("--lang", choices=i18n.LANGUAGES, help="language of the console (default: the last used, or ko)")
    parser.add_argument("--screenshot", type=Path, metavar="PATH", help="save a PNG of the main window, then exit")
    parser.add_argument("--exit-after", type=float, metavar="S", help="seconds to run before the screenshot and exit")
    parser.add_argument("--log-level", choices=["DEBUG", "INFO", "WARNING", "ERROR"], help="overrides logging.level")
    parser.add_argument(
        "--selftest",
        action="store_true",
        help="run the console offscreen on its own simulator (free loopback ports), poll every device,"
        f" exercise one command; exit 0, else 1 with the reason (at most {SELFTEST_TIMEOUT:.0f} s)",
    )
    parser.add_argument("--version", action="store_true", help="print the version and the build variant, then exit")
    args = parser.parse_args(argv)
    if args.screenshot and args.exit_after is None:
        parser.error("--screenshot needs --exit-after S")
    if args.selftest and (args.demo or args.exit_after is not None):
        parser.error("--selftest runs its own simulator and exits by itself: no --demo or --exit-after with it")
    return args


def main(argv: list[str] | None = None) -> int:
    return boot.main(argv, parse_args)


if __name__ == "__main__":
    sys.exit(main())
