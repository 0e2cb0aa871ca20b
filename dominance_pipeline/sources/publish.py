"""From a hub-shaped Parquet file to the published raw partition and its quarantine, in bounded memory.

Every source ends here: the local source hands over its snapshot file as it is, the live and archive
sources first stage what they fetched into a local hub-shaped Parquet file. The file is read in batches
(`normalise_batches` reads it once, twice when an id repeats), and both partitions are written
with `partition_writers` and published together, so a failure at any point leaves the previous partitions in
place.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from dominance_pipeline.schemas import QUARANTINE, RAW_HUB_LISTINGS, Schema
from dominance_pipeline.sources.normalise import HUB_COLUMNS, MAX_COUNT, SOURCE_COLUMNS, Batches, Sink, in_order, normalise_batches
from dominance_pipeline.storage import parquet

# A batch is a row group (the synthetic Hub and DuckDB-written files: 122,880 rows; live staging 50,000,
# archive staging 65,536); a larger row group is read in slices of this many rows (slicing costs a little per slice).
BATCH_ROWS = 131_072
# Batches decoded at a time, ahead of the caller (threads; see ParquetBatches).
READERS = 2
TABLE = "raw_hub_listings"


class ParquetBatches:
    """The hub columns of one Parquet file (or several, in order), a row group (at most `batch_rows` rows) at
    a time; at least one batch, maybe empty.

    Read one row group at a time (a single pyarrow `iter_batches` over the whole file
    keeps memory that grows with the file: +137 MB after 3 million rows with pyarrow 26), by polars'
    own reader (twice as fast as pyarrow plus a conversion, on string columns). Polars decodes a row group
    on one core, as long as normalising it takes on the other: READERS threads decode the next batches
    while the caller works, and hand them over in order. A struct `safetensors` column is
    read down to its `total` leaf (hub-stats also nests a per-dtype parameter count there: reading the
    whole struct costs more than the column is worth).

    Text that is not valid UTF-8 is quarantined row by row (`valid_text`): polars refuses such a batch
    (Parquet strings are not checked when written), so that batch, and every batch of a file whose text
    columns are binary, is read by pyarrow and repaired instead.
    """

    def __init__(self, paths: Path | Sequence[Path], batch_rows: int = BATCH_ROWS) -> None:
        self.files = [Path(paths)] if isinstance(paths, str | Path) else [Path(p) for p in paths]
        if not self.files:
            raise ValueError("parquet_batches needs at least one file")
        self.batch_rows = batch_rows

    def __call__(self) -> Iterator[pl.DataFrame]:
        return in_order(_read_slice, self._slices(), READERS, name="parquet-batches")

    def _slices(self) -> Iterator[_Slice]:
        first_empty: _Slice | None = None
        yielded = False
        for path in self.files:
            pf = pq.ParquetFile(path)
            schema = pf.schema_arrow
            wanted = tuple(c for c in (*HUB_COLUMNS, *SOURCE_COLUMNS) if c in schema.names)
            binary = any(_text_type(schema.field(c).type, "string") != schema.field(c).type for c in wanted if c not in SOURCE_COLUMNS)
            leaf = "safetensors" in wanted and _struct_with(schema.field("safetensors").type, "total")
            if pf.metadata.num_rows == 0:
                first_empty = first_empty or _Slice(path, pf.metadata, wanted, binary, leaf, group=0, offset=0, start=0, rows=0)
                continue
            yielded = True
            offset = 0
            for group in range(pf.num_row_groups):
                rows = pf.metadata.row_group(group).num_rows
                for start in range(0, rows, self.batch_rows):
                    yield _Slice(path, pf.metadata, wanted, binary, leaf, group, offset, start, min(self.batch_rows, rows - start))
                offset += rows
        if not yielded and first_empty is not None:
            yield first_empty


@dataclass(frozen=True)
class _Slice:
    """Rows `start`..`start+rows` of row group `group` (whose first row is row `offset` of the file)."""

    path: Path
    metadata: pq.FileMetaData  # the file's footer, read once (each slice opens its own reader: threads do not share one)
    columns: tuple[str, ...]  # the hub and source columns the file has
    binary: bool  # some text column is stored as binary: read by pyarrow and decoded
    leaf: bool  # safetensors is a struct with a total: read down to that leaf
    group: int
    offset: int
    start: int
    rows: int


def _read_slice(s: _Slice) -> pl.DataFrame:
    """The batch `s` names, by polars' reader, or by pyarrow's where its text must be checked or decoded."""
    pf = pq.ParquetFile(s.path, metadata=s.metadata)
    if s.rows == 0:
        return pl.from_arrow(pf.schema_arrow.empty_table().select(list(s.columns)))  # type: ignore[return-value]
    by_polars = [c for c in s.columns if not (s.leaf and c == "safetensors")]
    batch = None if s.binary else _polars_slice(s.path, by_polars, s.offset + s.start, s.rows)
    if batch is None:
        table = pf.read_row_group(s.group, columns=by_polars).slice(s.start, s.rows)
        batch = pl.from_arrow(valid_text(table.combine_chunks().to_batches()[0]))  # type: ignore[assignment]
    if s.leaf:
        nested = pf.read_row_group(s.group, columns=["safetensors.total"]).slice(s.start, s.rows)
        batch = batch.with_columns(pl.from_arrow(nested).to_series().alias("safetensors"))  # type: ignore[union-attr]
    return batch.select([*s.columns, *(c for c in SOURCE_COLUMNS if c in batch.columns and c not in s.columns)])  # type: ignore[union-attr]


def _polars_slice(path: Path, columns: list[str], offset: int, n: int) -> pl.DataFrame | None:
    """Rows `offset`..`offset+n` of `columns` by polars' reader, or None when their text is not valid UTF-8."""
    try:
        return pl.scan_parquet(path, hive_partitioning=False, glob=False).select(columns).slice(offset, n).collect()
    except pl.exceptions.ComputeError as exc:
        if "utf-8" not in str(exc).lower():
            raise
        return None


