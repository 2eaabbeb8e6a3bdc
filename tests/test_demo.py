"""`--demo`: a plant in daylight whose PV produces at once, and an MQTT broker of its own when Mosquitto is installed
(else MQTT off, said so in the status bar). The console as a program (subprocess, real Mosquitto, a real client on
the printed port) and in-process through main_gui_integrated's own functions (real widgets, offscreen)."""

from __future__ import annotations

import asyncio
import os
import re
import socket
import subprocess
import sys
import threading

import psutil
import pytest
from PyQt5.QtWidgets import QApplication, QMessageBox

import main_gui_integrated
from pms_core.clock import REAL_CLOCK
from pms_core.config import load_config
from pms_gui import boot, i18n
from pms_gui import demo as demo_module
from pms_gui.app import ErrorReporter
from pms_gui.demo import DEMO_HOUR, Demo
from pms_gui.main_window import MainWindow
from tests.helpers.broker import Recorder, mosquitto_binary
from tests.helpers.configs import write_config
from tests.helpers.mqtt import B
from tests.helpers.paths import ROOT
from tests.helpers.waiting import wait_for, wait_until

COMMAND = re.compile(r"^\s*mosquitto_sub -h 127\.0\.0\.1 -p (\d+) -t 'pms/#' -v$")


def listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
    except OSError:
        return False
    return True


@pytest.mark.gui
@pytest.mark.tcp
@pytest.mark.broker
def test_the_demo_starts_a_broker_prints_its_command_and_the_console_publishes_pv_there(tmp_path):
    mosquitto_binary()  # the test's broker binary: the demo finds the same one
    config = write_config(tmp_path, poll_interval=0.5)  # its MQTT port: a free one where nothing listens
    env = {**os.environ, "PMS_DATA_DIR": str(tmp_path / "data"), "QT_QPA_PLATFORM": "offscreen"}
    proc = subprocess.Popen(
        [sys.executable, "main_gui_integrated.py", "--config", str(config), "--demo", "--exit-after", "60"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    lines: list[str] = []
    stderr: list[str] = []
    readers = [
        threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True),
        threading.Thread(target=lambda: stderr.extend(proc.stderr), daemon=True),
    ]
    for reader in readers:
        reader.start()
    rec = None
    try:
        wait_until(lambda: any(COMMAND.match(line) for line in list(lines)) or proc.poll() is not None, 30, "the command")
        found = [m for m in map(COMMAND.match, list(lines)) if m]
        assert found, f"no mosquitto_sub line in stdout {lines!r}; stderr {''.join(stderr)[-3000:]}"
        port = int(found[0][1])
        broker = [p for p in psutil.Process(proc.pid).children(recursive=True) if "mosquitto" in p.name()]
        assert len(broker) == 1 and port in {c.laddr.port for c in broker[0].net_connections("tcp")}
        # The command works: a client on that port sees the console's PMS online, its info, and PV produced.
        rec = Recorder(port, (f"{B}/#",))
        wait_until(lambda: any(s.get("status") == "online" for s in rec.payloads(f"{B}/status")), 10, "PMS online")
        wait_until(lambda: rec.payloads(f"{B}/status/info"), 5, "the PMS's info")
        assert rec.payloads(f"{B}/status/info")[-1]["variant"] == "normal"
        dcdc = f"{B}/DCDC/한자연_DCDC/data"
        wait_until(lambda: any(m["data"]["input_power"]["value"] > 0 for m in rec.payloads(dcdc)), 10, "PV > 0 on MQTT")
        log = (tmp_path / "data" / "logs" / "pms.log").read_text(encoding="utf-8")
        assert f"watch it with: mosquitto_sub -h 127.0.0.1 -p {port} -t 'pms/#' -v" in log
        proc.terminate()  # the operator closes the console: the broker goes with it
        assert proc.wait(20) == 0
        wait_until(lambda: not broker[0].is_running() or broker[0].status() == psutil.STATUS_ZOMBIE, 5, "broker gone")
        assert not listening(port)
        # The PMS said `offline` before its broker stopped.
        assert rec.payloads(f"{B}/status")[-1]["status"] == "offline"
    finally:
        if rec is not None:
            rec.close()
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        for reader in readers:
            reader.join(5)
        proc.stdout.close()
        proc.stderr.close()
    assert "Traceback" not in "".join(stderr), "".join(stderr)[-3000:]


def find_window() -> MainWindow | None:
    return next((w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow) and w.isVisible()), None)


