"""dominance_indices_fresh: is the last complete month materialized? (the rule: quality/freshness.py)

Not partitioned: it looks at every month, through the instance's record of which months of
dominance_indices have been materialized, so it sits on the all-months asset, dominance_timeseries. On
dominance_indices, every run that builds one month from the UI (each run of a backfill of 2025) ran it too,
and reported, month after month, that 2026-10 was missing. It runs when the series is refreshed, in
`freshness_job` (every day by `freshness_schedule`, at the end of `dominance-pipeline backfill`), or from the
UI (the check's Execute button). A missing month is late, not wrong, so the check warns (WARN) rather than
failing the data.
"""

import datetime as dt
from pathlib import Path

import dagster as dg
from pydantic import Field

from dominance_pipeline.defs.resources import WarehouseResource
from dominance_pipeline.defs.timeseries import dominance_timeseries
from dominance_pipeline.quality import freshness
from dominance_pipeline.storage import verdicts

INDICES = dg.AssetKey("dominance_indices")


class FreshnessConfig(dg.Config):
    as_of: str | None = Field(
        default=None,
        description="Judge freshness as of this ISO time (for example 2026-06-03T00:00:00Z) instead of now.",
    )


def as_of_time(text: str | None) -> dt.datetime:
    if not text:
        return dt.datetime.now(dt.UTC)
    parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def materialized_months(instance: dg.DagsterInstance, warehouse: Path | None = None) -> list[dt.date]:
    """The months whose indices are materialized, less those whose indices failed their check (a month left
    out of the series is not fresh data) when the `warehouse` is given."""
    months = sorted(dt.date.fromisoformat(k) for k in instance.get_materialized_partitions(INDICES))
    if warehouse is None:
        return months
    return [m for m in months if verdicts.read(warehouse, "dominance_indices", m).usable]


@dg.asset_check(
    asset=dominance_timeseries,
    description=(
        "The last complete month of dominance_indices is materialized (due by the 3rd of the next month, 00:00 UTC, "
        "after the monthly schedule on the 2nd at 06:00)."
    ),
)
def dominance_indices_fresh(
    context: dg.AssetCheckExecutionContext, config: FreshnessConfig, warehouse: WarehouseResource
) -> dg.AssetCheckResult:
    result = freshness.assess(materialized_months(context.instance, warehouse.path), as_of_time(config.as_of))
    return dg.AssetCheckResult(
        passed=result.passed,
        severity=dg.AssetCheckSeverity.WARN,
        description=result.summary(),
        metadata={
            "due_month": f"{result.due:%Y-%m}",
            "deadline": dg.MetadataValue.timestamp(freshness.deadline(result.due)),
            "latest_month": f"{result.latest:%Y-%m}" if result.latest else "none",
            "missing_months": dg.MetadataValue.json([f"{m:%Y-%m}" for m in result.missing]),
            "as_of": result.as_of.isoformat(),
        },
    )


FRESHNESS_CHECKS = [dominance_indices_fresh]

freshness_job = dg.define_asset_job(
    "freshness_job",
    selection=dg.AssetSelection.checks(dominance_indices_fresh),
    description="Is the last complete month of dominance_indices materialized? (a WARN when it is not)",
)
