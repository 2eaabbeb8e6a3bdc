"""The BMS, PCS and DC-DC docks: the values an operator looks at, in words and units."""

from __future__ import annotations

from datetime import datetime

from PyQt5.QtCore import Qt
from PyQt5.QtWidgets import QLabel, QWidget

from pms_core.automation.operation_manager import OperationStatus
from pms_core.clock import parse_iso
from pms_core.energy import local_midnight, today_key
from pms_core.registers import DeviceMap
from pms_gui.bridge import DeviceView
from pms_gui.i18n import tr
from pms_gui.palette import FAULT, OK, SEVERITY_COLOURS
from pms_gui.widgets import (
    DASH,
    DevicePanel,
    SocGauge,
    active_bits,
    num,
    separator,
    with_unit,
)

SINCE_MIDNIGHT_S = 600  # today's energy counted from later than this after midnight is marked with its start


def alarm_text(device_map: DeviceMap, raw: dict[str, int], registers: tuple[str, ...] | None = None) -> tuple[str, str]:
    bits = [b for b in active_bits(device_map, raw) if registers is None or b[0] in registers]
    if not bits:
        return tr("none"), OK
    worst = (
        "fault" if any(s == "fault" for *_, s in bits) else "warning" if any(s == "warning" for *_, s in bits) else "info"
    )
    return ", ".join(name for _, name, _ in bits), SEVERITY_COLOURS[worst]


class BmsPanel(DevicePanel):
    def __init__(self, device_map: DeviceMap, device_name: str, parent: QWidget | None = None, *,
                 has_dcdc: bool = True) -> None:  # fmt: skip
        """`has_dcdc`: the site has a DC-DC; without one the SOC-high rule does not exist (no mark, no band)."""
        super().__init__(device_name, parent)
        self.map = device_map
        self.has_dcdc = has_dcdc
        self.gauge = SocGauge()
        self.layout_.addWidget(self.gauge)
        self.legend = QLabel()
        self.legend.setObjectName("gaugeLegend")
        self.legend.setAlignment(Qt.AlignCenter)
        self.legend.setTextFormat(Qt.RichText)
        self.legend.setWordWrap(True)
        self.layout_.addWidget(self.legend)
        self.layout_.addWidget(separator())
        self.grid = self.add_grid(
            ["bms.rack_voltage", "bms.rack_current", "bms.power", "bms.soh", "bms.temp", "bms.cell", "bms.spread",
             "bms.contactor", "bms.state"]
        )  # fmt: skip
        self.layout_.addWidget(separator())
        self.alarms = self.add_grid(["bms.alarms"])
        self.alarms.values["bms.alarms"].setWordWrap(True)
        self.layout_.addStretch(1)
        self._status: OperationStatus | None = None

    def retranslate(self) -> None:
        super().retranslate()
        if self._status is not None:
            self.show_operation(self._status)

    def show_operation(self, status: OperationStatus) -> None:
        """The thresholds on the gauge and in its legend; without a DC-DC no mark for the SOC-high rule."""
        t = status.thresholds
        low, stop, high = t["soc_low_threshold"], t["soc_charge_stop_threshold"], t["soc_high_threshold"]
        self.gauge.set_thresholds(low, stop, high if self.has_dcdc else 100.0)
        self.legend.setText(SocGauge.legend(low, stop, high, self.has_dcdc))
        self._status = status

    def render_state(self, view: DeviceView) -> None:
        soc = view.snapshot.value("battery_soc") if view.snapshot else None
        self.gauge.set_soc(soc, view.fresh)

    def render(self, view: DeviceView) -> None:
        s = view.snapshot
        assert s is not None
        g = self.grid
        g.set("bms.rack_voltage", with_unit(s.value("rack_voltage"), "V"))
        g.set("bms.rack_current", with_unit(s.value("rack_current"), "A"))
        g.set("bms.power", with_unit(s.value("battery_power"), "kW", 2))
        g.set("bms.soh", with_unit(s.value("rack_soh"), "%"))
        temps = [num(s.value(f"module_{k}_temperature")) for k in ("max", "min", "avg")]
        g.set("bms.temp", " / ".join(temps) + " °C")
        g.set("bms.cell", f"{num(s.value('battery_cell_max_voltage'), 3)} / {num(s.value('battery_cell_min_voltage'), 3)} V")
        spread = s.value("cell_voltage_spread")
        g.set("bms.spread", DASH if spread is None else f"{spread * 1000:.0f} mV")
        mode_reg = self.map.registers["battery_system_operation_mode"]
        mode = s.raw.get(mode_reg.name, 0)
        # Bit 3 is "Idle - RELAY ON": while charging or discharging the relay is on too, and only bits 1 / 2 say so.
        closed = any(mode_reg.flag(mode, bit) for bit in ("relay_on", "charging", "discharging"))
        g.set("bms.contactor", tr("contactor.closed" if closed else "contactor.open"), OK if closed else None)
        words = [tr(f"bms.state.{flag}") for flag in ("charging", "discharging") if mode_reg.flag(mode, flag)]
        if not words:
            initialized = mode_reg.flag(mode, "initialized")
            words = [tr("bms.state.idle" if closed else "bms.state.standby")] if initialized else [tr("bms.state.init")]
        g.set("bms.state", ", ".join(words))
        text, colour = alarm_text(self.map, s.raw)
        self.alarms.set("bms.alarms", text, colour)


