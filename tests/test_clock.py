"""Wall-clock time follows the operating system's clock; ages, timers and intervals stay monotonic.

The wall clock is injected (`Clock(wall=...)`) and moved as a time sync or an operator would move Windows' clock,
without touching the machine's clock.
"""

from __future__ import annotations

import time
from datetime import date, datetime

import pytest

from pms_core.bus import LinkStateChanged, Snapshot
from pms_core.clock import REAL_CLOCK, Clock, parse_iso
from pms_core.config import load_config
from pms_core.energy import KEPT_DAYS, DailyCounters
from pms_core.mqtt import messages
from tests.helpers.configs import write_config
from tests.helpers.site import SimulatedSite
from tests.helpers.waiting import wait_for

HOUR = 3600.0
MIDNIGHT = datetime(2025, 5, 2).timestamp()  # local midnight between 1 and 2 May (no daylight-saving change near it)


class Wall:
    """A wall clock that runs with the machine's and can be set or moved."""

    def __init__(self, at: float | None = None) -> None:
        self.offset = 0.0 if at is None else at - time.time()

    def __call__(self) -> float:
        return time.time() + self.offset

    def move(self, seconds: float) -> None:
        self.offset += seconds

    def set(self, epoch: float) -> None:
        self.offset = epoch - time.time()


def test_the_real_clock_reads_the_wall_clock_at_every_call_and_its_monotonic_time_does_not_jump():
    wall = Wall()
    clock = Clock(wall=wall)
    assert not clock.accelerated and not REAL_CLOCK.accelerated
    assert REAL_CLOCK.now() == pytest.approx(time.time(), abs=0.05)
    assert clock.now() == pytest.approx(time.time(), abs=0.05)
    mono = clock.monotonic()

    wall.move(HOUR)  # a correction forward
    assert clock.now() == pytest.approx(time.time() + HOUR, abs=0.05)
    assert parse_iso(clock.iso()) == pytest.approx(time.time() + HOUR, abs=0.05)  # timestamps show the moved time
    assert 0 <= clock.monotonic() - mono < 1.0

    wall.move(-2 * HOUR)  # and back, past where it was
    assert clock.now() == pytest.approx(time.time() - HOUR, abs=0.05)
    assert 0 <= clock.monotonic() - mono < 1.0


def test_a_monotonic_deadline_is_shown_at_the_wall_clocks_time_of_day():
    wall = Wall()
    clock = Clock(wall=wall)
    deadline = clock.monotonic() + 30
    shown = clock.epoch_of(deadline)
    assert shown == pytest.approx(time.time() + 30, abs=0.05)
    assert clock.epoch_of(deadline) == shown  # the same between calls: a status that did not change stays equal
    wall.move(-HOUR)
    assert clock.epoch_of(deadline) == pytest.approx(shown - HOUR, abs=0.05)  # the wait is the same 30 s


async def test_the_accelerated_clock_is_plant_time_whatever_the_wall_clock_does():
    start = MIDNIGHT + 9 * HOUR
    wall = Wall()
    clock = Clock(3600, start=start, wall=wall)
    assert clock.accelerated and Clock(1.0, start=start).accelerated and Clock(speed=1e-9).accelerated
    wall.move(HOUR)
    assert clock.now() - start == pytest.approx(clock.monotonic(), abs=3600 * 0.01)
    assert clock.epoch_of(120.0) == start + 120.0  # exact: plant epoch = start + plant monotonic time
    await wait_for(lambda: clock.monotonic() >= 180, 2, "three plant minutes")  # an hour of plant time a second
    wall.move(-5 * HOUR)
    now = clock.now()
    assert start + 180 <= now < start + 180 + 3600 * 1.0
    assert parse_iso(clock.iso()) == pytest.approx(clock.now(), abs=3600 * 0.05)


@pytest.mark.tcp
async def test_ages_and_freshness_do_not_change_when_the_wall_clock_jumps(tmp_path):
    wall = Wall()
    clock = Clock(wall=wall)
    loaded = load_config(write_config(tmp_path))  # polled every 0.2 s, stale after 0.6 s
    async with SimulatedSite(loaded, clock) as plant:  # the simulator shares the clock, as in the demo
        await plant.all_online()
        pcs = plant.device("PCS")
        await wait_for(lambda: pcs.snapshot is not None, 2, "a PCS reading")
        changes: list[LinkStateChanged] = []
        plant.runtime.bus.subscribe(LinkStateChanged, changes.append)
        snap = pcs.snapshot
        for jump in (HOUR, -2 * HOUR, 25 * HOUR):
            before = pcs.age()
            wall.move(jump)
            # the same snapshot: neither older (a jump forward) nor younger (back) than it was a moment ago
            assert pcs.snapshot is snap and 0 <= pcs.age() - before < 0.1
            assert pcs.fresh_snapshot() is snap
            taken = snap.monotonic
            await wait_for(lambda t=taken: pcs.snapshot.monotonic > t, 2, "a reading after the jump")
            snap = pcs.snapshot
            assert snap.timestamp == pytest.approx(wall(), abs=0.5)  # stamped with the moved wall clock
            message = messages.data_message(snap, pcs.map, pcs.config.ip, pcs.state, clock)
            assert parse_iso(message["timestamp"]) == pytest.approx(snap.timestamp, abs=0.001)
        assert changes == [] and all(d.state == "online" for d in plant.runtime.devices.values())


