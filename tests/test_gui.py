"""The operator console over the simulator (real TCP on 127.0.0.1), offscreen, driven like an operator would.

How the console's qasync loop meets pytest: the tests are synchronous pytest-qt
tests; each runs its scenario with `run_qt`, which drives a fresh qasync
QEventLoop (the Qt loop *is* the asyncio loop, as in the product) until the
scenario is done, then applies the same rule as conftest's `no_leaked_tasks`
to that loop: no task may be left running. conftest's autouse fixture still
runs (on pytest-asyncio's own loop) and is not weakened for other tests.
No sleeps-and-hope: every wait is on a condition.
"""

from __future__ import annotations

import asyncio
import os
import struct
import subprocess
import sys
import time
from pathlib import Path
from typing import get_args

import pytest
from PyQt5.QtCore import Qt
from PyQt5.QtWidgets import QLabel, QMessageBox

from pms_core.automation import state_machine as sm
from pms_core.build_info import build_info
from pms_core.clock import Clock
from pms_core.commands import Source
from pms_gui import i18n
from pms_gui.app import ErrorReporter, console_settings
from pms_gui.main_window import MainWindow
from pms_gui.widgets import DASH
from tests.helpers.configs import today_at, write_config
from tests.helpers.gui import close_window, console, gui_site
from tests.helpers.paths import ROOT
from tests.helpers.site import SimulatedSite
from tests.helpers.waiting import wait_for

pytestmark = [pytest.mark.gui, pytest.mark.tcp]


def name_of(plant: SimulatedSite, kind: str) -> str:
    return plant.name(kind)


# --- values everywhere ----------------------------------------------------------------------------
def test_values_from_the_simulator_appear_in_every_dock(tmp_path, run_qt):
    async def scenario() -> None:
        async with gui_site(tmp_path) as plant, console(plant) as window:
            bms, pcs, dcdc = (window.device_panels[name_of(plant, k)] for k in ("BMS", "PCS", "DCDC"))
            await wait_for(lambda: bms.grid.values["bms.rack_voltage"].text() != DASH, 5, "BMS values")
            assert bms.grid.values["bms.rack_voltage"].text().endswith(" V")
            assert bms.gauge.soc == pytest.approx(50.0, abs=1)
            assert bms.gauge.thresholds == {"low": 5.0, "stop": 25.0, "high": 88.0}
            await wait_for(lambda: pcs.mode.text() != DASH, 5, "PCS mode")
            assert pcs.mode.text() == i18n.tr("pcs.mode.stop")
            assert pcs.grid.values["pcs.grid_v"].text() == "380.2 / 381.0 / 379.6 V"
            assert pcs.grid.values["pcs.freq"].text() == "60.0 Hz"
            await wait_for(lambda: dcdc.grid.values["dcdc.state"].text() != DASH, 5, "DC-DC state")
            assert dcdc.grid.values["dcdc.pv_in"].text().endswith(" kW")
            # trends: one sample a second, the SOC series filled
            await wait_for(lambda: window.trends.ring.count >= 2, 5, "trend samples")
            t, y = window.trends.ring.last(10)
            assert t[-1] > time.time() - 60 and y[0][-1] == pytest.approx(50.0, abs=1)
            # registers: the visible table shows raw and decoded values
            window.docks["dock_registers"].raise_()
            first = window.registers.tabs.tabText(0)
            model = window.registers.models[first]
            await wait_for(lambda: bool(model.raw), 5, "register table filled")
            row = next(i for i, r in enumerate(model.registers) if r.name == "battery_soc" or r.name == "grid_voltage_r"
                       or r.name == "input_voltage")  # fmt: skip
            assert model.text(row, 3) != "" and model.text(row, 4) != ""
            # auto panel and status bar
            assert window.auto.spins["soc_high_threshold"].value() == 88.0
            interval = window.auto.spins["command_interval"]  # offers only what the core accepts
            assert (interval.minimum(), interval.maximum()) == (0.5, 600.0)
            assert window.auto.sources["soc_high_threshold"].text() == i18n.tr("source.config.yml")
            for name in plant.runtime.devices:
                await wait_for(lambda n=name: window.device_labels[n].property("link_state") == "online", 5, "status")
            assert window.broker_label.text() == "MQTT: —"
            assert window.mode_label.text().startswith(i18n.tr("status.mode", mode=i18n.tr("mode.basic")))
            # coalescing: at most 10 screen updates a second
            frames0, t0 = window.bridge.frames, time.monotonic()
            await asyncio.sleep(1.0)
            assert (window.bridge.frames - frames0) <= 10 * (time.monotonic() - t0) + 1

    run_qt(scenario)


