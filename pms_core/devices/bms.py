"""The battery rack: power, cell-voltage spread and temperature spread."""

from __future__ import annotations

from typing import Any, ClassVar

from pms_core.devices.base import DerivedSeries, Device, difference


class BmsDevice(Device):
    DERIVED_SERIES: ClassVar[dict[str, DerivedSeries]] = {
        "battery_power": DerivedSeries("kW", full_rate=True),
        "cell_voltage_spread": DerivedSeries("V", full_rate=True),
        "temperature_spread": DerivedSeries("°C", full_rate=True),
    }

    def derive(self, values: dict[str, float | int | None], raw: dict[str, int], at: float) -> dict[str, Any]:
        volts, amps = values.get("rack_voltage"), values.get("rack_current")
        return {
            # kW, positive = charging (rack_current carries the map's polarity)
            "battery_power": None if volts is None or amps is None else round(volts * amps / 1000, 3),
            "cell_voltage_spread": difference(
                values.get("battery_cell_max_voltage"), values.get("battery_cell_min_voltage")
            ),
            "temperature_spread": difference(values.get("module_max_temperature"), values.get("module_min_temperature"), 1),
        }
