"""The payloads of docs/MQTT_CONTRACT.md: built from bus events, encoded as UTF-8 JSON."""

from __future__ import annotations

import json
from typing import Any

from pms_core.alarms import ActiveAlarm
from pms_core.automation.operation_manager import OperationStatus
from pms_core.bus import AlarmChanged, LinkStateChanged, Snapshot
from pms_core.clock import Clock
from pms_core.commands import CommandResult
from pms_core.registers import DeviceMap


def encode(payload: dict[str, Any]) -> bytes:
    """Korean names stay readable UTF-8, never \\uXXXX escapes."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def iso(clock: Clock, epoch: float | None) -> str | None:
    return None if epoch is None else clock.iso(epoch)


def data_message(snap: Snapshot, device_map: DeviceMap, ip: str, state: str, clock: Clock) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for name, value in snap.values.items():
        reg = device_map.registers[name]
        raw = snap.raw[name]
        entry: dict[str, Any] = {"value": value, "raw_value": raw, "type": reg.type}
        if reg.unit:
            entry["unit"] = reg.unit
        if reg.description:
            entry["description"] = reg.description
        if reg.type == "bitmask" and value is not None:
            entry["active_bits"] = reg.active_bits(raw)
            if reg.fields:
                entry["fields"] = reg.decode_fields(raw)
        data[name] = entry
    for name, value in snap.derived.items():
        data[name] = {"value": value, "type": "derived"}
    message = {
        "device_name": snap.device_name,
        "device_type": snap.device_type,
        "timestamp": clock.iso(snap.timestamp),
        "ip_address": ip,
        "state": state,
        "data": data,
    }
    if snap.unsupported:  # registers of an optional block this device lacks: absent from `data`, and why
        message["unsupported"] = sorted(snap.unsupported)
    return message


def link_status(event: LinkStateChanged, clock: Clock) -> dict[str, Any]:
    return {
        "device_name": event.device_name,
        "device_type": event.device_type,
        "state": event.state,
        "since": clock.iso(event.since),
        "error": event.error,
    }


def command_summary(result: CommandResult, clock: Clock) -> dict[str, Any]:
    return {
        "id": result.id,
        "source": result.source,
        "device_name": result.device_name,
        "command": result.command,
        "params": result.params,
        "status": result.status,
        "writes": [list(w) for w in result.writes],
        "reason": result.reason,
        "request_id": result.request_id,
        "timestamp": clock.iso(result.timestamp),
    }


def operation_mode(status: OperationStatus, last_command: dict[str, Any] | None, clock: Clock) -> dict[str, Any]:
    auto = status.auto
    return {
        "mode": status.mode,
        "auto_state": auto.state,
        "auto_running": auto.running,
        "step": auto.step,
        "sequence": auto.sequence,
        "step_index": auto.step_index,
        "step_deadline": iso(clock, auto.step_deadline),
        "reason": auto.reason,
        "thresholds": status.thresholds,
        "threshold_sources": status.sources,
        "last_command": last_command,
        "timestamp": clock.iso(status.timestamp),
    }


def alarm(event: AlarmChanged, clock: Clock, acknowledged_by: str | None = None) -> dict[str, Any]:
    return {
        "device_name": event.device_name,
        "alarm": event.alarm,
        "code": event.code,
        "severity": event.severity,
        "active": event.active,
        "message": event.message,
        "timestamp": clock.iso(event.timestamp),
        "acknowledged_by": acknowledged_by,
    }


def active_alarms(active: list[ActiveAlarm], clock: Clock) -> dict[str, Any]:
    return {"active": [alarm(a.event, clock, a.acknowledged_by) for a in active], "timestamp": clock.iso()}