def test_the_pcs_shows_todays_energy_and_from_when_it_counts(tmp_path, run_qt):
    """A first start at 14:00 without history: today's energy counts from then, and says so."""

    async def scenario() -> None:
        two_pm = today_at(14)
        plant = gui_site(tmp_path, Clock(60, start=two_pm), poll_interval=6)  # a plant minute a second
        plant.sim.plant.pcs.energy.update(ac_chg=52_000.0, dc_chg=53_000.0)  # the PCS's lifetime counters
        async with plant, console(plant) as window:
            energy = window.device_panels[name_of(plant, "PCS")].grid.values["pcs.energy_ac"]
            since = i18n.tr("pcs.since", time="14:00")
            await wait_for(lambda: energy.text() == f"0.0 / 0.0 kWh ({since})", 5, "today's energy from 14:00")
            pcs = plant.device("PCS")
            await pcs.write_register(1, 300)  # 30.0 kW
            await pcs.write_register(22, 0x55)  # charge: 0.5 kWh a plant minute
            await wait_for(lambda: float(energy.text().split(" / ")[0]) >= 1.0, 10, "charged energy counted")

    run_qt(scenario)


# --- basic-mode controls ---------------------------------------------------------------------------
def test_pcs_charge_is_confirmed_then_written_and_shows_confirmed(tmp_path, run_qt, qtbot):
    async def scenario() -> None:
        async with gui_site(tmp_path) as plant, console(plant) as window:
            pcs = name_of(plant, "PCS")
            group = window.controls.groups[pcs]
            qtbot.mouseClick(group.buttons["operation_mode.charge"], Qt.LeftButton)
            dialog = window.controls.dialog
            assert dialog is not None and dialog.isVisible()
            assert "22" in dialog.text() and "0x0055" in dialog.text()
            assert not [w for w in plant.sim.plant.writes if w[1] == "PCS"], "nothing is written before confirming"
            dialog.button(QMessageBox.Yes).click()
            await wait_for(lambda: ("PCS", 22, 0x55) in [w[1:] for w in plant.sim.plant.writes], 5, "22=0x55 written")
            await wait_for(lambda: group.last is not None and group.last.status == "confirmed", 10, "confirmed")
            assert i18n.tr("result.confirmed") in group.result.text()
            await wait_for(lambda: any(i18n.tr("result.confirmed") in r[5] for r in window.events.rows()), 5, "logged")
            row = next(r for r in window.events.rows() if r[1] == i18n.tr("kind.command"))
            assert row[2] == i18n.tr("src.gui") and row[3] == pcs and "22=0x55" in row[4]

    run_qt(scenario)


def test_set_point_boxes_start_at_the_devices_values_and_then_keep_the_operators(tmp_path, run_qt):
    async def scenario() -> None:
        async with gui_site(tmp_path) as plant, console(plant) as window:
            pcs, dcdc = window.controls.groups[name_of(plant, "PCS")], window.controls.groups[name_of(plant, "DCDC")]
            sim = plant.sim.plant
            held = {pcs.spins["set_charge_power"]: sim.pcs.charge_kw, pcs.spins["set_discharge_power"]: sim.pcs.discharge_kw,
                    dcdc.spins["set_generation_limit"]: sim.dcdc.limit_kw}  # fmt: skip
            assert all(value > 0 for value in held.values())  # so a box left at 0 cannot pass
            await wait_for(lambda: all(spin.value() == value for spin, value in held.items()), 5, "the devices' values")
            pcs.spins["set_charge_power"].setValue(7.5)  # the operator types a new value
            sim.pcs.charge_kw = 5.0  # meanwhile something else changes the device's
            device = plant.runtime.devices[name_of(plant, "PCS")]
            await wait_for(lambda: device.snapshot.values["battery_charge_power"] == 5.0, 5, "the new value polled")
            frames = window.bridge.frames
            await wait_for(lambda: window.bridge.frames > frames + 1, 5, "shown")
            assert pcs.spins["set_charge_power"].value() == 7.5

    run_qt(scenario)


