"""`python -m bench.soak [--hours 24] [--speed 240]`: a day of plant time in minutes, with faults on a schedule.

The PMS (automatic mode running), the simulator on one accelerated clock and
a real Mosquitto. On a schedule: device servers killed and restarted, the
broker restarted, replies delayed past the timeout, alarm bits set and
cleared, and a stream of control messages (valid and not). Pass means: no
unhandled exception, no task or thread leak, resident memory flat (< 5 %
growth after warm-up), every injected device outage seen on its MQTT status
topic and in the history, and every control message sent answered (those
the broker lost when it was killed are counted apart). Prints one summary
line; exits 1 when any of it fails.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import random
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import yaml

from bench.polling import free_ports, until
from pms_core.clock import Clock
from pms_core.config import load_config
from pms_core.energy import local_midnight
from pms_core.runtime import Runtime
from pms_sim import Simulator
from tests.helpers.broker import Mosquitto, Recorder

B = "pms"
POLL = 30.0  # plant seconds: 0.125 s of real time at 240x
OUTAGE_REAL = 3.0  # seconds of real time a device or the broker stays away
log = logging.getLogger("soak")


@dataclass
class Report:
    exceptions: list[str] = field(default_factory=list)
    # (device, real from, real to, plant from, plant to) of every device outage injected
    outages: list[tuple[str, float, float, float, float]] = field(default_factory=list)
    sent: dict[str, float] = field(default_factory=dict)  # request id -> real time it was published
    broker_away: list[tuple[float, float]] = field(default_factory=list)  # (stopped, PMS connected again) real time
    rss: list[tuple[float, float]] = field(default_factory=list)  # (real time, MB)


class ExceptionCounter(logging.Handler):
    """Any log record with a traceback is an exception the PMS did not handle where it arose."""

    def __init__(self, report: Report) -> None:
        super().__init__(logging.WARNING)
        self.report = report

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info:
            self.report.exceptions.append(f"{record.name}: {record.getMessage()}")


async def soak(folder: Path, hours: float, speed: float) -> tuple[Report, dict[str, float]]:
    report = Report()
    logging.getLogger().addHandler(ExceptionCounter(report))
    asyncio.get_running_loop().set_exception_handler(lambda _loop, ctx: report.exceptions.append(str(ctx.get("message"))))
    threading.excepthook = lambda args: report.exceptions.append(f"thread {args.thread}: {args.exc_value!r}")

    broker = Mosquitto(folder / "broker")
    broker.start()
    ports = free_ports(3)
    devices = [{"name": f"soak_{t}", "type": t, "ip": "127.0.0.1", "port": p, "poll_interval": POLL}
               for t, p in zip(("BMS", "PCS", "DCDC"), ports, strict=True)]  # fmt: skip
    config = folder / "soak.yml"
    config.write_text(yaml.safe_dump({
        "devices": devices,
        "mqtt": {"port": broker.port, "client_id": "pms-soak"},
        "auto_mode": {"command_interval": 60, "dcdc_standby_time": 600},
        "history": {"path": str(folder / "data" / "history.db")},
    }), encoding="utf-8")  # fmt: skip
    loaded = load_config(config, plant_speed=speed)
    clock = Clock(speed, start=local_midnight(time.time()))
    sim = Simulator(loaded, clock)
    runtime = Runtime(loaded, clock)
    await sim.start()
    await runtime.start()
    # Not the data topics: this process's own recorder would grow with them and blur the PMS's memory figure.
    rec = Recorder(broker.port, (f"{B}/status/#", f"{B}/+/+/status"))
    plant_end = clock.monotonic() + hours * 3600
    real_end = time.monotonic() + hours * 3600 / speed
    process = psutil.Process()

    async def until_real(t: float) -> None:
        await asyncio.sleep(max(0.0, t - time.monotonic()))

    async def at_plant_hour(h: float) -> None:
        await clock.sleep_until(h * 3600)

    async def device_outages() -> None:
        names = list(runtime.devices)
        h, i = 1.5, 0
        while h < hours - 1:
            await at_plant_hour(h)
            name = names[i % len(names)]
            server = sim.server(name)
            start, plant_start = time.time(), clock.now()
            await server.stop()
            await asyncio.sleep(OUTAGE_REAL)
            await server.start()
            report.outages.append((name, start, time.time(), plant_start, clock.now()))
            h, i = h + 3, i + 1

    async def slow_replies() -> None:
        names = list(runtime.devices)
        for i, h in enumerate((4.0, 13.0, 21.0)):
            if h >= hours - 1:
                return
            await at_plant_hour(h)
            name = names[(i + 1) % len(names)]
            server = sim.server(name)
            start, plant_start = time.time(), clock.now()
            server.delay = 1.5  # real seconds, past the 1 s timeout
            await asyncio.sleep(OUTAGE_REAL)
            server.delay = 0.0
            report.outages.append((name, start, time.time(), plant_start, clock.now()))

    async def broker_restarts() -> None:
        for h in (7.0, 17.0):
            if h >= hours - 1:
                return
            await at_plant_hour(h)
            stopped = time.time()
            broker.stop()
            await asyncio.sleep(OUTAGE_REAL)
            broker.start()
            await until(lambda: runtime.mqtt.connected, 20)
            report.broker_away.append((stopped, time.time()))

    async def alarm_bits() -> None:
        pcs, bms = (next(n for n, d in runtime.devices.items() if d.type == t) for t in ("PCS", "BMS"))
        h = 2.0
        while h < hours - 1:
            await at_plant_hour(h)
            sim.set_bits(pcs, "alarm_1", 1 << (int(h) % 8))  # a grid warning, not a trip
            sim.set_bits(bms, "battery_system_warning", 1 << 3)
            await at_plant_hour(h + 1)
            sim.set_bits(pcs, "alarm_1", 0)
            sim.set_bits(bms, "battery_system_warning", 0)
            h += 2

    async def control_messages() -> None:
        rng = random.Random(8)
        n = 0
        while time.monotonic() < real_end - 5:
            await asyncio.sleep(0.5)
            if not rec.client.is_connected():
                continue
            n += 1
            rid = f"soak-{n}"
            topic, payload = rng.choice([
                ("auto_mode/status", {}),
                ("threshold_config", {"soc_high_threshold": 88, "soc_low_threshold": 5}),
                ("threshold_config", {"soc_low_threshold": 95}),  # out of order: refused
                ("basic_mode", {"device_name": "soak_PCS", "command": "operation_mode", "mode": "stop"}),  # refused in auto
                ("operation_mode", {"mode": "auto"}),
                ("alarm_ack", {"device_name": "soak_PCS", "alarm": "alarm_1.3"}),
                ("operation_mode", "{not json"),
            ])  # fmt: skip
            body = payload if isinstance(payload, str) else json.dumps({**payload, "request_id": rid})
            rid = rid if not isinstance(payload, str) else None
            info = rec.client.publish(f"{B}/control/{topic}", body, qos=1)
            if rid and info.rc == 0:
                report.sent[rid] = time.time()

    async def operator() -> None:
        """What an operator does at a FAULT: stop and start again once the plant allows it."""
        op = runtime.operation
        while True:
            await asyncio.sleep(1)
            if op.auto.machine.state == "FAULT":
                op.stop_auto(source="gui")
            if op.mode == "auto" and not op.auto.machine.running:
                op.start_auto(source="gui")

    async def sample_memory() -> None:
        while True:
            report.rss.append((time.monotonic(), process.memory_info().rss / 2**20))
            await asyncio.sleep(2)

    jobs = [device_outages(), slow_replies(), broker_restarts(), alarm_bits(), control_messages(), operator(),
            sample_memory()]  # fmt: skip
    try:
        await until(lambda: runtime.mqtt.connected and all(d.state == "online" for d in runtime.devices.values()), 30)
        assert runtime.operation.set_mode("auto", source="gui").ok
        tasks = [asyncio.create_task(j, name=f"soak {i}") for i, j in enumerate(jobs)]
        # Warm-up: the first quarter (SQLite's page caches and the WAL fill up to their bounds).
        warm = time.monotonic() + 0.25 * (real_end - time.monotonic())
        await until_real(warm)
        tasks_then, threads_then = len(asyncio.all_tasks()), threading.active_count()
        await clock.sleep_until(plant_end)
        await asyncio.sleep(3)  # the last answers and reconnections
        tasks_now, threads_now = len(asyncio.all_tasks()), threading.active_count()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        answered = {p.get("request_id") for p in rec.payloads(f"{B}/status/operation_mode/response")}
        seen = [
            (name, status["state"], arrived)
            for name, dev in runtime.devices.items()
            for arrived, status in rec.timed(f"{B}/{dev.type}/{name}/status")
        ]
    finally:
        rec.close()
        await runtime.stop()
        await sim.stop()
        broker.stop()
    visible = sum(
        1 for name, start, end, _ps, _pe in report.outages
        if any(n == name and state != "online" and start <= a <= end + 10 for n, state, a in seen)
    )  # fmt: skip
    with contextlib.closing(sqlite3.connect(folder / "data" / "history.db")) as db:  # the PMS has stopped: all on disk
        in_history = sum(
            1 for name, _s, _e, plant_start, plant_end in report.outages
            if db.execute("SELECT 1 FROM links WHERE device = ? AND state != 'online' AND ts BETWEEN ? AND ?",
                          (name, plant_start, plant_end + 10 * speed)).fetchone()
        )  # fmt: skip
    after = [mb for t, mb in report.rss if t >= warm]
    first, last = statistics.median(after[: max(1, len(after) // 4)]), statistics.median(after[-max(1, len(after) // 4) :])
    unanswered = set(report.sent) - answered
    # A message the broker took just before it went down, or an answer sent into the outage, is lost with
    # the broker (no persistence, QoS 1): counted apart, and only those.
    lost = {r for r in unanswered if any(a - 1 <= report.sent[r] <= b for a, b in report.broker_away)}
    trace = [round(mb, 1) for _, mb in report.rss[:: max(1, len(report.rss) // 8)]]
    figures = {
        "plant_hours": hours,
        "real_seconds": round(hours * 3600 / speed, 1),
        "exceptions": len(report.exceptions),
        "tasks": f"{tasks_then}->{tasks_now}",
        "threads": f"{threads_then}->{threads_now}",
        "rss_mb": f"{first:.1f}->{last:.1f}",
        "rss_growth_percent": round(100 * (last - first) / first, 2),
        "outages_on_mqtt": f"{visible}/{len(report.outages)}",
        "outages_in_history": f"{in_history}/{len(report.outages)}",
        "control_answered": f"{len(report.sent) - len(unanswered)}/{len(report.sent)}",
        "lost_with_broker": len(lost),
        "rss_trace_mb": trace,
        "auto_state": runtime.operation.auto.machine.state,
    }
    ok = (not report.exceptions and tasks_now <= tasks_then and threads_now <= threads_then
          and figures["rss_growth_percent"] < 5 and visible == in_history == len(report.outages)
          and unanswered == lost)  # fmt: skip
    figures["result"] = "PASS" if ok else "FAIL"
    return report, figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.soak")
    parser.add_argument("--hours", type=float, default=24.0, help="plant hours to run (default 24)")
    parser.add_argument("--speed", type=float, default=240.0, help="plant seconds per real second (default 240)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    with tempfile.TemporaryDirectory() as tmp:
        report, figures = asyncio.run(soak(Path(tmp), args.hours, args.speed))
    print("soak: " + "  ".join(f"{k}={v}" for k, v in figures.items()))
    for line in report.exceptions[:10]:
        print(f"  exception: {line}")
    return 0 if figures["result"] == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())
