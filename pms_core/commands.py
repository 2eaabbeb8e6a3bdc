"""The single command path: every device write, from the console, MQTT or the automatic mode.

The service validates a named command against the device's map before
anything is written, asks the operation manager whether the source may
command now, serialises commands per device, writes, and publishes a
`CommandResult` at each stage: `written` (the device acknowledged the write),
then `confirmed` or `unconfirmed` when the map declares how the device shows
the result, or `failed` with the reason (nothing, or not everything, written).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from pms_core.bus import Bus, Snapshot
from pms_core.clock import Clock
from pms_core.devices import Device
from pms_core.modbus import LinkError
from pms_core.reasons import Reason, ReasonError
from pms_core.registers import Command, Confirm, Effect, Register, Write

log = logging.getLogger(__name__)

# "interlock": the PMS itself, enforcing an interlock (pms_core/interlocks.py) in any mode
Source = Literal["gui", "mqtt", "auto", "interlock"]  # who asked; a raw write is a command (write_register)
Status = Literal["written", "confirmed", "unconfirmed", "failed"]
CONFIRM_POLLS = 3
# Commands from people and remote systems that may wait for one device; more are refused `busy` at once (a burst
# must be answered, not queued for minutes). The automatic mode and the interlocks are never refused so.
MAX_WAITING = 4
TRUE_WORDS = {"true": True, "on": True, "1": True, "false": False, "off": False, "0": False}


class CommandRejected(ReasonError):
    """A command that must not be written; the message tells the operator why."""


@dataclass(frozen=True)
class CommandResult:
    """One stage of a command's life, published on the bus (and persisted by the audit log)."""

    id: int
    source: Source
    device_name: str
    command: str
    params: dict[str, Any]
    status: Status
    writes: tuple[tuple[int, int], ...] = ()  # (address, raw value) acknowledged by the device
    why: Reason | None = None  # of a failure or an unconfirmed write
    request_id: str | None = None
    timestamp: float = 0.0  # plant epoch
    acked_at: float | None = None  # plant monotonic time of the device's acknowledgement

    @property
    def ok(self) -> bool:
        return self.status in ("written", "confirmed")

    @property
    def reason(self) -> str | None:
        """`why` in English, as MQTT, the log and the audit log keep it."""
        return None if self.why is None else self.why.text


@dataclass(frozen=True)
class Plan:
    """What a validated command will write and how the device will show it took effect."""

    writes: tuple[tuple[int, int], ...]
    confirm: Confirm | None = None
    confirm_register: Register | None = None  # the status register that `confirm` reads
    readback: Register | None = None  # set-points: the register must read back the written value
    timeout: float = 10.0
    label: str = ""
    effect: Effect = "energize"  # what it does to the plant, for the interlocks
    reserved: bool = False  # RESERVED in the datasheet: sent for MQTT only (the contract names it), never by us


@dataclass
class _Pending:
    result: CommandResult
    plan: Plan
    done: asyncio.Future[CommandResult] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


def gate_nothing(source: Source) -> Reason | None:
    return None


def no_interlock(device: Device, effect: Effect) -> Reason | None:
    return None


