"""The plant model behind the simulated devices, seen through the PMS over real TCP in accelerated time."""

from __future__ import annotations

from pms_core.clock import Clock
from pms_core.config import load_config
from pms_core.simulator import PlantParams
from tests.conftest import Plant, today_at, wait_for, write_config

SPEED = 3600  # an hour of plant time per second


async def start(tmp_path, hour: int, **params) -> Plant:
    loaded = load_config(write_config(tmp_path, poll_interval=30), plant_speed=SPEED)
    plant = Plant(loaded, Clock(SPEED, start=today_at(hour)), PlantParams(**params))
    await plant.__aenter__()
    await plant.all_online()
    return plant


async def test_solar_charges_at_noon_and_nothing_in_standby(tmp_path):
    plant = await start(tmp_path, 11, initial_soc=40, pv_peak_kw=15)
    try:
        dcdc, bms = plant.device("DCDC"), plant.device("BMS")
        await dcdc.write_register(107, 0x55)  # solar
        await wait_for(lambda: dcdc.snapshot.derived["operating_mode"] == "solar", 5, "solar")
        await wait_for(lambda: (dcdc.snapshot.values["input_power"] or 0) > 14, 5, "PV near its peak")
        soc0 = bms.snapshot.values["battery_soc"]
        await wait_for(lambda: bms.snapshot.values["battery_soc"] > soc0 + 10, 10, "SOC rising on PV")
        assert dcdc.snapshot.values["today_kwh"] > 0
        assert dcdc.map.registers["status_2"].active_bits(dcdc.snapshot.raw["status_2"])[0].startswith("발전운전")

        await dcdc.write_register(106, 0x55)  # standby
        await wait_for(lambda: dcdc.snapshot.derived["operating_mode"] == "standby", 5, "standby")
        assert dcdc.snapshot.values["input_power"] == 0
    finally:
        await plant.__aexit__()


async def test_farm_load_drains_the_battery_in_independent_operation(tmp_path):
    plant = await start(tmp_path, 9, initial_soc=30, capacity_kwh=20)
    try:
        pcs, bms = plant.device("PCS"), plant.device("BMS")
        await pcs.write_register(24, 0x55)  # independent operation, after the pre-charge delay
        await wait_for(lambda: pcs.snapshot.derived["operating_mode"] == "independent", 5, "independent")
        assert pcs.snapshot.values["battery_instantaneous_power"] < 0  # discharging: negative
        await wait_for(lambda: bms.snapshot.values["battery_soc"] < 5, 10, "SOC draining to the low threshold")
        warning = bms.map.registers["battery_system_warning"]
        assert "Under SOC Warning (USOCW)" in warning.active_bits(bms.snapshot.raw["battery_system_warning"])
    finally:
        await plant.__aexit__()


async def test_injected_trip_stops_the_pcs_until_reset(tmp_path):
    plant = await start(tmp_path, 9)
    try:
        pcs = plant.device("PCS")
        await pcs.write_register(22, 0x55)  # charge
        await wait_for(lambda: pcs.snapshot.derived["operating_mode"] == "charge", 5, "charging")
        plant.sim.set_bits(pcs.name, "trip_1", 1 << 14)  # PCS Fault (IGBT)
        await wait_for(lambda: pcs.snapshot.derived["total_fault"], 5, "total fault")
        assert pcs.snapshot.derived["operating_mode"] == "stop"
        assert pcs.map.registers["trip_1"].active_bits(pcs.snapshot.raw["trip_1"]) == ["PCS Fault"]
        await pcs.write_register(19, 0x55)  # reset
        await wait_for(lambda: not pcs.snapshot.derived["total_fault"], 5, "fault cleared")
    finally:
        await plant.__aexit__()
