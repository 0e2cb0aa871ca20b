"""The partitioned jobs that materialize the whole chain (with its checks) for one month, one per source.

`monthly_job` reads local snapshots by default (the UI's Materialize button, the CLI); `monthly_live_job`
and `monthly_archive_job` are the same assets with another default source, so that the schedule and a
backfill from the UI's partition picker need no launchpad editing. Every run covers one month: the
assets keep Dagster's default backfill policy (one run per partition), so each month's checks gate that
month alone. No asset reads another month through a partition mapping (defs/indices.py says why), and the
instance runs a backfill's months one at a time, in calendar order (instance.py).
"""

from __future__ import annotations

import dagster as dg

from dominance_pipeline.defs.assets import ASSETS
from dominance_pipeline.defs.freshness import FRESHNESS_CHECKS, freshness_job
from dominance_pipeline.defs.timeseries import TIMESERIES_ASSETS

CHAIN = dg.AssetSelection.assets(*ASSETS)
DESCRIPTION = "raw_hub_listings -> origin_tagged_models -> monthly_aggregates -> dominance_indices (+ monthly_leaderboard), gated by checks"


def source_config(source: str) -> dict[str, object]:
    """Run config choosing the raw listing's source (RawListingConfig.source)."""
    return {"ops": {"raw_hub_listings": {"config": {"source": source}}}}


monthly_job = dg.define_asset_job("monthly_job", selection=CHAIN, description=f"{DESCRIPTION}; local snapshots by default.")


def source_job(source: str, what: str) -> dg.UnresolvedAssetJobDefinition:
    """The chain with `source` as the raw listing's default source (still editable in the launchpad)."""
    return dg.define_asset_job(
        f"monthly_{source}_job", selection=CHAIN, config=source_config(source), tags={"dominance/source": source},
        description=f"{DESCRIPTION}; {what}",
    )


monthly_live_job = source_job("live", "the Hub's listing now (the month that just ended). Run by monthly_live_schedule.")
monthly_archive_job = source_job("archive", "the public snapshot dataset on the Hub (backfills from 2024-07).")

# The freshness check sits on dominance_timeseries but has its own job: a refresh after one month (the CLI
# runs this job after each) would warn, for a month of 2025, that 2026-10 is missing.
timeseries_job = dg.define_asset_job(
    "timeseries_job",
    selection=dg.AssetSelection.assets(*TIMESERIES_ASSETS) - dg.AssetSelection.checks(*FRESHNESS_CHECKS),
    description="Refresh dominance_timeseries and dominance_crossover from every materialized month.",
)

JOBS = [monthly_job, monthly_live_job, monthly_archive_job, timeseries_job, freshness_job]
