"""The one command path over real TCP: validation, gating, results and what reaches the devices."""

from __future__ import annotations

import pytest

from pms_core.clock import Clock
from pms_core.commands import CommandResult
from pms_core.config import load_config
from tests.helpers.configs import write_config
from tests.helpers.site import SimulatedSite
from tests.helpers.waiting import wait_for

pytestmark = pytest.mark.tcp


async def test_a_mode_command_is_written_then_confirmed(site):
    results: list[CommandResult] = []
    site.runtime.bus.subscribe(CommandResult, results.append)
    pcs = site.name("PCS")
    result = await site.runtime.commands.execute(pcs, "operation_mode", {"mode": "charge"}, source="gui", request_id="r1")
    assert result.status == "written" and result.writes == ((22, 0x55),) and result.request_id == "r1"
    final = await site.runtime.commands.confirmation(result)
    assert final.status == "confirmed" and final.id == result.id
    assert [r.status for r in results] == ["written", "confirmed"]
    assert site.writes() == [("PCS", 22, 0x55)]
    assert site.device("PCS").snapshot.derived["operating_mode"] == "charge"


async def test_a_set_point_is_scaled_and_confirmed_by_reading_it_back(site):
    result = await site.runtime.commands.execute(site.name("PCS"), "set_charge_power", {"kw": 12.5}, source="mqtt")
    assert result.writes == ((1, 125),)
    assert (await site.runtime.commands.confirmation(result)).status == "confirmed"
    assert site.sim.plant.pcs.charge_kw == 12.5


@pytest.mark.parametrize(
    ("device", "command", "params", "reason"),
    [
        ("없는장치", "operation_mode", {"mode": "stop"}, "unknown device '없는장치'"),
        ("PCS", "fly", {}, "has no command 'fly'; known: bms_contactor, operation_mode, reset_faults"),
        ("PCS", "operation_mode", {"mode": "turbo"}, "mode 'turbo' is not one of stop, standby, charge, regen, independent"),
        ("PCS", "operation_mode", {}, "operation_mode needs params.mode"),
        ("PCS", "set_charge_power", {"kw": 31}, "31 kW is above the limit 30.0 kW"),
        ("PCS", "set_charge_power", {"kw": -1}, "below the minimum 0"),
        ("PCS", "set_charge_power", {"kw": "ten"}, "kw must be a number"),
        ("PCS", "bms_contactor", {"enable": "maybe"}, "enable must be true or false"),
        ("DCDC", "operation_mode", {"mode": "charge!"}, "is not one of reset, stop, ready, charge"),
        ("BMS", "reset_errors", {}, None),  # valid: shown for contrast
    ],
)
async def test_invalid_commands_are_refused_and_nothing_is_written(site, device, command, params, reason):
    name = site.name(device) if device in ("PCS", "DCDC", "BMS") else device
    result = await site.runtime.commands.execute(name, command, params, source="mqtt")
    if reason is None:
        assert result.status == "written" and site.writes() == [("BMS", 201, 0x50)]
        return
    assert result.status == "failed" and reason in result.reason
    assert site.writes() == []


async def test_switches_accept_booleans_and_words(site):
    bms = site.name("BMS")
    for value, expected in ((False, 0), ("on", 1), (True, 1), ("off", 0)):
        result = await site.runtime.commands.execute(bms, "dc_contactor", {"enable": value}, source="gui")
        assert result.writes == ((200, expected),)


async def test_raw_writes_only_to_writable_mapped_addresses(site):
    cmd, pcs = site.runtime.commands, site.name("PCS")
    assert (await cmd.write_raw(pcs, 2, 55)).status == "written"
    assert "not a writable register" in (await cmd.write_raw(pcs, 0, 1)).reason  # the rating is read-only
    assert "not a writable register" in (await cmd.write_raw(pcs, 25, 1)).reason  # unmapped
    assert site.writes() == [("PCS", 2, 55)]


async def test_basic_commands_are_refused_while_auto_runs_then_work_in_basic(site):
    op, cmd, pcs = site.runtime.operation, site.runtime.commands, site.name("PCS")
    assert op.set_mode("auto", source="gui").ok
    result = await cmd.execute(pcs, "operation_mode", {"mode": "stop"}, source="gui")
    assert result.status == "failed" and "switch to basic mode" in result.reason
    assert (await cmd.write_raw(pcs, 2, 10)).status == "failed"
    assert site.writes() == []
    assert op.set_mode("manual", source="gui").ok and op.mode == "basic"  # "manual" is "basic"
    result = await cmd.execute(pcs, "operation_mode", {"mode": "stop"}, source="gui")
    assert (await cmd.confirmation(result)).status == "confirmed"


async def test_a_command_the_device_does_not_show_ends_unconfirmed(tmp_path):
    loaded = load_config(write_config(tmp_path, poll_interval=1))
    async with SimulatedSite(loaded, Clock(speed=20)) as site:  # the 10 s confirmation timeout passes in 0.5 s
        await site.all_online()
        site.sim.devices[site.name("PCS")].frozen = True  # answers, but its status never changes
        result = await site.runtime.commands.execute(site.name("PCS"), "operation_mode", {"mode": "regen"}, source="gui")
        final = await site.runtime.commands.confirmation(result)
    assert final.status == "unconfirmed" and "within 10 s" in final.reason


async def test_an_offline_device_is_refused_without_a_write(site):
    await site.sim.server(site.name("DCDC")).stop()
    await wait_for(lambda: site.device("DCDC").state == "offline", 3, "offline")
    result = await site.runtime.commands.execute(site.name("DCDC"), "operation_mode", {"mode": "stop"}, source="gui")
    assert result.status == "failed" and "is offline" in result.reason


async def test_reserved_dcdc_modes_are_sent_for_remote_systems_only(site):
    """102-105 are RESERVED in the DC-DC's V13A datasheet: the MQTT contract still names them, so a remote system may
    send them; the console never offers them (test_gui) and the core refuses them from the console's source."""
    cmd, dcdc = site.runtime.commands, site.name("DCDC")
    refused = await cmd.execute(dcdc, "operation_mode", {"mode": "ready"}, source="gui")
    assert refused.status == "failed" and "RESERVED in the datasheet" in refused.reason
    assert site.writes() == []
    sent = await cmd.execute(dcdc, "operation_mode", {"mode": "ready"}, source="mqtt")
    assert sent.status == "written" and site.writes() == [("DCDC", 102, 0x55)]


async def test_the_dcdc_generation_limit_may_exceed_its_rating_as_at_the_sites(site):
    """The datasheet's range bounds it, not system_capacity: a site runs 21 kW on a 20 kW DC-DC."""
    cmd, dcdc = site.runtime.commands, site.name("DCDC")
    rating = site.device("DCDC").snapshot.values["system_capacity"]
    result = await cmd.execute(dcdc, "set_generation_limit", {"kw": rating + 1}, source="gui")
    assert result.status == "written" and site.writes() == [("DCDC", 2, round((rating + 1) * 10))]
    assert (await cmd.confirmation(result)).status == "confirmed"  # the device reads it back
    too_much = await cmd.execute(dcdc, "set_generation_limit", {"kw": 7000}, source="gui")
    assert too_much.status == "failed" and "above the limit 6553.5 kW" in too_much.reason