@pytest.mark.gui
@pytest.mark.tcp
def test_without_mosquitto_the_demo_says_mqtt_is_off_and_the_dc_dc_produces_pv(tmp_path, run_qt, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))  # no mosquitto on PATH ...
    monkeypatch.setattr(demo_module, "MOSQUITTO_ELSEWHERE", ())  # ... nor in /usr/sbin
    assert demo_module.mosquitto_binary() is None
    config = write_config(tmp_path, poll_interval=0.5)
    args = main_gui_integrated.parse_args(["--config", str(config), "--demo"])

    async def scenario() -> None:
        app = QApplication.instance()
        run = asyncio.ensure_future(boot.run(app, load_config(config), args, ErrorReporter()))
        try:
            await wait_for(lambda: find_window() is not None or run.done(), 10, "the console window")
            window = find_window()
            assert window is not None, run
            assert window.runtime.mqtt is None and window.runtime.clock is REAL_CLOCK
            label = window.broker_label
            assert "MQTT: 사용 안 함 (데모)" in label.text() and "mosquitto" in label.toolTip()
            window.set_language("en")
            assert "MQTT: off (demo)" in label.text()
            window.set_language("ko")
            # PV visibly produced in the DC-DC dock within a few seconds.
            dcdc = window.device_panels["한자연_DCDC"]

            def pv_kw() -> float:
                text = dcdc.grid.values["dcdc.pv_in"].text()  # "520.0 V / 27.9 A / 14.50 kW"
                return float(text.rsplit("/", 1)[-1].split()[0]) if text.endswith(" kW") else 0.0

            took = await wait_for(lambda: pv_kw() > 0, 5, "PV power in the DC-DC dock")
            assert took < 5 and dcdc.grid.values["dcdc.state"].text() == i18n.tr("dcdc.mode.solar")
            # The operator closes the console and confirms: the demo stops (and run() returns 0).
            window.close()
            await wait_for(lambda: window.close_dialog is not None and window.close_dialog.isVisible(), 5, "asked")
            window.close_dialog.button(QMessageBox.Yes).click()
            assert await asyncio.wait_for(run, 10) == 0
        finally:
            if not run.done():
                run.cancel()
                await asyncio.gather(run, return_exceptions=True)

    run_qt(scenario)


@pytest.mark.tcp
async def test_the_demo_plant_is_at_eleven_oclock_and_the_pms_on_the_real_clock(tmp_path, monkeypatch):
    monkeypatch.setattr(demo_module, "mosquitto_binary", lambda: None)
    demo = Demo(load_config(write_config(tmp_path)))
    loaded, simulator = await demo.start()
    try:
        assert not demo.mqtt and demo.command is None
        assert simulator.plant.hour() == pytest.approx(DEMO_HOUR, abs=0.05)
        assert simulator.plant.dcdc.mode == "solar" and simulator.plant.pv_available_kw() > 0
        assert simulator.clock.speed == 1.0  # real speed: only the time of day is moved
        assert loaded.config.mqtt == demo.loaded.config.mqtt
    finally:
        await simulator.stop()
        await demo.stop()


def test_the_demo_points_mqtt_at_its_broker_and_keeps_the_sites_topics(tmp_path):
    (tmp_path / "ca.crt").write_text("the site's CA: the demo's loopback broker has no TLS", encoding="utf-8")
    loaded = load_config(write_config(tmp_path, mqtt={
        "broker": "10.0.0.5", "port": 8883, "username": "u", "password": "p", "base_topic": "farm", "location": "대실마을",
        "client_id": "pms-site", "tls": {"ca_file": "ca.crt"},
    }))  # fmt: skip
    mqtt = demo_module.with_broker(loaded, 41234).config.mqtt
    assert (mqtt.broker, mqtt.port, mqtt.username, mqtt.password, mqtt.tls) == ("127.0.0.1", 41234, "", "", None)
    assert (mqtt.base_topic, mqtt.location, mqtt.client_id) == ("farm", "대실마을", "pms-site")
    assert demo_module.subscribe_command(41234, "farm") == "mosquitto_sub -h 127.0.0.1 -p 41234 -t 'farm/#' -v"
