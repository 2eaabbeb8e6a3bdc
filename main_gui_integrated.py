"""The operator console: `python main_gui_integrated.py [--config FILE] [--demo] [--lang ko|en]
[--screenshot PATH --exit-after S] [--selftest] [--version]`; the built PMS_GUI_Application takes the same flags.

`--demo` runs the console on the plant simulator in daylight (PV producing), with an MQTT broker of its own when
Mosquitto is installed (pms_gui/demo.py); `--version` prints `PMS <version> (<variant> build)` and exits 0.

The Qt event loop *is* the asyncio loop (qasync), and the very same Runtime as
main.py runs inside it. Boots like FeelUOwn: QApplication first, the qasync
loop, one close future set once, tasks referenced, cancelled and awaited on
the way out.

`--selftest` proves an installation (or a build) end to end: its own simulator on
free loopback ports, the console offscreen, every device polled online, one
command through the command service confirmed by the simulator; exit 0, or 1
with the reason on stderr and in the log.

One PMS per data folder, as with main.py: a second console (or a console beside a running main.py) on the same
data folder says so and exits with code 3. The selftest's data folder is its own temporary one: it runs beside a
running PMS.
"""

from __future__ import annotations

import argparse
import asyncio
import faulthandler
import logging
import os
import socket
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

import qasync
import yaml
from PyQt5.QtGui import QIcon
from PyQt5.QtWidgets import QApplication, QMessageBox

from main import ALREADY_RUNNING, already_running_line, lock_data_folder, setup_logging
from pms_core.build_info import build_info
from pms_core.clock import REAL_CLOCK
from pms_core.config import DEFAULT_CONFIG, ConfigError, LoadedConfig, load_config, map_path
from pms_core.instance_lock import AlreadyRunning, InstanceLock
from pms_core.paths import bundle_dir, data_dir
from pms_core.runtime import Runtime
from pms_core.shutdown import wait_for_stop_signal
from pms_core.simulator import Simulator
from pms_gui import i18n
from pms_gui.app import ErrorReporter, console_settings, enable_high_dpi, pick_font
from pms_gui.demo import Demo
from pms_gui.main_window import MainWindow
from pms_gui.reasons import config_error_text
from pms_gui.tasks import TaskSet

log = logging.getLogger("pms")

SELFTEST_TIMEOUT = 60.0  # seconds from the console's start to a verdict
SELFTEST_POLL_INTERVAL = 0.5  # the selftest polls at least this often, whatever the site's config says
ICON = Path("resources") / "pms.png"


class UsageError(Exception):
    """A wrong command line; raised instead of argparse's print-and-exit so a windowed build can show it."""


class _Parser(argparse.ArgumentParser):
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


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = _Parser(prog="main_gui_integrated.py", description="PMS operator console")
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
        runtime = Runtime(loaded, mqtt=demo is None or demo.mqtt)
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


# --- selftest --------------------------------------------------------------------------------------
def free_ports(count: int) -> list[int]:
    """`count` different loopback ports, free now (held open together: the OS may give one port twice in a row)."""
    socks = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(count)]
    try:
        for sock in socks:
            sock.bind(("127.0.0.1", 0))
        return [int(sock.getsockname()[1]) for sock in socks]
    finally:
        for sock in socks:
            sock.close()


def selftest_config(source: LoadedConfig, folder: Path) -> Path:
    """A copy of the site's config for the selftest: every endpoint on a free loopback port (served by
    the selftest's own simulator), the maps the site uses, MQTT on a port where nothing listens, the
    automatic mode not resumed. It is written to `folder`."""
    raw: dict[str, Any] = yaml.safe_load(source.path.read_text(encoding="utf-8"))
    endpoints = list(dict.fromkeys((d.ip, d.port) for d in source.devices))
    *device_ports, mqtt_port = free_ports(len(endpoints) + 1)
    ports = dict(zip(endpoints, device_ports, strict=True))
    devices = []
    for raw_dev, dev in zip(raw["devices"], source.devices, strict=True):
        port = ports[(dev.ip, dev.port)]
        devices.append({
            **raw_dev,
            "ip": "127.0.0.1",
            "port": port,
            "map": str(map_path(dev, source.path).resolve()),
            "poll_interval": min(dev.poll_interval, SELFTEST_POLL_INTERVAL),
        })  # fmt: skip
    mqtt = {k: v for k, v in (raw.get("mqtt") or {}).items() if k != "tls"}
    auto_mode = {**(raw.get("auto_mode") or {}), "resume_on_start": False}
    history = {k: v for k, v in (raw.get("history") or {}).items() if k != "path"}
    logging_ = {k: v for k, v in (raw.get("logging") or {}).items() if k != "file"}
    data = {
        **raw, "devices": devices, "mqtt": {**mqtt, "broker": "127.0.0.1", "port": mqtt_port},
        "auto_mode": auto_mode, "history": history, "logging": logging_,
    }  # fmt: skip
    path = folder / "config.yml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


