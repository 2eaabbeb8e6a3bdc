"""The console's main window: the docks, the View menu, the status bar, closing and error display."""

from __future__ import annotations

import logging
from datetime import datetime

from PyQt5.QtCore import QByteArray, QSettings, Qt, QTimer, pyqtSignal
from PyQt5.QtGui import QCloseEvent, QShowEvent
from PyQt5.QtWidgets import QAction, QActionGroup, QDockWidget, QLabel, QMainWindow, QMessageBox, QWidget

from pms_core.automation.operation_manager import OperationStatus
from pms_core.bus import BrokerStateChanged
from pms_core.runtime import Runtime
from pms_gui import i18n
from pms_gui.auto_panel import AutoPanel
from pms_gui.bridge import Bridge, ClockTick, DeviceView
from pms_gui.controls import ControlsPanel
from pms_gui.devices import BmsPanel, DcdcPanel, DevicePanel, PcsPanel
from pms_gui.events import EventsPanel
from pms_gui.export_dialog import ExportDialog
from pms_gui.i18n import Binder, tr
from pms_gui.registers import RegistersPanel
from pms_gui.tasks import TaskSet
from pms_gui.trends import TrendPanel
from pms_gui.widgets import STATE_COLOURS, age_text

log = logging.getLogger(__name__)

LAYOUT_VERSION = 1
DEFAULT_SIZE = (1880, 1000)
PANEL_CLASSES = {"BMS": BmsPanel, "PCS": PcsPanel, "DCDC": DcdcPanel}
BROKER_COLOURS = {"connected": "#2e7d32", "connecting": "#c98a00", "disconnected": "#c62828"}