def test_a_refused_confirmation_writes_nothing(tmp_path, run_qt, qtbot):
    async def scenario() -> None:
        async with gui_site(tmp_path) as plant, console(plant) as window:
            group = window.controls.groups[name_of(plant, "DCDC")]
            qtbot.mouseClick(group.buttons["operation_mode.solar"], Qt.LeftButton)
            dialog = window.controls.dialog
            assert dialog is not None and "107" in dialog.text()
            dialog.button(QMessageBox.No).click()
            await asyncio.sleep(0.3)  # nothing may happen: give a write the time it would take
            assert plant.sim.plant.writes == []
            assert len(window.tasks) == 0

    run_qt(scenario)


def test_buttons_are_disabled_while_the_automatic_mode_is_on(tmp_path, run_qt):
    async def scenario() -> None:
        async with gui_site(tmp_path) as plant, console(plant) as window:
            buttons = [w for g in window.controls.groups.values() for w in g.inputs]
            assert buttons and all(b.isEnabled() for b in buttons)
            assert plant.runtime.operation.set_mode("auto", source="mqtt").ok  # as a remote command would
            await wait_for(lambda: not any(b.isEnabled() for b in buttons), 2, "controls disabled")
            assert all(b.toolTip() == i18n.tr("ctl.disabled_auto") for b in buttons)
            assert window.auto.mode_buttons["auto"].isChecked()
            window.auto.mode_buttons["basic"].click()  # the operator switches back in the panel
            assert plant.runtime.operation.mode == "basic"
            await wait_for(lambda: all(b.isEnabled() for b in buttons), 2, "controls enabled")

    run_qt(scenario)


# --- automatic mode ------------------------------------------------------------------------------
@pytest.mark.slow
def test_an_automatic_start_from_outside_shows_in_the_auto_panel_step_by_step(tmp_path, run_qt):
    """Auto started through the operation manager (as MQTT would): the panel follows every step of the sequence."""

    async def scenario() -> None:
        plant = gui_site(tmp_path, auto_mode={"command_interval": 1})
        async with plant, console(plant) as window:
            panel = window.auto
            seen: list[int] = []  # the active step, each time it changes
            states: set[str] = set()

            def watch() -> bool:
                active = [i for i, chip in enumerate(panel.chips) if chip.property("phase") == "active"]
                if active and (not seen or seen[-1] != active[0]):
                    seen.append(active[0])
                    states.add(panel.state_label.text())
                return plant.runtime.auto.machine.state == "NORMAL" and len(plant.sim.plant.writes) >= 4

            op = plant.runtime.operation
            assert op.set_mode("auto", source="gui").ok and op.start_auto(source="gui").ok
            await wait_for(watch, 20, "the start sequence done")
            assert seen == [0, 1, 2, 3]
            assert states == {i18n.tr("auto.state", state=i18n.tr("state.STARTING"))}
            await wait_for(lambda: panel.state_label.text() == i18n.tr("auto.state", state=i18n.tr("state.NORMAL")), 2, "x")
            assert not panel.start_button.isEnabled() and panel.stop_button.isEnabled()
            log = [r[4] for r in window.events.rows()]
            assert any(i18n.tr("state.STARTING") in text for text in log)
            assert [r[2] for r in window.events.rows() if r[1] == i18n.tr("kind.command")][:1] == [i18n.tr("src.auto")]
            op.set_mode("basic", source="gui")

    run_qt(scenario)


def test_a_countdown_shows_while_a_step_waits(tmp_path, run_qt):
    async def scenario() -> None:
        async with gui_site(tmp_path, auto_mode={"command_interval": 30}) as plant, console(plant) as window:
            op = plant.runtime.operation
            assert op.set_mode("auto", source="gui").ok and op.start_auto(source="gui").ok
            await wait_for(lambda: plant.runtime.auto.machine.waiting == "gap", 10, "waiting for the next step")
            await wait_for(lambda: "초" in window.auto.countdown.text(), 3, "countdown")
            assert window.auto.chips[1].property("phase") == "active"
            op.set_mode("basic", source="gui")

    run_qt(scenario)


