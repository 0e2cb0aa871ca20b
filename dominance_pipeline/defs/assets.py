"""The four monthly assets: raw hub listings -> origin-tagged models -> monthly aggregates -> dominance indices.

Each asset body is a call into the pure core plus the metadata a reader of the Dagster UI needs to judge
the partition (counts, coverage, what was quarantined). Storage is the IO manager's job.
"""


from pathlib import Path
import dagster as dg
import polars as pl
from pydantic import Field

from dominance_pipeline.defs.partitions import month_of, monthly
from dominance_pipeline.defs.resources import LocalSnapshotsResource, RegistryResource, WarehouseResource
from dominance_pipeline.metrics import aggregates, indices
from dominance_pipeline.origin import tagging
from dominance_pipeline.sources import local
from dominance_pipeline.sources.normalise import Normalised, normalise
from dominance_pipeline.storage import parquet

GROUP = "dominance"


class RawListingConfig(dg.Config):
    """Which source stands for the month-end listing."""

    source: str = Field(default="local", description="Where the listing comes from: local.")
    snapshot: str | None = Field(
        default=None, description="A hub-stats Parquet file; default <sample dir>/hub_stats_YYYY-MM.parquet."
    )


def _publish_quarantine(warehouse: WarehouseResource, table: str, key: str, result: Normalised) -> Path:
    """Write the partition's quarantine (even when empty, so a re-run replaces an older one)."""
    return parquet.write_partition(result.quarantine, warehouse.quarantine, table, key)


@dg.asset(
    partitions_def=monthly,
    group_name=GROUP,
    kinds={"polars", "parquet"},
    description="The Hub's model listing as of the end of the month, normalised to the raw schema.",
)
def raw_hub_listings(
    context: dg.AssetExecutionContext,
    config: RawListingConfig,
    local_snapshots: LocalSnapshotsResource,
    warehouse: WarehouseResource,
) -> dg.Output[pl.DataFrame]:
    key = context.partition_key
    month = month_of(key)
    path = local.find_snapshot(month, Path(local_snapshots.snapshot_dir), config.snapshot)
    snapshot_at = local.infer_snapshot_at(path)
    context.log.info(f"reading {path} (snapshot taken no earlier than {snapshot_at:%Y-%m-%d %H:%M} UTC)")
    result = normalise(local.scan_snapshot(path), month=month, snapshot_at=snapshot_at, source=config.source)
    qpath = _publish_quarantine(warehouse, "raw_hub_listings", key, result)
    if result.quarantine.height:
        context.log.warning(f"{result.quarantine.height} rows quarantined: {result.notes['quarantine_reasons']}")
    return dg.Output(
        result.rows,
        metadata={
            "source": config.source,
            "snapshot_file": dg.MetadataValue.path(str(path)),
            "snapshot_at": snapshot_at.isoformat(),
            "rows_in": result.notes["rows_in"],
            "quarantined": result.quarantine.height,
            "quarantine_reasons": dg.MetadataValue.json(result.notes["quarantine_reasons"]),
            "quarantine_file": dg.MetadataValue.path(str(qpath)),
            "missing_columns": dg.MetadataValue.json(result.notes["missing_columns"]),
            "placeholder_created_at": result.notes["placeholder_created_at"],
            "downloads_30d_total": int(result.rows.get_column("downloads_30d").sum() or 0),
        },
    )


@dg.asset(
    partitions_def=monthly,
    group_name=GROUP,
    kinds={"polars", "parquet"},
    description="Every model with its uploader's country (direct view) and its root base model's country (lineage view).",
)
def origin_tagged_models(
    context: dg.AssetExecutionContext, raw_hub_listings: pl.DataFrame, registry: RegistryResource
) -> dg.Output[pl.DataFrame]:
    reg = registry.load()
    tagged, stats = tagging.tag(raw_hub_listings, reg)
    cov = tagging.coverage(tagged)
    context.log.info(f"attributed downloads: direct {cov['direct']:.2%}, lineage {cov['lineage']:.2%}")
    return dg.Output(
        tagged,
        metadata={
            "coverage_direct": cov["direct"],
            "coverage_lineage": cov["lineage"],
            "lineage_status": dg.MetadataValue.json(stats["lineage_status"]),
            "max_lineage_depth": stats["max_lineage_depth"],
            "registry": dg.MetadataValue.path(str(reg.path)),
            "registry_namespaces": reg.rows.height,
        },
    )


@dg.asset(
    partitions_def=monthly,
    group_name=GROUP,
    kinds={"polars", "parquet"},
    description="Per view and country: models, new models, 30-day and all-time downloads, likes.",
)
def monthly_aggregates(context: dg.AssetExecutionContext, origin_tagged_models: pl.DataFrame) -> dg.Output[pl.DataFrame]:
    out = aggregates.aggregate(origin_tagged_models, month_of(context.partition_key))
    return dg.Output(out, metadata={"countries_direct": out.filter(pl.col("view") == "direct").height})


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


ASSETS = [raw_hub_listings, origin_tagged_models, monthly_aggregates, dominance_indices]
