"""Telling the operator about a new alarm: the taskbar flashes and a sound plays.

A warning or fault alarm raised while the console runs is announced once: `alert` (the window flashes in the
taskbar) and `sound` (a beep), unless the sound is muted. Alarms already active when the console opens, alarms
raised again while still active and info-level alarms are not announced. One incident often raises several alarms
in the same poll (a PCS trip bit, its total-fault bit and the interlock that follows): alarms raised within `burst_s`
of an announcement join it rather than beeping again.

The sound repeats, as an annunciator's horn does, every `repeat_s` seconds while an announced alarm stays active and
nobody has acknowledged it (in the events dock, or over MQTT): acknowledging silences it, and so does the alarm
clearing. A farm operator who was away from the PC when it beeped once would otherwise never know; one beep a
minute is enough to be noticed without making the PC unbearable beside a standing fault. Muting silences every sound;
the taskbar still flashes.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from PyQt5.QtCore import QObject, QTimer

from pms_core.alarms import AlarmMonitor
from pms_core.bus import AlarmAcknowledged, AlarmChanged

log = logging.getLogger(__name__)

ANNOUNCED = ("warning", "fault")
REPEAT_S = 60.0  # the reminder while an announced alarm is unacknowledged
BURST_S = 2.0  # alarms raised this soon after an announcement belong to it (real seconds, as the operator hears)

Key = tuple[str, str]  # (device, alarm), as the alarm monitor keys its active alarms


class AlarmNotifier(QObject):
    """Announces new warning and fault alarms; `alert(event)` and `sound()` are what it does, injectable for tests."""

    def __init__(
        self,
        alarms: AlarmMonitor,
        alert: Callable[[AlarmChanged], object],
        sound: Callable[[], object],
        muted: bool = False,
        repeat_s: float = REPEAT_S,
        burst_s: float = BURST_S,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.alarms = alarms
        self.alert = alert
        self.sound = sound
        self.muted = muted
        self.burst_s = burst_s
        self._known: set[Key] = set(alarms.active)  # active before the console opened: not announced
        self._announced: set[Key] = set()  # what the reminder is about
        self._last_announcement = -float("inf")  # time.monotonic()
        self._timer = QTimer(self)
        self.set_repeat(repeat_s)
        self._timer.timeout.connect(self._remind)
        self._unsubscribe = alarms.bus.subscribe(AlarmAcknowledged, self._acknowledged)

    def set_repeat(self, seconds: float) -> None:
        self._timer.setInterval(max(1, round(seconds * 1000)))

    @property
    def in_burst(self) -> bool:
        """A new alarm now would join the latest announcement."""
        return time.monotonic() - self._last_announcement < self.burst_s

    @property
    def repeating(self) -> bool:
        return self._timer.isActive()

    def alarm_changed(self, event: AlarmChanged) -> None:
        key = (event.device_name, event.alarm)
        if not event.active:
            self._known.discard(key)
            self._announced.discard(key)
            return
        if key in self._known:
            return  # still the same alarm
        self._known.add(key)
        if event.severity not in ANNOUNCED:
            return
        self._announced.add(key)
        self._timer.start()  # the reminder counts from the latest alarm
        if self.in_burst:
            log.info("alarm %s %s (%s) joins the latest announcement", event.device_name, event.alarm, event.severity)
            return
        log.info("announcing alarm %s %s (%s)%s", event.device_name, event.alarm, event.severity,
                 ", sound muted" if self.muted else "")  # fmt: skip
        self._last_announcement = time.monotonic()
        self._call(self.alert, event)
        if not self.muted:
            self._call(self.sound)

    def unacknowledged(self) -> list[Key]:
        """Announced alarms still active and not acknowledged."""
        active = self.alarms.active
        self._announced &= set(active)
        return [k for k in self._announced if active[k].acknowledged_by is None]

    def _acknowledged(self, _event: AlarmAcknowledged) -> None:
        if not self.unacknowledged():  # bus handler on the loop's thread, the GUI thread under qasync
            self._timer.stop()

    def _remind(self) -> None:
        if not self.unacknowledged():
            self._timer.stop()
            return
        if not self.muted:
            self._call(self.sound)

    def close(self) -> None:
        self._timer.stop()
        self._unsubscribe()
        self._unsubscribe = lambda: None

    @staticmethod
    def _call(what: Callable[..., object], *args: object) -> None:
        try:
            what(*args)
        except Exception:  # no audio, no taskbar: the alarm is still in the list
            log.exception("cannot announce the alarm")
