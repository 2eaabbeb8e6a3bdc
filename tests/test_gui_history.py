"""The console and the history: trends backfilled at start (restarts as gaps), alarms acknowledged from the console
and journalled as "gui", File > Export CSV in a worker thread with its progress bar. Offscreen, simulator over TCP."""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest
from PyQt5.QtCore import Qt

from pms_core.clock import Clock
from pms_gui import i18n
from tests.helpers.gui import console, gui_site
from tests.helpers.site import SimulatedSite
from tests.helpers.waiting import wait_for

pytestmark = [pytest.mark.gui, pytest.mark.tcp]


def test_trends_are_backfilled_from_history_with_the_restart_as_a_gap(tmp_path, run_qt):
    async def scenario() -> None:
        first = gui_site(tmp_path, Clock(10), poll_interval=1.0)  # a restart of a few plant seconds
        async with first:
            await first.all_online()
            soc = first.device("BMS")
            start = soc.snapshot.timestamp
            await wait_for(lambda: soc.snapshot.timestamp > start + 2.0, 5, "two seconds of polls")
            stopped_at = first.runtime.clock.now()
        loaded = first.runtime.loaded
        async with SimulatedSite(loaded, first.clock) as plant, console(plant) as window:
            opened = plant.runtime.clock.now()
            ring = window.trends.ring
            await wait_for(lambda: ring.count and ring.last(ring.count)[0][0] < stopped_at, 5, "the backfill")
            t, y = ring.last(ring.count)
            before = t < stopped_at
            assert np.count_nonzero(before & ~np.isnan(y[0])) >= 2  # SOC of the first run, from disk
            assert abs(np.nanmean(y[0][before]) - 50) < 1
            between = (t > stopped_at) & (t < opened)
            assert np.isnan(y[0][between]).any() or not between.any()  # the restart: no line across it
            assert np.all(np.diff(t) > 0)

    run_qt(scenario)


def test_alarm_acknowledged_from_the_console_is_journalled_as_gui(tmp_path, run_qt, qtbot):
    async def scenario() -> None:
        async with gui_site(tmp_path) as plant, console(plant) as window:
            pcs = plant.name("PCS")
            table = window.events.alarms
            assert not window.events.ack_button.isEnabled()
            plant.sim.set_bits(pcs, "trip_1", 1)

            await wait_for(lambda: (pcs, "trip_1.0") in window.events._row_keys, 5, "the trip listed")
            row = window.events._row_keys.index((pcs, "trip_1.0"))
            assert table.item(row, 4).text() == i18n.tr("ev.unacked")
            assert window.events.ack_button.isEnabled()
            table.selectRow(row)
            qtbot.mouseClick(window.events.ack_button, Qt.LeftButton)
            assert plant.runtime.alarms.active[(pcs, "trip_1.0")].acknowledged_by == "gui"
            row = window.events._row_keys.index((pcs, "trip_1.0"))
            assert table.item(row, 4).text() == i18n.tr("src.gui")
            await plant.runtime.history.flush()
            with sqlite3.connect(plant.runtime.history.path) as db:
                by = db.execute("SELECT acknowledged_by FROM alarms WHERE alarm='trip_1.0'").fetchall()
            assert by == [("gui",)]

    run_qt(scenario)


def test_file_export_csv_runs_off_the_gui_thread_with_progress(tmp_path, run_qt, qtbot):
    async def scenario() -> None:
        async with gui_site(tmp_path) as plant:
            await plant.all_online()
            bms = plant.device("BMS")
            first = bms.snapshot.timestamp
            await wait_for(lambda: bms.snapshot.timestamp > first + 1.0, 5, "a second of polls")
            async with console(plant) as window:
                action = next(
                    a for a in window.menuBar().actions()[0].menu().actions() if a.objectName() == "action_export_csv"
                )
                action.trigger()
                dialog = window.export_dialog
                assert dialog is not None and dialog.isVisible()
                await wait_for(lambda: dialog.series.count() > 10, 5, "the series list from the history")
                for i in range(dialog.series.count()):  # only SOC
                    entry = dialog.series.item(i)
                    entry.setCheckState(Qt.Checked if entry.text() == "battery_soc" else Qt.Unchecked)
                out = tmp_path / "console.csv"
                dialog.path.setText(str(out))
                done: list[tuple[int, str]] = []
                dialog.finished_export.connect(lambda rows, message: done.append((rows, message)))
                qtbot.mouseClick(dialog.start_button, Qt.LeftButton)
                await wait_for(lambda: bool(done), 10, "the export")
                rows, message = done[0]
                assert rows >= 3 and str(out) in message and dialog.bar.value() == 1000
                lines = out.read_bytes().decode("utf-8-sig").splitlines()
                assert lines[0] == "timestamp,device,key,value,unit" and len(lines) == rows + 1
                assert all(",battery_soc," in line and line.endswith(",%") for line in lines[1:])
                # the alarm journal, same dialog
                dialog.what.setCurrentIndex(1)
                assert not dialog.series.isEnabled()
                done.clear()
                qtbot.mouseClick(dialog.start_button, Qt.LeftButton)
                await wait_for(lambda: bool(done), 10, "the alarm export")
                assert out.read_bytes().decode("utf-8-sig").startswith("raised_at,device,alarm,code,severity,message")
                dialog.close()

    run_qt(scenario)
