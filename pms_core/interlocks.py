"""Interlocks: what the plant's own alarms forbid or demand, in every mode and every automatic state.

The table (RULES) is data; the README shows it. Each rule watches one device
type's bits by id (or every fault-severity alarm bit of it) and, while active:
- refuses commands whose effect it does not allow, from every source, at the
  command service's one door (a raw write is planned as the command that makes it);
- enforces writes (the fire stop) until the device reads back the wanted
  state, re-sent every `command_interval`: always, or only while the automatic
  mode is engaged;
- is a PMS alarm (`interlock_<id>`), so the console and MQTT show it.

A condition is decided on a fresh snapshot of its device and holds until a
fresh snapshot clears it: a device that goes quiet keeps its last verdict.
The same evaluation checks the BMS's SOC for plausibility (range and rate).
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass
from typing import Any, get_args

from pms_core.bus import AlarmChanged, Bus, Snapshot
from pms_core.clock import Clock
from pms_core.commands import CommandRejected, CommandService, shows
from pms_core.devices import Device
from pms_core.reasons import Param, Reason, joined
from pms_core.registers import DeviceMap, Effect

log = logging.getLogger(__name__)

EVERY_EFFECT: frozenset[Effect] = frozenset(get_args(Effect))
STOP_OR_RESET: frozenset[Effect] = frozenset(("stop", "reset"))
NOT_ENERGIZE: frozenset[Effect] = EVERY_EFFECT - {"energize"}
EFFECT_WORDS: dict[Effect, Reason] = {
    "stop": Reason("effect.stop"), "reset": Reason("effect.reset"), "standby": Reason("effect.standby"),
    "energize": Reason("effect.energize"), "setting": Reason("effect.setting"),
}  # fmt: skip


@dataclass(frozen=True)
class Enforce:
    """A write the interlock makes until the device shows it: a named command of the device's map."""

    device_type: str
    command: str
    mode: str


@dataclass(frozen=True)
class Rule:
    id: str
    title: Reason  # what the condition is, in words
    device_type: str  # whose bits raise it
    flags: tuple[tuple[str, str], ...]  # (register, bit id); empty: every fault-severity alarm bit of the device
    allows: tuple[tuple[str, frozenset[Effect]], ...]  # per device type: the effects still allowed while active
    enforce: tuple[Enforce, ...] = ()
    enforce_always: bool = False  # True: in every mode; False: only while the automatic mode is engaged
    severity: str = "fault"


RULES: tuple[Rule, ...] = (
    Rule(
        "fire", Reason("rule.fire"), "BMS", (("fire_alarm", "fire"),),
        allows=(("BMS", STOP_OR_RESET), ("PCS", STOP_OR_RESET), ("DCDC", STOP_OR_RESET)),
        enforce=(Enforce("PCS", "operation_mode", "stop"), Enforce("DCDC", "operation_mode", "stop")),
        enforce_always=True,
    ),
    Rule(
        "bms_fault", Reason("rule.bms_fault"), "BMS", (),
        allows=(("BMS", NOT_ENERGIZE), ("PCS", NOT_ENERGIZE), ("DCDC", NOT_ENERGIZE)),
        enforce=(Enforce("PCS", "operation_mode", "stop"), Enforce("DCDC", "operation_mode", "standby")),
    ),
    Rule("pcs_trip", Reason("rule.pcs_trip"), "PCS", (), allows=(("PCS", STOP_OR_RESET),)),
    Rule("dcdc_trip", Reason("rule.dcdc_trip"), "DCDC", (), allows=(("DCDC", STOP_OR_RESET),), severity="warning"),
)  # fmt: skip


@dataclass(frozen=True)
class Active:
    """A rule in force on one device: the names of the bits that raise it."""

    rule: Rule
    device_name: str
    names: tuple[str, ...]  # every active bit
    conditions: tuple[str, ...]  # those of alarm registers: the trip itself, not a latched summary such as total fault

    def words(self) -> Reason:
        bits: Param = ", ".join(self.names[:3])  # the map's own names of the bits
        if len(self.names) > 3:
            bits = Reason("interlock.bits_more", bits=bits, more=len(self.names) - 3)
        return Reason("interlock.on", rule=self.rule.title, device=self.device_name, bits=bits)


def allowed_words(allowed: frozenset[Effect]) -> Param:
    """The effects a rule still allows, in words: "reset / stop"."""
    return joined("interlock.or", [EFFECT_WORDS[e] for e in sorted(allowed)])


