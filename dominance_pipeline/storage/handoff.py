"""The partitions this process has just published, kept in memory for the steps that read them next.

The code location runs every step of a run in one process (in_process_executor: the CLI's runs, and the
run worker the UI or the schedule starts). There origin_tagged_models is read back right after it is
written, by its check, monthly_aggregates, monthly_leaderboard and dominance_indices: four Parquet reads
of up to 3 million rows (~5 CPU-seconds at Hub scale) of a frame that is still in memory. raw_hub_listings
is streamed to its file, never whole in memory: the columns the next steps read of it (tagging, the raw
and conservation checks) are kept while it is written, and handed on the same way.

`remember` keeps each table's last published frame with the identity of its file (path, inode, size,
modification time); `recall` returns its columns only while the file on disk is still exactly that one, so
a reader never gets anything but what is published, and every other process reads the file. At most one
frame per table is held; `forget` drops them all when a run ends (a run worker's process simply exits).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path

import polars as pl

from dominance_pipeline.storage import parquet

_lock = threading.Lock()
_held: dict[str, tuple[tuple[str, int, int, int], pl.DataFrame, bool]] = {}


def _identity(path: Path) -> tuple[str, int, int, int] | None:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return (str(Path(path).resolve()), st.st_ino, st.st_size, st.st_mtime_ns)


def remember(table: str, path: Path, df: pl.DataFrame, *, complete: bool = True) -> None:
    """Hold `df` as the content of `table`'s file just published at `path` (replacing that table's last);
    `complete=False` when `df` holds only some of the file's columns (it then serves only those)."""
    identity = _identity(path)
    with _lock:
        _held.pop(table, None)
        if identity is not None:
            _held[table] = (identity, df, complete)


def recall(table: str, path: Path, columns: Sequence[str] | None = None) -> pl.DataFrame | None:
    """`columns` of the frame held for `table` if it is the one published at `path` and that file is
    unchanged since; None otherwise (read the file)."""
    with _lock:
        held = _held.get(table)
    if held is None or held[0] != _identity(path):
        return None
    df, complete = held[1], held[2]
    if columns is None:
        return df if complete else None
    return df.select(columns) if set(columns) <= set(df.columns) else None


def read_partition(root: Path, table: str, key: str, columns: list[str] | None = None) -> pl.DataFrame:
    """`parquet.read_partition`, from memory when this process has just published that very file."""
    held = recall(table, parquet.partition_file(root, table, key), columns)
    return held if held is not None else parquet.read_partition(root, table, key, columns)


def forget() -> None:
    """Drop every held frame (the end of a run: the next one reads its inputs from the warehouse)."""
    with _lock:
        _held.clear()
