"""The register-map model: load a device map, decode and encode values, plan block reads.

Maps are data (`config/*_map.json`). Everything that turns raw Modbus words
into values and back lives here, in one documented order:
raw words -> sentinel check -> sign (type) -> scale -> polarity.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from pms_core import validation

RegisterType = Literal["uint16", "int16", "uint32", "int32", "bitmask"]
Table = Literal["holding", "input"]
Severity = Literal["info", "warning", "fault"]
# What a command does to the plant, for the interlocks (pms_core/interlocks.py): an interlock names the effects it
# still allows. A command the map does not describe counts as `energize`, the most restricted.
Effect = Literal["stop", "reset", "standby", "energize", "setting"]
BIT_ID = r"^[a-z][a-z0-9_]*$"

WORDS = {"uint16": 1, "int16": 1, "bitmask": 1, "uint32": 2, "int32": 2}
MAX_BLOCK = 125  # Modbus limit for one read request
SIGNED_FLOWS = ("A", "kW", "W")  # units of a current or power whose sign says which way it flows


class MapError(ValueError):
    """A device map that cannot be used; the message names the file and the key."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BitDef(_Strict):
    id: str = Field(pattern=BIT_ID)  # what the code looks a bit up by (`Register.flag`), never its number
    name: str
    severity: Severity
    # Its severity at a site without a grid (`site.off_grid: true`): the PCS's grid blackout is the normal state there.
    off_grid: Severity | None = None


class FieldDef(_Strict):
    """A multi-bit field inside a status register (e.g. PCS state_1 bits 0-1)."""

    bits: list[int] = Field(min_length=2)
    description: str = ""
    values: dict[int, str] = {}

    @field_validator("bits")
    @classmethod
    def _contiguous(cls, bits: list[int]) -> list[int]:
        if bits != list(range(bits[0], bits[0] + len(bits))):
            raise ValueError("field bits must be contiguous and ascending")
        return bits

    def extract(self, raw: int) -> int:
        return (raw >> self.bits[0]) & ((1 << len(self.bits)) - 1)


