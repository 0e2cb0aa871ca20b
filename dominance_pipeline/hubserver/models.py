"""The model listing behind `GET /api/models`: a columnar table, an ordering per query, pages as JSON text.

Millions of models must be served without turning them into Python objects: the corpus is one polars
frame, each (sort, filters) query is resolved once into an array of row numbers (cached), a cursor is an
offset into that array, and a page is rendered to JSON by polars expressions over just its rows.

What the real Hub does and this reproduces (hf-hub-api.md §1, §5): `expand` / `expand[]` select the keys
returned (only `_id`, `id` and the requested keys; an unknown value is a 400); without `expand` the default
keys; descending sort on `createdAt`, `downloads`, `lastModified`, `likes`, `trendingScore` (default
`trendingScore`); `search` (substring of the id), `author`, `filter` (tags), `pipeline_tag`; timestamps as
`...T..:..:..000Z`; keys whose value is unknown are left out rather than sent as null.
"""

from __future__ import annotations

import base64
import hashlib
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq

# huggingface_hub 2.4 ExpandModelProperty_T (hf_api.py:159-191): every value the Hub accepts.
EXPAND_VALUES = frozenset(
    "author baseModels cardData childrenModelCount config createdAt disabled downloads downloadsAllTime "
    "evalResults gated gguf inference inferenceProviderMapping lastModified library_name likes mask_token "
    "model-index pipeline_tag private resourceGroup safetensors sha siblings spaces tags transformersInfo "
    "trendingScore usedStorage widgetData".split()
)
DEFAULT_KEYS = ("likes", "trendingScore", "private", "downloads", "tags", "pipeline_tag", "library_name", "createdAt", "modelId")
SORT_KEYS = frozenset({"createdAt", "downloads", "lastModified", "likes", "trendingScore", "downloadsAllTime", "id"})
DEFAULT_SORT = "trendingScore"
TIMESTAMP_KEYS = ("createdAt", "lastModified")
# Columns holding JSON text in hub-stats files: sent as JSON values, not as strings.
JSON_TEXT_KEYS = frozenset({"cardData", "gguf", "config", "widgetData", "transformersInfo", "model-index"})
ORDER_CACHE_SIZE = 16


class QueryError(ValueError):
    """A request the Hub would answer with 400; the message is the response's error text."""


@dataclass(frozen=True)
class Query:
    """What selects and orders the models; the cursor is only valid for the same query."""

    sort: str = DEFAULT_SORT
    ascending: bool = False
    search: str | None = None
    author: str | None = None
    tags: tuple[str, ...] = ()
    pipeline_tag: str | None = None

    def fingerprint(self) -> str:
        return hashlib.sha1(repr(self).encode()).hexdigest()[:12]


def encode_cursor(offset: int, query: Query, nonce: int = 0) -> str:
    """An opaque cursor; a `nonce` makes another cursor for the same place (faults.LoopingCursor `fresh`)."""
    text = f"{offset}:{query.fingerprint()}" + (f":{nonce}" if nonce else "")
    return base64.urlsafe_b64encode(text.encode()).decode()


def decode_cursor(cursor: str, query: Query) -> int:
    try:
        offset, fingerprint, *_nonce = base64.urlsafe_b64decode(cursor.encode()).decode().split(":")
        value = int(offset)
    except (ValueError, UnicodeDecodeError):
        raise QueryError("Invalid cursor") from None
    if fingerprint != query.fingerprint() or value < 0:
        raise QueryError("Invalid cursor: it belongs to another query")
    return value


def check_expand(values: Sequence[str]) -> list[str]:
    unknown = [v for v in values if v not in EXPAND_VALUES]
    if unknown:
        allowed = ", ".join(f'"{v}"' for v in sorted(EXPAND_VALUES))
        raise QueryError(f'"expand" must be one of {allowed}; got {", ".join(unknown)}')
    return list(dict.fromkeys(values))


def _as_utc(col: str, dtype: pl.DataType) -> pl.Expr:
    c = pl.col(col)
    if dtype == pl.String:
        return c.str.to_datetime(time_unit="us", time_zone="UTC", strict=False)
    if isinstance(dtype, pl.Datetime):
        return c.dt.replace_time_zone("UTC") if dtype.time_zone is None else c.dt.convert_time_zone("UTC")
    return pl.lit(None, pl.Datetime("us", "UTC"))


