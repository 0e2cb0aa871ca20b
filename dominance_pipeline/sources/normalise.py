"""Turn a hub-stats-shaped listing (any era, any source) into the raw schema, quarantining what cannot be.

Every source (a local file, the live API, an archived snapshot) produces frames with the Hub's own column
names (`id`, `createdAt`, `downloadsAllTime`, `baseModels`, ...). This module is the one place that knows
how those map to the project's raw schema, so a change in the Hub's format is fixed once.

Rows that cannot be normalised are never dropped: they go to the quarantine frame with a reason.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from typing import TypeVar

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
# The same rule as a shape and two lengths (see valid_model_ids): with Unicode classes, the counted
# repetitions above make the regex engine ~20x slower (6 s on 3 million ids).
_ID_SHAPE = r"^\w[\w.\-]*/[\w.\-]+$"
_ASCII_ID_SHAPE = r"^[0-9A-Za-z_][0-9A-Za-z_.\-]*/[0-9A-Za-z_.\-]+$"
_ID_PART_CHARS = 96

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
# A repo whose tags or library name one of these weight formats is a build of a model, not a model of its own
# (raw column repack_format; robust_share leaves such derivatives out of the direct view).
REPACK_FORMATS = ("gguf", "mlx")
# Batches normalised at a time (threads); see in_order.
WORKERS = 2
_T = TypeVar("_T")
_R = TypeVar("_R")


@dataclass
class Normalised:
    """The normalised rows, the quarantined rows, and what the normalisation noticed (for asset metadata)."""

    rows: pl.DataFrame
    quarantine: pl.DataFrame
    notes: dict[str, object] = field(default_factory=dict)


# The date formats a listing's text dates are read in, each value on its own (the first that fits): polars'
# own inference takes one format from a batch's first value and reads every other value with it, so one
# odd date would quarantine every ordinary one. Without an offset a time is UTC; a date alone is midnight.
DATE_FORMATS = (
    "%Y-%m-%dT%H:%M:%S%.fZ",  # the Hub's
    "%Y-%m-%dT%H:%M:%S%.f%:z",
    "%Y-%m-%d %H:%M:%S%.f%:z",
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%d",
)


def _to_utc(col: str, dtype: pl.DataType) -> pl.Expr:
    c = pl.col(col)
    if dtype == pl.String:
        return pl.coalesce([c.str.to_datetime(f, time_unit="us", time_zone="UTC", strict=False) for f in DATE_FORMATS])
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


_TAG_PREFIX = "base_model:"
# What may stand between a tag's `base_model:` (stripped without a regex: 20 % cheaper) and its id.
_TAG_RELATION_PREFIX = r"^(?:finetune|adapter|quantized|merge):"
_TAG_RELATION = r"^base_model:(finetune|adapter|quantized|merge):"


# cardData's top-level `"base_model": <a string or an array of strings>`, as text (see _redundant_cards).
_CARD_VALUE = r'"base_model"\s*:\s*("[^"]*"|\[\s*(?:"[^"]*"\s*(?:,\s*"[^"]*"\s*)*)?\])'
# The key as the Hub writes it (JSON with ", " and ": " separators), and the ids `_names_first_known` may
# compare as text: none of the characters that `_card_ids` strips or splits at, or that end a JSON string.
_CARD_KEY = '"base_model": '
_PLAIN_ID = r"^[0-9A-Za-z_.\-/]+$"


def _parse_card(card: pl.Series, key: str, where: pl.Series) -> pl.Series:
    """`json_path_match("$.<key>")` of the cardData documents flagged in `where`; null elsewhere.

    Parsing is what costs (a match parses the whole document: 2 s per 3 million documents at Hub scale),
    so callers flag only the documents whose answer can matter and can be non-null (see `_card_hints`).
    """
    out = pl.Series(card.name, [None] * card.len(), pl.String)
    if where.any():
        out = out.scatter(where.arg_true(), card.filter(where).str.json_path_match(f"$.{key}"))
    return out


def _card_hints(card: pl.Expr) -> list[pl.Expr]:
    """Flags that spare most cardData documents any parsing.

    `_escaped`: the document has a backslash, so some character may be escaped. `_card_key`: it may hold
    a `base_model` or `base_model_relation` key: a key is spelled `"base_model...` unless escaped.
    A document with neither flag answers null to both `json_path_match`es without being parsed. `_card_key`
    does not include `_escaped` (the caller ORs them): an eager select evaluates a repeated sub-expression
    once per use, and each flag reads the whole text.
    """
    return [
        card.str.contains("\\", literal=True).fill_null(False).alias("_escaped"),
        card.str.contains('"base_model', literal=True).fill_null(False).alias("_card_key"),
    ]


def _card_ids(value: str) -> pl.Expr:
    """The parent ids in cardData.base_model's value (column `value`) as `json_path_match` returns it (a
    string, or an array as compact JSON): a bracketed value is split at commas, quotes and spaces stripped."""
    v = pl.col(value)
    return (
        pl.when(v.str.starts_with("["))
        .then(v.str.strip_chars("[]").str.split(","))
        .otherwise(pl.concat_list(v))
        .list.eval(pl.element().str.strip_chars(" \"'").filter(pl.element().str.len_chars() > 0))
        .list.eval(pl.element().str.strip_chars())
    )


def _redundant_cards(models: pl.DataFrame) -> pl.Series:
    """True where cardData.base_model provably adds no parent to `_known` (the ids from baseModels and
    tags), read from the document's text without parsing it: first the common case (`_names_first_known`),
    then, in the other plain documents, any string or array of strings (`_redundant_values`).
    """
    plain = ~models.get_column("_escaped") & (models.get_column("_tokens") == 1)
    first = _names_first_known(models) & plain
    rest = plain & ~first
    if not rest.any():
        return first
    return first.scatter(rest.arg_true(), _redundant_values(models.filter(rest)))


def _names_first_known(models: pl.DataFrame) -> pl.Series:
    """True where the text after the first `"base_model": ` is `"X"` or `["X"]`, X the first of `_known`.

    Most cards that declare a parent repeat baseModels' first id like this (715,000 of 860,000 declaring
    models in the 3M synthetic Hub), and a search, a slice and a comparison cost half the regex of
    `_redundant_values`. In a plain document (see there) the key is that single token; a string ends at its
    next quote, so `"X"` is the whole value, `["X"]` the whole array, and X reads back as itself from
    `json_path_match`'s answer when it is made of `_PLAIN_ID`'s characters. Callers AND it with plainness.
    """
    width = pl.col("_first").str.len_bytes()
    # Byte offsets (str.find's) into the bytes: str.slice counts characters.
    value = pl.col("cardData").cast(pl.Binary).bin.slice(pl.col("_at") + len(_CARD_KEY), width + 4)
    quoted = (pl.lit('"') + pl.col("_first") + pl.lit('"')).cast(pl.Binary)
    listed = (pl.lit('["') + pl.col("_first") + pl.lit('"]')).cast(pl.Binary)
    return (
        models.select(
            "cardData",
            pl.col("cardData").str.find(_CARD_KEY, literal=True).alias("_at"),
            pl.col("_known").list.first().alias("_first"),
        )
        .select(value.alias("_value"), "_first", quoted.alias("_quoted"), listed.alias("_listed"))
        .select(
            (
                pl.col("_first").str.contains(_PLAIN_ID)
                & ((pl.col("_value").bin.head(width + 2) == pl.col("_quoted")) | (pl.col("_value") == pl.col("_listed")))
            ).fill_null(False)
        )
        .to_series()
    )


def _redundant_values(models: pl.DataFrame) -> pl.Series:
    """`_redundant_cards` by the value's text, for plain documents.

    In a document with no backslash (`_escaped`: no escaped character anywhere) and a single
    `"base_model"` token (`_tokens`), that token followed by a colon is a key; if it is the top-level one,
    `_CARD_VALUE` captures exactly its value when that is a string or an array of strings (a string ends
    at its next quote). The ids read from that text are those `_card_ids` reads from `json_path_match`'s
    answer (the same characters; only whitespace between tokens differs, and it is stripped). If they are
    all in `_known`, parsing cannot add a parent: either the key is top-level and adds those ids, or it is
    nested or the document is not JSON, and `json_path_match` answers null. Anything else is parsed.
    """
    value = pl.col("_value")
    # Each step materialised: an eager select evaluates a repeated sub-expression once per use.
    return (
        models.select(
            "_known",
            # A string value has no quote inside it (_CARD_VALUE): stripping quotes removes exactly its own two,
            # as json_path_match answers it; an array starts with '[' and ends with ']', and is left alone.
            pl.col("cardData").str.extract(_CARD_VALUE, 1).str.strip_chars('"').alias("_value"),
        )
        .select((value.is_not_null() & (_card_ids("_value").list.set_difference("_known").list.len() == 0)).fill_null(False))
        .to_series()
    )


def _fill(values: pl.Series, missing: pl.Series, compute: Callable[[pl.Series], pl.Series]) -> pl.Series:
    """`values` with its elements at `missing` replaced by `compute(missing)` (only those are computed)."""
    if not missing.any():
        return values
    return values.scatter(missing.arg_true(), compute(missing))


def _known(models: pl.DataFrame) -> pl.Series:
    """The parents named in baseModels and in `base_model:` tags, stripped, baseModels' first: the same
    set, and the same ids in the same first-seen order, as the two lists concatenated (repeats may differ:
    callers take the set, or `unique(maintain_order=True)`).

    Most rows' tags name only parents that baseModels lists (`base_model:X`, `base_model:finetune:X`):
    their baseModels list is that answer, and polars' `concat_list` (as costly as all the rest of this
    function) runs only on the other rows.
    """
    lists = models.select(
        pl.col("baseModels").struct.field("models").list.eval(pl.element().struct.field("id").str.strip_chars()).fill_null([]).alias("_known"),
        pl.col("_base_tags").list.eval(pl.element().str.strip_prefix(_TAG_PREFIX).str.replace(_TAG_RELATION_PREFIX, "").str.strip_chars()).fill_null([]).alias("_tag_ids"),
    )
    other = lists.select(pl.col("_tag_ids").list.set_difference("_known").list.len() > 0).to_series()
    from_struct = lists.get_column("_known")
    if not other.any():
        return from_struct
    both = lists.filter(other).select(pl.concat_list("_known", "_tag_ids")).to_series()
    # Each row's position in from_struct followed by both (list columns cannot be scattered into).
    at = pl.select(pl.when(other).then(other.cum_sum() - 1 + models.height).otherwise(pl.int_range(models.height)).cast(pl.UInt32)).to_series()
    return pl.concat([from_struct, both], rechunk=True).gather(at)


def _declared(models: pl.DataFrame) -> pl.DataFrame:
    """`base_model_ids` and `base_relation` of each row: parents from baseModels, `base_model:` tags and
    cardData.base_model, merged in that order without repeats; the relation from the first that has one
    (`pl.coalesce` of the three, each computed only where the ones before it have none)."""
    # The regex engine counts a literal faster than polars' literal count_matches (0.16 s against 0.22 s on
    # 840,000 documents).
    tokens = pl.col("cardData").str.count_matches('"base_model"').fill_null(0)
    models = models.with_columns(_known(models), tokens.alias("_tokens"))
    texts, escaped = models.get_column("cardData"), models.get_column("_escaped")
    may_hold = (models.get_column("_tokens") > 0) | escaped
    card = _parse_card(texts, "base_model", may_hold & ~_redundant_cards(models))
    if card.null_count() == card.len():
        ids = models.select(pl.col("_known").list.unique(maintain_order=True)).to_series()
    else:
        with_card = models.select("_known", card.alias("_card"))
        ids = with_card.select(pl.concat_list("_known", _card_ids("_card").fill_null([])).list.unique(maintain_order=True)).to_series()

    def from_tags(rows: pl.Series) -> pl.Series:
        base_tags = models.get_column("_base_tags").filter(rows)
        return base_tags.list.eval(pl.element().str.extract(_TAG_RELATION, 1).drop_nulls()).list.first()

    relation = models.get_column("baseModels").struct.field("relation")
    relation = _fill(relation, relation.is_null(), from_tags)

    def from_card(rows: pl.Series) -> pl.Series:
        cards = texts.filter(rows)
        return _parse_card(cards, "base_model_relation", cards.str.contains('"base_model_relation"', literal=True).fill_null(False) | escaped.filter(rows))

    relation = _fill(relation, relation.is_null(), from_card)
    return pl.DataFrame({"base_model_ids": ids, "base_relation": relation.set(~relation.is_in(RELATIONS), None)})


def _parents(good: pl.DataFrame) -> pl.DataFrame:
    """`base_model_ids` and `base_relation` for every row of `good`, worked out only where a parent is declared.

    About 70 % of the Hub's models declare none (no baseModels, no `base_model:` tag, no `base_model` in
    cardData): they get [] and null without the list work, which costs more than everything else here.
    """
    base_tags = pl.col("tags").list.eval(pl.element().filter(pl.element().str.starts_with(_TAG_PREFIX)))
    hints = good.select("baseModels", "cardData", base_tags.alias("_base_tags"), *_card_hints(pl.col("cardData")))
    declares = pl.col("baseModels").is_not_null() | (pl.col("_base_tags").list.len() > 0).fill_null(False) | pl.col("_card_key") | pl.col("_escaped")
    mask = hints.select(declares).to_series()
    parents = _declared(hints.filter(mask))
    none = pl.DataFrame({"base_model_ids": [[]], "base_relation": [None]}, schema=parents.schema)
    # Each row's position in `parents`, or the extra row of `none` for rows that declare nothing.
    at = pl.select(pl.when(mask).then(mask.cum_sum() - 1).otherwise(parents.height).cast(pl.UInt32)).to_series()
    # One chunk first: polars gathers from a list column in several chunks ten times slower.
    return pl.concat([parents, none], rechunk=True).select(pl.all().gather(at))


def valid_model_ids(ids: pl.Series) -> pl.Series:
    """Whether each id matches MODEL_ID_PATTERN (null for a null id), at a fifteenth of the pattern's cost.

    The pattern is a shape (a word character, then word characters, '.' and '-', exactly one '/') and a
    bound of 96 characters on each side of the '/'. The shape is tried with ASCII classes first (what
    almost every id is made of, and 1.5x faster than Unicode ones), then with Unicode ones on the ids
    that failed; the bound can only be broken by an id longer than 98 bytes (each side has at least one
    character, and no character is shorter than a byte), so only those are split and counted.
    Tested against the pattern itself on hostile ids.
    """
    ok = ids.str.contains(_ASCII_ID_SHAPE)
    retry = ~ok & ids.is_not_null()
    if retry.any():
        ok = ok.scatter(retry.arg_true(), ids.filter(retry).str.contains(_ID_SHAPE))
    long = (ok & (ids.str.len_bytes() > _ID_PART_CHARS + 2)).fill_null(False)
    if long.any():
        parts = ids.filter(long).str.split_exact("/", 1)
        fits = (parts.struct.field("field_0").str.len_chars() <= _ID_PART_CHARS) & (
            parts.struct.field("field_1").str.len_chars() <= _ID_PART_CHARS
        )
        ok = ok.scatter(long.arg_true(), fits)
    return ok


def _stage(
    batch: pl.DataFrame, snapshot_at: dt.datetime, offset: int, max_count: int
) -> tuple[pl.DataFrame, list[str], list[str]]:
    """Coerced hub columns plus `model_id`, the quarantine `reason` (null when the row is good) and `_row`,
    the row's position in the whole listing (batches are numbered from `offset`)."""
    lf, missing, recast = _coerce(batch.lazy())
    # The in-memory engine keeps each column in one chunk, like the batch; the default (streaming) one splits
    # them in two, and later steps that meet one-chunk columns beside them (valid ids, reasons, parents) pay
    # for it: staging and mapping 3 million rows cost 0.8 CPU-seconds more.
    staged = lf.with_columns(pl.col("id").str.strip_chars().alias("model_id")).collect(engine="in-memory")
    staged = staged.with_columns(valid_model_ids(staged.get_column("model_id")).alias("_valid_id"))
    schema = staged.schema
    snap = pl.lit(snapshot_at.astimezone(dt.UTC), UTC_TS)
    model_id = pl.col("model_id")
    reason = pl.when(pl.col("_reject").is_not_null()).then(pl.col("_reject")) if "_reject" in schema else pl
    reason = (
        reason.when(model_id.is_null() | (model_id == ""))
        .then(pl.lit("missing_id"))
        .when(~pl.col("_valid_id") | model_id.str.contains(r"\.\.|--"))
        .then(pl.lit("invalid_id"))
    )
    for c in TYPED_COLUMNS:
        orig = f"_orig_{c}"
        if orig in schema:
            reason = reason.when(pl.col(orig).is_not_null() & pl.col(c).is_null()).then(pl.lit(f"wrong_type:{c}"))
            if c in COUNT_COLUMNS and schema[orig].is_float():  # the cast would truncate 1.7 downloads to 1
                reason = reason.when(pl.col(orig) != pl.col(orig).floor()).then(pl.lit(f"wrong_type:{c}"))
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
    staged = staged.with_columns(reason.alias("reason"), (pl.int_range(pl.len(), dtype=pl.Int64) + offset).alias("_row")).drop("_valid_id")
    return staged, missing, recast


