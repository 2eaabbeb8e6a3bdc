"""The operator console: `python main_gui_integrated.py [--config FILE] [--demo] [--lang ko|en]
[--screenshot PATH --exit-after S]`.

The Qt event loop *is* the asyncio loop (qasync), and the very same Runtime as
main.py runs inside it. Boots like FeelUOwn: QApplication first, the qasync
loop, one close future set once, tasks referenced, cancelled and awaited on
the way out.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time
from pathlib import Path

import qasync
from PyQt5.QtWidgets import QApplication

from main import setup_logging
from pms_core.clock import REAL_CLOCK
from pms_core.config import DEFAULT_CONFIG, ConfigError, LoadedConfig, load_config
from pms_core.runtime import Runtime
from pms_core.shutdown import wait_for_stop_signal
from pms_core.simulator import Simulator
from pms_gui import i18n
from pms_gui.app import ErrorReporter, console_settings, pick_font
from pms_gui.main_window import MainWindow
from pms_gui.tasks import TaskSet

log = logging.getLogger("pms")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="main_gui_integrated.py", description="PMS operator console")
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG, help="config file (default: config/config.yml)")
    parser.add_argument("--demo", action="store_true", help="start the plant simulator in-process on the configured ports")
    parser.add_argument("--lang", choices=i18n.LANGUAGES, help="language of the console (default: the last used, or ko)")
    parser.add_argument("--screenshot", type=Path, metavar="PATH", help="save a PNG of the main window, then exit")
    parser.add_argument("--exit-after", type=float, metavar="S", help="seconds to run before the screenshot and exit")
    parser.add_argument("--log-level", choices=["DEBUG", "INFO", "WARNING", "ERROR"], help="overrides logging.level")
    args = parser.parse_args(argv)
    if args.screenshot and args.exit_after is None:
        parser.error("--screenshot needs --exit-after S")
    return args


async def run(app: QApplication, loaded: LoadedConfig, args: argparse.Namespace, reporter: ErrorReporter) -> int:
    loop = asyncio.get_running_loop()
    closing: asyncio.Future[int] = loop.create_future()

    def request_quit(code: int = 0) -> None:
        if not closing.done():  # aboutToQuit may fire more than once
            closing.set_result(code)

    app.aboutToQuit.connect(request_quit)
    simulator = Simulator(loaded, REAL_CLOCK) if args.demo else None
    runtime = Runtime(loaded)
    tasks = TaskSet()
    window: MainWindow | None = None
    try:
        if simulator:
            await simulator.start()
        await runtime.start()
        window = MainWindow(runtime, console_settings())
        reporter.show = window.show_error
        window.closed.connect(request_quit)
        window.show()

        async def stop_on_signal() -> None:
            await wait_for_stop_signal()
            log.info("stop signal: closing the console")
            request_quit()

        tasks.spawn(stop_on_signal(), "stop on signal")
        if args.exit_after is not None:
            tasks.spawn(screenshot_and_quit(window, args.screenshot, args.exit_after, request_quit), "screenshot")
        code = await closing
    finally:
        started = time.monotonic()
        reporter.show = None
        await tasks.cancel_all()
        if window is not None:
            await window.shutdown()
            window.hide()
        await runtime.stop()
        if simulator:
            await simulator.stop()
        log.info("console stopped in %.2f s", time.monotonic() - started)
    return code


async def screenshot_and_quit(window: MainWindow, path: Path | None, seconds: float, quit_: object) -> None:
    await asyncio.sleep(seconds)
    code = 0
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        if window.grab().save(str(path), "PNG"):
            log.info("screenshot saved to %s", path)
        else:
            log.error("cannot save the screenshot to %s", path)
            code = 1
    quit_(code)  # type: ignore[operator]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        loaded = load_config(args.config)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    cfg = loaded.config.logging
    log_file = setup_logging(args.log_level or cfg.level, cfg.file)
    log.info("console starting with %s%s; log file %s", args.config, " on the simulator" if args.demo else "", log_file)

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("PMS")
    app.setQuitOnLastWindowClosed(False)  # the close future ends the loop, after a clean shutdown
    family = pick_font(app)
    log.info("console font: %s", family or "platform default")
    saved = console_settings().value("language")
    i18n.set_language(args.lang or (saved if saved in i18n.LANGUAGES else "ko"))

    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    reporter = ErrorReporter()
    reporter.install(loop)
    try:
        return loop.run_until_complete(run(app, loaded, args, reporter))
    finally:
        reporter.uninstall()
        loop.close()
        asyncio.set_event_loop(None)


if __name__ == "__main__":
    sys.exit(main())