def raised_bits(rule: Rule, device_map: DeviceMap, snap: Snapshot) -> tuple[tuple[str, bool], ...]:
    """The active bits that raise `rule` in a snapshot: (bit name, of an alarm register). Registers the device
    reports as not available raise nothing."""
    out: list[tuple[str, bool]] = []
    regs = device_map.registers
    if rule.flags:
        for register, flag_id in rule.flags:
            reg, raw = regs[register], snap.raw.get(register)
            if raw is not None and snap.values.get(register) is not None and reg.flag(raw, flag_id):
                out.append((reg.bits[reg.bit_of(flag_id)].name, reg.role == "alarm"))
        return tuple(out)
    for name, bits in device_map.alarm_bits().items():
        raw = snap.raw.get(name)
        if raw is None or snap.values.get(name) is None:
            continue
        out.extend((d.name, regs[name].role == "alarm") for b, d in bits if d.severity == "fault" and raw >> b & 1)
    return tuple(out)


def enforcement(active: Iterable[Active], engaged: bool) -> dict[str, tuple[Enforce, Active]]:
    """Per device type, the write the interlocks want now: the most serious active rule decides (a fire's DC-DC
    stop, not a BMS fault's standby). Rules that enforce only in the automatic mode need it `engaged`."""
    out: dict[str, tuple[Enforce, Active]] = {}
    for act in sorted(active, key=lambda a: RULES.index(a.rule)):
        if act.rule.enforce_always or engaged:
            for write in act.rule.enforce:
                out.setdefault(write.device_type, (write, act))
    return out


def due(shown: bool, refused: bool, busy: bool, last_sent: float | None, now: float, interval: float) -> bool:
    """Whether a wanted write goes out now: not while the device shows it, another interlock forbids it, or the
    last try is still under way; then at once, and again every `interval` until the device shows it."""
    return not (shown or refused or busy) and (last_sent is None or now - last_sent >= interval)


class SocCheck:
    """A BMS SOC is plausible inside 0-100 % and when it moved no faster than the battery can since the last
    reading in range. A reading out of range is never the reference, so the reading after a glitch is compared
    with the one before it; one in range always is, so a real step (a recalibration) costs one reading."""

    def __init__(self, max_rate: float) -> None:
        self.max_rate = max_rate  # % per plant second
        self._last: tuple[float, float] | None = None  # (soc, plant monotonic)
        self.problem: Reason | None = None

    def check(self, soc: float | None, raw: int | None, at: float) -> Reason | None:
        last, problem = self._last, None
        if soc is None or not math.isfinite(soc):
            problem = Reason("soc.not_available", raw=raw)
        elif not 0 <= soc <= 100:
            problem = Reason("soc.out_of_range", soc=soc, raw=raw)
        else:
            self._last = (soc, at)
            if last is not None and at > last[1] and abs(soc - last[0]) / (at - last[1]) > self.max_rate:
                problem = Reason("soc.too_fast", before=last[0], soc=soc, seconds=at - last[1], raw=raw, rate=self.max_rate)
        if problem != self.problem:
            if problem:
                log.warning("SOC implausible, treated as stale: %s", problem)
            else:
                log.info("SOC plausible again: %g %%", soc)
        self.problem = problem
        return problem


