"""The plant simulator: a plant model served as real Modbus TCP servers built from the maps.

Used by the tests, the demo and the benchmarks; runnable on its own as
`python -m pms_core.simulator`.
"""

from __future__ import annotations

import logging
from collections import defaultdict

from pms_core.clock import Clock
from pms_core.config import LoadedConfig
from pms_core.simulator.plant import Plant, PlantParams
from pms_core.simulator.server import EndpointServer, SimulatedDevice

log = logging.getLogger(__name__)

MAX_STEP = 1.0  # plant seconds per integration step


class Simulator:
    """All simulated devices of a config, on one plant and one clock."""

    def __init__(
        self, loaded: LoadedConfig, clock: Clock, params: PlantParams | None = None, host: str = "127.0.0.1"
    ) -> None:
        self.clock = clock
        self.plant = Plant(params, start_time=clock.now())
        self.devices: dict[str, SimulatedDevice] = {}
        by_endpoint: dict[int, list[SimulatedDevice]] = defaultdict(list)
        for dev in loaded.devices:
            sim = SimulatedDevice(dev.name, loaded.maps[dev.name], dev.slave_id, self.plant, self.advance)
            self.devices[dev.name] = sim
            by_endpoint[dev.port].append(sim)
        self.servers = {port: EndpointServer(host, port, devs) for port, devs in by_endpoint.items()}
        self._server_of = {d.name: self.servers[port] for port, devs in by_endpoint.items() for d in devs}

    def advance(self) -> None:
        """Integrate the plant up to the clock's present, in steps of at most MAX_STEP."""
        remaining = self.clock.now() - self.plant.time
        while remaining > 1e-9:
            dt = min(MAX_STEP, remaining)
            self.plant.step(dt)
            remaining -= dt

    def server(self, device_name: str) -> EndpointServer:
        return self._server_of[device_name]

    async def start(self) -> None:
        for server in self.servers.values():
            await server.start()
        log.info("simulator serving %s", ", ".join(f"{n} on {s.host}:{s.port}" for n, s in self._server_of.items()))

    async def stop(self) -> None:
        for server in self.servers.values():
            await server.stop()

    # --- fault injection on the plant ---------------------------------------------
    def set_soc(self, soc: float) -> None:
        self.advance()
        self.plant.bms.soc = soc

    def set_bits(self, device_name: str, register: str, mask: int) -> None:
        """Set an alarm / trip / error register to `mask` (0 clears it)."""
        self.advance()
        self.plant.set_register(self.devices[device_name].device_map.device_type, register, mask)


__all__ = ["PlantParams", "Simulator"]
