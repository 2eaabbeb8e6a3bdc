"""The console's boot, once main_gui_integrated.py has its command line: from the process's first line to its exit code.

The Qt event loop *is* the asyncio loop (qasync), and the very same Runtime as main.py runs inside it. Boots like
FeelUOwn: QApplication first, the qasync loop, one close future set once, tasks referenced, cancelled and awaited
on the way out.

Here too: a windowed build's missing stdio, the one-PMS-per-data-folder lock, the start-up message boxes (a windowed
build has no stderr to read), the log, and the plant of `--demo` (pms_gui/demo.py) or `--selftest`
(pms_gui/selftest.py), both pms_sim's simulator.
"""

from __future__ import annotations

import argparse
import asyncio
import faulthandler
import logging
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

import qasync
from PyQt5.QtGui import QIcon
from PyQt5.QtWidgets import QApplication, QMessageBox

from pms_core.build_info import build_info
from pms_core.clock import REAL_CLOCK
from pms_core.config import ConfigError, LoadedConfig, load_config
from pms_core.data_folder import ALREADY_RUNNING, already_running_line, lock_data_folder
from pms_core.instance_lock import AlreadyRunning, InstanceLock
from pms_core.logs import setup_logging
from pms_core.paths import bundle_dir, data_dir
from pms_core.runtime import Runtime
from pms_core.shutdown import wait_for_stop_signal
from pms_gui import i18n
from pms_gui.app import ErrorReporter, console_settings, enable_high_dpi, pick_font
from pms_gui.demo import Demo
from pms_gui.main_window import MainWindow
from pms_gui.reasons import config_error_text
from pms_gui.selftest import selftest, selftest_config
from pms_gui.tasks import TaskSet
from pms_sim import Simulator

log = logging.getLogger("pms")

ICON = Path("resources") / "pms.png"


class UsageError(Exception):
    """A wrong command line; raised instead of argparse's print-and-exit so a windowed build can show it."""


