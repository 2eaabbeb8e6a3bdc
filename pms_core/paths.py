"""Where the PMS keeps its writable files (logs, history, state): a per-user data folder."""

from __future__ import annotations

import os
import sys
from pathlib import Path


def data_dir() -> Path:
    """PMS_DATA_DIR if set; else %LOCALAPPDATA%\\PMS on Windows, $XDG_DATA_HOME/pms elsewhere."""
    if override := os.environ.get("PMS_DATA_DIR"):
        return Path(override)
    if sys.platform == "win32":
        return Path(os.environ.get("LOCALAPPDATA", Path.home() / "AppData" / "Local")) / "PMS"
    return Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share")) / "pms"
