"""The command a user types, run as a subprocess against a persistent instance in a temporary folder."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from dominance_pipeline.settings import PROJECT_ROOT
from dominance_pipeline_tests.conftest import SAMPLE
from dominance_pipeline_tests.snapshots import corrupted_snapshot

CLI = [sys.executable, "-m", "dominance_pipeline.cli"]


def run_cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DOMINANCE_DATA_DIR": str(tmp_path / "data"), "DAGSTER_HOME": str(tmp_path / "home")}
    return subprocess.run([*CLI, *args], capture_output=True, text=True, env=env, cwd=PROJECT_ROOT, timeout=300)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cli")
    return tmp, run_cli(tmp, "materialize", "--month", "2026-05")


def test_materialize_prints_the_month_and_exits_zero(demo):
    tmp, proc = demo
    assert proc.returncode == 0, proc.stderr
    assert "Dominance indices for 2026-05" in proc.stdout
    table = [line for line in proc.stdout.splitlines() if "download_share" in line]
    assert {"CN", "US", "UNATTRIBUTED"} <= {cell.strip() for line in table for cell in line.split("┆")}
    assert (tmp / "data" / "warehouse" / "dominance_indices" / "month=2026-05-01" / "data.parquet").is_file()


def test_the_run_is_kept_in_the_persistent_instance(demo):
    tmp, _ = demo
    with dg.DagsterInstance.from_config(str(tmp / "home")) as instance:
        runs = instance.get_runs()
        assert len(runs) == 1
        assert runs[0].job_name == "monthly_job" and runs[0].tags["dagster/partition"] == "2026-05-01"
    assert (tmp / "home" / "dagster.yaml").is_file()


def test_missing_snapshot_names_step_and_file(tmp_path):
    proc = run_cli(tmp_path, "materialize", "--month", "2026-04", "--quiet")
    assert proc.returncode == 1
    assert "FAILED raw_hub_listings: no local snapshot for 2026-04" in proc.stderr
    assert "hub_stats_2026-04.parquet" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_corrupted_snapshot_fails_naming_the_check_and_its_expectations(tmp_path):
    bad = corrupted_snapshot(SAMPLE)
    bad.frame.write_parquet(tmp_path / "BAD.parquet")
    proc = run_cli(tmp_path, "materialize", "--month", "2026-05", "--source", "local", "--snapshot", str(tmp_path / "BAD.parquet"), "--quiet")
    assert proc.returncode == 1
    lines = proc.stderr.splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith("FAILED check raw_hub_listings_valid on raw_hub_listings: "))
    assert re.fullmatch(r"FAILED check raw_hub_listings_valid on raw_hub_listings: 1 of \d+ expectations failed", lines[first])
    rows_in = bad.frame.height
    assert lines[first + 1].startswith(f"    ERROR quarantined rows <= 1.00% of the listing ({rows_in // 100:,} of {rows_in:,}): 100 unexpected; e.g. ")
    assert "quarantine/raw_hub_listings/month=2026-05-01/data.parquet" in lines[first + 1]
    assert lines[first + 2] == "    SKIPPED row count within -3%/+25% of 2026-04: no raw partition for 2026-04 to compare with"
    assert "not materialized for 2026-05: origin_tagged_models, monthly_aggregates, dominance_indices" in proc.stderr
    assert not (tmp_path / "data" / "warehouse" / "dominance_indices" / "month=2026-05-01").exists()
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize(("month", "message"), [("2026-13", "must look like YYYY-MM"), ("May 2026", "must look like YYYY-MM"), ("2023-01", "is not a partition")])
def test_bad_month_is_one_line_exit_two(tmp_path, month, message):
    proc = run_cli(tmp_path, "materialize", "--month", month)
    assert proc.returncode == 2
    assert message in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_definitions_validate(tmp_path):
    proc = subprocess.run(
        [str(Path(sys.executable).with_name("dagster")), "definitions", "validate", "-w", "workspace.yaml"],
        capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=300,
        env={**os.environ, "DAGSTER_HOME": str(tmp_path)},
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "All code locations passed validation" in proc.stderr + proc.stdout
