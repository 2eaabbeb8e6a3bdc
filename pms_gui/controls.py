"""Basic-mode controls: per device the commands of its map, each confirmed before anything is written.

The confirmation shows exactly what will be written (address and value, from
the command service's own plan) in a non-blocking dialog (`open()` + signal,
never `exec()`); the result follows as written, then confirmed / unconfirmed,
or failed with the reason. While the automatic mode is on, every control is
disabled with a tooltip saying why (the command service refuses them too).
A set-point box starts at the device's present value once it is read, never at 0.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from PyQt5.QtCore import Qt
from PyQt5.QtWidgets import (
    QDoubleSpinBox,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from pms_core.automation.operation_manager import OperationStatus
from pms_core.commands import CommandRejected, CommandResult
from pms_core.devices import Device
from pms_core.runtime import Runtime
from pms_gui.bridge import DeviceView
from pms_gui.i18n import Binder, has, tr
from pms_gui.palette import FAULT, MUTED, RESULT_COLOURS
from pms_gui.reasons import tr_reason
from pms_gui.tasks import TaskSet

COLUMNS = 3


def command_key(device: Device, command: str, choice: str | None = None) -> str:
    return f"ctl.{device.type.lower()}.{command}" + (f".{choice}" if choice else "")


def command_label(device: Device, command: str, choice: str | None = None) -> str:
    key = command_key(device, command, choice)
    if has(key):
        return tr(key)
    spec = device.map.commands[command]
    return f"{spec.description or command} {choice or ''}".strip()


class DeviceControls(QGroupBox):
    """One device's commands, as its map has them: a grid of buttons for the fixed writes, a row per set-point
    (box and button), the last result below. Every click goes to `panel.request`, which confirms first."""

    def __init__(self, panel: ControlsPanel, device: Device) -> None:
        super().__init__(device.name)
        self.device = device
        self.binder = Binder()
        self.inputs: list[QWidget] = []
        self.buttons: dict[str, QPushButton] = {}  # "command" or "command.choice" -> button
        self.spins: dict[str, QDoubleSpinBox] = {}
        self._unfilled: dict[str, str] = {}  # set-point command -> its register, until the device's value is shown
        self.last: CommandResult | None = None
        layout = QVBoxLayout(self)
        layout.addLayout(self._command_grid(panel))
        for name, spec in device.map.commands.items():
            if spec.register_name is not None:
                layout.addLayout(self._setpoint_row(panel, name))
        self.result = self._result_label()
        layout.addWidget(self.result)

    # --- building ----------------------------------------------------------------------------
    def _command_grid(self, panel: ControlsPanel) -> QGridLayout:
        """A button per fixed write, COLUMNS a row; a command with choices has a button per choice, but for those the
        datasheet marks RESERVED (MQTT and raw only)."""
        grid = QGridLayout()
        grid.setSpacing(4)
        n = 0
        for name, spec in self.device.map.commands.items():
            if spec.register_name is not None:  # a set-point: a row of its own
                continue
            offered = [c for c, write in spec.choices.items() if not write.reserved] if spec.choices else [None]
            for choice in offered:
                grid.addWidget(self._command_button(panel, name, choice), n // COLUMNS, n % COLUMNS)
                n += 1
        return grid

    def _command_button(self, panel: ControlsPanel, name: str, choice: str | None) -> QPushButton:
        device = self.device
        spec = device.map.commands[name]
        params = {spec.param: choice} if choice else {}
        button = QPushButton()
        button.setObjectName(f"cmd:{device.name}:{name}" + (f":{choice}" if choice else ""))
        self._label(button.setText, name, choice)
        button.clicked.connect(lambda: panel.request(self, name, params, command_label(device, name, choice)))
        self.buttons[f"{name}.{choice}" if choice else name] = button
        self.inputs.append(button)
        return button

    def _setpoint_row(self, panel: ControlsPanel, name: str) -> QHBoxLayout:
        """A set-point: its name, a box in the register's unit within the command's bounds, and its Set button."""
        device = self.device
        spec = device.map.commands[name]
        reg = device.map.registers[spec.register_name or ""]
        unit = reg.unit
        row = QHBoxLayout()
        label = QLabel()
        self._label(label.setText, name)
        spin = QDoubleSpinBox()
        spin.setObjectName(f"spin:{device.name}:{name}")
        spin.setDecimals(1)
        spin.setSingleStep(1.0)
        spin.setRange(spec.min if spec.min is not None else 0.0, spec.max if spec.max is not None else 6553.5)
        spin.setSuffix(f" {unit}")
        button = QPushButton()
        button.setObjectName(f"cmd:{device.name}:{name}")
        self.binder.bind(button.setText, "ctl.set")
        button.clicked.connect(
            lambda: panel.request(
                self, name, {spec.param: round(spin.value(), 1)}, f"{command_label(device, name)} {spin.value():g} {unit}"
            )
        )
        row.addWidget(label, 1)
        row.addWidget(spin)
        row.addWidget(button)
        self.spins[name] = spin
        self._unfilled[name] = reg.name
        self.buttons[name] = button
        self.inputs += [spin, button]
        return row

    def _result_label(self) -> QLabel:
        """The last command's result (`show_result`), selectable to copy."""
        result = QLabel()
        result.setObjectName(f"result:{self.device.name}")
        result.setWordWrap(True)
        result.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.binder.bind(result.setText, "ctl.none")
        return result

    def show_view(self, view: DeviceView) -> None:
        """Fill each set-point box once with the value the device holds; after that the box is the operator's."""
        if not self._unfilled or not view.fresh or view.snapshot is None:
            return
        for command, register in list(self._unfilled.items()):
            value = view.snapshot.values.get(register)
            if isinstance(value, (int, float)):
                self.spins[command].setValue(value)
                del self._unfilled[command]

    def _label(self, setter: Any, command: str, choice: str | None = None) -> None:
        key = command_key(self.device, command, choice)
        if has(key):
            self.binder.bind(setter, key)
        else:  # a command the catalog does not know yet (added to the map): the map's own description
            setter(command_label(self.device, command, choice))

    def show_result(self, label: str, result: CommandResult | None, text: str = "", error: bool = False) -> None:
        if result is not None:
            self.last = result
            when = datetime.fromtimestamp(result.timestamp).strftime("%H:%M:%S")
            text = f"{label}: {tr(f'result.{result.status}')} ({when})"
            if result.why:
                text += f" — {tr_reason(result.why)}"
            colour = RESULT_COLOURS[result.status]
        else:
            colour = FAULT if error else MUTED
        self.result.setText(tr("ctl.last", text=text))
        self.result.setStyleSheet(f"color: {colour};")


