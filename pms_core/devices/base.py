"""A device: name + map + link + its latest snapshot with its age and link state."""

from __future__ import annotations

from typing import Any

from pms_core.bus import LinkState, Snapshot
from pms_core.clock import Clock
from pms_core.config import DeviceConfig
from pms_core.modbus import ModbusLink
from pms_core.registers import DeviceMap


class Device:
    """Reads itself by its map's read plan; subclasses add derived values."""

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
        """Read every block of the plan; raises LinkError if any block fails (no partial snapshot)."""
        values: dict[str, float | int | None] = {}
        raw: dict[str, int] = {}
        mono = self.clock.monotonic()
        stamp = self.clock.now()
        for block in self.map.read_plan:
            words = await self.link.read(block.table, block.start, block.count, self.config.slave_id)
            for name, (r, v) in block.decode(words).items():
                raw[name] = r
                values[name] = v
        return Snapshot(self.name, self.type, stamp, mono, values, raw, self.derive(values, raw, stamp))

    def derive(self, values: dict[str, float | int | None], raw: dict[str, int], at: float) -> dict[str, Any]:
        """Values computed from a reading; `at` is when the reading started (plant time)."""
        return {}

    async def write_register(self, address: int, value: int) -> None:
        await self.link.write(address, value, self.config.slave_id)


def difference(a: float | int | None, b: float | int | None, digits: int = 3) -> float | None:
    return None if a is None or b is None else round(a - b, digits)
