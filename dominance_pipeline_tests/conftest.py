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
