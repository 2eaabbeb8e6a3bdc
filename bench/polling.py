"""Poll-start jitter and CPU of the PMS polling devices served by a simulator in another process.

Targets (issue 2): 3 devices at 0.5 s: p99 jitter < 20 ms and < 5 % of one core;
100 devices at 1 s in one process: p99 jitter < 100 ms. Issue 8: a PMS poll costs at
most 1.3x a bare pymodbus loop reading the same blocks.
"""

from __future__ import annotations

import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from pms_core.config import load_config
from pms_core.runtime import Runtime

ROOT = Path(__file__).resolve().parent.parent
TYPES = ("BMS", "PCS", "DCDC")


def free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def write_config(folder: Path, count: int, interval: float) -> Path:
    devices = [
        {
            "name": f"dev{i:03d}_{TYPES[i % 3]}",
            "type": TYPES[i % 3],
            "ip": "127.0.0.1",
            "port": port,
            "poll_interval": interval,
        }
        for i, port in enumerate(free_ports(count))
    ]
    path = folder / "bench.yml"
    path.write_text(yaml.safe_dump({"devices": devices}), encoding="utf-8")
    return path


async def until(predicate, timeout: float = 5.0) -> None:
    """Wait for a condition, checking every half millisecond (latency figures depend on it)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError("timed out")
        await asyncio.sleep(0.0005)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


async def measure(config: Path, seconds: float, warmup: float = 3.0) -> dict[str, float]:
    loaded = load_config(config)
    lateness: list[float] = []
    recording = False

    def on_tick(_device: object, late: float) -> None:
        if recording:
            lateness.append(late)

    runtime = Runtime(loaded, on_tick=on_tick, with_mqtt=False, with_history=False)  # polling alone
    await runtime.start()
    await asyncio.sleep(warmup)
    offline = [d.name for d in runtime.devices.values() if d.state != "online"]
    recording = True
    cpu0, wall0 = time.process_time(), time.monotonic()
    await asyncio.sleep(seconds)
    cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
    recording = False
    await runtime.stop()
    if offline:
        raise RuntimeError(f"devices not online after warm-up: {offline[:5]}")
    ms = [x * 1000 for x in lateness]
    return {
        "devices": len(loaded.devices),
        "polls": len(ms),
        "jitter_p50_ms": round(statistics.median(ms), 2),
        "jitter_p99_ms": round(percentile(ms, 99), 2),
        "jitter_max_ms": round(max(ms), 2),
        "cpu_percent_of_core": round(100 * cpu / wall, 2),
    }


async def overhead(config: Path, polls: int) -> dict[str, float]:
    """One device's full poll through the PMS (link, decode, snapshot, bus) against a bare pymodbus loop
    reading the same blocks over its own connection, alternately, so both see the same simulator load."""
    from pymodbus.client import AsyncModbusTcpClient  # noqa: PLC0415 - the baseline, not the product

    loaded = load_config(config)
    runtime = Runtime(loaded, with_mqtt=False, with_history=False)
    device = next(d for d in runtime.devices.values() if d.type == "BMS")
    bare = AsyncModbusTcpClient(device.config.ip, port=device.config.port, timeout=1, retries=0)
    await bare.connect()
    pms_ms: list[float] = []
    bare_ms: list[float] = []
    for i in range(polls + 20):  # the first 20 warm both paths up
        t0 = time.perf_counter()
        await runtime.poller.poll_once(device)
        t1 = time.perf_counter()
        for block in device.map.read_plan:
            call = bare.read_holding_registers if block.table == "holding" else bare.read_input_registers
            await call(block.start, count=block.count, device_id=device.config.slave_id)
        t2 = time.perf_counter()
        if i >= 20:
            pms_ms.append((t1 - t0) * 1000)
            bare_ms.append((t2 - t1) * 1000)
    bare.close()
    for link in runtime.links.values():
        await link.close()
    pms, base = statistics.median(pms_ms), statistics.median(bare_ms)
    return {
        "blocks_per_poll": len(device.map.read_plan),
        "pms_poll_p50_ms": round(pms, 3),
        "bare_pymodbus_p50_ms": round(base, 3),
        "ratio": round(pms / base, 2),
        "pms_poll_p99_ms": round(percentile(pms_ms, 99), 3),
        "bare_pymodbus_p99_ms": round(percentile(bare_ms, 99), 3),
    }


def run_case(count: int, interval: float, seconds: float) -> dict[str, float]:
    return with_simulator(count, interval, lambda config: measure(config, seconds))


def wait_listening(config: Path, timeout: float = 30.0) -> None:
    """Until every device port of `config` accepts a connection (the simulator process has bound them all)."""
    deadline = time.monotonic() + timeout
    for device in load_config(config).devices:
        while True:
            try:
                socket.create_connection((device.ip, device.port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the simulator did not listen on {device.ip}:{device.port}") from None
                time.sleep(0.05)


def with_simulator(count: int, interval: float, work, runner=asyncio.run) -> dict[str, float]:
    """`runner(work(config))` against `count` simulated devices served by a simulator in another process."""
    with tempfile.TemporaryDirectory() as tmp:
        config = write_config(Path(tmp), count, interval)
        sim = subprocess.Popen(
            [sys.executable, "-m", "pms_sim", "--config", str(config)],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=dict(os.environ),
        )
        try:
            wait_listening(config)
            return runner(work(config))
        finally:
            sim.terminate()
            sim.wait(timeout=10)


def main(quick: bool = False) -> dict[str, dict[str, float]]:
    seconds = 10 if quick else 60
    results = {
        "poll_3_devices_0.5s": run_case(3, 0.5, seconds) | {"target_p99_ms": 20, "target_cpu_percent": 5},
        "poll_100_devices_1s": run_case(100, 1.0, seconds / 2) | {"target_p99_ms": 100},
        "poll_overhead_vs_bare_pymodbus": with_simulator(3, 0.5, lambda c: overhead(c, 200 if quick else 1000))
        | {"target_ratio": 1.3},
    }
    for name, r in results.items():
        print(f"{name:24s} " + "  ".join(f"{k}={v}" for k, v in r.items()))
    return results


if __name__ == "__main__":
    main(quick="--quick" in sys.argv)
