"""The overview dock, the console's first view: where the power flows now, and the energy of today, 7 and 30 days.

The flow diagram has four parts in a row, the battery standing for the DC bus it shares with the DC-DC and
the PCS's DC side:

    PV ──(DC-DC output)──▶ battery / DC bus ◀──(PCS battery power)──▶ PCS ◀──(PCS AC power)──▶ load / grid
                           SOC, and its own power (BMS)

Every power keeps the sign its map gives it (the registers' `polarity`, README "Signs"): + = charging the
battery. So DC-DC `output_power` > 0 flows into the battery, the PCS's `battery_instantaneous_power` > 0 from
the PCS into the battery and its `ac_active_power` > 0 from the AC side into the PCS. The battery's own power
(the BMS's derived `battery_power`, PV + PCS) is written in its box: it is what tells charging from
discharging when the PV charges the battery while the PCS supplies the load. A line's label is the power's
size; its arrow head (in the middle) says which way; below NEAR_ZERO_KW a line is dim and has none.

A part whose device is not fresh (stale or offline, `DeviceView.fresh`) is greyed with "—". The diagram keeps
a model of what it shows (texts and directions, rounded as shown) and repaints only when that model changes:
the bridge re-sends every device once a second, and most of those re-sends change nothing on screen.

The energy bars read the history in a worker thread when the panel is shown, again every minute while it is
in sight, and when its tab is raised after a minute or more behind another one (`set_shown`). Which counter
feeds which bar is in `BARS`.
"""

from __future__ import annotations

import asyncio
import logging
import math
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timedelta
from datetime import time as day_time
from functools import partial

from PyQt5.QtCore import QPointF, QRectF, QSize, Qt, QTimer
from PyQt5.QtGui import (
    QColor,
    QFont,
    QFontMetricsF,
    QHideEvent,
    QPainter,
    QPaintEvent,
    QPen,
    QPolygonF,
    QResizeEvent,
    QShowEvent,
)
from PyQt5.QtWidgets import QBoxLayout, QWidget

from pms_core.energy import total_key
from pms_core.history import HistoryError, HistoryReader
from pms_core.runtime import Runtime
from pms_gui import i18n
from pms_gui.bridge import DeviceView
from pms_gui.i18n import tr
from pms_gui.palette import (
    BAR_COLOURS,
    BAR_TRACK,
    DIM_LINE,
    FAULT,
    FLOW_COLOURS,
    INK,
    MUTED,
    NODE_COLOURS,
    PAPER,
    SOC_TRACK,
    STALE_FILL,
)
from pms_gui.tasks import TaskSet
from pms_gui.widgets import DASH, num

log = logging.getLogger(__name__)

NEAR_ZERO_KW = 0.05  # below this a flow has no direction: a dim line, no arrow head
WIDE_FLOW_MIN = 600  # px the diagram needs beside the bars (else they go below it)
REFRESH_S = 60.0  # real seconds between reads of the energy bars while the panel is shown
DEVICE_TYPES = ("BMS", "PCS", "DCDC")


# --- the flow model ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Node:
    fresh: bool  # False: greyed
    value: str  # the big text: DASH when the device's data is not fresh
    detail: str = ""  # the small line below (the link state when not fresh)
    kw: float | None = None  # the battery's own power (BMS, + = charging), as shown
    level: float | None = None  # the battery's SOC (%), for its fill bar
    alert: bool = False  # the PCS's total fault: the value in red


@dataclass(frozen=True)
class Flow:
    kw: float | None  # as shown (rounded to 0.1 kW), the map's sign (+ = charging the battery); None when not fresh
    toward: str | None  # the part the power flows to; None when |P| < NEAR_ZERO_KW or not fresh
    fresh: bool


@dataclass(frozen=True)
class FlowSpec:
    key: str  # the line's name (as the left part's)
    device_type: str
    value: str  # snapshot value name
    positive: str  # the part a positive value flows to (+ = charging the battery)
    negative: str


