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


class DailyCounters:
    def __init__(self) -> None:
        self.day: date | None = None
        self.since: float | None = None  # when the day's first values were taken
        self._first: dict[str, float] = {}

    def seed(self, first: dict[str, float], since: float) -> None:
        """The day's first values as the history recorded them before a restart."""
        self.day, self.since, self._first = _local_day(since), since, dict(first)

    def today(self, now: float, totals: dict[str, float | None]) -> dict[str, float | None]:
        if _local_day(now) != self.day:
            self.day, self.since, self._first = _local_day(now), now, {}
        out: dict[str, float | None] = {}
        for counter, total in totals.items():
            if total is None:
                out[counter] = None
                continue
            first = self._first.setdefault(counter, total)
            if total < first:  # the counter was reset at the device: count again from here
                first = self._first[counter] = total
            out[counter] = round(total - first, 1)
        return out


def _local_day(t: float) -> date:
    return datetime.fromtimestamp(t).date()
