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


def run_cli(tmp_path: Path, *args: str, registry: Path | None = None, command: list[str] = CLI) -> subprocess.CompletedProcess[str]:
    """The CLI (or `command`, which runs it) on the instance and warehouse under `tmp_path`; `registry` stands in
    for the shipped org registry."""
    env = {**os.environ, "DOMINANCE_DATA_DIR": str(tmp_path / "data"), "DAGSTER_HOME": str(tmp_path / "home")}
    if registry is not None:
        env["DOMINANCE_REGISTRY"] = str(registry)
    return subprocess.run([*command, *args], capture_output=True, text=True, env=env, cwd=PROJECT_ROOT, timeout=300)


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


def registry_with(path: Path, *rows: list[str]) -> Path:
    """A copy of the shipped org registry at `path`, with `rows` added."""
    from dominance_pipeline.origin.registry import REGISTRY_PATH

    path.write_text(REGISTRY_PATH.read_text() + "".join(",".join(r) + "\n" for r in rows))
    return path


def test_registry_gaps_reads_the_registry_the_runs_read(demo):
    # A row added to a copy of the registry ($DOMINANCE_REGISTRY) fills the month's largest direct gap.
    tmp, _ = demo
    args = ["registry-gaps", "--month", "2026-05", "--top", "1", "--view", "direct", "--format", "csv"]
    (gap,) = list(csv_rows(run_cli(tmp, *args).stdout))
    row = [gap["namespace"], "Filled", "FR", "company", "headquarters", "https://example.org", "", "", "", "", "false", "test"]
    after = run_cli(tmp, *args, registry=registry_with(tmp / "registry_with_gap.csv", row))
    (filled,) = list(csv_rows(after.stdout))
    assert (filled["namespace"], filled["registry"]) == (gap["namespace"], "now FR in the registry: re-materialize the month")


def test_registry_gaps_notes_a_row_valid_by_the_months_last_day_but_not_one_valid_only_after_it(demo):
    # The registry is read as it would attribute the month: on its last day (2026-05-31), not its first.
    tmp, _ = demo
    args = ["registry-gaps", "--month", "2026-05", "--top", "2", "--view", "direct", "--format", "csv"]
    first, second = csv_rows(run_cli(tmp, *args).stdout)
    registry = registry_with(
        tmp / "registry_dated.csv",
        [first["namespace"], "Late May", "FR", "company", "headquarters", "https://example.org", "", "", "2026-05-31", "", "false", "test"],
        [second["namespace"], "June", "DE", "company", "headquarters", "https://example.org", "", "", "2026-06-01", "", "false", "test"],
    )
    after = run_cli(tmp, *args, registry=registry)
    assert after.returncode == 0, after.stderr
    assert [(r["namespace"], r["registry"]) for r in csv_rows(after.stdout)] == [
        (first["namespace"], "now FR in the registry: re-materialize the month"),
        (second["namespace"], ""),
    ]


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


def test_registry_gaps_one_view_lists_only_that_view(demo):
    tmp, _ = demo
    both = csv_rows(run_cli(tmp, "registry-gaps", "--month", "2026-05", "--top", "2", "--format", "csv").stdout)
    lineage = run_cli(tmp, "registry-gaps", "--month", "2026-05", "--top", "2", "--view", "lineage", "--format", "csv")
    assert lineage.returncode == 0, lineage.stderr
    assert csv_rows(lineage.stdout) == [r for r in both if r["view"] == "lineage"] and len(csv_rows(lineage.stdout)) == 2
    table = run_cli(tmp, "registry-gaps", "--month", "2026-05", "--top", "2", "--view", "lineage")
    assert "lineage view:" in table.stdout and "direct view:" not in table.stdout


def test_registry_gaps_with_a_registry_that_cannot_be_read_is_one_line_exit_two(demo):
    tmp, _ = demo
    missing = tmp / "no_such_registry.csv"
    proc = run_cli(tmp, "registry-gaps", "--month", "2026-05", registry=missing)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.strip().splitlines() == [f"dominance-pipeline registry-gaps: error: org registry not found: {missing}"]


@pytest.mark.parametrize(("top", "message"), [("0", "must be at least 1, got 0"), ("-3", "must be at least 1, got -3"), ("many", "must be a whole number, got 'many'")])
def test_registry_gaps_top_must_be_a_whole_number_of_at_least_one(tmp_path, top, message):
    proc = run_cli(tmp_path, "registry-gaps", "--month", "2026-05", "--top", top)
    assert proc.returncode == 2 and f"argument --top: {message}" in proc.stderr


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


def small_indices():
    import polars as pl

    rows = [  # (index, view, country, value); a lineage row first, so the columns are sorted, not in order of appearance
        ("china_us_gap", "lineage", None, -0.05),
        ("download_share", "direct", "CN", 0.6),
        ("download_share", "lineage", "CN", 0.55),
        ("download_share", "direct", "US", 0.2),
        ("download_share", "lineage", "US", None),
        ("download_share", "direct", "UNATTRIBUTED", 0.15),
        ("download_share", "direct", "FR", 0.05),
        ("china_us_gap", "direct", None, 0.4),
        ("hhi_org", "direct", None, 4200.0),
        ("cr5_org", "direct", None, 1.0),
        ("effective_orgs", "direct", None, 2.380952),
    ]
    return pl.DataFrame(
        {"month": [dt.date(2026, 5, 1)] * len(rows), "index": [r[0] for r in rows], "view": [r[1] for r in rows],
         "denominator": ["all"] * len(rows), "country": [r[2] for r in rows], "value": [r[3] for r in rows]},
    )  # fmt: skip


