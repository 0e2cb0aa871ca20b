"""Turn a hub-stats-shaped listing (any era, any source) into the raw schema, quarantining what cannot be.

Every source (a local file, the live API, an archived snapshot) produces frames with the Hub's own column
names (`id`, `createdAt`, `downloadsAllTime`, `baseModels`, ...). This module is the one place that knows
how those map to the project's raw schema, so a change in the Hub's format is fixed once.

Rows that cannot be normalised are never dropped: they go to the quarantine frame with a reason.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Iterable
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
# Optional columns a source may add: `_reject` quarantines the row with that reason ("wrong_type:downloads")
# when the source could not even type a value; `_orig_item` keeps the item as received, for the quarantine.
SOURCE_COLUMNS = ("_reject", "_orig_item")
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
            exprs.append(json_decode(col, pl.List(pl.String)).alias(col))
            recast.append(col)
        elif col == "baseModels" or col == "safetensors":
            exprs.append(_struct_subset(col, have, want).alias(col))
            recast.append(col)
        elif col == "gated":
            exprs.append(pl.col(col).cast(pl.String, strict=False).alias(col))
        elif want == pl.String and isinstance(have, pl.Struct):
            exprs.append(pl.col(col).struct.json_encode().alias(col))
            recast.append(col)
        else:
            exprs.append(pl.col(col).cast(want, strict=False).alias(col))
            recast.append(col)
    originals = [pl.col(c).alias(f"_orig_{c}") for c in (*TYPED_COLUMNS, *DATE_COLUMNS) if c in schema]
    passed = [pl.col(c) for c in SOURCE_COLUMNS if c in schema]
    return lf.select(*exprs, *originals, *passed), missing, recast


def json_decode(col: str, dtype: pl.DataType) -> pl.Expr:
    """JSON text to `dtype`; a value that is not valid JSON becomes null (it is malformed, like any other
    field the listing cannot type) instead of failing the whole batch, as polars' decoder does."""

    def decode(s: pl.Series) -> pl.Series:
        try:
            return s.str.json_decode(dtype)
        except pl.exceptions.ComputeError:
            return pl.concat([_decode_one(s.slice(i, 1), dtype) for i in range(s.len())]) if s.len() else s.cast(dtype)

    return pl.col(col).map_batches(decode, return_dtype=dtype)


def _decode_one(s: pl.Series, dtype: pl.DataType) -> pl.Series:
    try:
        return s.str.json_decode(dtype)
    except pl.exceptions.ComputeError:
        return pl.Series(s.name, [None], dtype=dtype)


def _struct_subset(col: str, have: pl.DataType, want: pl.Struct) -> pl.Expr:
    if not isinstance(have, pl.Struct):
        if have == pl.String:
            return json_decode(col, want)
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


def _stage(
    lf: pl.LazyFrame, snapshot_at: dt.datetime, offset: int, max_count: int
) -> tuple[pl.LazyFrame, list[str], list[str]]:
    """Coerced hub columns plus `model_id`, the quarantine `reason` (null when the row is good) and `_row`,
    the row's position in the whole listing (batches are numbered from `offset`)."""
    lf, missing, recast = _coerce(lf)
    schema = lf.collect_schema()
    snap = pl.lit(snapshot_at.astimezone(dt.UTC), UTC_TS)
    model_id = pl.col("id").str.strip_chars()
    reason = pl.when(pl.col("_reject").is_not_null()).then(pl.col("_reject")) if "_reject" in schema else pl
    reason = (
        reason.when(model_id.is_null() | (model_id == ""))
        .then(pl.lit("missing_id"))
        .when(~model_id.str.contains(MODEL_ID_PATTERN) | model_id.str.contains(r"\.\.|--"))
        .then(pl.lit("invalid_id"))
    )
    for c in TYPED_COLUMNS:
        orig = f"_orig_{c}"
        if orig in schema:
            reason = reason.when(pl.col(orig).is_not_null() & pl.col(c).is_null()).then(pl.lit(f"wrong_type:{c}"))
        if c in COUNT_COLUMNS:
            reason = reason.when(pl.col(c) < 0).then(pl.lit(f"negative_count:{c}")).when(pl.col(c) > max_count).then(
                pl.lit(f"absurd_count:{c}")
            )
        else:  # a NaN or infinite score would turn every sum over it into NaN
            reason = reason.when(~pl.col(c).is_finite()).then(pl.lit(f"non_finite:{c}"))
    for c in DATE_COLUMNS:
        if f"_orig_{c}" in schema:
            reason = reason.when(pl.col(f"_orig_{c}").is_not_null() & pl.col(c).is_null()).then(
                pl.lit(f"unparseable_date:{c}")
            )
    reason = reason.when(pl.col("createdAt") > snap).then(pl.lit("created_after_snapshot"))
    staged = lf.with_columns(
        model_id.alias("model_id"), reason.alias("reason"), (pl.int_range(pl.len(), dtype=pl.Int64) + offset).alias("_row")
    )
    return staged, missing, recast


Batches = Callable[[], Iterable[pl.DataFrame]]
"""A re-readable listing: each call yields the listing again, batch by batch, in the same order."""


