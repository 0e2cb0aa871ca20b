"""Resources: where the warehouse is, where local snapshots are, which registry to use, the DuckDB file,
and the Hugging Face Hub (its API for live listings, its snapshot datasets for backfills)."""


import datetime as dt
import os
from pathlib import Path

import dagster as dg
import polars as pl
from dagster_duckdb import DuckDBResource

from dominance_pipeline.origin.registry import REGISTRY_PATH, Registry, load_registry
from dominance_pipeline.origin.registry import configured_path as configured_registry_path
from dominance_pipeline.quality.config import THRESHOLDS_PATH, Thresholds, load_thresholds
from dominance_pipeline.schemas import BY_ASSET, conform
from dominance_pipeline.settings import THRESHOLDS_ENV, Paths
from dominance_pipeline.sources import archive, live
from dominance_pipeline.storage import accepted, handoff, parquet, verdicts
from dominance_pipeline.storage.duckdb_views import ensure_views


class WarehouseResource(dg.ConfigurableResource):
    """The Parquet warehouse root (Hive layout) and its quarantine area."""

    root: str

    @property
    def path(self) -> Path:
        return Path(self.root)

    @property
    def quarantine(self) -> Path:
        return self.path / "quarantine"

    def read_month(self, table: str, key: str, columns: list[str] | None = None) -> pl.DataFrame:
        """`key`'s partition of `table` as published (from memory if this process has just published that
        very file, storage.handoff), or an empty frame of the table's schema if it was never materialized.

        For a month other than the run's own (the previous month the indices and the leaderboard compare
        with): read here rather than through a partition-mapped input, so that a backfill's target does
        not grow by a month (see defs/indices.py)."""
        if not parquet.partition_file(self.path, table, key).exists():
            empty = BY_ASSET[table].empty()
            return empty.select(columns) if columns else empty
        return handoff.read_partition(self.path, table, key, columns)


class LocalSnapshotsResource(dg.ConfigurableResource):
    """The folder of local month-end snapshots named hub_stats_YYYY-MM.parquet."""

    snapshot_dir: str


class RegistryResource(dg.ConfigurableResource):
    """The org registry file (defaults to the reviewed one shipped in the package)."""

    path: str = str(REGISTRY_PATH)

    def load(self) -> Registry:
        return load_registry(self.path)


class QualityResource(dg.ConfigurableResource):
    """The data-quality thresholds file (defaults to the documented one shipped in the package)."""

    thresholds_path: str = str(THRESHOLDS_PATH)

    def thresholds(self) -> Thresholds:
        return load_thresholds(self.thresholds_path)


# The partitions this IO manager writes whose blocking check settles them (defs/checks.py: judged_result).
CHECKED_PARTITIONS = frozenset({"origin_tagged_models", "monthly_aggregates", "dominance_indices", "monthly_leaderboard"})


class WarehouseIOManager(dg.ConfigurableIOManager):
    """Stores each asset partition at <root>/<asset>/month=<key>/data.parquet, checked against its schema.

    An unpartitioned asset (a summary over all months) is stored at <root>/<asset>/data.parquet.
    The write is atomic (see storage.parquet), so a failed run leaves the previous partition readable.
    After publishing, it makes sure the asset has a view in the DuckDB file; a locked DuckDB file (an
    analyst holding it open) is logged, not fatal, since the Parquet files are the source of truth.

    Inputs read the upstream partitions the input's partition mapping selects (the same month: another
    month is read through `WarehouseResource.read_month`, see defs/indices.py), concatenated: every table
    has a `month` column to tell them apart; a partition this process has just published is taken from
    memory instead of read back (storage.handoff). An input's `AssetIn` metadata may set `columns` (read
    only those).
    """

    root: str
    duckdb: DuckDBResource

    def handle_output(self, context: dg.OutputContext, obj: pl.DataFrame) -> None:
        table = context.asset_key.path[-1]
        df = conform(obj, BY_ASSET[table])
        if context.has_partition_key:
            if table in CHECKED_PARTITIONS:  # aside until this one passes its check (storage.accepted)
                accepted.keep(Path(self.root), table, context.partition_key)
            path = parquet.write_partition(df, Path(self.root), table, context.partition_key)
            handoff.remember(table, path, df)
        else:
            path = parquet.write_table(df, Path(self.root), table)
        refresh_view(self.duckdb, Path(self.root), table, context.log)
        context.add_output_metadata(
            {"dagster/row_count": df.height, "path": dg.MetadataValue.path(str(path)), "bytes": path.stat().st_size}
        )

    def load_input(self, context: dg.InputContext) -> pl.DataFrame:
        table = context.upstream_output.asset_key.path[-1] if context.upstream_output else context.asset_key.path[-1]
        meta = context.definition_metadata or {}
        columns = meta.get("columns")
        root = Path(self.root)
        if not context.has_asset_partitions:
            return parquet.read_table(root, table, columns)
        keys = context.asset_partition_keys  # the mapped upstream keys, not the downstream run's key
        if not keys:
            raise FileNotFoundError(f"input '{context.name}' maps to no partition of {table}")
        for k in keys:  # a partition its check rejected has left the warehouse: say so, not "not materialized"
            verdict = verdicts.read(root, table, k)
            if verdict.state == verdicts.FAILED and not parquet.partition_file(root, table, k).exists():
                raise dg.Failure(
                    description=f"{verdict.refusal(table, dt.date.fromisoformat(k))}: input '{context.name}' has nothing "
                    "accepted to read; fix the cause and materialize that month again"
                )
        return pl.concat([handoff.read_partition(root, table, k, columns) for k in keys])


