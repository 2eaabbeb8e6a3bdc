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
        """ISO 8601 with the local UTC offset, as the MQTT contract writes times."""
        t = self.now() if epoch is None else epoch
        return datetime.fromtimestamp(t, timezone.utc).astimezone().isoformat(timespec="milliseconds")


REAL_CLOCK = Clock()