class ModelCorpus:
    """The models a server lists, held as one frame in the order of the snapshot files."""

    def __init__(self, frame: pl.DataFrame) -> None:
        if "id" not in frame.columns:
            raise ValueError("a model snapshot needs an `id` column")
        schema = frame.schema
        fixes = [_as_utc(c, schema[c]).alias(c) for c in TIMESTAMP_KEYS if c in schema]
        if "_id" not in schema:
            fixes.append(pl.int_range(pl.len(), dtype=pl.UInt32).cast(pl.String).str.zfill(24).alias("_id"))
        # One chunk per column: gathering a page from a frame read in many row groups costs time in N.
        self.frame = frame.with_columns(fixes).rechunk()
        self.keys = frozenset(self.frame.columns) & (EXPAND_VALUES | {"id", "_id"})
        self._orders: OrderedDict[Query, pl.Series] = OrderedDict()
        self._lock = threading.Lock()

    @classmethod
    def from_parquet(cls, paths: Sequence[str | Path]) -> ModelCorpus:
        """Read only the columns the API can serve, from one or more hub-stats-shaped Parquet files."""
        frames = []
        for path in paths:
            names = pq.read_schema(path).names
            keep = [c for c in names if c in EXPAND_VALUES or c in ("id", "_id")]
            frames.append(pl.read_parquet(path, columns=keep, glob=False))
        return cls(pl.concat(frames, how="diagonal_relaxed") if len(frames) > 1 else frames[0])

    def __len__(self) -> int:
        return self.frame.height

    def order(self, query: Query) -> pl.Series:
        """Row numbers of the models the query selects, in the order pages walk them (cached)."""
        with self._lock:
            if query in self._orders:
                self._orders.move_to_end(query)
                return self._orders[query]
        if query.sort not in SORT_KEYS:
            raise QueryError(f'Invalid sort "{query.sort}": use one of {", ".join(sorted(SORT_KEYS))}')
        lf = self.frame.lazy().with_row_index("_row")
        if query.search:
            lf = lf.filter(pl.col("id").str.to_lowercase().str.contains(query.search.lower(), literal=True))
        if query.author:
            lf = lf.filter(pl.col("id").str.split("/").list.first().str.to_lowercase() == query.author.lower())
        if query.pipeline_tag and "pipeline_tag" in self.keys:
            lf = lf.filter(pl.col("pipeline_tag") == query.pipeline_tag)
        for tag in query.tags:
            lf = lf.filter(pl.col("tags").list.contains(tag)) if "tags" in self.keys else lf.filter(pl.lit(False))
        if query.sort in self.frame.columns:
            lf = lf.sort([query.sort, "_row"], descending=[not query.ascending, False], nulls_last=True)
        rows = lf.select("_row").collect().to_series()
        with self._lock:
            self._orders[query] = rows
            while len(self._orders) > ORDER_CACHE_SIZE:
                self._orders.popitem(last=False)
        return rows

    def page_json(self, rows: pl.Series, keys: Sequence[str]) -> bytes:
        """The models at `rows` as the Hub's JSON array, each with `_id`, `id` and `keys` (absent when unknown)."""
        page = self.frame.select(pl.all().gather(rows)) if len(rows) else self.frame.clear()
        fragments = [_fragment("_id", page.schema), _fragment("id", page.schema)]
        for key in keys:
            if key == "modelId":
                fragments.append(pl.concat_str(pl.lit('"modelId":'), _json_string(pl.col("id"))))
            elif key == "private" and "private" not in page.columns:
                fragments.append(pl.lit('"private":false'))
            elif key in page.columns and key not in ("_id", "id"):
                fragments.append(_fragment(key, page.schema))
        objects = pl.concat_str([pl.lit("{"), pl.concat_str(fragments, separator=",", ignore_nulls=True), pl.lit("}")])
        body = page.select(objects.str.join(",")).item() if page.height else ""
        return f"[{body}]".encode()


def _json_string(expr: pl.Expr) -> pl.Expr:
    """A string expression as a JSON string literal (quotes and escapes by polars' JSON encoder)."""
    return pl.struct(expr.alias("v")).struct.json_encode().str.strip_prefix('{"v":').str.strip_suffix("}")


def _fragment(key: str, schema: pl.Schema) -> pl.Expr:
    """`"key":<json>` for one column, or null where the value is unknown (then the key is left out)."""
    col, dtype = pl.col(key), schema[key]
    head = pl.lit(f'"{key}":')
    if key in TIMESTAMP_KEYS:
        value = _json_string(col.dt.strftime("%Y-%m-%dT%H:%M:%S%.3fZ"))
    elif key in JSON_TEXT_KEYS and dtype == pl.String:
        value = pl.when(col.str.len_bytes() > 0).then(col)
    elif key == "gated" and dtype == pl.String:
        value = pl.when(col.is_in(["true", "false"])).then(col).otherwise(_json_string(col))
    elif key == "safetensors" and isinstance(dtype, pl.Struct):
        # The Hub lists only the dtypes a model has; a Parquet struct has a field (null) for every dtype seen.
        value = pl.struct(col.alias("v")).struct.json_encode().str.replace_all(r'"[^"]*":null,?', "").str.replace_all(",}", "}")
        value = value.str.strip_prefix('{"v":').str.strip_suffix("}")
    else:
        value = pl.struct(col.alias("v")).struct.json_encode().str.strip_prefix('{"v":').str.strip_suffix("}")
    return pl.when(col.is_not_null()).then(pl.concat_str(head, value))