FLOWS = (
    FlowSpec("pv", "DCDC", "output_power", "battery", "pv"),  # DC-DC output into the battery / DC bus
    FlowSpec("pcs_dc", "PCS", "battery_instantaneous_power", "battery", "pcs"),  # the PCS's DC side
    FlowSpec("ac", "PCS", "ac_active_power", "pcs", "ac"),  # the PCS's AC side: + = drawn from the AC side
)
ROW = ("pv", "battery", "pcs", "ac")  # the parts, left to right
LINES = {"pv": ("pv", "battery"), "pcs_dc": ("battery", "pcs"), "ac": ("pcs", "ac")}  # flow -> (left, right part)


@dataclass(frozen=True)
class FlowModel:
    nodes: dict[str, Node]
    flows: dict[str, Flow]
    language: str  # texts are painted in it: a language switch repaints


def _number(view: DeviceView | None, name: str) -> float | None:
    if view is None or view.snapshot is None:
        return None
    value = view.snapshot.value(name)
    if value is None or isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        return None
    return float(value)


def _shown_kw(kw: float) -> float:
    return round(kw, 1) + 0.0  # + 0.0: no "-0.0"


def _flow(spec: FlowSpec, view: DeviceView | None) -> Flow:
    fresh = view is not None and view.fresh
    kw = _number(view, spec.value) if fresh else None
    if kw is None:
        return Flow(None, None, fresh)
    toward = None if abs(kw) < NEAR_ZERO_KW else spec.positive if kw > 0 else spec.negative
    return Flow(_shown_kw(kw), toward, fresh)


def _stale(view: DeviceView | None) -> Node:
    return Node(False, DASH, "" if view is None else tr(f"link.{view.shown_state}"))


def flow_model(views: dict[str, DeviceView], has_pv: bool) -> FlowModel:
    """What the diagram shows for the latest view of each device type (BMS, PCS, DCDC)."""
    flows = {s.key: _flow(s, views.get(s.device_type)) for s in FLOWS if has_pv or s.device_type != "DCDC"}
    nodes: dict[str, Node] = {}
    bms, pcs, dcdc = (views.get(t) for t in DEVICE_TYPES)
    if bms is not None and bms.fresh:
        soc, kw = _number(bms, "battery_soc"), _number(bms, "battery_power")
        moving = kw is not None and abs(kw) >= NEAR_ZERO_KW
        if moving:  # short: the box is narrow on a 1366 px screen
            detail = tr("ov.battery.charging" if kw > 0 else "ov.battery.discharging", kw=with_kw(kw, absolute=True))
        else:
            detail = tr("bms.state.idle")
        shown = None if kw is None else _shown_kw(kw)
        nodes["battery"] = Node(True, DASH if soc is None else f"{soc:.1f}%", detail, shown, soc)
    else:
        nodes["battery"] = _stale(bms)
    if pcs is not None and pcs.fresh and pcs.snapshot is not None:
        mode = pcs.snapshot.value("operating_mode")
        fault = bool(pcs.snapshot.value("total_fault"))
        nodes["pcs"] = Node(True, tr(f"pcs.mode.{mode}") if mode else DASH, tr("sev.fault") if fault else "", alert=fault)
        ac = flows["ac"].toward
        word = {"ac": "ov.delivering", "pcs": "ov.drawing"}.get(ac or "", "ov.idle")
        nodes["ac"] = Node(True, tr(word), with_kw(flows["ac"].kw, absolute=True))
    else:
        nodes["pcs"] = nodes["ac"] = _stale(pcs)
    if has_pv:
        if dcdc is not None and dcdc.fresh and dcdc.snapshot is not None:
            mode = dcdc.snapshot.value("operating_mode")
            nodes["pv"] = Node(True, with_kw(_number(dcdc, "input_power")), tr(f"dcdc.mode.{mode}") if mode else "")
        else:
            nodes["pv"] = _stale(dcdc)
    return FlowModel(nodes, flows, i18n.language())


