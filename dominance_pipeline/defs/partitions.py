"""Monthly partitions from 2024-07 (the first month of the public weekly Hub snapshots) to the last complete month."""

from __future__ import annotations

import datetime as dt
import re

import dagster as dg

FIRST_MONTH = "2024-07-01"
GROUP = "dominance"

monthly = dg.MonthlyPartitionsDefinition(start_date=FIRST_MONTH, end_offset=0)


def month_of(partition_key: str) -> dt.date:
    return dt.date.fromisoformat(partition_key)


def partition_key(month: str) -> str:
    """'2026-05' or '2026-05-01' -> '2026-05-01'; a clear ValueError for anything else."""
    text = month.strip()
    try:
        # The shape first: date.fromisoformat also reads 20260501 and week dates (2026-W18-5), and strptime 2026-5-1.
        if not re.fullmatch(r"[0-9]{4}-[0-9]{2}(-[0-9]{2})?", text):
            raise ValueError(text)
        parsed = dt.date.fromisoformat(text if len(text) == 10 else f"{text}-01")
    except ValueError:
        raise ValueError(f"month must look like YYYY-MM (for example 2026-05), got {month!r}") from None
    if parsed.day != 1:
        raise ValueError(f"month must look like YYYY-MM (for example 2026-05), got {month!r}")
    return parsed.isoformat()


def require_partition(key: str) -> str:
    """The key itself if it is a partition today; otherwise a ValueError saying which months exist."""
    keys = monthly.get_partition_keys()
    if key not in keys:
        last = keys[-1] if keys else FIRST_MONTH
        raise ValueError(
            f"{key[:7]} is not a partition: months run from {FIRST_MONTH[:7]} to {last[:7]} (the last complete month)"
        )
    return key
