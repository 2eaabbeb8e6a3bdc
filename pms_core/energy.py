"""Today's energy from the PCS's lifetime counters: the counter now minus its first value of the local day.

The PCS counts charged and discharged energy since it was built (a kWh and an
MWh register per counter) and nothing per day. The day's first value comes
from the history when the PMS already ran today (`seed`), else from the first
reading; `since` says from when the figure counts, so a PMS started at noon
without history does not pass half a day off as a whole one.

The day is the local day of the wall clock at each reading, and the wall clock
may be corrected (a time sync, an operator):

- Forward into a later day (23:50 -> 00:10): a new day begins, counted from
  its first reading (`since` says 00:10, not midnight).
- Backward into an earlier day (00:10 -> 23:50): the day the clock says now
  goes on counting from its own first value, as if the clock had never been
  ahead: nothing restarts, nothing goes negative. When midnight comes again,
  the day that had already begun goes on too: no day starts twice. The energy
  of the minutes the clock was ahead then counts in both days (at most the size
  of the correction); a "today" that never drops within a day is worth more
  than exactness over a wrong clock. The counters of the two days last used
  are kept; a jump further back starts that day afresh from its first reading.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

COUNTERS = ("ac_charge", "ac_discharge", "dc_charge", "dc_discharge")
RESET_READINGS = 3  # a counter lower than the day's first value this many times in a row was reset at the device
KEPT_DAYS = 2  # days whose counters are kept, for a wall clock set back across midnight


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


@dataclass
class _Day:
    day: date
    since: float  # when the day's first values were taken
    first: dict[str, float] = field(default_factory=dict)
    counted: dict[str, float] = field(default_factory=dict)  # what was counted before the counter was reset at the device
    today: dict[str, float] = field(default_factory=dict)
    lower: dict[str, int] = field(default_factory=dict)  # readings in a row below the day's first value


class DailyCounters:
    def __init__(self) -> None:
        self._days: dict[date, _Day] = {}  # the days last used, the current one last

    @property
    def day(self) -> date | None:
        """The local day being counted, None before the first reading."""
        current = self._current()
        return None if current is None else current.day

    @property
    def since(self) -> float | None:
        """When the current day's first values were taken."""
        current = self._current()
        return None if current is None else current.since

    def seed(self, first: dict[str, float], since: float) -> None:
        """The day's first values as the history recorded them before a restart."""
        self._days.pop(datetime.fromtimestamp(since).date(), None)
        self._use(datetime.fromtimestamp(since).date(), since).first = dict(first)

    def today(self, at: float, totals: dict[str, float | None]) -> dict[str, float | None]:
        day = self._use(datetime.fromtimestamp(at).date(), at)
        return {counter: self._count(day, counter, total) for counter, total in totals.items()}

    def _current(self) -> _Day | None:
        return next(reversed(self._days.values()), None)

    def _use(self, day: date, at: float) -> _Day:
        """The counters of `day`, made the current ones: kept ones go on (see the module), else a new day at `at`."""
        counters = self._days.pop(day, None) or _Day(day, at)
        self._days[day] = counters
        while len(self._days) > KEPT_DAYS:
            del self._days[next(iter(self._days))]
        return counters

    @staticmethod
    def _count(day: _Day, counter: str, total: float | None) -> float | None:
        if total is None:
            return None
        first = day.first.setdefault(counter, total)
        if total >= first:
            day.lower[counter] = 0
            day.today[counter] = round(day.counted.get(counter, 0.0) + total - first, 1)
        else:
            # Lower than this morning: a counter reset at the device, or one reading taken while the kWh register
            # had wrapped and the MWh one not yet moved on. Only a drop that lasts is a reset; until then, and
            # after it, the count so far holds.
            day.lower[counter] = day.lower.get(counter, 0) + 1
            if day.lower[counter] >= RESET_READINGS:
                day.lower[counter] = 0
                day.first[counter] = total
                day.counted[counter] = day.today.get(counter, 0.0)
        return day.today.get(counter, 0.0)