def with_kw(kw: float | None, absolute: bool = False) -> str:
    if kw is None:
        return DASH
    return f"{num(abs(kw) if absolute else kw)} kW"


# --- the flow diagram (its colours: palette.NODE_COLOURS, FLOW_COLOURS) -------------------------------------------
NODE_TITLES = {"pv": "ov.node.pv", "battery": "ov.node.battery", "pcs": "ov.node.pcs", "ac": "ov.node.ac"}


class FlowDiagram(QWidget):
    """The parts in a row and the flows between them, painted from `model`; `repaints` counts the updates it asked
    for."""

    def __init__(self, has_pv: bool, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("overviewFlow")
        self.has_pv = has_pv
        self.parts = ROW if has_pv else ROW[1:]
        self.model = flow_model({}, has_pv)
        self.repaints = 0
        self.setMinimumSize(130 * len(self.parts), 96)

    def set_model(self, model: FlowModel) -> bool:
        """Show `model`; repaint only if it differs from what is shown (returns whether it did)."""
        if model == self.model:
            return False
        self.model = model
        self.repaints += 1
        self.update()
        return True

    def sizeHint(self) -> QSize:
        return QSize(190 * len(self.parts), 130)

    def rects(self) -> dict[str, QRectF]:
        """The parts' boxes, from the widget's size: equal widths, equal gaps for the lines and their labels."""
        w, h, m = float(self.width()), float(self.height()), 6.0
        n = len(self.parts)
        nw = min(170.0, max(86.0, (w - 2 * m) / (n + (n - 1) * 0.75)))  # a gap: 0.75 box, room for "12.3 kW"
        gap = max(0.0, (w - 2 * m - n * nw) / (n - 1))
        nh = min(86.0, max(60.0, h - 2 * m))  # the labels sit above the lines, in the gaps between the boxes
        top = (h - nh) / 2
        return {k: QRectF(m + i * (nw + gap), top, nw, nh) for i, k in enumerate(self.parts)}

    def paintEvent(self, event: QPaintEvent) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.Antialiasing)
        rects = self.rects()
        label_font = QFont(self.font())
        label_font.setBold(True)
        for key, (left, right) in LINES.items():
            flow = self.model.flows.get(key)
            if flow is not None and left in rects:
                y = rects[left].center().y()
                a, b = QPointF(rects[left].right(), y), QPointF(rects[right].left(), y)
                self._flow(p, key, flow, a, b, flow.toward == right, label_font)
        for key, rect in rects.items():
            self._node(p, key, rect, self.model.nodes[key])
        p.end()

    def _flow(self, p: QPainter, key: str, flow: Flow, a: QPointF, b: QPointF, to_right: bool, font: QFont) -> None:
        """The line from `a` to `b`, its arrow head in the middle (towards `b` if `to_right`), its power above."""
        moving = flow.toward is not None
        colour = QColor(FLOW_COLOURS[key] if moving else DIM_LINE)
        p.setPen(QPen(colour, 3.0 if moving else 2.0, Qt.SolidLine if flow.fresh else Qt.DashLine, Qt.FlatCap))
        p.drawLine(a, b)
        mid = (a + b) / 2
        if moving:
            d = 9.0 if to_right else -9.0
            head = QPolygonF([QPointF(mid.x() + d, mid.y()), QPointF(mid.x() - d, mid.y() - 7.5),
                              QPointF(mid.x() - d, mid.y() + 7.5)])  # fmt: skip
            p.setPen(Qt.NoPen)
            p.setBrush(colour)
            p.drawPolygon(head)
        text = with_kw(flow.kw, absolute=True)  # the arrow says which way
        room = b.x() - a.x()
        wide = QFontMetricsF(font).horizontalAdvance(text)
        if wide > room:  # a narrow window (1366 px): a smaller number rather than a cut one, within reason
            font = QFont(font)
            font.setPointSizeF(max(font.pointSizeF() * 0.7, font.pointSizeF() * room / wide))
        p.setFont(font)
        p.setPen(QColor(INK if moving else MUTED))
        metrics = QFontMetricsF(font)
        th = metrics.height()
        shown = metrics.elidedText(text, Qt.ElideRight, room)
        p.drawText(QRectF(a.x(), mid.y() - 12 - th, b.x() - a.x(), th), Qt.AlignCenter, shown)

    def _node(self, p: QPainter, key: str, rect: QRectF, node: Node) -> None:
        accent = QColor(NODE_COLOURS[key] if node.fresh else DIM_LINE)
        p.setPen(QPen(accent, 2.0))
        p.setBrush(QColor(PAPER if node.fresh else STALE_FILL))
        p.drawRoundedRect(rect, 8.0, 8.0)
        inner = rect.adjusted(6, 3, -6, -3)
        base = self.font().pointSizeF()
        title_font, value_font, detail_font = QFont(self.font()), QFont(self.font()), QFont(self.font())
        title_font.setPointSizeF(base * 0.85)
        value_font.setPointSizeF(base * 1.3)
        value_font.setBold(True)
        detail_font.setPointSizeF(base * 0.85)
        rows = [(title_font, tr(NODE_TITLES[key]), MUTED), (value_font, node.value, None), (detail_font, node.detail, MUTED)]
        for font, text, _ in rows:  # a long mode name, a narrow box: smaller rather than cut, within reason
            wide = QFontMetricsF(font).horizontalAdvance(text)
            if wide > inner.width():
                font.setPointSizeF(max(font.pointSizeF() * 0.8, font.pointSizeF() * inner.width() / wide))
        heights = [QFontMetricsF(f).height() for f, _, _ in rows]
        bar = 5.0 if node.level is not None else 0.0
        spare = inner.height() - sum(heights) - bar
        if spare < 0:  # a low box: the lines overlap a little rather than leave the box
            heights = [h_ + spare / len(heights) for h_ in heights]
        y = inner.top() + max(0.0, spare / 2)
        for (font, text, colour), height in zip(rows, heights, strict=True):
            p.setFont(font)
            ink = MUTED if not node.fresh else FAULT if node.alert and font is value_font else colour or INK
            p.setPen(QColor(ink))
            shown = QFontMetricsF(font).elidedText(text, Qt.ElideRight, inner.width())
            p.drawText(QRectF(inner.left(), y, inner.width(), height), Qt.AlignCenter, shown)
            y += height
        if node.level is not None:
            track = QRectF(inner.left() + 4, min(y, inner.bottom() - bar), inner.width() - 8, bar)
            p.setPen(Qt.NoPen)
            p.setBrush(QColor(SOC_TRACK))
            p.drawRoundedRect(track, 2.5, 2.5)
            filled = QRectF(track.left(), track.top(), track.width() * max(0.0, min(100.0, node.level)) / 100, bar)
            p.setBrush(accent)
            p.drawRoundedRect(filled, 2.5, 2.5)


