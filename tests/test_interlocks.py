"""The interlock table, row by row, against the simulator over TCP: the simulator sets the bits, the PMS reads them.

Plant time runs 50x (poll 1 s = 20 ms real, command_interval 5 s = 0.1 s real).
"""

from __future__ import annotations

import asyncio
import logging

import pytest

from pms_core.bus import AlarmChanged, Snapshot
from pms_core.clock import Clock
from pms_core.commands import CommandResult
from pms_core.config import load_config
from pms_core.interlocks import RULES, SocCheck, raised_bits
from pms_core.registers import load_map
from pms_sim import PlantParams
from tests.helpers.configs import auto_site, write_config
from tests.helpers.paths import ROOT
from tests.helpers.ports import free_port
from tests.helpers.site import SimulatedSite
from tests.helpers.waiting import wait_for

pytestmark = pytest.mark.tcp

FIRE = 1 << 15  # BMS fire_alarm bit 15 (the test speaks the device's language: the simulator sets raw bits)
INTERVAL = 5.0


def site(tmp_path, **kw) -> SimulatedSite:
    """A plant at 50x whose data goes stale after 0.3 s of real time: a loaded CI machine's hiccup is not an outage."""
    return auto_site(tmp_path, 50, 1, stale_real=0.3, **kw)


def interlock_results(plant: SimulatedSite) -> list[CommandResult]:
    results: list[CommandResult] = []
    plant.runtime.bus.subscribe(CommandResult, lambda r: results.append(r) if r.source == "interlock" else None)
    return results


def alarms_of(plant: SimulatedSite) -> list[AlarmChanged]:
    events: list[AlarmChanged] = []
    plant.runtime.bus.subscribe(AlarmChanged, events.append)
    return events


def active(plant: SimulatedSite, alarm: str) -> bool:
    return ("PMS", alarm) in plant.runtime.alarms.active


async def run_auto_to_normal(plant: SimulatedSite) -> None:
    op = plant.runtime.operation
    assert op.set_mode("auto", source="gui").ok
    outcome = op.start_auto(source="gui")
    assert outcome.ok, outcome.message
    await wait_for(lambda: plant.runtime.auto.machine.state == "NORMAL", 10, "normal operation")


async def run_auto_to_charging(plant: SimulatedSite) -> None:
    """The automatic mode running its charge cycle (SOC low), charging until the stop threshold."""
    await plant.all_online()
    await run_auto_to_normal(plant)
    auto = plant.runtime.auto
    plant.sim.set_soc(4.5)
    await wait_for(lambda: auto.machine.state == "CHARGING" and auto.machine.waiting == "soc", 10, "charging")


async def command(plant: SimulatedSite, device_type: str, name: str, **params) -> CommandResult:
    return await plant.runtime.commands.execute(plant.name(device_type), name, params, source="gui")


# --- row 1: BMS fire -----------------------------------------------------------------------------------
async def test_fire_in_basic_mode_stops_pcs_and_dcdc_until_read_back_and_refuses_starts(tmp_path):
    plant = site(tmp_path, command_interval=INTERVAL)
    async with plant:
        await plant.all_online()
        sim = plant.sim.plant
        assert (await command(plant, "PCS", "operation_mode", mode="independent")).ok  # the operator runs it by hand
        assert (await command(plant, "DCDC", "operation_mode", mode="solar")).ok
        await wait_for(lambda: sim.pcs.mode == "independent" and sim.dcdc.mode == "solar", 5, "plant running")
        results, before = interlock_results(plant), len(plant.writes())
        plant.sim.set_bits(plant.name("BMS"), "fire_alarm", FIRE)
        await wait_for(lambda: sim.pcs.mode == "stop" and sim.dcdc.mode == "stopped", 5, "both stopped")
        await wait_for(lambda: active(plant, "interlock_fire"), 2, "interlock alarm")
        await plant.runtime.clock.sleep(6 * INTERVAL)  # read back stopped: nothing is sent again
        assert sorted(plant.writes()[before:]) == [("DCDC", 101, 0x55), ("PCS", 20, 0x55)]
        assert {(r.command, r.params["mode"], r.status) for r in results} >= {("operation_mode", "stop", "confirmed")}
        assert plant.runtime.operation.mode == "basic"  # the interlock acts in basic mode; nothing else changed

        refused = await command(plant, "PCS", "operation_mode", mode="charge")
        assert not refused.ok and "BMS fire alarm" in refused.reason and "Fire Alarm" in refused.reason
        assert not (await command(plant, "DCDC", "operation_mode", mode="solar")).ok
        assert (await command(plant, "PCS", "operation_mode", mode="stop")).ok  # a stop is always allowed

        plant.sim.set_bits(plant.name("BMS"), "fire_alarm", 0)
        await wait_for(lambda: not active(plant, "interlock_fire"), 3, "fire cleared")
        assert (await command(plant, "PCS", "operation_mode", mode="charge")).ok


