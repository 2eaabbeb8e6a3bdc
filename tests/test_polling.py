"""Polling over real TCP against the simulator: values, link states, outages."""

from __future__ import annotations

import asyncio

import pytest

from pms_core.bus import LinkStateChanged, Snapshot
from pms_core.clock import Clock
from pms_core.config import load_config
from pms_sim import PlantParams
from tests.helpers.configs import write_config
from tests.helpers.site import SimulatedSite
from tests.helpers.waiting import wait_for

pytestmark = pytest.mark.tcp


def expected(site: SimulatedSite, type_: str) -> dict[str, float]:
    """What the device should report now: the plant's values through the map's scaling."""
    dev = site.device(type_)
    out = {}
    for name, value in site.sim.plant.values(type_).items():
        reg = dev.map.registers[name]
        if reg.readable and reg.verified and name != "communication_count":  # counts requests, moves per block
            out[name] = reg.decode(reg.encode(value)) if value != reg.unavailable else None
    return out


@pytest.mark.parametrize("type_", ["BMS", "PCS", "DCDC"])
async def test_polled_values_equal_the_plant_state(loaded, type_):
    # The plant's clock all but stopped, so the model does not move between the poll and the comparison.
    async with SimulatedSite(loaded, Clock(), sim_clock=Clock(speed=1e-9)) as site:
        site.sim.set_soc(63.7)
        site.sim.plant.pcs.charge_kw = 7.5
        site.sim.plant.pcs.energy.update(ac_chg=12345.6, dc_dis=987.0)  # kWh since the PCS was built
        await site.all_online()
        dev = site.device(type_)
        seen: list[Snapshot] = []
        site.runtime.bus.subscribe(Snapshot, lambda s: seen.append(s) if s.device_name == dev.name else None)
        await wait_for(lambda: len(seen) >= 2, 5, "two snapshots")
        snap = seen[-1]
        want = expected(site, type_)
        assert {k: snap.values[k] for k in want} == want
        assert len(want) > 15
    if type_ == "BMS":
        assert snap.values["battery_soc"] == 63.7
        assert snap.values["communication_count"] > seen[0].values["communication_count"]
        assert snap.derived["battery_power"] == 0.0
        assert snap.derived["cell_voltage_spread"] == 0.006
    elif type_ == "PCS":
        assert snap.values["battery_charge_power"] == 7.5
        assert snap.values["system_capacity"] == 30.0
        assert snap.values["state_2"] is None  # Not Used: 65535 is shown as not available
        decoded = {k: snap.derived[k] for k in ("operating_mode", "battery_state", "total_fault")}
        assert decoded == {"operating_mode": "stop", "battery_state": "idle", "total_fault": False}
        assert (snap.derived["ac_charge_energy_total"], snap.derived["dc_discharge_energy_total"]) == (12345.6, 987.0)
        assert snap.derived["ac_charge_energy_today"] == 0.0  # counted from the first reading: nothing yet today
    else:
        assert snap.derived == {"operating_mode": "stopped", "total_fault": False}


async def test_modes_and_power_follow_the_plant(tmp_path):
    """An hour of plant time a second: the PCS charges at the register-1 power and the SOC rises."""
    loaded = load_config(write_config(tmp_path, poll_interval=30), plant_speed=3600)
    async with SimulatedSite(loaded, Clock(speed=3600), PlantParams(initial_soc=40, capacity_kwh=60)) as site:
        await site.all_online()
        pcs, bms = site.device("PCS"), site.device("BMS")
        await pcs.write_register(1, 120)  # 12.0 kW
        await pcs.write_register(22, 0x55)  # charge
        await wait_for(lambda: pcs.snapshot.derived["operating_mode"] == "charge", 5, "PCS charging")
        await wait_for(lambda: bms.snapshot.values["battery_soc"] >= 55, 10, "SOC rising")
        snap = pcs.snapshot
        assert snap.values["battery_instantaneous_power"] == 12.0  # positive = charging
        assert bms.snapshot.derived["battery_power"] > 11.5


async def test_killed_server_goes_offline_and_returns_with_fresh_data(site):
    bms = site.device("BMS")
    states: list[str] = []
    published: list[Snapshot] = []
    site.runtime.bus.subscribe(LinkStateChanged, lambda e: states.append(e.state) if e.device_name == bms.name else None)
    site.runtime.bus.subscribe(Snapshot, lambda s: published.append(s) if s.device_name == bms.name else None)

    server = site.sim.server(bms.name)
    await server.stop()
    await wait_for(lambda: bms.state == "offline", 3, "offline")
    assert bms.fresh_snapshot() is None
    assert site.device("PCS").state == "online"  # other devices are unaffected

    site.sim.set_soc(71.3)  # changes while the PMS cannot see the BMS
    count = len(published)
    await asyncio.sleep(0.5)
    assert len(published) == count  # nothing published while offline

    await server.start()
    took = await wait_for(lambda: bms.state == "online", 6.5, "online again")
    assert bms.snapshot.values["battery_soc"] == 71.3  # the first data after the return is fresh
    assert bms.fresh_snapshot() is bms.snapshot
    assert all(s.values["battery_soc"] == 71.3 for s in published[count:])
    assert states == ["offline", "online"]
    print(f"online {took:.2f} s after the server returned")


async def test_silent_device_goes_stale_then_fresh_again(site):
    pcs = site.device("PCS")
    server = site.sim.server(pcs.name)
    before = pcs.snapshot
    server.stop_answering()
    await wait_for(lambda: pcs.state == "stale", 4, "stale")
    assert pcs.fresh_snapshot() is None
    assert pcs.snapshot is before or pcs.snapshot.timestamp <= before.timestamp + 1
    server.resume_answering()
    await wait_for(lambda: pcs.state == "online", 6.5, "online again")
    assert pcs.snapshot.timestamp > before.timestamp


async def test_device_unreachable_at_start_is_offline_and_retried(tmp_path):
    loaded = load_config(write_config(tmp_path))
    site = SimulatedSite(loaded, Clock())
    dcdc_name = next(d.name for d in loaded.devices if d.type == "DCDC")
    await site.sim.start()
    await site.sim.server(dcdc_name).stop()  # nothing listens at the DC-DC's port
    await site.runtime.start()
    try:
        await wait_for(lambda: site.device("BMS").state == "online", 5, "BMS online")
        dcdc = site.device("DCDC")
        await asyncio.sleep(0.5)
        assert dcdc.state == "offline" and "connection refused" in dcdc.error
        await site.sim.server(dcdc_name).start()
        await wait_for(lambda: dcdc.state == "online", 6.5, "DC-DC online once it appears")
    finally:
        await site.runtime.stop()
        await site.sim.stop()


async def test_polls_hold_their_rate_without_drift(tmp_path):
    loaded = load_config(write_config(tmp_path, poll_interval=0.1))
    async with SimulatedSite(loaded, Clock()) as site:
        await site.all_online()
        starts: list[float] = []
        bms = site.device("BMS")
        site.runtime.bus.subscribe(Snapshot, lambda s: starts.append(s.monotonic) if s.device_name == bms.name else None)
        await wait_for(lambda: len(starts) >= 21, 5, "21 polls")
    span = starts[20] - starts[0]
    assert abs(span - 2.0) < 0.05  # 20 intervals of 0.1 s, no accumulated drift
