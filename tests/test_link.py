"""The Modbus link against the simulator: serialisation, priorities, exceptions, no write retries."""

from __future__ import annotations

import asyncio
import random

import pytest
from pymodbus.client import AsyncModbusTcpClient

from pms_core.clock import Clock
from pms_core.modbus import DeviceError, LinkError, ModbusLink
from pms_sim import Simulator
from tests.helpers.waiting import wait_for

pytestmark = pytest.mark.tcp


@pytest.fixture
async def sim(loaded):
    simulator = Simulator(loaded, Clock(speed=1e-9))  # plant time stands still: values are constants
    await simulator.start()
    yield simulator
    await simulator.stop()


def endpoint(sim: Simulator, type_: str):
    dev = next(d for d in sim.devices.values() if d.device_map.device_type == type_)
    return dev, sim.server(dev.name)


async def test_a_thousand_concurrent_requests_never_cross(sim):
    dev, server = endpoint(sim, "PCS")
    link = ModbusLink(server.host, server.port, timeout=2)
    regs = dev.device_map.registers
    mismatches: list[str] = []

    async def reader(table: str, start: int, count: int, n: int) -> None:
        expected = await link.read(table, start, count, 1)
        for _ in range(n):
            got = await link.read(table, start, count, 1)
            if got != expected:
                mismatches.append(f"{table} {start}+{count}")

    async def writer(name: str, n: int, seed: int) -> None:
        rnd = random.Random(seed)
        reg = regs[name]
        for _ in range(n):
            value = rnd.randrange(0, 300)  # 0..29.9 kW, within the 30 kW rating
            await link.write(reg.address, value, 1)
            if (got := await link.read("holding", reg.address, 1, 1)) != [value]:
                mismatches.append(f"{name}: wrote {value}, read {got}")

    await asyncio.gather(
        reader("holding", 3, 16, 150),  # the read-only parameters: 16 words
        reader("input", 0, 27, 150),  # metering: 27 words
        reader("input", 50, 11, 150),  # load metering: 11 words
        reader("holding", 0, 1, 150),
        writer("battery_charge_power", 100, 1),  # 100 writes + 100 read-backs each
        writer("grid_discharge_power", 100, 2),
    )
    await link.close()
    assert mismatches == []
    assert server.requests >= 1000


async def test_writes_go_ahead_of_queued_reads(sim):
    _, server = endpoint(sim, "PCS")
    link = ModbusLink(server.host, server.port)
    await link.read("holding", 0, 1, 1)  # connected
    order: list[str] = []

    async def read(i: int) -> None:
        await link.read("input", 0, 27, 1)
        order.append(f"read{i}")

    async def write() -> None:
        await link.write(1, 55, 1)
        order.append("write")

    reads = [asyncio.create_task(read(i)) for i in range(5)]
    await asyncio.sleep(0)  # the reads are queued (one of them already on the wire)
    await asyncio.gather(write(), *reads)
    await link.close()
    assert order.index("write") <= 1, order


async def test_device_exceptions_are_reported_not_retried(sim):
    _, server = endpoint(sim, "BMS")
    link = ModbusLink(server.host, server.port)
    with pytest.raises(DeviceError) as err:
        await link.read("holding", 56, 3, 1)  # crosses the gap at 57: the real device refuses it
    assert err.value.code == 0x02 and not err.value.offline
    with pytest.raises(DeviceError) as err:
        await link.write(2, 777, 1)  # battery SOC is read-only
    assert err.value.code == 0x02
    assert (await link.read("holding", 2, 1, 1)) == [500]  # still the plant's 50.0 %
    assert link.nodelay()  # TCP_NODELAY on the Modbus socket
    await link.close()


async def test_a_write_to_a_silent_device_is_sent_once(sim):
    _, server = endpoint(sim, "PCS")
    link = ModbusLink(server.host, server.port, timeout=0.3)
    await link.read("holding", 0, 1, 1)
    server.stop_answering()
    before = server.requests
    with pytest.raises(LinkError) as err:
        await link.write(20, 0x55, 1)
    assert not err.value.offline and "no answer" in str(err.value)
    await asyncio.sleep(0.5)
    assert server.requests - before == 1  # one request on the wire, no retry behind the operator's back
    server.resume_answering()
    assert await link.read("holding", 0, 1, 1) == [300]  # the link recovers for the next request
    await link.close()


async def test_simulator_answers_only_what_the_real_devices_implement(sim):
    _, server = endpoint(sim, "DCDC")
    client = AsyncModbusTcpClient(server.host, port=server.port, retries=0, reconnect_delay=0)
    await client.connect()
    try:
        assert (await client.read_coils(0, count=1, device_id=1)).isError()  # no coils
        assert (await client.write_registers(2, [100, 100], device_id=1)).isError()  # no 0x10
        assert (await client.read_holding_registers(100, count=1, device_id=1)).isError()  # write-only command
        assert (await client.read_input_registers(31, count=1, device_id=1)).isError()  # unmapped
        assert not (await client.read_input_registers(0, count=31, device_id=1)).isError()
        assert (await client.write_register(101, 0x12, device_id=1)).isError()  # commands take 0x55 only
    finally:
        client.close()


async def test_fault_injection_delays_freezes_drops_and_rejects(sim):
    dev, server = endpoint(sim, "BMS")
    link = ModbusLink(server.host, server.port, timeout=1)
    soc = dev.device_map.registers["battery_soc"].address
    assert await link.read("holding", soc, 1, 1) == [500]

    server.delay = 0.3
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    await link.read("holding", soc, 1, 1)
    assert loop.time() - t0 >= 0.3
    server.delay = 0

    dev.frozen = True
    sim.set_soc(80)
    assert await link.read("holding", soc, 1, 1) == [500]  # frozen: the old value stays
    dev.frozen = False
    assert await link.read("holding", soc, 1, 1) == [800]

    server.drop_connections()
    await wait_for(lambda: not link.connected, 2, "the cut noticed")
    assert await link.read("holding", soc, 1, 1) == [800]  # the next request reconnects at once

    dev.reject_writes = "injected"
    with pytest.raises(DeviceError) as err:
        await link.write(201, 0x50, 1)
    assert err.value.code == 0x04
    await link.close()