async def test_a_second_fire_soon_after_the_first_is_acted_on_at_once(tmp_path):
    """A new episode does not wait out the command_interval of the last one's stop."""
    plant = site(tmp_path, params=PlantParams(pcs_start_delay=0), command_interval=60)
    async with plant:
        await plant.all_online()
        results, clock, bms = interlock_results(plant), plant.runtime.clock, plant.name("BMS")
        stops: list[float] = []
        for _ in range(2):
            assert (await command(plant, "PCS", "operation_mode", mode="independent")).ok
            await wait_for(lambda: plant.device("PCS").snapshot.value("operating_mode") == "independent", 3, "running")
            stops.append(clock.now())
            plant.sim.set_bits(bms, "fire_alarm", FIRE)
            await wait_for(lambda: len([r for r in results if r.status == "written"]) == len(stops), 3, "PCS stop")
            plant.sim.set_bits(bms, "fire_alarm", 0)
            await wait_for(lambda: not active(plant, "interlock_fire"), 3, "fire cleared")
        written = [r.timestamp for r in results if r.status == "written"]
        assert written[1] - written[0] < 60  # within one command_interval of the first stop...
        assert written[1] - stops[1] < 3  # ...and still sent at the next poll


async def test_the_fire_stop_goes_to_every_pcs_and_dcdc(tmp_path):
    devices = [{"name": name, "type": kind, "ip": "127.0.0.1", "port": free_port(), "poll_interval": 1}
               for name, kind in (("BMS", "BMS"), ("PCS-A", "PCS"), ("PCS-B", "PCS"), ("DCDC", "DCDC"))]  # fmt: skip
    loaded = load_config(write_config(tmp_path, devices=devices, auto_mode={"command_interval": INTERVAL}), plant_speed=50)
    async with SimulatedSite(loaded, Clock(50)) as plant:
        await plant.all_online()
        assert (await plant.runtime.commands.execute("PCS-A", "operation_mode", {"mode": "independent"}, source="gui")).ok
        await wait_for(lambda: plant.sim.plant.pcs.mode == "independent", 3, "running")  # both read the one model
        plant.sim.devices["PCS-B"].reject_writes = "busy"  # so that its stop shows as tried, apart from PCS-A's
        plant.sim.set_bits("BMS", "fire_alarm", FIRE)
        await wait_for(lambda: (20, 0x55) in plant.sim.devices["PCS-B"].refused, 3, "the second PCS's stop")
        await wait_for(lambda: ("PCS", 20, 0x55) in plant.writes(), 3, "the first PCS's stop")