class Parser(argparse.ArgumentParser):
    """The console's argument parser: a wrong command line raises UsageError (see `main`)."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.format_usage()}{self.prog}: error: {message}")


def ensure_stdio() -> bool:
    """Give a windowed build (no console: sys.stdout / sys.stderr are None) somewhere harmless to write.

    print(), argparse and logging's StreamHandler then write to the null device (the log file has it
    all); faulthandler writes a hard crash's traceback to <data folder>/logs/crash.log. Returns True
    when the process has no console, so that start-up errors are shown in a message box instead.
    """
    windowed = sys.stdout is None or sys.stderr is None
    if sys.stdout is None:
        sys.stdout = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115 - lives as long as the process
    if sys.stderr is None:
        sys.stderr = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115
    try:
        if windowed:
            folder = data_dir() / "logs"
            folder.mkdir(parents=True, exist_ok=True)
            crash_log = open(folder / "crash.log", "a", encoding="utf-8")  # noqa: SIM115
            faulthandler.enable(crash_log)
        else:
            faulthandler.enable()
    except (OSError, ValueError, AttributeError):  # no writable data folder, or a stream without a file descriptor
        pass
    return windowed


async def run(app: QApplication, loaded: LoadedConfig, args: argparse.Namespace, reporter: ErrorReporter) -> int:
    loop = asyncio.get_running_loop()
    closing: asyncio.Future[int] = loop.create_future()

    def request_quit(code: int = 0) -> None:
        if not closing.done():  # aboutToQuit may fire more than once
            closing.set_result(code)

    app.aboutToQuit.connect(request_quit)
    demo = Demo(loaded) if args.demo else None
    simulator = Simulator(loaded, REAL_CLOCK) if args.selftest else None
    runtime: Runtime | None = None
    tasks = TaskSet()
    window: MainWindow | None = None
    try:
        if demo is not None:
            loaded, simulator = await demo.start()  # MQTT pointed at the demo's broker, if it has one
        elif simulator:
            await simulator.start()
        runtime = Runtime(loaded, with_mqtt=demo is None or demo.mqtt)
        await runtime.start()
        # Without a broker the demo leaves MQTT off on purpose: the status bar says so rather than "disconnected".
        window = MainWindow(runtime, console_settings(), mqtt_off=demo is not None and not demo.mqtt)
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
        if args.selftest:
            assert simulator is not None
            tasks.spawn(selftest(window, runtime, simulator, reporter, request_quit), "selftest")
        code = await closing
    finally:
        started = time.monotonic()
        reporter.show = None
        await tasks.cancel_all()
        if window is not None:
            await window.shutdown()
            window.hide()
        if runtime is not None:
            await runtime.stop()
        if simulator:
            await simulator.stop()
        if demo is not None:
            await demo.stop()  # after the runtime: the broker still hears its retained `offline`
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


def show_startup_error(text: str) -> None:
    """A message box for a windowed build, whose stderr nobody sees."""
    _app = QApplication.instance() or QApplication(sys.argv[:1])
    QMessageBox.critical(None, "PMS", text)  # before the event loop runs: nothing else to block


def already_running_text(exc: AlreadyRunning, lang: str | None) -> str:
    """The operator's message for a second copy, in the console's language (`lang`, else the last used, else ko)."""
    # From the catalog of the language directly: the console's current language is set only once the console runs.
    text = i18n.CATALOG[startup_language(lang)]["start.already_running"]
    return text.format(pid=exc.pid if exc.pid is not None else "?", folder=exc.folder)


def startup_config_error_text(exc: ConfigError, lang: str | None) -> str:
    """The operator's message for a bad config, every line in the console's language chosen as for a second copy
    (stderr and the log keep the English lines)."""
    return config_error_text(exc, startup_language(lang))


def startup_language(lang: str | None) -> str:
    """The language of a message before the console runs: `--lang`, else the one last used, else Korean."""
    if lang in i18n.LANGUAGES:
        return lang
    saved = console_settings().value("language")
    return saved if saved in i18n.LANGUAGES else "ko"


def main(argv: list[str] | None, parse_args: Callable[[list[str] | None], argparse.Namespace]) -> int:
    """The console from its command line (`parse_args`, which raises UsageError for a wrong one) to its exit code."""
    windowed = ensure_stdio()
    # A selftest never waits for an operator: no message box, only the exit code and the reason.
    ask_operator = windowed and "--selftest" not in (sys.argv[1:] if argv is None else argv)
    try:
        args = parse_args(argv)
    except UsageError as exc:
        print(exc, file=sys.stderr)
        if ask_operator:
            show_startup_error(str(exc))
        return 2
    if args.version:  # no config, no log, no window
        print(build_info().banner)
        return 0
    if not args.selftest:
        return start(args, windowed, ask_operator, None)
    with tempfile.TemporaryDirectory(prefix="pms-selftest-", ignore_cleanup_errors=True) as scratch:
        return start(args, windowed, ask_operator, Path(scratch))


def start(args: argparse.Namespace, windowed: bool, ask_operator: bool, scratch: Path | None) -> int:
    """Load the config (for a selftest: a copy on free ports, in `scratch`), set up the log, run the console."""
    info = build_info()
    log_file: Path | None = None
    lock: InstanceLock | None = None
    unguarded: str | None = None
    how = " on the simulator" if args.demo else " (selftest)" if args.selftest else ""
    try:
        loaded = load_config(args.config)
        if problems := info.config_problems(loaded):
            raise ConfigError(problems)
        if scratch is None:
            # Before the log file is opened and anything polls or connects, as in main.py.
            lock, unguarded = lock_data_folder(loaded)
        cfg = loaded.config.logging
        log_file = setup_logging(args.log_level or cfg.level, cfg.file)
        # The log's first line says which program and build wrote what follows (main.py starts its log the same way).
        log.info("%s console starting with %s%s; log file %s", info.banner, args.config, how, log_file)
        if scratch is not None:
            # Its own simulator and a throw-away data folder: the site's history, state and layout stay untouched.
            os.environ["PMS_DATA_DIR"] = str(scratch / "data")
            os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
            loaded = load_config(selftest_config(loaded, scratch))
    except AlreadyRunning as exc:
        print(already_running_line(exc), file=sys.stderr)
        if ask_operator:
            show_startup_error(already_running_text(exc, args.lang))
        return ALREADY_RUNNING
    except ConfigError as exc:
        if lock is not None:
            lock.release()
        print(exc, file=sys.stderr)
        if windowed:  # nobody sees stderr: the log keeps the reason
            if log_file is None:
                setup_logging(args.log_level or "INFO", None)
            log.error("%s console cannot start with %s:\n%s", info.banner, args.config, exc)
        if args.selftest:
            print(f"selftest FAILED: bad config {args.config}", file=sys.stderr)
        elif ask_operator:
            show_startup_error(startup_config_error_text(exc, args.lang))
        return 2
    if unguarded:
        log.warning("%s", unguarded)
    try:
        return run_console(args, loaded)
    finally:
        if lock is not None:
            lock.release()


def run_console(args: argparse.Namespace, loaded: LoadedConfig) -> int:
    if QApplication.instance() is None:
        enable_high_dpi()  # before the QApplication: Qt reads it once
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("PMS")
    app.setApplicationVersion(build_info().shown_version)
    icon = bundle_dir() / ICON
    if icon.is_file():
        app.setWindowIcon(QIcon(str(icon)))
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
