"""The harness most tests run: a simulated site, the simulator and the PMS runtime over real TCP on 127.0.0.1."""

from __future__ import annotations

from pms_core.clock import Clock
from pms_core.config import LoadedConfig
from pms_core.runtime import Runtime
from pms_sim import PlantParams, Simulator
from tests.helpers.waiting import wait_for


class SimulatedSite:
    """The simulator and the PMS runtime on one clock, started and stopped together.

    `site.sim` is the simulator (its devices and servers), `site.sim.plant` the physical model behind them,
    `site.runtime` the PMS under test.
    """

    def __init__(
        self,
        loaded: LoadedConfig,
        clock: Clock,
        params: PlantParams | None = None,
        sim_clock: Clock | None = None,
        mqtt: bool = False,
        without: tuple[str, ...] = (),
    ) -> None:
        """`without`: optional blocks the simulated devices lack (`pms_sim.OPTIONS`)."""
        self.clock = clock
        self.sim = Simulator(loaded, sim_clock or clock, params, without=without)
        self.runtime = Runtime(loaded, clock, with_mqtt=mqtt)

    async def __aenter__(self) -> SimulatedSite:
        await self.sim.start()
        await self.runtime.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.runtime.stop()
        await self.sim.stop()

    def device(self, type_: str):
        return self.runtime.device_of_type(type_)

    def name(self, type_: str) -> str:
        return self.device(type_).name

    def writes(self) -> list[tuple[str, int, int]]:
        """What the simulated devices accepted, in order: (device type, address, value)."""
        return [(t, a, v) for _, t, a, v in self.sim.plant.writes]

    async def all_online(self, timeout: float = 5.0) -> None:
        await wait_for(lambda: all(d.state == "online" for d in self.runtime.devices.values()), timeout, "all online")
