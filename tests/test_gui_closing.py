"""Closing the console always asks (it stops the PMS), the tray keeps the PMS running with the window hidden, the
program's own exits never ask; the File menu opens the log and config folders and makes the Startup shortcut.

Offscreen, over the simulator on real TCP, as tests/test_gui.py. Offscreen has no system tray: the tray tests say
there is one (`tray_available`), which is all a platform adds; the tray icon, its menu and the window are real.
Opening a file manager cannot be real in CI: QDesktopServices.openUrl is the one call replaced, to see the path.
"""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import pytest
from PyQt5.QtCore import QUrl
from PyQt5.QtGui import QDesktopServices
from PyQt5.QtWidgets import QAction, QApplication, QMessageBox, QPushButton

import main_gui_integrated
from pms_core.config import DEFAULT_CONFIG, load_config
from pms_core.logs import log_folder
from pms_core.paths import PROJECT_DIR
from pms_gui import boot, i18n, main_window, startup
from pms_gui.app import ErrorReporter
from pms_gui.main_window import MainWindow
from pms_gui.startup import SCRIPT, Launch, StartupError, StartupShortcut, startup_folder, this_program
from tests.helpers.configs import write_config
from tests.helpers.gui import console, gui_site
from tests.helpers.site import SimulatedSite
from tests.helpers.waiting import wait_for


async def polled_again(plant: SimulatedSite, kind: str, polls: int = 3) -> None:
    """The PMS still polls `kind`: `polls` newer snapshots arrive."""
    device = plant.device(kind)
    since = device.snapshot.timestamp
    interval = device.config.poll_interval
    await wait_for(lambda: device.snapshot.timestamp >= since + polls * interval - 1e-6, 5, f"{kind} polled")


# --- closing asks, in every mode --------------------------------------------------------------------
@pytest.mark.gui
@pytest.mark.tcp
def test_closing_in_basic_mode_asks_and_cancel_keeps_the_pms_running(tmp_path, run_qt, caplog):
    async def scenario() -> None:
        async with gui_site(tmp_path) as plant, console(plant) as window:
            closed = []
            window.closed.connect(lambda: closed.append(True))
            assert plant.runtime.operation.status().mode == "basic"
            assert window.tray is None  # offscreen: no tray, so no tray choice
            assert not window.close()
            box = window.close_dialog
            assert box is not None and box.isVisible()
            assert box.text() == i18n.tr("close.text")
            assert "30" in box.text() and "PCS" in box.text()
            assert box.findChild(QPushButton, "closeToTray") is None
            assert box.button(QMessageBox.Yes).text() == "PMS 종료"
            assert box.button(QMessageBox.No).text() == "취소"
            assert box.defaultButton() is box.button(QMessageBox.No)  # Enter changes nothing
            window.close()  # a second close while it asks: the same question
            assert window.close_dialog is box
            box.button(QMessageBox.No).click()
            assert window.isVisible() and not closed and window.close_dialog is None
            await polled_again(plant, "PCS")  # the PCS watchdog keeps being fed
            window.findChild(QAction, "action_quit").trigger()  # File > Quit asks as well
            window.close_dialog.button(QMessageBox.Yes).click()
            assert closed == [True] and not window.isVisible()
            assert "asking first" in caplog.text

    with caplog.at_level(logging.INFO, logger="pms_gui.main_window"):
        run_qt(scenario)


@pytest.mark.gui
@pytest.mark.tcp
def test_the_question_names_the_automatic_mode_when_it_runs(tmp_path, run_qt):
    async def scenario() -> None:
        async with gui_site(tmp_path, auto_mode={"command_interval": 30}) as plant, console(plant) as window:
            window.set_language("en")
            op = plant.runtime.operation
            assert op.set_mode("auto", source="gui").ok and op.start_auto(source="gui").ok
            window.close()
            text = window.close_dialog.text()
            assert text.startswith("The automatic mode is running")
            assert "no longer controlled or monitored" in text and "about 30 s" in text
            window.close_dialog.button(QMessageBox.No).click()
            assert window.isVisible()
            op.set_mode("basic", source="gui")

    run_qt(scenario)


