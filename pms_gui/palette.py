"""Every colour of the console, once, named for what it means (issue 15, "the house, tidied").

Modules never write a colour themselves: they take it from here, so that one meaning has one colour everywhere
(a green "online" in the status bar is the green of "confirmed" in the event log and of "no alarm" in a dock).
Where two meanings share a colour on purpose, the second is the first's name (`AC = OK`), never the hex again.
"""

from __future__ import annotations

# --- states: the traffic light, used for every kind of state the console shows ---------------------------------
OK = "#2e7d32"  # online, connected, confirmed, running, no alarm, contactor closed, an accepted answer
WARNING = "#c98a00"  # stale, connecting, unconfirmed, a warning, the automatic mode on hold
FAULT = "#c62828"  # offline, disconnected, failed, a fault, a refused answer, the PCS's total fault
INFO = "#2f6fb3"  # an information alarm, a command written (its confirmation still to come)

# --- text and lines --------------------------------------------------------------------------------------------
INK = "#263238"  # the main text painted by hand: the overview's values, the SOC gauge's needle, ticks and number
MUTED = "#8a8f98"  # stale data (never shown as current), and secondary text: captions, headers, ages
SWITCHED_OFF = "#9e9e9e"  # a part left off on purpose (MQTT in the demo without Mosquitto): grey, not an alarm red
DIM_LINE = "#c5cad3"  # a flow line with nothing flowing or not fresh, a stale part's border (overview)
PAPER = "#ffffff"  # the background things are drawn on: a fresh overview box, the charts, the active step's text
STALE_FILL = "#f3f4f6"  # a stale overview box
SOC_TRACK = "#e3e7ee"  # the empty part of the battery box's SOC bar
BAR_TRACK = "#eef1f5"  # the empty part of an energy bar
AXIS_INK = "#37474f"  # the trend charts' axes and their labels
ZERO_LINE = "#b0bec5"  # the 0 kW line of the power chart

# --- the plant's parts: overview boxes and lines, energy bars, trend curves ------------------------------------
PV = "#ef6c00"
BATTERY = "#1565c0"
PCS = "#6a1b9a"  # the PCS, and the power on its DC side (battery power)
AC = OK  # the load / grid side

NODE_COLOURS = {"pv": PV, "battery": BATTERY, "pcs": PCS, "ac": AC}  # overview boxes
FLOW_COLOURS = {"pv": PV, "pcs_dc": PCS, "ac": AC}  # overview lines, by flow
BAR_COLOURS = {"pv": PV, "charged": BATTERY, "discharged": PCS, "delivered": AC}  # energy bars, by bar
SERIES_COLOURS = {"battery_soc": BATTERY, "battery_power": PCS, "input_power": PV, "ac_active_power": AC}  # trends

# --- the SOC thresholds: the gauge's bands between them, the trend chart's lines on them --------------------------
SOC_BANDS = {"low": "#e57373", "stop": "#ffd54f", "normal": "#81c784", "high": "#64b5f6"}  # below low ... above high
STALE_BAND = "#d0d0d0"  # every band while the BMS's data is not fresh
THRESHOLD_LINES = {"soc_low_threshold": "#e53935", "soc_charge_stop_threshold": "#f9a825",
                   "soc_high_threshold": "#1e88e5"}  # fmt: skip

# --- the automatic mode's sequence steps and settings ----------------------------------------------------------
STEP_DONE_BORDER, STEP_DONE_FILL = "#a5d6a7", "#e8f5e9"  # a step done: OK's green, light
STEP_ACTIVE = BATTERY  # the step in progress: border and fill, PAPER text
STEP_PENDING_BORDER, STEP_PENDING_FILL = "#cfd8dc", "#fafafa"  # a step to come: MUTED text
EDITED_FILL = "#fff8e1"  # a setting edited but not applied yet

# --- states by kind: which of the colours above each state is shown in --------------------------------------------
STATE_COLOURS = {"online": OK, "stale": WARNING, "offline": FAULT}  # a device's link state (DeviceView.shown_state)
SEVERITY_COLOURS = {"info": INFO, "warning": WARNING, "fault": FAULT}  # an alarm's severity
RESULT_COLOURS = {"written": INFO, "confirmed": OK, "unconfirmed": WARNING, "failed": FAULT}  # a command's result
BROKER_COLOURS = {"connected": OK, "connecting": WARNING, "disconnected": FAULT}  # the MQTT broker link
AUTO_STATE_COLOURS = {"IDLE": MUTED, "HOLD": WARNING, "FAULT": FAULT}  # automatic mode; every other state runs: OK
