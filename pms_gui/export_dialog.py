"""File > Export CSV: range, devices, series and what (values, alarm journal, audit log), with a progress bar.

The export runs in a worker thread (`run_in_executor`); the dialog polls its
progress with a timer, so the GUI thread never waits on the disk. Cancel
stops it between hours of data. Never `exec()`: the dialog is opened with
`open()` and reports through signals.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from functools import partial
from pathlib import Path
from typing import cast

from PyQt5.QtCore import QDateTime, Qt, QTimer, pyqtSignal
from PyQt5.QtWidgets import (
    QComboBox,
    QDateTimeEdit,
    QDialog,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from pms_core.history import WHATS, ExportCancelled, HistoryError, HistoryReader, What, export_csv
from pms_core.paths import data_dir
from pms_core.runtime import Runtime
from pms_gui.i18n import tr
from pms_gui.tasks import TaskSet

log = logging.getLogger(__name__)


class ExportDialog(QDialog):
    finished_export = pyqtSignal(int, str)  # rows written (-1: failed or cancelled), message

    def __init__(self, runtime: Runtime, tasks: TaskSet, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.runtime = runtime
        self.tasks = tasks
        self.setObjectName("exportDialog")
        self.setWindowTitle(tr("export.title"))
        self.progress_value = 0.0  # written by the worker thread, read by the timer
        self.cancel = threading.Event()
        self.task: asyncio.Task[None] | None = None
        self._catalogue: dict[str, list[str]] = {}  # device -> its series in the history
        layout = QVBoxLayout(self)
        layout.addLayout(self._inputs())
        self._add_progress(layout)
        layout.addLayout(self._buttons())
        self.timer = QTimer(self)
        self.timer.setInterval(100)
        self.timer.timeout.connect(lambda: self.bar.setValue(round(self.progress_value * 1000)))
        self.resize(520, 560)
        self._read_catalogue_or_explain()

    # --- building -----------------------------------------------------------------------------
    def _inputs(self) -> QFormLayout:
        """What to export, from when until when, of which devices and series, into which file."""
        form = QFormLayout()
        form.addRow(tr("export.what"), self._what_box())
        now = QDateTime.fromSecsSinceEpoch(int(self.runtime.clock.now()))
        self.since = self._time_edit(now.addDays(-1))
        self.until = self._time_edit(now.addSecs(60))
        form.addRow(tr("export.since"), self.since)
        form.addRow(tr("export.until"), self.until)
        form.addRow(tr("export.devices"), self._device_list())
        self.series = QListWidget()  # filled from the history's catalogue (`_fill_series`)
        self.series.setObjectName("exportSeries")
        form.addRow(tr("export.series"), self.series)
        form.addRow(tr("export.file"), self._file_row())
        return form

    def _what_box(self) -> QComboBox:
        self.what = QComboBox()
        for what in WHATS:
            self.what.addItem(tr(f"export.what.{what}"), what)
        self.what.currentIndexChanged.connect(self._what_changed)
        return self.what

    @staticmethod
    def _time_edit(shown: QDateTime) -> QDateTimeEdit:
        edit = QDateTimeEdit(shown)
        edit.setCalendarPopup(True)
        edit.setDisplayFormat("yyyy-MM-dd HH:mm")
        return edit

    def _device_list(self) -> QListWidget:
        """Every device of the site, checked; the series offered follow what is checked."""
        self.devices = QListWidget()
        self.devices.setObjectName("exportDevices")
        for name in self.runtime.devices:
            entry = QListWidgetItem(name)
            entry.setFlags(entry.flags() | Qt.ItemIsUserCheckable)
            entry.setCheckState(Qt.Checked)
            self.devices.addItem(entry)
        self.devices.setMaximumHeight(90)
        self.devices.itemChanged.connect(lambda _item: self._fill_series())
        return self.devices

    def _file_row(self) -> QHBoxLayout:
        """The file, pms_<now>.csv in the home folder to begin with, and Browse."""
        row = QHBoxLayout()
        stamp = QDateTime.currentDateTime().toString("yyyyMMdd_HHmm")
        self.path = QLineEdit(str(Path.home() / f"pms_{stamp}.csv"))
        row.addWidget(self.path, 1)
        browse = QPushButton(tr("export.browse"))
        browse.clicked.connect(self._browse)
        row.addWidget(browse)
        return row

    def _add_progress(self, layout: QVBoxLayout) -> None:
        """The progress bar (in thousandths) and the status line below it."""
        self.bar = QProgressBar()
        self.bar.setRange(0, 1000)
        self.bar.setValue(0)
        layout.addWidget(self.bar)
        self.status = QLabel()
        self.status.setObjectName("exportStatus")
        self.status.setWordWrap(True)
        layout.addWidget(self.status)

    def _buttons(self) -> QHBoxLayout:
        """Start, and Close (Cancel while an export runs)."""
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        self.start_button = QPushButton(tr("export.start"))
        self.start_button.setObjectName("exportStart")
        self.start_button.clicked.connect(self.start)
        self.close_button = QPushButton(tr("export.close"))
        self.close_button.clicked.connect(self._close_or_cancel)
        buttons.addWidget(self.start_button)
        buttons.addWidget(self.close_button)
        return buttons

    def _read_catalogue_or_explain(self) -> None:
        """The series to offer, read from the history; without a usable history Start is off and the status says why."""
        history = self.runtime.history
        if history is None or not history.ok:
            self.start_button.setEnabled(False)
            self.status.setText(tr("export.no_history", error=(history.error if history else None) or "—"))
        else:
            self.tasks.spawn(self._load_catalogue(), "export catalogue")

    # --- inputs -------------------------------------------------------------------------------
    async def _load_catalogue(self) -> None:
        history = self.runtime.history
        assert history is not None
        reader = HistoryReader(history.path)
        try:
            cat = await asyncio.get_running_loop().run_in_executor(None, reader.catalogue)
        except HistoryError as exc:
            self.status.setText(str(exc))
            return
        self._catalogue = {d: cat.keys(d) for d in cat.devices()}
        self._fill_series()

    def _checked(self, widget: QListWidget) -> list[str]:
        return [widget.item(i).text() for i in range(widget.count()) if widget.item(i).checkState() == Qt.Checked]

    def _fill_series(self) -> None:
        keep = set(self._checked(self.series)) if self.series.count() else None
        self.series.clear()
        keys: list[str] = []
        for device in self._checked(self.devices):
            keys += [k for k in self._catalogue.get(device, []) if k not in keys]
        for key in keys:
            entry = QListWidgetItem(key)
            entry.setFlags(entry.flags() | Qt.ItemIsUserCheckable)
            entry.setCheckState(Qt.Checked if keep is None or key in keep else Qt.Unchecked)
            self.series.addItem(entry)

    def _what_changed(self) -> None:
        self.series.setEnabled(self.what.currentData() == "values")

    def _browse(self) -> None:
        box = QFileDialog(self, tr("export.file"), self.path.text(), "CSV (*.csv)")
        box.setAcceptMode(QFileDialog.AcceptSave)
        box.setDefaultSuffix("csv")
        box.fileSelected.connect(self.path.setText)
        box.open()  # never exec(): the loop keeps running

    # --- the export ---------------------------------------------------------------------------
    def start(self) -> None:
        history = self.runtime.history
        if history is None or self.task is not None:
            return
        what = self.what.currentData()
        devices = self._checked(self.devices)
        series = self._checked(self.series) if what == "values" and self.series.count() else None
        since, until = float(self.since.dateTime().toSecsSinceEpoch()), float(self.until.dateTime().toSecsSinceEpoch())
        if until <= since or not devices or (series is not None and not series):
            self.status.setText(tr("export.bad_input"))
            return
        out = Path(self.path.text()).expanduser()
        if not out.is_absolute():
            out = data_dir() / out
        self.progress_value = 0.0
        self.cancel.clear()
        self.bar.setValue(0)
        self.start_button.setEnabled(False)
        self.close_button.setText(tr("export.cancel"))
        self.status.setText(tr("export.running"))
        self.timer.start()
        self.task = self.tasks.spawn(self._run(history.path, out, what, since, until, devices, series), "csv export")

    async def _run(self, db: Path, out: Path, what: str, since: float, until: float, devices: list[str],
                   series: list[str] | None) -> None:  # fmt: skip
        def progress(fraction: float) -> None:
            self.progress_value = fraction  # a float store: safe from the worker thread

        try:
            if self.runtime.history is not None:
                await self.runtime.history.flush()  # the latest polls are in the file too
            job = partial(export_csv, db, out, cast(What, what), since, until, devices, series, progress, self.cancel)
            rows = await asyncio.get_running_loop().run_in_executor(None, job)
            message = tr("export.done", rows=rows, path=str(out))
        except ExportCancelled:
            rows, message = -1, tr("export.cancelled")
        except (HistoryError, OSError) as exc:
            rows, message = -1, tr("export.failed", error=str(exc))
            log.error("CSV export to %s failed: %s", out, exc)
        finally:
            self.timer.stop()
            self.task = None
            self.start_button.setEnabled(True)
            self.close_button.setText(tr("export.close"))
        self.bar.setValue(1000 if rows >= 0 else self.bar.value())
        self.status.setText(message)
        self.finished_export.emit(rows, message)

    def _close_or_cancel(self) -> None:
        if self.task is not None:
            self.cancel.set()
        else:
            self.close()
