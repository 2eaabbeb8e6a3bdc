"""Every timer and timestamp of the PMS comes from a clock.

Two kinds of time, never mixed: `now()` is wall-clock time in epoch seconds,
for timestamps (MQTT, history, CSV, the status bar, the local day of the
energy counters); `monotonic()` is for intervals, ages and timers, and a
correction of the wall clock never moves it.

The real clock (`Clock()`, `REAL_CLOCK`) reads the operating system's clock
at every `now()`, so a time sync or an operator's correction is picked up at
once. The accelerated clock (`Clock(speed, start=...)`, a speed other than 1
or an explicit start) runs plant time `speed` times faster than real time, so
tests, benchmarks and the simulator's `--speed` can let hours of plant time
pass in seconds while the network stays real; its `now()` is
`start + monotonic()`, whatever the wall clock does. The
simulator and the PMS share one clock when they run in one process.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import datetime, timezone

EPOCH_TOLERANCE = 0.05  # s: the wall clock moved less than this against the monotonic one is jitter, not a correction


class Clock:
    """`now()` in epoch seconds for timestamps, `monotonic()` for intervals."""

    def __init__(self, speed: float = 1.0, start: float | None = None, wall: Callable[[], float] = time.time) -> None:
        """`start`: the plant epoch at which an accelerated clock begins (default: the wall clock's present).

        `wall`: the wall-clock source (epoch seconds) of the real clock; a test injects one it can move.
        """
        if speed <= 0:
            raise ValueError("clock speed must be positive")
        self.speed = speed
        self.accelerated = speed != 1.0 or start is not None
        self._wall = wall
        self._start = wall() if start is None else start
        self._mono0 = time.monotonic()
        self._offset: float | None = None  # the real clock's wall minus monotonic, as epoch_of() last took it

    def monotonic(self) -> float:
        return (time.monotonic() - self._mono0) * self.speed

    def now(self) -> float:
        if self.accelerated:
            return self._start + self.monotonic()
        return self._wall()

    def epoch_of(self, monotonic: float) -> float:
        """The epoch at which `monotonic()` reads (or read) `monotonic`, as the wall clock stands now.

        For showing a monotonic deadline as a time of day only: a wall-clock correction moves the answer, never
        the deadline. On the real clock the wall-minus-monotonic offset is kept until it moves by more than
        EPOCH_TOLERANCE, so two calls a moment apart give the same epoch (the two clocks are never read at the same
        instant) and a correction shows at once.
        """
        if self.accelerated:
            return self._start + monotonic
        offset = self._wall() - self.monotonic()
        if self._offset is None or abs(offset - self._offset) > EPOCH_TOLERANCE:
            self._offset = offset
        return self._offset + monotonic

    async def sleep(self, plant_seconds: float) -> None:
        await asyncio.sleep(max(0.0, plant_seconds) / self.speed)

    async def sleep_until(self, monotonic_deadline: float) -> None:
        await self.sleep(monotonic_deadline - self.monotonic())

    def iso(self, epoch: float | None = None) -> str:
        """`epoch` (default: now) as format_iso writes it."""
        return format_iso(self.now() if epoch is None else epoch)


def format_iso(epoch: float) -> str:
    """ISO 8601 with the local UTC offset and milliseconds, as the MQTT contract and the CSV export write times."""
    return datetime.fromtimestamp(epoch, timezone.utc).astimezone().isoformat(timespec="milliseconds")


def parse_iso(text: str) -> float:
    """ISO 8601 -> epoch seconds; a time without a UTC offset is local time (the sites' back end sends
    `datetime.now().isoformat()`; operators type local times). ValueError if unreadable."""
    moment = datetime.fromisoformat(text.strip())
    if moment.tzinfo is None:
        moment = moment.astimezone()
    return moment.timestamp()


REAL_CLOCK = Clock()
