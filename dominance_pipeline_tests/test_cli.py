"""The command a user types, run as a subprocess against a persistent instance in a temporary folder."""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from dominance_pipeline.settings import PROJECT_ROOT
from dominance_pipeline_tests.cases import bad_april_indices, case_indices
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
        runs = sorted(instance.get_runs(), key=lambda r: r.job_name)
        assert [r.job_name for r in runs] == ["monthly_job", "timeseries_job"]
        assert runs[0].tags["dagster/partition"] == "2026-05-01"
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
    assert "_rejected/raw_hub_listings/month=2026-05-01/quarantine.parquet" in lines[first + 1]  # with the rejected listing
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


def test_materialize_refreshes_the_time_series_and_says_which_indices_are_absent(demo):
    tmp, proc = demo
    assert "Time series: 1 month(s), 2026-05 to 2026-05; chart " in proc.stdout
    assert (tmp / "data" / "warehouse" / "dominance_timeseries" / "chart.png").is_file()
    assert "new_model_share: no original model (without a base model) was created in 2026-05" in proc.stdout


def test_report_prints_the_latest_month_in_three_formats(demo):
    import json

    import polars as pl

    tmp, _ = demo
    table = run_cli(tmp, "report")
    assert table.returncode == 0, table.stderr
    assert "Dominance indices for 2026-05" in table.stdout
    assert "No rows for 2026-05:" in table.stdout and "download_delta_share: raw_hub_listings for 2026-04" in table.stdout
    stored = pl.read_parquet(tmp / "data" / "warehouse" / "dominance_indices" / "month=2026-05-01" / "data.parquet")
    csv = run_cli(tmp, "report", "--month", "2026-05", "--format", "csv")
    assert csv.returncode == 0
    from io import StringIO

    parsed = pl.read_csv(StringIO(csv.stdout), schema_overrides={"month": pl.Date})
    assert parsed.sort("index", "view", "denominator", "country").equals(stored.sort("index", "view", "denominator", "country"))
    doc = json.loads(run_cli(tmp, "report", "--format", "json").stdout)
    assert doc["month"] == "2026-05" and len(doc["indices"]) == stored.height
    assert "new_model_share" in doc["absent"]
    wide = run_cli(tmp, "report", "--countries", "all")
    assert any(line.split("┆")[1].strip() == "FR" for line in wide.stdout.splitlines() if "download_share" in line)
    lower = run_cli(tmp, "report", "--countries", "cn")  # codes in any case
    assert [line.split("┆")[1].strip() for line in lower.stdout.splitlines() if "download_share" in line] == ["CN"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--month", "2026-04"), "2026-04 is not materialized"),
        (("--month", "04/2026"), "must look like YYYY-MM"),
        (("--countries", "cn,XX"), "--countries: XX is not a country code"),  # printed no share row at all, exit 0
    ],
)
def test_report_user_errors(demo, args, message):
    tmp, _ = demo
    proc = run_cli(tmp, "report", *args)
    assert proc.returncode == 2 and message in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_report_before_any_month_is_materialized(tmp_path):
    proc = run_cli(tmp_path, "report")
    assert proc.returncode == 2 and "no month is materialized" in proc.stderr


def test_registry_gaps_lists_the_largest_unattributed_namespaces(demo):
    import csv
    import io

    import duckdb

    tmp, proc = demo
    assert proc.returncode == 0, proc.stderr
    tagged = tmp / "data" / "warehouse" / "origin_tagged_models" / "month=2026-05-01" / "data.parquet"
    direct_sql = """select org_namespace, sum(downloads_30d) from read_parquet(?) where org_country = 'UNATTRIBUTED'
                    group by 1 order by 2 desc, 1 limit 5"""
    lineage_sql = """select r.namespace, sum(downloads_30d * r.weight) from
                       (select downloads_30d, unnest(lineage_roots) as r from read_parquet(?))
                     where r.country = 'UNATTRIBUTED' group by 1 order by 2 desc, 1 limit 5"""
    expected = {
        "direct": duckdb.execute(direct_sql, [str(tagged)]).fetchall(),
        "lineage": duckdb.execute(lineage_sql, [str(tagged)]).fetchall(),
    }
    out = run_cli(tmp, "registry-gaps", "--month", "2026-05", "--top", "5", "--format", "csv")
    assert out.returncode == 0, out.stderr
    rows = list(csv.DictReader(io.StringIO(out.stdout)))
    for view in ("direct", "lineage"):
        got = [(r["namespace"], float(r["downloads_30d"])) for r in rows if r["view"] == view]
        assert [ns for ns, _ in got] == [ns for ns, _ in expected[view]]
        assert [d for _, d in got] == pytest.approx([float(d) for _, d in expected[view]])
    table = run_cli(tmp, "registry-gaps", "--month", "2026-05", "--top", "3")
    assert table.returncode == 0, table.stderr
    assert "Attributed 30-day downloads: direct" in table.stdout and expected["direct"][0][0] in table.stdout


