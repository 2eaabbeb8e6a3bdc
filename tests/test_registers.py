"""Decoding, encoding, map validation and read planning: raw words in, values out."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pms_core.registers import MapError, Register, load_map, plan_reads

ROOT = Path(__file__).resolve().parent.parent


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
