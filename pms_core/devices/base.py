"""A device: name + map + link + its latest snapshot with its age and link state."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, ClassVar

from pms_core.bus import LinkState, Snapshot
from pms_core.clock import Clock
from pms_core.config import DeviceConfig
from pms_core.modbus import DeviceError, ModbusLink
from pms_core.registers import DeviceMap

log = logging.getLogger(__name__)

NOT_THERE = (0x01, 0x02)  # illegal function, illegal data address: the device lacks what was asked
UNSUPPORTED_RETRY = 3600.0  # plant seconds before a refused optional block is asked again (a board fitted later)


@dataclass(frozen=True)
class DerivedSeries:
    """A numeric derived value kept in the history as a series: its unit, and whether it is stored at every poll (as a
    map register with "history": "full" is) or as 1-minute aggregates only."""

    unit: str
    full_rate: bool = False


class Device:
    """Reads itself by its map's read plan; subclasses add derived values."""

    # The numeric values `derive` makes, by name; its other values (modes, flags) are not series.
    DERIVED_SERIES: ClassVar[dict[str, DerivedSeries]] = {}

    def __init__(self, config: DeviceConfig, device_map: DeviceMap, link: ModbusLink, clock: Clock) -> None:
        self.config = config
        self.name = config.name
        self.type = config.type
        self.map = device_map
        self.link = link
        self.clock = clock
        self.snapshot: Snapshot | None = None
        self.state: LinkState = "offline"
        self.state_since = clock.now()
        self.error: str | None = None
        self.unsupported: dict[tuple[str, int], float] = {}  # optional blocks (table, start) refused -> when (plant)

    @property
    def stale_limit(self) -> float:
        return self.config.stale_limit

    def age(self) -> float | None:
        """Plant seconds since the latest snapshot was taken, or None before the first one."""
        return None if self.snapshot is None else self.clock.monotonic() - self.snapshot.monotonic

    def fresh_snapshot(self) -> Snapshot | None:
        """The latest snapshot if it may be acted on: the device is online and the data is young."""
        age = self.age()
        if self.state != "online" or age is None or age > self.stale_limit:
            return None
        return self.snapshot

    async def read(self) -> Snapshot:
        """Read every block of the plan; raises LinkError if a required block fails (no partial snapshot).

        An optional block that the device answers with exception 01 / 02 (it lacks the board or the firmware for
        it) is left out: logged once, listed in the snapshot's `unsupported`, asked again every UNSUPPORTED_RETRY.
        """
        values: dict[str, float | int | None] = {}
        raw: dict[str, int] = {}
        mono = self.clock.monotonic()
        stamp = self.clock.now()
        for block in self.map.read_plan:
            key = (block.table, block.start)
            since = self.unsupported.get(key)
            if since is not None and mono - since < UNSUPPORTED_RETRY:
                continue
            try:
                words = await self.link.read(block.table, block.start, block.count, self.config.slave_id)
            except DeviceError as exc:
                if not block.optional or exc.code not in NOT_THERE:
                    raise
                if since is None:
                    log.warning("%s does not have the optional registers %s (%s): left out, asked again every hour",
                                self.name, block.label, exc)  # fmt: skip
                self.unsupported[key] = mono
                continue
            if since is not None:
                log.info("%s answers the optional registers %s now", self.name, block.label)
                del self.unsupported[key]
            for name, (r, v) in block.decode(words).items():
                raw[name] = r
                values[name] = v
        plan = self.map.read_plan
        missing = frozenset(r.name for b in plan if (b.table, b.start) in self.unsupported for r in b.registers)
        return Snapshot(self.name, self.type, stamp, mono, values, raw, self.derive(values, raw, stamp), missing)

    def derive(self, values: dict[str, float | int | None], raw: dict[str, int], at: float) -> dict[str, Any]:
        """Values computed from a reading; `at` is when the reading started (plant time)."""
        return {}

    async def write_register(self, address: int, value: int) -> None:
        await self.link.write(address, value, self.config.slave_id)


def difference(a: float | int | None, b: float | int | None, digits: int = 3) -> float | None:
    return None if a is None or b is None else round(a - b, digits)
