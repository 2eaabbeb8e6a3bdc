"""The console's `--selftest`: it proves an installation (or a build) end to end.

Its own simulator on free loopback ports (a copy of the site's config, `selftest_config`), the console offscreen,
every device polled online and shown, one command through the command service confirmed by the simulator; exit
0, or 1 with the reason on stderr and in the log. pms_gui/boot.py runs it inside the console.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from pms_core.config import LoadedConfig, map_path
from pms_core.runtime import Runtime
from pms_gui.app import ErrorReporter
from pms_gui.main_window import MainWindow
from pms_sim import Simulator

log = logging.getLogger("pms")

SELFTEST_TIMEOUT = 60.0  # seconds from the console's start to a verdict
SELFTEST_POLL_INTERVAL = 0.5  # the selftest polls at least this often, whatever the site's config says


def free_ports(count: int) -> list[int]:
    """`count` different loopback ports, free now (held open together: the OS may give one port twice in a row)."""
    socks = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(count)]
    try:
        for sock in socks:
            sock.bind(("127.0.0.1", 0))
        return [int(sock.getsockname()[1]) for sock in socks]
    finally:
        for sock in socks:
            sock.close()


def selftest_config(source: LoadedConfig, folder: Path) -> Path:
    """A copy of the site's config for the selftest: every endpoint on a free loopback port (served by
    the selftest's own simulator), the maps the site uses, MQTT on a port where nothing listens, the
    automatic mode not resumed. It is written to `folder`."""
    raw: dict[str, Any] = yaml.safe_load(source.path.read_text(encoding="utf-8"))
    endpoints = list(dict.fromkeys((d.ip, d.port) for d in source.devices))
    *device_ports, mqtt_port = free_ports(len(endpoints) + 1)
    ports = dict(zip(endpoints, device_ports, strict=True))
    devices = []
    for raw_dev, dev in zip(raw["devices"], source.devices, strict=True):
        port = ports[(dev.ip, dev.port)]
        devices.append({
            **raw_dev,
            "ip": "127.0.0.1",
            "port": port,
            "map": str(map_path(dev, source.path).resolve()),
            "poll_interval": min(dev.poll_interval, SELFTEST_POLL_INTERVAL),
        })  # fmt: skip
    mqtt = {k: v for k, v in (raw.get("mqtt") or {}).items() if k != "tls"}
    auto_mode = {**(raw.get("auto_mode") or {}), "resume_on_start": False}
    history = {k: v for k, v in (raw.get("history") or {}).items() if k != "path"}
    logging_ = {k: v for k, v in (raw.get("logging") or {}).items() if k != "file"}
    data = {
        **raw, "devices": devices, "mqtt": {**mqtt, "broker": "127.0.0.1", "port": mqtt_port},
        "auto_mode": auto_mode, "history": history, "logging": logging_,
    }  # fmt: skip
    path = folder / "config.yml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


class SelftestFailed(Exception):
    pass


async def _until(predicate: Callable[[], bool], deadline: float, what: Callable[[], str]) -> None:
    while not predicate():
        if time.monotonic() > deadline:
            raise SelftestFailed(what())
        await asyncio.sleep(0.05)


async def _selftest_steps(window: MainWindow, runtime: Runtime, simulator: Simulator, deadline: float) -> str:
    devices = runtime.devices.values()

    def not_online() -> str:
        return "devices not polled online: " + ", ".join(
            f"{d.name} ({d.state})" for d in devices if d.state != "online" or d.snapshot is None
        )

    await _until(lambda: all(d.state == "online" and d.snapshot is not None for d in devices), deadline, not_online)
    online_after = time.monotonic()
    # The console shows every device: a dock per device type, and a view of each device from the bridge.
    wanted = {f"dock_{d.type.lower()}" for d in devices}
    docks = {name for name in window.docks if name in ("dock_bms", "dock_pcs", "dock_dcdc")}
    if docks != wanted:
        raise SelftestFailed(f"device docks {sorted(docks)}, expected {sorted(wanted)}")
    await _until(
        lambda: set(window.device_views) == set(runtime.devices), deadline,
        lambda: f"the console shows no data for {sorted(set(runtime.devices) - set(window.device_views))}",
    )  # fmt: skip
    # One command through the one door, as the operator's button sends it; the simulator must receive it.
    pcs, bms = runtime.device_of_type("PCS"), runtime.device_of_type("BMS")
    if pcs is not None:
        target, command, params, write = pcs, "operation_mode", {"mode": "stop"}, ("PCS", 20, 0x55)
    elif bms is not None:
        target, command, params, write = bms, "reset_errors", {}, ("BMS", 201, 0x50)
    else:
        return f"{len(runtime.devices)} device(s) online (no PCS or BMS to command)"
    written = await runtime.commands.execute(target.name, command, params, source="gui")
    if not written.ok:
        raise SelftestFailed(f"{target.name} {command} {params}: {written.status}: {written.reason}")
    final = await asyncio.wait_for(runtime.commands.confirmation(written), max(0.1, deadline - time.monotonic()))
    if not final.ok:
        raise SelftestFailed(f"{target.name} {command} {params}: {final.status}: {final.reason}")
    if not any(w[1:] == write for w in simulator.plant.writes):
        raise SelftestFailed(f"{target.name} {command}: the simulator never received the write {write[1]}={write[2]:#x}")
    return (
        f"{len(runtime.devices)} device(s) online in {online_after - (deadline - SELFTEST_TIMEOUT):.1f} s"
        f" ({', '.join(f'{d.name} ({d.type})' for d in devices)}); {target.name} {command} {params} {final.status}"
    )


async def selftest(
    window: MainWindow, runtime: Runtime, simulator: Simulator, reporter: ErrorReporter, quit_: Callable[[int], None]
) -> None:
    deadline = time.monotonic() + SELFTEST_TIMEOUT
    try:
        summary = await _selftest_steps(window, runtime, simulator, deadline)
        if reporter.count:
            raise SelftestFailed(f"{reporter.count} unexpected error(s) in the console (see the log)")
    except (SelftestFailed, TimeoutError) as exc:
        reason = str(exc) or f"timed out after {SELFTEST_TIMEOUT:.0f} s"
        log.error("selftest FAILED: %s", reason)
        print(f"selftest FAILED: {reason}", file=sys.stderr, flush=True)
        quit_(1)
        return
    log.info("selftest OK: %s", summary)
    print(f"selftest OK: {summary}", flush=True)
    quit_(0)
