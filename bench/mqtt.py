"""The MQTT gateway's latencies on loopback, against a real Mosquitto and the simulator over real TCP.

Targets (issue 4): control message published -> register written at the
simulator p50 < 10 ms, p99 < 50 ms; register changed at the simulator -> data
message received p99 < poll interval + 50 ms. For scale, the same broker's
bare paho publish -> receive round trip is measured too.
"""

from __future__ import annotations

import asyncio
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path

import yaml

from bench.polling import free_ports, percentile, until
from pms_core.clock import Clock
from pms_core.config import load_config
from pms_core.runtime import Runtime
from pms_sim import Simulator
from tests.helpers.broker import Mosquitto, Recorder

POLL = 0.5
B = "pms"


def figures(ms: list[float]) -> dict[str, float]:
    return {"n": len(ms), "p50_ms": round(statistics.median(ms), 2), "p99_ms": round(percentile(ms, 99), 2),
            "max_ms": round(max(ms), 2)}  # fmt: skip


async def measure(folder: Path, port: int, samples: int) -> dict[str, dict[str, float]]:
    ports = free_ports(3)
    devices = [
        {"name": f"bench_{t}", "type": t, "ip": "127.0.0.1", "port": p, "poll_interval": POLL}
        for t, p in zip(("BMS", "PCS", "DCDC"), ports, strict=True)
    ]
    config = folder / "bench.yml"
    mqtt = {"port": port, "client_id": "pms-bench"}
    config.write_text(yaml.safe_dump({"devices": devices, "mqtt": mqtt}), encoding="utf-8")
    loaded = load_config(config)
    clock = Clock()
    sim = Simulator(loaded, clock)
    runtime = Runtime(loaded, clock, state_dir=folder, with_history=False)  # the gateway alone
    await sim.start()
    await runtime.start()
    rec = Recorder(port, (f"{B}/#",))
    try:
        await until(lambda: runtime.mqtt.connected and all(d.state == "online" for d in runtime.devices.values()), 15)
        plant = sim.plant

        command: list[float] = []
        for i in range(samples):
            before = len(plant.writes)
            kw = 1 + (i % 40) * 0.5
            sent = time.time()
            body = f'{{"device_name": "bench_PCS", "command": "set_charge_power", "kw": {kw}}}'
            rec.client.publish(f"{B}/control/basic_mode", body, qos=1)
            await until(lambda b=before: len(plant.writes) > b)
            command.append((plant.writes[-1][0] - sent) * 1000)
            await asyncio.sleep(0.02)

        # Own subscribers per topic, so that waiting for a message costs a len(): the PMS runs on this loop.
        topic, echo = f"{B}/PCS/bench_PCS/data", f"{B}/bench/echo"
        data, echoes = Recorder(port, (topic,)), Recorder(port, (echo,))
        fresh: list[float] = []
        for i in range(max(20, samples // 5)):
            kw = round(0.5 + i * 0.7 % 20, 1)
            seen = len(data.received)
            plant.pcs.charge_kw = kw
            changed = time.time()
            arrival = None
            while arrival is None:
                count = len(data.received)
                await until(lambda c=count: len(data.received) > c, 3)
                hits = [a for a, m in data.timed(topic)[seen:] if m["data"]["battery_charge_power"]["value"] == kw]
                arrival = hits[0] if hits else None
            fresh.append((arrival - changed) * 1000)
            await asyncio.sleep(0.13 * (i % 4))  # changes at different phases of the poll cycle

        bare: list[float] = []
        for i in range(samples):
            n = len(echoes.received)
            sent = time.time()
            rec.client.publish(echo, str(i), qos=1)
            await until(lambda n=n: len(echoes.received) > n)
            bare.append((echoes.arrived[n] - sent) * 1000)
        data.close()
        echoes.close()
    finally:
        rec.close()
        await runtime.stop()
        await sim.stop()
    return {
        "command_to_register": figures(command) | {"target_p50_ms": 10, "target_p99_ms": 50},
        "register_to_data_message": figures(fresh) | {"poll_interval_ms": POLL * 1000, "target_p99_ms": POLL * 1000 + 50},
        "bare_paho_roundtrip": figures(bare),
    }


def main(quick: bool = False) -> dict[str, dict[str, float]]:
    logging.getLogger("pms_core").setLevel(logging.ERROR)  # superseded set-points are expected here
    with tempfile.TemporaryDirectory() as tmp:
        broker = Mosquitto(Path(tmp) / "broker")
        broker.start()
        try:
            results = asyncio.run(measure(Path(tmp), broker.port, 50 if quick else 300))
        finally:
            broker.stop()
    for name, r in results.items():
        print(f"{name:26s} " + "  ".join(f"{k}={v}" for k, v in r.items()))
    return results


if __name__ == "__main__":
    main(quick="--quick" in sys.argv)