Batches = Callable[[], Iterable[pl.DataFrame]]
"""A re-readable listing: each call yields the listing again, batch by batch, in the same order."""


def repeated_hashes(hashes: list[pl.Series]) -> pl.Series:
    """The hashes that occur more than once among `hashes` (a sort, not a hash table: 8 bytes a row, and
    0.07 s for 3 million against 0.24-0.30 s for `is_duplicated`)."""
    ordered = pl.concat(hashes).sort() if hashes else pl.Series(dtype=pl.UInt64)
    return ordered.filter(ordered == ordered.shift(1)).unique()


def _duplicate_losers(batches: Batches, repeated: pl.Series, snapshot_at: dt.datetime, max_count: int) -> pl.Series:
    """`_row` of every good row that loses to another copy of its id: the most recently modified copy is
    kept (the first seen on a tie).

    `repeated` are the hashes of good rows' ids that occur more than once; only rows with those hashes are
    read again, with their ids, so a collision costs a re-read, never a row.
    """
    if repeated.is_empty():
        return pl.Series("_row", [], dtype=pl.Int64)
    wanted = repeated.implode()
    offset, found = 0, []
    for batch in batches():
        staged, _, _ = _stage(batch, snapshot_at, offset, max_count)
        found.append(
            staged.filter(pl.col("reason").is_null() & pl.col("model_id").hash().is_in(wanted)).select("model_id", "lastModified", "_row")
        )
        offset += batch.height
    ranked = pl.concat(found).sort(["lastModified", "_row"], descending=[True, False], nulls_last=True)
    return ranked.filter(~pl.col("model_id").is_first_distinct()).get_column("_row")


