"""The plant model behind the simulated devices, seen through the PMS over real TCP in accelerated time."""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from collections.abc import Awaitable, Callable
from contextlib import asynccontextmanager

import pytest

from pms_core.clock import Clock
from pms_core.config import LoadedConfig, load_config
from pms_core.modbus import DeviceError, LinkError, ModbusLink
from pms_sim import PlantParams, Simulator
from pms_sim.plant import Plant as SimPlant
from tests.helpers.configs import today_at, write_config
from tests.helpers.paths import ROOT
from tests.helpers.site import SimulatedSite
from tests.helpers.waiting import wait_for

pytestmark = pytest.mark.tcp

SPEED = 3600  # an hour of plant time per second


async def start(tmp_path, hour: int, **params) -> SimulatedSite:
    loaded = load_config(write_config(tmp_path, poll_interval=30), plant_speed=SPEED)
    plant = SimulatedSite(loaded, Clock(SPEED, start=today_at(hour)), PlantParams(**params))
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


# --- the simulator as the datasheets and the site samples show the devices, read over Modbus TCP -----------------


class Site:
    """A simulator (no PMS) and one Modbus link per device, to read and write registers as a client would."""

    def __init__(self, sim: Simulator, loaded: LoadedConfig) -> None:
        self.sim = sim
        self.dev = {d.type: d for d in loaded.devices}
        self.maps = {d.type: loaded.maps[d.name] for d in loaded.devices}
        self.links = {d.type: ModbusLink(d.ip, d.port) for d in loaded.devices}

    def sim_device(self, type_: str):
        return self.sim.devices[self.dev[type_].name]

    async def words(self, type_: str, table: str, address: int, count: int) -> list[int]:
        return await self.links[type_].read(table, address, count, self.dev[type_].slave_id)

    async def raw(self, type_: str, name: str) -> int:
        reg = self.maps[type_].registers[name]
        return reg.raw_from_words(await self.words(type_, reg.table, reg.address, reg.words))

    async def value(self, type_: str, name: str) -> float | int | None:
        reg = self.maps[type_].registers[name]
        return reg.decode(await self.words(type_, reg.table, reg.address, reg.words))

    async def flags(self, type_: str, name: str) -> set[str]:
        """The ids of the bits set in a status register, by the map."""
        reg = self.maps[type_].registers[name]
        raw = await self.raw(type_, name)
        return {d.id for d in reg.bits.values() if reg.flag(raw, d.id)}

    async def write(self, type_: str, address: int, value: int) -> None:
        await self.links[type_].write(address, value, self.dev[type_].slave_id)

    async def until(self, check: Callable[[], Awaitable[bool]], timeout: float, what: str) -> None:
        """Poll `check` (it reads over Modbus, so the plant moves on) until it holds."""
        start = time.monotonic()
        while not await check():
            if time.monotonic() - start > timeout:
                pytest.fail(f"timed out after {timeout} s waiting for {what}")
            await asyncio.sleep(0.02)


@asynccontextmanager
async def site(tmp_path, speed: float = 1.0, hour: float = 9, *, without=(), realtime=time.monotonic, **params):
    loaded = load_config(write_config(tmp_path))
    sim = Simulator(loaded, Clock(speed, start=today_at(hour)), PlantParams(**params), without=without, realtime=realtime)
    s = Site(sim, loaded)
    await sim.start()
    try:
        yield s
    finally:
        for link in s.links.values():
            await link.close()
        await sim.stop()


async def exception_code(read: Awaitable[object]) -> int | None:
    try:
        await read
    except DeviceError as exc:
        return exc.code
    return None


async def test_a_pcs_without_its_option_board_answers_0x02_for_input_50_to_60(tmp_path):
    async with site(tmp_path, without=("pcs-option",)) as s:
        assert await exception_code(s.words("PCS", "input", 50, 11)) == 0x02
        assert await exception_code(s.words("PCS", "input", 57, 1)) == 0x02  # any read touching the block
        assert len(await s.words("PCS", "input", 0, 27)) == 27  # the rest is served as before
        assert len(await s.words("PCS", "holding", 0, 19)) == 19
        assert await s.value("PCS", "grid_frequency") == 60.0
    async with site(tmp_path) as s:  # by default the PCS has the option
        assert len(await s.words("PCS", "input", 50, 11)) == 11
    with pytest.raises(ValueError, match="pcs-option"):
        Simulator(load_config(write_config(tmp_path)), Clock(), without=("ups",))


