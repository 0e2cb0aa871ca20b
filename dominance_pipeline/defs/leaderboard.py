"""monthly_leaderboard: the top models and namespaces of the month, per view, with rank changes."""

import datetime as dt

import dagster as dg
import polars as pl

from dominance_pipeline.defs.gates import require_accepted
from dominance_pipeline.defs.partitions import FIRST_MONTH, GROUP, month_of, monthly
from dominance_pipeline.defs.resources import WarehouseResource
from dominance_pipeline.metrics import leaderboard
from dominance_pipeline.storage import verdicts

COLUMNS = ["month", "model_id", "downloads_30d", "org_namespace", "org_country", "root_country", "lineage_roots"]


@dg.asset(
    partitions_def=monthly,
    group_name=GROUP,
    kinds={"polars", "parquet"},
    # This month only; the previous one (rank changes) is read from the warehouse in the body, not through an
    # input mapped to it, which would make a UI backfill of months M1..Mn also target Mn+1 (defs/indices.py).
    ins={"origin_tagged_models": dg.AssetIn(metadata={"columns": COLUMNS})},
    description=f"The top {leaderboard.TOP} models and namespaces by 30-day downloads, per view, with country, share, rank and rank change.",
)
def monthly_leaderboard(
    context: dg.AssetExecutionContext, origin_tagged_models: pl.DataFrame, warehouse: WarehouseResource
) -> dg.Output[pl.DataFrame]:
    key = context.partition_key
    require_accepted(context, warehouse, "origin_tagged_models", key)
    month = month_of(key)
    previous_month = (month - dt.timedelta(days=1)).replace(day=1)
    current = origin_tagged_models
    if current.is_empty():
        raise dg.Failure(f"origin_tagged_models for {key[:7]} is not materialized (or empty): nothing to rank")
    verdict = verdicts.read(warehouse.path, "origin_tagged_models", previous_month)
    previous = warehouse.read_month("origin_tagged_models", previous_month.isoformat(), COLUMNS) if verdict.usable else current.clear()
    board = leaderboard.leaderboard(current, previous, month)
    if previous.is_empty():
        why = (
            "first partition" if key == FIRST_MONTH
            else verdict.refusal("origin_tagged_models", previous_month) if not verdict.usable
            else f"origin_tagged_models for {previous_month:%Y-%m} is not materialized"
        )
        context.log.info(f"rank changes absent for {key[:7]}: {why}")
    else:
        why = None
    top = board.filter((pl.col("board") == "model") & (pl.col("view") == "lineage")).head(10)
    return dg.Output(
        board,
        metadata={
            "previous_month": f"{previous_month:%Y-%m}" if why is None else f"absent: {why}",
            "top_models_lineage": dg.MetadataValue.md(_markdown(top)),
        },
    )


def _markdown(rows: pl.DataFrame) -> str:
    lines = ["| rank | model | country | share | change |", "|---|---|---|---|---|"]
    for r in rows.iter_rows(named=True):
        change = "new" if r["rank_change"] is None else f"{r['rank_change']:+d}"
        lines.append(f"| {r['rank']} | {r['name']} | {r['country']} | {r['share']:.2%} | {change} |")
    return "\n".join(lines)
