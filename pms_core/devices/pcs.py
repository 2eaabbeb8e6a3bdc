"""The bidirectional inverter: operating mode decoded from STATE1, lifetime and today's energy counters."""

from __future__ import annotations

from typing import Any, ClassVar

from pms_core.clock import Clock, format_iso
from pms_core.config import DeviceConfig
from pms_core.devices.base import DerivedSeries, Device
from pms_core.energy import COUNTERS, DailyCounters, lifetime_kwh, today_key, total_key
from pms_core.modbus import ModbusLink
from pms_core.registers import DeviceMap


class PcsDevice(Device):
    # the lifetime and today's energy of each counter, stored as 1-minute aggregates
    DERIVED_SERIES: ClassVar[dict[str, DerivedSeries]] = {
        key(counter): DerivedSeries("kWh") for counter in COUNTERS for key in (total_key, today_key)
    }

    def __init__(self, config: DeviceConfig, device_map: DeviceMap, link: ModbusLink, clock: Clock) -> None:
        super().__init__(config, device_map, link, clock)
        self.energy = DailyCounters()

    def rating_kw(self) -> float | None:
        """The rating the PCS reports (holding 0: 30 kW at a site, 250 in the datasheet), or None without fresh data."""
        snap = self.fresh_snapshot()
        rating = snap.values.get("system_capacity") if snap else None
        return float(rating) if isinstance(rating, (int, float)) else None

    def derive(self, values: dict[str, float | int | None], raw: dict[str, int], at: float) -> dict[str, Any]:
        totals = {counter: lifetime_kwh(values, counter) for counter in COUNTERS}
        today = self.energy.today(at, totals)
        out: dict[str, Any] = {total_key(c): v for c, v in totals.items()} | {today_key(c): v for c, v in today.items()}
        if self.energy.since is not None:
            out["energy_today_since"] = format_iso(self.energy.since)
        state = raw.get("state_1")
        if state is None:
            return out
        state_1 = self.map.registers["state_1"]
        fields = state_1.decode_fields(state)
        return out | {
            "operating_mode": "independent" if state_1.flag(state, "independent") else fields["operating_mode"],
            "battery_state": fields["battery_state"],
            "total_fault": state_1.flag(state, "total_fault"),
        }