async def test_fire_in_fault_is_acted_on_and_a_refused_stop_is_sent_again_after_command_interval(tmp_path):
    """The precursors of a fire put the automatic mode in FAULT first; the fire must still stop the plant."""
    plant = site(tmp_path, command_interval=INTERVAL)
    async with plant:
        await plant.all_online()
        dcdc_sim, pcs_sim = plant.sim.devices[plant.name("DCDC")], plant.sim.devices[plant.name("PCS")]
        dcdc_sim.reject_writes = "injected refusal"
        op, auto = plant.runtime.operation, plant.runtime.auto
        assert op.set_mode("auto", source="gui").ok and op.start_auto(source="gui").ok
        await wait_for(lambda: auto.machine.state == "FAULT", 10, "FAULT: the DC-DC reset failed twice")
        assert plant.sim.plant.pcs.mode == "independent"
        dcdc_sim.reject_writes = None
        pcs_sim.reject_writes = "busy"  # the first fire stop is refused
        results = interlock_results(plant)
        plant.sim.set_bits(plant.name("BMS"), "fire_alarm", FIRE)
        await wait_for(lambda: (20, 0x55) in pcs_sim.refused, 3, "first PCS stop refused")
        pcs_sim.reject_writes = None
        await wait_for(lambda: plant.sim.plant.pcs.mode == "stop", 3, "PCS stopped by the second try")

        def pcs_stops() -> list[CommandResult]:
            return [r for r in results if r.device_name == plant.name("PCS") and r.status in ("written", "failed")]

        await wait_for(lambda: len(pcs_stops()) >= 2, 3, "the second try acknowledged")
        pcs = pcs_stops()
        assert [r.status for r in pcs[:2]] == ["failed", "written"]
        assert pcs[1].timestamp - pcs[0].timestamp >= INTERVAL - 0.5  # every command_interval, not in a burst
        assert auto.machine.state == "FAULT" and auto.machine.reason == "BMS fire alarm"


# --- row 2: a BMS bit of severity fault ------------------------------------------------------------------
def test_every_fault_severity_bit_of_the_bms_map_raises_the_bms_fault_interlock():
    bms = load_map(ROOT / "config" / "bms_map.json")
    rule = next(r for r in RULES if r.id == "bms_fault")
    count = 0
    for name, bits in bms.alarm_bits().items():
        for bit, spec in bits:
            snap = Snapshot("BMS", "BMS", 0, 0, {name: 1 << bit}, {name: 1 << bit})
            assert bool(raised_bits(rule, bms, snap)) == (spec.severity == "fault"), (name, bit)
            count += spec.severity == "fault"
    assert count > 100


@pytest.mark.parametrize(
    ("register", "bit", "name"),
    [
        ("battery_system_error", 9, "Rack Over Voltage Error"),
        ("battery_system_error", 0, "Over Charge Current Fault (OCCF)"),
        ("battery_module_error", 2, "Cell Over Temperature Error"),
    ],
)
async def test_a_bms_fault_while_charging_is_fault_pcs_stop_and_dcdc_standby(tmp_path, register, bit, name):
    plant = site(tmp_path, params=PlantParams(initial_soc=30), command_interval=INTERVAL)
    async with plant:
        await run_auto_to_charging(plant)
        auto, sim = plant.runtime.auto, plant.sim
        assert sim.plant.pcs.mode == "charge" and sim.plant.pcs.power_kw > 0
        results = interlock_results(plant)
        sim.set_bits(plant.name("BMS"), register, 1 << bit)
        await wait_for(lambda: auto.machine.state == "FAULT", 3, "FAULT")
        assert name in auto.machine.reason
        await wait_for(lambda: sim.plant.pcs.mode == "stop" and sim.plant.dcdc.mode == "standby", 5, "stop, standby")
        assert sim.plant.pcs.power_kw == 0
        wanted = {(plant.name("PCS"), "stop"), (plant.name("DCDC"), "standby")}
        await wait_for(lambda: {(r.device_name, r.params["mode"]) for r in results if r.status == "confirmed"} == wanted,
                       3, "both confirmed")  # fmt: skip

        op = plant.runtime.operation
        assert op.set_mode("basic", source="gui").ok
        refused = await command(plant, "PCS", "operation_mode", mode="charge")
        assert not refused.ok and name in refused.reason
        assert not (await command(plant, "BMS", "dc_contactor", enable=True)).ok
        allowed = [("PCS", "operation_mode", {"mode": "stop"}), ("PCS", "reset_faults", {}),
                   ("DCDC", "operation_mode", {"mode": "standby"}), ("PCS", "set_charge_power", {"kw": 5})]  # fmt: skip
        for device_type, name_, params in allowed:
            assert (await command(plant, device_type, name_, **params)).ok, (device_type, name_)