class PcsPanel(DevicePanel):
    def __init__(self, device_map: DeviceMap, device_name: str, parent: QWidget | None = None) -> None:
        super().__init__(device_name, parent)
        self.map = device_map
        self.mode = QLabel(DASH)
        self.mode.setObjectName("pcsMode")
        self.mode.setAlignment(Qt.AlignCenter)
        font = self.mode.font()
        font.setPointSizeF(font.pointSizeF() * 1.6)
        font.setBold(True)
        self.mode.setFont(font)
        self.layout_.addWidget(self.mode)
        self.grid = self.add_grid(
            ["pcs.ac_power", "pcs.grid_v", "pcs.freq", "pcs.pf", "pcs.batt_v", "pcs.batt_i", "pcs.batt_p",
             "pcs.energy_ac", "pcs.energy_dc"]
        )  # fmt: skip
        self.layout_.addWidget(separator())
        self.alarms = self.add_grid(["pcs.fault", "pcs.alarm", "pcs.trip"])
        for label in self.alarms.values.values():
            label.setWordWrap(True)
        self.layout_.addStretch(1)

    def render_state(self, view: DeviceView) -> None:
        self.mode.setEnabled(view.fresh)

    def render(self, view: DeviceView) -> None:
        s = view.snapshot
        assert s is not None
        mode = s.value("operating_mode")
        self.mode.setText(tr(f"pcs.mode.{mode}") if mode else DASH)
        g = self.grid
        g.set("pcs.ac_power", with_unit(s.value("ac_active_power"), "kW"))
        volts = [num(s.value(f"grid_voltage_{p}")) for p in "rst"]
        g.set("pcs.grid_v", " / ".join(volts) + " V")
        g.set("pcs.freq", with_unit(s.value("grid_frequency"), "Hz"))
        g.set("pcs.pf", with_unit(s.value("ac_power_factor"), "%"))
        g.set("pcs.batt_v", with_unit(s.value("battery_voltage"), "V"))
        g.set("pcs.batt_i", with_unit(s.value("battery_current"), "A"))
        g.set("pcs.batt_p", with_unit(s.value("battery_instantaneous_power"), "kW"))
        since = _counted_since(s.value("energy_today_since"))
        for key, kind in (("pcs.energy_ac", "ac"), ("pcs.energy_dc", "dc")):
            charged, discharged = s.value(today_key(f"{kind}_charge")), s.value(today_key(f"{kind}_discharge"))
            g.set(key, f"{num(charged)} / {num(discharged)} kWh" + since)
        fault = bool(s.value("total_fault"))
        self.alarms.set("pcs.fault", tr("pcs.fault") if fault else tr("ok"), FAULT if fault else OK)
        self.alarms.set("pcs.alarm", *alarm_text(self.map, s.raw, ("alarm_1", "alarm_2")))
        self.alarms.set("pcs.trip", *alarm_text(self.map, s.raw, ("trip_1", "trip_2", "trip_3")))


def _counted_since(stamp: object) -> str:
    """The mark " (since 14:05)" when today's energy counts from later than midnight (a start without history)."""
    if not isinstance(stamp, str):
        return ""
    since = parse_iso(stamp)
    if since - local_midnight(since) < SINCE_MIDNIGHT_S:
        return ""
    return f" ({tr('pcs.since', time=datetime.fromtimestamp(since).strftime('%H:%M'))})"


class DcdcPanel(DevicePanel):
    def __init__(self, device_map: DeviceMap, device_name: str, parent: QWidget | None = None) -> None:
        super().__init__(device_name, parent)
        self.map = device_map
        self.grid = self.add_grid(["dcdc.state", "dcdc.pv_in", "dcdc.out", "dcdc.temps", "dcdc.today"])
        self.layout_.addWidget(separator())
        self.alarms = self.add_grid(["dcdc.alarm"])
        self.alarms.values["dcdc.alarm"].setWordWrap(True)
        self.layout_.addStretch(1)

    def render(self, view: DeviceView) -> None:
        s = view.snapshot
        assert s is not None
        g = self.grid
        mode = s.value("operating_mode")
        g.set("dcdc.state", tr(f"dcdc.mode.{mode}") if mode else DASH, OK if mode == "solar" else None)
        for key, side in (("dcdc.pv_in", "input"), ("dcdc.out", "output")):
            g.set(
                key,
                f"{num(s.value(f'{side}_voltage'))} V / {num(s.value(f'{side}_current'))} A"
                f" / {num(s.value(f'{side}_power'), 2)} kW",
            )
        g.set("dcdc.temps", " / ".join(num(s.value(f"temperature_{i}")) for i in (1, 2, 3)) + " °C")
        g.set("dcdc.today", with_unit(s.value("today_kwh"), "kWh"))
        text, colour = alarm_text(self.map, s.raw)
        if s.value("total_fault"):
            colour = FAULT
        self.alarms.set("dcdc.alarm", text, colour)
