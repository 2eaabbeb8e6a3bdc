"""Today's PCS energy from its lifetime counters: from the day's first value, across midnight and a restart."""

from __future__ import annotations

from datetime import datetime

import pytest

from pms_core.bus import Snapshot
from pms_core.clock import Clock
from pms_core.config import load_config
from pms_core.energy import RESET_READINGS, DailyCounters
from pms_sim import PlantParams
from tests.helpers.configs import today_at, write_config
from tests.helpers.site import SimulatedSite
from tests.helpers.waiting import wait_for

HOUR = 3600.0


def test_a_day_counts_from_its_first_value_and_starts_again_at_midnight():
    day = DailyCounters()
    t = today_at() + 10 * HOUR
    assert day.today(t, {"ac_charge": 1000.0, "ac_discharge": None}) == {"ac_charge": 0.0, "ac_discharge": None}
    assert day.since == t
    assert day.today(t + HOUR, {"ac_charge": 1012.5, "ac_discharge": 40.0}) == {"ac_charge": 12.5, "ac_discharge": 0.0}
    assert day.today(t + 15 * HOUR, {"ac_charge": 1030.0})["ac_charge"] == 0.0  # 01:00 the next day: a new day
    assert day.since == t + 15 * HOUR


def test_one_low_reading_is_not_a_reset_but_a_lasting_drop_is_and_keeps_the_count():
    day = DailyCounters()
    t = today_at() + 10 * HOUR
    day.today(t, {"ac_charge": 1500.0})
    assert day.today(t + 60, {"ac_charge": 1512.5})["ac_charge"] == 12.5
    # kWh wrapped to 0 before the MWh register moved on: one reading 1000 kWh low
    assert day.today(t + 61, {"ac_charge": 512.6})["ac_charge"] == 12.5
    assert day.today(t + 62, {"ac_charge": 1512.7})["ac_charge"] == 12.7
    # the counter reset at the device: low for good; what was counted today stays, and counting goes on
    readings = [day.today(t + 63 + i, {"ac_charge": 0.0})["ac_charge"] for i in range(RESET_READINGS)]
    assert readings == [12.7] * RESET_READINGS
    assert day.today(t + 120, {"ac_charge": 4.0})["ac_charge"] == 16.7


def test_a_seed_from_the_history_is_the_days_first_value():
    day = DailyCounters()
    midnight = today_at()
    day.seed({"ac_charge": 500.0}, since=midnight + 60)
    assert day.today(midnight + 9 * HOUR, {"ac_charge": 530.0, "dc_charge": 7.0}) == {"ac_charge": 30.0, "dc_charge": 0.0}
    assert day.since == midnight + 60


@pytest.mark.tcp
@pytest.mark.slow
async def test_today_restarts_at_midnight_and_survives_a_restart_of_the_pms(tmp_path, data_folder):
    speed = 300.0  # five plant minutes a second; the PCS polled every 5 plant s
    loaded = load_config(write_config(tmp_path, poll_interval=5), plant_speed=speed)
    midnight = today_at()
    lifetime = {"ac_chg": 52_000.0, "ac_dis": 48_000.0, "dc_chg": 53_000.0, "dc_dis": 47_000.0}  # kWh since built

    first = SimulatedSite(loaded, Clock(speed, start=midnight - 0.25 * HOUR), PlantParams(initial_soc=40))
    first.sim.plant.pcs.energy.update(lifetime)
    readings: list[Snapshot] = []
    first.runtime.bus.subscribe(Snapshot, lambda s: readings.append(s) if s.device_type == "PCS" else None)
    async with first as plant:
        await plant.all_online()
        pcs = plant.device("PCS")
        await pcs.write_register(1, 120)  # 12.0 kW
        await pcs.write_register(22, 0x55)  # charge
        await wait_for(lambda: plant.clock.now() >= midnight + 0.25 * HOUR, 10, "a quarter past midnight")
    yesterday = [r for r in readings if r.timestamp < midnight]
    today = [r for r in readings if r.timestamp >= midnight]
    last = yesterday[-1]
    assert last.derived["ac_charge_energy_today"] == pytest.approx(
        12 * (last.timestamp - readings[0].timestamp) / HOUR, abs=0.5
    )
    assert today[0].derived["ac_charge_energy_today"] == 0.0  # a new day counts from its first reading
    since = datetime.fromisoformat(today[0].derived["energy_today_since"]).timestamp()
    assert since == pytest.approx(today[0].timestamp, abs=0.001)  # stated to the millisecond
    after = today[-1]
    assert after.derived["ac_charge_energy_today"] == pytest.approx(12 * (after.timestamp - midnight) / HOUR, abs=0.5)
    assert after.derived["ac_discharge_energy_today"] == 0.0
    saved = dict(first.sim.plant.pcs.energy)
    counted = saved["ac_chg"] - today[0].derived["ac_charge_energy_total"]  # what the PCS counted since the day began

    second = SimulatedSite(loaded, Clock(speed, start=midnight + 1 * HOUR))  # restarted at 01:00; the PCS stands still
    second.sim.plant.pcs.energy.update(saved)
    async with second as plant:
        await plant.all_online()
        await wait_for(lambda: plant.device("PCS").snapshot is not None, 5, "a PCS reading")
        snap = plant.device("PCS").snapshot
        assert snap.derived["ac_charge_energy_today"] == pytest.approx(counted, abs=0.2)  # not 0: from the history
        assert datetime.fromisoformat(snap.derived["energy_today_since"]).timestamp() - midnight < 120