# --- row 3: PCS total fault or trip -----------------------------------------------------------------------
async def test_a_tripped_pcs_takes_only_reset_and_stop_from_every_source(tmp_path):
    plant = site(tmp_path, command_interval=INTERVAL)
    async with plant:
        await plant.all_online()
        await run_auto_to_normal(plant)
        plant.sim.set_bits(plant.name("PCS"), "trip_1", 1 << 8)  # Over Temp
        await wait_for(lambda: plant.runtime.auto.machine.state == "FAULT", 3, "FAULT")
        assert "Over Temp" in plant.runtime.auto.machine.reason
        assert plant.runtime.operation.set_mode("basic", source="gui").ok
        refused = await command(plant, "PCS", "operation_mode", mode="charge")
        assert not refused.ok and "PCS total fault or trip" in refused.reason and "reset / stop" in refused.reason
        assert not (await command(plant, "PCS", "set_charge_power", kw=5)).ok
        raw = await plant.runtime.commands.write_raw(plant.name("PCS"), 22, 0x55)  # a raw charge is judged the same
        assert not raw.ok and "interlock" in raw.reason
        assert (await command(plant, "PCS", "operation_mode", mode="stop")).ok
        before = len(plant.writes())
        plant.sim.set_bits(plant.name("PCS"), "trip_1", 0)
        assert (await command(plant, "PCS", "reset_faults")).ok
        await wait_for(lambda: not plant.device("PCS").snapshot.derived["total_fault"], 3, "reset")
        assert plant.writes()[before:] == [("PCS", 19, 0x55)]
        assert (await command(plant, "PCS", "operation_mode", mode="charge")).ok


# --- row 4: DC-DC trip ---------------------------------------------------------------------------------
async def test_a_tripped_dcdc_gets_nothing_but_reset_and_stop_and_the_pcs_side_keeps_running(tmp_path):
    plant = site(tmp_path, params=PlantParams(initial_soc=30), command_interval=INTERVAL)
    async with plant:
        await plant.all_online()
        await run_auto_to_normal(plant)
        auto, sim = plant.runtime.auto, plant.sim
        sim.set_bits(plant.name("DCDC"), "trip_1", 1 << 3)  # output over-voltage
        await wait_for(lambda: auto.status().reason and "DC-DC trip" in auto.status().reason, 3, "DC-DC reported")
        await wait_for(lambda: active(plant, "interlock_dcdc_trip"), 2, "interlock alarm")
        before = len(plant.writes())
        sim.set_soc(4.5)  # the charge cycle still runs on the PCS side
        await wait_for(lambda: auto.machine.state == "CHARGING" and auto.machine.waiting == "soc", 10, "charging")
        sim.set_soc(95)  # SOC high: no DC-DC cycle
        await wait_for(lambda: auto.machine.state == "NORMAL", 10, "charge ended")
        await plant.runtime.clock.sleep(4 * INTERVAL)
        writes = plant.writes()[before:]
        assert [a for t, a, _ in writes if t == "PCS"] == [20, 21, 1, 22, 20, 24]
        assert [w for w in writes if w[0] == "DCDC"] == [] and auto.machine.state == "NORMAL"
        assert plant.runtime.operation.set_mode("basic", source="gui").ok
        assert not (await command(plant, "DCDC", "operation_mode", mode="solar")).ok
        assert (await command(plant, "DCDC", "operation_mode", mode="reset")).ok


