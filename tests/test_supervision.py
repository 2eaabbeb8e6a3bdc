"""A bug in a worker that must live (a device's polling, the history writer) is logged once with its traceback,
raised as an alarm, and the worker goes on. The bug is the one thing here that cannot be real: it is patched in."""

from __future__ import annotations

import logging

from pms_core.bus import AlarmChanged, Snapshot
from pms_core.devices.pcs import PcsDevice
from pms_core.history import History
from tests.conftest import wait_for


def broken_for(times: int, original):
    """`original`, raising a RuntimeError on its first `times` calls."""
    calls = {"n": 0}

    def wrapper(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] <= times:
            raise RuntimeError(f"injected bug #{calls['n']}")
        return original(*args, **kwargs)

    return wrapper


async def test_a_bug_in_decoding_does_not_end_the_polling_of_a_device(plant, monkeypatch, caplog):
    pcs = plant.device("PCS")
    alarms: list[AlarmChanged] = []
    plant.runtime.bus.subscribe(AlarmChanged, lambda a: alarms.append(a) if a.code == "worker_failed" else None)
    snapshots: list[Snapshot] = []
    plant.runtime.bus.subscribe(Snapshot, lambda s: snapshots.append(s) if s.device_name == pcs.name else None)
    monkeypatch.setattr(PcsDevice, "derive", broken_for(3, PcsDevice.derive))
    with caplog.at_level(logging.ERROR, logger="pms_core.supervision"):
        await wait_for(lambda: len(snapshots) >= 3, 10, "the PCS polled again after the bug")
    assert [a.active for a in alarms] == [True, False] and "injected bug" in alarms[0].message
    assert sum(1 for r in caplog.records if r.exc_info) == 1  # the traceback once, then one line each


async def test_a_bug_in_the_history_writer_does_not_end_it(plant, monkeypatch):
    history = plant.runtime.history
    assert history is not None
    alarms: list[AlarmChanged] = []
    plant.runtime.bus.subscribe(AlarmChanged, lambda a: alarms.append(a) if a.code == "worker_failed" else None)
    monkeypatch.setattr(History, "_snapshot", broken_for(1, History._snapshot))
    before = history.batches
    await wait_for(lambda: history.batches >= before + 2, 10, "batches written after the bug")
    await wait_for(lambda: [a.active for a in alarms] == [True, False], 5, "the alarm raised, then cleared")
    assert history.status == "ok"
