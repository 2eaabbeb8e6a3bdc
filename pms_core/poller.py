"""Fixed-rate polling per device, with link-state and staleness tracking.

Polls are scheduled on a fixed grid (start + k * interval) rather than
"sleep after work", so they do not drift; a poll that overruns its slot skips
the missed slots instead of bursting to catch up.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable, Iterable

from pms_core.bus import Bus, LinkState, LinkStateChanged
from pms_core.clock import Clock
from pms_core.devices import Device
from pms_core.modbus import LinkError
from pms_core.supervision import Watch

log = logging.getLogger(__name__)

# Called with (device, lateness in plant seconds) at the start of every poll.
TickObserver = Callable[[Device, float], None]


class Poller:
    def __init__(self, devices: Iterable[Device], bus: Bus, clock: Clock, on_tick: TickObserver | None = None) -> None:
        self.devices = list(devices)
        self.bus = bus
        self.clock = clock
        self.on_tick = on_tick
        self._tasks: list[asyncio.Task[None]] = []
        self._running = False
        self._reported: set[str] = set()  # devices whose first link state was published
        self._watches = {d.name: Watch(f"polling of {d.name}", bus, clock) for d in self.devices}

    def start(self) -> None:
        self._running = True
        for device in self.devices:
            self._tasks.append(asyncio.create_task(self._run(device), name=f"poll {device.name}"))

    async def stop(self) -> None:
        # The flag ends a loop even if a library swallowed its cancellation (asyncio.wait_for
        # in Python 3.11 can lose a cancel that races with the awaited result).
        self._running = False
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()

    async def _run(self, device: Device) -> None:
        interval = device.config.poll_interval
        slot = self.clock.monotonic()
        while self._running:
            await self.clock.sleep_until(slot)
            if self.on_tick:
                self.on_tick(device, self.clock.monotonic() - slot)
            try:
                await self.poll_once(device)
            except Exception as exc:  # a bug must not end this device's polling (a PCS trips 30 s after the last)
                self._watches[device.name].failed(exc)
            else:
                self._watches[device.name].ok()
            slot += interval
            behind = self.clock.monotonic() - slot
            if behind > 0:
                slot += math.ceil(behind / interval) * interval

    async def poll_once(self, device: Device) -> None:
        try:
            snapshot = await device.read()
        except LinkError as exc:
            device.error = str(exc)
            if exc.offline:
                self._set_state(device, "offline")
            else:
                self._check_stale(device)
            return
        device.snapshot = snapshot
        device.error = None
        self._set_state(device, "online")
        self.bus.publish(snapshot)

    def _check_stale(self, device: Device) -> None:
        age = device.age()
        if device.state == "online" and (age is None or age > device.stale_limit):
            self._set_state(device, "stale")
        elif device.state == "offline" and device.link.connected:
            # connected again but not answering yet: that is stale, not offline
            self._set_state(device, "stale")

    def _set_state(self, device: Device, state: LinkState) -> None:
        # Devices start out offline; the first verdict is still announced, so an
        # unreachable device is reported at start and not only after it was once seen.
        if device.state == state and device.name in self._reported:
            return
        self._reported.add(device.name)
        device.state = state
        device.state_since = self.clock.now()
        level = logging.INFO if state == "online" else logging.WARNING
        log.log(
            level,
            "%s (%s) is %s%s",
            device.name,
            device.link.endpoint,
            state,
            f": {device.error}" if device.error else "",
        )
        self.bus.publish(LinkStateChanged(device.name, device.type, state, device.state_since, device.error))