# --- row 5: stale or offline devices ------------------------------------------------------------------
async def test_a_frozen_pcs_refuses_the_start_and_holds_a_running_machine(tmp_path):
    plant = site(tmp_path, command_interval=INTERVAL)
    async with plant:
        await plant.all_online()
        op, auto = plant.runtime.operation, plant.runtime.auto
        server = plant.sim.server(plant.name("PCS"))
        server.stop_answering()
        await wait_for(lambda: plant.device("PCS").fresh_snapshot() is None, 5, "PCS stale")
        assert op.set_mode("auto", source="gui").ok
        outcome = op.start_auto(source="gui")
        assert not outcome.ok and "PCS data is stale or offline" in outcome.message
        polls: list[Snapshot] = []
        plant.runtime.bus.subscribe(Snapshot, lambda s: polls.append(s) if s.device_type == "PCS" else None)
        server.resume_answering()  # the link recovers from the timed-out request over a few polls
        await wait_for(lambda: len(polls) >= 5 and plant.device("PCS").fresh_snapshot() is not None, 5, "PCS back")
        await run_auto_to_normal(plant)
        before = len(plant.writes())
        server.stop_answering()
        await wait_for(lambda: auto.machine.state == "HOLD", 5, "HOLD")
        assert "PCS data is stale" in auto.machine.reason
        plant.sim.set_soc(4)  # would start the charge cycle
        await plant.runtime.clock.sleep(6 * INTERVAL)
        assert plant.writes()[before:] == []
        # The door itself refuses the automatic mode a device without fresh data, whatever the machine thinks.
        late = await plant.runtime.commands.execute(plant.name("PCS"), "operation_mode", {"mode": "stop"}, source="auto")
        assert not late.ok and "no fresh data" in late.reason
        server.resume_answering()
        await wait_for(lambda: [a for t, a, _ in plant.writes()[before:] if t == "PCS"][:1] == [20], 10, "charge cycle")
        await wait_for(lambda: auto.machine.state == "CHARGING", 10, "charging")


async def test_a_stale_dcdc_refuses_the_start(tmp_path):
    plant = site(tmp_path, command_interval=INTERVAL)
    async with plant:
        await plant.all_online()
        plant.sim.server(plant.name("DCDC")).stop_answering()
        await wait_for(lambda: plant.device("DCDC").fresh_snapshot() is None, 5, "DC-DC stale")
        await wait_for(lambda: plant.runtime.auto.observation().blind is None, 5, "BMS and PCS fresh")
        assert plant.runtime.operation.set_mode("auto", source="gui").ok
        outcome = plant.runtime.operation.start_auto(source="gui")
        assert not outcome.ok and "DC-DC data is stale" in outcome.message
        assert plant.writes() == []
        plant.sim.server(plant.name("DCDC")).resume_answering()


# --- row 6: implausible SOC ------------------------------------------------------------------------------
async def test_an_soc_out_of_range_is_stale_and_logged_with_its_raw_value(tmp_path, caplog):
    plant = site(tmp_path, params=PlantParams(initial_soc=30), command_interval=INTERVAL)
    async with plant:
        await run_auto_to_charging(plant)
        auto, sim = plant.runtime.auto, plant.sim
        before = len(plant.writes())
        with caplog.at_level(logging.WARNING, logger="pms_core.interlocks"):
            sim.plant.forced[("BMS", "battery_soc")] = 6553.5  # one bad reading must not end the charge at 6 %
            await wait_for(lambda: auto.machine.state == "HOLD", 3, "HOLD")
            assert "outside 0-100 %" in auto.machine.reason and "raw 65535" in auto.machine.reason
            del sim.plant.forced[("BMS", "battery_soc")]
            await wait_for(lambda: auto.machine.state == "CHARGING", 3, "charging again")
        assert any("raw 65535" in r.getMessage() for r in caplog.records)
        assert plant.writes()[before:] == []  # the charge goes on: no stop, no independent


async def test_an_soc_that_jumps_faster_than_a_battery_can_is_held_once(tmp_path):
    plant = site(tmp_path, params=PlantParams(initial_soc=50), command_interval=INTERVAL)
    holds: list[str] = []
    async with plant:
        await plant.all_online()
        await run_auto_to_normal(plant)
        plant.runtime.bus.subscribe(
            AlarmChanged, lambda a: holds.append(a.message) if a.alarm == "auto_hold" and a.active else None
        )
        plant.sim.set_soc(90)  # 40 % in one poll of 1 s
        await wait_for(lambda: bool(holds), 3, "HOLD")
        assert "faster than a battery can (2 %/s)" in holds[0]
        await wait_for(lambda: plant.runtime.auto.machine.state == "SOC_HIGH", 5, "the rule acts on the next reading")


