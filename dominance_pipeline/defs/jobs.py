"""The partitioned jobs that materialize the whole chain (with its checks) for one month, one per source.

`monthly_job` reads local snapshots by default (the UI's Materialize button, the CLI); `monthly_live_job`
and `monthly_archive_job` are the same assets with another default source, so that the schedule and a
backfill from the UI's partition picker need no launchpad editing. Every run covers one month: the
assets keep Dagster's default backfill policy (one run per partition), so each month's checks gate that
month alone.
"""

from __future__ import annotations

import dagster as dg

from dominance_pipeline.defs.assets import ASSETS
from dominance_pipeline.defs.freshness import FRESHNESS_CHECKS, freshness_job
from dominance_pipeline.defs.timeseries import timeseries_job

# The freshness check is about all months, not the month a run builds: it has its own job.
CHAIN = dg.AssetSelection.assets(*ASSETS) - dg.AssetSelection.checks(*FRESHNESS_CHECKS)
DESCRIPTION = "raw_hub_listings -> origin_tagged_models -> monthly_aggregates -> dominance_indices (+ monthly_leaderboard), gated by checks"


def source_config(source: str) -> dict[str, object]:
    """Run config choosing the raw listing's source (RawListingConfig.source)."""
    return {"ops": {"raw_hub_listings": {"config": {"source": source}}}}


monthly_job = dg.define_asset_job("monthly_job", selection=CHAIN, description=f"{DESCRIPTION}; local snapshots by default.")

monthly_live_job = dg.define_asset_job(
    "monthly_live_job",
    selection=CHAIN,
    config=source_config("live"),
    tags={"dominance/source": "live"},
    description=f"{DESCRIPTION}; the Hub's listing now (the month that just ended). Run by monthly_live_schedule.",
)

monthly_archive_job = dg.define_asset_job(
    "monthly_archive_job",
    selection=CHAIN,
    config=source_config("archive"),
    tags={"dominance/source": "archive"},
    description=f"{DESCRIPTION}; the public snapshot dataset on the Hub (backfills from 2024-07).",
)

JOBS = [monthly_job, monthly_live_job, monthly_archive_job, timeseries_job, freshness_job]
