"""A new warning or fault alarm flashes the taskbar and sounds, once; the sound repeats until acknowledged; mute.

A PCS trip raises three alarms in one poll (the trip bit, the PCS's total fault, the interlock): one announcement.

Offscreen, over the simulator on real TCP: the alarm bits are set at the simulated devices and the PMS reads them
over Modbus. The window's own alert and sound functions still run (QApplication.alert / beep do nothing offscreen);
the test wraps them to count the calls.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from PyQt5.QtWidgets import QAction

from pms_core.bus import AlarmChanged
from pms_gui.app import console_settings
from pms_gui.main_window import MainWindow
from pms_gui.notify import AlarmNotifier
from tests.helpers.gui import gui_site
from tests.helpers.site import SimulatedSite
from tests.helpers.waiting import wait_for

pytestmark = [pytest.mark.gui, pytest.mark.tcp]

EMERGENCY_STOP = 1 << 15  # PCS trip_1 bit 15, a fault
PCS_WARNING = 1  # PCS alarm_1 bit 0, a warning


class Calls:
    """Counts the window's alerts and sounds, and still makes them."""

    def __init__(self, notifier: AlarmNotifier) -> None:
        self.alerts: list[AlarmChanged] = []
        self.sounds = 0
        alert, sound = notifier.alert, notifier.sound

        def counted_alert(event: AlarmChanged) -> None:
            self.alerts.append(event)
            alert(event)

        def counted_sound() -> None:
            self.sounds += 1
            sound()

        notifier.alert, notifier.sound = counted_alert, counted_sound


@asynccontextmanager
async def console(plant: SimulatedSite) -> AsyncIterator[tuple[MainWindow, Calls]]:
    await plant.all_online()
    window = MainWindow(plant.runtime, console_settings())
    window.show()
    try:
        yield window, Calls(window.notifier)
    finally:
        await window.shutdown()
        window.hide()
        window.deleteLater()


async def more_polls(plant: SimulatedSite, polls: int = 5) -> None:
    """Time for a repeat to show: `polls` more PCS polls, each shown in the console (the bridge's frames)."""
    pcs = plant.device("PCS")
    since = pcs.snapshot.timestamp
    await wait_for(lambda: pcs.snapshot.timestamp >= since + polls * pcs.config.poll_interval - 1e-6, 5, "polls")


def test_a_new_fault_at_the_simulator_flashes_and_sounds_exactly_once(tmp_path, run_qt):
    async def scenario() -> None:
        async with gui_site(tmp_path) as plant, console(plant) as (window, calls):
            pcs = plant.name("PCS")
            plant.sim.set_bits(pcs, "trip_1", EMERGENCY_STOP)
            await wait_for(lambda: calls.alerts, 5, "the alert")
            assert calls.sounds == 1
            [event] = calls.alerts
            assert event.severity == "fault"
            await wait_for(lambda: (pcs, "trip_1.15") in window.notifier.unacknowledged(), 5, "the trip announced")
            assert window.notifier.repeating  # until someone acknowledges it
            await more_polls(plant)
            assert len(calls.alerts) == 1 and calls.sounds == 1
            # cleared and raised again later: a new alarm, announced again
            plant.sim.set_bits(pcs, "trip_1", 0)
            await wait_for(lambda: (pcs, "trip_1.15") not in plant.runtime.alarms.active, 5, "cleared")
            await wait_for(lambda: not window.notifier.in_burst, 5, "the end of the first announcement's burst")
            plant.sim.set_bits(pcs, "trip_1", EMERGENCY_STOP)
            await wait_for(lambda: len(calls.alerts) == 2, 5, "the second alert")
            assert calls.sounds == 2

    run_qt(scenario)


def test_info_alarms_and_alarms_active_before_the_console_opened_are_not_announced(tmp_path, run_qt):
    async def scenario() -> None:
        async with gui_site(tmp_path) as plant:
            pcs = plant.name("PCS")
            plant.sim.set_bits(pcs, "trip_1", EMERGENCY_STOP)  # before the console
            await wait_for(lambda: (pcs, "trip_1.15") in plant.runtime.alarms.active, 5, "the trip raised")
            async with console(plant) as (window, calls):
                active = plant.runtime.alarms.active
                await wait_for(lambda: window.events.alarms.rowCount() == len(active), 5, "the trip listed")
                bus, now = plant.runtime.bus, plant.runtime.clock.now()
                bus.publish(AlarmChanged("PMS", "note", "note", "info", True, "an info-level alarm", now))
                raised = active[(pcs, "trip_1.15")].event
                bus.publish(raised)  # raised again while active: the same alarm
                await more_polls(plant)
                assert ("PMS", "note") in active
                await wait_for(lambda: window.events.alarms.rowCount() == len(active), 5, "the info alarm listed")
                assert calls.alerts == [] and calls.sounds == 0
                assert not window.notifier.repeating

    run_qt(scenario)


def test_mute_silences_the_sound_is_remembered_and_the_taskbar_still_flashes(tmp_path, run_qt):
    async def scenario() -> None:
        async with gui_site(tmp_path) as plant:
            async with console(plant) as (window, calls):
                mute = window.findChild(QAction, "action_mute_alarms")
                assert mute.isCheckable() and not mute.isChecked() and mute.text() == "알람 소리 끄기"
                mute.trigger()
                assert window.notifier.muted and console_settings().value("alarms/muted", type=bool)
                window.notifier.set_repeat(0.1)
                plant.sim.set_bits(plant.name("PCS"), "trip_1", EMERGENCY_STOP)
                await wait_for(lambda: calls.alerts, 5, "the alert")
                await more_polls(plant)  # reminders come due, silently
                assert calls.sounds == 0 and len(calls.alerts) == 1
            async with console(plant) as (window, calls):  # the next start remembers
                assert window.findChild(QAction, "action_mute_alarms").isChecked() and window.notifier.muted

    run_qt(scenario)


def test_the_sound_repeats_until_the_alarm_is_acknowledged_in_the_events_dock(tmp_path, run_qt):
    async def scenario() -> None:
        async with gui_site(tmp_path) as plant, console(plant) as (window, calls):
            window.notifier.set_repeat(0.1)
            pcs = plant.name("PCS")
            plant.sim.set_bits(pcs, "alarm_1", PCS_WARNING)
            await wait_for(lambda: calls.sounds >= 3, 5, "the first sound and two reminders")
            assert len(calls.alerts) == 1 and calls.alerts[0].severity == "warning"
            await wait_for(window.events.ack_all_button.isEnabled, 5, "an alarm to acknowledge")
            window.events.ack_all_button.click()
            assert plant.runtime.alarms.active[(pcs, "alarm_1.0")].acknowledged_by == "gui"
            assert not window.notifier.repeating
            sounds = calls.sounds
            await more_polls(plant)  # many reminder intervals
            assert calls.sounds == sounds

    run_qt(scenario)