# --- the energy bars --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Bar:
    key: str  # i18n key suffix: ov.bar.<key>
    device_type: str
    counter: str  # the history series: a counter in kWh
    day_counter: bool  # it restarts from zero every day (HistoryReader.energy_between's day_counters)
    colour: str


# Which counter feeds which bar. The window's energy of a counter is what it counted in the window: the sum of its
# increases; a drop (a device replaced, a counter reset) is a restart and never a negative bar
# (`history.reader.counter_increase`).
# - PV generated: the DC-DC's "금일 KWH 발전량" (today_kwh, input 30): a day counter, back to zero at the device's
#   midnight. (Its lifetime total is two registers, MWh and kWh, kept in the history only as separate 1-minute
#   aggregates, which cannot be added up exactly across the kWh wrap; the day counter needs no such sum.)
# - Battery charged: the PCS's DC charge counter (dc_charge_energy_total): what the PCS put into the battery. The
#   PV's charge goes from the DC-DC to the battery directly and is the PV bar.
# - Battery discharged: the PCS's DC discharge counter (dc_discharge_energy_total): what the PCS took from the DC
#   side (the battery, and the PV's power when it passes through to the load).
# - AC delivered: the PCS's AC discharge counter (ac_discharge_energy_total): what it gave the farm load / grid.
# The AC charge counter (what the PCS drew from the AC side to charge: the DC charge plus the losses) has no bar.
BARS = (
    Bar("pv", "DCDC", "today_kwh", True, BAR_COLOURS["pv"]),
    Bar("charged", "PCS", total_key("dc_charge"), False, BAR_COLOURS["charged"]),
    Bar("discharged", "PCS", total_key("dc_discharge"), False, BAR_COLOURS["discharged"]),
    Bar("delivered", "PCS", total_key("ac_discharge"), False, BAR_COLOURS["delivered"]),
)
PERIODS = (("today", 1), ("7d", 7), ("30d", 30))  # calendar days, today included
ROW_MAX = 34.0  # px: a bar row's height at most
CELL_HINT = 130  # px: a period column's comfortable width

