"""Workers that must live (each device's polling, the history writer, the MQTT gateway, the automatic mode): an
unexpected exception, a bug, must not end them. It is logged with its traceback once per kind, raised as a PMS
alarm, and the worker goes on with its next round or event; the alarm clears when what failed succeeds again."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import ParamSpec

from pms_core.bus import AlarmChanged, Bus
from pms_core.clock import Clock

log = logging.getLogger(__name__)

P = ParamSpec("P")


class Watch:
    """One worker's failures, by part (a worker with several entry points fails and recovers in each on its own).
    Call on the event loop's thread (a thread hands them over with call_soon_threadsafe)."""

    def __init__(self, worker: str, bus: Bus, clock: Clock) -> None:
        self.worker = worker
        self.bus = bus
        self.clock = clock
        self.alarm = "worker_failed_" + "_".join(worker.split())
        self._failing: set[str] = set()
        self._logged: set[tuple[str, str]] = set()

    @property
    def failing(self) -> bool:
        return bool(self._failing)

    def failed(self, exc: BaseException, part: str = "") -> None:
        kind = type(exc).__name__
        what = f"{self.worker} ({part})" if part else self.worker
        if (part, kind) in self._logged:
            log.error("%s failed again (%s: %s); it goes on", what, kind, exc)
        else:
            self._logged.add((part, kind))
            log.error("%s failed; it goes on", what, exc_info=exc)
        first = not self._failing
        self._failing.add(part)  # before the alarm: a failing alarm handler must not raise it again and again
        if first:
            message = f"{what} failed ({kind}: {exc}); it goes on, see the log for the traceback"
            self.bus.publish(AlarmChanged("PMS", self.alarm, "worker_failed", "fault", True, message, self.clock.now()))

    def ok(self, part: str = "") -> None:
        if part not in self._failing:
            return
        self._failing.discard(part)
        if not self._failing:
            message = f"{self.worker} works again"
            self.bus.publish(AlarmChanged("PMS", self.alarm, "worker_failed", "fault", False, message, self.clock.now()))

    def guard(self, part: str, handler: Callable[P, None]) -> Callable[P, None]:
        """`handler`, with a failure reported here instead of raised to its caller (the bus, the event loop)."""

        def guarded(*args: P.args, **kwargs: P.kwargs) -> None:
            try:
                handler(*args, **kwargs)
            except Exception as exc:
                self.failed(exc, part)
            else:
                self.ok(part)

        return guarded
