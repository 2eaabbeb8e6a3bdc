"""Trend charts: SOC, battery power, PV power and AC power on a date-time axis.

Like pyqtgraph's scrolling examples: preallocated ring buffers (no growth,
no copies), float64 epoch seconds on a DateAxisItem, NaN where a device was
not fresh (the curve shows a gap), peak-mode downsampling and clip-to-view so
7 days at 1 Hz stays smooth. At start they are backfilled from the history
(read in a worker thread): the last hour a sample a second, the days before
each minute's min and max; restarts and outages stay gaps (NaN).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from functools import partial

import numpy as np
import pyqtgraph as pg
from PyQt5.QtWidgets import QButtonGroup, QCheckBox, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from pms_core.automation.operation_manager import OperationStatus
from pms_core.history import HistoryReader
from pms_core.runtime import Runtime
from pms_gui.bridge import ClockTick
from pms_gui.i18n import Binder, tr
from pms_gui.palette import AXIS_INK, PAPER, SERIES_COLOURS, THRESHOLD_LINES, ZERO_LINE

log = logging.getLogger(__name__)

CAPACITY = 7 * 24 * 3600  # one sample a second for 7 days
WINDOWS = (("trend.10m", 600), ("trend.1h", 3600), ("trend.24h", 86400), ("trend.7d", 7 * 86400))
# Seconds between redraws per window: a pixel of a 24 h chart is over a minute wide.
REDRAW_EVERY = {600: 1, 3600: 2, 86400: 10, 7 * 86400: 60}


@dataclass(frozen=True)
class Series:
    key: str  # i18n key of the legend
    device_type: str
    value: str  # snapshot value name
    colour: str


SERIES = (
    Series("trend.soc", "BMS", "battery_soc", SERIES_COLOURS["battery_soc"]),
    Series("trend.battery_power", "BMS", "battery_power", SERIES_COLOURS["battery_power"]),
    Series("trend.pv_power", "DCDC", "input_power", SERIES_COLOURS["input_power"]),
    Series("trend.ac_power", "PCS", "ac_active_power", SERIES_COLOURS["ac_active_power"]),
)


class Ring:
    """A fixed-size time series kept twice over, so the newest N samples are always one contiguous view."""

    def __init__(self, capacity: int, columns: int) -> None:
        self.capacity = capacity
        self.t = np.full(2 * capacity, np.nan)
        self.y = np.full((columns, 2 * capacity), np.nan, dtype=np.float32)
        self.count = 0
        self._head = 0  # where the next sample goes (0..capacity-1)

    def append(self, t: float, values: list[float]) -> None:
        i, j = self._head, self._head + self.capacity
        self.t[i] = self.t[j] = t
        self.y[:, i] = self.y[:, j] = values
        self._head = (i + 1) % self.capacity
        self.count = min(self.count + 1, self.capacity)

    def load(self, t: np.ndarray, y: np.ndarray) -> None:
        """Replace the content with rows (t, y[columns, n]), oldest first; keeps the newest `capacity`."""
        n = min(len(t), self.capacity)
        t, y = t[len(t) - n :], y[:, y.shape[1] - n :]
        self.t[:] = np.nan
        self.y[:] = np.nan
        self.t[:n] = self.t[self.capacity : self.capacity + n] = t
        self.y[:, :n] = self.y[:, self.capacity : self.capacity + n] = y
        self._head = n % self.capacity
        self.count = n

    def last(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """The newest `n` samples (fewer if not yet that many), oldest first, as views."""
        n = min(n, self.count)
        end = self._head + self.capacity
        return self.t[end - n : end], self.y[:, end - n : end]


class TrendPanel(QWidget):
    def __init__(self, runtime: Runtime, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.runtime = runtime
        self.binder = Binder()
        self.ring = Ring(CAPACITY, len(SERIES))
        self.window = WINDOWS[0][1]
        self._since_redraw = 0
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(self._window_bar())
        self.graphics = self._charts()
        layout.addWidget(self.graphics, 1)
        self.curves = self._curves()
        self.threshold_lines = self._threshold_lines()
        self.follow()

    # --- building ----------------------------------------------------------------------------
    def _window_bar(self) -> QHBoxLayout:
        """The bar above the charts: the window's buttons (10 min ... 7 days), pause and follow."""
        bar = QHBoxLayout()
        label = QLabel()
        self.binder.bind(label.setText, "trend.window")
        bar.addWidget(label)
        self.window_buttons = QButtonGroup(self)
        for i, (key, seconds) in enumerate(WINDOWS):
            button = QPushButton()
            button.setCheckable(True)
            button.setChecked(i == 0)
            button.setObjectName(f"window:{seconds}")
            self.binder.bind(button.setText, key)
            self.window_buttons.addButton(button, seconds)
            bar.addWidget(button)
        self.window_buttons.idClicked.connect(self.set_window)
        bar.addStretch(1)
        self.pause = QCheckBox()
        self.binder.bind(self.pause.setText, "trend.pause")
        self.pause.toggled.connect(lambda paused: None if paused else self.redraw())
        bar.addWidget(self.pause)
        follow = QPushButton()
        self.binder.bind(follow.setText, "trend.follow")
        follow.clicked.connect(self.follow)
        bar.addWidget(follow)
        return bar

    def _charts(self) -> pg.GraphicsLayoutWidget:
        """The SOC chart over the power chart, one time axis for both, their legends, the power chart's 0 kW line."""
        pg.setConfigOptions(antialias=False, background=PAPER, foreground=AXIS_INK)
        graphics = pg.GraphicsLayoutWidget()
        self.soc_plot = graphics.addPlot(row=0, col=0, axisItems={"bottom": pg.DateAxisItem()})
        self.power_plot = graphics.addPlot(row=1, col=0, axisItems={"bottom": pg.DateAxisItem()})
        self.power_plot.setXLink(self.soc_plot)
        self.soc_plot.setYRange(0, 100, padding=0.02)
        self.soc_plot.getAxis("bottom").setStyle(showValues=False)
        graphics.ci.layout.setRowStretchFactor(0, 1)
        graphics.ci.layout.setRowStretchFactor(1, 1)
        self.legend = self.power_plot.addLegend(offset=(10, 5))
        self.soc_legend = self.soc_plot.addLegend(offset=(10, 5))
        for plot in (self.soc_plot, self.power_plot):  # curves added later take these too (PlotItem.addItem)
            plot.setDownsampling(auto=True, mode="peak")
            plot.setClipToView(True)
            plot.showGrid(x=True, y=True, alpha=0.2)
            plot.setMouseEnabled(x=True, y=False)
        self.power_plot.addLine(y=0, pen=pg.mkPen(ZERO_LINE, width=1))
        return graphics

    def _curves(self) -> list[pg.PlotDataItem]:
        """A curve per series on its chart; hidden, and not in the legend, without its device (no PV without a DC-DC)."""
        curves = []
        for series in SERIES:
            plot = self.soc_plot if series.value == "battery_soc" else self.power_plot
            present = self.runtime.device_of_type(series.device_type) is not None
            name = tr(series.key) if present else None
            curve = plot.plot(pen=pg.mkPen(series.colour, width=1), name=name, connect="finite")
            curve.setVisible(present)
            curves.append(curve)
        return curves

    def _threshold_lines(self) -> dict[str, pg.InfiniteLine]:
        """The SOC thresholds as dashed lines on the SOC chart (placed by `show_operation`)."""
        lines = {
            key: self.soc_plot.addLine(y=50, pen=pg.mkPen(colour, width=1, style=pg.QtCore.Qt.DashLine))
            for key, colour in THRESHOLD_LINES.items()
        }
        # Without a DC-DC there is no SOC-high rule: no line for it.
        lines["soc_high_threshold"].setVisible(self.runtime.device_of_type("DCDC") is not None)
        return lines

    # --- data ------------------------------------------------------------------------------
    def tick(self, tick: ClockTick) -> None:
        """Once a second: a sample of every series; NaN where the device's data is not fresh."""
        row = []
        for series in SERIES:
            dev = self.runtime.device_of_type(series.device_type)
            snap = dev.fresh_snapshot() if dev else None
            value = snap.value(series.value) if snap else None
            row.append(float(value) if isinstance(value, (int, float)) else np.nan)
        self.ring.append(tick.now, row)
        self._since_redraw += 1
        if self._since_redraw >= REDRAW_EVERY[self.window]:
            self.redraw()

    async def backfill(self) -> int:
        """Fill the ring from the history before the live samples; returns the rows added (0 without history)."""
        history = self.runtime.history
        if history is None or not history.ok:
            return 0
        keys = []
        for series in SERIES:
            dev = self.runtime.device_of_type(series.device_type)
            keys.append((dev.name if dev else "", series.value))
        ages = {d.name: d.stale_limit for d in self.runtime.devices.values()}  # as fresh_snapshot() judges live data
        await history.flush()  # what was polled since the start is on disk too
        now = self.runtime.clock.now()
        reader = HistoryReader(history.path)
        try:
            job = partial(reader.backfill, keys, now, float(CAPACITY), max_age=ages)
            t, y = await asyncio.get_running_loop().run_in_executor(None, job)
        except Exception:
            log.exception("trend backfill from %s failed: the trends start empty", history.path)
            return 0
        live_t, live_y = self.ring.last(self.ring.count)
        if len(live_t):
            older = t < live_t[0]
            t, y = np.concatenate([t[older], live_t]), np.concatenate([y[:, older], live_y], axis=1)
        self.ring.load(t, y.astype(np.float32))
        self.redraw()
        return len(t) - len(live_t)

    def show_operation(self, status: OperationStatus) -> None:
        """The threshold lines where the thresholds are."""
        for key, line in self.threshold_lines.items():
            line.setValue(status.thresholds[key])

    # --- drawing ---------------------------------------------------------------------------
    def set_window(self, seconds: int) -> None:
        self.window = seconds
        self.follow()

    def follow(self) -> None:
        self.pause.setChecked(False)
        self.redraw()

    def redraw(self) -> None:
        if self.pause.isChecked():
            return
        self._since_redraw = 0
        now = self.runtime.clock.now()
        if self.isVisible():
            t, y = self.ring.last(self.window)
            for i, curve in enumerate(self.curves):
                curve.setData(t, y[i])
        self.soc_plot.setXRange(now - self.window, now, padding=0)

    def retranslate(self) -> None:
        self.binder.retranslate()
        for legend in (self.legend, self.soc_legend):
            for sample, label in legend.items:
                name = next((tr(s.key) for s, c in zip(SERIES, self.curves, strict=True) if c is sample.item), None)
                if name:
                    label.setText(name)