def _struct_with(dtype: pa.DataType, field: str) -> bool:
    return pa.types.is_struct(dtype) and dtype.get_field_index(field) >= 0


def parquet_batches(paths: Path | Sequence[Path], batch_rows: int = BATCH_ROWS) -> ParquetBatches:
    """The hub columns of one Parquet file (or several, in order), batch by batch (see ParquetBatches)."""
    return ParquetBatches(paths, batch_rows)


def _text_type(t: pa.DataType, to: str) -> pa.DataType:
    """`t` with every string (to="binary") or binary (to="string") inside it swapped for the other."""
    if to == "binary" and (pa.types.is_string(t) or pa.types.is_large_string(t)):
        return pa.large_binary() if pa.types.is_large_string(t) else pa.binary()
    if to == "string" and (pa.types.is_binary(t) or pa.types.is_large_binary(t)):
        return pa.large_string() if pa.types.is_large_binary(t) else pa.string()
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        inner = _text_type(t.value_type, to)
        return pa.large_list(inner) if pa.types.is_large_list(t) else pa.list_(inner)
    if pa.types.is_struct(t):
        return pa.struct([pa.field(f.name, _text_type(f.type, to)) for f in t])
    return t


def _decode(value: object, errors: str = "strict") -> object:
    if isinstance(value, bytes):
        return value.decode("utf-8", errors)
    if isinstance(value, list):
        return [_decode(v, errors) for v in value]
    if isinstance(value, dict):
        return {k: _decode(v, errors) for k, v in value.items()}
    return value


def valid_text(batch: pa.RecordBatch) -> pa.RecordBatch:
    """`batch` with every text column valid UTF-8: a value that is not (Parquet strings are not checked when
    read, and a binary column may hold anything) is set to null and its row marked for quarantine
    (`_reject` = `invalid_text:<column>`, the original bytes in `_orig_item` as JSON with surrogate escapes).
    Binary columns of the hub's text fields become strings. Costs one UTF-8 validation per clean batch.
    """
    suspect = []
    for i, f in enumerate(batch.schema):
        if f.name in SOURCE_COLUMNS or _text_type(f.type, "binary") == f.type and _text_type(f.type, "string") == f.type:
            continue
        if _text_type(f.type, "string") != f.type:
            suspect.append(i)  # binary: decode it
            continue
        try:
            batch.column(i).validate(full=True)
        except pa.ArrowInvalid:
            suspect.append(i)
    if not suspect:
        return batch
    n = batch.num_rows
    reject: list[str | None] = batch.column("_reject").to_pylist() if "_reject" in batch.schema.names else [None] * n
    orig: list[str | None] = batch.column("_orig_item").to_pylist() if "_orig_item" in batch.schema.names else [None] * n
    columns = dict(zip(batch.schema.names, batch.columns, strict=True))
    for i in suspect:
        f = batch.schema.field(i)
        values = batch.column(i).cast(_text_type(f.type, "binary")).to_pylist()
        for row, value in enumerate(values):
            try:
                values[row] = _decode(value)
            except UnicodeDecodeError:
                values[row] = None
                if reject[row] is None:
                    reject[row] = f"invalid_text:{f.name}"
                    orig[row] = json.dumps({f.name: _decode(value, "surrogateescape")})
        columns[f.name] = pa.array(values, type=_text_type(f.type, "string"))
    columns["_reject"], columns["_orig_item"] = pa.array(reject, pa.string()), pa.array(orig, pa.string())
    return pa.RecordBatch.from_pydict(columns)


