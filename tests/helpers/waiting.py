"""Waiting on a condition, never sleeping and hoping: `wait_for` in a test's event loop, `wait_until` without one."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest


async def wait_for(predicate: Callable[[], bool], timeout: float, what: str = "condition") -> float:
    """Wait until `predicate()` holds; returns the seconds it took, fails the test on timeout."""
    start = time.monotonic()
    while not predicate():
        if time.monotonic() - start > timeout:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.01)
    return time.monotonic() - start


def wait_until(predicate: Callable[[], bool], timeout: float, what: str = "condition") -> None:
    """wait_for for a test that runs no event loop of its own (the PMS in another thread or process)."""
    start = time.monotonic()
    while not predicate():
        if time.monotonic() - start > timeout:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.001)


async def no_tasks_left() -> None:
    """The loop's other tasks end within half a second, or the test fails naming them."""
    current = asyncio.current_task()
    for _ in range(50):
        left = [t for t in asyncio.all_tasks() if t is not current and not t.done()]
        if not left:
            return
        await asyncio.sleep(0.01)
    pytest.fail(f"tasks left running: {[t.get_name() for t in left]}")
