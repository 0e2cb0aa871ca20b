"""Turn a hub-stats-shaped listing (any era, any source) into the raw schema, quarantining what cannot be.

Every source (a local file, the live API, an archived snapshot) produces frames with the Hub's own column
names (`id`, `createdAt`, `downloadsAllTime`, `baseModels`, ...). This module is the one place that knows
how those map to the project's raw schema, so a change in the Hub's format is fixed once.

Rows that cannot be normalised are never dropped: they go to the quarantine frame with a reason.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import polars as pl

from dominance_pipeline.schemas import QUARANTINE, RAW_HUB_LISTINGS, UTC_TS, conform

# The Hub's placeholder creation date for repos created before it stored one: not a real date.
PLACEHOLDER_CREATED_AT = dt.datetime(2022, 3, 2, 23, 29, 4, tzinfo=dt.UTC)

# A per-model count above this is not a measurement (the whole Hub serves a few billion downloads a month).
# The default of `normalise(max_count=...)`; the pipeline passes raw_hub_listings.max_count from
# quality/thresholds.yaml, where the check on the same bound is configured.
MAX_COUNT = 100_000_000_000

# huggingface_hub's repo-id rule: optional namespace, names of word characters, '-' and '.', at most 96.
MODEL_ID_PATTERN = r"^[\w][\w.\-]{0,95}/[\w.\-]{1,96}$"

HUB_COLUMNS: dict[str, pl.DataType] = {
    "id": pl.String,
    "author": pl.String,
    "createdAt": UTC_TS,
    "lastModified": UTC_TS,
    "downloads": pl.Int64,
    "downloadsAllTime": pl.Int64,
    "likes": pl.Int64,
    "trendingScore": pl.Float64,
    "tags": pl.List(pl.String),
    "pipeline_tag": pl.String,
    "library_name": pl.String,
    "cardData": pl.String,
    "baseModels": pl.Struct({"relation": pl.String, "models": pl.List(pl.Struct({"_id": pl.String, "id": pl.String}))}),
    "safetensors": pl.Struct({"total": pl.Int64}),
    "gguf": pl.String,
    "gated": pl.String,
}
COUNT_COLUMNS = ("downloads", "downloadsAllTime", "likes")
# Scalar columns that are cast leniently; a value present before the cast and null after it is quarantined.
TYPED_COLUMNS = (*COUNT_COLUMNS, "trendingScore")
DATE_COLUMNS = ("createdAt", "lastModified")
RELATIONS = ("finetune", "adapter", "quantized", "merge")


@dataclass
class Normalised:
    """The normalised rows, the quarantined rows, and what the normalisation noticed (for asset metadata)."""

    rows: pl.DataFrame
    quarantine: pl.DataFrame
    notes: dict[str, object] = field(default_factory=dict)


def _to_utc(col: str, dtype: pl.DataType) -> pl.Expr:
    c = pl.col(col)
    if dtype == pl.String:
        return c.str.to_datetime(time_unit="us", time_zone="UTC", strict=False)
    if isinstance(dtype, pl.Datetime):
        c = c.dt.cast_time_unit("us")
        return c.dt.replace_time_zone("UTC") if dtype.time_zone is None else c.dt.convert_time_zone("UTC")
    if isinstance(dtype, pl.Date):
        return c.cast(pl.Datetime("us")).dt.replace_time_zone("UTC")
    return pl.lit(None, UTC_TS)


def _coerce(lf: pl.LazyFrame) -> tuple[pl.LazyFrame, list[str], list[str]]:
    """Bring every hub column to one dtype; add missing columns as nulls; keep the originals for quarantine checks."""
    schema = lf.collect_schema()
    missing = [c for c in HUB_COLUMNS if c not in schema]
    recast: list[str] = []
    exprs: list[pl.Expr] = []
    for col, want in HUB_COLUMNS.items():
        have = schema.get(col)
        if have is None:
            exprs.append(pl.lit(None, want).alias(col))
        elif have == want:
            exprs.append(pl.col(col))
        elif want == UTC_TS:
            exprs.append(_to_utc(col, have).alias(col))
            recast.append(col)
        elif col == "tags" and have == pl.String:
            exprs.append(pl.col(col).str.json_decode(pl.List(pl.String)).alias(col))
            recast.append(col)
        elif col == "baseModels" or col == "safetensors":
            exprs.append(_struct_subset(col, have, want).alias(col))
            recast.append(col)
        elif col == "gated":
            exprs.append(pl.col(col).cast(pl.String, strict=False).alias(col))
        else:
            exprs.append(pl.col(col).cast(want, strict=False).alias(col))
            recast.append(col)
    originals = [pl.col(c).alias(f"_orig_{c}") for c in (*TYPED_COLUMNS, *DATE_COLUMNS) if c in schema]
    return lf.select(*exprs, *originals), missing, recast


def _struct_subset(col: str, have: pl.DataType, want: pl.Struct) -> pl.Expr:
    if not isinstance(have, pl.Struct):
        if have == pl.String:
            return pl.col(col).str.json_decode(want)
        return pl.lit(None, want)
    have_fields = {f.name for f in have.fields}
    parts = [
        (pl.col(col).struct.field(f.name) if f.name in have_fields else pl.lit(None, f.dtype)).cast(f.dtype, strict=False).alias(f.name)
        for f in want.fields
    ]
    return pl.when(pl.col(col).is_not_null()).then(pl.struct(parts))


def _base_models() -> tuple[pl.Expr, pl.Expr]:
    """Parents and relation from baseModels, `base_model:` tags and cardData.base_model, merged."""
    from_struct = pl.col("baseModels").struct.field("models").list.eval(pl.element().struct.field("id"))
    base_tags = pl.col("tags").list.eval(pl.element().filter(pl.element().str.starts_with("base_model:")))
    tag_ids = base_tags.list.eval(
        pl.element().str.replace(r"^base_model:(?:(?:finetune|adapter|quantized|merge):)?", "")
    )
    tag_relation = base_tags.list.eval(
        pl.element().str.extract(r"^base_model:(finetune|adapter|quantized|merge):", 1).drop_nulls()
    ).list.first()
    card = pl.col("cardData").str.json_path_match("$.base_model")
    card_ids = (
        pl.when(card.str.starts_with("["))
        .then(card.str.strip_chars("[]").str.split(","))
        .otherwise(pl.concat_list(card))
        .list.eval(pl.element().str.strip_chars(" \"'").filter(pl.element().str.len_chars() > 0))
    )
    card_relation = pl.col("cardData").str.json_path_match("$.base_model_relation")
    ids = (
        pl.concat_list(from_struct.fill_null([]), tag_ids.fill_null([]), card_ids.fill_null([]))
        .list.eval(pl.element().str.strip_chars())
        .list.unique(maintain_order=True)
    )
    relation = pl.coalesce(pl.col("baseModels").struct.field("relation"), tag_relation, card_relation)
    relation = pl.when(relation.is_in(RELATIONS)).then(relation)
    return ids, relation


def normalise(
    listing: pl.LazyFrame | pl.DataFrame,
    *,
    month: dt.date,
    snapshot_at: dt.datetime,
    source: str,
    max_count: int = MAX_COUNT,
) -> Normalised:
    """Normalise a hub-stats-shaped listing taken at `snapshot_at` into partition `month` of the raw schema.

    `max_count` is the largest credible per-model count (quality/thresholds.yaml, raw_hub_listings.max_count).
    """
    lf, missing, recast = _coerce(listing.lazy())
    snap = pl.lit(snapshot_at.astimezone(dt.UTC), UTC_TS)
    ids, relation = _base_models()
    model_id = pl.col("id").str.strip_chars()
    reason = (
        pl.when(model_id.is_null() | (model_id == ""))
        .then(pl.lit("missing_id"))
        .when(~model_id.str.contains(MODEL_ID_PATTERN) | model_id.str.contains(r"\.\.|--"))
        .then(pl.lit("invalid_id"))
    )
    staged_schema = lf.collect_schema()
    for c in TYPED_COLUMNS:
        orig = f"_orig_{c}"
        if orig in staged_schema:
            reason = reason.when(pl.col(orig).is_not_null() & pl.col(c).is_null()).then(pl.lit(f"wrong_type:{c}"))
        if c in COUNT_COLUMNS:
            reason = reason.when(pl.col(c) < 0).then(pl.lit(f"negative_count:{c}")).when(pl.col(c) > max_count).then(
                pl.lit(f"absurd_count:{c}")
            )
    for c in DATE_COLUMNS:
        if f"_orig_{c}" in staged_schema:
            reason = reason.when(pl.col(f"_orig_{c}").is_not_null() & pl.col(c).is_null()).then(
                pl.lit(f"unparseable_date:{c}")
            )
    reason = reason.when(pl.col("createdAt") > snap).then(pl.lit("created_after_snapshot"))

    staged = (
        lf.with_columns(model_id.alias("model_id"), reason.alias("reason"), pl.int_range(pl.len()).alias("_row"))
        .collect()
    )
    bad = staged.filter(pl.col("reason").is_not_null())
    good = staged.filter(pl.col("reason").is_null())

    # One row per model: keep the most recently modified copy (first seen on a tie), quarantine the others.
    good = good.sort(["lastModified", "_row"], descending=[True, False], nulls_last=True).with_columns(
        pl.col("model_id").is_first_distinct().alias("_keep")
    )
    dups = good.filter(~pl.col("_keep")).with_columns(pl.lit("duplicate_id").alias("reason"))
    good = good.filter(pl.col("_keep")).sort("_row")

    placeholder = pl.col("createdAt") == pl.lit(PLACEHOLDER_CREATED_AT, UTC_TS)
    rows = good.select(
        pl.lit(month, pl.Date).alias("month"),
        "model_id",
        pl.col("model_id").str.split("/").list.first().alias("author"),
        pl.when(placeholder).then(None).otherwise(pl.col("createdAt")).alias("created_at"),
        pl.col("lastModified").alias("last_modified"),
        pl.col("downloads").alias("downloads_30d"),
        pl.col("downloadsAllTime").alias("downloads_all_time"),
        "likes",
        pl.col("trendingScore").alias("trending_score"),
        "pipeline_tag",
        "library_name",
        pl.col("tags").fill_null([]),
        ids.alias("base_model_ids"),
        relation.alias("base_relation"),
        pl.coalesce(
            pl.col("safetensors").struct.field("total"),
            pl.col("gguf").str.json_path_match("$.total").cast(pl.Int64, strict=False),
        ).alias("params_total"),
        "gated",
        snap.alias("snapshot_at"),
        pl.lit(source).alias("source"),
    )
    quarantined = quarantine_frame(pl.concat([bad, dups], how="diagonal_relaxed"), month)
    notes: dict[str, object] = {
        "rows_in": staged.height,
        "rows_out": rows.height,
        "quarantined": quarantined.height,
        "quarantine_reasons": dict(quarantined.get_column("reason").value_counts().sort("reason").iter_rows()),
        "missing_columns": missing,
        "recast_columns": recast,
        "placeholder_created_at": int(good.select(placeholder.sum()).item() or 0),
        "author_mismatch": int(
            good.select((pl.col("author").is_not_null() & (pl.col("author") != pl.col("model_id").str.split("/").list.first())).sum()).item()
        ),
    }
    return Normalised(rows=conform(rows, RAW_HUB_LISTINGS), quarantine=quarantined, notes=notes)


def quarantine_frame(rejected: pl.DataFrame, month: dt.date) -> pl.DataFrame:
    """Rejected rows in the quarantine schema, each with its reason and the original values as JSON."""
    if rejected.is_empty():
        return QUARANTINE.empty()
    payload = [c for c in rejected.columns if c in HUB_COLUMNS or c.startswith("_orig_")]
    out = rejected.select(
        pl.lit(month, pl.Date).alias("month"),
        pl.col("model_id"),
        pl.col("reason").str.split(":").list.first().alias("reason"),
        pl.col("reason").str.split(":").list.get(1, null_on_oob=True).alias("detail"),
        pl.struct(payload).struct.json_encode().alias("row_json"),
    )
    return conform(out, QUARANTINE)
