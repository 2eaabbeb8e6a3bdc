"""Building blocks of the device docks: value grids that grey out stale data, the SOC gauge, formatting."""

from __future__ import annotations

import math
from collections.abc import Iterable

from PyQt5.QtCore import QRectF, Qt
from PyQt5.QtGui import QColor, QFont, QPainter, QPaintEvent, QPen
from PyQt5.QtWidgets import QFrame, QGridLayout, QLabel, QSizePolicy, QVBoxLayout, QWidget

from pms_core.registers import DeviceMap
from pms_gui.bridge import DeviceView
from pms_gui.i18n import Binder, tr
from pms_gui.palette import INK, MUTED, SOC_BANDS, STALE_BAND, STATE_COLOURS

DASH = "—"


def num(value: object, digits: int = 1) -> str:
    if value is None or isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        return DASH
    return f"{value:,.{digits}f}"


def with_unit(value: object, unit: str, digits: int = 1) -> str:
    text = num(value, digits)
    return text if text == DASH else f"{text} {unit}"


def age_text(age: float | None) -> str:
    return tr("age.never") if age is None else tr("age.seconds", age=age)


def active_bits(device_map: DeviceMap, raw: dict[str, int]) -> list[tuple[str, str, str]]:
    """The set alarm bits (the map's one rule, as the Alarms dock has them): (register, bit name, severity)."""
    return [
        (name, spec.name, spec.severity)
        for name, bits in device_map.alarm_bits().items()
        for bit, spec in bits
        if raw.get(name, 0) >> bit & 1
    ]


class ValueGrid(QWidget):
    """Rows of `label  value`; `set_fresh(False)` greys every value (stale data is never shown as current)."""

    def __init__(self, keys: Iterable[str], parent: QWidget | None = None, columns: int = 1) -> None:
        super().__init__(parent)
        self.binder = Binder()
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setHorizontalSpacing(12)
        grid.setVerticalSpacing(3)
        self.values: dict[str, QLabel] = {}
        self._colours: dict[str, str | None] = {}
        self._fresh = True
        keys = list(keys)
        rows = math.ceil(len(keys) / columns)
        for i, key in enumerate(keys):
            col, row = divmod(i, rows)
            name = QLabel()
            self.binder.bind(name.setText, key)
            name.setStyleSheet(f"color: {MUTED};")
            value = QLabel(DASH)
            value.setObjectName(f"value:{key}")
            value.setAlignment(Qt.AlignRight | Qt.AlignVCenter)
            value.setTextInteractionFlags(Qt.TextSelectableByMouse)
            font = value.font()
            font.setPointSizeF(font.pointSizeF() * 1.1)
            font.setBold(True)
            value.setFont(font)
            grid.addWidget(name, row, col * 2)
            grid.addWidget(value, row, col * 2 + 1)
            self.values[key] = value
            self._colours[key] = None
        for col in range(columns):
            grid.setColumnStretch(col * 2 + 1, 1)

    def set(self, key: str, text: str, colour: str | None = None) -> None:
        label = self.values[key]
        if label.text() != text:
            label.setText(text)
        if self._colours[key] != colour:
            self._colours[key] = colour
            self._style(key)

    def set_fresh(self, fresh: bool) -> None:
        if fresh != self._fresh:
            self._fresh = fresh
            for key in self.values:
                self._style(key)

    @property
    def fresh(self) -> bool:
        return self._fresh

    def _style(self, key: str) -> None:
        colour = self._colours[key] if self._fresh else MUTED
        self.values[key].setStyleSheet(f"color: {colour};" if colour else "")


class LinkBanner(QLabel):
    """The device's name, link state and, when the data is not fresh, its age."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("linkBanner")
        self.setTextFormat(Qt.RichText)
        self.setWordWrap(True)

    def show_view(self, view: DeviceView) -> None:
        colour = STATE_COLOURS[view.shown_state]
        state = tr(f"link.{view.shown_state}")
        text = f"<b>{view.name}</b> &nbsp; <span style='color:{colour}'>● {state}</span>"
        if not view.fresh:
            text += f" &nbsp; <span style='color:{MUTED}'>{tr('stale.note', state=state, age=age_text(view.age))}</span>"
            if view.error:
                text += f"<br><span style='color:{MUTED}'>{view.error}</span>"
        if self.text() != text:
            self.setText(text)


class DevicePanel(QWidget):
    """A device dock's content: banner + one or more value grids; greys out when the data is not fresh.

    Fed through `show_view` (pms_gui.panels) with every device's view, it shows those of `device_name`: the banner
    and the greying always, `render_state` (what needs no data) always, `render` once there is data."""

    def __init__(self, device_name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.device_name = device_name
        self.layout_ = QVBoxLayout(self)
        self.layout_.setContentsMargins(8, 6, 8, 6)
        self.banner = LinkBanner()
        self.layout_.addWidget(self.banner)
        self.grids: list[ValueGrid] = []
        self.view: DeviceView | None = None

    def add_grid(self, keys: Iterable[str], columns: int = 1) -> ValueGrid:
        grid = ValueGrid(keys, columns=columns)
        self.grids.append(grid)
        self.layout_.addWidget(grid)
        return grid

    def show_view(self, view: DeviceView) -> None:
        if view.name != self.device_name:
            return
        self.view = view
        self.banner.show_view(view)
        for grid in self.grids:
            grid.set_fresh(view.fresh)
        if view.snapshot is not None:
            self.render(view)
        self.render_state(view)

    def render(self, view: DeviceView) -> None:
        """The device's data (the view has a snapshot)."""
        raise NotImplementedError

    def render_state(self, view: DeviceView) -> None:
        """What the dock shows of the view with or without data, beyond the banner and the greying."""

    def retranslate(self) -> None:
        for grid in self.grids:
            grid.binder.retranslate()
        if self.view is not None:
            self.show_view(self.view)


