"""The control topics: route a message, check it, act through the operation manager or the command path, answer.

Every rule of the contract's "Rules every handler follows" lives here, on the
event loop; the gateway only moves bytes. A handler never raises: whatever a
remote system sends, it gets one clear answer (or, for topics that are not
ours, silence) and the PMS keeps running.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pms_core import validation
from pms_core.alarms import AlarmMonitor
from pms_core.automation.operation_manager import OperationManager, Outcome
from pms_core.clock import Clock, parse_iso
from pms_core.commands import CommandResult, CommandService
from pms_core.config import MqttConfig
from pms_core.mqtt import payloads
from pms_core.mqtt.payloads import BadMessage, Envelope
from pms_core.reasons import Reason

log = logging.getLogger(__name__)

SYSTEM_COMMANDS = (
    "operation_mode",
    "auto_mode/start",
    "auto_mode/stop",
    "auto_mode/status",
    "basic_mode",
    "threshold_config",
    "alarm_ack",
)
COMMAND_ROOTS = {c.split("/")[0] for c in SYSTEM_COMMANDS}
REMEMBERED_REQUESTS = 1000  # request ids kept beyond command_max_age_s (messages without a timestamp have no age)
FUTURE_LIMIT_S = 60.0  # a timestamp further ahead is a wrong clock or a replay prepared in advance


@dataclass(frozen=True)
class Route:
    kind: str  # "system": a command of SYSTEM_COMMANDS; "raw": a register write; "unknown": one of ours, misspelt
    command: str  # the system command, or the device name of a raw write
    response_topic: str


@dataclass(frozen=True)
class Answer:
    success: bool
    message: str
    extra: dict[str, Any] | None = None


class ControlHandler:
    def __init__(
        self,
        config: MqttConfig,
        operation: OperationManager,
        commands: CommandService,
        alarms: AlarmMonitor,
        pcs_rating: Callable[[], float | None],
        publish_status: Callable[[], None],
        respond: Callable[[str, dict[str, Any]], None],
        clock: Clock,
    ) -> None:
        self.config = config
        self.operation = operation
        self.commands = commands
        self.alarms = alarms
        self.pcs_rating = pcs_rating
        self.publish_status = publish_status
        self.respond = respond
        self.clock = clock
        self.base = config.base_topic
        # request key -> (its answer, time.monotonic() when it arrived), oldest first
        self._answers: OrderedDict[str, tuple[asyncio.Future[dict[str, Any]], float]] = OrderedDict()

    # --- routing --------------------------------------------------------------------------
    def route(self, topic: str) -> Route | None:
        """Which control message `topic` is, or None for a topic this PMS must not answer."""
        prefix = f"{self.base}/control/"
        if not topic.startswith(prefix):
            return None
        parts = topic[len(prefix) :].split("/")
        status, control = f"{self.base}/status", f"{self.base}/control"
        loc = self.config.location
        if loc and parts[0] == loc and len(parts) > 1:
            parts = parts[1:]
            status, control = f"{status}/{loc}", f"{control}/{loc}"
        if parts[-1] == "response":
            return None  # our own answers (and other systems'): never commands
        command = "/".join(parts)
        if command in SYSTEM_COMMANDS:
            return Route("system", command, f"{status}/operation_mode/response")
        if len(parts) == 2 and parts[1] == "command":
            return Route("raw", parts[0], f"{control}/{parts[0]}/response")
        if parts[0] in COMMAND_ROOTS:
            return Route("unknown", command, f"{status}/operation_mode/response")
        return None  # another location's topic, or not a control topic of the contract

    # --- handling -------------------------------------------------------------------------
    async def handle(self, topic: str, payload: bytes, retained: bool) -> None:
        route = self.route(topic)
        if route is None:
            return
        if retained:
            log.info("ignoring a retained control message on %s: a command is acted on once, when it is sent", topic)
            return
        try:
            message = decode(payload)
            envelope = payloads.parse(Envelope, message)
        except BadMessage as exc:
            self._answer(route, None, Answer(False, str(exc)))
            return
        request_id = envelope.id
        key = None if request_id is None else f"{route.kind}:{route.command}:{request_id}"
        if key is not None and key in self._answers:
            log.info("repeated request_id %r on %s: answering again, not executing twice", request_id, topic)
            # Answered where this copy arrived: a sender that repeats a flat request location-scoped listens there.
            self.respond(route.response_topic, await asyncio.shield(self._answers[key][0]))
            return
        answered: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        if key is not None:
            self._remember(key, answered)
        try:
            answer = await self._act(route, message, envelope)
        except Exception as exc:  # a bug must not end the gateway; the sender still gets its answer
            log.exception("control message on %s failed", topic)
            answer = Answer(False, f"internal error: {exc}")
        answered.set_result(self._answer(route, request_id, answer))

    async def _act(self, route: Route, message: dict[str, Any], envelope: Envelope) -> Answer:
        try:
            self._check_age(envelope)
            if route.kind == "unknown":
                raise BadMessage(f"unknown control topic {route.command!r}; known: {', '.join(SYSTEM_COMMANDS)}")
            if route.kind == "raw":
                return await self._raw_write(route.command, payloads.parse(payloads.RawWrite, message), envelope)
            return await self._system(route.command, message, envelope)
        except BadMessage as exc:
            return Answer(False, str(exc))

    async def _system(self, command: str, message: dict[str, Any], envelope: Envelope) -> Answer:
        op = self.operation
        body = payloads.parse(payloads.BODIES[command], message)
        if isinstance(body, payloads.OperationMode):
            return _outcome(op.set_mode(body.mode, source="mqtt"))
        if command == "auto_mode/start":
            return _outcome(op.start_auto(source="mqtt"))
        if command == "auto_mode/stop":
            return _outcome(op.stop_auto(source="mqtt"))
        if command == "auto_mode/status":
            self.publish_status()
            return Answer(True, "status published")
        if isinstance(body, payloads.BasicMode):
            result = await self.commands.execute(
                body.device_name, body.command, body.all_params(), source="mqtt", request_id=_id_text(envelope.id),
                still_valid=lambda: self._age_refusal(envelope),
            )  # fmt: skip
            return _result(result)
        if isinstance(body, payloads.ThresholdConfig):
            return _outcome(op.update_settings(body.changes(), self.pcs_rating(), source="mqtt"))
        assert isinstance(body, payloads.AlarmAck)
        refusal = self.alarms.acknowledge(body.device_name, body.alarm, "mqtt")
        return Answer(refusal is None, refusal or "alarm acknowledged")

    async def _raw_write(self, device: str, body: payloads.RawWrite, envelope: Envelope) -> Answer:
        if not self.config.allow_raw_writes:
            raise BadMessage("raw register writes are disabled at this site (mqtt.allow_raw_writes: false)")
        result = await self.commands.write_raw(device, body.address, body.value, request_id=_id_text(envelope.id),
                                               still_valid=lambda: self._age_refusal(envelope))  # fmt: skip
        return _result(result)

    def _age_refusal(self, envelope: Envelope) -> Reason | None:
        """The age check again, just before the write: a command that waited for its device may have grown too old."""
        try:
            self._check_age(envelope)
        except BadMessage as exc:  # MQTT's own answer, which the command's result repeats
            return Reason("command.too_late", problem=str(exc))
        return None

    def _check_age(self, envelope: Envelope) -> None:
        if envelope.timestamp is None:
            return
        age = time.time() - parse_iso(envelope.timestamp)  # transport age is wall-clock time, whatever the plant does
        if age > self.config.command_max_age_s:
            raise BadMessage(f"stale command: sent {age:.0f} s ago, the limit is {self.config.command_max_age_s:g} s")
        if -age > FUTURE_LIMIT_S:
            raise BadMessage(f"timestamp {envelope.timestamp!r} is {-age:.0f} s in the future (limit"
                             f" {FUTURE_LIMIT_S:g} s): check the sender's clock")  # fmt: skip

    # --- answering ------------------------------------------------------------------------
    def _answer(self, route: Route, request_id: str | int | None, answer: Answer) -> dict[str, Any]:
        now = self.clock.iso()
        if route.kind == "raw":
            response = {"request_id": request_id, "success": answer.success, "message": answer.message,
                        "timestamp": now, "device_name": route.command}  # fmt: skip
        else:
            response = {"command": route.command, "success": answer.success, "message": answer.message,
                        "request_id": request_id, "timestamp": now}  # fmt: skip
        response.update(answer.extra or {})
        (log.info if answer.success else log.warning)("MQTT %s: %s", route.command, answer.message)
        self.respond(route.response_topic, response)
        return response

    def _remember(self, key: str, answered: asyncio.Future[dict[str, Any]]) -> None:
        """Every id of the last command_max_age_s is kept (a repeat that young would still be executed), and at
        least the last REMEMBERED_REQUESTS."""
        now = time.monotonic()
        self._answers[key] = (answered, now)
        horizon = now - self.config.command_max_age_s
        while len(self._answers) > REMEMBERED_REQUESTS and next(iter(self._answers.values()))[1] < horizon:
            self._answers.popitem(last=False)


def decode(payload: bytes) -> dict[str, Any]:
    """The JSON object of a control message (an empty payload is `{}`); BadMessage otherwise."""
    if not payload.strip():
        return {}
    try:
        message = json.loads(payload.decode("utf-8"), parse_constant=_Constant)
    except UnicodeDecodeError:
        raise BadMessage("payload is not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise BadMessage(f"payload is not valid JSON: {exc.msg} at position {exc.pos}") from None
    except RecursionError:
        raise BadMessage("payload is nested too deeply") from None
    except ValueError as exc:  # an integer of thousands of digits: Python caps their parsing
        raise BadMessage(f"payload is not valid JSON: {str(exc).split(':')[0]}") from None
    if not isinstance(message, dict):
        raise BadMessage(f"payload must be a JSON object, got {type(message).__name__}")
    return _clean(message, ())


@dataclass(frozen=True)
class _Constant:
    name: str  # NaN, Infinity or -Infinity: Python's json reads them, JSON has no such numbers


LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _clean(value: Any, where: tuple[int | str, ...]) -> Any:
    """`value` as every output can hold it. JSON may carry a lone surrogate (`"\\ud800"`), which no UTF-8 output
    can: replaced at the door by U+FFFD, so every answer, log line, history row and CSV cell can be written. A NaN
    or an Infinity is refused naming its key."""
    if isinstance(value, str):
        return LONE_SURROGATE.sub("\ufffd", value)
    if isinstance(value, _Constant):
        raise BadMessage(f"{validation.key(where)}: {value.name} is not a number JSON allows; send a finite number")
    if isinstance(value, dict):
        keys = [_clean(k, where) for k in value]
        return {k: _clean(v, (*where, k)) for k, v in zip(keys, value.values(), strict=True)}
    if isinstance(value, list):
        return [_clean(v, (*where, i)) for i, v in enumerate(value)]
    return value


def _id_text(request_id: str | int | None) -> str | None:
    return None if request_id is None else str(request_id)


def _outcome(outcome: Outcome) -> Answer:
    return Answer(outcome.ok, outcome.message)


def _result(result: CommandResult) -> Answer:
    extra = {"command_id": result.id, "status": result.status, "writes": [list(w) for w in result.writes]}
    message = result.reason or f"{result.command} written to {result.device_name}"
    return Answer(result.ok, message, extra)
