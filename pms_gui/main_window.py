"""The console's main window: the docks, the menus, the status bar, closing (or hiding in the tray), alarm
notification and error display."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from pathlib import Path

from PyQt5.QtCore import QByteArray, QRect, QSettings, QSize, Qt, QTimer, QUrl, pyqtSignal
from PyQt5.QtGui import QCloseEvent, QDesktopServices, QGuiApplication, QIcon, QShowEvent
from PyQt5.QtWidgets import (
    QAction,
    QActionGroup,
    QApplication,
    QDockWidget,
    QFrame,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QScrollArea,
    QSystemTrayIcon,
    QWidget,
)

from pms_core.automation.operation_manager import OperationStatus
from pms_core.build_info import build_info
from pms_core.bus import AlarmChanged, BrokerStateChanged
from pms_core.devices import Device
from pms_core.logs import log_folder
from pms_core.paths import bundle_dir
from pms_core.runtime import Runtime
from pms_gui import i18n
from pms_gui.about import AboutDialog
from pms_gui.auto_panel import AutoPanel
from pms_gui.bridge import Bridge, ClockTick, DeviceView
from pms_gui.controls import ControlsPanel
from pms_gui.devices import BmsPanel, DcdcPanel, DevicePanel, PcsPanel
from pms_gui.events import EventsPanel, alarm_text
from pms_gui.export_dialog import ExportDialog
from pms_gui.i18n import Binder, tr
from pms_gui.notify import AlarmNotifier
from pms_gui.overview import OverviewPanel
from pms_gui.palette import BROKER_COLOURS, STATE_COLOURS, SWITCHED_OFF
from pms_gui.panels import FollowsClock, ShowsDevices, ShowsOperation, Translatable
from pms_gui.registers import RegistersPanel
from pms_gui.startup import StartupError, StartupShortcut
from pms_gui.tasks import TaskSet
from pms_gui.trends import TrendPanel
from pms_gui.widgets import age_text

log = logging.getLogger(__name__)

LAYOUT_VERSION = 2  # 2: the overview dock, raised by default (layouts saved by 1 give way to the default)
DEFAULT_SIZE = (1880, 1000)
SIDE_MIN_WIDTHS = (310, 375)  # px, BMS and PCS: their widest value lines (temperatures, energy today) in the font
SCROLL_HINT_MAX = 480  # px, see DockScroll
FIRST_RUN_SHARE = 0.95  # of the screen's available area, at most, for a first start (room for the frame)
PANEL_CLASSES = {"PCS": PcsPanel, "DCDC": DcdcPanel}  # and BmsPanel, which is told whether there is a DC-DC


def first_run_geometry(available: QRect, default: tuple[int, int] = DEFAULT_SIZE) -> tuple[QRect, bool]:
    """Where the window opens at its first start (no saved geometry) on a screen whose free area (without the
    taskbar) is `available`: the default size, but at most 95 % of that area, centred in it. True when the default
    does not fit (a 1366x768 farm PC, a 1920x1080 one at 125 %): the window opens maximized, the 95 % being what
    it returns to."""
    width = min(default[0], int(available.width() * FIRST_RUN_SHARE))
    height = min(default[1], int(available.height() * FIRST_RUN_SHARE))
    rect = QRect(0, 0, width, height)
    rect.moveCenter(available.center())
    return rect, (width, height) != default


def tray_available() -> bool:
    """A system tray to keep running in (always on Windows; not offscreen, nor on a bare X server)."""
    return QSystemTrayIcon.isSystemTrayAvailable()


class DockScroll(QScrollArea):
    """A dock's content in a scroll area: it fills the dock as before, and scrolls where the dock is smaller than
    its minimum size, rather than pushing the window past a small screen (1366x768, or a large DPI scale).

    Its size hint is bounded so that, where space is short, the dock layout gives the device docks the widths
    `_size_docks` asks for and the centre the rest (Qt shares a shortage in proportion to the size hints)."""

    def sizeHint(self) -> QSize:
        return super().sizeHint().boundedTo(QSize(SCROLL_HINT_MAX, SCROLL_HINT_MAX))


def scrolled(widget: QWidget) -> QScrollArea:
    area = DockScroll()
    area.setObjectName(f"scroll:{widget.objectName() or type(widget).__name__}")
    area.setWidgetResizable(True)
    area.setFrameShape(QFrame.NoFrame)
    area.setWidget(widget)
    return area


class MainWindow(QMainWindow):
    closed = pyqtSignal()

    def __init__(
        self, runtime: Runtime, settings: QSettings, parent: QWidget | None = None, *, mqtt_off: bool = False
    ) -> None:
        """`mqtt_off`: the runtime has no MQTT on purpose (the demo without Mosquitto); the status bar says so."""
        super().__init__(parent)
        self.runtime = runtime
        self.mqtt_off = mqtt_off
        self.settings = settings
        self.tasks = TaskSet()
        self.binder = Binder()
        self.bridge = Bridge(runtime, self)
        self._close_confirmed = False
        self.close_dialog: QMessageBox | None = None
        self.error_dialog: QMessageBox | None = None
        self.export_dialog: ExportDialog | None = None
        self._frame()
        self._panels()
        self._docks()
        self.resize(*DEFAULT_SIZE)  # the default layout's proportions need the default size
        self._arrange()
        self.default_state = self.saveState(LAYOUT_VERSION)
        self._menus()
        self._status_bar()
        self._shown = False
        self._restored = self.restore_layout()
        if not self._restored:
            self.fit_to_screen()
        self._tray_setup()
        self._notifier_setup()
        self._wire()
        self.bridge.replay()
        self.tasks.spawn(self.trends.backfill(), "trend backfill")
        self.tasks.spawn(self.events.load_recent(), "recent audit entries")

    # --- building ------------------------------------------------------------------------------
    def _frame(self) -> None:
        """The window itself: its name, its title (the version, and the variant when it is not the normal one), how
        docks may move, and the side dock areas running the full height."""
        self.setObjectName("pmsConsole")
        info = build_info()
        self.binder.bind(self.setWindowTitle, f"app.window_title.{info.variant}", version=info.shown_version)
        self.setDockOptions(QMainWindow.AnimatedDocks | QMainWindow.AllowTabbedDocks | QMainWindow.AllowNestedDocks)
        self.setCorner(Qt.TopLeftCorner, Qt.LeftDockWidgetArea)
        self.setCorner(Qt.BottomLeftCorner, Qt.LeftDockWidgetArea)
        self.setCorner(Qt.TopRightCorner, Qt.RightDockWidgetArea)
        self.setCorner(Qt.BottomRightCorner, Qt.RightDockWidgetArea)

    def _panels(self) -> None:
        """The docks' contents, and which of the update verbs (pms_gui.panels) each one takes."""
        runtime = self.runtime
        first_of_type: dict[str, Device] = {}  # one dock per device type (a site has one of each)
        for dev in runtime.devices.values():
            first_of_type.setdefault(dev.type, dev)
        self.device_panels: dict[str, DevicePanel] = {dev.name: self._device_panel(dev) for dev in first_of_type.values()}
        self.trends = TrendPanel(runtime)
        self.controls = ControlsPanel(runtime, self.tasks)
        self.auto = AutoPanel(runtime)
        self.events = EventsPanel(runtime)
        self.registers = RegistersPanel(runtime)
        self.overview = OverviewPanel(runtime, self.tasks)
        devices = list(self.device_panels.values())
        self.device_viewers: list[ShowsDevices] = [*devices, self.registers, self.controls, self.overview]
        self.operation_viewers: list[ShowsOperation] = [self.auto, self.controls, self.events, self.trends,
                                                        *(p for p in devices if isinstance(p, BmsPanel))]  # fmt: skip
        self.translatables: list[Translatable] = [*devices, self.trends, self.controls, self.auto, self.events,
                                                  self.registers, self.overview]  # fmt: skip
        self.clock_followers: list[FollowsClock] = [self.trends, self.auto]

    def _device_panel(self, device: Device) -> DevicePanel:
        if device.type == "BMS":  # without a DC-DC the gauge has no SOC-high rule to mark
            return BmsPanel(device.map, device.name, has_dcdc=self.runtime.device_of_type("DCDC") is not None)
        return PANEL_CLASSES[device.type](device.map, device.name)

    def _docks(self) -> None:
        """A dock per panel, named for the saved layouts; the device docks BMS, PCS, DC-DC, those the site has."""
        self.docks: dict[str, QDockWidget] = {}
        by_type = {self.runtime.devices[name].type: panel for name, panel in self.device_panels.items()}
        for kind in ("BMS", "PCS", "DCDC"):
            if kind in by_type:
                self._dock(f"dock.{kind.lower()}", f"dock_{kind.lower()}", by_type[kind])
        self._dock("dock.overview", "dock_overview", self.overview).visibilityChanged.connect(self.overview.set_shown)
        self._dock("dock.trends", "dock_trends", self.trends)
        self._dock("dock.auto", "dock_auto", self.auto)
        self._dock("dock.controls", "dock_controls", self.controls)
        self._dock("dock.events", "dock_events", self.events)
        self._dock("dock.registers", "dock_registers", self.registers)

    def _wire(self) -> None:
        """The bridge's signals to the panels, through the verbs of pms_gui.panels; the event log's own by name."""
        b = self.bridge
        b.device_updated.connect(self._device_updated)
        b.operation_changed.connect(self._operation_changed)
        b.command_result.connect(self.events.command_result)
        b.link_changed.connect(self.events.link_changed)
        b.alarm_changed.connect(self.events.alarm_changed)
        b.broker_changed.connect(self._broker_changed)
        b.ticked.connect(self._ticked)

    # --- layout --------------------------------------------------------------------------------
    def _dock(self, title_key: str, name: str, widget: QWidget) -> QDockWidget:
        dock = QDockWidget(self)
        dock.setObjectName(name)
        self.binder.bind(dock.setWindowTitle, title_key)
        dock.setWidget(scrolled(widget))
        dock.setFeatures(QDockWidget.DockWidgetMovable | QDockWidget.DockWidgetFloatable | QDockWidget.DockWidgetClosable)
        self.docks[name] = dock
        return dock

    def _arrange(self) -> None:
        """The default layout: BMS and auto mode left, the overview (raised, the first view) tabbed with the trends and
        the tabbed tools centre, PCS and DC-DC right."""
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
        self.addDockWidget(Qt.TopDockWidgetArea, d["dock_overview"])
        self.tabifyDockWidget(d["dock_overview"], d["dock_trends"])  # the overview's tab first
        self.addDockWidget(Qt.BottomDockWidgetArea, d["dock_auto"])
        self.splitDockWidget(d["dock_auto"], d["dock_controls"], Qt.Horizontal)
        self.tabifyDockWidget(d["dock_controls"], d["dock_events"])
        self.tabifyDockWidget(d["dock_events"], d["dock_registers"])
        d["dock_controls"].raise_()
        d["dock_overview"].raise_()
        self._size_docks()

    def _size_docks(self) -> None:
        """The default proportions; they take effect once the window has its size (first show, reset). Designed for
        the default size; a smaller window (a small screen) scales them down, the device docks no narrower than
        their values need, the centre taking the rest."""
        d = self.docks
        fx, fy = (min(1.0, have / want) for have, want in zip((self.width(), self.height()), DEFAULT_SIZE, strict=True))
        widths = [max(round(w * fx), least) for w, least in zip((380, 390), SIDE_MIN_WIDTHS, strict=True)]
        centre = min(1.0, (self.width() - sum(widths) - 20) / (DEFAULT_SIZE[0] - 380 - 390 - 20))
        sides = [d[n] for n in ("dock_bms", "dock_pcs") if n in d]
        self.resizeDocks(sides, widths[: len(sides)], Qt.Horizontal)
        if fx < 1.0:  # short of space, Qt shares the shortage by the docks' present widths: pin the sides a moment
            for dock, width in zip(sides, widths, strict=False):
                dock.setMinimumWidth(width)
            QTimer.singleShot(0, self._unpin_sides)
        self.resizeDocks([d["dock_trends"], d["dock_auto"]], [round(470 * fy), round(420 * fy)], Qt.Vertical)
        self.resizeDocks([d["dock_auto"], d["dock_controls"]], [round(600 * centre), round(520 * centre)], Qt.Horizontal)
        right = [d[n] for n in ("dock_pcs", "dock_dcdc") if n in d]
        if len(right) == 2:
            self.resizeDocks(right, [round(500 * fy), round(400 * fy)], Qt.Vertical)

    def _unpin_sides(self) -> None:
        for name in ("dock_bms", "dock_pcs"):
            if name in self.docks:
                self.docks[name].setMinimumWidth(0)

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
        self._file_items(file_menu)
        file_menu.addSeparator()
        quit_action = QAction(self)
        quit_action.setObjectName("action_quit")
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
        help_menu = bar.addMenu("")
        self.binder.bind(help_menu.setTitle, "menu.help")
        about = QAction(self)
        about.setObjectName("action_about")
        self.binder.bind(about.setText, "menu.about")
        about.setMenuRole(QAction.AboutRole)
        about.triggered.connect(self.open_about)
        help_menu.addAction(about)
        self.about_dialog: AboutDialog | None = None

    def open_about(self) -> AboutDialog:
        """Help > About: non-modal (the console stays usable beside it), one at a time, built anew each time (in the
        current language)."""
        if self.about_dialog is None or not self.about_dialog.isVisible():
            self.about_dialog = AboutDialog(self.runtime.loaded, self)
            self.about_dialog.show()
        self.about_dialog.raise_()
        return self.about_dialog

    def open_export(self) -> ExportDialog:
        """File > Export CSV: a non-modal dialog (opened, never exec'd); one at a time."""
        if self.export_dialog is None or not self.export_dialog.isVisible():
            self.export_dialog = ExportDialog(self.runtime, self.tasks, self)
            self.export_dialog.open()
        self.export_dialog.raise_()
        return self.export_dialog

    # --- File menu: folders, start with Windows, alarm sound -----------------------------------------------
    def _file_items(self, menu: QMenu) -> None:
        for name, key, slot in (("action_open_logs", "menu.open_logs", self.open_log_folder),
                                ("action_open_config", "menu.open_config", self.open_config_folder)):  # fmt: skip
            action = QAction(self)
            action.setObjectName(name)
            self.binder.bind(action.setText, key)
            action.triggered.connect(slot)
            menu.addAction(action)
        menu.addSeparator()
        self.startup = StartupShortcut.for_this_program(self.runtime.loaded.path)
        self.startup_action = QAction(self, checkable=True)
        self.startup_action.setObjectName("action_start_with_windows")
        self.binder.bind(self.startup_action.setText, "menu.startup")
        self.startup_action.setVisible(self.startup.supported)  # Windows only
        self.startup_action.setChecked(self.startup.enabled())
        self.startup_action.triggered.connect(self.set_start_with_windows)
        menu.addAction(self.startup_action)
        self.mute_action = QAction(self, checkable=True)
        self.mute_action.setObjectName("action_mute_alarms")
        self.binder.bind(self.mute_action.setText, "menu.mute")
        self.mute_action.setChecked(bool(self.settings.value("alarms/muted", False, type=bool)))
        self.mute_action.toggled.connect(self.set_muted)
        menu.addAction(self.mute_action)

    def open_folder(self, folder: Path) -> bool:
        """Show `folder` in the file manager (Explorer on Windows); made first if the PMS has not written it yet."""
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            log.warning("cannot make %s: %s", folder, exc)
        if QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder))):
            return True
        log.warning("cannot open the folder %s", folder)
        self.statusBar().showMessage(tr("folder.failed", path=folder), 10_000)
        return False

    def open_log_folder(self) -> bool:
        return self.open_folder(log_folder(self.runtime.loaded.config.logging.file).resolve())

    def open_config_folder(self) -> bool:
        return self.open_folder(self.runtime.loaded.path.resolve().parent)

    def set_start_with_windows(self, on: bool) -> None:
        self.startup_action.setEnabled(False)  # until PowerShell has answered
        self.tasks.spawn(self._start_with_windows(on), "start with Windows")

    async def _start_with_windows(self, on: bool) -> None:
        try:
            if on:  # PowerShell takes about a second: off the event loop
                path = await asyncio.get_running_loop().run_in_executor(None, self.startup.enable)
                log.info("start with Windows: %s -> %s %s", path, self.startup.launch.target,
                         self.startup.launch.argument_line)  # fmt: skip
            else:
                self.startup.disable()
                log.info("start with Windows: off")
        except StartupError as exc:
            log.warning("start with Windows: %s", exc)
            box = QMessageBox(QMessageBox.Warning, tr("menu.startup"), tr("startup.failed", error=exc), QMessageBox.Ok,
                              self)  # fmt: skip
            box.setObjectName("startupError")
            box.open()
        finally:
            self.startup_action.setChecked(self.startup.enabled())
            self.startup_action.setEnabled(True)

    def set_muted(self, muted: bool) -> None:
        self.notifier.muted = muted
        self.settings.setValue("alarms/muted", muted)

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
        # A fixed size: a label whose text changes every second would otherwise lay the whole window out again.
        metrics = self.clock_label.fontMetrics()
        self.clock_label.setFixedSize(metrics.horizontalAdvance("0000-00-00 00:00:00") + 8, metrics.height() + 4)
        bar.addPermanentWidget(self.clock_label)
        self._ticked(ClockTick(self.runtime.clock.now()))

    # --- updates: the protocol of pms_gui.panels -------------------------------------------------------------
    def _device_updated(self, view: DeviceView) -> None:
        for panel in self.device_viewers:
            panel.show_view(view)
        self.device_views[view.name] = view
        self._status_device(view)

    def _status_device(self, view: DeviceView) -> None:
        state = view.shown_state
        colour = STATE_COLOURS[state]
        # The age only where the data is not fresh, in whole seconds: a text that changes at every poll makes the
        # status bar lay the window out again each time (most of the console's CPU).
        if view.fresh:
            text = tr("status.device.fresh", name=view.name, state=tr(f"link.{state}"))
        else:
            text = tr("status.device", name=view.name, state=tr(f"link.{state}"), age=age_text(view.age))
        label = self.device_labels[view.name]
        shown = f"<span style='color:{colour}'>●</span> {text}"
        if label.text() != shown:
            label.setText(shown)
        label.setProperty("link_state", state)

    def _operation_changed(self, status: OperationStatus) -> None:
        for panel in self.operation_viewers:
            panel.show_operation(status)
        auto = f" · {tr(f'state.{status.auto.state}')}" if status.mode == "auto" else ""
        self.mode_label.setText(tr("status.mode", mode=tr(f"mode.{status.mode}")) + auto)

    def _broker_changed(self, event: BrokerStateChanged) -> None:
        self.broker_state = event
        self.events.broker_changed(event)
        self._show_broker()

    def _show_broker(self) -> None:
        event = self.broker_state
        if event is None and self.mqtt_off:
            self.broker_label.setText(f"<span style='color:{SWITCHED_OFF}'>●</span> {tr('status.broker.off_demo')}")
            self.broker_label.setToolTip(tr("status.broker.off_demo.tip"))
            return
        if event is None:
            self.broker_label.setText(tr("status.broker.unknown"))
            return
        colour = BROKER_COLOURS[event.state]
        text = tr("status.broker", state=tr(f"broker.{event.state}"))
        self.broker_label.setText(f"<span style='color:{colour}'>●</span> {text}")
        self.broker_label.setToolTip(f"{event.broker}" + (f": {event.error}" if event.error else ""))

    def _ticked(self, tick: ClockTick) -> None:
        self.clock_label.setText(datetime.fromtimestamp(tick.now).strftime("%Y-%m-%d %H:%M:%S"))
        for panel in self.clock_followers:
            panel.tick(tick)

    # --- language ------------------------------------------------------------------------------
    def set_language(self, lang: str) -> None:
        i18n.set_language(lang)
        self.language_actions[lang].setChecked(True)
        self.binder.retranslate()
        for panel in self.translatables:
            panel.retranslate()
        self._show_broker()
        self.bridge.replay()  # show_operation and show_view anew, in the new language
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
        """The operator's close (the window's X, File > Quit, the tray's Quit) always asks: closing stops the PMS.

        The program's own exits (selftest, screenshot, a stop signal) end the loop and hide the window without
        closing it, so they never ask."""
        if not self._close_confirmed:
            event.ignore()
            self._ask_to_close()
            return
        self.save_layout()
        event.accept()
        self.closed.emit()

    def _ask_to_close(self) -> None:
        if self.close_dialog is not None:
            self.close_dialog.raise_()
            return
        log.info("the operator closes the console: asking first")
        text = tr("close.text")
        if self.runtime.auto.machine.running:
            text = tr("close.auto") + "\n\n" + text
        box = QMessageBox(QMessageBox.Warning, tr("close.title"), text, QMessageBox.Yes | QMessageBox.No, self)
        box.setObjectName("closeDialog")
        box.button(QMessageBox.Yes).setText(tr("close.stop"))
        box.button(QMessageBox.No).setText(tr("close.cancel"))
        tray_button = None
        if self.tray is not None:  # only where there is a tray to find the console in again
            tray_button = box.addButton(tr("close.tray"), QMessageBox.AcceptRole)
            tray_button.setObjectName("closeToTray")
            box.setInformativeText(tr("close.tray_hint"))
        box.setDefaultButton(QMessageBox.No)  # Enter and Esc change nothing
        box.setEscapeButton(QMessageBox.No)

        def finished(_code: int) -> None:
            clicked = box.clickedButton()
            self.close_dialog = None
            box.deleteLater()
            if clicked is not None and clicked is tray_button:
                self.hide_to_tray()
            elif clicked is not None and box.standardButton(clicked) == QMessageBox.Yes:
                log.info("the operator closes the console: the PMS stops")
                self._close_confirmed = True
                self.close()

        box.finished.connect(finished)
        self.close_dialog = box
        box.open()

    # --- the system tray: the PMS keeps running with its window hidden ------------------------------------
    def _tray_setup(self) -> None:
        self.tray: QSystemTrayIcon | None = None
        if not tray_available():
            return
        icon = QApplication.windowIcon()  # the application's icon, as main_gui_integrated.py sets it
        if icon.isNull():
            icon = QIcon(str(bundle_dir() / "resources" / "pms.png"))
        tray = QSystemTrayIcon(icon, self)
        tray.setObjectName("trayIcon")
        self.binder.bind(tray.setToolTip, "app.title")
        menu = QMenu(self)
        self.tray_show_action = menu.addAction("")
        self.binder.bind(self.tray_show_action.setText, "tray.show")
        self.tray_show_action.triggered.connect(self.show_console)
        menu.addSeparator()
        self.tray_quit_action = menu.addAction("")
        self.binder.bind(self.tray_quit_action.setText, "tray.quit")
        self.tray_quit_action.triggered.connect(self.quit_from_tray)
        tray.setContextMenu(menu)
        tray.activated.connect(self._tray_activated)
        tray.show()
        self.tray = tray

    def _tray_activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        if reason in (QSystemTrayIcon.Trigger, QSystemTrayIcon.DoubleClick):
            self.show_console()

    def hide_to_tray(self) -> None:
        """Hide the window; the PMS keeps polling and obeying MQTT. The tray icon brings it back."""
        self.save_layout()
        self.hide()
        log.info("the console is hidden in the system tray: the PMS keeps running")
        if self.tray is not None:
            self.tray.showMessage(tr("app.title"), tr("tray.hidden"), QSystemTrayIcon.Information, 5000)

    def show_console(self) -> None:
        self.show()
        if self.isMinimized():
            self.showNormal()
        self.raise_()
        self.activateWindow()

    def quit_from_tray(self) -> None:
        """The tray's Quit: the console comes back and asks, as closing it does."""
        self.show_console()
        self._ask_to_close()

    # --- alarm notification ------------------------------------------------------------------------------
    def _notifier_setup(self) -> None:
        self.notifier = AlarmNotifier(self.runtime.alarms, self.alert_operator, QApplication.beep,
                                      muted=self.mute_action.isChecked(), parent=self)  # fmt: skip
        self.bridge.alarm_changed.connect(self.notifier.alarm_changed)

    def alert_operator(self, event: AlarmChanged) -> None:
        """A new warning or fault: the taskbar entry flashes; hidden in the tray, the tray says it instead."""
        if self.isVisible():
            QApplication.alert(self)
        elif self.tray is not None:
            icon = QSystemTrayIcon.Critical if event.severity == "fault" else QSystemTrayIcon.Warning
            self.tray.showMessage(tr("tray.alarm", severity=tr(f"sev.{event.severity}"), device=event.device_name),
                                  alarm_text(event), icon, 10_000)  # fmt: skip

    # --- first start: fit the screen ---------------------------------------------------------------------
    def fit_to_screen(self) -> None:
        """No saved geometry: open within the primary screen's free area (maximized where the default does not
        fit). Offscreen (tests, --screenshot, --selftest) there is no screen to fit: the default size stays."""
        screen = QGuiApplication.primaryScreen()
        if screen is None or QGuiApplication.platformName() == "offscreen":
            return
        rect, maximize = first_run_geometry(screen.availableGeometry())
        self.setGeometry(rect)
        if maximize:
            self.setWindowState(self.windowState() | Qt.WindowMaximized)

    async def shutdown(self) -> None:
        """Stop updating and cancel the console's own tasks (the runtime is stopped by its owner)."""
        self.bridge.close()
        self.events.detach()
        self.notifier.close()
        if self.tray is not None:
            self.tray.hide()  # else Windows keeps a dead icon in the tray until the mouse passes over it
        await self.tasks.cancel_all()
