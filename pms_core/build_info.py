"""What a build baked into its bundle: the variant and the version (`build_info.json`, written by pms.spec).

The DC-DC-disabled variant is the same code with one flag: its bundled default
config has no DC-DC device, and a config that names one is refused with a
clear message (a DC-DC-disabled build never commands a DC-DC). Without a DC-DC
device the console has no DC-DC dock and the automatic mode skips the DC-DC
steps and the SOC-high rule. From a source checkout there is no build_info.json:
the normal variant, whose version is pyproject.toml's marked `+source` (`0.1.0+source`).

`--version` of both programs, the first line of their log, the console's title and About box and the retained
MQTT topic `B/status/info` all say the same: `BuildInfo.banner` / `shown_version`.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from functools import cache
from importlib import metadata

from pms_core.config import LoadedConfig
from pms_core.paths import PROJECT_DIR, bundle_dir

log = logging.getLogger(__name__)

BUILD_INFO_FILE = "build_info.json"
VARIANTS = ("normal", "dcdc_disabled")
SOURCE = "source"  # the version of a checkout without build_info.json


@dataclass(frozen=True)
class BuildInfo:
    variant: str = "normal"
    version: str = SOURCE

    @property
    def dcdc_enabled(self) -> bool:
        return self.variant != "dcdc_disabled"

    @property
    def shown_version(self) -> str:
        """The version people see: a build's own; from a source checkout the project's, marked `+source` (a PEP 440
        local label), so that a log or an MQTT message of a developer's run is never taken for a release's."""
        return f"{project_version()}+source" if self.version == SOURCE else self.version

    @property
    def banner(self) -> str:
        """`PMS 1.2.3 (normal build)`: what `--version` prints and the log's first line starts with."""
        return f"PMS {self.shown_version} ({self.variant} build)"

    def config_problems(self, loaded: LoadedConfig) -> list[str]:
        """Lines for ConfigError: what this build refuses in a config that is otherwise valid."""
        if self.dcdc_enabled:
            return []
        return [
            f"{loaded.path}: devices[{i}]: {dev.name!r} is a DC-DC, but this is the DC-DC-disabled build;"
            " remove the device from the config or install the normal build"
            for i, dev in enumerate(loaded.devices)
            if dev.type == "DCDC"
        ]


@cache
def build_info() -> BuildInfo:
    """The bundle's build_info.json; the normal variant when there is none (a source checkout)."""
    path = bundle_dir() / BUILD_INFO_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return BuildInfo()
    except (OSError, ValueError) as exc:
        log.error("cannot read %s (%s): assuming the normal variant", path, exc)
        return BuildInfo()
    variant = data.get("variant", "normal")
    if variant not in VARIANTS:
        log.error("%s: unknown variant %r: assuming the normal variant", path, variant)
        variant = "normal"
    return BuildInfo(variant=variant, version=str(data.get("version", "unknown")))


@cache
def project_version() -> str:
    """pyproject.toml's version (what pms.spec bakes into a build), else the installed package's, else `unknown`."""
    try:
        text = (PROJECT_DIR / "pyproject.toml").read_text(encoding="utf-8")
    except OSError:
        text = ""
    # The spec reads it with the same pattern: one source of truth for both.
    if found := re.search(r'^version = "(.+)"$', text, re.M):
        return found[1]
    try:
        return metadata.version("pms")
    except metadata.PackageNotFoundError:
        return "unknown"
