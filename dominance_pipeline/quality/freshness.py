"""Is the last complete month there? The rule behind the freshness check, without Dagster.

A month cannot be materialized the moment it ends: the monthly schedule lists the Hub on the 2nd at
06:00 UTC, and a listing of ~3 million models takes a while. So a month is *due* from a deadline after it
ended (the 3rd of the next month, 00:00 UTC, 18 hours after the scheduled run starts), and the check
expects the latest month whose deadline has passed: on 2026-06-02 that is still 2026-04, from 2026-06-03
on it is 2026-05. Only that month decides the outcome (the product's headline is the latest month);
earlier gaps are reported beside it, since a backfill closes them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

DEADLINE_DAY = 3
DEADLINE_HOUR = 0


def _month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def _add_months(month: dt.date, n: int) -> dt.date:
    index = month.year * 12 + month.month - 1 + n
    return dt.date(index // 12, index % 12 + 1, 1)


def deadline(month: dt.date) -> dt.datetime:
    """When `month` must be materialized by: DEADLINE_DAY of the next month, DEADLINE_HOUR UTC."""
    nxt = _add_months(_month_start(month), 1)
    return dt.datetime(nxt.year, nxt.month, DEADLINE_DAY, DEADLINE_HOUR, tzinfo=dt.UTC)


def due_month(now: dt.datetime) -> dt.date:
    """The latest month whose deadline has passed at `now` (an aware datetime)."""
    last_complete = _add_months(_month_start(now.astimezone(dt.UTC).date()), -1)
    return last_complete if now >= deadline(last_complete) else _add_months(last_complete, -1)


@dataclass(frozen=True)
class Freshness:
    as_of: dt.datetime
    due: dt.date
    latest: dt.date | None
    missing: tuple[dt.date, ...]
    """Months not materialized, from the first materialized one (or the due one) up to the due one."""

    @property
    def passed(self) -> bool:
        return self.due not in self.missing

    def summary(self) -> str:
        due = f"{self.due:%Y-%m} (due by {deadline(self.due):%Y-%m-%d %H:%M} UTC)"
        if self.passed:
            gaps = f"; earlier months missing: {', '.join(f'{m:%Y-%m}' for m in self.missing)}" if self.missing else ""
            return f"the last complete month {due} is materialized{gaps}"
        if self.latest is None:
            return f"the last complete month {due} is not materialized: no month is"
        return (
            f"the last complete month {due} is not materialized; the latest month is {self.latest:%Y-%m}, "
            f"{len(self.missing)} month(s) missing: {', '.join(f'{m:%Y-%m}' for m in self.missing)}"
        )


def assess(materialized: Iterable[dt.date], now: dt.datetime) -> Freshness:
    """Whether the month due at `now` is among the `materialized` months (their first days)."""
    have = {_month_start(m) for m in materialized}
    due = due_month(now)
    upto = sorted(m for m in have if m <= due)
    latest = max(have) if have else None
    start = upto[0] if upto else due
    missing, m = [], start
    while m <= due:
        if m not in have:
            missing.append(m)
        m = _add_months(m, 1)
    return Freshness(as_of=now, due=due, latest=latest, missing=tuple(missing))
