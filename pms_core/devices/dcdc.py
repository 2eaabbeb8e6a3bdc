"""The solar DC-DC converter: operating mode decoded from STATUS 2."""

from __future__ import annotations

from typing import Any

from pms_core.devices.base import Device

# status_2 bits in the order they decide the mode: generation and standby first,
# since the converter sets them alongside the more general state bits.
MODE_BITS = (
    (6, "solar"),
    (5, "standby"),
    (4, "independent"),
    (3, "regen"),
    (2, "charge"),
    (1, "ready"),
    (0, "stopped"),
)
TOTAL_FAIL_BIT = 11


class DcdcDevice(Device):
    def derive(self, values: dict[str, float | int | None], raw: dict[str, int], at: float) -> dict[str, Any]:
        status2, status1 = raw.get("status_2"), raw.get("status_1")
        if status2 is None or status1 is None:
            return {}
        mode = next((name for bit, name in MODE_BITS if status2 >> bit & 1), "unknown")
        return {"operating_mode": mode, "total_fault": bool(status1 >> TOTAL_FAIL_BIT & 1)}
