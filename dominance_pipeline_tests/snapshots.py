"""Month snapshots built from the real 2026-05 sample, for the data-quality gate tests.

Each builder says what it did to the sample, so the tests can compute what the gates must find without
running the pipeline's own code.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import polars as pl

APRIL_END = dt.datetime(2026, 4, 30, 23, 59, 59)


def april_snapshot(sample: Path) -> pl.DataFrame:
    """A plausible 2026-04 month end: the sample without the models created in April 2026, nothing modified
    after April, and 10 % fewer 30-day downloads."""
    df = pl.read_parquet(sample)
    return df.filter(pl.col("createdAt") < dt.datetime(2026, 4, 1)).with_columns(
        pl.min_horizontal("lastModified", pl.lit(APRIL_END)).alias("lastModified"),
        (pl.col("downloads") * 9 // 10).alias("downloads"),
    )


@dataclass(frozen=True)
class Corrupted:
    frame: pl.DataFrame
    duplicated_ids: list[str]
    negative_ids: list[str]
    kept_rows: int
    """Rows of the sample kept after truncation (before duplicates were appended)."""


def corrupted_snapshot(sample: Path, keep: float = 0.8, duplicates: int = 60, negatives: int = 40) -> Corrupted:
    """The sample as a broken export: truncated to its first `keep` share of rows (the listing stopped early),
    `duplicates` rows appended a second time, and `negatives` other rows with negative 30-day downloads."""
    df = pl.read_parquet(sample)
    kept = df.head(int(df.height * keep))
    negative = kept.slice(0, negatives).get_column("id").to_list()
    duplicated = kept.slice(negatives, duplicates).get_column("id").to_list()
    broken = kept.with_columns(
        pl.when(pl.col("id").is_in(negative)).then(-5).otherwise(pl.col("downloads")).alias("downloads")
    )
    broken = pl.concat([broken, broken.filter(pl.col("id").is_in(duplicated))])
    return Corrupted(broken, duplicated, negative, kept.height)
