"""Today's energy from the PCS's lifetime counters: the counter now minus its first value of the local day.

The PCS counts charged and discharged energy since it was built (a kWh and an
MWh register per counter) and nothing per day. The day's first value comes
from the history when the PMS already ran today (`seed`), else from the first
reading; `since` says from when the figure counts, so a PMS started at noon
without history does not pass half a day off as a whole one.
"""

from __future__ import annotations

from datetime import date, datetime

COUNTERS = ("ac_charge", "ac_discharge", "dc_charge", "dc_discharge")
RESET_READINGS = 3  # a counter lower than the day's first value this many times in a row was reset at the device


def total_key(counter: str) -> str:
    return f"{counter}_energy_total"


def today_key(counter: str) -> str:
    return f"{counter}_energy_today"


def lifetime_kwh(values: dict[str, float | int | None], counter: str) -> float | None:
    """One counter in kWh from its MWh and kWh registers, or None while either is unknown."""
    mwh, kwh = values.get(f"{counter}_energy_mwh"), values.get(f"{counter}_energy_kwh")
    if not isinstance(mwh, (int, float)) or not isinstance(kwh, (int, float)):
        return None
    return round(mwh * 1000 + kwh, 1)


def local_midnight(t: float) -> float:
    return datetime.fromtimestamp(t).replace(hour=0, minute=0, second=0, microsecond=0).timestamp()


class DailyCounters:
    def __init__(self) -> None:
        self.day: date | None = None
        self.since: float | None = None  # when the day's first values were taken
        self._first: dict[str, float] = {}
        self._counted: dict[str, float] = {}  # what was counted before the counter was reset at the device
        self._today: dict[str, float] = {}
        self._lower: dict[str, int] = {}  # readings in a row below the day's first value

    def seed(self, first: dict[str, float], since: float) -> None:
        """The day's first values as the history recorded them before a restart."""
        self._new_day(since)
        self._first = dict(first)

    def today(self, at: float, totals: dict[str, float | None]) -> dict[str, float | None]:
        if datetime.fromtimestamp(at).date() != self.day:
            self._new_day(at)
        return {counter: self._count(counter, total) for counter, total in totals.items()}

    def _count(self, counter: str, total: float | None) -> float | None:
        if total is None:
            return None
        first = self._first.setdefault(counter, total)
        if total >= first:
            self._lower[counter] = 0
            self._today[counter] = round(self._counted.get(counter, 0.0) + total - first, 1)
        else:
            # Lower than this morning: a counter reset at the device, or one reading taken while the kWh register
            # had wrapped and the MWh one not yet moved on. Only a drop that lasts is a reset; until then, and
            # after it, the count so far holds.
            self._lower[counter] = self._lower.get(counter, 0) + 1
            if self._lower[counter] >= RESET_READINGS:
                self._lower[counter] = 0
                self._first[counter] = total
                self._counted[counter] = self._today.get(counter, 0.0)
        return self._today.get(counter, 0.0)

    def _new_day(self, at: float) -> None:
        self.day, self.since = datetime.fromtimestamp(at).date(), at
        self._first, self._counted, self._today, self._lower = {}, {}, {}, {}