def refresh_view(duckdb: DuckDBResource, root: Path, table: str, log: object) -> None:
    """Make sure `table` has its DuckDB view; a locked DuckDB file (an analyst holding it open) is logged,
    not fatal, since the Parquet files are the source of truth."""
    try:
        with duckdb.get_connection() as conn:
            ensure_views(conn, root, [table])
    except Exception as exc:  # noqa: BLE001 - the view is a convenience; the data is published
        log.warning(f"DuckDB view for {table} not refreshed ({exc}); the Parquet partition is published")  # type: ignore[attr-defined]


DEFAULT_HUB_ENDPOINT = "https://huggingface.co"


class HubApiResource(dg.ConfigurableResource):
    """The Hugging Face Hub: where it is, who we are to it, and how hard we may call its API.

    The token comes from HF_TOKEN (as a dg.EnvVar, so the UI shows the variable, not its value); without it
    calls are anonymous, with the anonymous rate limits. It is passed to HTTP headers only, never logged.
    """

    endpoint: str = DEFAULT_HUB_ENDPOINT
    token: str | None = None
    page_size: int = live.DEFAULT_PAGE_SIZE
    requests_per_5min: int | None = None
    checkpoint_rows: int = live.STAGE_ROWS  # models staged between two checkpoints of a live listing

    @property
    def base_url(self) -> str:
        return self.endpoint.rstrip("/")


class HubArchiveResource(dg.ConfigurableResource):
    """Which public snapshot dataset backfills read, and how stale a month-end snapshot may be."""

    dataset: str = archive.WEEKLY
    max_days_late: int = 7


def hub_api_resource(endpoint: str | None = None) -> HubApiResource:
    """The Hub at `endpoint` (else $HF_ENDPOINT, else huggingface.co), signed in if HF_TOKEN is set."""
    token = dg.EnvVar("HF_TOKEN") if os.environ.get("HF_TOKEN") else None
    return HubApiResource(endpoint=endpoint or os.environ.get("HF_ENDPOINT") or DEFAULT_HUB_ENDPOINT, token=token)


def build_resources(p: Paths, hub_endpoint: str | None = None) -> dict[str, object]:
    duck = DuckDBResource(database=str(p.duckdb))
    return {
        "warehouse": WarehouseResource(root=str(p.warehouse)),
        "local_snapshots": LocalSnapshotsResource(snapshot_dir=str(p.sample)),
        "registry": RegistryResource(path=str(configured_registry_path())),
        "quality": QualityResource(thresholds_path=os.environ.get(THRESHOLDS_ENV) or str(THRESHOLDS_PATH)),
        "duckdb": duck,
        "io_manager": WarehouseIOManager(root=str(p.warehouse), duckdb=duck),
        "hub_api": hub_api_resource(hub_endpoint),
        "hub_archive": HubArchiveResource(),
    }
