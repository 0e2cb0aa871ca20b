"""raw_hub_listings: the Hub's model listing as of the end of each month, normalised to the raw schema.

Three sources stand for the month-end listing (RawListingConfig.source): `local`, a snapshot file on
disk; `live`, the Hub's API now (only for a month that just ended); `archive`, the public snapshot
datasets (backfills). Each yields a hub-shaped Parquet file that `publish_listing` normalises and writes
batch by batch, so the asset writes its own partition (atomically) instead of handing a frame to the IO
manager: the Hub's ~3 million models never sit in memory at once.
"""

import tempfile
from pathlib import Path

import dagster as dg
from dagster_duckdb import DuckDBResource
from pydantic import Field

from dominance_pipeline.defs.partitions import GROUP, month_of, monthly
from dominance_pipeline.defs.resources import (
    HubApiResource,
    HubArchiveResource,
    LocalSnapshotsResource,
    QualityResource,
    WarehouseResource,
    refresh_view,
)
from dominance_pipeline.quality.suites import previous_month
from dominance_pipeline.sources import archive, live, local
from dominance_pipeline.sources.publish import TABLE, parquet_batches, publish_listing
from dominance_pipeline.storage import parquet

SOURCES = ("local", "live", "archive")
HUB_POOL = "hf_api"


class RawListingConfig(dg.Config):
    """Which source stands for the month-end listing."""

    source: str = Field(default="local", description="Where the listing comes from: local, live or archive.")
    snapshot: str | None = Field(
        default=None, description="local: a hub-stats Parquet file; default <sample dir>/hub_stats_YYYY-MM.parquet."
    )
    max_snapshot_lag_days: int = Field(
        default=7, description="live: how many days after the month ended a live listing may still stand for it."
    )


@dg.asset(
    partitions_def=monthly,
    group_name=GROUP,
    kinds={"polars", "parquet"},
    pool=HUB_POOL,
    description="The Hub's model listing as of the end of the month, normalised to the raw schema.",
)
def raw_hub_listings(
    context: dg.AssetExecutionContext,
    config: RawListingConfig,
    local_snapshots: LocalSnapshotsResource,
    warehouse: WarehouseResource,
    hub_api: HubApiResource,
    hub_archive: HubArchiveResource,
    duckdb: DuckDBResource,
    quality: QualityResource,
) -> dg.MaterializeResult:
    key = context.partition_key
    month = month_of(key)
    if config.source not in SOURCES:
        raise ValueError(f"unknown source {config.source!r}: use one of {', '.join(SOURCES)}")
    if config.source != "local" and config.snapshot:
        raise ValueError(f"snapshot={config.snapshot!r} is only for the local source, not {config.source}")
    log = context.log.info
    max_count = quality.thresholds().raw_hub_listings.max_count
    warehouse.path.mkdir(parents=True, exist_ok=True)
    source = config.source
    with tempfile.TemporaryDirectory(dir=warehouse.path, prefix=".staging-") as tmp:
        staged = Path(tmp) / "listing.parquet"
        if config.source == "local":
            path = local.find_snapshot(month, Path(local_snapshots.snapshot_dir), config.snapshot)
            snapshot_at = local.infer_snapshot_at(path)
            log(f"reading {path} (snapshot taken no earlier than {snapshot_at:%Y-%m-%d %H:%M} UTC)")
            staged, extra = path, {"snapshot_file": dg.MetadataValue.path(str(path))}
            source = local.declared_source(path) or config.source  # a synthetic file says so; every row records it
        elif config.source == "live":
            listing = live.stage_listing(
                endpoint=hub_api.base_url,
                token=hub_api.token,
                month=month,
                path=staged,
                max_lag_days=config.max_snapshot_lag_days,
                page_size=hub_api.page_size,
                requests_per_5min=hub_api.requests_per_5min,
                # Last month's count from its Parquet footer: the ETA when the Hub gives no total.
                expected_total=parquet.partition_rows(warehouse.path, TABLE, previous_month(month)),
                log=log,
            )
            snapshot_at, extra = listing.snapshot_at, {"endpoint": hub_api.base_url, **listing.metadata()}
        else:
            snap = archive.find_snapshot(hub_api.base_url, hub_api.token, hub_archive.dataset, month, hub_archive.max_days_late)
            read = archive.stage_snapshot(hub_api.base_url, hub_api.token, snap, staged, log=log)
            snapshot_at, extra = snap.taken_at, {"endpoint": hub_api.base_url, **read.metadata()}
        notes = publish_listing(
            parquet_batches(staged), warehouse=warehouse.path, quarantine=warehouse.quarantine,
            month=month, snapshot_at=snapshot_at, source=source, max_count=max_count,
        )
    refresh_view(duckdb, warehouse.path, TABLE, context.log)
    if notes["quarantined"]:
        context.log.warning(f"{notes['quarantined']} rows quarantined: {notes['quarantine_reasons']}")
    if notes["missing_columns"]:
        log(f"columns absent from the source, left null: {', '.join(notes['missing_columns'])}")  # type: ignore[arg-type]
    path = Path(notes["path"])  # type: ignore[arg-type]
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": notes["rows_out"],
            "path": dg.MetadataValue.path(str(path)),
            "bytes": path.stat().st_size,
            "source": source,
            **extra,
            "snapshot_at": snapshot_at.isoformat(),
            "rows_in": notes["rows_in"],
            "quarantined": notes["quarantined"],
            "quarantine_reasons": dg.MetadataValue.json(notes["quarantine_reasons"]),
            "quarantine_file": dg.MetadataValue.path(str(notes["quarantine_path"])),
            "missing_columns": dg.MetadataValue.json(notes["missing_columns"]),
            "recast_columns": dg.MetadataValue.json(notes["recast_columns"]),
            "placeholder_created_at": notes["placeholder_created_at"],
            "downloads_30d_total": notes["downloads_30d_total"],
        }
    )
