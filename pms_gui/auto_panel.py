"""The automatic-mode panel: basic / auto switch, start and stop, the sequence as steps, the thresholds.

Everything here asks the core (`runtime.operation`) and shows its answer; the
sequences and their step labels come from the state machine itself.
"""

from __future__ import annotations

from PyQt5.QtWidgets import (
    QButtonGroup,
    QDoubleSpinBox,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from pms_core.automation import state_machine as sm
from pms_core.automation.operation_manager import OperationStatus, Outcome
from pms_core.config import Thresholds
from pms_core.runtime import Runtime
from pms_gui.bridge import ClockTick
from pms_gui.controls import command_label
from pms_gui.i18n import Binder, tr
from pms_gui.palette import (
    AUTO_STATE_COLOURS,
    EDITED_FILL,
    FAULT,
    MUTED,
    OK,
    PAPER,
    STEP_ACTIVE,
    STEP_DONE_BORDER,
    STEP_DONE_FILL,
    STEP_PENDING_BORDER,
    STEP_PENDING_FILL,
)
from pms_gui.reasons import tr_reason

SETTINGS = ("soc_high_threshold", "soc_charge_stop_threshold", "soc_low_threshold", "charging_power",
            "command_interval", "dcdc_standby_time")  # fmt: skip
CHIP = "border-radius: 4px; padding: 3px 6px; border: 1px solid {border}; background: {bg}; color: {fg};"
CHIP_DONE = CHIP.format(border=STEP_DONE_BORDER, bg=STEP_DONE_FILL, fg=OK)
CHIP_ACTIVE = CHIP.format(border=STEP_ACTIVE, bg=STEP_ACTIVE, fg=PAPER) + " font-weight: bold;"
CHIP_PENDING = CHIP.format(border=STEP_PENDING_BORDER, bg=STEP_PENDING_FILL, fg=MUTED)


class AutoPanel(QWidget):
    """The automatic mode: the mode switch, start and stop and the core's answer, the state with its sequence as
    steps, beside the thresholds (`show_operation` fills them all)."""

    def __init__(self, runtime: Runtime, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.runtime = runtime
        self.binder = Binder()
        self.status: OperationStatus | None = None
        self._answers: dict[QLabel, Outcome] = {}  # the core's last answer shown in each label, for a language switch
        self._dirty: set[str] = set()
        self._filling = False
        columns = QHBoxLayout(self)
        columns.setContentsMargins(8, 6, 8, 6)
        layout = QVBoxLayout()
        columns.addLayout(layout, 1)
        self._add_commands(layout)
        self._add_state(layout)
        layout.addStretch(1)
        columns.addWidget(self._thresholds_box(), 1)

    # --- building ----------------------------------------------------------------------------
    def _add_commands(self, layout: QVBoxLayout) -> None:
        """The mode switch, start and stop, and below them the core's answer to the last click."""
        layout.addLayout(self._mode_switch())
        layout.addLayout(self._start_stop())
        self.answer = QLabel()
        self.answer.setObjectName("auto:answer")
        self.answer.setWordWrap(True)
        layout.addWidget(self.answer)

    def _mode_switch(self) -> QHBoxLayout:
        row = QHBoxLayout()
        self.mode_group = QButtonGroup(self)
        self.mode_buttons: dict[str, QPushButton] = {}
        for mode in ("basic", "auto"):
            button = QPushButton()
            button.setObjectName(f"mode:{mode}")
            button.setCheckable(True)
            self.binder.bind(button.setText, f"auto.{mode}")
            self.mode_group.addButton(button)
            button.clicked.connect(lambda _=False, m=mode: self._answer(self.runtime.operation.set_mode(m, source="gui")))
            row.addWidget(button)
            self.mode_buttons[mode] = button
        row.addStretch(1)
        return row

    def _start_stop(self) -> QHBoxLayout:
        row = QHBoxLayout()
        self.start_button = QPushButton()
        self.start_button.setObjectName("auto:start")
        self.binder.bind(self.start_button.setText, "auto.start")
        self.start_button.clicked.connect(lambda: self._answer(self.runtime.operation.start_auto(source="gui")))
        self.stop_button = QPushButton()
        self.stop_button.setObjectName("auto:stop")
        self.binder.bind(self.stop_button.setText, "auto.stop")
        self.stop_button.clicked.connect(lambda: self._answer(self.runtime.operation.stop_auto(source="gui")))
        row.addWidget(self.start_button)
        row.addWidget(self.stop_button)
        row.addStretch(1)
        return row

    def _add_state(self, layout: QVBoxLayout) -> None:
        """The state (large), the sequence's name and its steps as chips, the step waited on, its countdown, why."""
        self.state_label = QLabel()
        self.state_label.setObjectName("auto:state")
        font = self.state_label.font()
        font.setPointSizeF(font.pointSizeF() * 1.4)
        font.setBold(True)
        self.state_label.setFont(font)
        layout.addWidget(self.state_label)
        self.sequence_label = QLabel()
        layout.addWidget(self.sequence_label)
        self.chips_row = QVBoxLayout()
        self.chips_row.setSpacing(3)
        self.chips: list[QLabel] = []  # made as the longest sequence shown needs them (`_draw_sequence`)
        layout.addLayout(self.chips_row)
        self.step_label = QLabel()
        self.step_label.setObjectName("auto:step")
        self.step_label.setWordWrap(True)
        layout.addWidget(self.step_label)
        self.countdown = QLabel()
        self.countdown.setObjectName("auto:countdown")
        layout.addWidget(self.countdown)
        self.reason = QLabel()
        self.reason.setObjectName("auto:reason")
        self.reason.setWordWrap(True)
        self.reason.setStyleSheet(f"color: {FAULT};")
        layout.addWidget(self.reason)

    def _thresholds_box(self) -> QGroupBox:
        """The thresholds and times: a row per setting (name, box, where its value comes from), Revert and Apply,
        the core's answer."""
        box = QGroupBox()
        self.binder.bind(box.setTitle, "auto.thresholds")
        form = QGridLayout(box)
        form.setVerticalSpacing(4)
        self.spins: dict[str, QDoubleSpinBox] = {}
        self.sources: dict[str, QLabel] = {}
        for col, key in enumerate(("auto.col.setting", "auto.col.value", "auto.col.source")):
            head = QLabel()
            head.setStyleSheet(f"color: {MUTED};")
            self.binder.bind(head.setText, key)
            form.addWidget(head, 0, col)
        # Without a DC-DC the standby time means nothing (the DC-DC-disabled build): not shown.
        has_dcdc = self.runtime.device_of_type("DCDC") is not None
        settings = [k for k in SETTINGS if k != "dcdc_standby_time" or has_dcdc]
        for row, key in enumerate(settings, start=1):
            self._add_setting(form, row, key)
        form.addLayout(self._settings_buttons(), len(settings) + 1, 0, 1, 3)
        self.settings_answer = QLabel()
        self.settings_answer.setObjectName("settings:answer")
        self.settings_answer.setWordWrap(True)
        form.addWidget(self.settings_answer, len(settings) + 2, 0, 1, 3)
        form.setRowStretch(len(settings) + 3, 1)
        return box

    def _add_setting(self, form: QGridLayout, row: int, key: str) -> None:
        """A setting's row: its name, its box within the core's bounds (never offering what is refused), its source."""
        spin = QDoubleSpinBox()
        spin.setObjectName(f"setting:{key}")
        spin.setDecimals(1)
        spin.setRange(*Thresholds.bounds(key))
        spin.setKeyboardTracking(False)
        spin.valueChanged.connect(lambda _v: self._edited(key))
        spin.setMinimumWidth(80)
        source = QLabel()
        source.setObjectName(f"source:{key}")
        source.setStyleSheet(f"color: {MUTED};")
        name = QLabel()
        self.binder.bind(name.setText, f"set.{key}")
        form.addWidget(name, row, 0)
        form.addWidget(spin, row, 1)
        form.addWidget(source, row, 2)
        self.spins[key] = spin
        self.sources[key] = source

    def _settings_buttons(self) -> QHBoxLayout:
        buttons = QHBoxLayout()
        self.apply_button = QPushButton()
        self.apply_button.setObjectName("settings:apply")
        self.binder.bind(self.apply_button.setText, "auto.apply")
        self.apply_button.clicked.connect(self.apply)
        revert = QPushButton()
        self.binder.bind(revert.setText, "auto.revert")
        revert.clicked.connect(self.revert)
        buttons.addStretch(1)
        buttons.addWidget(revert)
        buttons.addWidget(self.apply_button)
        return buttons

    # --- the core's answers -----------------------------------------------------------------
    def _answer(self, outcome: Outcome, label: QLabel | None = None) -> None:
        label = label or self.answer
        self._answers[label] = outcome
        label.setText(tr_reason(outcome.why))
        label.setStyleSheet(f"color: {OK if outcome.ok else FAULT};")
        if self.status is not None:  # the buttons follow the core, not the click
            self.show_operation(self.runtime.operation.status())

    def show_operation(self, status: OperationStatus) -> None:
        self.status = status
        auto = status.auto
        for mode, button in self.mode_buttons.items():
            button.setChecked(mode == status.mode)
        self.start_button.setEnabled(status.mode == "auto" and not auto.running)
        self.stop_button.setEnabled(auto.running or auto.state == "FAULT")
        colour = AUTO_STATE_COLOURS.get(auto.state, OK)  # a running state: OK
        self.state_label.setText(tr("auto.state", state=tr(f"state.{auto.state}")))
        self.state_label.setStyleSheet(f"color: {colour};")
        step = self._step_text()
        self.step_label.setText(tr("auto.step", step=step) if step else tr("auto.no_step"))
        self.step_label.setToolTip(auto.step or "")
        self.reason.setText(tr("auto.reason", reason=tr_reason(auto.why)) if auto.why else "")
        self._draw_sequence()
        self._countdown()
        self._fill_settings(status)

    def _draw_sequence(self) -> None:
        auto = self.runtime.auto.status() if self.status is None else self.status.auto
        name = auto.sequence
        done_all = False
        if name is None:
            charging = auto.state == sm.CHARGING and auto.waiting == "soc"
            name, done_all = ("charge", True) if charging else ("start", False)
        steps = sm.sequence(name, self.runtime.auto.context())
        while len(self.chips) < len(steps):
            chip = QLabel()
            chip.setWordWrap(True)
            chip.setObjectName(f"step:{len(self.chips)}")
            self.chips.append(chip)
            self.chips_row.addWidget(chip)
        active = auto.sequence is not None and auto.running
        index = auto.step_index or 0
        for i, chip in enumerate(self.chips):
            if i >= len(steps):
                chip.hide()
                continue
            chip.show()
            chip.setText(f"{i + 1}. {self.step_name(steps[i])}")
            chip.setToolTip(steps[i].label)
            if done_all or (active and i < index):
                chip.setStyleSheet(CHIP_DONE)
                chip.setProperty("phase", "done")
            elif active and i == index:
                chip.setStyleSheet(CHIP_ACTIVE)
                chip.setProperty("phase", "active")
            else:
                chip.setStyleSheet(CHIP_PENDING)
                chip.setProperty("phase", "pending")
        self.sequence_label.setText(tr("auto.sequence", name=tr(f"seq.{name}")))

    def step_name(self, step: sm.Step) -> str:
        """A step of the state machine in the console's language: the same words as the control buttons."""
        device = self.runtime.device_of_type(step.device_type)
        if device is None:
            return step.label
        params = dict(step.params)
        prefix = {"PCS": "PCS", "DCDC": "DC-DC", "BMS": "BMS"}.get(step.device_type, step.device_type)
        if "mode" in params:
            return f"{prefix} {command_label(device, step.command, params['mode'])}"
        if "enable" in params:
            return f"{prefix} {command_label(device, step.command, 'on' if params['enable'] else 'off')}"
        if "kw" in params:
            return f"{prefix} {command_label(device, step.command)} {params['kw']:g} kW"
        return f"{prefix} {command_label(device, step.command)}"

    def _step_text(self) -> str | None:
        auto = self.runtime.auto.status() if self.status is None else self.status.auto
        ctx = self.runtime.auto.context()
        if auto.state == sm.CHARGING and auto.waiting == "soc":
            return tr("auto.charging_until", soc=ctx.soc_charge_stop_threshold)
        if auto.sequence is None or auto.step_index is None or auto.waiting is None or not auto.running:
            return None
        name = self.step_name(sm.sequence(auto.sequence, ctx)[auto.step_index])
        return tr("auto.wait_then", step=name) if auto.waiting == "gap" else name

    def _countdown(self) -> None:
        deadline = self.status.auto.step_deadline if self.status else None
        if deadline is None or self.status is None or not self.status.auto.running:
            self.countdown.setText("")
            return
        seconds = max(0.0, deadline - self.runtime.clock.now())
        self.countdown.setText(tr("auto.countdown", seconds=seconds))

    def tick(self, tick: ClockTick) -> None:
        self._countdown()

    # --- thresholds ---------------------------------------------------------------------------
    def _fill_settings(self, status: OperationStatus) -> None:
        self._filling = True
        for key, spin in self.spins.items():
            if key not in self._dirty and key in status.thresholds:
                spin.setValue(status.thresholds[key])
                spin.setStyleSheet("")
            self.sources[key].setText(tr(f"source.{status.sources.get(key, 'config.yml')}"))
        self._filling = False

    def _edited(self, key: str) -> None:
        if self._filling:
            return
        self._dirty.add(key)
        self.spins[key].setStyleSheet(f"background: {EDITED_FILL};")

    def apply(self) -> None:
        changes = {key: round(self.spins[key].value(), 3) for key in sorted(self._dirty)}
        if not changes:
            return
        outcome = self.runtime.operation.update_settings(changes, self.runtime.pcs_rating_kw(), source="gui")
        if outcome.ok:
            self._dirty.clear()
        self._answer(outcome, self.settings_answer)

    def revert(self) -> None:
        self._dirty.clear()
        self._answers.pop(self.settings_answer, None)
        self.settings_answer.setText("")
        self.show_operation(self.runtime.operation.status())

    def retranslate(self) -> None:
        self.binder.retranslate()
        for label, outcome in self._answers.items():
            label.setText(tr_reason(outcome.why))
        if self.status is not None:
            self.show_operation(self.status)
