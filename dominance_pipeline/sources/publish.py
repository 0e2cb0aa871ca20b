"""From a hub-shaped Parquet file to the published raw partition and its quarantine, in bounded memory.

Every source ends here: the local source hands over its snapshot file as it is, the live and archive
sources first stage what they fetched into a local hub-shaped Parquet file. The file is read in batches
(`normalise_batches` reads it twice: once for duplicates, once to write), and both partitions are written
with `partition_writer`, so a failure at any point leaves the previous partition in place.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from dominance_pipeline.schemas import QUARANTINE, RAW_HUB_LISTINGS, Schema
from dominance_pipeline.sources.normalise import HUB_COLUMNS, MAX_COUNT, SOURCE_COLUMNS, Batches, normalise_batches
from dominance_pipeline.storage import parquet

BATCH_ROWS = 65_536
TABLE = "raw_hub_listings"


def parquet_batches(path: Path, batch_rows: int = BATCH_ROWS) -> Batches:
    """The hub columns of a Parquet file, `batch_rows` at a time (at least one batch, maybe empty).

    Read one row group at a time: a single `iter_batches` over the whole file keeps memory that grows with
    the file (pyarrow 26: +137 MB still allocated after reading 3 million rows, none per row group).
    """

    def read() -> Iterator[pl.DataFrame]:
        pf = pq.ParquetFile(path)
        names = pf.schema_arrow.names
        columns = [c for c in (*HUB_COLUMNS, *SOURCE_COLUMNS) if c in names]
        empty = True
        for group in range(pf.num_row_groups):
            for batch in pf.iter_batches(batch_size=batch_rows, row_groups=[group], columns=columns):
                empty = False
                yield pl.from_arrow(batch)  # type: ignore[misc]
        if empty:
            yield pl.from_arrow(pf.schema_arrow.empty_table().select(columns))  # type: ignore[misc]

    return read


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