async def test_tests_can_leave_out_addresses_at_run_time(tmp_path):
    async with site(tmp_path) as s:
        bms = s.sim_device("BMS")
        assert len(await s.words("BMS", "holding", 0, 17)) == 17
        bms.missing.add(("holding", 13))  # the SOH
        assert await exception_code(s.words("BMS", "holding", 0, 17)) == 0x02
        assert len(await s.words("BMS", "holding", 0, 13)) == 13
        bms.leave_out("holding", [200])
        assert await exception_code(s.write("BMS", 200, 1)) == 0x02  # writes too
        bms.missing.clear()
        assert len(await s.words("BMS", "holding", 0, 17)) == 17


async def test_the_command_line_takes_without(tmp_path):
    config = write_config(tmp_path)
    loaded = load_config(config)
    pcs = next(d for d in loaded.devices if d.type == "PCS")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "pms_sim", "--config", str(config), "--without", "pcs-option",
        cwd=ROOT, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    link = ModbusLink(pcs.ip, pcs.port)
    try:
        start = time.monotonic()
        while True:  # until it serves
            try:
                await link.read("input", 0, 1, pcs.slave_id)
                break
            except LinkError:
                assert proc.returncode is None, (await proc.stderr.read()).decode()
                assert time.monotonic() - start < 15, "the simulator did not start serving"
                await asyncio.sleep(0.05)
        assert await exception_code(link.read("input", 50, 11, pcs.slave_id)) == 0x02
        assert len(await link.read("input", 0, 27, pcs.slave_id)) == 27
    finally:
        await link.close()
        if proc.returncode is None:
            proc.send_signal(signal.SIGINT)
        _, err = await asyncio.wait_for(proc.communicate(), 10)
    assert proc.returncode == 0, err.decode()


async def test_pcs_status_bits_as_the_samples_show_them(tmp_path):
    async with site(tmp_path, pcs_start_delay=0.3) as s:  # a real-time clock: the pre-charge lasts 0.3 s
        assert await s.raw("PCS", "state_1") == 0  # stopped and healthy: Remote Enable 0, every MC open
        await s.write("PCS", 21, 0x55)  # standby start: pre-charge first
        assert await s.flags("PCS", "state_1") == {"pr_mc_closed"}
        await s.until(lambda: _running(s), 3, "standby")
        running = await s.flags("PCS", "state_1")
        assert {"ac_mc_closed", "dc_mc_closed", "steady"} <= running
        assert not running & {"pr_mc_closed", "remote_enable", "total_fault"}
        await s.write("PCS", 20, 0x55)
        assert await s.raw("PCS", "state_1") == 0
        s.sim.set_bits(s.dev["PCS"].name, "trip_1", 1)  # Batt 저전압, as both sites read TRIP1 = 1
        assert await s.raw("PCS", "state_1") == 16384  # the 한자연 sample: total fault only


async def _running(s: Site) -> bool:
    reg = s.maps["PCS"].registers["state_1"]
    return reg.decode_fields(await s.raw("PCS", "state_1"))["operating_mode"] == "standby"


async def test_dcdc_status_bits_as_the_samples_show_them(tmp_path):
    async with site(tmp_path, speed=60, hour=11.5) as s:
        assert (await s.raw("DCDC", "status_1"), await s.raw("DCDC", "status_2")) == (0, 1)  # stopped (samples)
        await s.write("DCDC", 106, 0x55)  # standby
        assert (await s.raw("DCDC", "status_1"), await s.raw("DCDC", "status_2")) == (48, 32)  # the 스팜 sample
        await s.write("DCDC", 107, 0x55)  # solar, at noon
        assert await s.flags("DCDC", "status_1") == {"input_mc_closed", "output_mc_closed", "pv_available"}
        assert await s.flags("DCDC", "status_2") == {"solar", "steady"}
    async with site(tmp_path, hour=22) as s:  # at night there is nothing to generate
        await s.write("DCDC", 107, 0x55)
        assert "pv_available" not in await s.flags("DCDC", "status_1")


async def test_generator_and_contactor_take_0x55_on_and_0xaa_off(tmp_path):
    async with site(tmp_path) as s:
        plant = s.sim.plant
        await s.write("PCS", 28, 0x55)
        assert plant.pcs.generator
        await s.write("PCS", 28, 0xAA)
        assert not plant.pcs.generator
        assert await exception_code(s.write("PCS", 28, 0x01)) == 0x03
        await s.write("PCS", 26, 0xAA)
        assert not plant.bms.contactor
        await s.write("PCS", 26, 0x55)
        assert plant.bms.contactor


