"""dominance_indices: every published index, one long table per month."""

import dagster as dg
import polars as pl

from dominance_pipeline.defs.aggregates import monthly_aggregates
from dominance_pipeline.defs.gates import require_accepted
from dominance_pipeline.defs.partitions import FIRST_MONTH, GROUP, month_of, monthly
from dominance_pipeline.defs.resources import WarehouseResource
from dominance_pipeline.metrics import indices
from dominance_pipeline.quality.suites import previous_month
from dominance_pipeline.storage import verdicts

# The previous month's listing (download_delta_share) is read from the warehouse in the body, not through
# an input mapped to the previous partition: such an input makes a UI backfill of months M1..Mn also target
# the indices of Mn+1 and plan every month in two runs.
PREVIOUS_LISTING_COLUMNS = ["month", "model_id", "downloads_all_time", "snapshot_at"]


@dg.asset(
    partitions_def=monthly,
    group_name=GROUP,
    kinds={"polars", "parquet"},
    # monthly_aggregates is not read: depending on it lets its blocking conservation check gate the month.
    deps=[monthly_aggregates],
    ins={"origin_tagged_models": dg.AssetIn(metadata={"columns": list(indices.COLUMNS)})},
    description="The dominance indices in one long table: month, index, view, denominator, country, value.",
)
def dominance_indices(
    context: dg.AssetExecutionContext, origin_tagged_models: pl.DataFrame, warehouse: WarehouseResource
) -> dg.Output[pl.DataFrame]:
    key = context.partition_key
    for upstream in ("origin_tagged_models", "monthly_aggregates"):
        require_accepted(context, warehouse, upstream, key)
    month = month_of(key)
    before = previous_month(month)
    previous_verdict = verdicts.read(warehouse.path, "raw_hub_listings", before)
    previous: pl.DataFrame | None = None
    if not previous_verdict.usable:  # not read at all: a refused listing is no previous month
        why = f"{previous_verdict.refusal('raw_hub_listings', before)}: fix that month, then materialize this one again"
    elif (listing := warehouse.read_month("raw_hub_listings", before.isoformat(), PREVIOUS_LISTING_COLUMNS)).is_empty():
        why = (
            f"no previous month: {key[:7]} is the first partition"
            if key == FIRST_MONTH
            else f"raw_hub_listings for {before:%Y-%m} is not materialized (or empty): materialize that month, then this one again"
        )
    else:
        previous, why = listing, ""
    result = indices.compute(origin_tagged_models, month, previous, why)
    if result.absent:
        context.log.info(f"no rows for {key[:7]} (reasons in the metadata, 'absent'): {', '.join(result.absent)}")
    return dg.Output(
        result.table,
        metadata={
            "preview": dg.MetadataValue.md(summary_markdown(result.table)),
            "indices": len(result.table.get_column("index").unique()),
            "absent": dg.MetadataValue.json(result.absent),
            **{k: dg.MetadataValue.json(v) if isinstance(v, dict) else v for k, v in result.notes.items()},
        },
    )


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.2%}"


def summary_markdown(ix: pl.DataFrame) -> str:
    """CN, US and UNATTRIBUTED download shares plus the CN/US ratio, per view and denominator, as Markdown."""
    lines = ["| view | denominator | CN | US | UNATTRIBUTED | CN/US |", "|---|---|---|---|---|---|"]
    shares = ix.filter(pl.col("index") == "download_share")
    ratios = {(v, d): x for v, d, x in ix.filter(pl.col("index") == "china_us_ratio").select("view", "denominator", "value").iter_rows()}
    for (view, den), grp in shares.group_by("view", "denominator", maintain_order=True):
        got = dict(grp.select("country", "value").iter_rows())
        ratio = ratios.get((view, den))
        lines.append(
            f"| {view} | {den} | {_pct(got.get('CN'))} | {_pct(got.get('US'))} | {_pct(got.get('UNATTRIBUTED'))} | "
            f"{'–' if ratio is None else f'{ratio:.3f}'} |"
        )
    return "\n".join(lines)
