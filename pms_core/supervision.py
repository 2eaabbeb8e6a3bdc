"""Workers that must live (each device's polling, the history writer): an unexpected exception, a bug, must not
end them. It is logged with its traceback once per kind, raised as a PMS alarm, and the worker goes on with its
next round; the alarm clears when a round succeeds again."""

from __future__ import annotations

import logging

from pms_core.bus import AlarmChanged, Bus
from pms_core.clock import Clock

log = logging.getLogger(__name__)


class Watch:
    """One worker's failures. Call on the event loop's thread (a thread hands them over with call_soon_threadsafe)."""

    def __init__(self, worker: str, bus: Bus, clock: Clock) -> None:
        self.worker = worker
        self.bus = bus
        self.clock = clock
        self.alarm = "worker_failed_" + "_".join(worker.split())
        self.failing = False
        self._logged: set[str] = set()

    def failed(self, exc: BaseException) -> None:
        kind = type(exc).__name__
        if kind in self._logged:
            log.error("%s failed again (%s: %s); it goes on", self.worker, kind, exc)
        else:
            self._logged.add(kind)
            log.error("%s failed; it goes on with its next round", self.worker, exc_info=exc)
        if not self.failing:
            self.failing = True
            message = f"{self.worker} failed ({kind}: {exc}); it goes on, see the log for the traceback"
            self.bus.publish(AlarmChanged("PMS", self.alarm, "worker_failed", "fault", True, message, self.clock.now()))

    def ok(self) -> None:
        if self.failing:
            self.failing = False
            message = f"{self.worker} works again"
            self.bus.publish(AlarmChanged("PMS", self.alarm, "worker_failed", "fault", False, message, self.clock.now()))
