"""Configs on free loopback ports, and accelerated sites that start at an hour of today."""

from __future__ import annotations

import time
from pathlib import Path

import yaml

from pms_core.clock import Clock
from pms_core.config import load_config
from pms_core.energy import local_midnight
from pms_sim import PlantParams
from tests.helpers.ports import free_port
from tests.helpers.site import SimulatedSite


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


def today_at(hour: float = 0.0) -> float:
    """Epoch seconds of `hour` o'clock today, local time (where accelerated clocks start)."""
    return local_midnight(time.time()) + hour * 3600


def auto_site(tmp_path, speed: float, poll: float, hour: float = 9, params: PlantParams | None = None,
              stale_real: float = 0.1, **auto) -> SimulatedSite:  # fmt: skip
    """A site `speed` times faster than real time from `hour` today, with `auto` as its auto_mode section.
    `stale_real`: seconds of real time without data before the BMS is stale (at least 6 polls)."""
    stale = max(poll * 6, stale_real * speed)
    devices = [
        {"name": f"대실마을_{t}", "type": t, "ip": "127.0.0.1", "port": p, "poll_interval": poll, "stale_after": stale}
        for t, p in zip(("BMS", "PCS", "DCDC"), (free_port() for _ in range(3)), strict=False)
    ]
    loaded = load_config(write_config(tmp_path, devices=devices, auto_mode=auto), plant_speed=speed)
    return SimulatedSite(loaded, Clock(speed, start=today_at(hour)), params or PlantParams())
