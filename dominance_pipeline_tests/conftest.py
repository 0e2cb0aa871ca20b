"""Shared fixtures: the bundled real sample, and one real Dagster run of the chain on it."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import dagster as dg
import pytest

from dominance_pipeline.settings import PROJECT_ROOT

os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
os.environ.setdefault("DAGSTER_DISABLE_TELEMETRY", "1")

SAMPLE_DIR = PROJECT_ROOT / "data" / "sample"
SAMPLE = SAMPLE_DIR / "hub_stats_2026-05.parquet"
SAMPLE_MONTH = dt.date(2026, 5, 1)
SAMPLE_KEY = "2026-05-01"


@pytest.fixture(scope="session")
def sample_path() -> Path:
    assert SAMPLE.is_file(), f"bundled sample missing: {SAMPLE}"
    return SAMPLE


def run_month(data_dir: Path, key: str = SAMPLE_KEY, raw_config: dict | None = None, instance: dg.DagsterInstance | None = None, snapshot_dir: Path | None = None, hub_endpoint: str | None = None):
    """Run monthly_job for one partition through a real Dagster instance, outputs under data_dir."""
    from dominance_pipeline.definitions import build_definitions

    defs = build_definitions(data_dir, snapshot_dir or SAMPLE_DIR, hub_endpoint)
    job = defs.resolve_job_def("monthly_job")
    run_config = {"ops": {"raw_hub_listings": {"config": raw_config or {"source": "local"}}}}
    return job.execute_in_process(
        partition_key=key,
        instance=instance or dg.DagsterInstance.ephemeral(),
        run_config=run_config,
        raise_on_error=False,
    )


@pytest.fixture(scope="session")
def sample_run(tmp_path_factory):
    """One real materialization of 2026-05 on the bundled sample, shared by the read-only tests."""
    data_dir = tmp_path_factory.mktemp("warehouse_run")
    result = run_month(data_dir)
    return result, data_dir


PREVIOUS_KEY = "2026-04-01"


def derive_previous_month(sample: Path, out_dir: Path) -> Path:
    """A stand-in 2026-04 listing built from the real 2026-05 sample, for tests of month-over-month indices.

    Not a real snapshot: every model of the sample exists in April (none was created in May); its all-time
    count is May's minus May's 30-day downloads, and its 30-day downloads are May's scaled by age (models
    from 2026 at half, from 2025 at 0.9, older ones at 1.2, never above the all-time count), so shares move
    between the two months. lastModified is clipped to the end of April, which makes it the snapshot time.
    """
    import polars as pl

    df = pl.read_parquet(sample)
    end = dt.datetime(2026, 4, 30, 12)
    year = pl.col("createdAt").dt.year()
    factor = pl.when(year >= 2026).then(0.5).when(year == 2025).then(0.9).otherwise(1.2)
    all_time = (pl.col("downloadsAllTime") - pl.col("downloads")).clip(lower_bound=0)
    april = df.filter(pl.col("createdAt") < dt.datetime(2026, 5, 1)).with_columns(
        all_time.alias("downloadsAllTime"),
        pl.min_horizontal((pl.col("downloads") * factor).round().cast(pl.Int64), all_time).alias("downloads"),
        pl.min_horizontal(pl.col("lastModified"), pl.lit(end)).alias("lastModified"),
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / sample.name).symlink_to(sample)
    path = out_dir / "hub_stats_2026-04.parquet"
    april.write_parquet(path)
    return path


@pytest.fixture(scope="session")
def two_month_run(tmp_path_factory):
    """2026-04 (derived, see derive_previous_month) then 2026-05 (the real sample) in one warehouse and
    instance, then the time series over both: the month-over-month indices and the chart need two months."""
    from dominance_pipeline.definitions import build_definitions

    base = tmp_path_factory.mktemp("two_months")
    snapshots = base / "snapshots"
    derive_previous_month(SAMPLE, snapshots)
    data_dir = base / "data"
    instance = dg.DagsterInstance.ephemeral()
    months = {key: run_month(data_dir, key, instance=instance, snapshot_dir=snapshots) for key in (PREVIOUS_KEY, SAMPLE_KEY)}
    series = build_definitions(data_dir, snapshots).resolve_job_def("timeseries_job").execute_in_process(instance=instance, raise_on_error=False)
    return months, series, data_dir
