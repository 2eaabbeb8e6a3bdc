"""In-process publish/subscribe of typed events.

Handlers run synchronously in publishing order on the event loop's thread; a
handler that raises is logged and does not stop the others or the publisher.
Handlers that need to do I/O start their own task or feed a queue.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from pms_core.reasons import Reason

log = logging.getLogger(__name__)

LinkState = Literal["online", "stale", "offline"]
BrokerState = Literal["connected", "connecting", "disconnected"]


@dataclass(frozen=True)
class Snapshot:
    """One consistent poll of a device: every value from the same poll, one timestamp."""

    device_name: str
    device_type: str
    timestamp: float  # plant epoch seconds
    monotonic: float  # plant monotonic seconds, for ages
    values: dict[str, float | int | None]
    raw: dict[str, int]
    derived: dict[str, Any] = field(default_factory=dict)
    # registers of optional blocks this device does not have (it answered them with exception 01 / 02)
    unsupported: frozenset[str] = frozenset()

    def value(self, name: str) -> Any:
        if name in self.derived:
            return self.derived[name]
        return self.values.get(name)


@dataclass(frozen=True)
class LinkStateChanged:
    device_name: str
    device_type: str
    state: LinkState
    since: float  # plant epoch seconds
    error: str | None


@dataclass(frozen=True)
class AlarmChanged:
    """An alarm raised or cleared (device alarm bits, or the PMS's own such as the auto mode's HOLD)."""

    device_name: str
    alarm: str
    code: str
    severity: str  # "info" | "warning" | "fault"
    active: bool
    message: str
    timestamp: float
    why: Reason | None = None  # the PMS's own alarms: `message` as a Reason, which the console says in its language


@dataclass(frozen=True)
class AlarmAcknowledged:
    device_name: str
    alarm: str
    by: str  # "gui" | "mqtt"
    timestamp: float


@dataclass(frozen=True)
class BrokerStateChanged:
    """The MQTT gateway's connection to the broker."""

    state: BrokerState
    broker: str  # host:port
    error: str | None
    since: float  # plant epoch seconds


E = TypeVar("E")


class Bus:
    def __init__(self) -> None:
        self._handlers: dict[type, list[Callable[[Any], None]]] = defaultdict(list)

    def subscribe(self, event_type: type[E], handler: Callable[[E], None]) -> Callable[[], None]:
        """Call `handler` for every event of `event_type`; returns a function that unsubscribes."""
        self._handlers[event_type].append(handler)
        return lambda: self._handlers[event_type].remove(handler)

    def publish(self, event: object) -> None:
        for handler in list(self._handlers.get(type(event), ())):
            try:
                handler(event)
            except Exception:
                log.exception("event handler %r failed on %s", handler, type(event).__name__)