class Register(_Strict):
    name: str = ""
    address: int = Field(ge=0, le=65535)
    # The address as the datasheet numbers it, where that differs (the BMS's main block: PLC number = address + 1);
    # alarm codes use it, so a technician finds the register in the datasheet.
    datasheet_address: int | None = Field(default=None, ge=0, le=65535)
    table: Table
    type: RegisterType
    scale: float = 1.0
    unit: str = ""
    description: str = ""
    rw: Literal["R", "W", "RW"]
    role: Literal["measurement", "setting", "status", "alarm", "control"]
    # full: stored at every poll (what the console charts and the alarms act on); minute: 1-minute min/max/mean.
    history: Literal["full", "minute"] = "minute"
    default: float | None = None
    # 1 keeps the device's sign; -1 flips it so that positive always means charging. Declared on every signed
    # current and power (checked below): the datasheets do not say, so each map says what a site confirmed.
    polarity: Literal[1, -1] = 1
    # Raw value the device sends for "not available" (e.g. 65535 for Not Used).
    unavailable: int | None = None
    # False: follows the datasheet by an address rule but was never read from a device; not polled.
    verified: bool = True
    # True: a board or firmware version may lack it (the PCS's UPS / generator option, input 50-60). Read in blocks
    # of their own; a device that answers such a block with exception 01 / 02 stays online without it.
    optional: bool = False
    word_order: Literal["big", "little"] = "big"
    bits: dict[int, BitDef] = {}
    fields: dict[str, FieldDef] = {}

    @property
    def words(self) -> int:
        return WORDS[self.type]

    @property
    def readable(self) -> bool:
        return "R" in self.rw

    @property
    def writable(self) -> bool:
        return "W" in self.rw

    @property
    def code_address(self) -> int:
        return self.address if self.datasheet_address is None else self.datasheet_address

    @property
    def end(self) -> int:
        return self.address + self.words

    @model_validator(mode="after")
    def _check(self) -> Register:
        width = 16 * self.words
        for bit in self.bits:
            if not 0 <= bit < width:
                raise ValueError(f"bit {bit} is out of range 0..{width - 1}")
        for name, field in self.fields.items():
            if field.bits[-1] >= width:
                raise ValueError(f"field {name!r} uses bit {field.bits[-1]}, out of range 0..{width - 1}")
        if (self.bits or self.fields) and self.type != "bitmask":
            raise ValueError("bits and fields need type 'bitmask'")
        if self.unavailable is not None and not 0 <= self.unavailable < (1 << width):
            raise ValueError(f"unavailable {self.unavailable} does not fit {self.type}")
        if self.type in ("int16", "int32") and self.unit in SIGNED_FLOWS and "polarity" not in self.model_fields_set:
            raise ValueError(f"a signed {self.unit} register declares its sign: 'polarity': 1 (+ = charging) or -1")
        ids = [d.id for d in self.bits.values()]
        if len(ids) != len(set(ids)):
            raise ValueError(f"bit ids must be unique within a register: {sorted(i for i in ids if ids.count(i) > 1)}")
        return self

    # --- named bits ----------------------------------------------------------------------
    def bit_of(self, flag_id: str) -> int:
        """The bit number of the bit named `flag_id`; KeyError names the register when there is none."""
        for bit, d in self.bits.items():
            if d.id == flag_id:
                return bit
        raise KeyError(f"{self.name} has no bit {flag_id!r}")

    def flag(self, raw: int, flag_id: str) -> bool:
        return bool(raw >> self.bit_of(flag_id) & 1)

    def alarm_bits(self) -> list[tuple[int, BitDef]]:
        """The one rule for what is an alarm: every bit of an alarm register, and the warning and fault bits of
        a status register (the PCS's total fault, the DC-DC's total fail)."""
        return [(b, d) for b, d in sorted(self.bits.items()) if self.role == "alarm" or d.severity != "info"]

    # --- decoding and encoding -------------------------------------------------
    def raw_from_words(self, words: Sequence[int]) -> int:
        if self.words == 1:
            return words[0] & 0xFFFF
        hi, lo = (words[0], words[1]) if self.word_order == "big" else (words[1], words[0])
        return ((hi & 0xFFFF) << 16) | (lo & 0xFFFF)

    def decode(self, words: Sequence[int]) -> float | int | None:
        """Raw words -> engineering value; None where the device says "not available"."""
        raw = self.raw_from_words(words)
        if raw == self.unavailable:
            return None
        if self.type == "bitmask":
            return raw
        bits = 16 * self.words
        value = raw - (1 << bits) if self.type.startswith("int") and raw >= 1 << (bits - 1) else raw
        if self.scale == 1:
            return value * self.polarity
        return round(value * self.scale * self.polarity, 6)

    def raw_range(self) -> tuple[int, int]:
        bits = 16 * self.words
        if self.type.startswith("int"):
            return -(1 << (bits - 1)), (1 << (bits - 1)) - 1
        return 0, (1 << bits) - 1

    def to_raw(self, value: float) -> int:
        """Engineering value -> raw integer (signed for int types), not range-checked."""
        return int(value) if self.type == "bitmask" else round(value * self.polarity / self.scale)

    def words_from_raw(self, raw: int) -> list[int]:
        raw &= (1 << (16 * self.words)) - 1
        if self.words == 1:
            return [raw]
        hi, lo = raw >> 16, raw & 0xFFFF
        return [hi, lo] if self.word_order == "big" else [lo, hi]

    def encode(self, value: float) -> list[int]:
        """Engineering value -> raw words; ValueError when it does not fit the register."""
        raw = self.to_raw(value)
        low, high = self.raw_range()
        if not low <= raw <= high:
            raise ValueError(
                f"{value} {self.unit} does not fit {self.name} ({self.type}, scale {self.scale})".replace("  ", " ")
            )
        return self.words_from_raw(raw)

    def active_bits(self, raw: int) -> list[str]:
        return [d.name for b, d in sorted(self.bits.items()) if raw >> b & 1]

    def decode_fields(self, raw: int) -> dict[str, str]:
        return {name: f.values.get(f.extract(raw), str(f.extract(raw))) for name, f in self.fields.items()}