def test_thresholds_are_validated_by_the_core_and_show_their_source(tmp_path, run_qt):
    async def scenario() -> None:
        async with gui_site(tmp_path) as plant, console(plant) as window:
            panel = window.auto
            panel.spins["soc_low_threshold"].setValue(30.0)  # above the charge-stop threshold (25): refused
            panel.apply()
            assert plant.runtime.settings.current.soc_low_threshold == 5.0
            assert "soc_low_threshold" in panel.settings_answer.text()
            panel.spins["soc_low_threshold"].setValue(10.0)
            panel.apply()
            assert plant.runtime.settings.current.soc_low_threshold == 10.0
            await wait_for(lambda: panel.sources["soc_low_threshold"].text() == i18n.tr("source.saved"), 2, "source")
            await wait_for(lambda: window.trends.threshold_lines["soc_low_threshold"].value() == 10.0, 2, "line")

    run_qt(scenario)


# --- links ----------------------------------------------------------------------------------------
def test_a_silent_then_stopped_server_turns_its_dock_stale_then_offline(tmp_path, run_qt):
    async def scenario() -> None:
        async with gui_site(tmp_path) as plant, console(plant) as window:
            name = name_of(plant, "DCDC")
            panel, label = window.device_panels[name], window.device_labels[name]
            await wait_for(lambda: panel.grid.values["dcdc.state"].text() != DASH, 5, "DC-DC values")
            server = plant.sim.server(name)
            server.stop_answering()
            await wait_for(lambda: label.property("link_state") == "stale", 5, "stale in the status bar")
            assert not panel.grids[0].fresh, "stale values are greyed"
            assert panel.grid.values["dcdc.state"].text() != DASH, "the last values stay, greyed"
            assert i18n.tr("link.stale") in panel.banner.text() and "초 전" in panel.banner.text()
            await server.stop()
            await wait_for(lambda: label.property("link_state") == "offline", 10, "offline in the status bar")
            assert i18n.tr("link.offline") in panel.banner.text() and not panel.grids[0].fresh
            await wait_for(
                lambda: any(r[1] == i18n.tr("kind.link") and r[3] == name for r in window.events.rows()), 3, "log"
            )
            assert window.device_labels[name_of(plant, "BMS")].property("link_state") == "online"

    run_qt(scenario)


# --- window: layout, language, closing, errors ----------------------------------------------------------
def test_the_layout_is_saved_and_restored_and_can_be_reset(tmp_path, run_qt):
    async def scenario() -> None:
        plant = gui_site(tmp_path)
        first = MainWindow(plant.runtime, console_settings())
        first.show()
        first.addDockWidget(Qt.LeftDockWidgetArea, first.docks["dock_pcs"])
        first.docks["dock_registers"].hide()
        first.close()  # asks (closing stops the PMS); confirmed, it saves the layout
        first.close_dialog.button(QMessageBox.Yes).click()
        await first.shutdown()
        second = MainWindow(plant.runtime, console_settings())
        second.show()
        assert second.dockWidgetArea(second.docks["dock_pcs"]) == Qt.LeftDockWidgetArea
        assert second.docks["dock_registers"].isHidden()
        second.reset_layout()
        assert second.dockWidgetArea(second.docks["dock_pcs"]) == Qt.RightDockWidgetArea
        assert not second.docks["dock_registers"].isHidden()
        await close_window(second)
        first.deleteLater()

    run_qt(scenario)


def test_every_state_sequence_and_source_the_core_names_has_a_translation():
    names = [f"seq.{n}" for n in sm.STATE_OF] + [f"state.{s}" for s in (sm.IDLE, sm.FAULT, *sm.RUNNING_STATES)]
    names += [f"src.{source}" for source in get_args(Source)]
    assert [n for n in names if not i18n.has(n)] == []


