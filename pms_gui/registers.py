"""The register tables for technicians: every register of every device's map, live, with copy."""

from __future__ import annotations

from PyQt5.QtCore import QAbstractTableModel, QModelIndex, Qt
from PyQt5.QtGui import QBrush, QColor, QKeySequence
from PyQt5.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QShortcut,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from pms_core.devices import Device
from pms_core.runtime import Runtime
from pms_gui.bridge import DeviceView
from pms_gui.i18n import Binder, tr
from pms_gui.palette import MUTED
from pms_gui.widgets import age_text

COLUMNS = ("reg.col.address", "reg.col.table", "reg.col.name", "reg.col.raw", "reg.col.value", "reg.col.unit",
           "reg.col.description")  # fmt: skip
RAW, VALUE = 3, 4


class RegisterModel(QAbstractTableModel):
    def __init__(self, device: Device) -> None:
        super().__init__()
        self.device = device
        self.registers = sorted(device.map.registers.values(), key=lambda r: (r.table != "holding", r.address))
        self.raw: dict[str, int] = {}
        self.values: dict[str, object] = {}
        self.unsupported: frozenset[str] = frozenset()
        self.fresh = True

    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: B008 - Qt's names
        return 0 if parent.isValid() else len(self.registers)

    def columnCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.DisplayRole) -> object:
        if role == Qt.DisplayRole and orientation == Qt.Horizontal:
            return tr(COLUMNS[section])
        return None

    def text(self, row: int, col: int) -> str:
        reg = self.registers[row]
        if col == 0:
            return str(reg.address)
        if col == 1:
            return reg.table
        if col == 2:
            return reg.name
        if col == RAW:
            raw = self.raw.get(reg.name)
            if raw is None:
                return ""
            return f"0x{raw:04X}" if reg.type == "bitmask" else str(raw)
        if col == VALUE:
            if reg.name in self.unsupported:
                return tr("reg.unsupported")
            value = self.values.get(reg.name)
            if value is None:
                return "" if reg.name not in self.values else "n/a"
            return f"{value:g}" if isinstance(value, float) else str(value)
        if col == 5:
            return reg.unit
        return reg.description

    def data(self, index: QModelIndex, role: int = Qt.DisplayRole) -> object:
        if not index.isValid():
            return None
        if role == Qt.DisplayRole:
            return self.text(index.row(), index.column())
        if role == Qt.ForegroundRole and index.column() in (RAW, VALUE) and not self.fresh:
            return QBrush(QColor(MUTED))
        if role == Qt.TextAlignmentRole and index.column() in (0, RAW, VALUE):
            return int(Qt.AlignRight | Qt.AlignVCenter)
        return None

    def update(self, view: DeviceView) -> None:
        if view.snapshot is not None:
            self.raw, self.values = view.snapshot.raw, view.snapshot.values
            self.unsupported = view.snapshot.unsupported
        self.fresh = view.fresh
        if self.registers:
            self.dataChanged.emit(self.index(0, RAW), self.index(len(self.registers) - 1, VALUE))


class RegistersPanel(QWidget):
    def __init__(self, runtime: Runtime, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.binder = Binder()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        self.tabs = QTabWidget()
        layout.addWidget(self.tabs)
        self.models: dict[str, RegisterModel] = {}
        self.views: dict[str, QTableView] = {}
        self.pending: dict[str, DeviceView] = {}
        for dev in runtime.devices.values():
            model = RegisterModel(dev)
            view = QTableView()
            view.setObjectName(f"registers:{dev.name}")
            view.setModel(model)
            view.setSelectionBehavior(QAbstractItemView.SelectRows)
            view.verticalHeader().setVisible(False)
            view.verticalHeader().setDefaultSectionSize(22)
            view.setAlternatingRowColors(True)
            header = view.horizontalHeader()
            header.setSectionResizeMode(QHeaderView.Interactive)
            header.setStretchLastSection(True)
            for col, width in enumerate((60, 60, 200, 70, 80, 50)):
                view.setColumnWidth(col, width)
            self.tabs.addTab(view, dev.name)
            self.models[dev.name] = model
            self.views[dev.name] = view
        row = QHBoxLayout()
        self.age = QLabel()
        self.age.setStyleSheet(f"color: {MUTED};")
        row.addWidget(self.age, 1)
        self.copied = QLabel()
        row.addWidget(self.copied)
        copy = QPushButton()
        copy.setObjectName("registers:copy")
        self.binder.bind(copy.setText, "reg.copy")
        copy.clicked.connect(self.copy)
        row.addWidget(copy)
        layout.addLayout(row)
        QShortcut(QKeySequence.Copy, self, activated=self.copy)
        self.tabs.currentChanged.connect(lambda _i: self._refresh_current())

    def show_view(self, view: DeviceView) -> None:
        """Only the visible table is redrawn; the others catch up when shown."""
        self.pending[view.name] = view
        if self.isVisible() and self.tabs.tabText(self.tabs.currentIndex()) == view.name:
            self._refresh_current()

    def _refresh_current(self) -> None:
        name = self.tabs.tabText(self.tabs.currentIndex())
        view = self.pending.pop(name, None)
        if view is not None:
            self.models[name].update(view)
            self.age.setText(f"{name}: {tr(f'link.{view.state}')} · {age_text(view.age)}")

    def showEvent(self, event: object) -> None:
        super().showEvent(event)
        self._refresh_current()

    def copy(self) -> int:
        """Copy the selected rows (all rows if none) as tab-separated text; returns the row count."""
        name = self.tabs.tabText(self.tabs.currentIndex())
        model, view = self.models[name], self.views[name]
        rows = sorted({i.row() for i in view.selectionModel().selectedRows()}) or list(range(model.rowCount()))
        lines = ["\t".join(tr(c) for c in COLUMNS)]
        lines += ["\t".join(model.text(r, c) for c in range(len(COLUMNS))) for r in rows]
        QApplication.clipboard().setText("\n".join(lines) + "\n")
        self.copied.setText(tr("reg.copied", rows=len(rows)))
        return len(rows)

    def retranslate(self) -> None:
        self.binder.retranslate()
        for model in self.models.values():
            model.headerDataChanged.emit(Qt.Horizontal, 0, len(COLUMNS) - 1)
