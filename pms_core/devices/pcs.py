"""The bidirectional inverter: operating mode decoded from STATE1."""

from __future__ import annotations

from typing import Any

from pms_core.devices.base import Device

TOTAL_FAULT_BIT = 14
INDEPENDENT_BIT = 5


class PcsDevice(Device):
    def derive(self, values: dict[str, float | int | None], raw: dict[str, int]) -> dict[str, Any]:
        state = raw.get("state_1")
        if state is None:
            return {}
        fields = self.map.registers["state_1"].decode_fields(state)
        independent = bool(state >> INDEPENDENT_BIT & 1)
        return {
            "operating_mode": "independent" if independent else fields["operating_mode"],
            "battery_state": fields["battery_state"],
            "total_fault": bool(state >> TOTAL_FAULT_BIT & 1),
        }