def _params_total(good: pl.DataFrame) -> pl.Series:
    """safetensors.total, else gguf's `total` (parsed only where safetensors has none and gguf is present)."""
    total = good.get_column("safetensors").struct.field("total").alias("params_total")
    gguf = good.get_column("gguf")
    return _fill(total, total.is_null() & gguf.is_not_null(), lambda rows: gguf.filter(rows).str.json_path_match("$.total").cast(pl.Int64, strict=False))


def repack_format() -> pl.Expr:
    """Whether a repo is a GGUF or MLX build: one of REPACK_FORMATS among its `tags`, or its `library_name`."""
    # Compared with each format in turn: half the cost of `is_in` (a hash lookup) over the 27 million tags of 3M models.
    named = pl.element() == REPACK_FORMATS[0]
    for fmt in REPACK_FORMATS[1:]:
        named = named | (pl.element() == fmt)
    in_tags = pl.col("tags").list.eval(named).list.any().fill_null(False)
    return in_tags | pl.col("library_name").is_in(REPACK_FORMATS).fill_null(False)


def _raw_rows(good: pl.DataFrame, month: dt.date, snapshot_at: dt.datetime, source: str) -> pl.DataFrame:
    parents = _parents(good)
    model_id = pl.col("model_id")
    placeholder = pl.col("createdAt") == pl.lit(PLACEHOLDER_CREATED_AT, UTC_TS)
    rows = good.select(
        pl.lit(month, pl.Date).alias("month"),
        "model_id",
        # A good id has one '/': the bytes before it (a quarter cheaper than splitting into a list).
        model_id.cast(pl.Binary).bin.head(model_id.str.find("/", literal=True)).cast(pl.String).alias("author"),
        pl.when(placeholder).then(None).otherwise(pl.col("createdAt")).alias("created_at"),
        pl.col("lastModified").alias("last_modified"),
        pl.col("downloads").alias("downloads_30d"),
        pl.col("downloadsAllTime").alias("downloads_all_time"),
        "likes",
        pl.col("trendingScore").alias("trending_score"),
        "pipeline_tag",
        "library_name",
        pl.col("tags").fill_null([]),
        repack_format().alias("repack_format"),
        parents.get_column("base_model_ids"),
        parents.get_column("base_relation"),
        _params_total(good),
        "gated",
        pl.lit(snapshot_at.astimezone(dt.UTC), UTC_TS).alias("snapshot_at"),
        pl.lit(source).alias("source"),
    )
    return conform(rows, RAW_HUB_LISTINGS)


