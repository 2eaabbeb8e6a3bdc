"""Modbus TCP servers for the simulated devices, built from the same maps as the PMS.

Like the real devices they answer 0x03, 0x04 and 0x06 only, refuse reads that
touch an unmapped or write-only address with exception 0x02, and refuse
writes to read-only registers. Each endpoint has a fault-injection API.

A device can lack addresses its map declares (a PCS without the UPS /
emergency-generation option board has nothing at input 50-60):
`SimulatedDevice.missing` holds them as (table, address) pairs, and any read
or write touching one is answered with exception 0x02, as the real devices do.

Every request reaching a device feeds its communication watchdog
(`comm_trip_after`, real seconds): the PCS trips by itself when no request has
reached it for that long (see `pms_sim`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import partial

from pymodbus.constants import ExcCodes
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from pms_core.registers import DeviceMap, Register
from pms_sim.plant import Plant

log = logging.getLogger(__name__)

READ_FC = {3: "holding", 4: "input"}
WRITE_SINGLE = 6


@dataclass
class SimulatedDevice:
    """One unit (slave id) on an endpoint, with the faults injected into it.

    `missing`: (table, address) pairs this unit does not implement although its
    map declares them, e.g. `{("input", a) for a in range(50, 61)}` for a PCS
    without the option board. Any read or write touching one is answered with
    exception 0x02 (illegal data address); everything else is served as before.
    Tests may change the set at any time, it applies from the next request;
    `leave_out()` / `put_back()` do it by table and addresses.

    `comm_trip_after`: real seconds without any request after which the unit
    trips itself (`Plant.comm_trip()`); None (the default, and every unit but
    the PCS) never trips. The watchdog arms at the first request: a unit nobody
    has talked to yet has nothing to time out. `realtime` is its clock.
    """

    name: str
    device_map: DeviceMap
    unit: int
    plant: Plant
    advance: Callable[[], None]  # brings the plant up to the clock's time
    frozen: bool = False
    reject_writes: str | None = None  # reason, or None to accept writes
    refused: list[tuple[int, int]] = field(default_factory=list)  # (address, value) of every refused write
    readable: dict[str, set[int]] = field(default_factory=dict)
    missing: set[tuple[str, int]] = field(default_factory=set)  # (table, address) the unit answers with 0x02
    comm_trip_after: float | None = None  # REAL seconds without a request before the unit trips itself
    realtime: Callable[[], float] = time.monotonic
    last_request: float | None = None  # realtime() of the last request that reached the unit
    comm_tripped: bool = False  # the watchdog fired and no request has come since

    def __post_init__(self) -> None:
        self.readable = {"holding": set(), "input": set()}
        for reg in self.device_map.registers.values():
            if reg.readable:
                self.readable[reg.table].update(range(reg.address, reg.end))

    def leave_out(self, table: str, addresses: Iterable[int]) -> None:
        """Answer any request touching these addresses of `table` with exception 0x02 from now on."""
        self.missing.update((table, a) for a in addresses)

    def put_back(self, table: str, addresses: Iterable[int]) -> None:
        self.missing.difference_update((table, a) for a in addresses)

    def lacks(self, table: str, address: int, count: int = 1) -> bool:
        return any((table, a) in self.missing for a in range(address, address + count))

    def check_watchdog(self) -> bool:
        """Trip the unit if no request has reached it for `comm_trip_after` real seconds; True when it fired now."""
        if self.comm_trip_after is None or self.last_request is None or self.comm_tripped:
            return False
        silent = self.realtime() - self.last_request
        if silent < self.comm_trip_after:
            return False
        self.advance()  # the plant runs up to now as it was, then the unit trips
        self.plant.comm_trip()
        self.comm_tripped = True
        log.warning("simulated %s trips itself: no Modbus request for %.1f s", self.name, silent)
        return True

    def note_request(self) -> None:
        """A request reached the unit: the watchdog sees the silence that ended first, then restarts."""
        self.check_watchdog()
        self.last_request = self.realtime()
        self.comm_tripped = False

    def simdevice(self, action: Callable) -> SimDevice:
        tables: dict[str, list[SimData]] = {"holding": [], "input": []}
        for reg in self.device_map.registers.values():
            tables[reg.table].append(
                SimData(reg.address, count=reg.words, values=0, datatype=DataType.REGISTERS, readonly=not reg.writable)
            )
        for regs in tables.values():
            if not regs:  # pymodbus needs a block per table; an invalid word answers 0x02 as an empty table would
                regs.append(SimData(0, datatype=DataType.INVALID))
        no_bits = [SimData(0, values=False, datatype=DataType.BITS)]  # refused below: the devices have no coils
        return SimDevice(self.unit, simdata=(no_bits, list(no_bits), tables["holding"], tables["input"]), action=action)

    def refresh(self, table: str, start_address: int, registers: list[int]) -> None:
        values = self.plant.values(self.device_map.device_type)
        for reg in self.device_map.registers.values():
            if reg.table != table or not reg.readable:
                continue
            value = values.get(reg.name, reg.default or 0)
            offset = reg.address - start_address
            registers[offset : offset + reg.words] = encode_clamped(reg, value)


def encode_clamped(reg: Register, value: float) -> list[int]:
    """Encode, saturating at the register's range as a device's firmware would."""
    if reg.unavailable is not None and value == reg.unavailable:
        return reg.words_from_raw(reg.unavailable)
    low, high = reg.raw_range()
    return reg.words_from_raw(min(high, max(low, reg.to_raw(value))))


class EndpointServer:
    """A Modbus TCP server at (host, port) for one or more simulated devices."""

    def __init__(self, host: str, port: int, devices: list[SimulatedDevice]) -> None:
        self.host = host
        self.port = port
        self.devices = {d.unit: d for d in devices}
        self.delay = 0.0  # real seconds added to every reply
        self._answering = asyncio.Event()
        self._answering.set()
        self._server: ModbusTcpServer | None = None
        self.requests = 0

    @property
    def running(self) -> bool:
        return self._server is not None

    async def start(self) -> None:
        if self._server is not None:
            return
        simdevices = [d.simdevice(partial(self._action, d)) for d in self.devices.values()]
        server = ModbusTcpServer(simdevices if len(simdevices) > 1 else simdevices[0], address=(self.host, self.port))
        await server.serve_forever(background=True)
        self._server = server

    async def stop(self) -> None:
        """Close the listener and every connection: clients are refused until `start()`."""
        server, self._server = self._server, None
        self._answering.set()  # a request held by stop_answering() ends with its connection, not later
        if server is not None:
            await server.shutdown()

    def drop_connections(self) -> None:
        """Cut open connections but keep listening (clients may reconnect at once)."""
        if self._server is not None:
            for conn in list(self._server.active_connections.values()):
                conn.close()

    def stop_answering(self) -> None:
        """Keep connections open but answer nothing (a hung device)."""
        self._answering.clear()

    def resume_answering(self) -> None:
        self._answering.set()

    async def _action(
        self,
        device: SimulatedDevice,
        function_code: int,
        start_address: int,
        address: int,
        count: int,
        registers: list[int],
        set_values: list[int] | list[bool] | None,
    ) -> ExcCodes | None:
        self.requests += 1
        device.note_request()
        await self._answering.wait()
        if self.delay:
            await asyncio.sleep(self.delay)
        device.advance()
        if function_code in READ_FC:
            table = READ_FC[function_code]
            if device.lacks(table, address, count):
                return ExcCodes.ILLEGAL_ADDRESS
            if not all(a in device.readable[table] for a in range(address, address + count)):
                return ExcCodes.ILLEGAL_ADDRESS
            device.plant.note_read(device.device_map.device_type)
            if not device.frozen:
                device.refresh(table, start_address, registers)
            return None
        if function_code == WRITE_SINGLE:
            if device.lacks("holding", address):
                return ExcCodes.ILLEGAL_ADDRESS
            if not set_values:
                return None  # pymodbus reads the register back to echo it in the reply
            if device.reject_writes:
                device.refused.append((address, int(set_values[0])))
                log.info("simulated %s refuses write %d=%d: %s", device.name, address, set_values[0], device.reject_writes)
                return ExcCodes.DEVICE_FAILURE
            reason = device.plant.write(device.device_map.device_type, address, int(set_values[0]))
            if reason:
                device.refused.append((address, int(set_values[0])))
                log.info("simulated %s refuses write %d=%d: %s", device.name, address, set_values[0], reason)
                return ExcCodes.ILLEGAL_VALUE
            return None
        return ExcCodes.ILLEGAL_FUNCTION