async def test_an_empty_battery_gives_nothing(tmp_path):
    async with site(tmp_path, speed=14400, initial_soc=0.5) as s:  # below the PCS's 1 % Empty Batt SOC threshold
        t0 = s.sim.plant.time
        await s.write("PCS", 23, 0x55)  # regen (discharge): accepted, but the PCS gives nothing
        await s.until(lambda: _later(s, t0 + 3600), 5, "an hour of plant time")
        assert await s.value("BMS", "battery_soc") == 0.5
        assert await s.value("PCS", "battery_instantaneous_power") == 0.0
        assert await s.value("PCS", "ac_active_power") == 0.0
        assert "empty_soc" in await s.flags("PCS", "state_1")
        s.sim.set_soc(0.0)
        await s.write("PCS", 24, 0x55)  # independent operation: the farm load gets nothing from the battery either
        await s.until(lambda: _later(s, t0 + 2 * 3600), 5, "another hour")
        assert await s.value("BMS", "battery_soc") == 0.0
        assert await s.value("PCS", "ac_active_power") == 0.0
        assert s.sim.plant.pcs.energy["dc_dis"] == 0.0
        await s.write("PCS", 1, 300)  # 30 kW
        await s.write("PCS", 22, 0x55)  # charging is still possible
        await s.until(lambda: _later(s, t0 + 3 * 3600), 5, "a third hour")
        assert await s.value("BMS", "battery_soc") > 40
        assert "empty_soc" not in await s.flags("PCS", "state_1")  # cleared above 5 %


async def _later(s: Site, plant_time: float) -> bool:
    await s.words("BMS", "holding", 0, 3)  # a request brings the plant up to the clock
    return s.sim.plant.time >= plant_time


def test_a_step_never_takes_the_battery_past_empty_or_full():
    plant = SimPlant(PlantParams(capacity_kwh=0.5, initial_soc=1.5))  # 30 kW for 1 s: 1.7 % of this battery
    plant.write("PCS", 2, 300)
    plant.write("PCS", 23, 0x55)
    plant.step(1.0)
    assert plant.bms.soc == 0.0
    assert plant.pcs.energy["dc_dis"] == pytest.approx(0.5 * 0.015)  # only what it held
    plant.step(1.0)
    assert plant.bms.soc == 0.0 and plant.pcs.power_kw == 0.0
    plant.bms.soc = 99.0
    plant.write("PCS", 1, 300)
    plant.write("PCS", 22, 0x55)
    plant.step(1.0)
    assert plant.bms.soc == 100.0 and plant.pcs.energy["dc_chg"] == pytest.approx(0.5 * 0.01)  # only its room
    plant.step(1.0)
    assert plant.bms.soc == 100.0 and plant.pcs.full and plant.pcs.power_kw == 0.0


async def test_the_pcs_trips_after_its_real_time_limit_without_requests(tmp_path):
    async with site(tmp_path, speed=1200, pcs_comm_trip_real_s=0.5) as s:  # 0.5 real s = 10 plant minutes
        pcs = s.sim.plant.pcs
        await s.write("PCS", 22, 0x55)  # charging; the first request arms the watchdog
        polled_until = time.monotonic() + 1.0
        while time.monotonic() < polled_until:  # polled well within the limit: twice as long, no trip
            assert await s.raw("PCS", "trip_2") == 0
            await asyncio.sleep(0.1)
        assert pcs.mode == "charge"

        await wait_for(lambda: pcs.latched, 3, "the watchdog's trip")  # nothing asks the PCS now
        assert time.monotonic() - s.sim_device("PCS").last_request >= 0.5  # not before the limit
        assert pcs.mode == "stop"
        assert await s.flags("PCS", "trip_2") == {"comm_error"}
        state = s.maps["PCS"].registers["state_1"]
        raw = await s.raw("PCS", "state_1")
        assert state.flag(raw, "total_fault") and state.decode_fields(raw)["operating_mode"] == "stop"

        await s.write("PCS", 19, 0x55)  # reset, with requests flowing again
        assert await s.raw("PCS", "trip_2") == 0
        assert "total_fault" not in await s.flags("PCS", "state_1")
        await s.write("PCS", 22, 0x55)
        assert not pcs.latched and pcs.mode == "charge"


async def test_the_watchdog_arms_at_the_first_request_and_counts_real_time(tmp_path):
    now = [1000.0]
    async with site(tmp_path, speed=1e-9, realtime=lambda: now[0]) as s:  # the plant's clock all but stopped
        pcs = s.sim_device("PCS")
        now[0] += 3600
        assert not pcs.check_watchdog()  # nobody has talked to it yet
        await s.words("PCS", "input", 0, 1)
        now[0] += 29.9
        assert not pcs.check_watchdog()
        now[0] += 0.2
        await s.words("PCS", "input", 0, 1)  # the request arriving after 30.1 s of silence finds the PCS tripped
        assert s.sim.plant.pcs.latched and await s.flags("PCS", "trip_2") == {"comm_error"}
