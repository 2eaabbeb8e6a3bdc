"""Builds and wires the PMS from a config: links, devices, poller, bus, modes, alarms, MQTT; `start()` / `stop()`."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from pathlib import Path

from pms_core.alarms import AlarmMonitor
from pms_core.automation.auto_mode import AutoMode
from pms_core.automation.operation_manager import OperationManager
from pms_core.automation.settings import SettingsStore
from pms_core.bus import AlarmChanged, Bus
from pms_core.clock import REAL_CLOCK, Clock
from pms_core.commands import CommandService
from pms_core.config import LoadedConfig
from pms_core.devices import Device, make_device
from pms_core.devices.pcs import PcsDevice
from pms_core.energy import COUNTERS, local_midnight, total_key
from pms_core.history import History, HistoryError, HistoryReader, make_history
from pms_core.interlocks import Interlocks
from pms_core.modbus import ModbusLink
from pms_core.mqtt.gateway import MqttGateway
from pms_core.paths import data_dir
from pms_core.poller import Poller, TickObserver

log = logging.getLogger(__name__)


class Runtime:
    def __init__(
        self,
        loaded: LoadedConfig,
        clock: Clock = REAL_CLOCK,
        on_tick: TickObserver | None = None,
        state_dir: Path | None = None,
        with_mqtt: bool = True,
        with_history: bool = True,
    ) -> None:
        """`with_mqtt=False` leaves the broker out (tests of the core alone); `with_history=False` the history file."""
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
        cfg = loaded.config
        self.commands = CommandService(self.devices, self.bus, clock)
        self.settings = SettingsStore(cfg.auto_mode, state_file(cfg.history.path, state_dir))
        # Before the automatic mode: each snapshot is judged by the interlocks first, then seen by the machine.
        self.interlocks = Interlocks(
            self.devices, self.commands, self.bus, clock, lambda: self.settings.current.command_interval,
            cfg.auto_mode.soc_max_rate,
        )  # fmt: skip
        self.auto = AutoMode(
            self.devices, self.commands, self.bus, clock, self.settings, cfg.recovery, cfg.auto_mode.fault_recovery,
            self.interlocks,
        )  # fmt: skip
        self.operation = OperationManager(cfg.auto_mode, self.commands, self.auto, self.settings, self.bus, clock)
        self.interlocks.engaged = self.operation.auto_engaged
        self.alarms = AlarmMonitor(loaded.maps, self.bus, clock)
        self.history: History | None = None
        if with_history:
            self.history = make_history(cfg.history, self.bus, clock, loaded.maps, self.alarms)
        self.mqtt: MqttGateway | None = None
        if with_mqtt:
            self.mqtt = MqttGateway(
                cfg.mqtt, loaded.path, self.bus, self.devices, self.operation, self.commands, self.alarms,
                self.pcs_rating_kw, clock,
            )  # fmt: skip
        self._resume: asyncio.Task[None] | None = None

    def device_of_type(self, device_type: str) -> Device | None:
        return next((d for d in self.devices.values() if d.type == device_type), None)

    def pcs_rating_kw(self) -> float | None:
        """The PCS rating read from the device (holding 0), or None without fresh PCS data."""
        pcs = self.device_of_type("PCS")
        return pcs.rating_kw() if isinstance(pcs, PcsDevice) else None

    async def start(self) -> None:
        log.info(
            "polling %d device(s): %s",
            len(self.devices),
            ", ".join(
                f"{d.name} ({d.type}) at {d.link.endpoint} every {d.config.poll_interval} s" for d in self.devices.values()
            ),
        )
        if self.history:
            await self.history.start(self.operation.status())  # before polling: restores the active alarms
            if self.history.ok:
                await self._seed_energy_counters(self.history)
        if self.settings.problem:
            self.bus.publish(
                AlarmChanged("PMS", "state_file_invalid", "state_file_invalid", "warning", True, self.settings.problem,
                             self.clock.now())
            )  # fmt: skip
        if self.mqtt:
            self.mqtt.start()
        self.poller.start()
        self._resume = asyncio.create_task(self.operation.resume(), name="resume operation mode")

    async def _seed_energy_counters(self, history: History) -> None:
        """After a restart, today's PCS energy counts from the day's first values in the history, not from now."""
        now = self.clock.now()
        midnight = local_midnight(now)
        reader, keys = HistoryReader(history.path), [total_key(c) for c in COUNTERS]
        loop = asyncio.get_running_loop()
        for dev in self.devices.values():
            if not isinstance(dev, PcsDevice):
                continue
            try:
                first, since = await loop.run_in_executor(None, reader.first_values, dev.name, keys, midnight, now)
            except (sqlite3.Error, OSError, HistoryError, ValueError) as exc:
                log.warning("%s: today's energy counts from now: the history cannot be read (%s)", dev.name, exc)
                continue
            if first:
                dev.energy.seed({c: first[total_key(c)] for c in COUNTERS if total_key(c) in first}, since)

    async def stop(self) -> None:
        """Stop polling and the automatic mode; writes nothing to the devices."""
        if self._resume:
            self._resume.cancel()
            await asyncio.gather(self._resume, return_exceptions=True)
        await self.auto.close()
        await self.interlocks.close()
        await self.commands.stop()
        await self.poller.stop()
        if self.history:
            await self.history.stop()
        if self.mqtt:
            await self.mqtt.stop()
        for link in self.links.values():
            await link.close()
        log.info("stopped")


def state_file(history_path: str | None, state_dir: Path | None) -> Path:
    """The small state file of run-time settings, beside the history."""
    folder = state_dir or (Path(history_path).parent if history_path else data_dir())
    return folder / "pms_state.json"