def _with_offsets(batches: Iterable[pl.DataFrame]) -> Iterator[tuple[pl.DataFrame, int]]:
    """Each batch with the position of its first row in the whole listing."""
    offset = 0
    for batch in batches:
        yield batch, offset
        offset += batch.height


def in_order(work: Callable[[_T], _R], items: Iterable[_T], workers: int = WORKERS, name: str = "normalise") -> Iterator[_R]:
    """`work` of each item, in the items' order, computed by `workers` threads (at most `workers` ahead).

    Polars releases the GIL, and most of its work on one batch runs on one core: two batches at a time
    use both cores of a laptop-sized machine, while the caller writes the previous result. If the caller
    stops early, work not yet started is cancelled (what is running finishes first).
    """
    if workers <= 1:
        yield from map(work, items)
        return
    with ThreadPoolExecutor(workers, thread_name_prefix=name) as pool:
        pending: deque[Future[_R]] = deque()
        try:
            for item in items:
                pending.append(pool.submit(work, item))
                if len(pending) > workers:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            for future in pending:
                future.cancel()


Sink = Callable[[pl.DataFrame], None]
Sinks = Callable[[], AbstractContextManager[tuple[Sink, Sink]]]
"""Opens where one pass writes its rows and its quarantine. A pass that is abandoned leaves the block with
an exception, so nothing it wrote is kept (storage.parquet.partition_writers does not publish)."""