Energies = dict[str, dict[str, float | None]]  # period -> bar -> kWh (None: nothing recorded)


def day_start(now: float, days_back: int) -> float:
    """Local midnight `days_back` days before today's."""
    day = datetime.fromtimestamp(now).date() - timedelta(days=days_back)
    return datetime.combine(day, day_time()).timestamp()


def read_energies(reader: HistoryReader, devices: dict[str, str], now: float) -> Energies:
    """Every bar of every period, from the history (blocking: run it in a worker thread). `devices`: type -> name."""
    out: Energies = {}
    for period, days in PERIODS:
        since = day_start(now, days - 1)
        out[period] = {}
        for device_type, name in devices.items():
            bars = [b for b in BARS if b.device_type == device_type]
            if not bars:
                continue
            day_counters = [b.counter for b in bars if b.day_counter]
            got = reader.energy_between(name, [b.counter for b in bars], since, now, day_counters=day_counters)
            out[period].update({b.key: got.get(b.counter) for b in bars})
    return out


class EnergyBars(QWidget):
    """A table of bars: a row per energy, a column per period, each column on its own scale, numbers printed."""

    def __init__(self, bars: tuple[Bar, ...], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("overviewEnergy")
        self.bars = bars
        self.values: Energies | None = None  # None: not read yet or no history
        self.as_of: float | None = None  # plant time of the last read
        self.problem: str | None = None  # i18n key of why there are no values
        self.setMinimumSize(340, 30 + 24 * len(bars))
        self.setToolTip(tr("ov.bars.tip"))

    def sizeHint(self) -> QSize:
        fm = QFontMetricsF(self.font())
        label_w = max(fm.horizontalAdvance(tr(f"ov.bar.{b.key}")) for b in self.bars) + 22
        return QSize(int(label_w + len(PERIODS) * CELL_HINT), int(fm.height() + 8 + ROW_MAX * len(self.bars) + 4))

    def set_values(self, values: Energies | None, as_of: float | None, problem: str | None = None) -> None:
        if (values, as_of, problem) != (self.values, self.as_of, self.problem):
            self.values, self.as_of, self.problem = values, as_of, problem
            self.update()

    def retranslate(self) -> None:
        self.setToolTip(tr("ov.bars.tip"))
        self.update()

    def corner_text(self) -> str:
        if self.problem is not None:
            return tr(self.problem)
        if self.as_of is None:
            return tr("ov.reading")
        return tr("ov.as_of", time=datetime.fromtimestamp(self.as_of).strftime("%H:%M"))

    def paintEvent(self, event: QPaintEvent) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.Antialiasing)
        font, bold, small = QFont(self.font()), QFont(self.font()), QFont(self.font())
        bold.setBold(True)
        small.setPointSizeF(self.font().pointSizeF() * 0.85)
        fm, fm_bold = QFontMetricsF(font), QFontMetricsF(bold)
        w, h = float(self.width()), float(self.height())
        header = fm_bold.height() + 8
        labels = [tr(f"ov.bar.{b.key}") for b in self.bars]
        label_w = min(w * 0.38, max(fm.horizontalAdvance(t) for t in labels) + 22)
        row_h = min(ROW_MAX, (h - header - 4) / len(self.bars))
        col_w = (w - label_w - 8) / len(PERIODS)
        top = max(0.0, (h - header - row_h * len(self.bars)) / 2)  # centred when the dock is taller than the table
        p.setFont(small)
        p.setPen(QColor(MUTED))
        corner = QFontMetricsF(small).elidedText(self.corner_text(), Qt.ElideRight, label_w - 4)
        p.drawText(QRectF(0, top, label_w, header), Qt.AlignLeft | Qt.AlignVCenter, corner)
        p.setFont(bold)
        p.setPen(QColor(INK))
        for i, (period, _) in enumerate(PERIODS):
            p.drawText(QRectF(label_w + i * col_w, top, col_w, header), Qt.AlignCenter, tr(f"ov.{period}"))
        for r, (bar, label) in enumerate(zip(self.bars, labels, strict=True)):
            y = top + header + r * row_h
            p.setPen(Qt.NoPen)
            p.setBrush(QColor(bar.colour))
            p.drawRoundedRect(QRectF(2, y + row_h / 2 - 5, 10, 10), 2, 2)
            p.setFont(font)
            p.setPen(QColor(INK))
            shown = fm.elidedText(label, Qt.ElideRight, label_w - 20)
            p.drawText(QRectF(18, y, label_w - 18, row_h), Qt.AlignLeft | Qt.AlignVCenter, shown)
            for i, (period, _) in enumerate(PERIODS):
                self._cell(p, QRectF(label_w + i * col_w + 6, y + 3, col_w - 12, row_h - 6), bar, period, fm_bold, bold)
        p.end()

    def _cell(self, p: QPainter, cell: QRectF, bar: Bar, period: str, fm: QFontMetricsF, font: QFont) -> None:
        column = (self.values or {}).get(period, {})
        value = column.get(bar.key)
        top = max([v for v in column.values() if v is not None] + [0.0])
        text = DASH if value is None else num(value)
        room = cell.width() - fm.horizontalAdvance(text) - 8  # the bar leaves room for its number
        length = 0.0 if not value or top <= 0 else max(2.0, room * value / top)
        p.setPen(Qt.NoPen)
        p.setBrush(QColor(BAR_TRACK))
        p.drawRoundedRect(cell, 3, 3)
        if length > 0:
            p.setBrush(QColor(bar.colour))
            p.drawRoundedRect(QRectF(cell.left(), cell.top(), length, cell.height()), 3, 3)
        p.setFont(font)
        p.setPen(QColor(INK if value is not None else MUTED))
        p.drawText(QRectF(cell.left() + length + 4, cell.top(), cell.width(), cell.height()), Qt.AlignLeft | Qt.AlignVCenter,
                   text)  # fmt: skip


