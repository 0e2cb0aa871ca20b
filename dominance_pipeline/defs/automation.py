"""When the all-months assets (dominance_timeseries, dominance_crossover) refresh themselves.

They cover every materialized month, so they are stale as soon as any month of dominance_indices changes:
after the scheduled run, after each month of a backfill launched from the UI, after a month materialized
by hand. `REFRESH_AFTER_MONTHS` asks for one refresh once a month has been updated and nothing upstream is
still running (a whole backfill counts as running until its last month, so a 24-month backfill refreshes
the series once, not 24 times). `timeseries_refresh_sensor` (defs/schedules.py) evaluates it; the CLI
refreshes in-process instead, so it needs no daemon.
"""

import dagster as dg

REFRESH_AFTER_MONTHS = (
    dg.AutomationCondition.any_deps_updated().since_last_handled()
    & ~dg.AutomationCondition.any_deps_in_progress()
    & ~dg.AutomationCondition.in_progress()
).with_label("refresh after new months")