class Confirm(_Strict):
    """How the device shows that a command took effect: a multi-bit field's value, or a named bit's, and the bits of
    the same register that must be clear as well (the PCS's stop: bits 0-1 read stop, and bit 5 independent too)."""

    register_name: str = Field(alias="register")
    field: str | None = None
    flag: str | None = None
    value: int
    clear: list[str] = []

    @model_validator(mode="after")
    def _one(self) -> Confirm:
        if (self.field is None) == (self.flag is None):
            raise ValueError("confirm needs exactly one of 'field' and 'flag'")
        return self

    def shown(self, register: Register, raw: int) -> bool:
        if any(register.flag(raw, bit) for bit in self.clear):
            return False
        if self.flag is not None:
            return register.flag(raw, self.flag) == bool(self.value)
        return register.fields[self.field or ""].extract(raw) == self.value


class Write(_Strict):
    address: int = Field(ge=0, le=65535)
    value: int = Field(ge=0, le=65535)
    effect: Effect = "energize"
    confirm: Confirm | None = None
    timeout: float = Field(default=10.0, gt=0)
    # RESERVED in the datasheet (DC-DC 102-105 in V13A): kept because the MQTT contract names them, but never
    # offered by the console nor used by the automatic mode.
    reserved: bool = False


class Command(_Strict):
    """A named control command: one fixed write, a choice of writes, or a set-point."""

    description: str = ""
    param: str | None = None
    address: int | None = Field(default=None, ge=0, le=65535)
    value: int | None = Field(default=None, ge=0, le=65535)
    effect: Effect | None = None  # of a fixed write (a choice has its own; a set-point is a setting)
    choices: dict[str, Write] = {}
    register_name: str | None = Field(default=None, alias="register")
    min: float | None = None
    max: float | None = None
    max_register: str | None = None

    @model_validator(mode="after")
    def _shape(self) -> Command:
        fixed = self.address is not None and self.value is not None
        shapes = [fixed, bool(self.choices), self.register_name is not None]
        if sum(shapes) != 1:
            raise ValueError("a command is exactly one of: address+value, choices, register (set-point)")
        if (self.choices or self.register_name) and not self.param:
            raise ValueError("a command with choices or a set-point needs 'param'")
        if self.effect is not None and not fixed:
            raise ValueError("'effect' belongs to a fixed write; choices carry their own, a set-point is a setting")
        return self

    @property
    def fixed_effect(self) -> Effect:
        return self.effect or "energize"


class DeviceMapModel(_Strict):
    device_type: Literal["BMS", "PCS", "DCDC"]
    description: str = ""
    sources: list[str] = []
    notes: str = ""
    registers: dict[str, Register]
    commands: dict[str, Command] = {}


@dataclass(frozen=True)
class Block:
    """One read request: `count` words of `table` from `start`."""

    table: Table
    start: int
    count: int
    registers: tuple[Register, ...]

    @property
    def optional(self) -> bool:
        return self.registers[0].optional  # a block never mixes optional and required registers

    @property
    def label(self) -> str:
        return f"{self.table} {self.start}-{self.start + self.count - 1}"

    def decode(self, words: Sequence[int]) -> dict[str, tuple[int, float | int | None]]:
        """Words of this block -> {register name: (raw, value)}."""
        out: dict[str, tuple[int, float | int | None]] = {}
        for reg in self.registers:
            offset = reg.address - self.start
            chunk = words[offset : offset + reg.words]
            out[reg.name] = (reg.raw_from_words(chunk), reg.decode(chunk))
        return out


class DeviceMap:
    """A validated device map with lookups and its read plan."""

    def __init__(self, model: DeviceMapModel, path: Path | None = None) -> None:
        self.model = model
        self.path = path
        self.device_type = model.device_type
        self.registers: dict[str, Register] = {
            name: reg.model_copy(update={"name": name}) for name, reg in model.registers.items()
        }
        self.commands = model.commands
        self.read_plan: tuple[Block, ...] = plan_reads(self.registers.values())
        self._alarm_bits = {name: bits for name, reg in self.registers.items() if (bits := reg.alarm_bits())}

    def off_grid(self) -> DeviceMap:
        """This map as a site without a grid reads it: each bit with an `off_grid` severity has that severity."""
        registers = {
            name: reg.model_copy(update={"bits": {
                n: d.model_copy(update={"severity": d.off_grid}) if d.off_grid else d for n, d in reg.bits.items()
            }})
            for name, reg in self.model.registers.items()
        }  # fmt: skip
        return DeviceMap(self.model.model_copy(update={"registers": registers}), self.path)

    def by_address(self, table: Table, address: int) -> Register | None:
        for reg in self.registers.values():
            if reg.table == table and reg.address == address:
                return reg
        return None

    def alarm_bits(self) -> dict[str, list[tuple[int, BitDef]]]:
        """Per register name, the bits that are alarms (`Register.alarm_bits`, the one rule)."""
        return self._alarm_bits