class _RepeatedIds(Exception):
    """An optimistic pass met ids that occur more than once; `repeated` are their hashes."""

    def __init__(self, repeated: pl.Series) -> None:
        super().__init__(f"{repeated.len()} repeated id hashes")
        self.repeated = repeated


def normalise_batches(
    batches: Batches,
    *,
    month: dt.date,
    snapshot_at: dt.datetime,
    source: str,
    sinks: Sinks,
    max_count: int = MAX_COUNT,
) -> dict[str, object]:
    """Normalise a listing too large for memory, batch by batch, into the rows and quarantine `sinks` opens.

    A model listed twice must be kept once, whichever batches hold its copies, and that is known only
    at the end. The Hub's listings almost never repeat an id, so the first pass writes every good row and
    keeps a 64-bit hash of each good id (8 bytes a row). If no hash repeats, that pass is the result: the
    listing was read once. If one does, the pass is abandoned (its sinks see an exception and publish
    nothing), the repeated ids' losers are found by reading only the rows with those hashes, and a second
    pass writes the listing without them. Memory holds one batch plus the hashes. Returns the notes for
    metadata; `passes` says how many full passes it took.
    """
    try:
        with sinks() as (write_rows, write_quarantine):
            return _pass(batches, month, snapshot_at, source, write_rows, write_quarantine, max_count, losers=None)
    except _RepeatedIds as repeats:
        losers = _duplicate_losers(batches, repeats.repeated, snapshot_at, max_count)
    with sinks() as (write_rows, write_quarantine):
        return _pass(batches, month, snapshot_at, source, write_rows, write_quarantine, max_count, losers=losers)


