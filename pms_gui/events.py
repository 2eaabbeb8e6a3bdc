"""Alarms and events: active alarms with severity colours and their acknowledgement, and a log of commands, mode and
link changes (at start, the latest entries of the history's audit log)."""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
from datetime import datetime
from typing import get_args

from PyQt5.QtCore import Qt
from PyQt5.QtGui import QBrush, QColor
from PyQt5.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from pms_core.automation.operation_manager import OperationStatus
from pms_core.bus import AlarmAcknowledged, AlarmChanged, BrokerStateChanged, LinkStateChanged
from pms_core.commands import CommandResult, Source
from pms_core.history import HistoryReader
from pms_core.runtime import Runtime
from pms_gui.i18n import Binder, tr
from pms_gui.palette import RESULT_COLOURS, SEVERITY_COLOURS, STATE_COLOURS
from pms_gui.reasons import tr_reason

log = logging.getLogger(__name__)

MAX_LOG = 2000
RECENT_AUDIT = 200  # audit entries loaded from the history at start
ALARM_COLUMNS = ("ev.col.time", "ev.col.severity", "ev.col.device", "ev.col.alarm", "ev.col.ack")
LOG_COLUMNS = ("ev.col.time", "ev.col.kind", "ev.col.source", "ev.col.device", "ev.col.text", "ev.col.result")


def clock_text(epoch: float) -> str:
    return datetime.fromtimestamp(epoch).strftime("%m-%d %H:%M:%S")


def table(columns: tuple[str, ...], binder: Binder) -> QTableWidget:
    t = QTableWidget(0, len(columns))
    t.setEditTriggers(QAbstractItemView.NoEditTriggers)
    t.setSelectionBehavior(QAbstractItemView.SelectRows)
    t.verticalHeader().setVisible(False)
    t.verticalHeader().setDefaultSectionSize(22)
    t.setAlternatingRowColors(True)
    header = t.horizontalHeader()
    header.setSectionResizeMode(QHeaderView.ResizeToContents)
    header.setStretchLastSection(True)

    def relabel() -> None:
        t.setHorizontalHeaderLabels([tr(c) for c in columns])

    binder.bind(lambda _text: relabel(), columns[0])
    return t


def alarm_text(event: AlarmChanged) -> str:
    """A PMS alarm in the console's language; a device's alarm as its map words it."""
    return tr_reason(event.why) if event.why is not None else event.message


def item(text: str, colour: str | None = None, bold: bool = False) -> QTableWidgetItem:
    it = QTableWidgetItem(text)
    if colour:
        it.setForeground(QBrush(QColor(colour)))
    if bold:
        font = it.font()
        font.setBold(True)
        it.setFont(font)
    return it


