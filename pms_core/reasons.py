"""Why something was refused, failed or holds: a code with parameters, rendered in English for logs and MQTT.

The core never hands the operator a finished English sentence: it reports a
`Reason` (a registered code and its parameters), whose `text` is the English
that logs, MQTT answers and the history keep, word for word as before. The
console renders the same Reason in its own language from its catalog
(pms_gui/reasons.py), which a test keeps complete for every code here.

Parameters are values: device names, numbers, register and setting names,
another Reason (a cause inside a refusal). Text that is data passes through as
it is: a bit's name from a map, a device's or the operating system's own error
text, a value as the sender wrote it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

ENGLISH: dict[str, str] = {
    # the command path (pms_core/commands.py)
    "command.unknown_device": "unknown device {device!r}",
    "command.unknown_command": "{device} ({type}) has no command {command!r}; known: {known}",
    "command.needs_param": "{command} needs params.{param}",
    "command.reserved": "{label} is RESERVED in the datasheet: only a remote system sends it (MQTT)",
    "command.not_writable": "address {address} is not a writable register of {device}",
    "command.raw_unwritten": "{register} ({address}) is written by no command of the map: not written raw",
    "command.raw_values": "{register} ({address}) takes only {values} (the map's commands), got {value}",
    "command.not_a_choice": "{command}: {param} {value} is not one of {choices}",
    "command.not_a_number": "{command}: {param} must be a number, got {value}",
    "command.rating_unknown": "{command}: the rating ({register}) of {device} is not known: no fresh data",
    "command.below_minimum": "{command}: {value} {unit} is below the minimum {minimum} {unit}",
    "command.above_limit": "{command}: {value} {unit} is above the limit {limit} {unit} of {device}",
    "command.unencodable": "{command}: {error}",
    "command.multi_word": "{command}: {register} needs {count} registers; the devices take one 0x06 write",
    "command.not_a_switch": "{param} must be true or false, got {value}",
    "command.busy": "busy: {count} commands are already waiting for {device}; send it again later",
    "command.shutting_down": "the PMS is shutting down",
    "command.offline": "{device} is offline: {error}",
    "command.not_connected": "not connected",
    "command.write_failed": "write {address}={value} failed: {error}",
    "command.stale_for_auto": "{device} has no fresh data: the automatic mode does not command it",
    "command.superseded": "superseded by command #{id} before the device showed it",
    "command.not_shown": "the device did not show it within {timeout:g} s",
    "command.too_late": "{problem} (when its turn came)",
    "common.none": "none",
    # operation modes (pms_core/automation/operation_manager.py)
    "mode.unknown": "unknown mode {mode}: use 'basic' (or 'manual') or 'auto'",
    "mode.auto_not_allowed": "the automatic mode is not allowed at this site (auto_mode.enabled: false)",
    "mode.already_basic": "already in basic mode",
    "mode.already_auto": "already in auto mode",
    "mode.switched_basic": "switched to basic mode",
    "mode.switched_auto": "switched to auto mode",
    "mode.auto_on": "the automatic mode is on ({state}): device commands are refused;"
    " switch to basic mode to command devices by hand",
    "settings.applied": "applied: {settings}",
    # the automatic mode (operation_manager.py, auto_mode.py, state_machine.py)
    "auto.not_running": "the automatic mode is not running",
    "auto.start_needs_auto": "the automatic mode can only be started in auto mode: switch the mode to auto first",
    "auto.started": "automatic mode started",
    "auto.was_not_running": "the automatic mode was not running",
    "auto.stopped": "automatic mode stopped: nothing more is written, devices keep their last command",
    "auto.power_above_rating": "cannot start: charging_power {power:g} kW is above the PCS rating of {rating:g} kW;"
    " lower it first",
    "auto.internal_error": "internal error in the automatic mode: {error}",
    "auto.no_device": "no {device} is configured",
    "auto.stale": "{device} data is stale or offline",
    "auto.step_given_up": "the automatic mode gave this step up (HOLD, FAULT or stop) while it waited for the device",
    "auto.step_internal_error": "internal error: {error}",
    "auto.soc_unknown": "BMS SOC is not known",
    "auto.fire": "BMS fire alarm",
    "auto.dcdc_left_out": "{why}: the DC-DC gets no command, the PCS side keeps running",
    "auto.hold": "{why}: holding, no command is sent until fresh data returns",
    "auto.hold_end_stop": "automatic mode stopped",
    "auto.hold_end_fault": "hold ended by a fault",
    "auto.hold_end_fresh": "data fresh again: resuming",
    "auto.fault": "automatic mode FAULT: {why}",
    "auto.fault_recovery": "fault recovery attempt {attempt} of {limit} this hour, after: {why}",
    "auto.dcdc_recovery": "DC-DC fault recovery attempt {attempt} of {limit} this hour",
    "auto.in_fault": "automatic mode is in FAULT ({why}): stop it, clear the fault, then start",
    "auto.already_running": "automatic mode is already running ({state})",
    "auto.cannot_start": "cannot start: {why}",
    "auto.cannot_start_fault": "cannot start: {why}; reset it in basic mode first",
    "auto.step_failed_twice": "{step} failed twice: {why}",
    # interlocks and the SOC check (pms_core/interlocks.py)
    "rule.fire": "BMS fire alarm",
    "rule.bms_fault": "BMS fault",
    "rule.pcs_trip": "PCS total fault or trip",
    "rule.dcdc_trip": "DC-DC trip",
    "effect.stop": "stop",
    "effect.reset": "reset",
    "effect.standby": "standby",
    "effect.energize": "energize",
    "effect.setting": "setting",
    "interlock.on": "{rule} on {device} ({bits})",
    "interlock.bits_more": "{bits} and {more} more",
    "interlock.refusal": "interlock: {active} is active; {device} takes only {allowed} commands until it clears",
    "interlock.takes_only": "{type} takes only {allowed}",
    "interlock.alarm": "{active}: {refusing}",
    "interlock.alarm_enforced": "{active}: {refusing}; the PMS sends {writes} until read back in every mode",
    "interlock.alarm_enforced_auto": "{active}: {refusing}; the PMS sends {writes} until read back"
    " while the automatic mode runs",
    "interlock.write": "{type} {mode}",
    "interlock.or": "{first} / {second}",
    "interlock.and": "{first} and {second}",
    "interlock.then": "{first}; {second}",
    "soc.not_available": "BMS SOC not available (raw {raw})",
    "soc.out_of_range": "BMS SOC {soc:g} % is outside 0-100 % (raw {raw})",
    "soc.too_fast": "BMS SOC moved from {before:g} to {soc:g} % in {seconds:.1f} s (raw {raw}), faster than"
    " a battery can ({rate:g} %/s)",
    # thresholds and timings (pms_core/automation/settings.py)
    "settings.unknown": "unknown setting {key}; known: {known}",
    "settings.not_a_number": "{key} must be a number, got {value}",
    "settings.above_rating": "charging_power {power} kW is above the PCS rating of {rating} kW",
    # a refused value, whichever door it came through (pms_core/validation.py, validators in config.py)
    "value.at": "{key}: {problem}",
    "value.got": "{problem}, got {value}",
    "value.unknown_key": "unknown key",
    "value.missing": "required key is missing",
    "value.ge": "Input should be greater than or equal to {bound:g}",
    "value.gt": "Input should be greater than {bound:g}",
    "value.le": "Input should be less than or equal to {bound:g}",
    "value.lt": "Input should be less than {bound:g}",
    "value.finite": "Input should be a finite number",
    "value.integer": "Input should be a valid integer",
    "value.integer_text": "Input should be a valid integer, unable to parse string as an integer",
    "value.integer_fraction": "Input should be a valid integer, got a number with a fractional part",
    "value.number": "Input should be a valid number",
    "value.number_text": "Input should be a valid number, unable to parse string as a number",
    "value.boolean": "Input should be a valid boolean",
    "value.boolean_text": "Input should be a valid boolean, unable to interpret input",
    "value.text": "Input should be a valid string",
    "value.list": "Input should be a valid list",
    "value.one_of": "Input should be {expected}",
    "value.too_few": "List should have at least {min_length} item after validation, not {actual_length}",
    "value.text_too_short": "String should have at least {min_length} character",
    "value.text_too_long": "String should have at most {max_length} characters",
    "value.other": "{problem}",
    "value.not_ipv4": "{value} is not an IPv4 address (four numbers 0-255, no leading zeros)",
    "value.not_host": "{value} is neither an IPv4 address nor a host name",
    "value.topic_chars": "{value} cannot be an MQTT topic level: no {chars}; use letters, digits, _ or -",
    "value.topic_spaces": "{value} cannot be an MQTT topic level: no spaces at either end; use letters, digits, _ or -",
    "value.order": "thresholds out of order: need soc_low_threshold < soc_charge_stop_threshold"
    " < soc_high_threshold, got {low} / {stop} / {high}",
    # config.yml (pms_core/config.py): every line names the file
    "config.line": "{file}: {problem}",
    "config.unreadable": "{file}: cannot read config: {error}",
    "config.utf16": "{file}: the file is saved as UTF-16: save it as UTF-8 (Notepad: Save as, Encoding UTF-8)",
    "config.not_utf8": "{file}: line {line} is not UTF-8 (saved as ANSI / cp949?): save it as UTF-8"
    " (Notepad: Save as, Encoding UTF-8)",
    "config.yaml": "{file}: not valid YAML: {problem}",
    "config.yaml_at": "{file}: not valid YAML at line {line}: {problem}",
    "config.octal": "{file}: {key}: write the number plainly (got {value}: a leading zero, 0x or : makes YAML read"
    " another number)",
    "config.not_mapping": "{file}: the config must be a mapping of sections (mqtt, devices, ...)",
    "config.duplicate_name": "{file}: devices[{index}].name: duplicate device name {name!r}",
    "config.same_unit": "{file}: devices[{index}].slave_id: {name!r} has the ip, port and slave_id of {other!r}; two"
    " devices on one unit would read each other's registers",
    "config.stale_after": "{file}: devices[{index}].stale_after: {stale_after:g} s must be between two poll intervals"
    " ({minimum:g} s) and {maximum:g} s",
    "config.pcs_poll": "{file}: devices[{index}].poll_interval: {poll:g} s is too long for a PCS, which trips after"
    " {watchdog:g} s without a request: poll it at least every {maximum:g} s",
    "config.map": "{file}: devices[{index}].map: {error}",
    "config.map_type": "{file}: devices[{index}].map: {map} is a {map_type} map, the device is a {type}",
    "config.tls_file": "{file}: mqtt.tls.{key}: file not found: {path}",
}


@dataclass(frozen=True, init=False)
class Reason:
    """A registered code and its parameters; frozen and hashable, so the pure state machine can hold it."""

    code: str
    params: tuple[tuple[str, Param], ...]

    def __init__(self, code: str, /, **params: Param) -> None:
        object.__setattr__(self, "code", code)
        object.__setattr__(self, "params", tuple(params.items()))

    def render(self, template: str, inner: Callable[[Reason], str]) -> str:
        """`template` filled with the parameters, a Reason among them rendered by `inner` (the same language)."""
        return template.format(**{k: inner(v) if isinstance(v, Reason) else v for k, v in self.params})

    @property
    def text(self) -> str:
        """The English: what logs, MQTT and the history keep."""
        return self.render(ENGLISH[self.code], lambda r: r.text)

    def __str__(self) -> str:
        return self.text


# A parameter: a plain value, or a Reason rendered in the same language as the one that holds it.
Param = str | int | float | Reason | None


class ReasonError(ValueError):
    """A refusal as an exception: `str(exc)` is the English, `exc.reason` what the console translates."""

    def __init__(self, reason: Reason) -> None:
        super().__init__(reason.text)
        self.reason = reason


def joined(code: str, items: Sequence[Param]) -> Param:
    """Items chained by a code of two parameters, `first` and `second` ("{first} and {second}"); one item is itself."""
    out = items[-1]
    for item in reversed(items[:-1]):
        out = Reason(code, first=item, second=out)
    return out
