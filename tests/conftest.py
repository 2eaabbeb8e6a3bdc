"""Shared fixtures: configs on free loopback ports, the simulator and the PMS runtime over real TCP."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
import yaml

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import qasync  # noqa: E402

from pms_core.clock import Clock  # noqa: E402
from pms_core.config import LoadedConfig, load_config  # noqa: E402
from pms_core.energy import local_midnight  # noqa: E402
from pms_core.runtime import Runtime  # noqa: E402
from pms_core.simulator import PlantParams, Simulator  # noqa: E402
from pms_gui import i18n  # noqa: E402
from tests.broker import Mosquitto, free_port  # noqa: E402


def write_config(directory: Path, *, poll_interval: float = 0.2, devices: list[dict] | None = None, **sections) -> Path:
    """A config for BMS, PCS and DC-DC on free loopback ports (or the given devices)."""
    if devices is None:
        devices = [
            {"name": f"한자연_{t}", "type": t, "ip": "127.0.0.1", "port": free_port(), "poll_interval": poll_interval}
            for t in ("BMS", "PCS", "DCDC")
        ]
    # Never the machine's own broker on 1883: a free port where nothing listens, unless a test names one.
    sections.setdefault("mqtt", {"port": free_port()})
    path = directory / "config.yml"
    path.write_text(yaml.safe_dump({"devices": devices, **sections}, allow_unicode=True), encoding="utf-8")
    return path


@pytest.fixture(autouse=True)
def data_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Logs and state files of a test go to its own folder, never to the user's."""
    folder = tmp_path / "data"
    monkeypatch.setenv("PMS_DATA_DIR", str(folder))
    return folder


@pytest.fixture
def config_path(tmp_path: Path) -> Path:
    return write_config(tmp_path)


@pytest.fixture
def loaded(config_path: Path) -> LoadedConfig:
    return load_config(config_path)


async def wait_for(predicate: Callable[[], bool], timeout: float, what: str = "condition") -> float:
    """Wait until `predicate()` holds; returns the seconds it took, fails the test on timeout."""
    start = time.monotonic()
    while not predicate():
        if time.monotonic() - start > timeout:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.01)
    return time.monotonic() - start


def wait_until(predicate: Callable[[], bool], timeout: float, what: str = "condition") -> None:
    """wait_for for a test that runs no event loop of its own (the PMS in another thread or process)."""
    start = time.monotonic()
    while not predicate():
        if time.monotonic() - start > timeout:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.001)


class Plant:
    """The simulator and the PMS runtime on one clock, started and stopped together."""

    def __init__(
        self,
        loaded: LoadedConfig,
        clock: Clock,
        params: PlantParams | None = None,
        sim_clock: Clock | None = None,
        mqtt: bool = False,
        without: tuple[str, ...] = (),
    ) -> None:
        """`without`: optional blocks the simulated devices lack (`pms_core.simulator.OPTIONS`)."""
        self.clock = clock
        self.sim = Simulator(loaded, sim_clock or clock, params, without=without)
        self.runtime = Runtime(loaded, clock, mqtt=mqtt)

    async def __aenter__(self) -> Plant:
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


def today_at(hour: float = 0.0) -> float:
    """Epoch seconds of `hour` o'clock today, local time (where accelerated clocks start)."""
    return local_midnight(time.time()) + hour * 3600


def auto_plant(tmp_path, speed: float, poll: float, hour: float = 9, params: PlantParams | None = None,
               stale_real: float = 0.1, **auto) -> Plant:  # fmt: skip
    """`stale_real`: seconds of real time without data before the BMS is stale (at least 6 polls)."""
    stale = max(poll * 6, stale_real * speed)
    devices = [
        {"name": f"대실마을_{t}", "type": t, "ip": "127.0.0.1", "port": p, "poll_interval": poll, "stale_after": stale}
        for t, p in zip(("BMS", "PCS", "DCDC"), (free_port() for _ in range(3)), strict=False)
    ]
    loaded = load_config(write_config(tmp_path, devices=devices, auto_mode=auto), plant_speed=speed)
    return Plant(loaded, Clock(speed, start=today_at(hour)), params or PlantParams())


@pytest.fixture
async def plant(loaded: LoadedConfig):
    async with Plant(loaded, Clock()) as p:
        await p.all_online()
        yield p


@pytest.fixture
def broker(tmp_path: Path):
    """A real Mosquitto on a free loopback port, stopped after the test."""
    mosquitto = Mosquitto(tmp_path / "broker")
    mosquitto.start()
    yield mosquitto
    mosquitto.stop()


@pytest.fixture
def run_qt(qapp):
    """Run an async scenario on a qasync loop; fail if it leaves tasks running (like `no_leaked_tasks`)."""
    loop = qasync.QEventLoop(qapp)
    i18n.set_language("ko")
    quit_on_close = qapp.quitOnLastWindowClosed()
    qapp.setQuitOnLastWindowClosed(False)  # as in the product: the loop ends when the scenario does

    async def guarded(scenario: Callable[[], Awaitable[None]]) -> None:
        await scenario()
        await no_tasks_left()

    def run(scenario: Callable[[], Awaitable[None]]) -> None:
        loop.run_until_complete(guarded(scenario))

    yield run
    loop.close()
    qapp.setQuitOnLastWindowClosed(quit_on_close)
    i18n.set_language("ko")


@pytest.fixture(autouse=True)
async def no_leaked_tasks():
    """A test must not leave tasks running behind it (they would act on a plant nobody watches)."""
    yield
    await no_tasks_left()


async def no_tasks_left() -> None:
    current = asyncio.current_task()
    for _ in range(50):
        left = [t for t in asyncio.all_tasks() if t is not current and not t.done()]
        if not left:
            return
        await asyncio.sleep(0.01)
    pytest.fail(f"tasks left running: {[t.get_name() for t in left]}")
