"""A bug in a worker that must live (a device's polling, the history writer, the MQTT gateway, the automatic mode) is
logged once with its traceback, raised as an alarm, and the worker goes on. The bug is the one thing here that
cannot be real: it is patched in."""

from __future__ import annotations

import logging

import pytest

from pms_core.automation import state_machine as sm
from pms_core.automation.auto_mode import RETRY_AFTER
from pms_core.bus import AlarmChanged, Snapshot
from pms_core.clock import Clock
from pms_core.commands import CommandService
from pms_core.config import load_config
from pms_core.devices.pcs import PcsDevice
from pms_core.history import History
from pms_core.mqtt import messages
from tests.helpers.broker import Recorder
from tests.helpers.configs import auto_site, write_config
from tests.helpers.site import SimulatedSite
from tests.helpers.waiting import wait_for

pytestmark = pytest.mark.tcp

START_SEQUENCE = [("PCS", 21), ("PCS", 24), ("DCDC", 100), ("DCDC", 107)]


def broken_for(times: int, original, when=lambda *args, **kwargs: True):
    """`original`, raising a RuntimeError on its first `times` calls for which `when` holds."""
    calls = {"n": 0}

    def wrapper(*args, **kwargs):
        if calls["n"] < times and when(*args, **kwargs):
            calls["n"] += 1
            raise RuntimeError(f"injected bug #{calls['n']}")
        return original(*args, **kwargs)

    return wrapper


def worker_alarms(site: SimulatedSite) -> list[AlarmChanged]:
    alarms: list[AlarmChanged] = []
    site.runtime.bus.subscribe(AlarmChanged, lambda a: alarms.append(a) if a.code == "worker_failed" else None)
    return alarms


async def test_a_bug_in_decoding_does_not_end_the_polling_of_a_device(site, monkeypatch, caplog):
    pcs = site.device("PCS")
    alarms: list[AlarmChanged] = []
    site.runtime.bus.subscribe(AlarmChanged, lambda a: alarms.append(a) if a.code == "worker_failed" else None)
    snapshots: list[Snapshot] = []
    site.runtime.bus.subscribe(Snapshot, lambda s: snapshots.append(s) if s.device_name == pcs.name else None)
    monkeypatch.setattr(PcsDevice, "derive", broken_for(3, PcsDevice.derive))
    with caplog.at_level(logging.ERROR, logger="pms_core.supervision"):
        await wait_for(lambda: len(snapshots) >= 3, 10, "the PCS polled again after the bug")
    assert [a.active for a in alarms] == [True, False] and "injected bug" in alarms[0].message
    assert sum(1 for r in caplog.records if r.exc_info) == 1  # the traceback once, then one line each


@pytest.mark.slow
async def test_a_bug_in_the_history_writer_does_not_end_it(site, monkeypatch):
    history = site.runtime.history
    assert history is not None
    alarms: list[AlarmChanged] = []
    site.runtime.bus.subscribe(AlarmChanged, lambda a: alarms.append(a) if a.code == "worker_failed" else None)
    monkeypatch.setattr(History, "_snapshot", broken_for(1, History._snapshot))
    before = history.batches
    await wait_for(lambda: history.batches >= before + 2, 10, "batches written after the bug")
    await wait_for(lambda: [a.active for a in alarms] == [True, False], 5, "the alarm raised, then cleared")
    assert history.status == "ok"


@pytest.mark.broker
async def test_a_bug_in_the_mqtt_gateway_is_an_alarm_on_mqtt_and_data_flows_again(tmp_path, broker, monkeypatch):
    loaded = load_config(write_config(tmp_path, mqtt={"port": broker.port, "client_id": "pms-supervised"}))
    rec = Recorder(broker.port, ("pms/#",))
    async with SimulatedSite(loaded, Clock(), mqtt=True) as site:
        await site.all_online()
        await wait_for(lambda: site.runtime.mqtt.connected, 10, "connected")
        alarms = worker_alarms(site)
        topic = f"pms/PCS/{site.name('PCS')}/data"
        monkeypatch.setattr(messages, "data_message", broken_for(3, messages.data_message))
        await wait_for(lambda: [a.active for a in alarms] == [True, False], 10, "the alarm raised, then cleared")
        before = len(rec.raw(topic))
        await wait_for(lambda: len(rec.raw(topic)) >= before + 2, 5, "data published again")
        raised = [p for p in rec.payloads("pms/alarm/PMS") if p["alarm"] == "worker_failed_MQTT_gateway"]
        assert [p["active"] for p in raised] == [True, False] and "(data) failed" in raised[0]["message"]
    rec.close()


async def test_a_bug_in_the_automatic_mode_is_retried_and_the_start_sequence_completes(tmp_path, monkeypatch):
    """The wake-up at the end of the first timed gap (DC-DC reset 100 -> solar 107) fails twice. The devices are
    polled every 30 s only, so no snapshot wakes the machine in time: the runner retries after RETRY_AFTER, and the
    step comes late by that much. (The steps before are confirmed by a poll and need no timer.)"""
    site = auto_site(tmp_path, 50, 30, command_interval=5)
    async with site:
        await site.all_online()
        alarms = worker_alarms(site)
        monkeypatch.setattr(sm, "step", broken_for(2, sm.step, when=lambda m, event, *_: isinstance(event, sm.Tick)))
        op = site.runtime.operation
        assert op.set_mode("auto", source="gui").ok and op.start_auto(source="gui").ok
        await wait_for(lambda: site.runtime.auto.machine.state == "NORMAL", 10, "the start sequence done")
        writes = site.sim.plant.writes
    assert [(t, a) for _, t, a, _ in writes] == START_SEQUENCE
    gap = writes[3][0] - writes[2][0]
    assert 5 + 2 * RETRY_AFTER - 0.5 <= gap <= 5 + 2 * RETRY_AFTER + 5, gap  # not at the next poll, 30 s on
    assert [a.active for a in alarms] == [True, False] and alarms[0].alarm == "worker_failed_automatic_mode"


async def test_a_bug_in_a_step_is_a_failed_step_retried_once(tmp_path, monkeypatch):
    site = auto_site(tmp_path, 50, 1, command_interval=5)
    async with site:
        await site.all_online()
        alarms = worker_alarms(site)
        monkeypatch.setattr(CommandService, "confirmation", broken_for(1, CommandService.confirmation))
        op = site.runtime.operation
        assert op.set_mode("auto", source="gui").ok and op.start_auto(source="gui").ok
        await wait_for(lambda: [(t, a) for t, a, _ in site.writes()][-2:] == START_SEQUENCE[-2:], 10, "sequence done")
        # the first step was written, its confirmation failed: written once more, then the sequence went on
        assert [(t, a) for t, a, _ in site.writes()] == [START_SEQUENCE[0], *START_SEQUENCE]
    assert [a.active for a in alarms] == [True, False] and "(step) failed" in alarms[0].message
