"""What real sites do that the simulator did not: a device without an optional block, a site without a grid.
Each fault is set in the simulator and read by the PMS over TCP."""

from __future__ import annotations

import time

import pytest

from pms_core.clock import Clock
from pms_core.config import load_config
from pms_core.devices.base import UNSUPPORTED_RETRY
from tests.helpers.broker import Recorder
from tests.helpers.configs import write_config
from tests.helpers.site import SimulatedSite
from tests.helpers.waiting import wait_for

pytestmark = pytest.mark.tcp


@pytest.mark.parametrize(("off_grid", "alarmed"), [(False, True), (True, False)])
async def test_the_grid_blackout_is_a_warning_except_at_an_off_grid_site(tmp_path, off_grid, alarmed):
    loaded = load_config(write_config(tmp_path, site={"off_grid": off_grid}))
    async with SimulatedSite(loaded, Clock()) as plant:
        await plant.all_online()
        pcs = plant.name("PCS")
        state = plant.runtime.devices[pcs].map.registers["state_1"]
        blackout = 1 << state.bit_of("grid_blackout")
        plant.sim.set_bits(pcs, "state_1", blackout)
        await wait_for(lambda: plant.device("PCS").snapshot.raw["state_1"] == blackout, 5, "the blackout bit read")
        polled = plant.device("PCS").snapshot.monotonic
        await wait_for(lambda: plant.device("PCS").snapshot.monotonic > polled, 5, "one more poll")  # alarms judged
        assert ((pcs, "state_1.6") in plant.runtime.alarms.active) is alarmed


OPTION_REGISTERS = ["alarm_2", "load_active_power", "load_current_r", "load_current_s", "load_current_t",
                    "load_frequency", "load_voltage_r", "load_voltage_s", "load_voltage_t", "state_2", "trip_3"]  # fmt: skip


@pytest.mark.broker
async def test_a_pcs_without_its_option_board_is_online_and_publishes_the_rest(tmp_path, broker):
    poll = 0.2
    loaded = load_config(write_config(tmp_path, poll_interval=poll, mqtt={"port": broker.port, "client_id": "pms-site"}))
    rec = Recorder(broker.port, ("pms/#",))
    async with SimulatedSite(loaded, Clock(), mqtt=True, without=("pcs-option",)) as plant:
        started = time.monotonic()
        await wait_for(lambda: plant.device("PCS").state == "online", 5, "the PCS online")
        assert time.monotonic() - started <= 2 * poll + 0.5  # its first or second poll, not a retry later
        pcs = plant.name("PCS")
        snap = plant.device("PCS").snapshot
        assert sorted(snap.unsupported) == OPTION_REGISTERS and not set(OPTION_REGISTERS) & set(snap.values)
        assert snap.values["system_capacity"] == 30 and snap.derived["total_fault"] is False
        topic = f"pms/PCS/{pcs}/data"
        await wait_for(lambda: bool(rec.payloads(topic)), 5, "a PCS data message")
        message = rec.payloads(topic)[-1]
        assert message["state"] == "online" and message["unsupported"] == OPTION_REGISTERS
        assert "grid_voltage_r" in message["data"] and "load_voltage_r" not in message["data"]
        plant.sim.set_bits(pcs, "trip_1", 1)  # the fault the automatic mode must see, as at the sites
        await wait_for(lambda: rec.payloads(topic)[-1]["data"]["total_fault"]["value"] is True, 5, "total fault published")
    rec.close()


@pytest.mark.slow
async def test_an_unsupported_block_is_asked_again_every_hour_and_read_once_fitted(tmp_path):
    """At 600x an hour of plant time is 6 s: the block is not asked at every poll, and is read an hour later."""
    loaded = load_config(write_config(tmp_path, poll_interval=5), plant_speed=600)
    async with SimulatedSite(loaded, Clock(speed=600), without=("pcs-option",)) as plant:
        pcs = plant.device("PCS")
        await wait_for(lambda: bool(pcs.unsupported), 5, "the option block refused")
        refused_at = next(iter(pcs.unsupported.values()))
        plant.sim.devices[pcs.name].put_back("input", range(50, 61))  # the board is fitted
        await wait_for(lambda: "load_voltage_r" in pcs.snapshot.values, 15, "the option block read again")
        waited = pcs.snapshot.monotonic - refused_at  # asked at every poll, it would be read within 5 s
        assert UNSUPPORTED_RETRY <= waited <= UNSUPPORTED_RETRY + 3 * 5, waited
        assert not pcs.snapshot.unsupported and not pcs.unsupported