def separator() -> QFrame:
    line = QFrame()
    line.setFrameShape(QFrame.HLine)
    line.setStyleSheet(f"color: {MUTED};")
    return line


class SocGauge(QWidget):
    """A large arc gauge: colour bands between the thresholds, tick marks on them, SOC in the middle."""

    START, SPAN = 225.0, -270.0  # degrees, Qt's counter-clockwise convention

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("socGauge")
        self.setMinimumSize(220, 190)
        self.setMaximumHeight(360)
        self.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Preferred)
        self.soc: float | None = None
        self.fresh = True
        self.thresholds: dict[str, float] = {}

    def set_soc(self, soc: float | None, fresh: bool) -> None:
        if (soc, fresh) != (self.soc, self.fresh):
            self.soc, self.fresh = soc, fresh
            self.update()

    def set_thresholds(self, low: float, stop: float, high: float) -> None:
        wanted = {"low": low, "stop": stop, "high": high}
        if wanted != self.thresholds:
            self.thresholds = wanted
            self.update()

    def _angle(self, soc: float) -> float:
        return self.START + self.SPAN * max(0.0, min(100.0, soc)) / 100

    def paintEvent(self, event: QPaintEvent) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.Antialiasing)
        margin = 26.0  # room for the threshold values outside the arc
        side = max(60.0, min(self.width() - 2 * margin, (self.height() - margin) * 1.17))
        rect = QRectF((self.width() - side) / 2, margin, side, side)
        width = max(10.0, side / 12)
        t = self.thresholds
        low, stop, high = t.get("low", 10.0), t.get("stop", 25.0), t.get("high", 90.0)
        bands = [(0, low, SOC_BANDS["low"]), (low, stop, SOC_BANDS["stop"]), (stop, high, SOC_BANDS["normal"]),
                 (high, 100, SOC_BANDS["high"])]  # fmt: skip
        band_rect = rect.adjusted(width / 2, width / 2, -width / 2, -width / 2)
        for a, b, colour in bands:
            pen = QPen(QColor(colour if self.fresh else STALE_BAND), width, Qt.SolidLine, Qt.FlatCap)
            p.setPen(pen)
            p.drawArc(band_rect, int(self._angle(a) * 16), int((self._angle(b) - self._angle(a)) * 16))
        centre = rect.center()
        radius = side / 2
        # the value: a dark needle arc inside the bands
        if self.soc is not None:
            inset = width * 1.5
            inner = rect.adjusted(inset, inset, -inset, -inset)
            pen = QPen(QColor(INK if self.fresh else MUTED), width * 0.45, Qt.SolidLine, Qt.RoundCap)
            p.setPen(pen)
            p.drawArc(inner, int(self.START * 16), int((self._angle(self.soc) - self.START) * 16))
        # threshold ticks across the band, their values outside it
        small = QFont(self.font())
        small.setPointSizeF(max(7.0, self.font().pointSizeF() * 0.9))
        small.setBold(True)
        p.setFont(small)
        for value in (low, stop, high):
            rad = math.radians(self._angle(value))
            cos, sin = math.cos(rad), -math.sin(rad)
            p.setPen(QPen(QColor(INK), 3))
            r0, r1 = radius - width - 3, radius + 3
            p.drawLine(
                int(centre.x() + cos * r0),
                int(centre.y() + sin * r0),
                int(centre.x() + cos * r1),
                int(centre.y() + sin * r1),
            )
            tx, ty = centre.x() + cos * (radius + 15), centre.y() + sin * (radius + 13)
            p.drawText(QRectF(tx - 30, ty - 10, 60, 20), Qt.AlignCenter, f"{value:g}")
        # the number
        big = QFont(self.font())
        big.setPointSizeF(max(14.0, side / 7.5))
        big.setBold(True)
        p.setFont(big)
        p.setPen(QColor(INK if self.fresh else MUTED))
        text = DASH if self.soc is None else f"{self.soc:.1f}%"
        p.drawText(QRectF(rect.left(), centre.y() - side / 8, rect.width(), side / 4), Qt.AlignCenter, text)
        label = QFont(self.font())
        label.setPointSizeF(max(8.0, side / 18))
        p.setFont(label)
        p.setPen(QColor(MUTED))
        p.drawText(QRectF(rect.left(), centre.y() + side / 8, rect.width(), side / 8), Qt.AlignCenter, "SOC")
        p.end()

    @staticmethod
    def legend(low: float, stop: float, high: float, has_dcdc: bool = True) -> str:
        """The bands in words; without a DC-DC there is no SOC-high rule, so no band says there is."""
        swatch = "<span style='color:{c}'>■</span> {t}"
        bands = [
            (SOC_BANDS["low"], f"&lt; {low:g} {tr('gauge.low')}"),
            (SOC_BANDS["stop"], f"{low:g}–{stop:g} {tr('gauge.stop')}"),
            (SOC_BANDS["normal"],
             f"{stop:g}–{high:g} {tr('gauge.normal')}" if has_dcdc else f"&gt; {stop:g} {tr('gauge.normal')}"),
        ]  # fmt: skip
        if has_dcdc:
            bands.append((SOC_BANDS["high"], f"&gt; {high:g} {tr('gauge.high')}"))
        return " &nbsp; ".join(swatch.format(c=c, t=t) for c, t in bands)
