"""The GX checks of the leaderboard, the time series and the crossover (the suites are in quality/suites.py).

The monthly leaderboard is gated per partition like the chain (defs/checks.py). The time series and the
crossover cover every materialized month and are not partitioned: their checks validate the whole table,
and a failure names the month of each offending row.
"""

import dagster as dg
import polars as pl
from dagster_duckdb import DuckDBResource

from dominance_pipeline.defs.checks import check_result, judged, judged_result
from dominance_pipeline.defs.leaderboard import monthly_leaderboard
from dominance_pipeline.defs.partitions import monthly
from dominance_pipeline.defs.resources import QualityResource, WarehouseResource
from dominance_pipeline.defs.timeseries import dominance_crossover, dominance_timeseries
from dominance_pipeline.metrics.leaderboard import TOP
from dominance_pipeline.quality import suites


@dg.asset_check(
    asset=monthly_leaderboard,
    blocking=True,
    partitions_def=monthly,
    description=f"GX suite: competition ranks within the top {TOP} per board and view, unique names, shares in [0, 1], rank_change = previous_rank - rank.",
)
def monthly_leaderboard_valid(
    context: dg.AssetCheckExecutionContext,
    monthly_leaderboard: pl.DataFrame,
    quality: QualityResource,
    warehouse: WarehouseResource,
    duckdb: DuckDBResource,
) -> dg.AssetCheckResult:
    identity = judged(warehouse, "monthly_leaderboard", context.partition_key)
    result = suites.validate_leaderboard(monthly_leaderboard, quality.thresholds(), TOP)
    return judged_result(context, warehouse, duckdb, "monthly_leaderboard", identity, result)


@dg.asset_check(
    asset=dominance_timeseries,
    blocking=True,
    description="GX suite: every month of the series under the rules of dominance_indices_valid (offenders named with their month).",
)
def dominance_timeseries_valid(dominance_timeseries: pl.DataFrame, quality: QualityResource) -> dg.AssetCheckResult:
    return check_result(suites.validate_timeseries(dominance_timeseries, quality.thresholds()))


@dg.asset_check(
    asset=dominance_crossover,
    blocking=True,
    description="GX suite: one row per (family, view), known families, a crossover inside the series with its whole run of led months.",
)
def dominance_crossover_valid(dominance_crossover: pl.DataFrame, quality: QualityResource) -> dg.AssetCheckResult:
    return check_result(suites.validate_crossover(dominance_crossover, quality.thresholds()))


INDEX_CHECKS = [monthly_leaderboard_valid, dominance_timeseries_valid, dominance_crossover_valid]
