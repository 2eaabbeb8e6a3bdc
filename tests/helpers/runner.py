"""The headless runner (main.py) as an operator starts it: a real process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.helpers.paths import ROOT


def start_runner(config: Path, data: Path, *extra: str) -> subprocess.Popen:
    """main.py on `config` with its data in `data`, output piped as text; `extra`: more arguments (--simulate)."""
    env = dict(os.environ, PMS_DATA_DIR=str(data), PYTHONDEVMODE="1")  # dev mode: asyncio reports pending tasks
    return subprocess.Popen(
        [sys.executable, str(ROOT / "main.py"), "--config", str(config), *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        encoding="utf-8",
        env=env,
    )