def plan_reads(registers: Iterable[Register], max_block: int = MAX_BLOCK) -> tuple[Block, ...]:
    """Coalesce contiguous readable registers of one table into as few requests as possible.

    A block never spans an unmapped address (real devices refuse the whole read),
    never mixes optional and required registers (a device without the option
    would refuse the required ones with it) and never exceeds `max_block` words.
    """
    regs = sorted(
        (r for r in registers if r.readable and r.verified),
        key=lambda r: (r.table, r.address),
    )
    blocks: list[Block] = []
    current: list[Register] = []
    for reg in regs:
        if current:
            first, last = current[0], current[-1]
            if (reg.table == last.table and reg.address == last.end and reg.optional == last.optional
                    and reg.end - first.address <= max_block):  # fmt: skip
                current.append(reg)
                continue
            blocks.append(_block(current))
        current = [reg]
    if current:
        blocks.append(_block(current))
    return tuple(blocks)


def _block(regs: list[Register]) -> Block:
    return Block(regs[0].table, regs[0].address, regs[-1].end - regs[0].address, tuple(regs))


def _no_duplicate_keys(pairs: list[tuple[str, object]]) -> dict[str, object]:
    out: dict[str, object] = {}
    for key, value in pairs:
        if key in out:
            raise MapError(f"duplicate key {key!r}")
        out[key] = value
    return out


def _overlaps(registers: Mapping[str, Register]) -> str | None:
    seen: dict[tuple[str, int], str] = {}
    for name, reg in sorted(registers.items(), key=lambda kv: (kv[1].table, kv[1].address)):
        for addr in range(reg.address, reg.end):
            other = seen.get((reg.table, addr))
            if other is not None:
                return f"registers.{name}: address {addr} ({reg.table}) overlaps {other!r}"
            seen[(reg.table, addr)] = name
    return None


def _references(model: DeviceMapModel) -> str | None:
    regs = model.registers
    for cname, cmd in model.commands.items():
        for ref in (cmd.register_name, cmd.max_register):
            if ref is not None and ref not in regs:
                return f"commands.{cname}: unknown register {ref!r}"
        if cmd.register_name is not None and not regs[cmd.register_name].writable:
            return f"commands.{cname}: register {cmd.register_name!r} is not writable"
        for choice, write in cmd.choices.items():
            conf = write.confirm
            if conf is None:
                continue
            where = f"commands.{cname}.choices.{choice}.confirm"
            if conf.register_name not in regs:
                return f"{where}: unknown register {conf.register_name!r}"
            if conf.field is not None and conf.field not in regs[conf.register_name].fields:
                return f"{where}: register {conf.register_name!r} has no field {conf.field!r}"
            for bit in ([conf.flag] if conf.flag is not None else []) + conf.clear:
                if all(d.id != bit for d in regs[conf.register_name].bits.values()):
                    return f"{where}: register {conf.register_name!r} has no bit {bit!r}"
    return None


def load_map(path: Path) -> DeviceMap:
    """Load and validate a map; MapError names the file, the key and the problem."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise MapError(f"{path}: map file not found") from None
    except OSError as exc:
        raise MapError(f"{path}: cannot read map: {exc.strerror}") from None
    try:
        data = json.loads(text, object_pairs_hook=_no_duplicate_keys)
    except MapError as exc:
        raise MapError(f"{path}: {exc}") from None
    except json.JSONDecodeError as exc:
        raise MapError(f"{path}: not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    try:
        model = DeviceMapModel.model_validate(data)
    except ValidationError as exc:
        raise MapError(f"{path}: {validation.lines(exc)[0]}") from None
    problem = _overlaps(model.registers) or _references(model)
    if problem:
        raise MapError(f"{path}: {problem}")
    return DeviceMap(model, path)
