"""Bus events -> typed Qt signals, coalesced to at most `MAX_FPS` screen updates per second.

Bus handlers run on the event loop's thread, which under qasync is the GUI
thread; they only record what changed. A timer flushes the records: discrete
events (commands, alarms, link and mode changes) in their order, then the
latest view of every device that changed. Once a second every device is sent
again so that ages and stale markings move on even when nothing arrives.
"""

from __future__ import annotations

from dataclasses import dataclass

from PyQt5.QtCore import QObject, QTimer, pyqtSignal

from pms_core.automation.operation_manager import OperationStatus
from pms_core.bus import AlarmChanged, BrokerStateChanged, LinkState, LinkStateChanged, Snapshot
from pms_core.commands import CommandResult
from pms_core.runtime import Runtime

MAX_FPS = 10
HEARTBEAT_FRAMES = MAX_FPS  # every device re-sent once a second (ages, stale greying)


@dataclass(frozen=True)
class DeviceView:
    """What the console shows of one device: its latest data, link state and age."""

    name: str
    state: LinkState
    age: float | None  # plant seconds since the latest snapshot, None before the first
    fresh: bool  # the core's judgement (Device.fresh_snapshot): False = show greyed, with the age
    snapshot: Snapshot | None
    error: str | None

    @property
    def shown_state(self) -> LinkState:
        """The link state as shown: online but not fresh is stale."""
        return "stale" if self.state == "online" and not self.fresh else self.state


@dataclass(frozen=True)
class ClockTick:
    now: float  # plant epoch seconds


class Bridge(QObject):
    device_updated = pyqtSignal(DeviceView)
    operation_changed = pyqtSignal(OperationStatus)
    command_result = pyqtSignal(CommandResult)
    link_changed = pyqtSignal(LinkStateChanged)
    alarm_changed = pyqtSignal(AlarmChanged)
    broker_changed = pyqtSignal(BrokerStateChanged)
    ticked = pyqtSignal(ClockTick)

    def __init__(self, runtime: Runtime, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.runtime = runtime
        self.frames = 0  # flushes that emitted something (for tests and the benchmark)
        self._dirty: set[str] = set(runtime.devices)
        self._events: list[object] = []
        self._operation: OperationStatus | None = runtime.operation.status()
        self._count = 0
        bus = runtime.bus
        self._unsubscribe = [
            bus.subscribe(Snapshot, self._on_snapshot),
            bus.subscribe(LinkStateChanged, self._on_event),
            bus.subscribe(AlarmChanged, self._on_event),
            bus.subscribe(CommandResult, self._on_event),
            bus.subscribe(BrokerStateChanged, self._on_event),
            bus.subscribe(OperationStatus, self._on_operation),
        ]
        self._timer = QTimer(self)
        self._timer.setInterval(1000 // MAX_FPS)
        self._timer.timeout.connect(self.flush)
        self._timer.start()

    def view(self, name: str) -> DeviceView:
        dev = self.runtime.devices[name]
        return DeviceView(dev.name, dev.state, dev.age(), dev.fresh_snapshot() is not None, dev.snapshot, dev.error)

    def close(self) -> None:
        self._timer.stop()
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe = []

    # --- bus side: record only ------------------------------------------------------
    def _on_snapshot(self, snap: Snapshot) -> None:
        self._dirty.add(snap.device_name)

    def _on_event(self, event: object) -> None:
        self._events.append(event)
        if isinstance(event, LinkStateChanged):
            self._dirty.add(event.device_name)

    def _on_operation(self, status: OperationStatus) -> None:
        self._events.append(status)  # every mode and state change goes to the event log
        self._operation = status

    # --- Qt side: one frame ---------------------------------------------------------------
    def flush(self) -> None:
        self._count += 1
        if self._count % HEARTBEAT_FRAMES == 0:
            self._dirty.update(self.runtime.devices)
            self.ticked.emit(ClockTick(self.runtime.clock.now()))
        if not self._dirty and not self._events:
            return
        self.frames += 1
        events, self._events = self._events, []
        for event in events:
            if isinstance(event, CommandResult):
                self.command_result.emit(event)
            elif isinstance(event, LinkStateChanged):
                self.link_changed.emit(event)
            elif isinstance(event, AlarmChanged):
                self.alarm_changed.emit(event)
            elif isinstance(event, BrokerStateChanged):
                self.broker_changed.emit(event)
            elif isinstance(event, OperationStatus):
                self.operation_changed.emit(event)
        dirty, self._dirty = self._dirty, set()
        for name in sorted(dirty):
            self.device_updated.emit(self.view(name))

    def replay(self) -> None:
        """Send the present state of everything (at start, after a language switch)."""
        if self._operation is not None:
            self.operation_changed.emit(self._operation)
        for name in self.runtime.devices:
            self.device_updated.emit(self.view(name))