def test_the_language_switches_every_visible_string(tmp_path, run_qt):
    # one entry per key holding both languages, side by side
    assert all(set(texts) == set(i18n.LANGUAGES) and all(texts.values()) for texts in i18n.TEXTS.values())

    async def scenario() -> None:
        async with gui_site(tmp_path) as plant, console(plant) as window:
            pcs = window.device_panels[name_of(plant, "PCS")]
            await wait_for(lambda: pcs.mode.text() == "정지", 5, "PCS mode in Korean")
            assert window.docks["dock_bms"].windowTitle() == "배터리 (BMS)"
            window.set_language("en")
            assert window.docks["dock_bms"].windowTitle() == "Battery (BMS)"
            assert window.windowTitle() == f"PMS operator console {build_info().shown_version}"
            assert pcs.mode.text() == "stopped"
            assert window.auto.start_button.text() == "Start auto"
            assert "online" in window.device_labels[name_of(plant, "BMS")].text()
            group = window.controls.groups[name_of(plant, "PCS")]
            assert group.buttons["operation_mode.charge"].text() == "Charge (22)"
            assert console_settings().value("language") == "en"
            window.set_language("ko")
            assert window.docks["dock_bms"].windowTitle() == "배터리 (BMS)"
            assert group.buttons["operation_mode.charge"].text() == "충전 (22)"

    run_qt(scenario)


def test_closing_while_auto_runs_asks_first(tmp_path, run_qt):
    async def scenario() -> None:
        async with gui_site(tmp_path, auto_mode={"command_interval": 30}) as plant, console(plant) as window:
            closed = []
            window.closed.connect(lambda: closed.append(True))
            op = plant.runtime.operation
            assert op.set_mode("auto", source="gui").ok and op.start_auto(source="gui").ok
            assert not window.close()
            assert window.close_dialog is not None and window.close_dialog.isVisible()
            window.close_dialog.button(QMessageBox.No).click()
            assert window.isVisible() and not closed
            window.close()
            window.close_dialog.button(QMessageBox.Yes).click()
            assert closed and not window.isVisible()
            op.set_mode("basic", source="gui")

    run_qt(scenario)


def test_an_unexpected_error_is_shown_and_the_console_keeps_running(tmp_path, run_qt, caplog):
    async def scenario() -> None:
        async with gui_site(tmp_path) as plant, console(plant) as window:
            reporter = ErrorReporter()
            reporter.install(asyncio.get_running_loop())
            reporter.show = window.show_error
            try:

                async def broken() -> None:
                    raise RuntimeError("a bug in a slot")

                window.tasks.spawn(broken(), "broken")
                await wait_for(lambda: reporter.count == 1, 2, "reported")
                assert window.error_dialog is not None and window.error_dialog.isVisible()
                assert "a bug in a slot" in window.error_dialog.text()
                assert "a bug in a slot" in caplog.text
                frames = window.bridge.frames
                await wait_for(lambda: window.bridge.frames > frames + 2, 3, "still updating")
            finally:
                reporter.uninstall()

    run_qt(scenario)


# --- the program ------------------------------------------------------------------------------------
def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


@pytest.mark.slow
def test_screenshot_saves_the_whole_window_and_exits_cleanly(tmp_path):
    config = write_config(tmp_path, poll_interval=0.5)
    out = tmp_path / "shot.png"
    env = {"PMS_DATA_DIR": str(tmp_path / "data"), "QT_QPA_PLATFORM": "offscreen", "PATH": "/usr/bin:/bin"}
    args = ["main_gui_integrated.py", "--config", str(config), "--demo", "--screenshot", str(out), "--exit-after", "3"]
    proc = subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    width, height = png_size(out)
    assert (width, height) == (1880, 1000) and out.stat().st_size > 50_000
    stopped = [line for line in proc.stderr.splitlines() if "console stopped in" in line]
    assert stopped and float(stopped[0].split("stopped in ")[1].split()[0]) < 2.0, proc.stderr[-3000:]
    assert "Task was destroyed but it is pending" not in proc.stderr and "Traceback" not in proc.stderr, proc.stderr


def test_a_device_alarm_shows_with_its_severity_in_the_alarm_list(tmp_path, run_qt):
    async def scenario() -> None:
        async with gui_site(tmp_path) as plant, console(plant) as window:
            plant.sim.set_bits(name_of(plant, "PCS"), "trip_1", 1 << 15)  # Emergency Stop, a fault
            table = window.events.alarms

            def shown() -> bool:
                return any(table.item(r, 3) and "Emergency Stop" in table.item(r, 3).text() for r in range(table.rowCount()))

            await wait_for(shown, 5, "the trip in the active alarms")
            assert table.item(0, 1).text() == i18n.tr("sev.fault")

    run_qt(scenario)