class EventsPanel(QWidget):
    def __init__(self, runtime: Runtime, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.runtime = runtime
        self.binder = Binder()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        split = QSplitter(Qt.Vertical)
        layout.addWidget(split)
        top = QWidget()
        tl = QVBoxLayout(top)
        tl.setContentsMargins(0, 0, 0, 0)
        head = QHBoxLayout()
        title = QLabel()
        self.binder.bind(title.setText, "ev.active")
        head.addWidget(title)
        head.addStretch(1)
        self.ack_button = QPushButton()
        self.ack_button.setObjectName("ackSelected")
        self.binder.bind(self.ack_button.setText, "ev.ack")
        self.ack_button.clicked.connect(self.acknowledge_selected)
        head.addWidget(self.ack_button)
        self.ack_all_button = QPushButton()
        self.ack_all_button.setObjectName("ackAll")
        self.binder.bind(self.ack_all_button.setText, "ev.ack_all")
        self.ack_all_button.clicked.connect(self.acknowledge_all)
        head.addWidget(self.ack_all_button)
        tl.addLayout(head)
        self.alarms = table(ALARM_COLUMNS, self.binder)
        self.alarms.setObjectName("activeAlarms")
        tl.addWidget(self.alarms)
        bottom = QWidget()
        bl = QVBoxLayout(bottom)
        bl.setContentsMargins(0, 0, 0, 0)
        title2 = QLabel()
        self.binder.bind(title2.setText, "ev.log")
        bl.addWidget(title2)
        self.log = table(LOG_COLUMNS, self.binder)
        self.log.setObjectName("eventLog")
        bl.addWidget(self.log)
        split.addWidget(top)
        split.addWidget(bottom)
        split.setSizes([120, 300])
        self._command_rows: dict[int, QTableWidgetItem] = {}  # command id -> its result cell
        self._mode: str | None = None
        self._state: str | None = None
        self._thresholds: dict[str, float] | None = None
        self._row_keys: list[tuple[str, str]] = []  # per alarm row: (device, alarm) to acknowledge
        self._unsubscribe = [runtime.bus.subscribe(AlarmAcknowledged, self._acknowledged)]
        self._redraw_alarms()

    def detach(self) -> None:
        """Stop listening to the bus (the window is closing)."""
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe = []

    # --- acknowledgement: through the core's alarm monitor, recorded with source "gui" ----------------
    def acknowledge_selected(self) -> None:
        rows = sorted({index.row() for index in self.alarms.selectionModel().selectedRows()})
        self._acknowledge([self._row_keys[r] for r in rows if r < len(self._row_keys)])

    def acknowledge_all(self) -> None:
        self._acknowledge(self._row_keys)

    def _acknowledge(self, keys: list[tuple[str, str]]) -> None:
        for device, alarm in keys:
            self.runtime.alarms.acknowledge(device, alarm, "gui")

    def _acknowledged(self, _event: AlarmAcknowledged) -> None:
        self._redraw_alarms()  # bus handler on the loop's thread, which under qasync is the GUI thread

    # --- active alarms: the core's alarm monitor is the one list (device bits and the PMS's own) -------------
    def alarm_changed(self, event: AlarmChanged) -> None:
        self._redraw_alarms()
        text = tr("ev.alarm.on" if event.active else "ev.alarm.off", message=alarm_text(event))
        self._log(event.timestamp, "kind.alarm", "src.pms", event.device_name, text, tr(f"sev.{event.severity}"),
                  SEVERITY_COLOURS.get(event.severity))  # fmt: skip

    def _redraw_alarms(self) -> None:
        order = {"fault": 0, "warning": 1, "info": 2}
        rows = sorted(
            self.runtime.alarms.active.items(),
            key=lambda kv: (order.get(kv[1].event.severity, 3), -kv[1].event.timestamp),
        )
        self.alarms.setRowCount(len(rows))
        self._row_keys = []
        unacknowledged = 0
        for i, (key, active) in enumerate(rows):
            event, by = active.event, active.acknowledged_by
            colour = SEVERITY_COLOURS.get(event.severity)
            unacknowledged += by is None
            self.alarms.setItem(i, 0, item(clock_text(event.timestamp)))
            self.alarms.setItem(i, 1, item(tr(f"sev.{event.severity}"), colour, bold=by is None))
            self.alarms.setItem(i, 2, item(event.device_name))
            self.alarms.setItem(i, 3, item(alarm_text(event), colour))
            self.alarms.setItem(i, 4, item(tr(f"src.{by}") if by else tr("ev.unacked"), None if by else colour))
            self._row_keys.append(key)
        self.ack_button.setEnabled(unacknowledged > 0)
        self.ack_all_button.setEnabled(unacknowledged > 0)

    async def load_recent(self) -> int:
        """At start: the latest audit entries (commands, mode and threshold changes) from the history, below."""
        history = self.runtime.history
        if history is None or not history.ok:
            return 0
        reader = HistoryReader(history.path)
        try:
            entries = await asyncio.get_running_loop().run_in_executor(None, reader.recent_audit, RECENT_AUDIT)
        except (sqlite3.Error, OSError, RuntimeError):
            log.exception("cannot read the recent audit log")
            return 0
        later: dict[tuple, float] = {}  # (id, device, command) -> time of its newest stage (ids restart with the PMS)
        for ts, kind, source, device, command, params, status, reason, command_id in entries:
            key = (command_id, device, command)
            src = f"src.{source}" if source in get_args(Source) else "src.pms"  # older rows have none
            if kind == "command" and not (key in later and later[key] - ts < 300):  # newest first: latest stage only
                later[key] = ts
                args = ", ".join(f"{k}={v}" for k, v in json.loads(params or "{}").items())
                text = f"{command}({args})"
                result = tr(f"result.{status}") + (f" — {reason}" if reason else "")
                colour = RESULT_COLOURS.get(status)
                self._log(ts, "kind.command", src, device or "", text, result, colour, at_end=True)
            elif kind == "mode":
                self._log(ts, "kind.mode", src, "PMS", tr("ev.mode_changed", mode=tr(f"mode.{status}")), at_end=True)
            elif kind == "threshold":
                self._log(ts, "kind.mode", src, "PMS", f"{command} = {status}", at_end=True)
        return len(entries)

    # --- the event log ---------------------------------------------------------------------------
    def command_result(self, result: CommandResult) -> None:
        colour = RESULT_COLOURS[result.status]
        text = tr(f"result.{result.status}") + (f" — {tr_reason(result.why)}" if result.why else "")
        cell = self._command_rows.get(result.id)
        if cell is not None and cell.tableWidget() is self.log:
            cell.setText(text)
            cell.setForeground(QBrush(QColor(colour)))
            return
        params = ", ".join(f"{k}={v}" for k, v in result.params.items())
        writes = ", ".join(f"{a}={v:#x}" for a, v in result.writes)
        what = f"{result.command}({params})" + (f" → {writes}" if writes else "")
        self._command_rows[result.id] = self._log(
            result.timestamp, "kind.command", f"src.{result.source}", result.device_name, what, text, colour
        )

    def show_operation(self, status: OperationStatus) -> None:
        """Mode, automatic-state and threshold changes into the log (not the first status: nothing changed yet)."""
        if status.mode != self._mode:
            if self._mode is not None:
                text = tr("ev.mode_changed", mode=tr(f"mode.{status.mode}"))
                self._log(status.timestamp, "kind.mode", f"src.{status.changed_by}", "PMS", text)
            self._mode = status.mode
        if status.auto.state != self._state:
            if self._state is not None:
                text = tr("ev.auto_state", state=tr(f"state.{status.auto.state}"))
                if status.auto.why:
                    text += f" — {tr_reason(status.auto.why)}"
                self._log(status.timestamp, "kind.mode", f"src.{status.changed_by}", "PMS", text)
            self._state = status.auto.state
        if self._thresholds is not None:
            for key, value in status.thresholds.items():
                if self._thresholds.get(key) != value:  # as the audit log has it, which fills this log at start
                    self._log(status.timestamp, "kind.mode", f"src.{status.changed_by}", "PMS", f"{key} = {value}")
        self._thresholds = status.thresholds

    def link_changed(self, event: LinkStateChanged) -> None:
        error = f" — {event.error}" if event.error else ""
        self._log(event.since, "kind.link", "src.pms", event.device_name, tr("ev.link", state=tr(f"link.{event.state}"),
                  error=error), tr(f"link.{event.state}"), STATE_COLOURS[event.state])  # fmt: skip

    def broker_changed(self, event: BrokerStateChanged) -> None:
        state = tr(f"broker.{event.state}")
        text = tr("ev.broker", broker=event.broker, state=state) + (f" — {event.error}" if event.error else "")
        self._log(event.since, "kind.broker", "src.pms", "MQTT", text, state)

    def _log(self, when: float, kind: str, source: str, device: str, text: str, result: str = "",
             colour: str | None = None, at_end: bool = False) -> QTableWidgetItem:  # fmt: skip
        row = self.log.rowCount() if at_end else 0
        if at_end and row >= MAX_LOG:
            return item(result)
        self.log.insertRow(row)
        cells = [item(clock_text(when)), item(tr(kind)), item(tr(source)), item(device), item(text)]
        for col, cell in enumerate(cells):
            self.log.setItem(row, col, cell)
        result_cell = item(result, colour, bold=True)
        self.log.setItem(row, 5, result_cell)
        while self.log.rowCount() > MAX_LOG:
            self.log.removeRow(self.log.rowCount() - 1)
        if len(self._command_rows) > MAX_LOG:
            for key in sorted(self._command_rows)[: len(self._command_rows) - MAX_LOG]:
                del self._command_rows[key]
        return result_cell

    def rows(self) -> list[list[str]]:
        """The event log as text, newest first (for tests and copy)."""
        return [
            [self.log.item(r, c).text() if self.log.item(r, c) else "" for c in range(self.log.columnCount())]
            for r in range(self.log.rowCount())
        ]

    def retranslate(self) -> None:
        self.binder.retranslate()
        self._redraw_alarms()
