"""The partitioned job that materializes the whole chain (with its checks) for one month."""

from __future__ import annotations

import dagster as dg

from dominance_pipeline.defs.assets import ASSETS
from dominance_pipeline.defs.timeseries import timeseries_job

monthly_job = dg.define_asset_job(
    "monthly_job",
    selection=dg.AssetSelection.assets(*ASSETS),
    description="raw_hub_listings -> origin_tagged_models -> monthly_aggregates -> dominance_indices (+ monthly_leaderboard), gated by checks.",
)

JOBS = [monthly_job, timeseries_job]
