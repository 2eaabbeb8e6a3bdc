"""The log of both programs: stderr and a rotating file, `logging.file` or else <data folder>/logs/pms.log."""

from __future__ import annotations

import logging
import logging.handlers
from pathlib import Path

from pms_core.paths import data_dir


def log_file(file: str | None) -> Path:
    """The log file of both programs: `logging.file` as configured, else <data folder>/logs/pms.log."""
    return Path(file) if file else data_dir() / "logs" / "pms.log"


def log_folder(file: str | None) -> Path:
    return log_file(file).parent


def setup_logging(level: str, file: str | None) -> Path:
    """Log at `level` to stderr and to the rotating log file (its folder made); returns the file's path."""
    path = log_file(file)
    path.parent.mkdir(parents=True, exist_ok=True)
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    handlers: list[logging.Handler] = [
        logging.StreamHandler(),
        logging.handlers.RotatingFileHandler(path, maxBytes=5_000_000, backupCount=5, encoding="utf-8"),
    ]
    root = logging.getLogger()
    root.setLevel(level)
    for handler in handlers:
        handler.setFormatter(fmt)
        root.addHandler(handler)
    return path
