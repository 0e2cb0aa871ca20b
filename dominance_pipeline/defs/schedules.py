"""What runs unattended under the Dagster daemon (`make ui`, or `dagster-daemon run` in a deployment).

- `monthly_live_schedule`: on the 2nd of each month at 06:00 UTC, the month that just ended from the Hub's
  live listing (monthly_live_job). Ships STOPPED: it calls huggingface.co, which a newcomer's `make ui`
  without network or HF_TOKEN cannot reach, and a schedule that fails every month teaches nothing. Turn it
  on in the UI (Automation) or with `dagster schedule start monthly_live_schedule -w workspace.yaml`; the
  instance remembers the choice across restarts.
- `freshness_schedule`: every day at 07:00 UTC, dominance_indices_fresh (is the last complete month
  there?). Local and cheap, so it ships RUNNING.
- `timeseries_refresh_sensor`: evaluates REFRESH_AFTER_MONTHS (defs/automation.py) on the all-months assets
  every minute, so the series and the chart follow scheduled and backfilled months. Local, ships RUNNING.
- `pool_wakeup_sensor`: every 30 seconds, hands a free pool slot to a step that Dagster left waiting for it
  (`instance.wake_stalled_steps`: two runs of a UI backfill can lose the hand-over of the hf_api slot).
  Local, ships RUNNING; CLI runs do the same for themselves.
"""

import dagster as dg

from dominance_pipeline.defs.freshness import freshness_job
from dominance_pipeline.defs.jobs import monthly_live_job
from dominance_pipeline.defs.timeseries import TIMESERIES_ASSETS
from dominance_pipeline.instance import wake_stalled_steps

MONTHLY_HOUR_UTC = 6
MONTHLY_DAY = 2

monthly_live_schedule = dg.build_schedule_from_partitioned_job(
    monthly_live_job,
    name="monthly_live_schedule",
    description="The month that just ended, from the Hub's live listing, on the 2nd at 06:00 UTC.",
    minute_of_hour=0,
    hour_of_day=MONTHLY_HOUR_UTC,
    day_of_month=MONTHLY_DAY,
    default_status=dg.DefaultScheduleStatus.STOPPED,
)

freshness_schedule = dg.ScheduleDefinition(
    name="freshness_schedule",
    job=freshness_job,
    cron_schedule="0 7 * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Every day: is the last complete month of dominance_indices materialized?",
)

timeseries_refresh_sensor = dg.AutomationConditionSensorDefinition(
    "timeseries_refresh_sensor",
    target=dg.AssetSelection.assets(*TIMESERIES_ASSETS),
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=60,
    description="Refreshes dominance_timeseries and dominance_crossover after months of dominance_indices change.",
)


@dg.sensor(
    name="pool_wakeup_sensor",
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Hands a free pool slot to a step left waiting for it (see instance.wake_stalled_steps).",
)
def pool_wakeup_sensor(context: dg.SensorEvaluationContext) -> dg.SkipReason:
    woken = wake_stalled_steps(context.instance)
    if woken:
        return dg.SkipReason(f"handed a free slot to a waiting step in {', '.join(woken)}")
    return dg.SkipReason("no step waits for a free pool slot")


SCHEDULES = [monthly_live_schedule, freshness_schedule]
SENSORS = [timeseries_refresh_sensor, pool_wakeup_sensor]
