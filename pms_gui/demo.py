"""What `--demo` adds to the console: a plant in daylight, and an MQTT broker of its own when Mosquitto is installed.

The plant's time of day: the simulated plant runs on its own clock, at real speed but starting at DEMO_HOUR
(11:00) today, so the sun shines whenever the demo is started; its DC-DC starts in solar mode, as a site's
does during the day. Only the simulator's clock is moved: the PMS (console, history, MQTT timestamps, status
bar clock) stays on the real clock. An accelerated clock shared by both would stamp the history of the data
folder (the site's, for `--demo`) with invented times, and the PCS watchdog counts real seconds anyway.

The broker: a `mosquitto` subprocess on a free loopback port, anonymous, no persistence, its config and log in a
temporary folder, stopped when the console stops. Without Mosquitto the demo runs with MQTT deliberately off
(the console says so instead of showing a broker that cannot be reached). No Qt in here.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pms_core.clock import Clock
from pms_core.config import LoadedConfig
from pms_core.energy import local_midnight
from pms_sim import Simulator

log = logging.getLogger("pms.demo")

DEMO_HOUR = 11.0  # the plant's local time of day when the demo starts: PV at ~97 % of its peak
BROKER_HOST = "127.0.0.1"
BROKER_START_TIMEOUT = 5.0  # seconds for mosquitto to listen
BROKER_STOP_TIMEOUT = 3.0  # seconds for mosquitto to exit on SIGTERM before it is killed
BROKER_ATTEMPTS = 3  # a free port may be taken between choosing it and mosquitto binding it
# Where the installers put the broker off PATH: Debian's and Ubuntu's /usr/sbin, the Windows installer's folder.
MOSQUITTO_ELSEWHERE: tuple[str, ...] = (
    (r"C:\Program Files\mosquitto\mosquitto.exe",) if sys.platform == "win32" else ("/usr/sbin/mosquitto",)
)


def mosquitto_binary() -> str | None:
    """`mosquitto` on PATH, else where the distributions install it, else None."""
    return shutil.which("mosquitto") or next((p for p in MOSQUITTO_ELSEWHERE if Path(p).is_file()), None)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((BROKER_HOST, 0))
        return int(sock.getsockname()[1])


def plant_clock(hour: float = DEMO_HOUR, now: float | None = None) -> Clock:
    """Real speed, starting at `hour` o'clock (local) today: the simulator's clock only."""
    return Clock(1.0, start=local_midnight(time.time() if now is None else now) + hour * 3600)


def with_broker(loaded: LoadedConfig, port: int) -> LoadedConfig:
    """The config with MQTT on the demo's broker: loopback, anonymous, no TLS (base topic, location, client id kept)."""
    mqtt = loaded.config.mqtt.model_copy(
        update={"broker": BROKER_HOST, "port": port, "username": "", "password": "", "tls": None}
    )
    return LoadedConfig(loaded.path, loaded.config.model_copy(update={"mqtt": mqtt}), loaded.maps)


def subscribe_command(port: int, base_topic: str) -> str:
    return f"mosquitto_sub -h {BROKER_HOST} -p {port} -t '{base_topic}/#' -v"


class DemoBroker:
    """One mosquitto process on a free loopback port, in a temporary folder of its own."""

    def __init__(self, binary: str) -> None:
        self.binary = binary
        self.port: int | None = None
        self.folder = Path(tempfile.mkdtemp(prefix="pms-demo-broker-"))
        self.proc: subprocess.Popen[bytes] | None = None

    async def start(self) -> bool:
        """True once mosquitto listens; False (logged, nothing left running) if it would not."""
        for _ in range(BROKER_ATTEMPTS):
            port = free_port()
            if await self._try(port):
                self.port = port
                return True
        self.remove_folder()
        return False

    def _spawn(self, port: int) -> subprocess.Popen[bytes]:
        """Starting a process returns at once (it does not wait for the broker): fine on the event loop."""
        conf = self.folder / "mosquitto.conf"
        # `listener` and `allow_anonymous` as Mosquitto 1.6 and 2.x both read them; loopback only.
        conf.write_text(f"listener {port} {BROKER_HOST}\nallow_anonymous true\npersistence false\n", encoding="utf-8")
        with (self.folder / "mosquitto.log").open("ab") as out:  # the child keeps its own handle
            return subprocess.Popen([self.binary, "-c", str(conf)], stdout=out, stderr=subprocess.STDOUT)

    async def _try(self, port: int) -> bool:
        log_path = self.folder / "mosquitto.log"
        try:
            self.proc = self._spawn(port)
        except OSError as exc:
            log.warning("demo: cannot start %s (%s): MQTT is off", self.binary, exc)
            return False
        deadline = time.monotonic() + BROKER_START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                tail = log_path.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-3:]
                log.warning("demo: mosquitto exited with %s on port %d: %s", self.proc.returncode, port, " | ".join(tail))
                self.proc = None
                return False
            try:
                _reader, writer = await asyncio.open_connection(BROKER_HOST, port)
            except OSError:
                await asyncio.sleep(0.05)  # not listening yet: asked again until the deadline
                continue
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
            return True
        log.warning("demo: mosquitto did not listen on port %d within %.0f s", port, BROKER_START_TIMEOUT)
        await self.stop(keep_folder=True)
        return False

    async def stop(self, keep_folder: bool = False) -> None:
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:  # waited for off the loop: the console stays responsive
                await asyncio.to_thread(proc.wait, BROKER_STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                proc.kill()
                await asyncio.to_thread(proc.wait)
        if not keep_folder:
            self.remove_folder()

    def remove_folder(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


class Demo:
    """The demo's parts, started before the runtime and stopped after it (the broker hears the PMS's `offline`)."""

    def __init__(self, loaded: LoadedConfig, hour: float = DEMO_HOUR) -> None:
        self.loaded = loaded
        self.hour = hour
        self.broker: DemoBroker | None = None
        self.simulator: Simulator | None = None
        self.command: str | None = None  # the mosquitto_sub line printed for the operator

    @property
    def mqtt(self) -> bool:
        """Whether the runtime gets MQTT: only with the demo's own broker running."""
        return self.broker is not None

    async def start(self) -> tuple[LoadedConfig, Simulator]:
        """Start the broker (if Mosquitto is installed) and the simulator; returns the config the runtime uses."""
        binary = mosquitto_binary()
        if binary is None:
            log.info("demo: mosquitto is not installed: MQTT is off for the demo")
        else:
            broker = DemoBroker(binary)
            if await broker.start():
                assert broker.port is not None
                self.broker = broker
                self.loaded = with_broker(self.loaded, broker.port)
                self.command = subscribe_command(broker.port, self.loaded.config.mqtt.base_topic)
                log.info("demo: MQTT broker (mosquitto) on %s:%d; watch it with: %s", BROKER_HOST, broker.port,
                         self.command)  # fmt: skip
                print(f"demo MQTT broker on {BROKER_HOST}:{broker.port}; watch it with:\n  {self.command}", flush=True)
        simulator = Simulator(self.loaded, plant_clock(self.hour))
        # Daylight at a site: the DC-DC generates (solar mode) while the PCS waits for the operator. The plant's
        # initial state, not a command: nothing is written to a device behind the operator's back.
        simulator.plant.dcdc.mode = "solar"
        self.simulator = simulator
        await simulator.start()
        return self.loaded, simulator

    async def stop(self) -> None:
        """The broker's turn (the simulator is stopped with the runtime's devices by the caller)."""
        broker, self.broker = self.broker, None
        if broker is not None:
            await broker.stop()
