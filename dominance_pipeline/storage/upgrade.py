"""Partitions written before a column existed: the column computed from the partition's own columns.

A warehouse outlives the code that wrote it. When a later version adds a column that is a function of
columns older partitions already hold, reading such a partition computes it the way the writer now does,
so a month materialized last year still feeds this year's steps. A missing column that cannot be computed
is a clear error naming the partition to materialize again.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import polars as pl


class StalePartitionError(Exception):
    """A partition lacks a column its reader needs and that cannot be computed from what it holds."""


@dataclass(frozen=True)
class Derived:
    """A column added after partitions were written: the stored columns it needs and how to compute it."""

    inputs: tuple[str, ...]
    expr: Callable[[], pl.Expr]


def _repack_format() -> pl.Expr:
    from dominance_pipeline.sources.normalise import repack_format

    return repack_format()


# repack_format, added 2026-11 (issue 7).
_REPACK = Derived(("tags", "library_name"), _repack_format)
DERIVED: dict[str, dict[str, Derived]] = {
    "raw_hub_listings": {"repack_format": _REPACK},
    # Partitions of that time still carry `tags`, which later ones leave to raw_hub_listings.
    "origin_tagged_models": {"repack_format": _REPACK},
}


def _month(path: Path) -> str:
    """YYYY-MM of a Hive partition file (<table>/month=YYYY-MM-01/data.parquet)."""
    return path.parent.name.removeprefix("month=")[:7]


def read(path: Path, table: str, columns: Sequence[str] | None = None) -> pl.DataFrame:
    """`columns` of the partition file at `path` (every stored column if None), computing the columns of
    DERIVED that an older partition lacks; StalePartitionError for any other missing column."""
    stored = pl.scan_parquet(path, glob=False).collect_schema()
    derivable = DERIVED.get(table, {})
    if columns is None:
        wanted = [*stored, *(c for c, d in derivable.items() if c not in stored and set(d.inputs) <= stored.keys())]
    else:
        wanted = list(columns)
    missing = [c for c in wanted if c not in stored]
    if not missing:
        return pl.read_parquet(path, columns=list(columns) if columns is not None else None, glob=False)
    cannot = [c for c in missing if c not in derivable or not set(derivable[c].inputs) <= stored.keys()]
    if cannot:
        raise StalePartitionError(
            f"{path} has no column {', '.join(cannot)}: it was written by an older version of the pipeline. "
            f"Materialize that month again: dominance-pipeline materialize --month {_month(path)}, or the Dagster UI."
        )
    inputs = {i for c in missing for i in derivable[c].inputs}
    read_cols = [c for c in stored if c in wanted or c in inputs]
    frame = pl.read_parquet(path, columns=read_cols, glob=False)
    return frame.with_columns(derivable[c].expr().alias(c) for c in missing).select(wanted)