class MainWindow(QMainWindow):
    closed = pyqtSignal()

    def __init__(self, runtime: Runtime, settings: QSettings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.runtime = runtime
        self.settings = settings
        self.tasks = TaskSet()
        self.binder = Binder()
        self.bridge = Bridge(runtime, self)
        self._close_confirmed = False
        self.close_dialog: QMessageBox | None = None
        self.error_dialog: QMessageBox | None = None
        self.export_dialog: ExportDialog | None = None
        self.setObjectName("pmsConsole")
        self.binder.bind(self.setWindowTitle, "app.title")
        self.setDockOptions(QMainWindow.AnimatedDocks | QMainWindow.AllowTabbedDocks | QMainWindow.AllowNestedDocks)
        self.setCorner(Qt.TopLeftCorner, Qt.LeftDockWidgetArea)
        self.setCorner(Qt.BottomLeftCorner, Qt.LeftDockWidgetArea)
        self.setCorner(Qt.TopRightCorner, Qt.RightDockWidgetArea)
        self.setCorner(Qt.BottomRightCorner, Qt.RightDockWidgetArea)

        # panels
        first_of_type: dict[str, str] = {}  # one dock per device type (a site has one of each)
        for dev in runtime.devices.values():
            first_of_type.setdefault(dev.type, dev.name)
        self.device_panels: dict[str, DevicePanel] = {
            name: PANEL_CLASSES[kind](runtime.devices[name].map) for kind, name in first_of_type.items()
        }
        self.trends = TrendPanel(runtime)
        self.controls = ControlsPanel(runtime, self.tasks)
        self.auto = AutoPanel(runtime)
        self.events = EventsPanel(runtime)
        self.registers = RegistersPanel(runtime)

        # docks
        self.docks: dict[str, QDockWidget] = {}
        for kind in ("BMS", "PCS", "DCDC"):
            if kind in first_of_type:
                self._dock(f"dock.{kind.lower()}", f"dock_{kind.lower()}", self.device_panels[first_of_type[kind]])
        self._dock("dock.trends", "dock_trends", self.trends)
        self._dock("dock.auto", "dock_auto", self.auto)
        self._dock("dock.controls", "dock_controls", self.controls)
        self._dock("dock.events", "dock_events", self.events)
        self._dock("dock.registers", "dock_registers", self.registers)
        self.resize(*DEFAULT_SIZE)  # the default layout's proportions need the default size
        self._arrange()
        self.default_state = self.saveState(LAYOUT_VERSION)
        self._menus()
        self._status_bar()
        self._shown = False
        self._restored = self.restore_layout()

        b = self.bridge
        b.device_updated.connect(self._device_updated)
        b.operation_changed.connect(self._operation_changed)
        b.command_result.connect(self.events.command_result)
        b.link_changed.connect(self.events.link_changed)
        b.alarm_changed.connect(self.events.alarm_changed)
        b.broker_changed.connect(self._broker_changed)
        b.ticked.connect(self._ticked)
        b.replay()
        self.tasks.spawn(self.trends.backfill(), "trend backfill")
        self.tasks.spawn(self.events.load_recent(), "recent audit entries")

    # --- layout --------------------------------------------------------------------------------
    def _dock(self, title_key: str, name: str, widget: QWidget) -> QDockWidget:
        dock = QDockWidget(self)
        dock.setObjectName(name)
        self.binder.bind(dock.setWindowTitle, title_key)
        dock.setWidget(widget)
        dock.setFeatures(QDockWidget.DockWidgetMovable | QDockWidget.DockWidgetFloatable | QDockWidget.DockWidgetClosable)
        self.docks[name] = dock
        return dock

    def _arrange(self) -> None:
        """The default layout: BMS and auto mode left, trends and the tabbed tools centre, PCS and DC-DC right."""
        d = self.docks
        for dock in d.values():
            dock.setFloating(False)
            dock.show()
        left = [d[n] for n in ("dock_bms",) if n in d]
        right = [d[n] for n in ("dock_pcs", "dock_dcdc") if n in d]
        for dock in left:
            self.addDockWidget(Qt.LeftDockWidgetArea, dock, Qt.Vertical)
        for dock in right:
            self.addDockWidget(Qt.RightDockWidgetArea, dock, Qt.Vertical)
        self.addDockWidget(Qt.TopDockWidgetArea, d["dock_trends"])
        self.addDockWidget(Qt.BottomDockWidgetArea, d["dock_auto"])
        self.splitDockWidget(d["dock_auto"], d["dock_controls"], Qt.Horizontal)
        self.tabifyDockWidget(d["dock_controls"], d["dock_events"])
        self.tabifyDockWidget(d["dock_events"], d["dock_registers"])
        d["dock_controls"].raise_()
        self._size_docks()

    def _size_docks(self) -> None:
        """The default proportions; they take effect once the window has its size (first show, reset)."""
        d = self.docks
        sides = [d[n] for n in ("dock_bms", "dock_pcs") if n in d]
        self.resizeDocks(sides, [380, 390][: len(sides)], Qt.Horizontal)
        self.resizeDocks([d["dock_trends"], d["dock_auto"]], [470, 420], Qt.Vertical)
        self.resizeDocks([d["dock_auto"], d["dock_controls"]], [600, 520], Qt.Horizontal)
        right = [d[n] for n in ("dock_pcs", "dock_dcdc") if n in d]
        if len(right) == 2:
            self.resizeDocks(right, [500, 400], Qt.Vertical)

    def reset_layout(self) -> None:
        self.restoreState(self.default_state, LAYOUT_VERSION)
        for dock in self.docks.values():
            dock.setFloating(False)
            dock.show()
        self.docks["dock_controls"].raise_()
        self._size_docks()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if not self._shown:
            self._shown = True
            if not self._restored:
                QTimer.singleShot(0, self._size_docks)

    def save_layout(self) -> None:
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/state", self.saveState(LAYOUT_VERSION))
        self.settings.setValue("language", i18n.language())
        self.settings.sync()

    def restore_layout(self) -> bool:
        geometry, state = self.settings.value("window/geometry"), self.settings.value("window/state")
        restored = False
        if isinstance(geometry, QByteArray):
            restored = self.restoreGeometry(geometry)
        if isinstance(state, QByteArray):
            restored = self.restoreState(state, LAYOUT_VERSION) and restored
        return restored

    # --- menus and status bar ------------------------------------------------------------------
    def _menus(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("")
        self.binder.bind(file_menu.setTitle, "menu.file")
        export_action = QAction(self)
        export_action.setObjectName("action_export_csv")
        self.binder.bind(export_action.setText, "menu.export")
        export_action.triggered.connect(self.open_export)
        file_menu.addAction(export_action)
        file_menu.addSeparator()
        quit_action = QAction(self)
        self.binder.bind(quit_action.setText, "menu.quit")
        quit_action.triggered.connect(self.close)
        file_menu.addAction(quit_action)
        view = bar.addMenu("")
        self.binder.bind(view.setTitle, "menu.view")
        reset = QAction(self)
        reset.setObjectName("action_reset_layout")
        self.binder.bind(reset.setText, "menu.reset_layout")
        reset.triggered.connect(self.reset_layout)
        view.addAction(reset)
        docks_menu = view.addMenu("")
        self.binder.bind(docks_menu.setTitle, "menu.docks")
        for dock in self.docks.values():
            docks_menu.addAction(dock.toggleViewAction())
        lang_menu = view.addMenu("")
        self.binder.bind(lang_menu.setTitle, "menu.language")
        group = QActionGroup(self)
        self.language_actions: dict[str, QAction] = {}
        for lang in i18n.LANGUAGES:
            action = QAction(tr(f"menu.lang.{lang}"), self, checkable=True)
            action.setChecked(lang == i18n.language())
            action.triggered.connect(lambda _=False, code=lang: self.set_language(code))
            group.addAction(action)
            lang_menu.addAction(action)
            self.language_actions[lang] = action

    def open_export(self) -> ExportDialog:
        """File > Export CSV: a non-modal dialog (opened, never exec'd); one at a time."""
        if self.export_dialog is None or not self.export_dialog.isVisible():
            self.export_dialog = ExportDialog(self.runtime, self.tasks, self)
            self.export_dialog.open()
        self.export_dialog.raise_()
        return self.export_dialog

    def _status_bar(self) -> None:
        bar = self.statusBar()
        self.broker_label = QLabel(tr("status.broker.unknown"))
        self.broker_label.setObjectName("status:broker")
        self.broker_state: BrokerStateChanged | None = self.runtime.mqtt.last_change if self.runtime.mqtt else None
        self._show_broker()  # the gateway may have connected before the window opened
        bar.addWidget(self.broker_label)
        self.device_labels: dict[str, QLabel] = {}
        for name in self.runtime.devices:
            label = QLabel()
            label.setObjectName(f"status:{name}")
            bar.addWidget(label)
            self.device_labels[name] = label
        self.device_views: dict[str, DeviceView] = {}
        self.mode_label = QLabel()
        self.mode_label.setObjectName("status:mode")
        bar.addPermanentWidget(self.mode_label)
        self.clock_label = QLabel()
        self.clock_label.setObjectName("status:clock")
        bar.addPermanentWidget(self.clock_label)
        self._ticked(ClockTick(self.runtime.clock.now()))

    # --- updates ---------------------------------------------------------------------------------
    def _device_updated(self, view: DeviceView) -> None:
        panel = self.device_panels.get(view.name)
        if panel is not None:
            panel.show_view(view)
        self.registers.device_view(view)
        if view.name in self.controls.groups:
            self.controls.groups[view.name].show_view(view)
        self.device_views[view.name] = view
        self._status_device(view)

    def _status_device(self, view: DeviceView) -> None:
        state = view.shown_state
        colour = STATE_COLOURS[state]
        text = tr("status.device", name=view.name, state=tr(f"link.{state}"), age=age_text(view.age))
        label = self.device_labels[view.name]
        label.setText(f"<span style='color:{colour}'>●</span> {text}")
        label.setProperty("link_state", state)

    def _operation_changed(self, status: OperationStatus) -> None:
        self.auto.show_status(status)
        self.controls.set_operation(status)
        self.events.operation_changed(status)
        self.trends.set_thresholds(status)
        bms = next((p for p in self.device_panels.values() if isinstance(p, BmsPanel)), None)
        if bms is not None:
            bms.set_thresholds(status, has_dcdc=self.runtime.device_of_type("DCDC") is not None)
        auto = f" · {tr(f'state.{status.auto.state}')}" if status.mode == "auto" else ""
        self.mode_label.setText(tr("status.mode", mode=tr(f"mode.{status.mode}")) + auto)

    def _broker_changed(self, event: BrokerStateChanged) -> None:
        self.broker_state = event
        self.events.broker_changed(event)
        self._show_broker()

    def _show_broker(self) -> None:
        event = self.broker_state
        if event is None:
            self.broker_label.setText(tr("status.broker.unknown"))
            return
        colour = BROKER_COLOURS[event.state]
        text = tr("status.broker", state=tr(f"broker.{event.state}"))
        self.broker_label.setText(f"<span style='color:{colour}'>●</span> {text}")
        self.broker_label.setToolTip(f"{event.broker}" + (f": {event.error}" if event.error else ""))

    def _ticked(self, tick: ClockTick) -> None:
        self.clock_label.setText(datetime.fromtimestamp(tick.now).strftime("%Y-%m-%d %H:%M:%S"))
        self.trends.sample(tick)
        self.auto.tick(tick)

    # --- language ------------------------------------------------------------------------------
    def set_language(self, lang: str) -> None:
        i18n.set_language(lang)
        self.language_actions[lang].setChecked(True)
        self.binder.retranslate()
        for panel in self.device_panels.values():
            panel.retranslate()
        for part in (self.trends, self.controls, self.auto, self.events, self.registers):
            part.retranslate()
        self._show_broker()
        self.bridge.replay()
        self.settings.setValue("language", lang)

    # --- errors and closing --------------------------------------------------------------------
    def show_error(self, text: str) -> None:
        """Tell the operator about an unexpected error without blocking anything."""
        if self.error_dialog is not None and self.error_dialog.isVisible():
            self.error_dialog.setDetailedText((self.error_dialog.detailedText() + "\n\n" + text).strip())
            return
        box = QMessageBox(QMessageBox.Warning, tr("error.title"), tr("error.text", error=text.strip().splitlines()[-1]),
                          QMessageBox.Ok, self)  # fmt: skip
        box.setObjectName("errorDialog")
        box.setDetailedText(text)
        box.setWindowModality(Qt.NonModal)
        self.error_dialog = box
        box.open()

    def closeEvent(self, event: QCloseEvent) -> None:
        if not self._close_confirmed and self.runtime.auto.machine.running:
            event.ignore()
            self._ask_to_close()
            return
        self.save_layout()
        event.accept()
        self.closed.emit()

    def _ask_to_close(self) -> None:
        if self.close_dialog is not None:
            return
        box = QMessageBox(QMessageBox.Warning, tr("close.title"), tr("close.text"), QMessageBox.Yes | QMessageBox.No, self)
        box.setObjectName("closeDialog")
        box.setDefaultButton(QMessageBox.No)
        box.button(QMessageBox.Yes).setText(tr("yes"))
        box.button(QMessageBox.No).setText(tr("no"))

        def finished(_code: int) -> None:
            yes = box.standardButton(box.clickedButton()) == QMessageBox.Yes
            self.close_dialog = None
            box.deleteLater()
            if yes:
                self._close_confirmed = True
                self.close()

        box.finished.connect(finished)
        self.close_dialog = box
        box.open()

    async def shutdown(self) -> None:
        """Stop updating and cancel the console's own tasks (the runtime is stopped by its owner)."""
        self.bridge.close()
        self.events.detach()
        await self.tasks.cancel_all()
