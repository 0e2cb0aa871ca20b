"""From a hub-shaped Parquet file to the published raw partition and its quarantine, in bounded memory.

Every source ends here: the local source hands over its snapshot file as it is, the live and archive
sources first stage what they fetched into a local hub-shaped Parquet file. The file is read in batches
(`normalise_batches` reads it twice: once for duplicates, once to write), and both partitions are written
with `partition_writer`, so a failure at any point leaves the previous partition in place.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from queue import Empty, Full, Queue

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from dominance_pipeline.schemas import QUARANTINE, RAW_HUB_LISTINGS, Schema
from dominance_pipeline.sources.normalise import HUB_COLUMNS, MAX_COUNT, SOURCE_COLUMNS, Batches, normalise_batches
from dominance_pipeline.storage import parquet

# A batch is a row group (hub-stats and the synthetic Hub: ~120,000 rows; live staging 50,000, archive staging
# 65,536); a larger row group is read in slices of this many rows (slicing costs a little per slice).
BATCH_ROWS = 131_072
TABLE = "raw_hub_listings"


class ParquetBatches:
    """The hub columns of a Parquet file, a row group (at most `batch_rows` rows) at a time; at least one batch.

    A `normalise.ProjectableBatches`: `columns(names)` reads only those columns (the duplicate search
    needs only the ids). Read one row group at a time (a single pyarrow `iter_batches` over the whole file
    keeps memory that grows with the file: +137 MB after 3 million rows with pyarrow 26), by polars'
    own reader (twice as fast as pyarrow plus a conversion, on string columns), and decoded one batch ahead
    in a background thread while the caller works on the previous one. A struct `safetensors` column is
    read down to its `total` leaf (hub-stats also nests a per-dtype parameter count there: reading the
    whole struct costs more than the column is worth).
    """

    def __init__(self, path: Path, batch_rows: int = BATCH_ROWS, names: Sequence[str] | None = None) -> None:
        self.path, self.batch_rows, self.names = Path(path), batch_rows, names

    def columns(self, names: Sequence[str]) -> ParquetBatches:
        return ParquetBatches(self.path, self.batch_rows, names)

    def __call__(self) -> Iterator[pl.DataFrame]:
        return _ahead(self._read())

    def _read(self) -> Iterator[pl.DataFrame]:
        pf = pq.ParquetFile(self.path)
        schema = pf.schema_arrow
        wanted = [c for c in (*HUB_COLUMNS, *SOURCE_COLUMNS) if c in schema.names and (self.names is None or c in self.names)]
        leaf = "safetensors" in wanted and _struct_with(schema.field("safetensors").type, "total")
        by_polars = [c for c in wanted if not (leaf and c == "safetensors")]
        if pf.metadata.num_rows == 0:
            yield pl.from_arrow(schema.empty_table().select(wanted))  # type: ignore[misc]
            return
        offset = 0
        for group in range(pf.num_row_groups):
            rows = pf.metadata.row_group(group).num_rows
            nested = pf.read_row_group(group, columns=["safetensors.total"]) if leaf else None
            for start in range(0, rows, self.batch_rows):
                n = min(self.batch_rows, rows - start)
                batch = pl.scan_parquet(self.path, hive_partitioning=False).select(by_polars).slice(offset + start, n).collect()
                if nested is not None:
                    batch = batch.with_columns(pl.from_arrow(nested.slice(start, n)).to_series().alias("safetensors"))  # type: ignore[union-attr]
                yield batch.select(wanted)
            offset += rows


def _struct_with(dtype: pa.DataType, field: str) -> bool:
    return pa.types.is_struct(dtype) and dtype.get_field_index(field) >= 0


def _ahead(batches: Iterator[pl.DataFrame]) -> Iterator[pl.DataFrame]:
    """`batches`, each produced in a background thread while the consumer works on the one before.

    Polars and pyarrow release the GIL while they decode, so reading overlaps with normalising on a
    second core. At most two batches wait; if the consumer stops early the thread stops at its next put.
    """
    queue: Queue[tuple[str, object]] = Queue(maxsize=1)
    stop = threading.Event()

    def produce() -> None:
        try:
            for batch in batches:
                while not stop.is_set():
                    try:
                        queue.put(("batch", batch), timeout=0.1)
                        break
                    except Full:
                        continue
                if stop.is_set():
                    return
            queue.put(("done", None))
        except BaseException as exc:  # noqa: BLE001 - re-raised in the consumer
            queue.put(("error", exc))

    thread = threading.Thread(target=produce, name="parquet-batches", daemon=True)
    thread.start()
    try:
        while True:
            kind, item = queue.get()
            if kind == "done":
                return
            if kind == "error":
                raise item  # type: ignore[misc]
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        while thread.is_alive():
            try:
                queue.get_nowait()
            except Empty:
                thread.join(timeout=0.1)


def parquet_batches(path: Path, batch_rows: int = BATCH_ROWS) -> ParquetBatches:
    """The hub columns of a Parquet file, batch by batch (see ParquetBatches)."""
    return ParquetBatches(path, batch_rows)


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


def _write_options(schema: Schema) -> dict[str, object]:
    """How a streamed partition is written: no Arrow schema in the footer, so readers see the Parquet types
    (strings, not string views, as polars' own writer stores them); dictionary encoding only for columns
    that repeat (building a dictionary of unique ids only to drop it costs); statistics on scalar columns."""
    scalar = [c for c, t in schema.columns.items() if not isinstance(t, pl.List)]
    repeating = [c for c in schema.names if c not in ("model_id", "base_model_ids", "row_json")]
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
) -> dict[str, object]:
    """Normalise `batches` into the raw partition of `month` and its quarantine, both published atomically.

    Returns normalise_batches' notes plus where the two files went. The quarantine file is written even
    when empty, so that a re-run replaces an older quarantine.
    """
    raw_schema, q_schema = arrow_schema(RAW_HUB_LISTINGS), arrow_schema(QUARANTINE)
    with parquet.partition_writer(quarantine, TABLE, month, q_schema, **_write_options(QUARANTINE)) as q_writer:
        with parquet.partition_writer(warehouse, TABLE, month, raw_schema, **_write_options(RAW_HUB_LISTINGS)) as writer:
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
