"""The control messages of docs/MQTT_CONTRACT.md as models: every field typed, bounded and strict.

A message is checked in two layers. Its envelope (request_id, timestamp) first, so that a refusal of the body can
still echo the request_id; then the body of its command. Strict means no coercion: `"5"` is not a number, `true` is
not 1. Numbers the contract hands on (a basic-mode command's params, the thresholds) are checked where their bounds
live: the command's map and `config.Thresholds`. NaN and Infinity never get this far: `control.decode` refuses them
as the JSON they are not.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainValidator, StrictInt, StrictStr, ValidationError

from pms_core import validation
from pms_core.clock import parse_iso

TEXT_MAX = 200  # characters of a name, command or request_id: more is not a mistake an integrator makes

Text = Annotated[StrictStr, Field(min_length=1, max_length=TEXT_MAX)]


class BadMessage(ValueError):
    """A control message that is refused as it stands; the text says what is wrong."""


def _request_id(value: object) -> str | int:
    if isinstance(value, str) and len(value) <= TEXT_MAX:
        return value
    if isinstance(value, int) and not isinstance(value, bool) and -(2**63) <= value < 2**63:
        return value
    raise ValueError(f"must be a string of at most {TEXT_MAX} characters or a 64-bit integer")


RequestId = Annotated[str | int, PlainValidator(_request_id)]


def _iso(value: object) -> object:
    if isinstance(value, str) and len(value) <= 64:
        try:
            parse_iso(value)
        except ValueError:
            raise ValueError("not an ISO 8601 time such as 2026-12-02T09:30:00+09:00") from None
    return value


class _Message(BaseModel):
    model_config = ConfigDict(strict=True, allow_inf_nan=False, frozen=True, extra="ignore")


class Envelope(_Message):
    """What any control message may carry besides its command."""

    request_id: RequestId | None = None
    gui_request_id: RequestId | None = None  # the sites' console sends this name on raw writes
    timestamp: Annotated[StrictStr, Field(max_length=64), BeforeValidator(_iso)] | None = None

    @property
    def id(self) -> str | int | None:
        return self.request_id if self.request_id is not None else self.gui_request_id


ENVELOPE = set(Envelope.model_fields)


class OperationMode(_Message):
    mode: Annotated[Literal["auto", "basic", "manual"], BeforeValidator(lambda v: v.lower() if isinstance(v, str) else v)]


class NoBody(_Message):
    """auto_mode/start, auto_mode/stop, auto_mode/status: anything else sent along is ignored."""


class BasicMode(_Message):
    model_config = ConfigDict(extra="allow")  # sites send a command's params at the top level too

    device_name: Text
    command: Text
    params: dict[StrictStr, Any] = {}

    def all_params(self) -> dict[str, Any]:
        """Top-level params and `params`; `params` wins where both name one."""
        top = {k: v for k, v in (self.model_extra or {}).items() if k not in ENVELOPE}
        return top | self.params


class ThresholdConfig(_Message):
    """Any of the thresholds and timings: their names and bounds are `config.Thresholds`, checked when applied."""

    model_config = ConfigDict(extra="allow")

    def changes(self) -> dict[str, Any]:
        changes = {k: v for k, v in (self.model_extra or {}).items() if k not in ENVELOPE}
        if not changes:
            raise BadMessage("no thresholds given")
        return changes


class AlarmAck(_Message):
    device_name: Text
    alarm: Text


class RawWrite(_Message):
    action: Literal["write_register"]
    address: Annotated[StrictInt, Field(ge=0, le=65535)]
    value: Annotated[StrictInt, Field(ge=0, le=65535)]  # the register's word as sent; the map's command bounds it


BODIES: dict[str, type[_Message]] = {
    "operation_mode": OperationMode,
    "auto_mode/start": NoBody,
    "auto_mode/stop": NoBody,
    "auto_mode/status": NoBody,
    "basic_mode": BasicMode,
    "threshold_config": ThresholdConfig,
    "alarm_ack": AlarmAck,
    "raw": RawWrite,
}


M = TypeVar("M", bound=_Message)


def parse(model: type[M], message: dict[str, Any]) -> M:
    """`message` as `model`, or BadMessage naming every key that is wrong."""
    try:
        return model.model_validate(message)
    except ValidationError as exc:
        raise BadMessage("; ".join(validation.lines(exc))) from None