class Interlocks:
    def __init__(
        self,
        devices: dict[str, Device],
        service: CommandService,
        bus: Bus,
        clock: Clock,
        command_interval: Callable[[], float],
        soc_max_rate: float,
    ) -> None:
        self.devices = devices
        self.service = service
        self.bus = bus
        self.clock = clock
        self.command_interval = command_interval
        self.soc = SocCheck(soc_max_rate)
        # Set by the operation manager: the automatic mode is on and running or in FAULT (not idle).
        self.engaged: Callable[[], bool] = lambda: False
        self.active: dict[tuple[str, str], Active] = {}  # (rule id, device name) -> in force
        self._sent: dict[tuple[str, Enforce], float] = {}  # (device name, write) -> plant monotonic of the last try
        self._busy: set[tuple[str, Enforce]] = set()
        self._unplannable: set[tuple[str, Enforce]] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False
        service.interlock = self.refusal
        self._unsubscribe = bus.subscribe(Snapshot, self._on_snapshot)

    # --- what is in force -----------------------------------------------------------------
    def of(self, rule_id: str, device_type: str) -> Active | None:
        return next((a for a in self.active.values() if a.rule.id == rule_id and self._type(a.device_name) == device_type),
                    None)  # fmt: skip

    def refusal(self, device: Device, effect: Effect) -> Reason | None:
        """Why a write with `effect` may not go to `device` now, or None."""
        for act in self.active.values():
            allowed = dict(act.rule.allows).get(device.type)
            if allowed is not None and effect not in allowed:
                return Reason("interlock.refusal", active=act.words(), device=device.name, allowed=allowed_words(allowed))
        return None

    # --- evaluation ---------------------------------------------------------------------------
    def _on_snapshot(self, snap: Snapshot) -> None:
        device = self.devices.get(snap.device_name)
        if self._closed or device is None:
            return
        if device.type == "BMS":
            self.soc.check(snap.values.get("battery_soc"), snap.raw.get("battery_soc"), snap.monotonic)
        for rule in RULES:
            if rule.device_type == device.type:
                self._update(rule, device, raised_bits(rule, device.map, snap), snap.timestamp)
        self._enforce()

    def _update(self, rule: Rule, device: Device, bits: tuple[tuple[str, bool], ...], at: float) -> None:
        key = (rule.id, device.name)
        before = self.active.get(key)
        if not bits:
            if before is not None:
                del self.active[key]
                # A new episode is acted on at once, not a command_interval after the last one's writes.
                self._sent = {k: t for k, t in self._sent.items() if k[1] not in rule.enforce}
                log.warning("interlock cleared: %s", before.words())
                self._alarm(before, False, at)
            return
        now = Active(rule, device.name, tuple(n for n, _ in bits), tuple(n for n, alarm in bits if alarm))
        self.active[key] = now
        if before is None:
            log.warning("interlock active: %s", now.words())
            self._alarm(now, True, at)

    def _alarm(self, act: Active, on: bool, at: float) -> None:
        rule = act.rule
        refusing = joined("interlock.then", [
            Reason("interlock.takes_only", type=t, allowed=allowed_words(allowed)) for t, allowed in rule.allows
        ])  # fmt: skip
        words = act.words()
        if not rule.enforce:
            message = Reason("interlock.alarm", active=words, refusing=refusing)
        else:
            writes = joined("interlock.and", [Reason("interlock.write", type=e.device_type, mode=e.mode)
                                              for e in rule.enforce])  # fmt: skip
            message = (
                Reason("interlock.alarm_enforced", active=words, refusing=refusing, writes=writes)
                if rule.enforce_always
                else Reason("interlock.alarm_enforced_auto", active=words, refusing=refusing, writes=writes)
            )
        alarm = f"interlock_{rule.id}"
        self.bus.publish(AlarmChanged("PMS", alarm, alarm, rule.severity, on, message.text, at, message))

    # --- enforcement ------------------------------------------------------------------------
    def _enforce(self) -> None:
        """Send each wanted write that its device does not show, at most once per command_interval."""
        now, interval = self.clock.monotonic(), self.command_interval()
        for device_type, (write, act) in enforcement(self.active.values(), self.engaged()).items():
            for device in self.devices.values():
                if device.type == device_type:
                    self._enforce_on(device, write, act, now, interval)

    def _enforce_on(self, device: Device, write: Enforce, act: Active, now: float, interval: float) -> None:
        key = (device.name, write)
        try:
            plan = self.service.plan(device, write.command, {"mode": write.mode})
        except CommandRejected as exc:  # a site's own map without the command: say so once, keep watching
            if key not in self._unplannable:
                self._unplannable.add(key)
                log.error("interlock %s cannot command %s: %s", act.rule.id, device.name, exc)
            return
        snap = device.fresh_snapshot()
        shown = snap is not None and shows(snap, plan)
        # A write another interlock forbids is not sent: a tripped DC-DC takes no standby, and is stopped already.
        if due(shown, self.refusal(device, plan.effect) is not None, key in self._busy, self._sent.get(key), now, interval):
            self._sent[key] = now
            self._spawn(self._write(device, write, act), f"interlock {act.rule.id} {device.name}")

    async def _write(self, device: Device, write: Enforce, act: Active) -> None:
        key = (device.name, write)
        self._busy.add(key)
        try:
            result = await self.service.execute(device.name, write.command, {"mode": write.mode}, source="interlock")
            if not result.ok:
                log.error("interlock %s: %s %s failed (%s); again in %g s", act.rule.id, device.name, write.mode,
                          result.reason, self.command_interval())  # fmt: skip
        finally:
            self._busy.discard(key)

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _type(self, device_name: str) -> str:
        return self.devices[device_name].type

    async def close(self) -> None:
        """Nothing more is evaluated or written (closing must not write on the poller's last snapshot)."""
        if not self._closed:
            self._closed = True
            self._unsubscribe()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
