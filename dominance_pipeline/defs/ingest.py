"""raw_hub_listings: the Hub's model listing as of the end of each month, normalised to the raw schema."""

from pathlib import Path

import dagster as dg
import polars as pl
from pydantic import Field

from dominance_pipeline.defs.partitions import GROUP, month_of, monthly
from dominance_pipeline.defs.resources import LocalSnapshotsResource, WarehouseResource
from dominance_pipeline.sources import local
from dominance_pipeline.sources.normalise import normalise
from dominance_pipeline.storage import parquet


class RawListingConfig(dg.Config):
    """Which source stands for the month-end listing."""

    source: str = Field(default="local", description="Where the listing comes from: local.")
    snapshot: str | None = Field(
        default=None, description="A hub-stats Parquet file; default <sample dir>/hub_stats_YYYY-MM.parquet."
    )


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
    source = local.declared_source(path) or config.source  # a synthetic file says so, and every row records it
    result = normalise(local.scan_snapshot(path), month=month, snapshot_at=snapshot_at, source=source)
    # Written even when empty, so that a re-run replaces an older quarantine.
    qpath = parquet.write_partition(result.quarantine, warehouse.quarantine, "raw_hub_listings", key)
    if result.quarantine.height:
        context.log.warning(f"{result.quarantine.height} rows quarantined: {result.notes['quarantine_reasons']}")
    return dg.Output(
        result.rows,
        metadata={
            "source": source,
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