# --- the panel --------------------------------------------------------------------------------------------------
class OverviewPanel(QWidget):
    """Flow diagram over energy bars (side by side when the dock is wide and low). Fed like the device docks:
    `show_view(view)` for every device update."""

    def __init__(self, runtime: Runtime, tasks: TaskSet, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("overview")
        self.runtime = runtime
        self.tasks = tasks
        self.devices = {t: dev.name for t in DEVICE_TYPES if (dev := runtime.device_of_type(t)) is not None}
        self._type_of = {name: t for t, name in self.devices.items()}
        self.views: dict[str, DeviceView] = {}  # by device type
        self._language = i18n.language()
        self.flow = FlowDiagram("DCDC" in self.devices)
        bars = tuple(b for b in BARS if b.device_type in self.devices)  # no PV bar without a DC-DC
        self.bars = EnergyBars(bars)
        self.box = QBoxLayout(QBoxLayout.TopToBottom, self)
        self.box.setContentsMargins(8, 6, 8, 6)
        self.box.setSpacing(10)
        self.box.addWidget(self.flow, 1)
        self.box.addWidget(self.bars, 0)
        self.timer = QTimer(self)
        self.timer.setInterval(int(REFRESH_S * 1000))
        self.timer.timeout.connect(self._tick)
        self.requested = self.refreshes = 0  # history reads started, and done with values (tests)
        self._refreshing: asyncio.Task[None] | None = None
        self._refreshed_at: float | None = None  # loop time of the last read

    def show_view(self, view: DeviceView) -> None:
        kind = self._type_of.get(view.name)
        if kind is None:
            return
        self.views[kind] = view
        self.flow.set_model(flow_model(self.views, self.flow.has_pv))
        if self._language != i18n.language():  # the console re-sends every view after a language switch
            self._language = i18n.language()
            self.bars.retranslate()

    def retranslate(self) -> None:
        self._language = i18n.language()
        self.flow.set_model(flow_model(self.views, self.flow.has_pv))
        self.bars.retranslate()

    # --- energy ---------------------------------------------------------------------------------------------------
    async def refresh_energy(self) -> None:
        """Read the bars from the history (in a worker thread) and show them."""
        history = self.runtime.history
        if history is None or not history.ok:
            self.bars.set_values(None, None, "ov.no_history")
            return
        await history.flush()  # the readings polled until now are on disk too (at a first start, the only ones)
        now = self.runtime.clock.now()
        devices = {t: n for t, n in self.devices.items() if any(b.device_type == t for b in BARS)}
        job = partial(read_energies, HistoryReader(history.path), devices, now)
        try:
            values = await asyncio.get_running_loop().run_in_executor(None, job)
        except (sqlite3.Error, OSError, HistoryError, ValueError) as exc:
            log.warning("energy bars: the history cannot be read (%s)", exc)
            self.bars.set_values(None, None, "ov.no_history")
            return
        self.refreshes += 1
        self.bars.set_values(values, now)

    def set_shown(self, shown: bool) -> None:
        """Wired to the dock's `visibilityChanged`: its tab raised (True) or put behind another one (False). Qt moves a
        tab behind another out of sight without hiding it, so no hide and show events tell the panel."""
        if shown:
            self._refresh_if_due()

    def _tick(self) -> None:
        if not self.visibleRegion().isEmpty():  # behind another tab: nobody sees the bars, no read
            self._refresh_soon()

    def _refresh_if_due(self) -> None:
        try:
            now = asyncio.get_running_loop().time()
        except RuntimeError:
            return  # no event loop (a widget built without one): nothing to read with
        if self._refreshed_at is None or now - self._refreshed_at >= REFRESH_S:
            self._refresh_soon()

    def _refresh_soon(self) -> None:
        """Start a read unless one is running (a slow disk must not pile them up)."""
        if self._refreshing is not None and not self._refreshing.done():
            return
        self._refreshed_at = asyncio.get_running_loop().time()
        self.requested += 1
        self._refreshing = self.tasks.spawn(self.refresh_energy(), "overview energy")

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self.timer.start()
        self._refresh_if_due()

    def hideEvent(self, event: QHideEvent) -> None:
        super().hideEvent(event)
        self.timer.stop()  # the console closing or minimised: no reads nobody sees

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        # A wide, low dock: the bars beside the diagram, if the diagram keeps room for its four parts and their labels.
        wide = self.width() > 2.4 * self.height() and self.width() - self.bars.sizeHint().width() >= WIDE_FLOW_MIN
        direction = QBoxLayout.LeftToRight if wide else QBoxLayout.TopToBottom
        if self.box.direction() != direction:
            self.box.setDirection(direction)