class ControlsPanel(QWidget):
    def __init__(self, runtime: Runtime, tasks: TaskSet, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.runtime = runtime
        self.tasks = tasks
        self.dialog: QMessageBox | None = None
        self.mode = "basic"
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        outer.addWidget(scroll)
        inner = QWidget()
        scroll.setWidget(inner)
        layout = QVBoxLayout(inner)
        layout.setContentsMargins(4, 4, 4, 4)
        order = {"PCS": 0, "DCDC": 1, "BMS": 2}
        self.groups: dict[str, DeviceControls] = {}
        for dev in sorted(runtime.devices.values(), key=lambda d: order.get(d.type, 9)):
            group = DeviceControls(self, dev)
            self.groups[dev.name] = group
            layout.addWidget(group)
        layout.addStretch(1)

    def show_view(self, view: DeviceView) -> None:
        """A device's view to its group (its set-point boxes start at the device's values)."""
        group = self.groups.get(view.name)
        if group is not None:
            group.show_view(view)

    # --- mode gating (display of the core's rule) ----------------------------------------
    def show_operation(self, status: OperationStatus) -> None:
        """Every control disabled while the automatic mode is on, with a tooltip saying why."""
        self.mode = status.mode
        enabled = status.mode != "auto"
        tip = "" if enabled else tr("ctl.disabled_auto")
        for group in self.groups.values():
            for widget in group.inputs:
                widget.setEnabled(enabled)
                widget.setToolTip(tip)

    # --- a command: plan, confirm, execute ------------------------------------------------
    def request(self, group: DeviceControls, command: str, params: dict[str, Any], label: str) -> None:
        device = group.device
        try:
            plan = self.runtime.commands.plan(device, command, params)
        except CommandRejected as exc:
            group.show_result(label, None, tr("ctl.rejected", reason=tr_reason(exc.reason)), error=True)
            return
        writes = "\n".join(tr("ctl.confirm.write", address=a, value=v) for a, v in plan.writes)
        box = QMessageBox(self.window())
        box.setObjectName("confirmDialog")
        box.setIcon(QMessageBox.Question)
        box.setWindowTitle(tr("ctl.confirm.title"))
        box.setText(tr("ctl.confirm.text", device=device.name, writes=writes, label=label))
        box.setStandardButtons(QMessageBox.Yes | QMessageBox.No)
        box.setDefaultButton(QMessageBox.No)
        box.button(QMessageBox.Yes).setText(tr("yes"))
        box.button(QMessageBox.No).setText(tr("no"))
        box.setAttribute(Qt.WA_DeleteOnClose)

        def finished(_code: int) -> None:
            yes = box.standardButton(box.clickedButton()) == QMessageBox.Yes
            self.dialog = None
            if yes:
                group.show_result(label, None, tr("ctl.sending", label=label))
                self.tasks.spawn(self._execute(group, command, params, label), f"console {device.name} {command}")

        box.finished.connect(finished)
        self.dialog = box
        box.open()

    async def _execute(self, group: DeviceControls, command: str, params: dict[str, Any], label: str) -> None:
        commands = self.runtime.commands
        result = await commands.execute(group.device.name, command, params, source="gui")
        group.show_result(label, result)
        if result.ok:
            group.show_result(label, await commands.confirmation(result))

    def retranslate(self) -> None:
        for group in self.groups.values():
            group.binder.retranslate()
        if self.mode == "auto":
            for group in self.groups.values():
                for widget in group.inputs:
                    widget.setToolTip(tr("ctl.disabled_auto"))