def _duplicate_losers(batches: Batches, hashes: list[pl.Series], snapshot_at: dt.datetime, max_count: int) -> pl.Series:
    """`_row` of every good row that loses to another copy of its id: the most recently modified copy is
    kept (the first seen on a tie).

    Pass 1 kept only a 64-bit hash per good row (8 bytes a row; a sort, not a hash table, finds repeats);
    only rows whose hash repeats are read again with their ids, so a collision costs a re-read, never a row.
    """
    ordered = pl.concat(hashes).sort() if hashes else pl.Series(dtype=pl.UInt64)
    repeated = ordered.filter(ordered == ordered.shift(1)).unique()
    del ordered
    if repeated.is_empty():
        return pl.Series("_row", [], dtype=pl.Int64)
    wanted = repeated.implode()
    offset, found = 0, []
    for batch in batches():
        staged, _, _ = _stage(batch.lazy(), snapshot_at, offset, max_count)
        found.append(
            staged.filter(pl.col("reason").is_null() & pl.col("model_id").hash().is_in(wanted))
            .select("model_id", "lastModified", "_row")
            .collect()
        )
        offset += batch.height
    ranked = pl.concat(found).sort(["lastModified", "_row"], descending=[True, False], nulls_last=True)
    return ranked.filter(~pl.col("model_id").is_first_distinct()).get_column("_row")


def _raw_rows(good: pl.DataFrame, month: dt.date, snapshot_at: dt.datetime, source: str) -> pl.DataFrame:
    ids, relation = _base_models()
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
        pl.lit(snapshot_at.astimezone(dt.UTC), UTC_TS).alias("snapshot_at"),
        pl.lit(source).alias("source"),
    )
    return conform(rows, RAW_HUB_LISTINGS)


def normalise_batches(
    batches: Batches,
    *,
    month: dt.date,
    snapshot_at: dt.datetime,
    source: str,
    write_rows: Callable[[pl.DataFrame], None],
    write_quarantine: Callable[[pl.DataFrame], None],
    max_count: int = MAX_COUNT,
) -> dict[str, object]:
    """Normalise a listing too large for memory, batch by batch, into `write_rows` and `write_quarantine`.

    Two passes over `batches`: the first finds duplicated ids across the whole listing (a model on two
    pages must be kept once, whichever batches hold it), the second maps each batch and hands it on.
    Memory holds one batch plus 8 bytes per row for the duplicate search. Returns the notes for metadata.
    """
    hashes: list[pl.Series] = []
    for batch in batches():
        staged, _, _ = _stage(batch.lazy(), snapshot_at, 0, max_count)
        hashes.append(staged.filter(pl.col("reason").is_null()).select(pl.col("model_id").hash()).collect().to_series())
    losers = _duplicate_losers(batches, hashes, snapshot_at, max_count).implode()
    del hashes

    totals: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    missing: list[str] = []
    recast: list[str] = []
    offset = 0
    for batch in batches():
        lf, missing, recast = _stage(batch.lazy(), snapshot_at, offset, max_count)
        staged = lf.collect()
        offset += batch.height
        bad = staged.filter(pl.col("reason").is_not_null())
        good = staged.filter(pl.col("reason").is_null())
        is_loser = pl.col("_row").is_in(losers)
        dups = good.filter(is_loser).with_columns(pl.lit("duplicate_id").alias("reason"))
        good = good.filter(~is_loser)
        rows = _raw_rows(good, month, snapshot_at, source)
        quarantined = quarantine_frame(pl.concat([bad, dups], how="diagonal_relaxed"), month)
        write_rows(rows)
        write_quarantine(quarantined)
        reasons.update(dict(quarantined.get_column("reason").value_counts().iter_rows()))
        totals.update(
            rows_in=staged.height,
            rows_out=rows.height,
            quarantined=quarantined.height,
            placeholder_created_at=int(good.select((pl.col("createdAt") == pl.lit(PLACEHOLDER_CREATED_AT, UTC_TS)).sum()).item() or 0),
            author_mismatch=int(
                good.select(
                    (pl.col("author").is_not_null() & (pl.col("author") != pl.col("model_id").str.split("/").list.first())).sum()
                ).item()
            ),
            downloads_30d_total=int(rows.get_column("downloads_30d").sum() or 0),
        )
    return {
        "rows_in": totals["rows_in"],
        "rows_out": totals["rows_out"],
        "quarantined": totals["quarantined"],
        "quarantine_reasons": dict(sorted(reasons.items())),
        "missing_columns": missing,
        "recast_columns": recast,
        "placeholder_created_at": totals["placeholder_created_at"],
        "author_mismatch": totals["author_mismatch"],
        "downloads_30d_total": totals["downloads_30d_total"],
    }


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
    frame = listing.collect() if isinstance(listing, pl.LazyFrame) else listing
    rows: list[pl.DataFrame] = []
    quarantined: list[pl.DataFrame] = []
    notes = normalise_batches(
        lambda: [frame], month=month, snapshot_at=snapshot_at, source=source,
        write_rows=rows.append, write_quarantine=quarantined.append, max_count=max_count,
    )
    return Normalised(rows=pl.concat(rows), quarantine=pl.concat(quarantined), notes=notes)


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