def test_a_fire_shows_as_an_interlock_alarm_and_its_stop_in_the_event_log(tmp_path, run_qt):
    async def scenario() -> None:
        async with gui_site(tmp_path) as plant, console(plant) as window:
            pcs, bms = name_of(plant, "PCS"), name_of(plant, "BMS")
            assert (await plant.runtime.commands.execute(pcs, "operation_mode", {"mode": "charge"}, source="gui")).ok
            await wait_for(lambda: plant.sim.plant.pcs.mode == "charge", 5, "charging")
            plant.sim.set_bits(bms, "fire_alarm", 1 << 15)
            table = window.events.alarms

            def alarm_rows() -> list[str]:
                return [table.item(r, 3).text() for r in range(table.rowCount()) if table.item(r, 3)]

            await wait_for(lambda: any("BMS 화재 경보" in text for text in alarm_rows()), 5, "the interlock alarm")
            await wait_for(lambda: any(r[2] == i18n.tr("src.interlock") and r[3] == pcs for r in window.events.rows()), 5,
                           "the interlock's stop in the event log")  # fmt: skip
            panel = window.device_panels[bms]
            await wait_for(lambda: "Fire Alarm" in panel.alarms.values["bms.alarms"].text(), 5, "the BMS dock")
            if path := os.environ.get("PMS_SCREENSHOT"):  # looked at by a person: PMS_SCREENSHOT=/tmp/fire.png
                window.docks["dock_events"].raise_()
                await asyncio.sleep(0.5)
                window.grab().save(path)

    run_qt(scenario)


def test_the_bms_contactor_shows_closed_while_charging_and_discharging(tmp_path, run_qt):
    """The BMS sets bit 3 (Idle - RELAY ON) only at rest: while charging (bit 1) or discharging (bit 2) the relay
    is on as well, and the dock must say so."""

    async def scenario() -> None:
        async with gui_site(tmp_path) as plant, console(plant) as window:
            bms = window.device_panels[name_of(plant, "BMS")]
            label = bms.grid.values["bms.contactor"]
            for mode, shown in ((0b0011, "contactor.closed"), (0b0101, "contactor.closed"), (0b0001, "contactor.open"),
                                (0b1001, "contactor.closed")):  # fmt: skip
                plant.sim.set_bits(name_of(plant, "BMS"), "battery_system_operation_mode", mode)
                await wait_for(lambda s=shown: label.text() == i18n.tr(s), 5, f"mode {mode:#06b} shown as {shown}")

    run_qt(scenario)


def test_the_dcdc_buttons_leave_out_the_modes_the_datasheet_reserves(tmp_path, run_qt):
    async def scenario() -> None:
        async with gui_site(tmp_path) as plant, console(plant) as window:
            group = window.controls.groups[name_of(plant, "DCDC")]
            modes = sorted(k.split(".", 1)[1] for k in group.buttons if k.startswith("operation_mode."))
            assert modes == ["reset", "solar", "standby", "stop"]  # not ready / charge / regen / start (102-105)

    run_qt(scenario)


def test_registers_a_device_lacks_say_so_and_signed_powers_say_which_way_is_charging(tmp_path, run_qt):
    async def scenario() -> None:
        async with gui_site(tmp_path) as plant, console(plant) as window:
            pcs = name_of(plant, "PCS")
            plant.sim.devices[pcs].leave_out("input", range(50, 61))  # a PCS without its option board
            await wait_for(lambda: bool(plant.device("PCS").unsupported), 5, "the option block refused")
            window.docks["dock_registers"].raise_()
            window.registers.tabs.setCurrentIndex([window.registers.tabs.tabText(i) for i in range(3)].index(pcs))
            model = window.registers.models[pcs]
            row = next(i for i, r in enumerate(model.registers) if r.name == "load_voltage_r")
            await wait_for(lambda: model.text(row, 4) == "이 장비에서 지원하지 않음", 5, "shown as not supported")
            grid_v = next(i for i, r in enumerate(model.registers) if r.name == "grid_voltage_r")
            assert model.text(grid_v, 4) not in ("", "이 장비에서 지원하지 않음")
            shown = {label.text() for label in window.device_panels[pcs].findChildren(QLabel)}
            assert {"배터리 전력 (+ = 충전)", "배터리 전류 (+ = 충전)"} <= shown

    run_qt(scenario)
