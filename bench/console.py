"""CPU of the operator console: the full window on 3 devices polled every 0.5 s (simulator in another process).

Target (issue 5): under 10 % of one core, screen updates coalesced to at most 10 a second.
Runs offscreen unless a display is set.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.polling import ROOT, write_config
from pms_core.config import load_config
from pms_core.runtime import Runtime


async def measure(config: Path, seconds: float, warmup: float = 3.0) -> dict[str, float]:
    from pms_gui.app import console_settings  # noqa: PLC0415 - Qt is imported only by this benchmark
    from pms_gui.main_window import MainWindow  # noqa: PLC0415

    runtime = Runtime(load_config(config))
    await runtime.start()
    window = MainWindow(runtime, console_settings())
    window.show()
    await asyncio.sleep(warmup)
    offline = [d.name for d in runtime.devices.values() if d.state != "online"]
    frames0, snaps0 = window.bridge.frames, window.trends.ring.count
    cpu0, wall0 = time.process_time(), time.monotonic()
    await asyncio.sleep(seconds)
    cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
    frames = window.bridge.frames - frames0
    await window.shutdown()
    window.hide()
    await runtime.stop()
    if offline:
        raise RuntimeError(f"devices not online after warm-up: {offline}")
    return {
        "devices": len(runtime.devices),
        "seconds": round(wall, 1),
        "screen_updates_per_s": round(frames / wall, 2),
        "trend_samples": window.trends.ring.count - snaps0,
        "cpu_percent_of_core": round(100 * cpu / wall, 2),
    }


def run_case(seconds: float) -> dict[str, float]:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    import qasync  # noqa: PLC0415
    from PyQt5.QtWidgets import QApplication  # noqa: PLC0415

    with tempfile.TemporaryDirectory() as tmp:
        os.environ["PMS_DATA_DIR"] = str(Path(tmp) / "data")  # the console's layout file goes here, not to the user's
        config = write_config(Path(tmp), 3, 0.5)
        sim = subprocess.Popen(
            [sys.executable, "-m", "pms_core.simulator", "--config", str(config)],
            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=dict(os.environ),
        )  # fmt: skip
        try:
            time.sleep(1.5)  # let the servers bind
            app = QApplication.instance() or QApplication(sys.argv[:1])
            loop = qasync.QEventLoop(app)
            try:
                return loop.run_until_complete(measure(config, seconds))
            finally:
                loop.close()
        finally:
            sim.terminate()
            sim.wait(timeout=10)


def main(quick: bool = False) -> dict[str, dict[str, float]]:
    seconds = 10 if quick else 60
    results = {"console_3_devices_0.5s": run_case(seconds) | {"target_cpu_percent": 10, "target_updates_per_s": 10}}
    for name, r in results.items():
        print(f"{name:24s} " + "  ".join(f"{k}={v}" for k, v in r.items()))
    return results


if __name__ == "__main__":
    main(quick="--quick" in sys.argv)
