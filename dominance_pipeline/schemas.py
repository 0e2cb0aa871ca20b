"""The schema of every asset the pipeline writes, in one place.

Each asset's columns and dtypes are declared here once. Writers call `conform` at the boundary (the IO
manager does it for every asset), so a drifted column fails loudly where it was produced, not three
assets later in an analyst's notebook. The data dictionary in docs/ describes the meaning of each column.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

UTC_TS = pl.Datetime("us", "UTC")


@dataclass(frozen=True)
class Schema:
    """An asset's columns in order, with their dtypes and which of them may hold nulls."""

    name: str
    columns: dict[str, pl.DataType]
    not_null: tuple[str, ...] = ()

    @property
    def names(self) -> list[str]:
        return list(self.columns)

    def empty(self) -> pl.DataFrame:
        return pl.DataFrame(schema=self.columns)


class SchemaError(ValueError):
    """A frame does not match its declared schema; the message lists every difference."""


def conform(df: pl.DataFrame, schema: Schema) -> pl.DataFrame:
    """Return `df` with exactly the schema's columns, in order; raise `SchemaError` on any mismatch.

    Nothing is cast: a dtype difference is a bug in the producer, and silently casting would hide it.
    """
    problems: list[str] = []
    missing = [c for c in schema.names if c not in df.columns]
    extra = [c for c in df.columns if c not in schema.columns]
    if missing:
        problems.append(f"missing columns {missing}")
    if extra:
        problems.append(f"unexpected columns {extra}")
    for col, dtype in schema.columns.items():
        if col in df.columns and df.schema[col] != dtype:
            problems.append(f"column {col!r} is {df.schema[col]}, expected {dtype}")
    if not problems:
        nulls = [c for c in schema.not_null if df.get_column(c).null_count()]
        if nulls:
            problems.append(f"nulls in non-null columns {nulls}")
    if problems:
        raise SchemaError(f"{schema.name}: " + "; ".join(problems))
    # A select would re-align the chunks of every column (a full copy at Hub scale) even when nothing moves.
    return df if df.columns == schema.names else df.select(schema.names)


LINEAGE_ROOT = pl.Struct({"root_id": pl.String, "namespace": pl.String, "country": pl.String, "weight": pl.Float64})

RAW_HUB_LISTINGS = Schema(
    "raw_hub_listings",
    {
        "month": pl.Date,
        "model_id": pl.String,
        "author": pl.String,
        "created_at": UTC_TS,
        "last_modified": UTC_TS,
        "downloads_30d": pl.Int64,
        "downloads_all_time": pl.Int64,
        "likes": pl.Int64,
        "trending_score": pl.Float64,
        "pipeline_tag": pl.String,
        "library_name": pl.String,
        "tags": pl.List(pl.String),
        "repack_format": pl.Boolean,
        "base_model_ids": pl.List(pl.String),
        "base_relation": pl.String,
        "params_total": pl.Int64,
        "gated": pl.String,
        "snapshot_at": UTC_TS,
        "source": pl.String,
    },
    not_null=("month", "model_id", "author", "snapshot_at", "source"),
)

ORIGIN_TAGGED_MODELS = Schema(
    "origin_tagged_models",
    {
        "month": pl.Date,
        "model_id": pl.String,
        "author": pl.String,
        "created_at": UTC_TS,
        "created_at_hub": UTC_TS,
        "downloads_30d": pl.Int64,
        "downloads_all_time": pl.Int64,
        "likes": pl.Int64,
        "trending_score": pl.Float64,
        "pipeline_tag": pl.String,
        "library_name": pl.String,
        "repack_format": pl.Boolean,
        "base_model_ids": pl.List(pl.String),
        "base_relation": pl.String,
        "params_total": pl.Int64,
        "org_namespace": pl.String,
        "org_country": pl.String,
        "org_bloc": pl.String,
        "is_intermediary": pl.Boolean,
        "root_model_id": pl.String,
        "root_namespace": pl.String,
        "root_country": pl.String,
        "root_bloc": pl.String,
        "lineage_roots": pl.List(LINEAGE_ROOT),
        "lineage_depth": pl.Int32,
        "lineage_status": pl.String,
        "snapshot_at": UTC_TS,
    },
    not_null=(
        "month",
        "model_id",
        "org_namespace",
        "org_country",
        "org_bloc",
        "root_model_id",
        "root_country",
        "root_bloc",
        "lineage_status",
    ),
)

MONTHLY_AGGREGATES = Schema(
    "monthly_aggregates",
    {
        "month": pl.Date,
        "view": pl.String,
        "country": pl.String,
        "bloc": pl.String,
        "models": pl.Float64,
        "new_models": pl.Float64,
        "downloads_30d": pl.Float64,
        "downloads_all_time": pl.Float64,
        "likes": pl.Float64,
    },
    not_null=("month", "view", "country", "bloc", "models", "new_models", "downloads_30d"),
)

DOMINANCE_INDICES = Schema(
    "dominance_indices",
    {
        "month": pl.Date,
        "index": pl.String,
        "view": pl.String,
        "denominator": pl.String,
        "country": pl.String,
        "value": pl.Float64,
    },
    not_null=("month", "index", "view", "denominator", "value"),
)

QUARANTINE = Schema(
    "quarantine",
    {
        "month": pl.Date,
        "model_id": pl.String,
        "reason": pl.String,
        "detail": pl.String,
        "row_json": pl.String,
    },
    not_null=("month", "reason"),
)

BY_ASSET: dict[str, Schema] = {
    s.name: s for s in (RAW_HUB_LISTINGS, ORIGIN_TAGGED_MODELS, MONTHLY_AGGREGATES, DOMINANCE_INDICES)
}

MONTHLY_LEADERBOARD = Schema(
    "monthly_leaderboard",
    {
        "month": pl.Date,
        "board": pl.String,
        "view": pl.String,
        "rank": pl.Int32,
        "name": pl.String,
        "country": pl.String,
        "downloads_30d": pl.Float64,
        "share": pl.Float64,
        "previous_rank": pl.Int32,
        "rank_change": pl.Int32,
    },
    not_null=("month", "board", "view", "rank", "name", "country", "downloads_30d", "share"),
)

DOMINANCE_TIMESERIES = Schema("dominance_timeseries", DOMINANCE_INDICES.columns, DOMINANCE_INDICES.not_null)

DOMINANCE_CROSSOVER = Schema(
    "dominance_crossover",
    {
        "family": pl.String,
        "view": pl.String,
        "months_observed": pl.Int32,
        "first_month": pl.Date,
        "last_month": pl.Date,
        "latest_ratio": pl.Float64,
        "crossover_month": pl.Date,
    },
    not_null=("family", "view", "months_observed", "first_month", "last_month"),
)

BY_ASSET.update({s.name: s for s in (MONTHLY_LEADERBOARD, DOMINANCE_TIMESERIES, DOMINANCE_CROSSOVER)})
