"""The solar DC-DC converter: operating mode decoded from STATUS 2."""

from __future__ import annotations

from typing import Any

from pms_core.devices.base import Device

# status_2 flags in the order they decide the mode: generation and standby first,
# since the converter sets them alongside the more general state bits.
MODE_FLAGS = (
    ("solar", "solar"),
    ("standby", "standby"),
    ("independent", "independent"),
    ("discharging", "regen"),
    ("charging", "charge"),
    ("ready", "ready"),
    ("stopped", "stopped"),
)


class DcdcDevice(Device):
    def derive(self, values: dict[str, float | int | None], raw: dict[str, int], at: float) -> dict[str, Any]:
        status2, status1 = raw.get("status_2"), raw.get("status_1")
        if status2 is None or status1 is None:
            return {}
        reg2 = self.map.registers["status_2"]
        mode = next((name for flag, name in MODE_FLAGS if reg2.flag(status2, flag)), "unknown")
        return {"operating_mode": mode, "total_fault": self.map.registers["status_1"].flag(status1, "total_fault")}
