"""Today's PCS energy from its lifetime counters: from the day's first value, across midnight and a restart."""

from __future__ import annotations

from datetime import datetime

import pytest

from pms_core.clock import Clock
from pms_core.config import load_config
from pms_core.energy import DailyCounters
from pms_core.simulator import PlantParams
from tests.conftest import Plant, wait_for, write_config

HOUR = 3600.0


def midnight_today() -> float:
    return datetime.now().replace(hour=0, minute=0, second=0, microsecond=0).timestamp()


def test_a_day_counts_from_its_first_value_and_a_reset_counter_counts_again():
    day = DailyCounters()
    t = midnight_today() + 10 * HOUR
    assert day.today(t, {"ac_charge": 1000.0, "ac_discharge": None}) == {"ac_charge": 0.0, "ac_discharge": None}
    assert day.since == t
    assert day.today(t + HOUR, {"ac_charge": 1012.5, "ac_discharge": 40.0}) == {"ac_charge": 12.5, "ac_discharge": 0.0}
    assert day.today(t + 2 * HOUR, {"ac_charge": 3.0})["ac_charge"] == 0.0  # the device's counter was reset
    assert day.today(t + 3 * HOUR, {"ac_charge": 5.5})["ac_charge"] == 2.5
    assert day.today(t + 15 * HOUR, {"ac_charge": 9.0})["ac_charge"] == 0.0  # 01:00 the next day: a new day


def test_a_seed_from_the_history_is_the_days_first_value():
    day = DailyCounters()
    midnight = midnight_today()
    day.seed({"ac_charge": 500.0}, since=midnight + 60)
    assert day.today(midnight + 9 * HOUR, {"ac_charge": 530.0, "dc_charge": 7.0}) == {"ac_charge": 30.0, "dc_charge": 0.0}
    assert day.since == midnight + 60


async def test_today_restarts_at_midnight_and_survives_a_restart_of_the_pms(tmp_path, data_folder):
    speed = 600.0  # ten plant minutes a second
    loaded = load_config(write_config(tmp_path, poll_interval=5), plant_speed=speed)
    midnight = midnight_today()
    lifetime = {"ac_chg": 52_000.0, "ac_dis": 48_000.0, "dc_chg": 53_000.0, "dc_dis": 47_000.0}  # kWh since built

    first = Plant(loaded, Clock(speed, start=midnight - 0.5 * HOUR), PlantParams(initial_soc=40))
    first.sim.plant.pcs.energy.update(lifetime)
    async with first as plant:
        await plant.all_online()
        pcs = plant.device("PCS")
        await pcs.write_register(1, 120)  # 12.0 kW
        await pcs.write_register(22, 0x55)  # charge
        await wait_for(lambda: plant.clock.now() >= midnight - 60, 10, "a minute to midnight")
        before = pcs.snapshot
        assert before.derived["ac_charge_energy_today"] == pytest.approx(
            12 * (before.timestamp - (midnight - 0.5 * HOUR)) / HOUR, abs=0.5
        )
        await wait_for(lambda: plant.clock.now() >= midnight + 0.5 * HOUR, 10, "half past midnight")
        after = pcs.snapshot
        charged = 12 * (after.timestamp - midnight) / HOUR  # 6 kWh since midnight
        assert after.derived["ac_charge_energy_today"] == pytest.approx(charged, abs=0.3)
        assert after.derived["ac_discharge_energy_today"] == 0.0
        assert after.derived["ac_charge_energy_total"] == pytest.approx(
            lifetime["ac_chg"] + 12 * (after.timestamp - (midnight - 0.5 * HOUR)) / HOUR, abs=0.3
        )
        assert datetime.fromisoformat(after.derived["energy_today_since"]).timestamp() - midnight < 10  # the first poll
        saved = dict(plant.sim.plant.pcs.energy)
        today = after.derived["ac_charge_energy_today"]

    second = Plant(loaded, Clock(speed, start=midnight + 1 * HOUR))  # restarted at 01:00; the PCS stands still
    second.sim.plant.pcs.energy.update(saved)
    async with second as plant:
        await plant.all_online()
        await wait_for(lambda: plant.device("PCS").snapshot is not None, 5, "a PCS reading")
        snap = plant.device("PCS").snapshot
        assert snap.derived["ac_charge_energy_today"] == pytest.approx(today, abs=0.3)  # not 0: from the history
        assert datetime.fromisoformat(snap.derived["energy_today_since"]).timestamp() - midnight < 120