class CommandService:
    def __init__(self, devices: dict[str, Device], bus: Bus, clock: Clock) -> None:
        self.devices = devices
        self.bus = bus
        self.clock = clock
        # Set by the operation manager: returns why `source` may not command now, or None.
        self.gate: Callable[[Source], Reason | None] = gate_nothing
        # Set by the interlocks: why a write with this effect may not go to the device now, or None.
        self.interlock: Callable[[Device, Effect], Reason | None] = no_interlock
        self._closed = False
        self._locks = {name: asyncio.Lock() for name in devices}
        self._waiting = dict.fromkeys(devices, 0)
        self._ids = itertools.count(1)
        # (device name, command) -> the command awaiting confirmation: a newer mode command supersedes
        # an older one, but a set-point does not cancel the confirmation of a mode.
        self._confirming: dict[tuple[str, str], _Pending] = {}
        self._confirm_tasks: set[asyncio.Task[None]] = set()
        bus.subscribe(Snapshot, self._on_snapshot)

    # --- public API ---------------------------------------------------------------
    async def execute(
        self,
        device_name: str,
        command: str,
        params: dict[str, Any] | None = None,
        *,
        source: Source,
        request_id: str | None = None,
        still_valid: Callable[[], Reason | None] | None = None,
    ) -> CommandResult:
        """Validate, gate, write. Returns at `written` or `failed`; confirmation follows as an event.

        `still_valid` is asked once the device is free, just before the write: it returns why the command no longer
        applies (a step the automatic mode gave up meanwhile, an MQTT message that grew too old while it waited)."""
        params = dict(params or {})
        result = CommandResult(next(self._ids), source, device_name, command, params, "failed", request_id=request_id)
        device = self.devices.get(device_name)
        if device is None:
            return self._finish(replace(result, why=Reason("command.unknown_device", device=device_name)))
        try:
            plan = self.plan(device, command, params)
        except CommandRejected as exc:
            return self._finish(replace(result, why=exc.reason))
        if plan.reserved and source in ("gui", "auto"):
            return self._finish(replace(result, why=Reason("command.reserved", label=plan.label)))
        return await self._write(device, result, plan, still_valid)

    async def write_raw(
        self,
        device_name: str,
        address: int,
        value: int,
        *,
        request_id: str | None = None,
        still_valid: Callable[[], Reason | None] | None = None,
    ) -> CommandResult:
        """A raw register write, as one of the map's named commands would make it: a command's exact value (0x55 to
        20), or a set-point within its command's bounds and the device's rating. Registers no command writes (the
        BMS's network settings 203-205) are never written raw."""
        params = {"address": address, "value": value}
        result = CommandResult(
            next(self._ids), "mqtt", device_name, "write_register", params, "failed", request_id=request_id
        )
        device = self.devices.get(device_name)
        if device is None:
            return self._finish(replace(result, why=Reason("command.unknown_device", device=device_name)))
        reg = next((r for r in device.map.registers.values() if r.address == address and r.writable), None)
        if reg is None:
            why = Reason("command.not_writable", address=address, device=device_name)
            return self._finish(replace(result, why=why))
        try:
            plan = self._plan_raw(device, reg, value)
        except CommandRejected as exc:
            return self._finish(replace(result, why=exc.reason))
        return await self._write(device, result, plan, still_valid)

    async def confirmation(self, result: CommandResult) -> CommandResult:
        """The final stage of a written command: `confirmed`, `unconfirmed`, or itself if nothing confirms it."""
        pending = next((p for p in self._confirming.values() if p.result.id == result.id), None)
        return result if pending is None else await asyncio.shield(pending.done)

    def plan(self, device: Device, command: str, params: dict[str, Any]) -> Plan:
        """Validate a named command against the map; CommandRejected says what is wrong."""
        spec = device.map.commands.get(command)
        if spec is None:
            known = ", ".join(sorted(device.map.commands)) or Reason("common.none")
            raise CommandRejected(
                Reason("command.unknown_command", device=device.name, type=device.type, command=command, known=known)
            )
        if spec.address is not None and spec.value is not None:
            return Plan(
                ((spec.address, spec.value),), label=f"{command} ({spec.address}={spec.value:#x})", effect=spec.fixed_effect
            )
        assert spec.param is not None
        if spec.param not in params:
            raise CommandRejected(Reason("command.needs_param", command=command, param=spec.param))
        arg = params[spec.param]
        if spec.choices:
            return self._plan_choice(device, command, spec, arg)
        return self._plan_setpoint(device, command, spec, arg)

    async def stop(self) -> None:
        """Nothing more is written (a command racing the shutdown is refused), pending confirmations end."""
        self._closed = True
        for task in list(self._confirm_tasks):
            task.cancel()
        await asyncio.gather(*self._confirm_tasks, return_exceptions=True)

    # --- validation -------------------------------------------------------------------
    def _plan_raw(self, device: Device, reg: Register, value: int) -> Plan:
        """The named command that makes this write, planned (and so bounded) as that command."""
        known: list[str] = []
        for name, cmd in device.map.commands.items():
            if cmd.address == reg.address:
                known.append(f"{cmd.value:#x}")
                if cmd.value == value:
                    return self.plan(device, name, {})
            for key, write in cmd.choices.items():
                if write.address == reg.address:
                    known.append(f"{write.value:#x}")
                    if write.value == value:
                        return self.plan(device, name, {cmd.param or "": key})
            if cmd.register_name == reg.name:
                return self.plan(device, name, {cmd.param or "": reg.decode([value])})
        if not known:
            raise CommandRejected(Reason("command.raw_unwritten", register=reg.name, address=reg.address))
        raise CommandRejected(
            Reason("command.raw_values", register=reg.name, address=reg.address, values=", ".join(known), value=value)
        )

    @staticmethod
    def _plan_choice(device: Device, command: str, spec: Command, arg: Any) -> Plan:
        key = arg
        if set(spec.choices) == {"on", "off"}:
            key = _switch(arg, spec.param or "")
        if not isinstance(key, str) or key not in spec.choices:
            raise CommandRejected(
                Reason("command.not_a_choice", command=command, param=spec.param, value=repr(arg),
                       choices=", ".join(spec.choices))
            )  # fmt: skip
        write: Write = spec.choices[key]
        return Plan(
            ((write.address, write.value),),
            confirm=write.confirm,
            confirm_register=device.map.registers[write.confirm.register_name] if write.confirm else None,
            timeout=write.timeout,
            label=f"{command} {key} ({write.address}={write.value:#x})",
            effect=write.effect,
            reserved=write.reserved,
        )

    def _plan_setpoint(self, device: Device, command: str, spec: Command, arg: Any) -> Plan:
        if isinstance(arg, bool) or not isinstance(arg, (int, float)):
            raise CommandRejected(Reason("command.not_a_number", command=command, param=spec.param, value=repr(arg)))
        reg = device.map.registers[spec.register_name or ""]
        high = spec.max
        if spec.max_register is not None:
            snap = device.fresh_snapshot()
            rating = snap.values.get(spec.max_register) if snap else None
            if not isinstance(rating, (int, float)):
                raise CommandRejected(
                    Reason("command.rating_unknown", command=command, register=spec.max_register, device=device.name)
                )
            high = rating if high is None else min(high, rating)
        if spec.min is not None and arg < spec.min:
            raise CommandRejected(
                Reason("command.below_minimum", command=command, value=arg, unit=reg.unit, minimum=spec.min)
            )
        if high is not None and arg > high:
            raise CommandRejected(
                Reason("command.above_limit", command=command, value=arg, unit=reg.unit, limit=high, device=device.name)
            )
        try:
            words = reg.encode(arg)
        except ValueError as exc:  # the register's own words for a value it cannot hold
            raise CommandRejected(Reason("command.unencodable", command=command, error=str(exc))) from None
        if len(words) != 1:
            raise CommandRejected(Reason("command.multi_word", command=command, register=reg.name, count=len(words)))
        return Plan(
            ((reg.address, words[0]),),
            readback=reg,
            label=f"{command} {arg} {reg.unit} ({reg.address}={words[0]})",
            effect="setting",
        )

    # --- writing and confirming --------------------------------------------------------
    async def _write(
        self, device: Device, result: CommandResult, plan: Plan, still_valid: Callable[[], Reason | None] | None = None
    ) -> CommandResult:
        queued = result.source in ("gui", "mqtt")
        if queued and self._waiting[device.name] >= MAX_WAITING:
            busy = Reason("command.busy", count=MAX_WAITING, device=device.name)
            return self._finish(replace(result, why=busy))
        self._waiting[device.name] += queued
        try:
            return await self._write_when_free(device, result, plan, still_valid)
        finally:
            self._waiting[device.name] -= queued

    async def _write_when_free(
        self, device: Device, result: CommandResult, plan: Plan, still_valid: Callable[[], Reason | None] | None
    ) -> CommandResult:
        async with self._locks[device.name]:
            # Gates inside the lock: a stop or an interlock that arrives while we waited wins.
            refusal = (
                (Reason("command.shutting_down") if self._closed else None)
                or self.gate(result.source)
                or self.interlock(device, plan.effect)
                or self._stale_for_auto(device, result.source)
                or (still_valid() if still_valid else None)
            )
            if refusal:
                return self._finish(replace(result, why=refusal))
            if device.state == "offline":
                error = device.error or Reason("command.not_connected")
                return self._finish(replace(result, why=Reason("command.offline", device=device.name, error=error)))
            done: list[tuple[int, int]] = []
            for address, value in plan.writes:
                try:
                    await device.write_register(address, value)
                except LinkError as exc:
                    why = Reason("command.write_failed", address=address, value=value, error=str(exc))
                    return self._finish(replace(result, writes=tuple(done), why=why))
                done.append((address, value))
            written = replace(
                result, status="written", writes=tuple(done), timestamp=self.clock.now(), acked_at=self.clock.monotonic()
            )
            if plan.confirm or plan.readback:
                self._await_confirmation(device, written, plan)
            return self._finish(written, plan.label)

    @staticmethod
    def _stale_for_auto(device: Device, source: Source) -> Reason | None:
        """The automatic mode never acts on stale data (a person in basic mode may: they see the age)."""
        if source == "auto" and device.fresh_snapshot() is None:
            return Reason("command.stale_for_auto", device=device.name)
        return None

    def _await_confirmation(self, device: Device, written: CommandResult, plan: Plan) -> None:
        key = (device.name, written.command)
        superseded = self._confirming.get(key)
        if superseded and not superseded.done.done():
            self._settle(key, superseded, "unconfirmed", Reason("command.superseded", id=written.id))
        pending = _Pending(written, plan)
        self._confirming[key] = pending
        # The map's timeout, but never less than 3 polls: a slowly polled device cannot show it sooner.
        timeout = max(plan.timeout, CONFIRM_POLLS * device.config.poll_interval)

        async def expire() -> None:
            await self.clock.sleep(timeout)
            if not pending.done.done():
                self._settle(key, pending, "unconfirmed", Reason("command.not_shown", timeout=timeout))

        task = asyncio.create_task(expire(), name=f"confirm {device.name} #{written.id}")
        self._confirm_tasks.add(task)
        task.add_done_callback(self._confirm_tasks.discard)
        pending.done.add_done_callback(lambda _: task.cancel())

    def _on_snapshot(self, snap: Snapshot) -> None:
        for key, pending in list(self._confirming.items()):
            if key[0] != snap.device_name or pending.done.done() or snap.monotonic <= (pending.result.acked_at or 0):
                continue  # only data polled after the acknowledgement can confirm
            if shows(snap, pending.plan):
                self._settle(key, pending, "confirmed", None)

    def _settle(self, key: tuple[str, str], pending: _Pending, status: Status, why: Reason | None) -> None:
        final = replace(pending.result, status=status, why=why, timestamp=self.clock.now())
        if self._confirming.get(key) is pending:
            del self._confirming[key]
        pending.done.set_result(final)
        self._finish(final)

    def _finish(self, result: CommandResult, label: str = "") -> CommandResult:
        if not result.timestamp:
            result = replace(result, timestamp=self.clock.now())
        level = logging.INFO if result.ok or result.status == "confirmed" else logging.WARNING
        log.log(
            level,
            "command #%d [%s] %s %s %s: %s%s",
            result.id,
            result.source,
            result.device_name,
            result.command,
            label or result.params,
            result.status,
            f" ({result.reason})" if result.reason else "",
        )
        self.bus.publish(result)
        return result


def _switch(arg: Any, param: str) -> str:
    if isinstance(arg, bool):
        return "on" if arg else "off"
    word = str(arg).strip().lower()
    if word in TRUE_WORDS:
        return "on" if TRUE_WORDS[word] else "off"
    raise CommandRejected(Reason("command.not_a_switch", param=param, value=repr(arg)))


def shows(snap: Snapshot, plan: Plan) -> bool:
    if plan.readback is not None:
        return snap.raw.get(plan.readback.name) == plan.writes[-1][1]
    conf, reg = plan.confirm, plan.confirm_register
    assert conf is not None and reg is not None
    raw = snap.raw.get(reg.name)
    return raw is not None and conf.shown(reg, raw)
