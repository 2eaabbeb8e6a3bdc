"""One version everywhere: --version of both programs, the log's first line, B/status/info on a real broker, the
console's title and its About box (real widgets, offscreen)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from datetime import datetime
from importlib import metadata
from pathlib import Path

import pytest
from PyQt5.QtCore import Qt
from PyQt5.QtWidgets import QAction

from pms_core.build_info import BuildInfo, build_info, project_version
from pms_core.clock import Clock
from pms_core.config import load_config
from pms_gui import about as about_module
from pms_gui import i18n
from pms_gui import main_window as main_window_module
from pms_gui.app import console_settings
from pms_gui.main_window import MainWindow
from tests.helpers.broker import Recorder
from tests.helpers.configs import write_config
from tests.helpers.mqtt import B
from tests.helpers.paths import ROOT
from tests.helpers.site import SimulatedSite
from tests.helpers.waiting import wait_for, wait_until

PYPROJECT_VERSION = re.search(r'^version = "(.+)"$', (ROOT / "pyproject.toml").read_text(encoding="utf-8"), re.M)[1]
BANNER = f"PMS {PYPROJECT_VERSION}+source (normal build)"


# --- the version itself -----------------------------------------------------------------------------
def test_a_source_checkout_shows_pyprojects_version_marked_source_and_a_build_its_own():
    assert project_version() == PYPROJECT_VERSION
    assert build_info().banner == BANNER
    assert BuildInfo("dcdc_disabled", "1.2.3").banner == "PMS 1.2.3 (dcdc_disabled build)"
    assert BuildInfo("normal", "1.2.3").shown_version == "1.2.3"


@pytest.mark.parametrize("program", ["main.py", "main_gui_integrated.py"])
def test_version_prints_the_banner_and_exits_0_without_a_config_a_log_or_a_window(tmp_path, program):
    # No display and no offscreen platform: a QApplication could not even start, so none may be made.
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    env["PMS_DATA_DIR"] = str(tmp_path / "data")
    proc = subprocess.run(
        [sys.executable, program, "--version", "--config", str(tmp_path / "no such config.yml")],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, BANNER + "\n", "")
    assert not (tmp_path / "data").exists()  # no log, no settings, no lock


def first_log_line(data: Path) -> str:
    return (data / "logs" / "pms.log").read_text(encoding="utf-8").splitlines()[0]


@pytest.mark.tcp
def test_the_headless_runners_log_starts_with_the_version(tmp_path):
    config = write_config(tmp_path, poll_interval=0.5)
    env = {**os.environ, "PMS_DATA_DIR": str(tmp_path / "data")}
    proc = subprocess.Popen([sys.executable, "main.py", "--config", str(config), "--simulate"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    log = tmp_path / "data" / "logs" / "pms.log"
    try:
        # Online is logged after the stop-signal handler is in place: SIGTERM is then a clean stop.
        wait_until(lambda: log.exists() and log.read_text(encoding="utf-8").count("is online") >= 3, 20, "main.py up")
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0
    line = first_log_line(tmp_path / "data")
    assert f"INFO pms: {BANNER} starting with {config}" in line and "on the simulator" in line


@pytest.mark.gui
@pytest.mark.tcp
def test_the_consoles_log_starts_with_the_version(tmp_path):
    config = write_config(tmp_path, poll_interval=0.5)
    env = {**os.environ, "PMS_DATA_DIR": str(tmp_path / "data"), "QT_QPA_PLATFORM": "offscreen"}
    proc = subprocess.run(
        [sys.executable, "main_gui_integrated.py", "--config", str(config), "--exit-after", "0.5"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f"INFO pms: {BANNER} console starting with {config}" in first_log_line(tmp_path / "data")


# --- B/status/info on a real broker -----------------------------------------------------------------
@pytest.mark.tcp
@pytest.mark.broker
async def test_info_is_retained_at_every_connection_flat_and_location_scoped(tmp_path, broker):
    loaded = load_config(write_config(tmp_path, mqtt={"port": broker.port, "client_id": "pms-info", "location": "대실마을"}))
    topics = (f"{B}/status/info", f"{B}/status/대실마을/info")
    async with SimulatedSite(loaded, Clock(), mqtt=True) as plant:
        gateway = plant.runtime.mqtt
        await wait_for(lambda: gateway.connected, 10, "connected")
        rec = Recorder(broker.port, topics)  # subscribes after the PMS published: only a retained copy reaches it
        try:
            await wait_for(lambda: all(rec.payloads(t) for t in topics), 5, "the info on both topics")
            first = rec.payloads(topics[0])[-1]
            assert rec.payloads(topics[1])[-1] == first
            assert set(first) == {"version", "variant", "started", "host", "client_id", "timestamp"}
            assert (first["version"], first["variant"], first["client_id"]) == (build_info().shown_version, "normal",
                                                                               "pms-info")  # fmt: skip
            assert first["host"] == os.uname().nodename
            started, stamped = datetime.fromisoformat(first["started"]), datetime.fromisoformat(first["timestamp"])
            assert started.tzinfo is not None and started <= stamped
            with rec._lock:
                assert all(retained for topic, _, retained in rec.received if topic in topics)
        finally:
            rec.close()

        # The broker restarts empty (no persistence): the info is sent again, stamped with the new connection.
        broker.stop()
        await wait_for(lambda: gateway.state == "disconnected", 10, "the broker loss noticed")
        broker.start()
        await wait_for(lambda: gateway.connected, 15, "reconnected")
        rec = Recorder(broker.port, topics)
        try:
            await wait_for(lambda: all(rec.payloads(t) for t in topics), 5, "the info again after the reconnect")
            again = rec.payloads(topics[0])[-1]
            assert again["started"] == first["started"] and again["timestamp"] > first["timestamp"]
        finally:
            rec.close()


# --- the console: title, Help menu, About box ------------------------------------------------------
def versions_in_the_box() -> dict[str, str]:
    return {name: version for name, version, _ in about_module.library_rows()}


@pytest.mark.gui
@pytest.mark.tcp
def test_the_title_shows_the_version_and_the_variant_in_both_languages(tmp_path, run_qt, monkeypatch):
    async def scenario() -> None:
        async with SimulatedSite(load_config(write_config(tmp_path)), Clock()) as plant:
            window = MainWindow(plant.runtime, console_settings())
            assert window.windowTitle() == f"PMS 운영 콘솔 {build_info().shown_version}"
            await window.shutdown()
            window.deleteLater()
            monkeypatch.setattr(main_window_module, "build_info", lambda: BuildInfo("dcdc_disabled", "1.2.3"))
            window = MainWindow(plant.runtime, console_settings())
            assert window.windowTitle() == "PMS 운영 콘솔 1.2.3 (DC-DC 없음)"
            window.set_language("en")
            assert window.windowTitle() == "PMS operator console 1.2.3 (no DC-DC)"
            window.set_language("ko")
            await window.shutdown()
            window.deleteLater()

    run_qt(scenario)


@pytest.mark.gui
@pytest.mark.tcp
def test_help_about_shows_version_folders_and_every_bundled_licence_selectable(tmp_path, run_qt, data_folder):
    async def scenario() -> None:
        loaded = load_config(write_config(tmp_path))
        async with SimulatedSite(loaded, Clock()) as plant:
            window = MainWindow(plant.runtime, console_settings())
            window.show()
            try:
                help_menu = window.menuBar().actions()[-1]
                assert help_menu.text() == "도움말(&H)"
                action = window.findChild(QAction, "action_about")
                assert action in help_menu.menu().actions() and action.text() == "정보"
                action.trigger()
                dialog = window.about_dialog
                await wait_for(lambda: dialog is not None and dialog.isVisible(), 5, "the About box")
                assert not dialog.isModal() and dialog.windowTitle() == "PMS 정보"
                text = dialog.plain_text()
                for expected in (build_info().shown_version, "일반 (normal)", str(loaded.path.resolve()),
                                 str(data_folder.resolve()), str((data_folder / "logs").resolve()),
                                 "포함된 라이브러리와 라이선스", "GPL v3 (Riverbank Computing)", "EPL-2.0 / EDL-1.0",
                                 "PSF License"):  # fmt: skip
                    assert expected in text, expected
                assert dialog.text.textInteractionFlags() & Qt.TextSelectableByMouse
                assert dialog.text.isReadOnly()
                # The versions are the installed ones, read at run time: pyproject.toml's dependencies and the GUI's.
                shown = versions_in_the_box()
                for name, dist in (("pymodbus", "pymodbus"), ("paho-mqtt", "paho-mqtt"), ("PyYAML", "PyYAML"),
                                   ("pydantic", "pydantic"), ("numpy", "numpy"), ("PyQt5", "PyQt5"),
                                   ("qasync", "qasync"), ("pyqtgraph", "pyqtgraph")):  # fmt: skip
                    assert shown[name] == metadata.version(dist), name
                    assert f"{name}\n{shown[name]}\n" in text
                assert shown["Python"] == ".".join(map(str, sys.version_info[:3]))
                dialog.close()
                # In English, built anew.
                window.set_language("en")
                assert window.menuBar().actions()[-1].text() == "&Help"
                english = window.open_about()
                assert english is not dialog and english.windowTitle() == "About PMS"
                assert "Bundled libraries and their licences" in english.plain_text()
                assert "normal (normal)" in english.plain_text()
                english.close()
                window.set_language("ko")
            finally:
                await window.shutdown()
                window.hide()
                window.deleteLater()

    run_qt(scenario)


def test_the_about_box_names_a_library_without_metadata_by_its_modules_version(monkeypatch):
    def missing(name: str) -> str:
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(about_module.metadata, "version", missing)  # as in a bundle without the dist-info folders
    shown = versions_in_the_box()
    import pymodbus  # noqa: PLC0415
    import yaml  # noqa: PLC0415

    assert shown["pymodbus"] == pymodbus.__version__ and shown["PyYAML"] == yaml.__version__
    assert shown["annotated-types"] == about_module.UNKNOWN  # no version attribute: said so, not invented
    assert i18n.has("about.libraries")
