"""The CLI's in-process runs (cli/inprocess.py) keep no step output in memory once a month's run is over.

A month at Hub scale is GBs of DataFrames; execute_in_process keeps every asset's returned value until its
result is dropped, which made a backfill in one process grow month after month. The check here: after a
real run of monthly_job, with its result still held, no DataFrame shaped like one of the month's written
partitions is still alive that was not alive before. The same check on execute_in_process shows it finds
the frames when they are kept (so it can fail).
"""

from __future__ import annotations

import gc
import threading
from contextlib import contextmanager

import dagster as dg
import polars as pl
import pytest

from dominance_pipeline.cli.inprocess import run_job
from dominance_pipeline.defs.assets import ASSETS
from dominance_pipeline.storage import parquet
from dominance_pipeline_tests.conftest import SAMPLE_DIR, SAMPLE_KEY, run_month

RUN_CONFIG = {"ops": {"raw_hub_listings": {"config": {"source": "local"}}}}


def live_frames() -> dict[int, pl.DataFrame]:
    gc.collect()
    return {id(o): o for o in gc.get_objects() if isinstance(o, pl.DataFrame)}


def partition_shapes(data_dir) -> dict[tuple[int, int], str]:
    """(rows, columns) of every monthly asset's written partition, as read back from its Parquet file."""
    root = data_dir / "warehouse"
    shapes = {}
    for asset in ASSETS:
        name = asset.key.to_user_string()
        frame = parquet.read_partition(root, name, SAMPLE_KEY)
        if frame.height:
            shapes[frame.shape] = name
    return shapes


def kept_outputs(before: dict[int, pl.DataFrame], data_dir) -> list[str]:
    """Assets whose output (a new DataFrame of its partition's shape) is still referenced."""
    shapes = partition_shapes(data_dir)
    new = [f for i, f in live_frames().items() if i not in before]
    return sorted({shapes[f.shape] for f in new if f.shape in shapes})


def test_an_in_process_run_keeps_no_step_output(tmp_path):
    before = live_frames()
    with dg.DagsterInstance.ephemeral() as instance:
        result = run_job("monthly_job", instance, partition_key=SAMPLE_KEY, run_config=RUN_CONFIG, tags={"t": "1"},
                         data_dir=tmp_path, snapshot_dir=SAMPLE_DIR)
        assert result.success
        assert kept_outputs(before, tmp_path) == []
        run = instance.get_run_by_id(result.run_id)
        assert run.tags["dagster/partition"] == SAMPLE_KEY and run.tags["t"] == "1"
        assert instance.get_materialized_partitions(dg.AssetKey("dominance_indices")) == {SAMPLE_KEY}
    # what the CLI reads off the result
    assert {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()} >= {"raw_hub_listings", "dominance_indices"}
    assert result.get_asset_check_evaluations() and all(e.passed for e in result.get_asset_check_evaluations())


def test_the_check_finds_the_outputs_execute_in_process_keeps(tmp_path):
    before = live_frames()
    result = run_month(tmp_path)
    assert result.success
    kept = kept_outputs(before, tmp_path)
    assert {"origin_tagged_models", "monthly_aggregates", "dominance_indices"} <= set(kept), kept


def test_a_month_outside_the_partitions_is_refused_before_the_run(tmp_path):
    with dg.DagsterInstance.ephemeral() as instance:
        with pytest.raises(ValueError, match="not a partition of monthly_job"):
            run_job("monthly_job", instance, partition_key="1999-01-01", data_dir=tmp_path, snapshot_dir=SAMPLE_DIR)
        assert not instance.get_runs()


def test_a_job_is_loaded_only_once_a_gx_import_in_the_background_is_over(tmp_path, monkeypatch):
    # Loading a job alters sys.path, which an import in another thread must not meet (quality.suites.warmed_up):
    # a backfill's next month waits for a warm-up its first month started.
    from dagster._core import code_pointer

    from dominance_pipeline.quality import suites

    over = threading.Event()
    importing = threading.Thread(target=over.wait, args=(10,))  # stands in for GX's import
    loads: list[bool] = []
    original = code_pointer.alter_sys_path

    @contextmanager
    def watched(*args, **kwargs):
        loads.append(importing.is_alive())
        with original(*args, **kwargs):
            yield

    monkeypatch.setattr(code_pointer, "alter_sys_path", watched)
    monkeypatch.setattr(suites, "_warming", importing)
    with dg.DagsterInstance.ephemeral() as instance:
        importing.start()
        threading.Timer(1.0, over.set).start()
        run_job("freshness_job", instance, data_dir=tmp_path, snapshot_dir=SAMPLE_DIR)
    assert loads and not any(loads), loads