def _pass(
    batches: Batches,
    month: dt.date,
    snapshot_at: dt.datetime,
    source: str,
    write_rows: Sink,
    write_quarantine: Sink,
    max_count: int,
    losers: pl.Series | None,
) -> dict[str, object]:
    """One pass over `batches`. With `losers` (the `_row`s of the copies that lose), they are quarantined as
    `duplicate_id`; without, the good ids' hashes are kept and `_RepeatedIds` raised at the end if one repeats."""
    is_loser = pl.col("_row").is_in(losers.implode()) if losers is not None and losers.len() else pl.lit(False)

    def one(item: tuple[pl.DataFrame, int]) -> tuple[pl.DataFrame, pl.DataFrame, list[str], list[str], dict[str, int], pl.Series | None]:
        batch, offset = item
        staged, missing, recast = _stage(batch, snapshot_at, offset, max_count)
        bad = staged.filter(pl.col("reason").is_not_null())
        good = staged.filter(pl.col("reason").is_null())
        dups = good.filter(is_loser).with_columns(pl.lit("duplicate_id").alias("reason"))
        good = good.filter(~is_loser)
        hashes = good.get_column("model_id").hash() if losers is None else None
        rows = _raw_rows(good, month, snapshot_at, source)
        quarantined = quarantine_frame(pl.concat([bad, dups], how="diagonal_relaxed"), month)
        counts = {
            "rows_in": staged.height,
            "rows_out": rows.height,
            "quarantined": quarantined.height,
            "placeholder_created_at": int(good.select((pl.col("createdAt") == pl.lit(PLACEHOLDER_CREATED_AT, UTC_TS)).sum()).item() or 0),
            "author_mismatch": int((good.get_column("author").is_not_null() & (good.get_column("author") != rows.get_column("author"))).sum()),
            "downloads_30d_total": int(rows.get_column("downloads_30d").sum() or 0),
        }
        return rows, quarantined, missing, recast, counts, hashes

    totals: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    # Columns missing from, or recast in, any batch (a listing's batches may differ: live pages, CSV chunks).
    missing: dict[str, None] = {}
    recast: dict[str, None] = {}
    hashes: list[pl.Series] = []
    for rows, quarantined, batch_missing, batch_recast, counts, batch_hashes in in_order(one, _with_offsets(batches())):
        missing |= dict.fromkeys(batch_missing)
        recast |= dict.fromkeys(batch_recast)
        write_rows(rows)
        write_quarantine(quarantined)
        reasons.update(dict(quarantined.get_column("reason").value_counts().iter_rows()))
        totals.update(counts)
        if batch_hashes is not None:
            hashes.append(batch_hashes)
    if losers is None:
        repeated = repeated_hashes(hashes)
        if not repeated.is_empty():
            raise _RepeatedIds(repeated)
    return {
        "rows_in": totals["rows_in"],
        "rows_out": totals["rows_out"],
        "quarantined": totals["quarantined"],
        "quarantine_reasons": dict(sorted(reasons.items())),
        "missing_columns": list(missing),
        "recast_columns": list(recast),
        "placeholder_created_at": totals["placeholder_created_at"],
        "author_mismatch": totals["author_mismatch"],
        "downloads_30d_total": totals["downloads_30d_total"],
        "passes": 1 if losers is None else 2,
    }


