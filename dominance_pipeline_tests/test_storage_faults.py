"""Storage under real failure and real concurrency: a run SIGKILLed while writing a large partition leaves
the previous version readable, byte for byte; two runs of different months at once, in two processes
sharing one warehouse, one DuckDB file and one Dagster instance, corrupt neither."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import duckdb
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from dominance_pipeline.settings import PROJECT_ROOT
from dominance_pipeline.sources.publish import parquet_batches, publish_listing
from dominance_pipeline.storage import parquet
from dominance_pipeline.storage.duckdb_views import ensure_views
from dominance_pipeline_tests.conftest import PREVIOUS_KEY, SAMPLE, SAMPLE_KEY, derive_previous_month
from dominance_pipeline_tests.test_cli import CLI

MAY = dt.date(2026, 5, 1)
RAW = "raw_hub_listings"


def assert_same(a: pl.DataFrame, b: pl.DataFrame) -> None:
    """Equal, up to the last bits of floats summed in another order (lineage weights of merges are sums over
    paths that polars' threads add in any order: ~1e-17 apart between any two runs)."""
    nested = [c for c, t in a.schema.items() if isinstance(t, pl.List) and isinstance(t.inner, pl.Struct)]
    assert_frame_equal(a.drop(nested), b.drop(nested), check_exact=False, rel_tol=1e-12)
    for c in nested:
        def flat(df: pl.DataFrame, c: str = c) -> pl.DataFrame:
            return df.select(pl.int_range(pl.len()).alias("_row"), c).explode(c).unnest(c).sort(pl.all())
        assert_frame_equal(flat(a), flat(b), check_exact=False, rel_tol=1e-12)


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def big_snapshot(path: Path, copies: int = 30) -> Path:
    """The real sample `copies` times over (125k models), each copy under its own ids."""
    sample = pl.read_parquet(SAMPLE)
    pl.concat([sample.with_columns(pl.col("id") + f"-{i}") for i in range(copies)]).write_parquet(path, row_group_size=50_000)
    return path


def test_a_run_killed_while_writing_leaves_the_previous_partition_readable(tmp_path):
    warehouse = tmp_path / "data" / "warehouse"
    publish_listing(parquet_batches(SAMPLE), warehouse=warehouse, quarantine=warehouse / "quarantine", month=MAY,
                    snapshot_at=dt.datetime(2026, 6, 1, tzinfo=dt.UTC), source="local")
    raw_file = parquet.partition_file(warehouse, RAW, SAMPLE_KEY)
    quarantine_file = parquet.partition_file(warehouse / "quarantine", RAW, SAMPLE_KEY)
    with duckdb.connect(str(warehouse / "dominance.duckdb")) as con:
        ensure_views(con, warehouse, [RAW])
    before = {raw_file: sha(raw_file), quarantine_file: sha(quarantine_file)}

    snapshot = big_snapshot(tmp_path / "big.parquet")
    config = json.dumps({"source": "local", "snapshot": str(snapshot)})
    proc = subprocess.Popen([sys.executable, "-m", "dominance_pipeline_tests.raw_child", str(tmp_path / "data"), SAMPLE_KEY, config],
                            cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 180
    partial: list[Path] = []
    while not partial:  # the new partition is being written: its temporary file holds at least one row group
        assert proc.poll() is None, f"the run ended before it was killed: {proc.communicate()[1][-2000:]}"
        assert time.monotonic() < deadline, "the run never started writing"
        partial = [p for p in raw_file.parent.glob(".data.parquet.*.tmp") if p.stat().st_size > 1 << 20]
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL

    assert partial[0].exists()  # killed mid-write: the half-written file is still there...
    assert {p: sha(p) for p in before} == before  # ...and the published partition and quarantine are untouched
    assert pl.read_parquet(raw_file).height == 4167
    assert parquet.scan_table(warehouse, RAW).collect().height == 4167  # readers never see the temporary file
    with duckdb.connect(str(warehouse / "dominance.duckdb"), read_only=True) as con:
        assert con.execute(f"SELECT count(*) FROM {RAW}").fetchone() == (4167,)


def disk_full_under(monkeypatch, fragment: str) -> None:
    """Syncing any file whose path holds `fragment` fails as a full disk does (ENOSPC); other files sync."""
    fsync = os.fsync

    def full_disk(fd: int) -> None:
        if fragment in os.readlink(f"/proc/self/fd/{fd}"):
            raise OSError(28, "No space left on device")
        fsync(fd)

    monkeypatch.setattr(os, "fsync", full_disk)


def test_a_disk_error_on_the_quarantine_keeps_both_files_of_the_month_as_they_were(tmp_path, monkeypatch):
    # The new listing is 30 copies of the sample; the disk fails when the quarantine is synced. Publishing the
    # raw partition first would leave 125k new rows beside the old quarantine (and its check would pass).
    warehouse = tmp_path / "warehouse"
    publish = {"warehouse": warehouse, "quarantine": warehouse / "quarantine", "month": MAY,
               "snapshot_at": dt.datetime(2026, 6, 1, tzinfo=dt.UTC), "source": "local"}
    publish_listing(parquet_batches(SAMPLE), **publish)
    files = [parquet.partition_file(warehouse, RAW, SAMPLE_KEY), parquet.partition_file(warehouse / "quarantine", RAW, SAMPLE_KEY)]
    before = {p: sha(p) for p in files}
    disk_full_under(monkeypatch, "/quarantine/")
    try:
        publish_listing(parquet_batches(big_snapshot(tmp_path / "big.parquet")), **publish)
    except OSError as exc:
        assert exc.errno == 28
    else:
        raise AssertionError("the disk error was not raised")
    assert {p: sha(p) for p in files} == before
    assert not [p for p in warehouse.rglob("*.tmp")]


def test_temporary_files_of_killed_writers_are_cleared_by_the_next_publish(tmp_path):
    path = parquet.partition_file(tmp_path, "t", SAMPLE_KEY)
    path.parent.mkdir(parents=True)
    stale, fresh = path.with_name(".data.parquet.dead.tmp"), path.with_name(".data.parquet.writing.tmp")
    for p in (stale, fresh):
        p.write_bytes(b"part of a file")
    old = time.time() - parquet.STALE_TMP_S - 60
    os.utime(stale, (old, old))
    parquet.write_partition(pl.DataFrame({"month": [MAY]}), tmp_path, "t", SAMPLE_KEY)
    assert sorted(p.name for p in path.parent.iterdir()) == [fresh.name, "data.parquet"]  # a live writer's file stays


def test_two_months_at_once_share_the_warehouse_the_duckdb_file_and_the_instance(tmp_path, two_month_run):
    snapshots = tmp_path / "snapshots"
    derive_previous_month(SAMPLE, snapshots)
    env = {**os.environ, "DOMINANCE_DATA_DIR": str(tmp_path / "data"), "DAGSTER_HOME": str(tmp_path / "home"),
           "DOMINANCE_SNAPSHOT_DIR": str(snapshots)}
    procs = {
        month: subprocess.Popen([*CLI, "materialize", "--month", month, "--quiet"], env=env, cwd=PROJECT_ROOT,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for month in ("2026-04", "2026-05")
    }
    outputs = {month: proc.communicate(timeout=600) for month, proc in procs.items()}
    for month, proc in procs.items():
        assert proc.returncode == 0, f"{month}: {outputs[month][1][-3000:]}"

    warehouse = tmp_path / "data" / "warehouse"
    _, _, sequential = two_month_run
    # Each month's own assets equal those of the same two months run one after the other. (The month-over-month
    # values of May depend on whether April was there yet: that is ordering, not corruption.)
    for table in (RAW, "origin_tagged_models", "monthly_aggregates"):
        for key in (PREVIOUS_KEY, SAMPLE_KEY):
            assert_same(parquet.read_partition(warehouse, table, key), parquet.read_partition(sequential / "warehouse", table, key))
    assert not list(warehouse.rglob("*.tmp")) and not (warehouse / ".staging").exists()

    with duckdb.connect(str(warehouse / "dominance.duckdb"), read_only=True) as con:
        views = {name for (name,) in con.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall()}
        assert views >= {RAW, "origin_tagged_models", "monthly_aggregates", "dominance_indices", "monthly_leaderboard", "dominance_timeseries"}
        for view in views:
            count = con.execute(f"SELECT count(*) FROM {view}").fetchone()[0]
            files = sorted((warehouse / view).glob("month=*/data.parquet")) or [parquet.table_file(warehouse, view)]
            assert count == sum(pl.scan_parquet(f).select(pl.len()).collect().item() for f in files), view

    with dg.DagsterInstance.from_config(str(tmp_path / "home")) as instance:
        runs = instance.get_runs()
        assert sorted(r.tags.get("dagster/partition", "") for r in runs if r.job_name == "monthly_job") == [PREVIOUS_KEY, SAMPLE_KEY]
        assert {r.status for r in runs} == {dg.DagsterRunStatus.SUCCESS}
        assert len(runs) == 4  # each month and the time series after it


def test_a_temporary_file_written_to_within_the_hour_is_left_to_its_writer(tmp_path):
    # A writer killed an hour ago left the stale one; a slow writer last wrote to the other one 30 s short of an hour ago.
    path = parquet.partition_file(tmp_path, "t", SAMPLE_KEY)
    path.parent.mkdir(parents=True)
    slow, stale = path.with_name(".data.parquet.slow.tmp"), path.with_name(".data.parquet.dead.tmp")
    for p, age in ((slow, parquet.STALE_TMP_S - 30), (stale, parquet.STALE_TMP_S + 5)):
        p.write_bytes(b"part of a file")
        os.utime(p, (time.time() - age, time.time() - age))
    parquet.write_partition(pl.DataFrame({"month": [MAY]}), tmp_path, "t", SAMPLE_KEY)
    assert sorted(p.name for p in path.parent.iterdir()) == [slow.name, "data.parquet"]


def test_files_published_together_are_all_kept_as_they_were_when_the_last_one_fails_to_sync(tmp_path, monkeypatch):
    # Every file is synced before the first is renamed: a disk error on the second file of a pair must not
    # leave the first one published beside the old second one.
    first, second = parquet.partition_file(tmp_path, "a", "2026-05-01"), parquet.partition_file(tmp_path, "b", "2026-05-01")
    for path in (first, second):
        path.parent.mkdir(parents=True)
        path.write_bytes(b"old")
    disk_full_under(monkeypatch, "/b/")
    with pytest.raises(OSError, match="No space left"):
        with parquet.publishing_all([first, second]) as (tmp_first, tmp_second):
            tmp_first.write_bytes(b"new")
            tmp_second.write_bytes(b"new")
    assert (first.read_bytes(), second.read_bytes()) == (b"old", b"old")
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == ["data.parquet", "data.parquet"]
