"""Wait for SIGINT / SIGTERM in a way that also works on Windows."""

from __future__ import annotations

import asyncio
import signal


async def wait_for_stop_signal() -> None:
    """Return when the process is asked to stop (Ctrl+C, SIGTERM)."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    signals = [signal.SIGINT, signal.SIGTERM]
    try:
        for sig in signals:
            loop.add_signal_handler(sig, stop.set)
    except NotImplementedError:
        # Windows' event loops have no add_signal_handler: fall back to signal.signal,
        # whose handler runs between bytecodes and hands over thread-safely.
        for sig in signals:
            signal.signal(sig, lambda *_: loop.call_soon_threadsafe(stop.set))
        await stop.wait()
        return
    try:
        await stop.wait()
    finally:
        for sig in signals:
            loop.remove_signal_handler(sig)
