"""Every timer and timestamp of the PMS comes from a clock.

The real clock follows the event loop. The accelerated clock runs plant time
`speed` times faster than real time, so tests and benchmarks can let hours of
plant time pass in seconds while the network stays real. The simulator and
the PMS share one clock when they run in one process.
"""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timezone


class Clock:
    """Plant time: `now()` in epoch seconds, `monotonic()` for intervals."""

    def __init__(self, speed: float = 1.0, start: float | None = None) -> None:
        """`start`: the plant epoch at which this clock begins (default: now)."""
        if speed <= 0:
            raise ValueError("clock speed must be positive")
        self.speed = speed
        self._wall0 = time.time() if start is None else start
        self._mono0 = time.monotonic()

    def monotonic(self) -> float:
        return (time.monotonic() - self._mono0) * self.speed

    def now(self) -> float:
        return self._wall0 + self.monotonic()

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
