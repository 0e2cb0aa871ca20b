"""dominance_indices: every published index, one long table per month."""

import dagster as dg
import polars as pl

from dominance_pipeline.defs.partitions import GROUP, month_of, monthly
from dominance_pipeline.metrics import indices


@dg.asset(
    partitions_def=monthly,
    group_name=GROUP,
    kinds={"polars", "parquet"},
    description="The dominance indices in one long table: month, index, view, denominator, country, value.",
)
def dominance_indices(
    context: dg.AssetExecutionContext, monthly_aggregates: pl.DataFrame, origin_tagged_models: pl.DataFrame
) -> dg.Output[pl.DataFrame]:
    out = indices.compute(monthly_aggregates, origin_tagged_models, month_of(context.partition_key))
    return dg.Output(out, metadata={"preview": dg.MetadataValue.md(summary_markdown(out))})


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