# --- the tray ---------------------------------------------------------------------------------------
@pytest.mark.gui
@pytest.mark.tcp
def test_keep_running_in_the_tray_hides_the_window_and_the_pms_keeps_polling(tmp_path, run_qt, monkeypatch):
    monkeypatch.setattr(main_window, "tray_available", lambda: True)

    async def scenario() -> None:
        async with gui_site(tmp_path) as plant, console(plant) as window:
            closed = []
            window.closed.connect(lambda: closed.append(True))
            tray = window.tray
            assert tray is not None and tray.isVisible() and not tray.icon().isNull()
            assert [a.text() for a in tray.contextMenu().actions() if a.text()] == ["콘솔 열기", "종료..."]
            window.close()
            box = window.close_dialog
            tray_button = box.findChild(QPushButton, "closeToTray")
            assert tray_button is not None and tray_button.text() == "트레이에서 계속 실행"
            assert box.informativeText() == i18n.tr("close.tray_hint")
            tray_button.click()
            assert not window.isVisible() and not closed and tray.isVisible()
            await polled_again(plant, "PCS")
            frames = window.bridge.frames
            await wait_for(lambda: window.bridge.frames > frames, 3, "the console still updating")
            window.tray_show_action.trigger()
            assert window.isVisible()
            window.hide_to_tray()
            window.tray_quit_action.trigger()  # asks again, with the console shown
            assert window.isVisible() and window.close_dialog is not None
            window.close_dialog.button(QMessageBox.No).click()
            assert window.isVisible() and not closed
            window.tray_quit_action.trigger()
            window.close_dialog.button(QMessageBox.Yes).click()
            assert closed == [True] and not window.isVisible()
            await window.shutdown()
            assert not tray.isVisible()  # no dead icon left in the tray

    run_qt(scenario)


# --- the program's own exits do not ask ----------------------------------------------------------------
@pytest.mark.gui
@pytest.mark.tcp
def test_the_programs_own_exit_does_not_ask(tmp_path, run_qt, caplog, qapp):
    """--exit-after, the selftest and a stop signal all end the loop through the same close future: no question."""
    args = main_gui_integrated.parse_args(["--config", str(write_config(tmp_path)), "--exit-after", "0.5"])
    loaded = load_config(args.config)
    codes = []

    async def scenario() -> None:
        codes.append(await boot.run(qapp, loaded, args, ErrorReporter()))

    with caplog.at_level(logging.INFO):
        run_qt(scenario)
    assert codes == [0]
    assert "asking first" not in caplog.text
    shown = [w for w in QApplication.topLevelWidgets() if isinstance(w, (MainWindow, QMessageBox)) and w.isVisible()]
    assert shown == []


# --- File > Open log folder / Open config folder --------------------------------------------------------
@pytest.mark.gui
@pytest.mark.tcp
def test_the_file_menu_opens_the_log_and_the_config_folder(tmp_path, run_qt, monkeypatch, data_folder):
    opened: list[QUrl] = []
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: opened.append(url) or True)
    site = tmp_path / "대실마을 설정"
    site.mkdir()

    async def scenario() -> None:
        async with gui_site(site) as plant, console(plant) as window:
            window.findChild(QAction, "action_open_logs").trigger()
            window.findChild(QAction, "action_open_config").trigger()
            assert [Path(url.toLocalFile()) for url in opened] == [(data_folder / "logs").resolve(), site.resolve()]
            assert (data_folder / "logs").is_dir()  # made, so that the file manager has something to open
            assert window.findChild(QAction, "action_open_logs").text() == "로그 폴더 열기"
            # Windows only: elsewhere there is no Startup folder, and no item
            assert window.findChild(QAction, "action_start_with_windows").isVisible() == (sys.platform == "win32")

    run_qt(scenario)


def test_the_log_folder_follows_logging_file(tmp_path, data_folder):
    assert log_folder(None) == data_folder / "logs"
    assert log_folder(str(tmp_path / "로그" / "pms.log")) == tmp_path / "로그"


