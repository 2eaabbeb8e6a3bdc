"""Devices by type: a factory from the config's `type`."""

from __future__ import annotations

from pms_core.clock import Clock
from pms_core.config import DeviceConfig
from pms_core.devices.base import DerivedSeries, Device
from pms_core.devices.bms import BmsDevice
from pms_core.devices.dcdc import DcdcDevice
from pms_core.devices.pcs import PcsDevice
from pms_core.modbus import ModbusLink
from pms_core.registers import DeviceMap

DEVICE_CLASSES: dict[str, type[Device]] = {"BMS": BmsDevice, "PCS": PcsDevice, "DCDC": DcdcDevice}


def make_device(config: DeviceConfig, device_map: DeviceMap, link: ModbusLink, clock: Clock) -> Device:
    return DEVICE_CLASSES[config.type](config, device_map, link, clock)


def derived_series(device_type: str) -> dict[str, DerivedSeries]:
    """The numeric derived values a device type keeps in the history ({} for a type the PMS does not know)."""
    cls = DEVICE_CLASSES.get(device_type)
    return cls.DERIVED_SERIES if cls is not None else {}


__all__ = ["DerivedSeries", "Device", "derived_series", "make_device"]
