"""The headless runner as an operator starts it: a real process, real signals."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

from tests.helpers.configs import write_config
from tests.helpers.runner import start_runner


def wait_log(log: Path, text: str, count: int = 1, timeout: float = 15) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        content = log.read_text(encoding="utf-8") if log.exists() else ""
        if content.count(text) >= count:
            return content
        time.sleep(0.05)
    pytest.fail(f"{text!r} x{count} not in the log after {timeout} s:\n{content}")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
@pytest.mark.tcp
def test_simulate_runs_and_stops_cleanly_on_a_signal(tmp_path, sig):
    config = write_config(tmp_path)
    proc = start_runner(config, tmp_path / "data", "--simulate")
    try:
        wait_log(tmp_path / "data" / "logs" / "pms.log", "is online", count=3)
        sent = time.monotonic()
        proc.send_signal(sig)
        out, _ = proc.communicate(timeout=5)
        took = time.monotonic() - sent
    finally:
        proc.kill()
    assert proc.returncode == 0, out
    assert took < 2.0, f"shutdown took {took:.2f} s"
    assert "stopped" in out
    for bad in ("Traceback", "Task was destroyed", "was never awaited", "Unclosed", "unclosed"):
        assert bad not in out, out


@pytest.mark.tcp
def test_unreachable_device_is_reported_offline_and_the_runner_keeps_going(tmp_path):
    config = write_config(tmp_path)  # no --simulate: nothing listens on these ports
    proc = start_runner(config, tmp_path / "data")
    try:
        log = wait_log(tmp_path / "data" / "logs" / "pms.log", "cannot connect", count=3)
        assert "한자연_BMS (127.0.0.1:" in log and "is offline" in log
        time.sleep(1.5)  # retries continue with back-off
        assert proc.poll() is None
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=5)
    assert proc.returncode == 0, out
