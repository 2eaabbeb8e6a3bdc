"""How the console feeds its panels: one small set of verbs, the same for every panel (issue 15).

The bridge (`pms_gui.bridge.Bridge`) turns the core's bus into coalesced Qt signals; `MainWindow._wire` passes
them on to the panels through these verbs, and only these:

`show_view(view: DeviceView)` (`ShowsDevices`)
    The latest of one device: every device's view, at every frame in which it changed and once a second (ages,
    stale greying). A panel takes the views of the devices it shows and ignores the others. The BMS, PCS and DC-DC
    docks, the overview, the controls (a set-point box starts at the device's value), the register tables.
`show_operation(status: OperationStatus)` (`ShowsOperation`)
    The operation: mode, the automatic mode's state and step, the thresholds and their sources, at every change.
    The automatic-mode panel, the controls (disabled in the automatic mode), the event log (mode, state and
    threshold changes), the trends (threshold lines), the BMS dock (the gauge's bands).
`retranslate()` (`Translatable`)
    The language changed. A panel re-labels what it wrote itself; the window then replays the present state
    (`Bridge.replay`: `show_operation`, then `show_view` of every device), which renders the rest anew.
`tick(tick: ClockTick)` (`FollowsClock`)
    Once a second of the plant clock, for what moves with time alone: the trends' sample, the automatic mode's
    countdown.

The event log is the one panel that lists the bridge's discrete events; it takes each under the bridge signal's
own name: `command_result`, `link_changed`, `alarm_changed`, `broker_changed`.

Render on change: most calls bring nothing new (the bridge re-sends every device once a second; a language switch
replays everything). A panel compares with what it shows and repaints only what changed (`ValueGrid.set`,
`LinkBanner.show_view`, `SocGauge.set_soc`, `FlowDiagram.set_model`, the register table of the visible tab only),
which keeps the whole console under 3 % of a core (`python -m bench.console --quick`).
"""

from __future__ import annotations

from typing import Protocol

from pms_core.automation.operation_manager import OperationStatus
from pms_gui.bridge import ClockTick, DeviceView


class ShowsDevices(Protocol):
    def show_view(self, view: DeviceView) -> None: ...


class ShowsOperation(Protocol):
    def show_operation(self, status: OperationStatus) -> None: ...


class Translatable(Protocol):
    def retranslate(self) -> None: ...


class FollowsClock(Protocol):
    def tick(self, tick: ClockTick) -> None: ...