def test_the_indices_table_has_a_column_per_view_a_unit_per_index_and_the_key_countries():
    from dominance_pipeline.cli.render import indices_table

    table = indices_table(small_indices())
    assert table.columns == ["index", "country", "direct/all", "lineage/all"]
    assert table.rows() == [
        ("china_us_gap", "—", "+40.00 pp", "-5.00 pp"),  # a gap in percentage points, signed
        ("cr5_org", "—", "100.00%", ""),
        ("download_share", "CN", "60.00%", "55.00%"),
        ("download_share", "UNATTRIBUTED", "15.00%", ""),
        ("download_share", "US", "20.00%", ""),  # no value: an empty cell
        ("effective_orgs", "—", "2.381", ""),
        ("hhi_org", "—", "4,200", ""),
    ]  # FR is not a key country; the indices without a country stay
    assert ("download_share", "FR", "5.00%", "") in indices_table(small_indices(), None).rows()


def test_the_table_lists_the_absent_indices_by_name_or_says_the_run_is_unknown(capsys):
    from dominance_pipeline.cli.report import print_month

    print_month(small_indices(), "2026-05-01", {"vintage_share": "why b", "new_model_share": "why a"}, ("CN",), "T")
    out = capsys.readouterr().out
    assert out.endswith("\nNo rows for 2026-05:\n  new_model_share: why a\n  vintage_share: why b\n")
    print_month(small_indices(), "2026-05-01", {}, ("CN",), "T")  # a recorded run with every index
    out = capsys.readouterr().out
    assert "No rows" not in out and "no record" not in out
    print_month(small_indices(), "2026-05-01", None, ("CN",), "T")
    assert capsys.readouterr().out.endswith("\n(no record of this month's run in the Dagster instance: reasons for any absent index unknown)\n")


def test_absent_reasons_come_from_the_latest_materialization_in_dagster_home(tmp_path, monkeypatch):
    from dominance_pipeline.cli.report import absent_reasons
    from dominance_pipeline.instance import ensure_dagster_home

    monkeypatch.setenv("DOMINANCE_DATA_DIR", str(tmp_path / "data"))  # its dagster_home is not the instance
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    home = ensure_dagster_home()
    with dg.DagsterInstance.from_config(str(home)) as instance:
        for reasons in ({"vintage_share": "first run"}, {"new_model_share": "second run"}):
            meta = {"absent": dg.MetadataValue.json(reasons)}
            instance.report_runless_asset_event(dg.AssetMaterialization("dominance_indices", partition="2026-05-01", metadata=meta))
        instance.report_runless_asset_event(dg.AssetMaterialization("dominance_indices", partition="2026-04-01"))
    assert absent_reasons("2026-05-01") == {"new_model_share": "second run"}
    assert absent_reasons("2026-04-01") == {}  # recorded, no reasons
    assert absent_reasons("2026-03-01") is None  # no record


def test_countries_given_as_only_commas_are_a_usage_mistake():
    from dominance_pipeline.cli.errors import UserError
    from dominance_pipeline.cli.report import chosen_countries

    assert chosen_countries(" cn, unattributed ,", small_indices()) == ("CN", "UNATTRIBUTED")
    with pytest.raises(UserError, match=r"^--countries: none given is not a country code; give ISO codes such as CN,US, or all$"):
        chosen_countries(" , ", small_indices())


# The CLI under a watch on Dagster's job loading, which alters sys.path in place (quality.suites.warmed_up).
WATCH_LOADS = """
import contextlib, runpy, sys
import dagster._core.code_pointer as code_pointer
from dominance_pipeline.quality import suites
original = code_pointer.alter_sys_path
@contextlib.contextmanager
def watched(*args, **kwargs):
    print("job loaded while GX imports:", suites._warming is not None and suites._warming.is_alive(), file=sys.stderr)
    with original(*args, **kwargs):
        yield
code_pointer.alter_sys_path = watched
sys.argv = ["dominance-pipeline", *sys.argv[1:]]
try:
    runpy.run_module("dominance_pipeline.cli", run_name="__main__")
finally:
    print("GX imported in the background:", suites._warming is not None, file=sys.stderr)
"""


def test_gx_is_imported_in_the_background_only_once_dagster_has_loaded_the_job(tmp_path):
    # An import in another thread that walks sys.path while a load alters it can miss a package, leaving GX
    # half-imported for the process: a CLI backfill's raw check once failed on it.
    proc = run_cli(tmp_path, "materialize", "--month", "2026-05", command=[sys.executable, "-c", WATCH_LOADS])
    assert proc.returncode == 0, proc.stderr
    loads = re.findall(r"job loaded while GX imports: (True|False)", proc.stderr)
    assert len(loads) >= 4 and set(loads) == {"False"}, loads
    assert "GX imported in the background: True" in proc.stderr
