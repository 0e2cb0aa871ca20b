"""Index partitions written straight to a warehouse, for tests of what reads them (the series, the CLI)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl

from dominance_pipeline.storage import parquet


def case_indices(month: dt.date) -> pl.DataFrame:
    """The indices of test_metrics.CASE (Qwen CN 600 downloads, meta-llama US 200, ...), dated `month`."""
    from dominance_pipeline.metrics import indices
    from dominance_pipeline.origin.registry import load_registry
    from dominance_pipeline.origin.tagging import tag
    from dominance_pipeline_tests.test_metrics import CASE, MONTH
    from dominance_pipeline_tests.test_metrics import raw as raw_frame

    return indices.compute(tag(raw_frame(CASE), load_registry())[0], MONTH).table.with_columns(month=pl.lit(month))


def bad_april_indices(warehouse: Path) -> None:
    """A 2026-04 partition of dominance_indices whose direct CN download share is 1.2, with no verdict (as one
    written before verdicts were kept): the series built over it fails its check."""
    april = case_indices(dt.date(2026, 4, 1))
    cn = (pl.col("index") == "download_share") & (pl.col("view") == "direct") & (pl.col("denominator") == "all") & (pl.col("country") == "CN")
    parquet.write_partition(april.with_columns(value=pl.when(cn).then(1.2).otherwise(pl.col("value"))), warehouse, "dominance_indices", "2026-04-01")
