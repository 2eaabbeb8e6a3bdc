"""Builds and wires the PMS from a config: links, devices, poller, bus; `start()` / `stop()`."""

from __future__ import annotations

import logging

from pms_core.bus import Bus
from pms_core.clock import REAL_CLOCK, Clock
from pms_core.config import LoadedConfig
from pms_core.devices import Device, make_device
from pms_core.modbus import ModbusLink
from pms_core.poller import Poller, TickObserver

log = logging.getLogger(__name__)


class Runtime:
    def __init__(self, loaded: LoadedConfig, clock: Clock = REAL_CLOCK, on_tick: TickObserver | None = None) -> None:
        self.loaded = loaded
        self.clock = clock
        self.bus = Bus()
        self.links: dict[tuple[str, int], ModbusLink] = {}
        self.devices: dict[str, Device] = {}
        for dev in loaded.devices:
            key = (dev.ip, dev.port)
            if key not in self.links:
                timeout = max(d.timeout for d in loaded.devices if (d.ip, d.port) == key)
                self.links[key] = ModbusLink(dev.ip, dev.port, timeout)
            self.devices[dev.name] = make_device(dev, loaded.maps[dev.name], self.links[key], clock)
        self.poller = Poller(self.devices.values(), self.bus, clock, on_tick)

    def device_of_type(self, device_type: str) -> Device | None:
        return next((d for d in self.devices.values() if d.type == device_type), None)

    async def start(self) -> None:
        log.info(
            "polling %d device(s): %s",
            len(self.devices),
            ", ".join(
                f"{d.name} ({d.type}) at {d.link.endpoint} every {d.config.poll_interval} s"
                for d in self.devices.values()
            ),
        )
        self.poller.start()

    async def stop(self) -> None:
        await self.poller.stop()
        for link in self.links.values():
            await link.close()
        log.info("stopped")
