"""Where the PMS finds its files: the config (beside the executable, else bundled) and the per-user data folder.

From a source checkout everything is relative to the project folder. In a
PyInstaller build (`sys.frozen`), the bundled defaults live in `sys._MEIPASS`
and a `config` folder beside the executable, when present, wins over them, so
a site edits its configuration in place without rebuilding. Writable files
(logs, history, state, console layout) always go to the per-user data folder.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent


def frozen() -> bool:
    """True in a PyInstaller build."""
    return bool(getattr(sys, "frozen", False))


def bundle_dir() -> Path:
    """The read-only defaults shipped with the program: sys._MEIPASS when frozen, else the project folder."""
    meipass = getattr(sys, "_MEIPASS", None)
    return Path(meipass) if frozen() and meipass else PROJECT_DIR


def app_dir() -> Path:
    """The folder a site sees: beside the executable when frozen, else the project folder."""
    return Path(sys.executable).resolve().parent if frozen() else PROJECT_DIR


def bundled_config_dir() -> Path:
    """The shipped config folder (config.yml and the register maps)."""
    return bundle_dir() / "config"


def config_dir() -> Path:
    """`config` beside the executable when it holds a config.yml, else the bundled one."""
    site = app_dir() / "config"
    return site if (site / "config.yml").is_file() else bundled_config_dir()


def default_config() -> Path:
    """The config used without --config."""
    return config_dir() / "config.yml"


def data_dir() -> Path:
    """PMS_DATA_DIR if set; else %LOCALAPPDATA%\\PMS on Windows, $XDG_DATA_HOME/pms elsewhere."""
    if override := os.environ.get("PMS_DATA_DIR"):
        return Path(override)
    if sys.platform == "win32":
        return Path(os.environ.get("LOCALAPPDATA", Path.home() / "AppData" / "Local")) / "PMS"
    return Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share")) / "pms"
