"""What a build baked into its bundle: the variant and the version (`build_info.json`, written by pms.spec).

The DC-DC-disabled variant is the same code with one flag: its bundled default
config has no DC-DC device, and a config that names one is refused with a
clear message (a DC-DC-disabled build never commands a DC-DC). Without a DC-DC
device the console has no DC-DC dock and the automatic mode skips the DC-DC
steps and the SOC-high rule. From a source checkout there is no build_info.json:
the normal variant.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from functools import cache

from pms_core.config import LoadedConfig
from pms_core.paths import bundle_dir

log = logging.getLogger(__name__)

BUILD_INFO_FILE = "build_info.json"
VARIANTS = ("normal", "dcdc_disabled")


@dataclass(frozen=True)
class BuildInfo:
    variant: str = "normal"
    version: str = "source"

    @property
    def dcdc_enabled(self) -> bool:
        return self.variant != "dcdc_disabled"

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