def test_registry_gaps_reads_the_registry_the_runs_read(demo):
    # A row added to a copy of the registry ($DOMINANCE_REGISTRY) fills the month's largest direct gap.
    from dominance_pipeline.origin.registry import REGISTRY_PATH

    tmp, _ = demo
    first = run_cli(tmp, "registry-gaps", "--month", "2026-05", "--top", "1", "--view", "direct", "--format", "csv")
    (gap,) = list(csv_rows(first.stdout))
    registry = tmp / "registry_with_gap.csv"
    row = [gap["namespace"], "Filled", "FR", "company", "headquarters", "https://example.org", "", "", "", "", "false", "test"]
    registry.write_text(REGISTRY_PATH.read_text() + ",".join(row) + "\n")
    env = {**os.environ, "DOMINANCE_DATA_DIR": str(tmp / "data"), "DAGSTER_HOME": str(tmp / "home"), "DOMINANCE_REGISTRY": str(registry)}
    args = ["registry-gaps", "--month", "2026-05", "--top", "1", "--view", "direct", "--format", "csv"]
    after = subprocess.run([*CLI, *args], capture_output=True, text=True, env=env, cwd=PROJECT_ROOT, timeout=300)
    (filled,) = list(csv_rows(after.stdout))
    assert (filled["namespace"], filled["registry"]) == (gap["namespace"], "now FR in the registry: re-materialize the month")


def csv_rows(text: str) -> list[dict[str, str]]:
    import csv
    import io

    return list(csv.DictReader(io.StringIO(text)))


def test_registry_gaps_on_a_month_not_materialized_says_what_to_run(demo):
    tmp, _ = demo
    proc = run_cli(tmp, "registry-gaps", "--month", "2026-04")
    assert proc.returncode == 2
    assert "not materialized" in proc.stderr and "materialize --month 2026-04" in proc.stderr and "2026-05" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_registry_gaps_bad_month_is_one_line_exit_two(tmp_path):
    proc = run_cli(tmp_path, "registry-gaps", "--month", "May 2026")
    assert proc.returncode == 2
    assert "must look like YYYY-MM" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_materialize_exits_one_when_the_series_fails_its_check(tmp_path):
    # The month itself succeeds; the series built over it and a bad April (a share of 1.2) fails its check.
    bad_april_indices(tmp_path / "data" / "warehouse")
    proc = run_cli(tmp_path, "materialize", "--month", "2026-05", "--quiet")
    assert "FAILED check dominance_timeseries_valid on dominance_timeseries" in proc.stderr, proc.stderr
    assert "Time series:" not in proc.stdout
    assert proc.returncode == 1


def test_report_without_a_month_reports_the_latest_one(tmp_path):
    from dominance_pipeline.storage import parquet

    warehouse = tmp_path / "data" / "warehouse"
    for m in (dt.date(2026, 3, 1), dt.date(2026, 5, 1), dt.date(2026, 4, 1)):
        parquet.write_partition(case_indices(m), warehouse, "dominance_indices", m.isoformat())
    proc = run_cli(tmp_path, "report", "--format", "csv")
    assert proc.returncode == 0, proc.stderr
    header, *rows = proc.stdout.splitlines()
    assert header.split(",")[0] == "month" and rows
    assert {line.split(",")[0] for line in rows} == {"2026-05-01"}


def test_a_failed_month_exits_one_when_other_months_are_materialized(tmp_path):
    from dominance_pipeline.storage import parquet

    parquet.write_partition(case_indices(dt.date(2026, 5, 1)), tmp_path / "data" / "warehouse", "dominance_indices", "2026-05-01")
    proc = run_cli(tmp_path, "materialize", "--month", "2026-04", "--quiet")  # no local snapshot for 2026-04
    assert "FAILED raw_hub_listings: no local snapshot for 2026-04" in proc.stderr, proc.stderr
    assert "Time series:" not in proc.stdout  # a failed month refreshes nothing
    assert proc.returncode == 1


@pytest.mark.parametrize("fmt", ["table", "csv"])
def test_report_into_a_reader_that_stops_early_exits_zero_without_a_traceback(tmp_path, fmt):
    # `dominance-pipeline report | head -1`: the reader closes the pipe before the report is written.
    from dominance_pipeline.storage import parquet

    parquet.write_partition(case_indices(dt.date(2026, 5, 1)), tmp_path / "data" / "warehouse", "dominance_indices", "2026-05-01")
    env = {**os.environ, "DOMINANCE_DATA_DIR": str(tmp_path / "data"), "DAGSTER_HOME": str(tmp_path / "home")}
    proc = subprocess.Popen([*CLI, "report", "--format", fmt], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=PROJECT_ROOT)
    proc.stdout.close()  # long before the interpreter has started
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 0, err
    assert err == ""
