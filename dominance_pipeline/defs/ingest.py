"""raw_hub_listings: the Hub's model listing as of the end of each month, normalised to the raw schema.

Three sources stand for the month-end listing (RawListingConfig.source): `local`, a snapshot file on
disk; `live`, the Hub's API now (only for a month that just ended); `archive`, the public snapshot
datasets (backfills). Each yields hub-shaped Parquet that `publish_listing` normalises and writes batch by
batch, so the asset writes its own partition (atomically) instead of handing a frame to the IO manager:
the Hub's ~3 million models never sit in memory at once. The live source stages into
`<warehouse>/.staging/live/month=<key>/`, kept when a run fails so that the next one resumes there.
"""

import contextlib
import shutil
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
from dominance_pipeline.origin import tagging
from dominance_pipeline.quality import suites
from dominance_pipeline.quality.suites import RAW_CHECK_COLUMNS, RAW_TOTAL_COLUMNS, previous_month
from dominance_pipeline.sources import archive, checkpoint, live, local
from dominance_pipeline.sources.publish import TABLE, parquet_batches, publish_listing
from dominance_pipeline.storage import accepted, handoff, parquet, verdicts

SOURCES = ("local", "live", "archive")
HUB_POOL = "hf_api"


def live_stage_dir(warehouse: Path, key: str) -> Path:
    """Where a live listing of the month stages its pages and checkpoint until the partition is published."""
    return warehouse / ".staging" / "live" / f"month={key}"


# The raw columns the next steps of a run read (tagging, the raw check, the conservation check): kept in
# memory while the listing is written and handed on (storage.handoff) instead of read back.
HANDED_ON = tuple(dict.fromkeys((*tagging.RAW_COLUMNS, *RAW_CHECK_COLUMNS, *RAW_TOTAL_COLUMNS)))


class RawListingConfig(dg.Config):
    """Which source stands for the month-end listing."""

    source: str = Field(default="local", description="Where the listing comes from: local, live or archive.")
    snapshot: str | None = Field(
        default=None, description="local: a hub-stats Parquet file; default <sample dir>/hub_stats_YYYY-MM.parquet."
    )
    max_snapshot_lag_days: int = Field(
        default=7, description="live: how many days after the month ended a live listing may still stand for it."
    )


# Hub columns an index is computed from (downloads too, which the raw check requires): a source without one is
# worth a warning, where one without `gated` or `gguf` is not.
MEASURED_COLUMNS = ("createdAt", "downloadsAllTime", "likes", "trendingScore", "tags", "cardData", "baseModels")


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
    suites.warm_up_if_asked()  # the checks' GX, imported beside this step in a CLI run (cli.inprocess)
    key = context.partition_key
    month = month_of(key)
    if config.source not in SOURCES:
        raise ValueError(f"unknown source {config.source!r}: use one of {', '.join(SOURCES)}")
    if config.source != "local" and config.snapshot:
        raise ValueError(f"snapshot={config.snapshot!r} is only for the local source, not {config.source}")
    if config.max_snapshot_lag_days < 0:
        raise ValueError(f"max_snapshot_lag_days must be 0 or more, got {config.max_snapshot_lag_days}")
    # The source read, not the job's default (a launchpad may change it): what the UI's Runs filter on.
    context.instance.add_run_tags(context.run.run_id, {"dominance/source": config.source})
    log = context.log.info
    thresholds = quality.thresholds().raw_hub_listings
    max_count = thresholds.max_count
    warehouse.path.mkdir(parents=True, exist_ok=True)
    source = config.source
    live_stage = live_stage_dir(warehouse.path, key)
    with contextlib.ExitStack() as held:
        if config.source == "live":  # one live listing of a month at a time: it owns the month's checkpoint
            held.enter_context(checkpoint.locked(live_stage))
        tmp = held.enter_context(tempfile.TemporaryDirectory(dir=warehouse.path, prefix=".staging-"))
        staged: Path | list[Path] = Path(tmp) / "listing.parquet"
        if config.source == "local":
            path = local.find_snapshot(month, Path(local_snapshots.snapshot_dir), config.snapshot)
            snapshot_at = local.infer_snapshot_at(path)
            log(f"reading {path} (snapshot taken no earlier than {snapshot_at:%Y-%m-%d %H:%M} UTC)")
            staged, extra = path, {"snapshot_file": dg.MetadataValue.path(str(path))}
            source = local.declared_source(path) or config.source  # a synthetic file says so; every row records it
        elif config.source == "live":
            before = previous_month(month)
            # Last month's count from its Parquet footer: the ETA, and the evidence that a listing ended early
            # (not a listing that failed its check).
            usable = verdicts.read(warehouse.path, TABLE, before).usable
            previous_rows = parquet.partition_rows(warehouse.path, TABLE, before) if usable else None
            listing = live.stage_listing(
                endpoint=hub_api.base_url,
                token=hub_api.token,
                month=month,
                stage_dir=live_stage,
                max_lag_days=config.max_snapshot_lag_days,
                page_size=hub_api.page_size,
                requests_per_5min=hub_api.requests_per_5min,
                expected_total=previous_rows,
                checkpoint_rows=hub_api.checkpoint_rows,
                log=log,
            )
            try:
                live.check_complete(listing.models, month, previous_rows, before, thresholds.max_shrink)
            except live.ListingIncompleteError:
                shutil.rmtree(live_stage, ignore_errors=True)
                raise
            staged = listing.files
            snapshot_at, extra = listing.snapshot_at, {"endpoint": hub_api.base_url, **listing.metadata()}
        else:
            snap = archive.find_snapshot(hub_api.base_url, hub_api.token, hub_archive.dataset, month, hub_archive.max_days_late)
            read = archive.stage_snapshot(hub_api.base_url, hub_api.token, snap, staged, log=log)
            snapshot_at, extra = snap.taken_at, {"endpoint": hub_api.base_url, **read.metadata()}
        # The accepted listing in place goes aside until the check has judged this one (storage.accepted).
        if accepted.keep(warehouse.path, TABLE, month, warehouse.quarantine):
            log(f"the accepted listing of {key} is kept aside until this one passes its check")
        notes = publish_listing(
            parquet_batches(staged), warehouse=warehouse.path, quarantine=warehouse.quarantine,
            month=month, snapshot_at=snapshot_at, source=source, max_count=max_count, keep=HANDED_ON,
        )
        handoff.remember(TABLE, Path(notes["path"]), notes.pop("kept"), complete=False)  # type: ignore[arg-type]
        if config.source == "live":
            shutil.rmtree(live_stage, ignore_errors=True)  # published: the checkpoint has served its purpose
    refresh_view(duckdb, warehouse.path, TABLE, context.log)
    if notes["quarantined"]:
        context.log.warning(f"{notes['quarantined']} rows quarantined: {notes['quarantine_reasons']}")
    if notes["missing_columns"]:
        missing = list(notes["missing_columns"])  # type: ignore[call-overload]
        measured = [c for c in missing if c in MEASURED_COLUMNS]
        say = context.log.warning if measured else log
        why = f" (the indices computed from {', '.join(measured)} will be absent, each with the reason)" if measured else ""
        say(f"columns absent from the source, left null: {', '.join(missing)}{why}")
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
            # kept rows whose Hub `author` is not their id's namespace (the raw `author` is taken from the id)
            "author_mismatch": notes["author_mismatch"],
            "downloads_30d_total": notes["downloads_30d_total"],
            # 2 when an id repeated: the first pass was abandoned once the repeat was known (normalise_batches)
            "listing_passes": notes["passes"],
        }
    )
