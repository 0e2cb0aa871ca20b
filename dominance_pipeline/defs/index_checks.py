"""Checks for the index set beyond the shares and HHI, the leaderboard, and the time series."""

import dagster as dg
import polars as pl

from dominance_pipeline.defs.checks import _result
from dominance_pipeline.defs.indices import dominance_indices
from dominance_pipeline.defs.leaderboard import monthly_leaderboard
from dominance_pipeline.defs.partitions import monthly
from dominance_pipeline.defs.timeseries import dominance_timeseries
from dominance_pipeline.metrics.leaderboard import TOP
from dominance_pipeline.quality import dominance_rules


@dg.asset_check(
    asset=dominance_indices,
    blocking=True,
    partitions_def=monthly,
    description="CR-n and Gini in [0, 1], effective_orgs >= 1, ratios >= 0, gaps in [-1, 1], country only on shares, no UNATTRIBUTED under attributed, no duplicate rows.",
)
def dominance_indices_bounds(dominance_indices: pl.DataFrame) -> dg.AssetCheckResult:
    return _result(dominance_rules.index_bound_rules(dominance_indices), dominance_indices.height)


@dg.asset_check(
    asset=monthly_leaderboard,
    blocking=True,
    partitions_def=monthly,
    description=f"Competition ranks within the top {TOP} per board and view, unique names, shares in [0, 1], rank_change = previous_rank - rank.",
)
def monthly_leaderboard_valid(monthly_leaderboard: pl.DataFrame) -> dg.AssetCheckResult:
    return _result(dominance_rules.leaderboard_rules(monthly_leaderboard, TOP), monthly_leaderboard.height)


@dg.asset_check(asset=dominance_timeseries, blocking=True, description="Every month of the series passes the monthly index rules.")
def dominance_timeseries_valid(dominance_timeseries: pl.DataFrame) -> dg.AssetCheckResult:
    return _result(dominance_rules.timeseries_rules(dominance_timeseries), dominance_timeseries.height)


INDEX_CHECKS = [dominance_indices_bounds, monthly_leaderboard_valid, dominance_timeseries_valid]