def test_energy_today_across_a_forward_and_a_backward_jump_past_midnight():
    day = DailyCounters()
    d1, d2 = date(2025, 5, 1), date(2025, 5, 2)
    start = MIDNIGHT - 10 * 60  # 23:50
    assert day.today(start, {"ac_charge": 1000.0}) == {"ac_charge": 0.0}
    assert day.today(start + 60, {"ac_charge": 1004.0}) == {"ac_charge": 4.0}

    # forward past midnight (23:51 -> 00:10): a new day, counted from its first reading, and says so
    assert day.today(MIDNIGHT + 600, {"ac_charge": 1005.0}) == {"ac_charge": 0.0}
    assert (day.day, day.since) == (d2, MIDNIGHT + 600)
    assert day.today(MIDNIGHT + 660, {"ac_charge": 1007.0}) == {"ac_charge": 2.0}

    # backward past midnight (00:11 -> 23:52): 1 May goes on from its own first value; nothing restarts
    assert day.today(MIDNIGHT - 480, {"ac_charge": 1008.0}) == {"ac_charge": 8.0}
    assert (day.day, day.since) == (d1, start)
    assert day.today(MIDNIGHT - 60, {"ac_charge": 1009.5}) == {"ac_charge": 9.5}

    # midnight again: 2 May had begun, and goes on; it does not start twice
    assert day.today(MIDNIGHT + 1, {"ac_charge": 1010.0}) == {"ac_charge": 5.0}
    assert (day.day, day.since) == (d2, MIDNIGHT + 600)
    assert day.today(MIDNIGHT + 3 * HOUR, {"ac_charge": 1012.0}) == {"ac_charge": 7.0}

    # back within the day (03:00 -> 02:00): counting goes on
    assert day.today(MIDNIGHT + 2 * HOUR, {"ac_charge": 1013.0}) == {"ac_charge": 8.0}
    # the next midnight as always
    assert day.today(MIDNIGHT + 24 * HOUR + 5, {"ac_charge": 1014.0}) == {"ac_charge": 0.0}


def test_a_jump_back_further_than_the_kept_days_starts_that_day_from_its_first_reading():
    assert KEPT_DAYS == 2
    day = DailyCounters()
    for i, total in enumerate((100.0, 110.0, 120.0)):  # three days, a reading at 10:00 and 20:00
        day.today(MIDNIGHT + i * 24 * HOUR + 10 * HOUR, {"ac_charge": total})
        assert day.today(MIDNIGHT + i * 24 * HOUR + 20 * HOUR, {"ac_charge": total + 5})["ac_charge"] == 5.0
    back = MIDNIGHT + 21 * HOUR  # to the first day, whose counters are no longer kept
    assert day.today(back, {"ac_charge": 126.0}) == {"ac_charge": 0.0}
    assert (day.day, day.since) == (date(2025, 5, 2), back)
    assert day.today(back + 60, {"ac_charge": 127.0}) == {"ac_charge": 1.0}
    # the day it came from is kept: back there, it goes on
    assert day.today(MIDNIGHT + 2 * 24 * HOUR + 21 * HOUR, {"ac_charge": 128.0}) == {"ac_charge": 8.0}


@pytest.mark.tcp
async def test_the_pcs_today_restarts_over_tcp_when_the_wall_clock_is_moved_past_midnight(tmp_path):
    wall = Wall(at=MIDNIGHT - 60)  # 23:59 on 1 May
    clock = Clock(wall=wall)
    loaded = load_config(write_config(tmp_path))
    async with SimulatedSite(loaded, clock) as plant:  # the simulator advances on the same clock; the PCS stands still
        await plant.all_online()
        pcs, counters = plant.device("PCS"), plant.sim.plant.pcs.energy
        readings: list[Snapshot] = []
        plant.runtime.bus.subscribe(Snapshot, lambda s: readings.append(s) if s.device_type == "PCS" else None)

        def today_after(moment: float) -> float | None:
            """Today's AC charge of the latest PCS reading taken at or after `moment` (wall clock), if any."""
            snap = readings[-1] if readings else None
            return snap.derived["ac_charge_energy_today"] if snap and snap.timestamp >= moment else None

        counters["ac_chg"] += 5.0  # charged 5 kWh before midnight
        poked = wall()
        await wait_for(lambda: today_after(poked) == 5.0, 2, "5 kWh today on 1 May")

        wall.set(MIDNIGHT + 30)  # forward past midnight
        await wait_for(lambda: today_after(MIDNIGHT) is not None, 2, "a reading on 2 May")
        first = readings[-1]
        assert first.derived["ac_charge_energy_today"] == 0.0
        assert parse_iso(first.derived["energy_today_since"]) == pytest.approx(first.timestamp, abs=0.001)
        message = messages.data_message(first, pcs.map, pcs.config.ip, pcs.state, clock)
        assert MIDNIGHT <= parse_iso(message["timestamp"]) < MIDNIGHT + 60
        counters["ac_chg"] += 2.0
        poked = wall()
        await wait_for(lambda: today_after(poked) == 2.0, 2, "2 kWh on 2 May")

        wall.set(MIDNIGHT - 20)  # back before midnight: 1 May goes on from its own first value
        moved = wall()
        await wait_for(lambda: today_after(moved) is not None and readings[-1].timestamp < MIDNIGHT, 2, "1 May again")
        assert readings[-1].derived["ac_charge_energy_today"] == 7.0
        assert all(s.derived["ac_charge_energy_today"] >= 0 for s in readings)

        wall.set(MIDNIGHT + 60)  # midnight again: 2 May goes on, it does not start twice
        await wait_for(lambda: today_after(MIDNIGHT + 60) is not None, 2, "2 May again")
        assert readings[-1].derived["ac_charge_energy_today"] == 2.0
        assert readings[-1].derived["energy_today_since"] == first.derived["energy_today_since"]