# --- Start with Windows ----------------------------------------------------------------------------------
class PowerShell:
    """Stands in for powershell.exe on Linux: records the call and, like WScript.Shell's Save(), writes the file."""

    def __init__(self, returncode: int = 0, stderr: str = "") -> None:
        self.calls: list[tuple[list[str], dict[str, str]]] = []
        self.returncode, self.stderr = returncode, stderr

    def __call__(self, args: list[str], *, env: dict[str, str], **kwargs) -> subprocess.CompletedProcess:
        self.calls.append((args, env))
        assert kwargs["timeout"] > 0 and kwargs["check"] is False
        if self.returncode == 0:
            Path(env["PMS_LNK"]).write_bytes(b"L\x00\x00\x00")  # a .lnk starts so
        return subprocess.CompletedProcess(args, self.returncode, "", self.stderr)


def test_the_startup_shortcut_appears_and_disappears_in_the_startup_folder(tmp_path):
    folder = tmp_path / "Roaming" / "Microsoft" / "Windows" / "Start Menu" / "Programs" / "Startup"
    exe = Path("C:/농장 PMS/PMS_GUI_Application.exe")
    launch = Launch(exe, ("--config", "D:/대실마을 설정/config.yml"), exe.parent, exe)
    shell = PowerShell()
    shortcut = StartupShortcut(folder, launch, run=shell)
    assert shortcut.supported and not shortcut.enabled()
    assert shortcut.enable() == folder / "PMS.lnk"
    assert shortcut.enabled() and (folder / "PMS.lnk").is_file()
    [(args, env)] = shell.calls
    assert Path(args[0]).name == "powershell.exe"
    assert args[1:] == ["-NoProfile", "-NonInteractive", "-ExecutionPolicy", "Bypass", "-Command", SCRIPT]
    assert "CreateShortcut($env:PMS_LNK)" in SCRIPT and "$s.Save()" in SCRIPT
    assert env["PMS_LNK"] == str(folder / "PMS.lnk")
    assert env["PMS_LNK_TARGET"] == str(exe)
    assert env["PMS_LNK_ARGS"] == '--config "D:/대실마을 설정/config.yml"'  # quoted as Windows parses it
    assert env["PMS_LNK_DIR"] == str(exe.parent)
    assert env["PMS_LNK_ICON"] == f"{exe},0"
    shortcut.disable()
    assert not shortcut.enabled() and not (folder / "PMS.lnk").exists()
    shortcut.disable()  # already gone: nothing to do


def test_a_failed_powershell_says_why_and_leaves_no_shortcut(tmp_path):
    shell = PowerShell(returncode=1, stderr="Exception calling CreateShortcut: access denied")
    shortcut = StartupShortcut(tmp_path / "Startup", Launch(Path("a.exe"), (), tmp_path, Path("a.exe")), run=shell)
    with pytest.raises(StartupError, match="access denied"):
        shortcut.enable()
    assert not shortcut.enabled()


def test_the_startup_folder_is_windows_only():
    appdata = r"C:\Users\농부\AppData\Roaming"
    assert startup_folder({"APPDATA": appdata}, "win32") == Path(appdata, "Microsoft", "Windows", "Start Menu",
                                                                   "Programs", "Startup")  # fmt: skip
    assert startup_folder({"APPDATA": appdata}, "linux") is None
    assert startup_folder({}, "win32") is None
    assert not StartupShortcut(None, this_program()).supported


def test_the_shortcut_starts_the_running_program(tmp_path, monkeypatch):
    source = this_program()  # from a checkout: the interpreter (pythonw where there is one) and the script
    assert source.arguments == (str(PROJECT_DIR / "main_gui_integrated.py"),)
    assert source.target.parent == Path(sys.executable).parent and source.working_dir == PROJECT_DIR
    site_config = tmp_path / "현장" / "config.yml"
    assert this_program(site_config).arguments[1:] == ("--config", str(site_config.resolve()))
    assert this_program(DEFAULT_CONFIG).arguments[1:] == ()  # the default one needs no flag
    exe = tmp_path / "PMS" / "PMS_GUI_Application.exe"
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "executable", str(exe))
    built = startup.this_program()
    assert (built.target, built.arguments, built.working_dir, built.icon) == (exe, (), exe.parent, exe)