def normalise(
    listing: pl.LazyFrame | pl.DataFrame | Batches,
    *,
    month: dt.date,
    snapshot_at: dt.datetime,
    source: str,
    max_count: int = MAX_COUNT,
) -> Normalised:
    """Normalise a hub-stats-shaped listing taken at `snapshot_at` into partition `month` of the raw schema.

    `listing` is a frame, or batches (`publish.parquet_batches(file)` reads a file batch by batch: the
    normalised rows are held in memory, the file's wide columns such as cardData never are at once).
    `max_count` is the largest credible per-model count (quality/thresholds.yaml, raw_hub_listings.max_count).
    """
    if isinstance(listing, pl.LazyFrame | pl.DataFrame):
        frame = listing.collect() if isinstance(listing, pl.LazyFrame) else listing
        batches: Batches = lambda: [frame]  # noqa: E731
    else:
        batches = listing
    rows: list[pl.DataFrame] = []
    quarantined: list[pl.DataFrame] = []

    @contextmanager
    def sinks() -> Iterator[tuple[Sink, Sink]]:
        rows.clear()
        quarantined.clear()
        yield rows.append, quarantined.append

    notes = normalise_batches(batches, month=month, snapshot_at=snapshot_at, source=source, sinks=sinks, max_count=max_count)
    return Normalised(
        rows=pl.concat(rows) if rows else RAW_HUB_LISTINGS.empty(),
        quarantine=pl.concat(quarantined) if quarantined else QUARANTINE.empty(),
        notes=notes,
    )


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