class _Sink:
    """Appends conformed frames to an open ParquetWriter under one fixed Arrow schema."""

    def __init__(self, writer: pq.ParquetWriter, schema: pa.Schema) -> None:
        self.writer, self.schema = writer, schema

    def __call__(self, df: pl.DataFrame) -> None:
        if df.height:
            table = _arrow(df)
            self.writer.write_table(table if table.schema == self.schema else table.cast(self.schema), row_group_size=parquet.ROW_GROUP_SIZE)


def _arrow(df: pl.DataFrame) -> pa.Table:
    """`df` as Arrow without a copy: polars' string views as Arrow string views (the default conversion
    copies every string, 1 s per 3 million rows). The file stores plain strings either way (_write_options)."""
    return df.to_arrow(compat_level=pl.CompatLevel.newest())


def arrow_schema(schema: Schema) -> pa.Schema:
    return _arrow(schema.empty()).schema


# Columns whose values are mostly distinct within a row group: a dictionary would only be built and dropped.
# Written to the 3M-model raw partition with one (pyarrow 26, zstd): authors 0.34 against 0.21 CPU-s and 13.5
# against 11.3 MB (one author in four has a single model), each timestamp 0.21-0.26 against 0.07-0.08 s and
# 26 against 21 MB, params_total 0.24 against 0.13 s and 14.5 against 11.7 MB.
_DISTINCT = ("model_id", "author", "created_at", "last_modified", "params_total", "row_json")


def _write_options(schema: Schema) -> dict[str, object]:
    """How a streamed partition is written: no Arrow schema in the footer, so readers see the Parquet types
    (strings, not string views, as polars' own writer stores them); dictionary encoding for the columns
    whose values repeat (tags, parents, categories, counts: the 3M-model raw partition's tags take 67.5 MB
    with one, 74.2 without), not for those that are mostly distinct (`_DISTINCT`); statistics on scalar
    columns."""
    scalar = [c for c, t in schema.columns.items() if not isinstance(t, pl.List)]
    # A list column is named by its leaf's path (its name alone leaves it without a dictionary).
    repeating = [c if c in scalar else f"{c}.list.element" for c in schema.names if c not in _DISTINCT]
    return {"store_schema": False, "use_dictionary": repeating, "write_statistics": scalar}


def publish_listing(
    batches: Batches,
    *,
    warehouse: Path,
    quarantine: Path,
    month: dt.date,
    snapshot_at: dt.datetime,
    source: str,
    max_count: int = MAX_COUNT,
    keep: Sequence[str] = (),
) -> dict[str, object]:
    """Normalise `batches` into the raw partition of `month` and its quarantine, both published atomically.

    Returns normalise_batches' notes plus where the two files went, and under `kept` the `keep` columns of
    every published row, kept as they were written (for the steps that read them next: storage.handoff).
    The quarantine file is written even when empty, so that a re-run replaces an older quarantine.
    """
    raw_schema, q_schema = arrow_schema(RAW_HUB_LISTINGS), arrow_schema(QUARANTINE)
    kept: list[pl.DataFrame] = []

    @contextmanager
    def sinks() -> Iterator[tuple[Sink, Sink]]:
        kept.clear()
        # Published together: a failure while writing either file keeps the month's previous raw partition and
        # quarantine as they were (never a new listing beside an old quarantine, which its check would pass).
        specs = [
            (quarantine, TABLE, month, q_schema, _write_options(QUARANTINE)),
            (warehouse, TABLE, month, raw_schema, _write_options(RAW_HUB_LISTINGS)),
        ]
        with parquet.partition_writers(specs) as (q_writer, writer):
            write = _Sink(writer, raw_schema)

            def sink(rows: pl.DataFrame) -> None:
                write(rows)
                kept.append(rows.select(keep))

            yield (sink if keep else write), _Sink(q_writer, q_schema)

    notes = normalise_batches(batches, month=month, snapshot_at=snapshot_at, source=source, sinks=sinks, max_count=max_count)
    return {
        **notes,
        "path": parquet.partition_file(warehouse, TABLE, month),
        "quarantine_path": parquet.partition_file(quarantine, TABLE, month),
        "kept": pl.concat(kept) if kept else RAW_HUB_LISTINGS.empty().select(keep),
    }