class SelftestFailed(Exception):
    pass


async def _until(predicate: Callable[[], bool], deadline: float, what: Callable[[], str]) -> None:
    while not predicate():
        if time.monotonic() > deadline:
            raise SelftestFailed(what())
        await asyncio.sleep(0.05)


async def _selftest_steps(window: MainWindow, runtime: Runtime, simulator: Simulator, deadline: float) -> str:
    devices = runtime.devices.values()

    def not_online() -> str:
        return "devices not polled online: " + ", ".join(
            f"{d.name} ({d.state})" for d in devices if d.state != "online" or d.snapshot is None
        )

    await _until(lambda: all(d.state == "online" and d.snapshot is not None for d in devices), deadline, not_online)
    online_after = time.monotonic()
    # The console shows every device: a dock per device type, and a view of each device from the bridge.
    wanted = {f"dock_{d.type.lower()}" for d in devices}
    docks = {name for name in window.docks if name in ("dock_bms", "dock_pcs", "dock_dcdc")}
    if docks != wanted:
        raise SelftestFailed(f"device docks {sorted(docks)}, expected {sorted(wanted)}")
    await _until(
        lambda: set(window.device_views) == set(runtime.devices), deadline,
        lambda: f"the console shows no data for {sorted(set(runtime.devices) - set(window.device_views))}",
    )  # fmt: skip
    # One command through the one door, as the operator's button sends it; the simulator must receive it.
    pcs, bms = runtime.device_of_type("PCS"), runtime.device_of_type("BMS")
    if pcs is not None:
        target, command, params, write = pcs, "operation_mode", {"mode": "stop"}, ("PCS", 20, 0x55)
    elif bms is not None:
        target, command, params, write = bms, "reset_errors", {}, ("BMS", 201, 0x50)
    else:
        return f"{len(runtime.devices)} device(s) online (no PCS or BMS to command)"
    written = await runtime.commands.execute(target.name, command, params, source="gui")
    if not written.ok:
        raise SelftestFailed(f"{target.name} {command} {params}: {written.status}: {written.reason}")
    final = await asyncio.wait_for(runtime.commands.confirmation(written), max(0.1, deadline - time.monotonic()))
    if not final.ok:
        raise SelftestFailed(f"{target.name} {command} {params}: {final.status}: {final.reason}")
    if not any(w[1:] == write for w in simulator.plant.writes):
        raise SelftestFailed(f"{target.name} {command}: the simulator never received the write {write[1]}={write[2]:#x}")
    return (
        f"{len(runtime.devices)} device(s) online in {online_after - (deadline - SELFTEST_TIMEOUT):.1f} s"
        f" ({', '.join(f'{d.name} ({d.type})' for d in devices)}); {target.name} {command} {params} {final.status}"
    )


async def selftest(
    window: MainWindow, runtime: Runtime, simulator: Simulator, reporter: ErrorReporter, quit_: Callable[[int], None]
) -> None:
    deadline = time.monotonic() + SELFTEST_TIMEOUT
    try:
        summary = await _selftest_steps(window, runtime, simulator, deadline)
        if reporter.count:
            raise SelftestFailed(f"{reporter.count} unexpected error(s) in the console (see the log)")
    except (SelftestFailed, TimeoutError) as exc:
        reason = str(exc) or f"timed out after {SELFTEST_TIMEOUT:.0f} s"
        log.error("selftest FAILED: %s", reason)
        print(f"selftest FAILED: {reason}", file=sys.stderr, flush=True)
        quit_(1)
        return
    log.info("selftest OK: %s", summary)
    print(f"selftest OK: {summary}", flush=True)
    quit_(0)


def show_startup_error(text: str) -> None:
    """A message box for a windowed build, whose stderr nobody sees."""
    _app = QApplication.instance() or QApplication(sys.argv[:1])
    QMessageBox.critical(None, "PMS", text)  # before the event loop runs: nothing else to block


def already_running_text(exc: AlreadyRunning, lang: str | None) -> str:
    """The operator's message for a second copy, in the console's language (`lang`, else the last used, else ko)."""
    if lang not in i18n.LANGUAGES:
        saved = console_settings().value("language")
        lang = saved if saved in i18n.LANGUAGES else "ko"
    # From the catalog of `lang` directly: the console's current language is set only once the console runs.
    text = i18n.CATALOG[lang]["start.already_running"]
    return text.format(pid=exc.pid if exc.pid is not None else "?", folder=exc.folder)


def startup_config_error_text(exc: ConfigError, lang: str | None) -> str:
    """The operator's message for a bad config, every line in the console's language chosen as for a second copy
    (stderr and the log keep the English lines)."""
    if lang not in i18n.LANGUAGES:
        saved = console_settings().value("language")
        lang = saved if saved in i18n.LANGUAGES else "ko"
    return config_error_text(exc, lang)


def main(argv: list[str] | None = None) -> int:
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


if __name__ == "__main__":
    sys.exit(main())
