"""From a hub-shaped Parquet file to the published raw partition and its quarantine, in bounded memory.

Every source ends here: the local source hands over its snapshot file as it is, the live and archive
sources first stage what they fetched into a local hub-shaped Parquet file. The file is read in batches
(`normalise_batches` reads it twice: once for duplicates, once to write), and both partitions are written
with `partition_writer`, so a failure at any point leaves the previous partition in place.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator, Sequence
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from dominance_pipeline.schemas import QUARANTINE, RAW_HUB_LISTINGS, Schema
from dominance_pipeline.sources.normalise import HUB_COLUMNS, MAX_COUNT, SOURCE_COLUMNS, Batches, normalise_batches
from dominance_pipeline.storage import parquet

BATCH_ROWS = 65_536
TABLE = "raw_hub_listings"


def parquet_batches(paths: Path | Sequence[Path], batch_rows: int = BATCH_ROWS) -> Batches:
    """The hub columns of one Parquet file (or several, in order), `batch_rows` at a time (at least one batch,
    maybe empty). Text that is not valid UTF-8 is quarantined row by row (`valid_text`).

    Read one row group at a time: a single `iter_batches` over the whole file keeps memory that grows with
    the file (pyarrow 26: +137 MB still allocated after reading 3 million rows, none per row group).
    """
    files = [Path(paths)] if isinstance(paths, str | Path) else [Path(p) for p in paths]
    if not files:
        raise ValueError("parquet_batches needs at least one file")

    def read() -> Iterator[pl.DataFrame]:
        empty = True
        for path in files:
            pf = pq.ParquetFile(path)
            names = pf.schema_arrow.names
            columns = [c for c in (*HUB_COLUMNS, *SOURCE_COLUMNS) if c in names]
            for group in range(pf.num_row_groups):
                for batch in pf.iter_batches(batch_size=batch_rows, row_groups=[group], columns=columns):
                    empty = False
                    yield pl.from_arrow(valid_text(batch))  # type: ignore[misc]
        if empty:
            yield pl.from_arrow(pf.schema_arrow.empty_table().select(columns))  # type: ignore[misc]

    return read


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
            table = df.to_arrow()
            self.writer.write_table(table if table.schema == self.schema else table.cast(self.schema), row_group_size=parquet.ROW_GROUP_SIZE)


def arrow_schema(schema: Schema) -> pa.Schema:
    return schema.empty().to_arrow().schema


def publish_listing(
    batches: Batches,
    *,
    warehouse: Path,
    quarantine: Path,
    month: dt.date,
    snapshot_at: dt.datetime,
    source: str,
    max_count: int = MAX_COUNT,
) -> dict[str, object]:
    """Normalise `batches` into the raw partition of `month` and its quarantine, both published atomically.

    Returns normalise_batches' notes plus where the two files went. The quarantine file is written even
    when empty, so that a re-run replaces an older quarantine.
    """
    raw_schema, q_schema = arrow_schema(RAW_HUB_LISTINGS), arrow_schema(QUARANTINE)
    with parquet.partition_writer(quarantine, TABLE, month, q_schema) as q_writer:
        with parquet.partition_writer(warehouse, TABLE, month, raw_schema) as writer:
            notes = normalise_batches(
                batches, month=month, snapshot_at=snapshot_at, source=source,
                write_rows=_Sink(writer, raw_schema), write_quarantine=_Sink(q_writer, q_schema),
                max_count=max_count,
            )
    return {
        **notes,
        "path": parquet.partition_file(warehouse, TABLE, month),
        "quarantine_path": parquet.partition_file(quarantine, TABLE, month),
    }
