"""`dominance-pipeline backfill` as a user runs it: three synthetic months, twice, into one persistent instance."""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import subprocess
from pathlib import Path

import dagster as dg
import duckdb
import polars as pl
import pyarrow.parquet as pq
import pytest

from dominance_pipeline.settings import PROJECT_ROOT
from dominance_pipeline_tests.cases import bad_april_indices
from dominance_pipeline_tests.conftest import SAMPLE_DIR, SAMPLE_KEY, run_month
from dominance_pipeline_tests.test_cli import CLI, run_cli

MONTHS = ["2026-03-01", "2026-04-01", "2026-05-01"]


def run_cli_env(tmp_path: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """run_cli with more environment variables (they win over its own)."""
    full = {**os.environ, "DOMINANCE_DATA_DIR": str(tmp_path / "data"), "DAGSTER_HOME": str(tmp_path / "home"), **env}
    return subprocess.run([*CLI, *args], capture_output=True, text=True, env=full, cwd=PROJECT_ROOT, timeout=300)
TABLES = ["raw_hub_listings", "origin_tagged_models", "monthly_aggregates", "dominance_indices", "monthly_leaderboard"]
GATES = {  # the blocking checks every month's run must evaluate for that month
    "raw_hub_listings_valid", "origin_tagged_models_valid", "monthly_aggregates_conserve_totals",
    "dominance_indices_valid", "monthly_leaderboard_valid",
}


def partition_rows(data: Path) -> dict[tuple[str, str], int]:
    """Rows per (table, month) from the Parquet footers, and the file count per partition folder (must be 1)."""
    rows = {}
    for table in TABLES:
        for key in MONTHS:
            folder = data / "warehouse" / table / f"month={key}"
            files = sorted(folder.glob("*.parquet"))
            assert len(files) == 1, files
            rows[(table, key)] = pq.read_metadata(files[0]).num_rows
    return rows


def backfill_id(stdout: str) -> str:
    return re.search(r"^Backfill (cli-\S+):", stdout, re.M).group(1)


@pytest.fixture(scope="module")
def snapshots(tmp_path_factory) -> Path:
    from dominance_pipeline.synth import SynthConfig, generate

    out = tmp_path_factory.mktemp("synth")
    generate(SynthConfig(models=20_000, months=4, end=dt.date(2026, 5, 1), seed=6), out)
    return out


@pytest.fixture(scope="module")
def twice(tmp_path_factory, snapshots):
    """The same three months backfilled twice into one instance, with the warehouse measured after each."""
    tmp = tmp_path_factory.mktemp("backfill")
    args = ("backfill", "--from", "2026-03", "--to", "2026-05", "--source", "local", "--snapshot-dir", str(snapshots), "--quiet")
    first = run_cli(tmp, *args)
    after_first = partition_rows(tmp / "data") if first.returncode == 0 else {}
    second = run_cli(tmp, *args)
    return tmp, first, after_first, second


def test_a_backfill_is_one_run_per_month_each_gated_by_that_months_checks(twice):
    tmp, first, _, _ = twice
    assert first.returncode == 0, first.stderr
    for i, key in enumerate(MONTHS, 1):
        assert re.search(rf"^\[{i}/3\] {key[:7]} ok in [\d.]+ s, run \S+$", first.stdout, re.M), first.stdout
    assert "Ran 3 of 3 month(s)" in first.stdout and "3 succeeded (2026-03, 2026-04, 2026-05)" in first.stdout
    assert "Time series: 3 month(s), 2026-03 to 2026-05" in first.stdout
    with dg.DagsterInstance.from_config(str(tmp / "home")) as instance:
        runs = instance.get_runs(dg.RunsFilter(tags={"dominance/backfill": backfill_id(first.stdout)}))
        assert sorted(r.tags["dagster/partition"] for r in runs) == MONTHS
        for run in runs:
            assert run.job_name == "monthly_job" and run.status == dg.DagsterRunStatus.SUCCESS
            records = instance.get_records_for_run(run.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION).records
            evaluations = [r.event_log_entry.dagster_event.event_specific_data for r in records]
            assert {e.asset_check_key.name for e in evaluations} == GATES
            assert {e.partition for e in evaluations} == {run.tags["dagster/partition"]}  # gated per month, not per range
            assert all(e.passed for e in evaluations)


def test_a_second_backfill_replaces_the_months_instead_of_adding_rows(twice, snapshots):
    tmp, first, after_first, second = twice
    assert second.returncode == 0, second.stderr
    assert "already materialized, will be replaced: 2026-03, 2026-04, 2026-05" in second.stdout
    assert second.stdout.count("(replaced the earlier materialization)") == 3
    after_second = partition_rows(tmp / "data")
    assert after_second == after_first
    for key in MONTHS:  # the raw partition is the listing, less what was quarantined: counted independently
        listing = pl.scan_parquet(snapshots / f"hub_stats_{key[:7]}.parquet").select(pl.len()).collect().item()
        quarantine = tmp / "data" / "warehouse" / "quarantine" / "raw_hub_listings" / f"month={key}" / "data.parquet"
        rejected = pq.read_metadata(quarantine).num_rows if quarantine.exists() else 0
        assert after_second[("raw_hub_listings", key)] == listing - rejected
    with duckdb.connect(str(tmp / "data" / "warehouse" / "dominance.duckdb"), read_only=True) as con:
        per_month = dict(con.execute("SELECT strftime(month, '%Y-%m-%d'), count(*) FROM raw_hub_listings GROUP BY 1").fetchall())
        assert per_month == {key: after_second[("raw_hub_listings", key)] for key in MONTHS}
        series = con.execute("SELECT count(*) FROM dominance_timeseries").fetchone()[0]
    assert series == sum(after_second[("dominance_indices", key)] for key in MONTHS)
    with dg.DagsterInstance.from_config(str(tmp / "home")) as instance:
        assert len(instance.get_runs(dg.RunsFilter(job_name="monthly_job"))) == 6  # history keeps both backfills


def test_a_failing_month_is_named_and_the_months_after_it_still_run(tmp_path, snapshots):
    """2026-02 is a broken export (6 % of its rows listed twice): its raw check blocks it, 2026-03 goes on."""
    folder = tmp_path / "snapshots"
    shutil.copytree(snapshots, folder)
    feb = folder / "hub_stats_2026-02.parquet"
    listing = pl.read_parquet(feb)
    pl.concat([listing, listing.head(listing.height * 6 // 100)]).write_parquet(feb)
    proc = run_cli(tmp_path, "backfill", "--from", "2026-02", "--to", "2026-03", "--snapshot-dir", str(folder), "--quiet")
    assert proc.returncode == 1
    assert re.search(r"^\[1/2\] 2026-02 FAILED at check raw_hub_listings_valid on raw_hub_listings in ", proc.stdout, re.M), proc.stdout
    assert re.search(r"^\[2/2\] 2026-03 ok in ", proc.stdout, re.M), proc.stdout
    assert "1 succeeded (2026-03), 1 failed" in proc.stdout
    assert re.search(r"^  FAILED 2026-02 at check raw_hub_listings_valid on raw_hub_listings: \d+ of \d+ expectations failed", proc.stdout, re.M)
    assert "not materialized for 2026-02: origin_tagged_models, monthly_aggregates, dominance_indices, monthly_leaderboard" in proc.stderr
    assert "Time series: 1 month(s), 2026-03 to 2026-03" in proc.stdout
    assert "Traceback" not in proc.stderr


def test_missing_only_skips_and_says_so_and_fail_fast_stops(twice):
    tmp, *_ = twice
    proc = run_cli(tmp, "backfill", "--from", "2026-01", "--to", "2026-03", "--missing-only", "--fail-fast", "--quiet")
    assert proc.returncode == 1
    assert "skipped, already materialized (--missing-only): 2026-03" in proc.stdout
    assert re.search(r"^\[1/2\] 2026-01 FAILED at raw_hub_listings in ", proc.stdout, re.M), proc.stdout
    assert "[2/2] 2026-02" not in proc.stdout and "[again]" not in proc.stdout
    assert "not run (--fail-fast): 2026-02\n" in proc.stdout
    assert "run again if the month before succeeds (its delta and rank changes read it): 2026-03" in proc.stdout
    assert "FAILED 2026-01 at raw_hub_listings: no local snapshot for 2026-01" in proc.stdout


def test_missing_only_keeps_the_month_after_a_month_that_failed_again(twice):
    tmp, *_ = twice
    proc = run_cli(tmp, "backfill", "--from", "2026-01", "--to", "2026-03", "--missing-only", "--quiet")
    assert proc.returncode == 1
    assert "[again] 2026-03 not run again: 2026-02 did not succeed" in proc.stdout, proc.stdout
    assert "Ran 2 of 2 month(s)" in proc.stdout and "[again] 2026-03 ..." not in proc.stdout


def test_missing_only_fills_a_failed_month_and_runs_the_month_after_it_again(tmp_path, snapshots):
    # 2026-04 fails (its file is not Parquet), so 2026-05 is built without its previous month: no delta. Filling
    # 2026-04 with --missing-only must run 2026-05 again, or its delta stays absent for good.
    folder = tmp_path / "snapshots"
    shutil.copytree(snapshots, folder)
    april = folder / "hub_stats_2026-04.parquet"
    good = april.read_bytes()
    april.write_text("garbage")
    args = ("backfill", "--from", "2026-03", "--to", "2026-05", "--snapshot-dir", str(folder), "--quiet")
    first = run_cli(tmp_path, *args)
    assert first.returncode == 1 and "1 failed" in first.stdout, first.stdout
    april.write_bytes(good)
    second = run_cli(tmp_path, *args, "--missing-only")
    assert second.returncode == 0, second.stdout + second.stderr
    assert "skipped, already materialized (--missing-only): 2026-03" in second.stdout
    assert "run again if the month before succeeds (its delta and rank changes read it): 2026-05" in second.stdout
    assert re.search(r"^\[1/1\] 2026-04 ok in .*^\[again\] 2026-05 ok in ", second.stdout, re.M | re.S), second.stdout
    assert "Ran 2 of 2 month(s)" in second.stdout
    may = pl.read_parquet(tmp_path / "data" / "warehouse" / "dominance_indices" / "month=2026-05-01" / "data.parquet")
    assert not may.filter(pl.col("index") == "download_delta_share").is_empty()


def test_missing_only_runs_a_month_whose_last_run_failed_at_a_check_after_its_assets_were_written(tmp_path, snapshots):
    # With a share-sum tolerance no float sum meets, dominance_indices_valid fails after every asset is written.
    strict = tmp_path / "thresholds.yaml"
    from dominance_pipeline.quality.config import THRESHOLDS_PATH

    strict.write_text(THRESHOLDS_PATH.read_text().replace("share_sum_tolerance:", "share_sum_tolerance: 1.0e-300 #"))
    args = ("backfill", "--from", "2026-05", "--to", "2026-05", "--snapshot-dir", str(snapshots), "--quiet")
    env = {"DOMINANCE_THRESHOLDS": str(strict)}
    first = run_cli_env(tmp_path, env, *args)
    assert first.returncode == 1 and "FAILED at check dominance_indices_valid" in first.stdout, first.stdout
    second = run_cli(tmp_path, *args, "--missing-only")
    assert second.returncode == 0, second.stdout + second.stderr
    assert "skipped" not in second.stdout and re.search(r"^\[1/1\] 2026-05 ok in ", second.stdout, re.M), second.stdout
    # Run again and failing, the month is not said to have replaced the earlier materialization.
    third = run_cli_env(tmp_path, env, *args)
    assert re.search(r"^\[1/1\] 2026-05 FAILED at check dominance_indices_valid on dominance_indices in [\d.]+ s, run \S+$", third.stdout, re.M), third.stdout
    assert "replaced the earlier materialization" not in third.stdout


@pytest.mark.parametrize("change", ["deleted", "replaced"])
def test_missing_only_runs_a_month_whose_partition_is_no_longer_in_the_warehouse_as_checked(tmp_path, snapshots, change):
    # The instance remembers the month as materialized; the warehouse no longer holds it as its check passed it:
    # an analyst deleted a partition folder, or a file was put in place of the one the check judged.
    args = ("backfill", "--from", "2026-05", "--to", "2026-05", "--snapshot-dir", str(snapshots), "--quiet")
    first = run_cli(tmp_path, *args)
    assert first.returncode == 0, first.stdout + first.stderr
    folder = tmp_path / "data" / "warehouse" / "monthly_aggregates" / "month=2026-05-01"
    if change == "deleted":
        shutil.rmtree(folder)
    else:
        copy = folder / "copy.tmp"
        shutil.copyfile(folder / "data.parquet", copy)
        os.replace(copy, folder / "data.parquet")
    second = run_cli(tmp_path, *args, "--missing-only")
    assert second.returncode == 0, second.stdout + second.stderr
    assert "skipped" not in second.stdout and re.search(r"^\[1/1\] 2026-05 ok in ", second.stdout, re.M), second.stdout
    assert (folder / "data.parquet").is_file()
    third = run_cli(tmp_path, *args, "--missing-only")
    assert "skipped, already materialized (--missing-only): 2026-05" in third.stdout, third.stdout
    assert "will be replaced" not in third.stdout and "[1/" not in third.stdout  # skipped, so not replaced


def test_a_broken_registry_or_instance_folder_stops_the_backfill_before_any_month(tmp_path, snapshots):
    args = ("backfill", "--from", "2026-04", "--to", "2026-05", "--snapshot-dir", str(snapshots), "--quiet")
    registry = tmp_path / "registry.csv"
    from dominance_pipeline.origin.registry import REGISTRY_PATH

    lines = REGISTRY_PATH.read_text().splitlines()
    fields = lines[1].split(",")
    fields[2] = "XX"
    registry.write_text("\n".join([lines[0], ",".join(fields), *lines[2:]]) + "\n")
    bad_registry = run_cli_env(tmp_path, {"DOMINANCE_REGISTRY": str(registry)}, *args)
    assert bad_registry.returncode == 2 and "country 'XX'" in bad_registry.stderr, bad_registry.stderr
    assert "[1/2]" not in bad_registry.stdout and not (tmp_path / "data" / "warehouse" / "raw_hub_listings").exists()
    (tmp_path / "homefile").write_text("")
    bad_home = run_cli_env(tmp_path, {"DAGSTER_HOME": str(tmp_path / "homefile")}, *args)
    assert bad_home.returncode == 2 and "cannot hold the Dagster instance" in bad_home.stderr
    assert "Traceback" not in bad_home.stderr + bad_registry.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--from", "2026-05", "--to", "2026-03"), "--from 2026-05 is after --to 2026-03"),
        (("--from", "2026-03", "--to", "2026-05", "--source", "archive", "--snapshot-dir", "."), "--snapshot-dir is for the local source"),
        (("--from", "2026-03", "--to", "2026-05", "--snapshot-dir", "no/such/folder"), "is not a folder"),
        (("--from", "2023-01", "--to", "2026-05"), "is not a partition"),
        (("--from", "2026-03", "--to", "2026-05", "--snapshot-dir", __file__), "is not a folder"),  # a file, not a folder
        (("--from", "2026-03", "--to", "2026-05", "--endpoint", "http://127.0.0.1:1"), "--endpoint is for the archive source"),
    ],
)
def test_usage_mistakes_are_one_line_and_exit_two(capsys, args, message):
    from dominance_pipeline.cli import main

    assert main(["backfill", *args]) == 2  # refused before any instance or run is touched, so in-process is safe
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_an_archive_backfill_reads_each_month_end_from_the_snapshot_dataset(tmp_path, snapshots):
    """The local Hub server serves hfmlsoc/hub_weekly_snapshots with one folder per week: the week of 2026-03-25
    ends on 2026-04-01 00:00 (March's month end), the week of 2026-04-24 on 2026-05-01 00:00 (April's)."""
    from dominance_pipeline.hubserver import HubServer
    from dominance_pipeline.hubserver.repos import weekly_repo

    weeks = [(dt.date(2026, 3, 25), snapshots / "hub_stats_2026-03.parquet"), (dt.date(2026, 4, 24), snapshots / "hub_stats_2026-04.parquet")]
    with HubServer(repos=[weekly_repo(weeks)]) as server:
        proc = run_cli(tmp_path, "backfill", "--from", "2026-03", "--to", "2026-04", "--source", "archive", "--endpoint", server.url, "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert "source archive;" in proc.stdout and "2 succeeded (2026-03, 2026-04)" in proc.stdout
    for week, file in weeks:
        key = f"{week:%Y-%m}-01"
        raw = pl.read_parquet(tmp_path / "data" / "warehouse" / "raw_hub_listings" / f"month={key}" / "data.parquet", columns=["source", "snapshot_at"])
        assert raw["source"].unique().to_list() == ["archive"]
        assert raw["snapshot_at"].unique().to_list() == [dt.datetime.combine(week + dt.timedelta(days=7), dt.time(), dt.UTC)]
        assert raw.height == pl.scan_parquet(file).select(pl.len()).collect().item()
    with dg.DagsterInstance.from_config(str(tmp_path / "home")) as instance:
        runs = instance.get_runs(dg.RunsFilter(job_name="monthly_job"))
        assert {r.tags["dominance/source"] for r in runs} == {"archive"} and len(runs) == 2


def test_ctrl_c_during_a_month_reports_it_interrupted_not_failed(tmp_path, snapshots):
    """SIGINT while the second of three archive months reads its snapshot (the Hub made slow from then on, so
    the signal lands inside that month's run): that month is reported interrupted, with no exception class
    path, the third as not run, and the exit status is 130."""
    import signal
    import threading
    import time

    from dominance_pipeline.hubserver import HubServer
    from dominance_pipeline.hubserver.faults import parse_fault
    from dominance_pipeline.hubserver.repos import weekly_repo

    weeks = [(dt.date(2026, m, 24), snapshots / f"hub_stats_2026-{m:02d}.parquet") for m in (3, 4, 5)]
    slow = parse_fault("slow:route=all,delay=1,after=1000000")  # off until the second month starts
    env = {**os.environ, "DOMINANCE_DATA_DIR": str(tmp_path / "data"), "DAGSTER_HOME": str(tmp_path / "home")}
    lines: list[str] = []
    second = threading.Event()
    with HubServer(repos=[weekly_repo(weeks)], faults=[slow]) as server:
        proc = subprocess.Popen(
            [*CLI, "backfill", "--from", "2026-03", "--to", "2026-05", "--source", "archive", "--endpoint", server.url],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=PROJECT_ROOT,
        )

        def read() -> None:
            for line in proc.stdout:  # type: ignore[union-attr]
                lines.append(line)
                if line.startswith("[2/3] 2026-04 ..."):
                    slow.after = 0
                    second.set()

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        try:
            assert second.wait(timeout=240), "".join(lines)
            deadline = time.monotonic() + 120
            while slow.fired < 1 and time.monotonic() < deadline:
                time.sleep(0.05)
            proc.send_signal(signal.SIGINT)
            err = proc.stderr.read()  # type: ignore[union-attr]
            proc.wait(timeout=120)
        finally:
            proc.kill()
        reader.join(timeout=10)
    out = "".join(lines)
    assert proc.returncode == 130, out + err
    assert re.search(r"^\[2/3\] 2026-04 interrupted after [\d.]+ s, run \S+$", out, re.M), out
    assert re.search(r"^  INTERRUPTED 2026-04 at raw_hub_listings: not finished, run it again \(run \S+\)$", out, re.M), out
    assert "  not run (interrupted): 2026-05" in out and "1 succeeded (2026-03), 1 interrupted" in out
    assert "InterruptedError" not in out + err and "FAILED" not in out + err


@pytest.mark.parametrize("command", ["materialize", "backfill"])
def test_ctrl_c_as_a_run_ends_stops_the_command(tmp_path, snapshots, monkeypatch, capsys, command):
    # Dagster holds a SIGINT back while it runs a job and drops one that arrives between steps: sent as
    # monthly_job's run ends, the command went on (the time series, the next months) and exited 0.
    import signal

    from dominance_pipeline.cli import main

    monkeypatch.setenv("DOMINANCE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    store = dg.DagsterInstance.handle_new_event
    sent: list[str] = []

    def ctrl_c_at_the_end_of_a_month(self, event, *args, **kwargs):
        store(self, event, *args, **kwargs)
        if event.is_dagster_event and event.dagster_event_type == dg.DagsterEventType.RUN_SUCCESS and event.job_name == "monthly_job" and not sent:
            sent.append(event.run_id)
            os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(dg.DagsterInstance, "handle_new_event", ctrl_c_at_the_end_of_a_month)
    if command == "materialize":
        args = ["materialize", "--month", "2026-04", "--snapshot", str(snapshots / "hub_stats_2026-04.parquet"), "--quiet"]
    else:
        args = ["backfill", "--from", "2026-03", "--to", "2026-04", "--snapshot-dir", str(snapshots), "--quiet"]

    assert main(args) == 130
    out, err = capsys.readouterr()
    assert sent
    assert "Time series:" not in out and not (tmp_path / "data" / "warehouse" / "dominance_timeseries").exists()
    if command == "materialize":
        assert f"INTERRUPTED after 2026-04 was materialized: the time series was not refreshed (run {sent[0]})" in err
    else:
        assert "[1/2] 2026-03 ok in " in out and f"s, then interrupted, run {sent[0]}" in out
        assert "not run (interrupted): 2026-04" in out and "[2/2]" not in out


def test_ctrl_c_before_a_run_starts_leaves_no_run_pending(tmp_path, snapshots, monkeypatch, capsys):
    # Ctrl-C just after Dagster recorded the run and before it started it: the run stayed NOT_STARTED for good.
    from dominance_pipeline.cli import main

    monkeypatch.setenv("DOMINANCE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    create = dg.DagsterInstance.create_run_for_job

    def recorded_then_interrupted(self, *args, **kwargs):
        create(self, *args, **kwargs)
        raise KeyboardInterrupt

    monkeypatch.setattr(dg.DagsterInstance, "create_run_for_job", recorded_then_interrupted)
    assert main(["backfill", "--from", "2026-03", "--to", "2026-04", "--snapshot-dir", str(snapshots), "--quiet"]) == 130
    assert "not run (interrupted): 2026-03, 2026-04" in capsys.readouterr().out
    with dg.DagsterInstance.get() as instance:  # DAGSTER_HOME is the backfill's
        runs = instance.get_runs()
    assert [r.status for r in runs] == [dg.DagsterRunStatus.CANCELED]


def test_missing_only_does_not_skip_a_month_whose_last_run_failed_before_its_indices(tmp_path):
    # The month was built once; its next run re-published the listing, then failed at tagging (a broken
    # registry): every partition is still in the warehouse and each passed its check, but the month's tagged
    # models and indices are older than its listing. Its last run failed: --missing-only must run it again.
    import shutil

    from dominance_pipeline.cli.backfill import done_months
    from dominance_pipeline.definitions import build_definitions
    from dominance_pipeline.defs.resources import RegistryResource
    from dominance_pipeline.origin.registry import REGISTRY_PATH

    data = tmp_path / "data"
    instance = dg.DagsterInstance.ephemeral()
    assert run_month(data, SAMPLE_KEY, instance=instance).success
    assert done_months(instance, [SAMPLE_KEY], data / "warehouse") == {SAMPLE_KEY}
    bad_registry = tmp_path / "registry.csv"
    shutil.copy(REGISTRY_PATH, bad_registry)
    bad_registry.write_text(bad_registry.read_text().replace("Qwen,Qwen (Alibaba Cloud),CN", "Qwen,Qwen (Alibaba Cloud),ZZ"))
    defs = build_definitions(data, SAMPLE_DIR)
    failed = dg.materialize(
        [*defs.assets, *defs.asset_checks],  # type: ignore[list-item]
        partition_key=SAMPLE_KEY,
        resources={**defs.resources, "registry": RegistryResource(path=str(bad_registry))},
        instance=instance,
        raise_on_error=False,
        run_config={"ops": {"raw_hub_listings": {"config": {"source": "local"}}}},
        selection=[a.key for a in (defs.assets or []) if a.key.to_user_string() not in ("dominance_timeseries", "dominance_crossover")],  # type: ignore[union-attr]
    )
    assert not failed.success
    assert done_months(instance, [SAMPLE_KEY], data / "warehouse") == set()


def test_a_backfill_exits_one_when_the_series_fails_its_check(tmp_path):
    # The month itself succeeds; the series built over it and a bad April (a share of 1.2) fails its check.
    bad_april_indices(tmp_path / "data" / "warehouse")
    proc = run_cli(tmp_path, "backfill", "--from", "2026-05", "--to", "2026-05", "--snapshot-dir", str(SAMPLE_DIR), "--quiet")
    assert "1 succeeded (2026-05)" in proc.stdout, proc.stdout
    assert "FAILED check dominance_timeseries_valid on dominance_timeseries" in proc.stderr, proc.stderr
    assert proc.returncode == 1


def test_a_range_includes_both_ends_and_a_single_month_is_that_month():
    from dominance_pipeline.cli.backfill import month_range

    assert month_range("2026-05", "2026-05") == ["2026-05-01"]
    assert month_range("2026-03", "2026-05") == ["2026-03-01", "2026-04-01", "2026-05-01"]
    assert month_range("2025-12-01", "2026-01") == ["2025-12-01", "2026-01-01"]  # across a year, either spelling


def test_missing_only_runs_again_only_the_skipped_month_right_after_each_run_of_months():
    from dominance_pipeline.cli.backfill import after_gaps

    keys = ["2026-01-01", "2026-02-01", "2026-03-01", "2026-04-01", "2026-05-01"]
    # 02 and 03 run: 03 is itself run (not again), 04 reads 03, 05 reads the skipped 04: only 04 runs again.
    assert after_gaps(keys, ["2026-02-01", "2026-03-01"]) == ["2026-04-01"]
    assert after_gaps(keys, ["2026-01-01", "2026-03-01"]) == ["2026-02-01", "2026-04-01"]
    assert after_gaps(keys, ["2026-05-01"]) == [] and after_gaps(keys, keys) == []


def test_the_summary_counts_an_interrupted_month_apart_from_the_failed_ones(capsys):
    from dominance_pipeline.cli.backfill import MonthResult, summarize
    from dominance_pipeline.cli.materialize import INTERRUPTED, StepFailure

    ok = MonthResult("2026-03-01", "r1", 1.0)
    stopped = MonthResult("2026-04-01", "r2", 1.0, [StepFailure("raw_hub_listings", INTERRUPTED)])
    todo = ["2026-03-01", "2026-04-01", "2026-05-01"]
    assert summarize([ok, stopped], todo, 2.0, interrupted=True) == 1
    out = capsys.readouterr().out
    assert "Ran 2 of 3 month(s) in 2.0 s: 1 succeeded (2026-03), 1 interrupted\n" in out
    assert "FAILED" not in out and "  INTERRUPTED 2026-04 at raw_hub_listings: not finished, run it again (run r2)" in out
    assert "  not run (interrupted): 2026-05\n" in out
    failed = MonthResult("2026-04-01", "r3", 1.0, [StepFailure("check raw_hub_listings_valid on raw_hub_listings", "2 of 9 expectations failed\nrow count")])
    assert summarize([ok, failed], todo[:2], 2.0) == 1
    out = capsys.readouterr().out
    assert "Ran 2 of 2 month(s) in 2.0 s: 1 succeeded (2026-03), 1 failed\n" in out and "interrupted" not in out
    assert "  FAILED 2026-04 at check raw_hub_listings_valid on raw_hub_listings: 2 of 9 expectations failed (run r3)\n" in out
    assert summarize([failed], todo[1:2], 1.0) == 1
    assert "Ran 1 of 1 month(s) in 1.0 s: 0 succeeded (none), 1 failed\n" in capsys.readouterr().out
    assert summarize([ok], todo[:1], 1.0) == 0
    assert "Ran 1 of 1 month(s) in 1.0 s: 1 succeeded (2026-03)\n" == capsys.readouterr().out.lstrip("\n")
