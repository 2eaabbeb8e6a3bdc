"""Decoding, encoding, map validation and read planning: raw words in, values out."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pms_core.alarms import alarm_bits
from pms_core.automation import state_machine as sm
from pms_core.registers import MapError, Register, load_map, plan_reads
from tests.helpers.paths import ROOT


def reg(**kw) -> Register:
    base = {"name": "r", "address": 0, "table": "holding", "type": "uint16", "rw": "R", "role": "measurement"}
    return Register.model_validate(base | kw)


@pytest.mark.parametrize(
    ("spec", "words", "value"),
    [
        ({"type": "uint16"}, [0], 0),
        ({"type": "uint16"}, [65535], 65535),
        ({"type": "uint16", "scale": 0.1}, [7052], 705.2),  # BMS rack voltage, site sample
        ({"type": "int16", "scale": 0.1}, [65528], -0.8),  # PCS battery current at rest, site sample
        ({"type": "int16", "scale": 0.1}, [32767], 3276.7),
        ({"type": "int16", "scale": 0.1}, [32768], -3276.8),
        ({"type": "int16", "scale": 0.1, "polarity": -1}, [65528], 0.8),  # a site that flips the sign
        ({"type": "uint16", "scale": 0.001}, [3563], 3.563),  # cell voltage
        ({"type": "uint32"}, [0x0001, 0x0002], 65538),
        ({"type": "uint32", "word_order": "little"}, [0x0002, 0x0001], 65538),
        ({"type": "int32", "scale": 0.1}, [0xFFFF, 0xFFF6], -1.0),
        ({"type": "int32"}, [0x8000, 0x0000], -(2**31)),
        ({"type": "int16", "unavailable": 65535}, [65535], None),  # "Not Used"
        ({"type": "int16"}, [65535], -1),  # no sentinel declared: 0xFFFF is a real -1
        ({"type": "bitmask", "bits": {"14": {"id": "total_fault", "name": "Total", "severity": "fault"}}}, [49728], 49728),
    ],
)
def test_decode(spec, words, value):
    assert reg(**spec).decode(words) == value


@pytest.mark.parametrize(
    ("spec", "value", "words"),
    [
        ({"type": "uint16", "scale": 0.1}, 10.0, [100]),  # 10 kW set-point, x0.1 kW
        ({"type": "int16", "scale": 0.1}, -0.8, [65528]),
        ({"type": "int16", "scale": 0.1, "polarity": -1}, 0.8, [65528]),
        ({"type": "int32"}, -2, [0xFFFF, 0xFFFE]),
        ({"type": "uint32", "word_order": "little"}, 65538, [0x0002, 0x0001]),
    ],
)
def test_encode_round_trips(spec, value, words):
    r = reg(**spec)
    assert r.encode(value) == words
    assert r.decode(words) == value


@pytest.mark.parametrize(
    ("spec", "value"),
    [({"type": "uint16", "scale": 0.1}, -1), ({"type": "uint16", "scale": 0.1}, 6553.6), ({"type": "int16"}, 40000)],
)
def test_encode_refuses_values_that_do_not_fit(spec, value):
    with pytest.raises(ValueError, match="does not fit"):
        reg(**spec).encode(value)


def test_bit_fields_and_active_bits():
    state_1 = load_map(ROOT / "config" / "pcs_map.json").registers["state_1"]
    # 49728 = bits 6, 9, 14, 15: the site sample with a total fault
    assert state_1.active_bits(49728) == ["Grid Black Out (계통 정전 표시)", "Total Fault (Trip Anyone)", "STATIC S/W Close"]
    assert state_1.decode_fields(0b11) == {"operating_mode": "standby", "battery_state": "idle"}
    assert state_1.decode_fields(0b10001) == {"operating_mode": "charge", "battery_state": "discharging"}


def test_named_bits_are_looked_up_by_id_and_one_rule_says_which_are_alarms():
    pcs = load_map(ROOT / "config" / "pcs_map.json")
    state_1 = pcs.registers["state_1"]
    assert state_1.flag(49728, "total_fault") and state_1.flag(49728, "grid_blackout")  # the site sample
    assert not state_1.flag(0, "total_fault") and not state_1.flag(49728, "independent")
    with pytest.raises(KeyError, match="state_1 has no bit 'fire'"):
        state_1.flag(0, "fire")
    # Status registers contribute only their warning and fault bits; alarm registers every bit.
    alarms = pcs.alarm_bits()
    assert [b for b, _ in alarms["state_1"]] == [6, 7, 14]
    assert len(alarms["alarm_1"]) == len(pcs.registers["alarm_1"].bits)
    bms = load_map(ROOT / "config" / "bms_map.json")
    fire = bms.registers["fire_alarm"]
    assert fire.flag(1 << 15, "fire") and not fire.flag(1 << 15, "smoke_sensor_fault")
    # What a command does, for the interlocks.
    modes = pcs.commands["operation_mode"].choices
    effects = [modes[m].effect for m in ("stop", "standby", "charge", "independent")]
    assert effects == ["stop", "standby", "energize", "energize"]
    assert pcs.commands["reset_faults"].fixed_effect == "reset"
    assert pcs.commands["bms_contactor"].choices["off"].effect == "stop"


def test_bit_ids_must_be_unique_in_a_register(tmp_path):
    bits = {"0": {"id": "trip", "name": "a", "severity": "fault"}, "1": {"id": "trip", "name": "b", "severity": "fault"}}
    path = write_map(tmp_path, {"a": R | {"address": 1, "type": "bitmask", "role": "alarm", "bits": bits}})
    with pytest.raises(MapError, match="bit ids must be unique within a register"):
        load_map(path)


def write_map(tmp_path: Path, registers: dict, commands: dict | None = None, raw: str | None = None) -> Path:
    path = tmp_path / "bad_map.json"
    data = {"device_type": "PCS", "registers": registers, "commands": commands or {}}
    path.write_text(raw if raw is not None else json.dumps(data), encoding="utf-8")
    return path


R = {"table": "holding", "type": "uint16", "rw": "R", "role": "measurement"}


@pytest.mark.parametrize(
    ("registers", "commands", "raw", "message"),
    [
        ({"a": R | {"address": 1}, "b": R | {"address": 1}}, None, None, "registers.b: address 1 (holding) overlaps 'a'"),
        ({"a": R | {"address": 1, "type": "uint32"}, "b": R | {"address": 2}}, None, None, "overlaps"),
        ({"a": R | {"address": 1, "type": "float16"}}, None, None, "registers.a.type: Input should be"),
        (
            {"a": R | {"address": 1, "type": "bitmask", "bits": {"16": {"id": "x", "name": "x", "severity": "info"}}}},
            None,
            None,
            "registers.a: bit 16 is out of range 0..15",
        ),
        ({"a": R | {"address": 1, "colour": "red"}}, None, None, "registers.a.colour: unknown key"),
        ({"a": R | {"address": 1}}, {"set": {"param": "kw", "register": "a"}}, None, "register 'a' is not writable"),
        ({"a": R | {"address": 1}}, {"go": {"address": 20}}, None, "commands.go: a command is exactly one"),
        ({}, None, '{"device_type": "PCS", "registers": {}, "registers": {}}', "duplicate key 'registers'"),
        ({}, None, "{not json", "not valid JSON"),
    ],
)
def test_bad_maps_are_refused_naming_file_and_key(tmp_path, registers, commands, raw, message):
    path = write_map(tmp_path, registers, commands, raw)
    with pytest.raises(MapError) as err:
        load_map(path)
    assert str(err.value).startswith(f"{path}: ")
    assert message in str(err.value)


def test_read_plan_coalesces_but_never_crosses_a_gap_or_125_words():
    regs = [reg(name=f"h{a}", address=a) for a in (*range(0, 3), *range(5, 7))]
    regs += [reg(name=f"i{a}", address=a, table="input") for a in range(0, 200)]
    regs += [reg(name="w", address=3, rw="W"), reg(name="u", address=4, verified=False)]
    plan = [(b.table, b.start, b.count) for b in plan_reads(regs)]
    assert plan == [("holding", 0, 3), ("holding", 5, 2), ("input", 0, 125), ("input", 125, 75)]


def test_shipped_maps_follow_the_field_facts():
    bms = load_map(ROOT / "config" / "bms_map.json")
    pcs = load_map(ROOT / "config" / "pcs_map.json")
    dcdc = load_map(ROOT / "config" / "dcdc_map.json")
    assert bms.registers["battery_soc"].address == 2
    assert bms.by_address("holding", 57) is None  # nothing there on the real device
    assert all(not (b.start <= 57 < b.start + b.count) for b in bms.read_plan)
    assert (pcs.registers["alarm_2"].table, pcs.registers["alarm_2"].address) == ("input", 57)
    assert (pcs.registers["trip_3"].table, pcs.registers["trip_3"].address) == ("input", 58)
    assert pcs.registers["load_voltage_t"].address == 52 and pcs.registers["load_current_r"].address == 53
    assert pcs.registers["state_2"].unavailable == 65535
    assert dcdc.registers["status_2"].bits[5].severity == "info" and "standby" in dcdc.registers["status_2"].bits[5].name
    modes = pcs.commands["operation_mode"].choices
    assert {k: (w.address, w.value) for k, w in modes.items()} == {
        "stop": (20, 0x55),
        "standby": (21, 0x55),
        "charge": (22, 0x55),
        "regen": (23, 0x55),
        "independent": (24, 0x55),
    }
    assert modes["standby"].timeout == 60 and modes["independent"].timeout == 60
    assert pcs.commands["bms_contactor"].choices["off"].value == 0xAA
    assert bms.commands["reset_errors"].value == 0x50
    dmodes = dcdc.commands["operation_mode"].choices
    assert [dmodes[m].address for m in ("reset", "stop", "ready", "charge", "regen", "start", "standby", "solar")] == list(
        range(100, 108)
    )
    for dmap in (bms, pcs, dcdc):
        for r in dmap.registers.values():
            assert r.rw != "W" or r.role == "control", r.name


# --- the datasheets' site-sample columns (스팜, 한자연), decoded as the PMS reads them ----------------------------
PCS = load_map(ROOT / "config" / "pcs_map.json")
DCDC = load_map(ROOT / "config" / "dcdc_map.json")
BMS = load_map(ROOT / "config" / "bms_map.json")


def test_pcs_battery_voltage_is_signed_as_the_sample_shows():
    assert PCS.registers["battery_voltage"].decode([65522]) == -1.4  # 한자연 4/4: "-14" (x0.1 V), not 6552.2 V
    assert PCS.registers["battery_voltage"].decode([518]) == 51.8  # 스팜 0327


def test_pcs_state_1_of_the_sites_reads_total_fault_and_the_contactors():
    state = PCS.registers["state_1"]
    assert state.flag(49728, "total_fault") and state.flag(16384, "total_fault")  # both sites, TRIP1 = 1
    # 49728 = bits 6, 9 (undocumented), 14, 15: blackout (the off-grid site), Local (Remote Enable clear), fault
    assert [d.id for b, d in sorted(state.bits.items()) if 49728 >> b & 1] == [
        "grid_blackout", "total_fault", "static_switch_closed"]  # fmt: skip
    assert not state.flag(49728, "remote_enable")
    assert state.decode_fields(49728)["operating_mode"] == state.fields["operating_mode"].values[0]


def test_the_pcs_stop_is_confirmed_only_when_independent_operation_has_ended_too():
    stop = PCS.commands["operation_mode"].choices["stop"].confirm
    state = PCS.registers["state_1"]
    assert stop is not None
    independent = 1 << state.bit_of("independent")
    assert stop.shown(state, 0) and not stop.shown(state, independent)  # bits 0-1 read stop either way


def test_dcdc_status_1_bit_9_is_pv_generation_possible():
    assert DCDC.registers["status_1"].bit_of("pv_available") == 9
    assert DCDC.registers["status_1"].bits[9].name == "PV 발전 가능"


def test_dcdc_102_to_105_are_reserved_and_no_automatic_step_uses_a_reserved_command():
    choices = DCDC.commands["operation_mode"].choices
    assert sorted(w.address for w in choices.values() if w.reserved) == [102, 103, 104, 105]  # V13A PDF
    ctx = sm.Context(90, 10, 30, 600, 5, 10, has_dcdc=True)
    maps = {"PCS": PCS, "DCDC": DCDC, "BMS": BMS}
    for name in (*sm.STATE_OF, "fault_recovery", "dcdc_recovery", "recovery"):
        for step in sm.sequence(name, ctx):
            spec = maps[step.device_type].commands[step.command]
            arg = dict(step.params).get(spec.param or "")
            write = spec.choices.get(arg) if isinstance(arg, str) else None  # a switch (on / off) is never reserved
            assert write is None or not write.reserved, (name, step.label)


def test_the_dcdc_generation_limit_is_bounded_by_the_datasheet_range_not_the_rating():
    limit = DCDC.commands["set_generation_limit"]
    assert limit.max_register is None and limit.max == 6553.5  # U16 x0.1 kW; a site runs 21 kW on 20 kW


def test_bms_alarm_codes_follow_the_datasheet_numbering():
    codes = {b.alarm: b.code for bits in alarm_bits(BMS).values() for b in bits}
    assert codes["error_code_2.3"] == "HR56.3"  # RBMS-PMS comm: map address 55, the datasheet's PLC number 56
    assert codes["fire_alarm.0"] == "HR57.0"
    assert {b.code for b in alarm_bits(PCS)["trip_1"]} >= {"IR24.0"}  # the PCS numbers as the map does


def test_every_signed_current_and_power_declares_its_sign(tmp_path):
    for dmap in (PCS, DCDC, BMS):
        for r in dmap.registers.values():
            if r.type in ("int16", "int32") and r.unit in ("A", "kW", "W"):
                assert "polarity" in r.model_fields_set, (dmap.device_type, r.name)
    path = write_map(tmp_path, {"p": R | {"address": 1, "type": "int16", "unit": "kW"}})
    with pytest.raises(MapError, match=r"registers\.p: a signed kW register declares its sign"):
        load_map(path)


def test_the_optional_pcs_block_is_read_on_its_own():
    optional = [b for b in PCS.read_plan if b.optional]
    assert [(b.table, b.start, b.count) for b in optional] == [("input", 50, 11)]
    assert all(not r.optional for b in PCS.read_plan if not b.optional for r in b.registers)


def test_off_grid_makes_the_grid_blackout_information():
    bit = PCS.registers["state_1"].bit_of("grid_blackout")
    assert PCS.registers["state_1"].bits[bit].severity == "warning"
    assert PCS.off_grid().registers["state_1"].bits[bit].severity == "info"
    assert "state_1" not in PCS.off_grid().alarm_bits() or all(
        d.id != "grid_blackout" for _, d in PCS.off_grid().alarm_bits()["state_1"])  # fmt: skip
