"""The plant behind the simulated devices: a battery rack, a PCS and a solar DC-DC.

Pure model, no I/O: `step(dt)` integrates plant time, `write()` applies a
register write as the real device would, `values()` gives every register of
a device as an engineering value (the server encodes them with the maps).
Signs follow the maps: positive battery current and power = charging.

Status words follow the datasheets and the site samples (the CSVs' 스팜 /
한자연 columns): a status bit is placed at the bit its id has in the device's
map, or at the datasheet's bit number (`DATASHEET_BITS`) where the map does
not name it. The battery never leaves 0-100 % SOC: the PCS's discharge (and
charge) power is limited so that a step cannot overshoot, and the PCS's
Empty / Full SOC flags stop discharging / charging as the datasheet says.
The communication watchdog (`PlantParams.pcs_comm_trip_real_s`) counts REAL
seconds, so the plant only offers `comm_trip()`; the simulator's devices
time it (see `pms_sim`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pms_core.registers import DeviceMap

COMMAND = 0x55
OFF = 0xAA  # PCS 26 (BMS contactor) and 28 (generator): 0x55 on, 0xAA off

# Datasheet bit numbers of the status bits the model sets, by the maps' bit ids; used only where the device's map
# does not name the bit (the map wins where it does).
DATASHEET_BITS: dict[tuple[str, str], dict[str, int]] = {
    ("PCS", "state_1"): {
        "steady": 2, "independent": 5, "grid_blackout": 6, "empty_soc": 7, "full_soc": 8, "remote_enable": 10,
        "ac_mc_closed": 11, "dc_mc_closed": 12, "pr_mc_closed": 13, "total_fault": 14, "static_switch_closed": 15,
    },
    ("PCS", "trip_2"): {"comm_error": 0},
    ("DCDC", "status_1"): {
        "input_mc_closed": 4, "output_mc_closed": 5, "pre_mc_closed": 6, "remote": 7, "pv_power_limit": 8,
        "pv_available": 9, "total_fault": 11, "battery_full": 13,
    },
    ("DCDC", "status_2"): {
        "stopped": 0, "ready": 1, "charging": 2, "discharging": 3, "independent": 4, "standby": 5, "solar": 6,
        "steady": 7,
    },
}  # fmt: skip
EMPTY_SET, EMPTY_CLEAR = 1.0, 5.0  # PCS Empty Batt SOC: set at <= 1 % while discharging, cleared above 5 %
FULL_CLEAR = 99.0  # PCS Full Batt SOC: set at 100 % while charging, cleared below 99 %


@dataclass
class PlantParams:
    capacity_kwh: float = 60.0
    initial_soc: float = 50.0
    pv_peak_kw: float = 15.0
    load_base_kw: float = 2.0
    load_day_kw: float = 3.0
    pcs_rating_kw: float = 30.0  # a site's unit reads 30 kW (datasheet default 250)
    dcdc_rating_kw: float = 20.0
    pcs_start_delay: float = 2.0  # plant seconds to close contactors and pre-charge
    cells_in_series: int = 198
    # The PCS's Remote Enable (state_1) and the DC-DC's Remote Flag (status_1) read 0 (local) in every site sample,
    # although the sites are commanded over Modbus: the simulator shows them as the samples do unless told otherwise.
    remote_enable: bool = False
    # REAL seconds (not plant time) without any Modbus request after which the PCS trips by itself
    # (trip_2 comm_error, total fault, stop), as the datasheet's TRIP2 bit 0 does after 30 s; None: never.
    pcs_comm_trip_real_s: float | None = 30.0


@dataclass
class PcsState:
    mode: str = "stop"  # stop | standby | charge | regen | independent
    pending: str | None = None  # mode being started (pre-charge)
    pending_until: float = 0.0
    charge_kw: float = 3.0
    discharge_kw: float = 3.0
    trip_1: int = 0
    trip_2: int = 0
    alarm_1: int = 0
    latched: bool = False  # total fault: set by any trip, kept after the trip goes until a reset (19)
    empty: bool = False  # Empty Batt SOC flag: discharging refused while set
    full: bool = False  # Full Batt SOC flag: charging stops while set
    generator: bool = False  # holding 28: 0x55 on, 0xAA off
    power_kw: float = 0.0  # battery side, + = charging the battery
    ac_kw: float = 0.0
    energy: dict[str, float] = field(default_factory=lambda: dict.fromkeys(("ac_chg", "ac_dis", "dc_chg", "dc_dis"), 0.0))


@dataclass
class DcdcState:
    mode: str = "stopped"  # stopped | ready | charge | regen | independent | standby | solar
    limit_kw: float = 21.0
    trip_1: int = 0
    trip_2: int = 0
    alarm_1: int = 0
    latched: bool = False  # total fail, kept after the trip goes until a reset (100)
    power_kw: float = 0.0
    today_kwh: float = 0.0
    yesterday_kwh: float = 78.7
    total_kwh: float = 78.6
    day: int = -1


@dataclass
class BmsState:
    soc: float
    contactor: bool = True
    error_code_2: int = 0
    system_lock_status_1: int = 0
    fire_alarm: int = 0
    current_a: float = 0.0


DCDC_MODES = {
    100: None,
    101: "stopped",
    102: "ready",
    103: "charge",
    104: "regen",
    105: "independent",
    106: "standby",
    107: "solar",
}
DCDC_STATUS_FLAG = {  # DC-DC mode -> its status_2 bit id
    "stopped": "stopped", "ready": "ready", "charge": "charging", "regen": "discharging", "independent": "independent",
    "standby": "standby", "solar": "solar",
}  # fmt: skip
PCS_COMMANDS = {20: "stop", 21: "standby", 22: "charge", 23: "regen", 24: "independent"}


class Plant:
    def __init__(
        self, params: PlantParams | None = None, start_time: float = 0.0, maps: Mapping[str, DeviceMap] | None = None
    ) -> None:
        """`maps`: the device maps by device type, where the status bits' positions are read by id."""
        self.p = params or PlantParams()
        self.maps = dict(maps or {})
        self.time = start_time
        self.bms = BmsState(soc=self.p.initial_soc)
        self.pcs = PcsState()
        self.dcdc = DcdcState()
        self.comm_count = 0
        self.writes: list[tuple[float, str, int, int]] = []  # (plant time, device type, address, value)
        self.forced: dict[tuple[str, str], int] = {}  # registers pinned by fault injection

    # --- environment -----------------------------------------------------------------
    def hour(self) -> float:
        t = datetime.fromtimestamp(self.time)
        return t.hour + t.minute / 60 + t.second / 3600

    def pv_available_kw(self) -> float:
        """Clear-sky day curve: zero at night, the configured peak at 12:00."""
        h = self.hour()
        return self.p.pv_peak_kw * max(0.0, math.sin(math.pi * (h - 6) / 12)) if 6 <= h <= 18 else 0.0

    def farm_load_kw(self) -> float:
        h = self.hour()
        return self.p.load_base_kw + (self.p.load_day_kw * math.sin(math.pi * (h - 6) / 14) if 6 <= h <= 20 else 0.0)

    def battery_voltage(self) -> float:
        return self.cell_voltage() * self.p.cells_in_series

    def cell_voltage(self) -> float:
        return 3.40 + 0.0035 * self.bms.soc

    # --- dynamics --------------------------------------------------------------------
    def step(self, dt: float) -> None:
        if dt <= 0:
            return
        self.time += dt
        pcs, dcdc, bms = self.pcs, self.dcdc, self.bms
        if pcs.pending and self.time >= pcs.pending_until:
            pcs.mode, pcs.pending = pcs.pending, None
        pcs.latched = pcs.latched or bool(pcs.trip_1 or pcs.trip_2)
        dcdc.latched = dcdc.latched or bool(dcdc.trip_1 or dcdc.trip_2)
        if pcs.latched:
            pcs.mode, pcs.pending = "stop", None
        if dcdc.latched:
            dcdc.mode = "stopped"
        connected = bms.contactor and not bms.fire_alarm
        soc = bms.soc
        # The PCS's SOC flags, as the datasheet defines them (STATE1 bits 7 and 8 and notes 4-5).
        discharging = pcs.mode in ("regen", "independent")
        if soc <= EMPTY_SET and discharging:
            pcs.empty = True
        elif soc > EMPTY_CLEAR:
            pcs.empty = False
        if soc >= 100.0 and pcs.mode == "charge":
            pcs.full = True
        elif soc < FULL_CLEAR:
            pcs.full = False

        pv = 0.0
        if dcdc.mode == "solar" and connected:
            pv = min(self.pv_available_kw(), dcdc.limit_kw, self.p.dcdc_rating_kw)

        pcs_kw = 0.0  # battery side, + = charging
        if connected:
            if pcs.mode == "charge" and not pcs.full:
                pcs_kw = min(pcs.charge_kw, self.p.pcs_rating_kw)
            elif pcs.mode == "regen" and not pcs.empty:
                pcs_kw = -min(pcs.discharge_kw, self.p.pcs_rating_kw)
            elif pcs.mode == "independent" and not pcs.empty:
                pcs_kw = -min(self.farm_load_kw(), self.p.pcs_rating_kw)

        # The battery cannot give more than it holds nor take more than it has room for within this step: the
        # PCS's discharge (and charge) power is limited first, then the PV; at 0 % the AC side gets nothing from it.
        kwh_per_kw = dt / 3600
        room_kw = (100.0 - soc) / 100 * self.p.capacity_kwh / kwh_per_kw
        stored_kw = soc / 100 * self.p.capacity_kwh / kwh_per_kw
        if pcs_kw + pv > room_kw:
            if pcs_kw > 0:
                pcs_kw = max(0.0, room_kw - pv)
            pv = max(0.0, min(pv, room_kw - pcs_kw))
        if pcs_kw + pv < -stored_kw:
            pcs_kw = -(stored_kw + pv)
        dcdc.power_kw = pv
        pcs.power_kw = pcs_kw
        pcs.ac_kw = pcs_kw  # the maps' convention for every signed power: + = charging (AC in, to the battery)

        battery_kw = pcs_kw + pv
        bms.soc = min(100.0, max(0.0, soc + battery_kw * kwh_per_kw / self.p.capacity_kwh * 100))
        bms.current_a = battery_kw * 1000 / self.battery_voltage()

        hours = dt / 3600
        key = "chg" if pcs_kw > 0 else "dis"
        pcs.energy[f"ac_{key}"] += abs(pcs_kw) * hours
        pcs.energy[f"dc_{key}"] += abs(pcs_kw) * hours
        day = datetime.fromtimestamp(self.time).toordinal()
        if dcdc.day != day:
            if dcdc.day != -1:
                dcdc.yesterday_kwh, dcdc.today_kwh = dcdc.today_kwh, 0.0
            dcdc.day = day
        dcdc.today_kwh += pv * hours
        dcdc.total_kwh += pv * hours

    # --- register writes -------------------------------------------------------------
    def write(self, device_type: str, address: int, value: int) -> str | None:
        """Apply a write as the device would; returns a reason when the device refuses it."""
        self.writes.append((self.time, device_type, address, value))
        handler = {"PCS": self._write_pcs, "DCDC": self._write_dcdc, "BMS": self._write_bms}[device_type]
        return handler(address, value)

    def _write_pcs(self, address: int, value: int) -> str | None:
        pcs = self.pcs
        if address in (1, 2):
            kw = value / 10
            if kw > self.p.pcs_rating_kw:
                return "power above the PCS rating"
            if address == 1:
                pcs.charge_kw = kw
            else:
                pcs.discharge_kw = kw
            return None
        if address == 26:
            if value not in (COMMAND, OFF):
                return "contactor command must be 0x55 or 0xAA"
            self.bms.contactor = value == COMMAND
            return None
        if address == 28:
            if value not in (COMMAND, OFF):
                return "generator command must be 0x55 (on) or 0xAA (off)"
            pcs.generator = value == COMMAND
            return None
        if value != COMMAND:
            return f"command value must be 0x55, got {value:#x}"
        if address == 19:
            pcs.trip_1 = pcs.trip_2 = 0
            pcs.latched = False
        elif address in PCS_COMMANDS:
            target = PCS_COMMANDS[address]
            if pcs.latched and target != "stop":
                return "PCS in fault: reset first"
            if target in ("standby", "independent") and pcs.mode == "stop":
                pcs.pending, pcs.pending_until = target, self.time + self.p.pcs_start_delay
            else:
                pcs.mode, pcs.pending = target, None
        return None

    def _write_dcdc(self, address: int, value: int) -> str | None:
        dcdc = self.dcdc
        if address == 2:
            dcdc.limit_kw = value / 10
            return None
        if value != COMMAND:
            return f"command value must be 0x55, got {value:#x}"
        if address == 100:
            dcdc.trip_1 = dcdc.trip_2 = 0
            dcdc.latched = False
        elif address in DCDC_MODES:
            if dcdc.latched and address != 101:
                return "DC-DC in fault: reset first"
            dcdc.mode = DCDC_MODES[address] or dcdc.mode
        return None

    def _write_bms(self, address: int, value: int) -> str | None:
        bms = self.bms
        if address == 200:
            bms.contactor = bool(value & 1)
        elif address == 201:
            if value != 0x50:
                return "error reset needs 0x50"
            bms.error_code_2 = 0
        elif address == 202:
            if value != 0x50:
                return "system lock reset needs 0x50"
            bms.system_lock_status_1 = 0
        return None

    def comm_trip(self) -> None:
        """The PCS's own watchdog fired (no Modbus request for its limit): TRIP2 comm error, total fault, stop."""
        pcs = self.pcs
        pcs.trip_2 |= 1 << self._bit("PCS", "trip_2", "comm_error")
        pcs.latched = True
        pcs.mode, pcs.pending = "stop", None
        pcs.power_kw = pcs.ac_kw = 0.0

    # --- register values -------------------------------------------------------------
    def _bit(self, device_type: str, register: str, flag_id: str) -> int:
        """The bit of `flag_id`: where the device's map puts it, else the datasheet's number."""
        device_map = self.maps.get(device_type)
        reg = device_map.registers.get(register) if device_map is not None else None
        if reg is not None:
            try:
                return reg.bit_of(flag_id)
            except KeyError:
                pass
        return DATASHEET_BITS[(device_type, register)][flag_id]

    def _word(self, device_type: str, register: str, flags: Mapping[str, bool]) -> int:
        """A status word from its flags by id."""
        word = 0
        for flag_id, on in flags.items():
            if on:
                word |= 1 << self._bit(device_type, register, flag_id)
        return word

    def note_read(self, device_type: str) -> None:
        """The BMS counts the read requests it answers (wrapping at 10,000)."""
        if device_type == "BMS":
            self.comm_count = (self.comm_count + 1) % 10000

    def set_register(self, device_type: str, register: str, value: int) -> None:
        """Fault injection: set a status register; the model reacts where it models it (trips stop a unit)."""
        state = {"BMS": self.bms, "PCS": self.pcs, "DCDC": self.dcdc}[device_type]
        if hasattr(state, register):
            setattr(state, register, value)
        else:
            self.forced[(device_type, register)] = value

    def values(self, device_type: str) -> dict[str, float]:
        out = {"BMS": self._bms_values, "PCS": self._pcs_values, "DCDC": self._dcdc_values}[device_type]()
        out.update({name: v for (kind, name), v in self.forced.items() if kind == device_type})
        return out

    def _bms_values(self) -> dict[str, float]:
        bms = self.bms
        cell = self.cell_voltage()
        soc = bms.soc
        alarm = (1 << 6 if soc < 5 else 0) | (1 << 8 if bms.system_lock_status_1 else 0)
        warning = (1 << 6 if soc < 10 else 0) | (1 << 7 if soc > 95 else 0)
        op_mode = 1 | (2 if bms.current_a > 0.5 else 0) | (4 if bms.current_a < -0.5 else 0) | (8 if bms.contactor else 0)
        out = {
            "rack_voltage": self.battery_voltage(),
            "rack_current": bms.current_a,
            "battery_soc": soc,
            "module_max_temperature": 26.0,
            "module_min_temperature": 24.0,
            "module_avg_temperature": 25.2,
            "battery_cell_max_voltage": cell + 0.003,
            "battery_cell_min_voltage": cell - 0.003,
            "battery_cell_avg_voltage": cell,
            "operating_soc_max": 95,
            "operating_soc_min": 5,
            "operating_voltage_max": 820,
            "operating_voltage_min": 580,
            "rack_soh": 100.0,
            "battery_system_alarm": alarm,
            "battery_system_operation_mode": op_mode,
            "battery_system_warning": warning,
            "error_code_2": bms.error_code_2,
            "system_lock_status_1": bms.system_lock_status_1,
            "fire_alarm": bms.fire_alarm,
            "communication_count": self.comm_count,
        }
        for i in range(3):
            out[f"module_{i}_voltage"] = self.battery_voltage() / 3
        for i in range(9):
            out[f"module_{i}_max_temp"] = 25.0 + i % 3
        for i in range(1, 19):
            out[f"module_0_cell_{i}"] = cell + (i % 3 - 1) * 0.002
        return out

    def _pcs_values(self) -> dict[str, float]:
        pcs = self.pcs
        running = pcs.mode != "stop"
        mode_field = {"stop": 0, "charge": 1, "regen": 2, "independent": 2, "standby": 3}[pcs.mode]
        batt_state = 1 if pcs.power_kw > 0 else 2 if pcs.power_kw < 0 else 0
        limited = (pcs.empty and pcs.mode in ("regen", "independent")) or (pcs.full and pcs.mode == "charge")
        # The samples (STATE1 = 49728 and 16384, both stopped with a trip) show Remote Enable 0 and every MC open.
        # Pre-charge closes only the pre-charge MC; running closes the main AC and DC MCs and opens it again.
        state_1 = (
            mode_field
            | batt_state << 3
            | self._word("PCS", "state_1", {
                "steady": running and not limited,
                "independent": pcs.mode == "independent",
                "empty_soc": pcs.empty,
                "full_soc": pcs.full,
                "remote_enable": self.p.remote_enable,
                "ac_mc_closed": running,
                "dc_mc_closed": running,
                "pr_mc_closed": pcs.pending is not None,
                "total_fault": pcs.latched or bool(pcs.trip_1 or pcs.trip_2),
            })
        )  # fmt: skip
        volts = self.battery_voltage()
        ac_current = abs(pcs.ac_kw) * 1000 / (math.sqrt(3) * 380) if running else 0.0
        e = pcs.energy
        return {
            "system_capacity": self.p.pcs_rating_kw,
            "battery_charge_power": pcs.charge_kw,
            "grid_discharge_power": pcs.discharge_kw,
            "grid_voltage_r": 380.2,
            "grid_voltage_s": 381.0,
            "grid_voltage_t": 379.6,
            "inverter_current_r": ac_current,
            "inverter_current_s": ac_current,
            "inverter_current_t": ac_current,
            "grid_frequency": 60.0,
            "ac_active_power": pcs.ac_kw,
            "ac_power_factor": 99.0 if running else 0.0,
            "dc_link_voltage": volts if running else 0.0,
            "battery_voltage": volts,
            "battery_current": pcs.power_kw * 1000 / volts,
            "battery_instantaneous_power": pcs.power_kw,
            "ac_charge_energy_kwh": e["ac_chg"] % 1000,
            "ac_charge_energy_mwh": e["ac_chg"] // 1000,
            "ac_discharge_energy_kwh": e["ac_dis"] % 1000,
            "ac_discharge_energy_mwh": e["ac_dis"] // 1000,
            "dc_charge_energy_kwh": e["dc_chg"] % 1000,
            "dc_charge_energy_mwh": e["dc_chg"] // 1000,
            "dc_discharge_energy_kwh": e["dc_dis"] % 1000,
            "dc_discharge_energy_mwh": e["dc_dis"] // 1000,
            "alarm_1": pcs.alarm_1,
            "trip_1": pcs.trip_1,
            "trip_2": pcs.trip_2,
            "state_1": state_1,
            "load_voltage_r": 380.0 if pcs.mode == "independent" else 0.0,
            "load_voltage_s": 380.0 if pcs.mode == "independent" else 0.0,
            "load_voltage_t": 380.0 if pcs.mode == "independent" else 0.0,
            "load_frequency": 60.0 if pcs.mode == "independent" else 0.0,
            "state_2": 65535,
            "load_active_power": 65535,
        }

    def _dcdc_values(self) -> dict[str, float]:
        dcdc = self.dcdc
        pv = dcdc.power_kw
        v_in = 520.0 if self.pv_available_kw() > 0 else 0.0
        v_out = self.battery_voltage()
        running = dcdc.mode not in ("stopped", "ready", "standby")
        # Samples: stopped STATUS1 = 0 / STATUS2 = 1; standby (스팜) STATUS1 = 48 (input and output MC closed, Remote
        # Flag 0, PV 발전 가능 0 with 524 V on the input) / STATUS2 = 32 (bit 5 only, not steady).
        status_2 = self._word("DCDC", "status_2", {
            DCDC_STATUS_FLAG[dcdc.mode]: True,
            "steady": running,
        })  # fmt: skip
        status_1 = self._word("DCDC", "status_1", {
            "input_mc_closed": dcdc.mode != "stopped",
            "output_mc_closed": dcdc.mode != "stopped",
            "remote": self.p.remote_enable,
            "pv_available": dcdc.mode == "solar" and self.pv_available_kw() > 0,
            "total_fault": dcdc.latched or bool(dcdc.trip_1 or dcdc.trip_2),
            "battery_full": dcdc.mode == "solar" and self.bms.soc >= 100.0,
        })  # fmt: skip
        return {
            "system_capacity": self.p.dcdc_rating_kw,
            "generation_limit_power": dcdc.limit_kw,
            "input_voltage": v_in,
            "input_cap_voltage": 0.0,
            "output_voltage": v_out,
            "dc_grid_voltage": v_out,
            "input_current": pv * 1000 / v_in if v_in else 0.0,
            "output_current": pv * 1000 / v_out,
            "input_power": pv,
            "output_power": pv,
            "temperature_1": 26.5 + pv,
            "temperature_2": 26.9 + pv,
            "temperature_3": 26.5 + pv,
            "alarm_1": dcdc.alarm_1,
            "trip_1": dcdc.trip_1,
            "trip_2": dcdc.trip_2,
            "status_1": status_1,
            "status_2": status_2,
            "version": 5153,
            "total_discharge_kwh": dcdc.total_kwh % 1000,
            "total_discharge_mwh": dcdc.total_kwh // 1000,
            "yesterday_kwh": dcdc.yesterday_kwh,
            "today_kwh": dcdc.today_kwh,
        }