# --- the runner: spacing and shutdown -----------------------------------------------------------------
async def test_command_interval_holds_across_stop_and_start(tmp_path):
    plant = site(tmp_path, command_interval=INTERVAL)
    async with plant:
        await plant.all_online()
        op = plant.runtime.operation
        assert op.set_mode("auto", source="gui").ok and op.start_auto(source="gui").ok
        await wait_for(lambda: plant.writes() == [("PCS", 21, 0x55)], 3, "first write")
        assert op.stop_auto(source="gui").ok and op.start_auto(source="gui").ok
        await wait_for(lambda: len(plant.writes()) >= 2, 5, "the start sequence again")
        first, second = plant.sim.plant.writes[:2]
        assert second[2] == 21 and second[0] - first[0] >= INTERVAL - 0.5


async def test_closing_writes_nothing_on_a_snapshot_that_arrives_during_shutdown(tmp_path):
    plant = site(tmp_path, params=PlantParams(initial_soc=30), command_interval=INTERVAL)
    async with plant:
        await plant.all_online()
        await run_auto_to_normal(plant)
        runtime, before = plant.runtime, len(plant.writes())
        plant.sim.set_bits(plant.name("BMS"), "fire_alarm", FIRE)
        plant.sim.set_soc(3)
        bms = runtime.device_of_type("BMS")
        # The poller's last reading comes back while the runtime stops: as if its poll had been in flight.
        await runtime.stop()
        last = await bms.read()
        runtime.bus.publish(last)
        assert last.raw["fire_alarm"] == FIRE and last.values["battery_soc"] < 5  # what would start a charge and a stop
        await asyncio.sleep(0.2)  # 10 plant seconds: two command intervals for anything that would go out
        late = await command(plant, "PCS", "operation_mode", mode="stop")
        assert not late.ok and late.reason == "the PMS is shutting down"
        assert plant.writes()[before:] == []


# --- optional fault recovery -------------------------------------------------------------------------
async def test_fault_recovery_resets_the_pcs_and_starts_again_once_the_trip_stayed_cleared(tmp_path):
    plant = site(tmp_path, command_interval=INTERVAL, fault_recovery={"enabled": True})
    async with plant:
        await plant.all_online()
        await run_auto_to_normal(plant)
        auto, sim = plant.runtime.auto, plant.sim
        sim.set_bits(plant.name("PCS"), "trip_2", 1)  # the PCS's communication trip, at noon on an off-grid farm
        await wait_for(lambda: auto.machine.state == "FAULT", 3, "FAULT")
        tripped_at = plant.runtime.clock.monotonic()
        sim.set_bits(plant.name("PCS"), "trip_2", 0)  # the condition goes; the total fault stays latched
        before = len(plant.writes())
        await wait_for(lambda: auto.machine.state == "NORMAL", 10, "recovered")
        assert plant.runtime.clock.monotonic() - tripped_at >= 60
        writes = [(t, a) for t, a, _ in plant.writes()[before:]]
        assert writes == [("PCS", 19), ("PCS", 21), ("PCS", 24), ("DCDC", 100), ("DCDC", 107)]
        assert sim.plant.pcs.mode == "independent"


def test_a_glitch_out_of_range_does_not_switch_off_the_rate_check():
    check = SocCheck(max_rate=2.0)
    assert [check.check(soc, None, t) for t, soc in enumerate((50.0, 50.0))] == [None, None]
    assert "outside 0-100 %" in check.check(6553.5, 65535, 2).text
    assert "faster than a battery can" in check.check(4.0, 40, 3).text  # compared with 50 % before the glitch
    assert check.check(4.1, 41, 4) is None
