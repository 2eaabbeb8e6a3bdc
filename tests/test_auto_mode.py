"""The automatic mode against the simulator, in accelerated plant time, over real TCP."""

from __future__ import annotations

import itertools
from datetime import datetime

import pytest

from pms_core.bus import AlarmChanged
from pms_core.clock import Clock
from pms_core.config import load_config
from pms_core.runtime import Runtime
from pms_sim import PlantParams
from tests.helpers.configs import auto_site, today_at, write_config
from tests.helpers.site import SimulatedSite
from tests.helpers.waiting import wait_for

pytestmark = pytest.mark.tcp

START_SEQUENCE = [("PCS", 21), ("PCS", 24), ("DCDC", 100), ("DCDC", 107)]
LATE = 30.0  # plant seconds a timed write may come late at 1200x (25 ms of real time)
CHARGE_CYCLE = [("PCS", 20), ("PCS", 21), ("PCS", 1), ("PCS", 22), ("PCS", 20), ("PCS", 24)]


@pytest.mark.slow
async def test_a_full_day_runs_start_soc_high_cycles_and_the_charge_cycle(tmp_path):
    """06:00 to the evening at 1200x: the exact order and spacing of the writes the devices receive."""
    interval, standby = 60.0, 600.0
    params = PlantParams(capacity_kwh=10, initial_soc=60, pv_peak_kw=15, load_base_kw=2, load_day_kw=3)
    # Stale only after 1 s of real time: at 1200x a 0.1 s hiccup of a loaded CI machine is 2 plant minutes, and
    # the HOLD (stale BMS or PCS) or the skipped DC-DC step (stale DC-DC) it would cause, correct reactions
    # covered by their own tests, would change the sequence.
    plant = auto_site(tmp_path, 1200, 20, hour=6, params=params, stale_real=1.0, command_interval=interval,
                      dcdc_standby_time=standby)  # fmt: skip
    async with plant:
        await plant.all_online()
        op = plant.runtime.operation
        assert op.set_mode("auto", source="gui").ok and op.start_auto(source="gui").ok
        await wait_for(lambda: [(t, a) for t, a, _ in plant.writes()][-6:] == CHARGE_CYCLE, 90, "charge cycle done")
        await wait_for(lambda: plant.runtime.auto.machine.state == "NORMAL", 10, "normal operation")
        writes = plant.sim.plant.writes
    seq = [(t, a) for _, t, a, _ in writes]
    assert seq[:4] == START_SEQUENCE
    cycles = seq[4:-6]
    assert len(cycles) >= 2 and cycles == [("DCDC", 106), ("DCDC", 107)] * (len(cycles) // 2)  # SOC-high cycles
    assert seq[-6:] == CHARGE_CYCLE
    assert [v for _, t, a, v in writes if (t, a) == ("PCS", 1)] == [100]  # charging_power 10 kW, x0.1
    assert all(v == 0x55 for _, t, a, v in writes if a != 1)

    times = [w[0] for w in writes]
    gaps = [b - a for a, b in itertools.pairwise(times)]

    def spaced(gap: float, expected: float) -> bool:
        # Timers are never early; they may be late by a few milliseconds of real time, which is
        # several plant seconds at 1200x (and more on a loaded CI machine).
        return expected - 1.0 <= gap <= expected + LATE

    assert all(spaced(g, interval) for g in gaps[:3]), gaps[:3]  # within the start sequence
    standbys = gaps[4 : 4 + len(cycles) : 2]  # 106 -> 107 after the standby time
    assert all(spaced(g, standby) for g in standbys), standbys
    assert all(g >= interval - 1.0 for g in gaps[3:])  # never two writes closer than command_interval
    charge = gaps[-5:]  # 20 -> 21 -> 1 -> 22 -> (charging until the stop threshold) -> 20 -> 24
    assert all(spaced(g, interval) for i, g in enumerate(charge) if i != 3), charge
    print(f"{len(cycles) // 2} SOC-high cycles; charge cycle at {datetime.fromtimestamp(times[-6]):%H:%M}")


@pytest.mark.slow
async def test_stale_bms_during_low_soc_holds_every_pcs_write_until_it_returns(tmp_path):
    plant = auto_site(tmp_path, 50, 1, params=PlantParams(initial_soc=30), command_interval=5)
    alarms: list[AlarmChanged] = []
    async with plant:
        plant.runtime.bus.subscribe(AlarmChanged, alarms.append)
        await plant.all_online()
        op, auto, sim = plant.runtime.operation, plant.runtime.auto, plant.sim
        assert op.set_mode("auto", source="gui").ok and op.start_auto(source="gui").ok
        await wait_for(lambda: auto.machine.state == "NORMAL", 10, "normal after the start sequence")
        sim.set_soc(4)
        await wait_for(lambda: [a for _, t, a, _ in sim.plant.writes if t == "PCS"][-1:] == [20], 10, "charge cycle begun")
        sim.server(plant.name("BMS")).stop_answering()
        await wait_for(lambda: auto.machine.state == "HOLD", 10, "HOLD")
        assert any(a.code == "auto_hold" and a.active for a in alarms)
        # A write issued on fresh data just before the HOLD may still be on its way: count from when it landed.
        lock = plant.runtime.commands._locks[plant.name("PCS")]
        await wait_for(lambda: not lock.locked(), 5, "no PCS write in flight")
        held_at = len(sim.plant.writes)
        await plant.runtime.clock.sleep(120)  # two minutes of plant time while blind
        assert sim.plant.writes[held_at:] == [] or all(t != "PCS" for _, t, _, _ in sim.plant.writes[held_at:])
        sim.server(plant.name("BMS")).resume_answering()
        await wait_for(lambda: auto.machine.state == "CHARGING" and auto.machine.waiting == "soc", 20, "charging again")
        resumed = [(t, a) for _, t, a, _ in sim.plant.writes[held_at:]]
    assert resumed == [("PCS", 20), ("PCS", 21), ("PCS", 1), ("PCS", 22)]  # the cycle again from its first step
    assert any(a.code == "auto_hold" and not a.active for a in alarms)


async def test_a_device_that_refuses_writes_gets_one_retry_then_fault(tmp_path):
    plant = auto_site(tmp_path, 50, 1, command_interval=5)
    async with plant:
        await plant.all_online()
        plant.sim.devices[plant.name("PCS")].reject_writes = "injected refusal"
        op, auto = plant.runtime.operation, plant.runtime.auto
        assert op.set_mode("auto", source="gui").ok and op.start_auto(source="gui").ok
        await wait_for(lambda: auto.machine.state == "FAULT", 10, "FAULT")
        assert "PCS run / standby (21) failed twice" in auto.machine.reason and "0x04" in auto.machine.reason
        assert op.status().auto.reason == auto.machine.reason
        await plant.runtime.clock.sleep(60)
        assert plant.sim.plant.writes == []  # refused each time, and nothing after the FAULT
        assert plant.sim.devices[plant.name("PCS")].refused == [(21, 0x55), (21, 0x55)]  # one retry, no third attempt


async def test_start_is_refused_against_a_faulted_pcs_and_basic_mode_can_reset_it(tmp_path):
    plant = auto_site(tmp_path, 1, 0.2)
    async with plant:
        await plant.all_online()
        plant.sim.set_bits(plant.name("PCS"), "trip_1", 1)  # as at the sites: STATE1 bit 14 with TRIP1 = 1
        await wait_for(lambda: plant.device("PCS").snapshot.derived["total_fault"], 3, "PCS fault seen")
        op = plant.runtime.operation
        assert op.set_mode("auto", source="gui").ok
        outcome = op.start_auto(source="gui")
        assert not outcome.ok and "PCS total fault" in outcome.message and "reset it in basic mode" in outcome.message
        assert op.set_mode("basic", source="gui").ok
        await plant.runtime.commands.execute(plant.name("PCS"), "reset_faults", source="gui")
        await wait_for(lambda: not plant.device("PCS").snapshot.derived["total_fault"], 3, "fault reset")
        assert op.set_mode("auto", source="gui").ok and op.start_auto(source="gui").ok


async def test_modes_thresholds_and_their_persistence(tmp_path, data_folder):
    loaded = load_config(write_config(tmp_path, auto_mode={"enabled": True}))
    runtime = Runtime(loaded)
    op = runtime.operation
    assert op.mode == "basic" and op.set_mode("turbo", source="gui").message.startswith("unknown mode")
    assert not op.start_auto(source="gui").ok  # only in auto mode
    bad = op.update_settings({"soc_low_threshold": 30, "soc_charge_stop_threshold": 20}, pcs_rating_kw=30, source="gui")
    assert not bad.ok and "thresholds out of order" in bad.message
    assert not op.update_settings({"charging_power": 40}, pcs_rating_kw=30, source="gui").ok
    assert not op.update_settings({"colour": 1}, pcs_rating_kw=30, source="gui").ok
    good = op.update_settings(
        {"soc_upper_limit": 90, "soc_lower_limit": 10, "command_interval": 3}, pcs_rating_kw=30, source="gui"
    )
    assert good.ok
    assert runtime.settings.current.soc_high_threshold == 90 and runtime.settings.sources["soc_high_threshold"] == "saved"
    assert (data_folder / "pms_state.json").exists()

    again = Runtime(loaded)  # a restart: the state file wins over config.yml
    assert again.settings.current.soc_low_threshold == 10 and again.settings.current.command_interval == 3
    assert again.settings.sources["soc_charge_stop_threshold"] == "config.yml"
    assert again.operation.mode == "basic"  # comes up in basic mode

    off = load_config(write_config(tmp_path, auto_mode={"enabled": False}))
    outcome = Runtime(off).operation.set_mode("auto", source="gui")
    assert not outcome.ok and "not allowed at this site" in outcome.message


async def test_resume_on_start_restores_auto_and_runs_the_start_sequence(tmp_path):
    plant = auto_site(tmp_path, 20, 1, resume_on_start=True, command_interval=5)
    async with plant:
        await plant.all_online()
        assert (
            plant.runtime.operation.set_mode("auto", source="gui").ok and plant.runtime.operation.start_auto(source="gui").ok
        )
        await wait_for(lambda: plant.runtime.auto.machine.state == "NORMAL", 10, "running")
    loaded = plant.runtime.loaded
    again = SimulatedSite(loaded, Clock(20, start=today_at(10)))
    async with again:
        await wait_for(lambda: again.runtime.auto.machine.state == "NORMAL", 15, "resumed")
        assert again.runtime.operation.mode == "auto"
        assert [(t, a) for _, t, a, _ in again.sim.plant.writes] == START_SEQUENCE


async def test_start_is_refused_when_the_charging_power_is_above_the_pcs_rating(tmp_path):
    plant = auto_site(tmp_path, 1, 0.2, charging_power=40)  # accepted by config.yml; the simulated PCS reads 30 kW
    async with plant:
        await plant.all_online()
        op = plant.runtime.operation
        assert op.set_mode("auto", source="gui").ok
        outcome = op.start_auto(source="gui")
        assert not outcome.ok and "charging_power 40 kW is above the PCS rating of 30 kW" in outcome.message
        assert op.update_settings({"charging_power": 20}, 30, source="gui").ok and op.start_auto(source="gui").ok
