"""The plant simulator: a plant model served as real Modbus TCP servers built from the maps.

A sibling of the product, not part of its core: used by the tests, the console's `--demo` and `--selftest`, the
headless runner's `--simulate` and the benchmarks; runnable on its own as `python -m pms_sim`. Its servers are
the one place outside `pms_core/modbus.py` that imports pymodbus.

Optional blocks: `OPTIONS` names the parts a real unit may lack; a simulator
built `without=("pcs-option",)` serves a PCS without the UPS / emergency-
generation board, answering any request touching input 50-60 with exception
0x02 like such a unit (tests can also leave out single addresses at run time:
`SimulatedDevice.missing`).

Communication watchdog: like the real PCS (TRIP2 bit 0, "30초 간 통신 두절시"),
a simulated PCS that has received no Modbus request for
`PlantParams.pcs_comm_trip_real_s` REAL seconds (default 30; the plant clock's
speed does not matter) sets trip_2 `comm_error` and the total fault and stops;
a reset (holding 19 = 0x55) clears it once requests come again. The watchdog
arms at the first request.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import defaultdict
from collections.abc import Callable, Iterable

from pms_core.clock import Clock
from pms_core.config import LoadedConfig
from pms_core.registers import DeviceMap
from pms_sim.plant import Plant, PlantParams
from pms_sim.server import EndpointServer, SimulatedDevice

log = logging.getLogger(__name__)

MAX_STEP = 1.0  # plant seconds per integration step

# Parts a real unit may lack, by name: (device type, table, addresses) answered with exception 0x02 when left out.
OPTIONS: dict[str, tuple[str, str, range]] = {
    # The PCS's UPS / emergency-generation option board (datasheet 2.2 "무정전 & 비상발전 PCS Option"): load
    # voltages, currents and frequency, ALARM2, TRIP3, STATE2 and the load power; blank in the 한자연 sample.
    "pcs-option": ("PCS", "input", range(50, 61)),
}


class Simulator:
    """All simulated devices of a config, on one plant and one clock.

    `without`: names from `OPTIONS` that the simulated units lack.
    `realtime`: the real-time source of the PCS's communication watchdog (default time.monotonic).
    """

    def __init__(
        self,
        loaded: LoadedConfig,
        clock: Clock,
        params: PlantParams | None = None,
        host: str = "127.0.0.1",
        *,
        without: Iterable[str] = (),
        realtime: Callable[[], float] = time.monotonic,
    ) -> None:
        without = tuple(without)
        unknown = [name for name in without if name not in OPTIONS]
        if unknown:
            raise ValueError(f"unknown simulator option(s) {unknown}; known: {sorted(OPTIONS)}")
        self.clock = clock
        # By device type as a plain str, the key the plant reads its maps by (a config's types are a Literal).
        self.maps: dict[str, DeviceMap] = {dev.type: loaded.maps[dev.name] for dev in loaded.devices}
        self.plant = Plant(params, start_time=clock.now(), maps=self.maps)
        self._advanced = clock.monotonic()  # the plant is integrated up to here
        self.without = without
        self.devices: dict[str, SimulatedDevice] = {}
        by_endpoint: dict[int, list[SimulatedDevice]] = defaultdict(list)
        for dev in loaded.devices:
            sim = SimulatedDevice(dev.name, loaded.maps[dev.name], dev.slave_id, self.plant, self.advance)
            sim.realtime = realtime
            if dev.type == "PCS":
                sim.comm_trip_after = self.plant.p.pcs_comm_trip_real_s
            for option in without:
                device_type, table, addresses = OPTIONS[option]
                if dev.type == device_type:
                    sim.leave_out(table, addresses)
            self.devices[dev.name] = sim
            by_endpoint[dev.port].append(sim)
        self.servers = {port: EndpointServer(host, port, devs) for port, devs in by_endpoint.items()}
        self._server_of = {d.name: self.servers[port] for port, devs in by_endpoint.items() for d in devs}
        self._watchdog: asyncio.Task[None] | None = None

    def advance(self) -> None:
        """Integrate the plant up to the clock's present, in steps of at most MAX_STEP. By monotonic time: a
        correction of the PC's clock neither jumps the plant ahead nor freezes it."""
        now = self.clock.monotonic()
        remaining, self._advanced = now - self._advanced, now
        while remaining > 1e-9:
            dt = min(MAX_STEP, remaining)
            self.plant.step(dt)
            remaining -= dt

    def server(self, device_name: str) -> EndpointServer:
        return self._server_of[device_name]

    async def start(self) -> None:
        for server in self.servers.values():
            await server.start()
        watched = [d for d in self.devices.values() if d.comm_trip_after is not None]
        if watched and self._watchdog is None:
            self._watchdog = asyncio.create_task(self._watch(watched), name="simulator watchdog")
        log.info("simulator serving %s", ", ".join(f"{n} on {s.host}:{s.port}" for n, s in self._server_of.items()))

    async def stop(self) -> None:
        task, self._watchdog = self._watchdog, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for server in self.servers.values():
            await server.stop()

    async def _watch(self, devices: list[SimulatedDevice]) -> None:
        """Trip the watched units as their silence reaches the limit, even while nobody asks them anything."""
        while True:
            for device in devices:
                device.check_watchdog()
            limits = [d.comm_trip_after for d in devices if d.comm_trip_after is not None]
            await asyncio.sleep(max(0.01, min([1.0, *(limit / 10 for limit in limits)])))

    # --- fault injection on the plant ---------------------------------------------
    def set_soc(self, soc: float) -> None:
        self.advance()
        self.plant.bms.soc = soc

    def set_bits(self, device_name: str, register: str, mask: int) -> None:
        """Set an alarm / trip / error register to `mask` (0 clears it)."""
        self.advance()
        self.plant.set_register(self.devices[device_name].device_map.device_type, register, mask)


__all__ = ["OPTIONS", "PlantParams", "Simulator"]
