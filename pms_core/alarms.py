"""Alarms: the maps' alarm, trip, warning and fault bits -> raised and cleared alarms.

Which bits are alarms is one rule (`Register.alarm_bits`): every bit of an
alarm register, and every `warning` or `fault` bit of a status register. Each
is an alarm named `<register>.<bit>`; its message
is the bit's name in the map and its code the datasheet address
(`IR24.0`: input register 24, bit 0; the BMS's `HR56.0` is the datasheet's
PLC number 56, map address 55). The monitor also keeps the PMS's own
alarms (the automatic mode's HOLD and FAULT), so `active` is the whole list
that MQTT and the console show.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

from pms_core.bus import AlarmAcknowledged, AlarmChanged, Bus, Snapshot
from pms_core.clock import Clock
from pms_core.registers import DeviceMap

log = logging.getLogger(__name__)

TABLE_CODE = {"holding": "HR", "input": "IR"}


@dataclass(frozen=True)
class AlarmBit:
    register: str
    bit: int
    alarm: str
    code: str
    severity: str
    message: str


def alarm_bits(device_map: DeviceMap) -> dict[str, tuple[AlarmBit, ...]]:
    """Per register name, the bits that are alarms."""
    out: dict[str, tuple[AlarmBit, ...]] = {}
    for name, bits in device_map.alarm_bits().items():
        reg = device_map.registers[name]
        out[name] = tuple(
            AlarmBit(name, bit, f"{name}.{bit}", f"{TABLE_CODE[reg.table]}{reg.code_address}.{bit}", d.severity, d.name)
            for bit, d in bits
        )
    return out


@dataclass(frozen=True)
class ActiveAlarm:
    event: AlarmChanged  # the raising event
    acknowledged_by: str | None = None


class AlarmMonitor:
    def __init__(self, maps: dict[str, DeviceMap], bus: Bus, clock: Clock) -> None:
        self.bus = bus
        self.clock = clock
        self._bits = {name: alarm_bits(m) for name, m in maps.items()}
        self.active: dict[tuple[str, str], ActiveAlarm] = {}  # (device, alarm) -> raised alarm
        bus.subscribe(Snapshot, self._on_snapshot)
        bus.subscribe(AlarmChanged, self._track)

    def _on_snapshot(self, snap: Snapshot) -> None:
        for register, bits in self._bits.get(snap.device_name, {}).items():
            raw = snap.raw.get(register)
            if raw is None or snap.values.get(register) is None:
                continue  # not read, or "not available": neither raised nor cleared
            for b in bits:
                on = bool(raw >> b.bit & 1)
                if on != ((snap.device_name, b.alarm) in self.active):
                    self.bus.publish(
                        AlarmChanged(snap.device_name, b.alarm, b.code, b.severity, on, b.message, snap.timestamp)
                    )

    def _track(self, event: AlarmChanged) -> None:
        key = (event.device_name, event.alarm)
        if event.active and key not in self.active:
            self.active[key] = ActiveAlarm(event)
            level = logging.WARNING if event.severity != "info" else logging.INFO
            log.log(level, "alarm raised: %s %s (%s) %s", event.device_name, event.alarm, event.severity, event.message)
        elif not event.active and key in self.active:
            del self.active[key]
            log.info("alarm cleared: %s %s %s", event.device_name, event.alarm, event.message)

    def acknowledge(self, device_name: str, alarm: str, by: str) -> str | None:
        """Mark an active alarm acknowledged; returns why not, or None."""
        key = (device_name, alarm)
        current = self.active.get(key)
        if current is None:
            return f"no active alarm {alarm!r} on {device_name!r}"
        if current.acknowledged_by is None:
            self.active[key] = replace(current, acknowledged_by=by)
            log.info("alarm acknowledged by %s: %s %s", by, device_name, alarm)
            self.bus.publish(AlarmAcknowledged(device_name, alarm, by, self.clock.now()))
        return None

    # --- persistence (the history's alarm journal) ------------------------------------------
    def is_device_alarm(self, device_name: str, alarm: str) -> bool:
        """True for an alarm bit of a configured device's map (the PMS's own alarms are not restored)."""
        return any(b.alarm == alarm for bits in self._bits.get(device_name, {}).values() for b in bits)

    def restore(self, alarms: list[ActiveAlarm]) -> None:
        """At start, before polling: the alarms the journal holds as still active, with their raise time and
        acknowledgement. Nothing is published; the first poll clears those whose bit is off."""
        for active in alarms:
            key = (active.event.device_name, active.event.alarm)
            if key not in self.active and self.is_device_alarm(*key):
                self.active[key] = active
