"""The data-quality gates through real Dagster runs: a corrupted month is stopped, others are untouched."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import shutil
from pathlib import Path

import dagster as dg
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from dominance_pipeline.definitions import build_definitions
from dominance_pipeline.origin.registry import REGISTRY_PATH
from dominance_pipeline.storage import verdicts
from dominance_pipeline_tests.cases import case_indices
from dominance_pipeline_tests.conftest import SAMPLE, run_month
from dominance_pipeline_tests.snapshots import april_snapshot, corrupted_snapshot

ASSETS = ["raw_hub_listings", "origin_tagged_models", "monthly_aggregates", "dominance_indices", "monthly_leaderboard"]
APRIL, MAY = "2026-04-01", "2026-05-01"


def partition(data_dir: Path, asset: str, key: str) -> Path:
    return data_dir / "warehouse" / asset / f"month={key}" / "data.parquet"


def digests(data_dir: Path, key: str) -> dict[str, str]:
    files = [partition(data_dir, a, key) for a in ASSETS]
    files.append(data_dir / "warehouse" / "quarantine" / "raw_hub_listings" / f"month={key}" / "data.parquet")
    return {str(f): hashlib.sha256(f.read_bytes()).hexdigest() for f in files}


def evaluation(result, check: str):
    (ev,) = [e for e in result.get_asset_check_evaluations() if e.check_name == check]
    return ev


def failed_expectations(ev) -> dict[str, dict]:
    return {f["expectation"]: f for f in ev.metadata["failed"].value}


def snapshot_dir(tmp: Path, april: pl.DataFrame, may: pl.DataFrame) -> Path:
    """A folder of local month-end snapshots for 2026-04 and 2026-05."""
    snapshots = tmp / "snapshots"
    snapshots.mkdir()
    april.write_parquet(snapshots / "hub_stats_2026-04.parquet")
    may.write_parquet(snapshots / "hub_stats_2026-05.parquet")
    return snapshots


@pytest.fixture(scope="module")
def gated_months(tmp_path_factory):
    """April good, then May corrupted, then May fixed: three runs in one instance and one warehouse."""
    tmp = tmp_path_factory.mktemp("gates")
    bad = corrupted_snapshot(SAMPLE)
    snapshots = snapshot_dir(tmp, april_snapshot(SAMPLE), bad.frame)
    data = tmp / "data"
    instance = dg.DagsterInstance.ephemeral()
    april = run_month(data, APRIL, instance=instance, snapshot_dir=snapshots)
    april_files = digests(data, APRIL)
    corrupted = run_month(data, MAY, instance=instance, snapshot_dir=snapshots)
    after_corrupted = digests(data, APRIL)
    may_after_corrupted = {a for a in ASSETS if partition(data, a, MAY).exists()}
    shutil.copy(SAMPLE, snapshots / "hub_stats_2026-05.parquet")
    fixed = run_month(data, MAY, instance=instance, snapshot_dir=snapshots)
    return {
        "data": data, "bad": bad, "april": april, "corrupted": corrupted, "fixed": fixed,
        "april_files": april_files, "after_corrupted": after_corrupted, "may_after_corrupted": may_after_corrupted, "after_fixed": digests(data, APRIL),
    }


def test_the_good_month_passes_every_check(gated_months):
    april = gated_months["april"]
    assert april.success
    assert all(e.passed for e in april.get_asset_check_evaluations())
    raw = evaluation(april, "raw_hub_listings_valid")
    # 2026-03 was never materialized: the size comparison is skipped with a note, not failed.
    (skipped,) = raw.metadata["skipped"].value
    assert skipped["expectation"].startswith("row count within") and "no raw partition for 2026-03" in skipped["note"]


def test_the_corrupted_month_fails_its_raw_check_naming_the_expectations(gated_months):
    corrupted, bad = gated_months["corrupted"], gated_months["bad"]
    assert not corrupted.success
    raw = evaluation(corrupted, "raw_hub_listings_valid")
    assert not raw.passed and raw.severity == dg.AssetCheckSeverity.ERROR and raw.partition == MAY
    failed = failed_expectations(raw)
    evaluated = raw.metadata["evaluated_expectations"].value
    assert len(failed) == 2 and raw.description.splitlines()[0] == f"2 of {evaluated} expectations failed"
    quarantine_name = next(n for n in failed if n.startswith("quarantined rows <= 1.00% of the listing"))
    size_name = next(n for n in failed if n.startswith("row count within -3%/+25% of 2026-04"))
    # Quarantine: every appended duplicate and every negative row, nothing else (the sample itself is clean).
    rows_in = bad.frame.height
    quarantine = failed[quarantine_name]
    assert quarantine["unexpected_count"] == len(bad.duplicated_ids) + len(bad.negative_ids) == 100
    assert quarantine_name.endswith(f"({math.floor(0.01 * rows_in):,} of {rows_in:,})")
    reasons = {s.split(" (")[1].rstrip(")") for s in quarantine["sample"]}
    assert reasons == {"duplicate_id", "negative_count:downloads"}  # the sample shows every kind of rejection
    assert {s.split(" (")[0] for s in quarantine["sample"]} <= set(bad.duplicated_ids) | set(bad.negative_ids)
    # Truncation: the raw partition holds the kept rows less the quarantined negatives, against April's rows.
    april_rows = april_snapshot(SAMPLE).height
    assert failed[size_name]["observed"] == f"{bad.kept_rows - len(bad.negative_ids):,}"
    assert f"({april_rows:,} rows): {math.ceil(april_rows * 0.97):,} to" in size_name


def test_the_corrupted_month_stops_before_the_indices(gated_months):
    corrupted = gated_months["corrupted"]
    materialized = {e.asset_key.to_user_string() for e in corrupted.get_asset_materialization_events()}
    assert materialized == {"raw_hub_listings"}
    started = {e.step_key for e in corrupted.all_events if e.event_type_value == "STEP_START"}
    assert started == {"raw_hub_listings", "raw_hub_listings_raw_hub_listings_valid"}
    # On disk: nothing of May is published (its first listing was rejected, with nothing accepted to go back
    # to); the rejected listing and its quarantine are kept for inspection out of the published tree.
    assert gated_months["may_after_corrupted"] == set()
    rejected = gated_months["data"] / "warehouse" / "_rejected" / "raw_hub_listings" / f"month={MAY}"
    assert pl.read_parquet(rejected / "data.parquet").height == gated_months["bad"].kept_rows - len(gated_months["bad"].negative_ids)
    assert pl.read_parquet(rejected / "quarantine.parquet").height == 100
    raw = evaluation(corrupted, "raw_hub_listings_valid")
    assert raw.description.splitlines()[-1] == (
        f"The month has no accepted listing to go back to, and now none at all; the rejected one and its quarantine are in {rejected}"
    )
    assert gated_months["after_corrupted"] == gated_months["april_files"]


def test_after_the_fix_the_month_passes_and_april_is_untouched(gated_months):
    fixed, data = gated_months["fixed"], gated_months["data"]
    assert fixed.success
    evals = fixed.get_asset_check_evaluations()
    assert len(evals) == len(ASSETS) and all(e.passed for e in evals) and {e.partition for e in evals} == {MAY}
    raw = evaluation(fixed, "raw_hub_listings_valid")
    assert raw.metadata["skipped"].value == []  # April exists now: the size comparison ran and passed
    for asset in ASSETS:
        assert partition(data, asset, MAY).is_file()
    assert pl.read_parquet(partition(data, "raw_hub_listings", MAY)).height == pl.read_parquet(SAMPLE).height
    assert gated_months["after_fixed"] == gated_months["april_files"]


def test_a_late_snapshot_warns_without_blocking(tmp_path, capsys):
    # The sample's newest timestamp is 2026-05-20 18:24:08: as April's snapshot, 19 days 18:24 after April ended.
    result = run_month(tmp_path, APRIL, raw_config={"source": "local", "snapshot": str(SAMPLE)})
    assert result.success
    raw = evaluation(result, "raw_hub_listings_valid")
    assert not raw.passed and raw.severity == dg.AssetCheckSeverity.WARN
    (late,) = raw.metadata["failed"].value
    assert late["expectation"] == "snapshot taken at most 7 days after the month end"
    assert late["sample"] == ["2026-05-20 18:24 UTC (days_after_month_end=19.7668)"]
    assert {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()} == set(ASSETS)
    # What the CLI prints for it, on a run that succeeded:
    from dominance_pipeline.cli.materialize import failed_checks, failures, print_step

    assert failures(result) == []
    capsys.readouterr()  # drop the run's own log
    for f in failed_checks(result, "WARN"):
        print_step("WARNING", f)
    evaluated = raw.metadata["evaluated_expectations"].value
    assert capsys.readouterr().err.splitlines() == [
        f"WARNING check raw_hub_listings_valid on raw_hub_listings: 1 of {evaluated} expectations failed",
        "    WARN snapshot taken at most 7 days after the month end: 1 unexpected; "
        "e.g. 2026-05-20 18:24 UTC (days_after_month_end=19.7668)",
        "    SKIPPED row count within -3%/+25% of 2026-03: no raw partition for 2026-03 to compare with",
    ]


def test_a_bad_month_in_the_series_fails_the_timeseries_check_and_stops_the_crossover(tmp_path, capsys):
    """The time series is not partitioned: its check validates every month at once and names the bad one."""
    from dominance_pipeline.definitions import build_definitions
    from dominance_pipeline.metrics import indices
    from dominance_pipeline.origin.registry import load_registry
    from dominance_pipeline.origin.tagging import tag
    from dominance_pipeline.storage import parquet
    from dominance_pipeline_tests.test_metrics import CASE, MONTH
    from dominance_pipeline_tests.test_metrics import raw as raw_frame

    may = indices.compute(tag(raw_frame(CASE), load_registry())[0], MONTH).table
    cn = (pl.col("index") == "download_share") & (pl.col("view") == "direct") & (pl.col("denominator") == "all") & (pl.col("country") == "CN")
    april = may.with_columns(month=pl.lit(MONTH.replace(month=4)), value=pl.when(cn).then(1.2).otherwise(pl.col("value")))
    warehouse = tmp_path / "warehouse"
    parquet.write_partition(april, warehouse, "dominance_indices", APRIL)
    parquet.write_partition(may, warehouse, "dominance_indices", MAY)
    job = build_definitions(tmp_path).resolve_job_def("timeseries_job")
    result = job.execute_in_process(instance=dg.DagsterInstance.ephemeral(), raise_on_error=False)
    assert not result.success
    check = evaluation(result, "dominance_timeseries_valid")
    assert not check.passed and check.partition is None and check.severity == dg.AssetCheckSeverity.ERROR
    failed = failed_expectations(check)
    assert set(failed) == {"every share is within [0, 1]", "shares sum to 1 within 1e-09 per (month, index, view, denominator)"}
    assert failed["every share is within [0, 1]"]["sample"] == ["2026-04 download_share direct all CN (share=1.2)"]
    assert check.metadata["rows"].value == april.height + may.height
    assert {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()} == {"dominance_timeseries"}
    assert not (warehouse / "dominance_crossover" / "data.parquet").exists()
    # What `dominance-pipeline materialize` prints after the month when the series fails its check:
    from dominance_pipeline.cli.materialize import report_series

    capsys.readouterr()
    assert report_series(result) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[0] == f"FAILED check dominance_timeseries_valid on dominance_timeseries: 2 of {check.metadata['evaluated_expectations'].value} expectations failed"
    assert err[-1] == f"the month is materialized; not refreshed: dominance_crossover (run {result.run_id})"


@pytest.fixture(scope="module")
def blocked_april(tmp_path_factory):
    """April's listing is corrupted and fails its raw check; May's is good. Each month in a run of its own."""
    tmp = tmp_path_factory.mktemp("blocked_april")
    april_snapshot(SAMPLE).write_parquet(tmp / "april.parquet")
    april = corrupted_snapshot(tmp / "april.parquet", keep=1.0, negatives=400).frame
    snapshots = snapshot_dir(tmp, april, pl.read_parquet(SAMPLE))
    data = tmp / "data"
    april = run_month(data, APRIL, snapshot_dir=snapshots)
    may = run_month(data, MAY, snapshot_dir=snapshots)
    return {"data": data, "snapshots": snapshots, "april": april, "may": may}


def test_a_month_that_failed_its_raw_check_is_no_listing_for_the_next_month(blocked_april):
    april, may, data = blocked_april["april"], blocked_april["may"], blocked_april["data"]
    assert not april.success and evaluation(april, "raw_hub_listings_valid").passed is False
    assert not partition(data, "raw_hub_listings", APRIL).exists()  # out of the published tree, kept for inspection:
    assert (data / "warehouse" / "_rejected" / "raw_hub_listings" / f"month={APRIL}" / "data.parquet").exists()
    # May is not compared with April's rejected listing, nor does it compute a delta from it.
    assert may.success
    (size,) = [s for s in evaluation(may, "raw_hub_listings_valid").metadata["skipped"].value if s["expectation"].startswith("row count")]
    assert size["note"].startswith("raw_hub_listings for 2026-04 failed its check (ERROR quarantined rows")
    assert size["note"].endswith(": nothing accepted to compare with")
    indices = pl.read_parquet(partition(data, "dominance_indices", MAY))
    assert indices.filter(pl.col("index").str.starts_with("download_delta")).is_empty()
    (absent,) = [m.metadata["absent"].value for m in may.asset_materializations_for_node("dominance_indices")]
    assert absent["download_delta_share"].startswith("raw_hub_listings for 2026-04 failed its check")


def test_the_downstream_assets_alone_do_not_run_on_a_listing_that_failed_its_check(blocked_april):
    from dominance_pipeline.definitions import build_definitions

    data = blocked_april["data"]
    defs = build_definitions(data, blocked_april["snapshots"])
    downstream = dg.AssetSelection.assets("origin_tagged_models").downstream()
    result = dg.materialize(
        [*defs.assets, *defs.asset_checks],  # type: ignore[list-item]
        selection=downstream - dg.AssetSelection.assets("dominance_timeseries", "dominance_crossover"),
        partition_key=APRIL, resources=defs.resources, raise_on_error=False,
    )
    assert not result.success
    (failure,) = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    assert failure.step_key == "origin_tagged_models"
    assert "raw_hub_listings for 2026-04 failed its check" in failure.event_specific_data.error.message
    assert not [a for a in ASSETS[1:] if partition(data, a, APRIL).exists()]


@pytest.mark.parametrize("left", [False, True], ids=["file in place", "file rejected out of the warehouse"])
def test_a_month_whose_indices_failed_their_check_is_left_out_of_the_series(tmp_path, left):
    # Both months pass, and each indices check keeps its verdict; then May's is made a failure on the same
    # file, as its check records one (the sample's sums cannot be made to fail a threshold), and, as the check
    # then does, the file leaves the warehouse (or stays: a run that died before settling): the series keeps
    # April alone, says why, and has May as a gap.
    from dominance_pipeline.definitions import build_definitions
    from dominance_pipeline.storage import verdicts
    from dominance_pipeline_tests.conftest import derive_previous_month

    snapshots = tmp_path / "snapshots"
    derive_previous_month(SAMPLE, snapshots)
    data = tmp_path / "data"
    assert run_month(data, APRIL, snapshot_dir=snapshots).success and run_month(data, MAY, snapshot_dir=snapshots).success
    warehouse = data / "warehouse"
    assert [verdicts.read(warehouse, "dominance_indices", k).state for k in (APRIL, MAY)] == [verdicts.PASSED] * 2
    judged = verdicts.identity(partition(data, "dominance_indices", MAY))
    verdicts.record(warehouse, "dominance_indices", MAY, judged, passed=False, summary="ERROR shares sum to 1: 1 unexpected")
    if left:
        from dominance_pipeline.storage import accepted

        assert not accepted.settle(warehouse, "dominance_indices", MAY, passed=False).restored  # type: ignore[union-attr]
        assert not partition(data, "dominance_indices", MAY).exists()
    series = build_definitions(data, snapshots).resolve_job_def("timeseries_job").execute_in_process(raise_on_error=False)
    assert series.success
    ts = pl.read_parquet(warehouse / "dominance_timeseries" / "data.parquet")
    assert ts.get_column("month").unique().to_list() == [dt.date(2026, 4, 1)]
    (meta,) = [m.metadata for m in series.asset_materializations_for_node("dominance_timeseries")]
    assert meta["excluded_months"].value == {"2026-05": "dominance_indices for 2026-05 failed its check (ERROR shares sum to 1: 1 unexpected)"}


def test_a_rejected_rerun_of_an_accepted_month_puts_the_accepted_listing_back(tmp_path):
    """May passed; run again on a corrupted snapshot, its check fails: every May file is the accepted one
    again (raw, quarantine, downstream), the rejected listing is kept for inspection, and later runs still
    read May as accepted."""
    bad = corrupted_snapshot(SAMPLE)
    snapshots = snapshot_dir(tmp_path, april_snapshot(SAMPLE), pl.read_parquet(SAMPLE))
    data, instance = tmp_path / "data", dg.DagsterInstance.ephemeral()
    warehouse = data / "warehouse"
    assert run_month(data, APRIL, instance=instance, snapshot_dir=snapshots).success
    assert run_month(data, MAY, instance=instance, snapshot_dir=snapshots).success
    accepted_files = digests(data, MAY)
    accepted_indices = pl.read_parquet(partition(data, "dominance_indices", MAY))
    assert not (warehouse / "_previous" / "raw_hub_listings" / f"month={MAY}").exists()  # dropped once May passed
    bad.frame.write_parquet(snapshots / "hub_stats_2026-05.parquet")

    rerun = run_month(data, MAY, instance=instance, snapshot_dir=snapshots)

    assert not rerun.success
    assert digests(data, MAY) == accepted_files
    raw = evaluation(rerun, "raw_hub_listings_valid")
    assert not raw.passed and raw.severity == dg.AssetCheckSeverity.ERROR
    rejected = warehouse / "_rejected" / "raw_hub_listings" / f"month={MAY}"
    assert raw.description.splitlines()[-1] == (
        f"The month's accepted listing is back in place; the rejected one and its quarantine are in {rejected}"
    )
    assert verdicts.read(warehouse, "raw_hub_listings", MAY).state == verdicts.PASSED
    # The rejected listing as its run wrote it: the kept rows less the negatives, which are in its quarantine.
    assert pl.read_parquet(rejected / "data.parquet").height == bad.kept_rows - len(bad.negative_ids)
    assert pl.read_parquet(rejected / "quarantine.parquet").height == len(bad.duplicated_ids) + len(bad.negative_ids)
    assert json.loads((rejected / "verdict.json").read_text())["passed"] is False
    assert not (warehouse / "_previous" / "raw_hub_listings" / f"month={MAY}").exists()
    # A later run takes May for accepted: its downstream assets alone run on the listing put back.
    defs = build_definitions(data, snapshots)
    downstream = dg.AssetSelection.assets("origin_tagged_models").downstream()
    result = dg.materialize(
        [*defs.assets, *defs.asset_checks],  # type: ignore[list-item]
        selection=downstream - dg.AssetSelection.assets("dominance_timeseries", "dominance_crossover"),
        partition_key=MAY, instance=instance, resources=defs.resources, raise_on_error=False,
    )
    assert result.success
    # The same indices again (a run sums lineage weights in its own order: equal to the last bits).
    assert_frame_equal(pl.read_parquet(partition(data, "dominance_indices", MAY)), accepted_indices, rel_tol=1e-12, abs_tol=0)


def test_a_rejected_rerun_of_a_tagged_partition_puts_the_accepted_one_back(tmp_path, monkeypatch):
    """May passed; run again with a registry that knows one small organisation, the tagged check fails on
    coverage: the tagged partition is the accepted one again and the rejected one is kept aside; the month's
    aggregates and indices, computed from the accepted one, stay."""
    snapshots = snapshot_dir(tmp_path, april_snapshot(SAMPLE), pl.read_parquet(SAMPLE))
    data, instance = tmp_path / "data", dg.DagsterInstance.ephemeral()
    warehouse = data / "warehouse"
    assert run_month(data, MAY, instance=instance, snapshot_dir=snapshots).success
    before = digests(data, MAY)
    registry = REGISTRY_PATH.read_text().splitlines()
    tiny = tmp_path / "registry.csv"
    tiny.write_text("\n".join([registry[0], *[r for r in registry if r.startswith("zed-industries,")]]) + "\n")
    monkeypatch.setenv("DOMINANCE_REGISTRY", str(tiny))

    rerun = run_month(data, MAY, instance=instance, snapshot_dir=snapshots)

    assert not rerun.success
    tagged = evaluation(rerun, "origin_tagged_models_valid")
    assert not tagged.passed and "attributed" in tagged.description
    rejected = warehouse / "_rejected" / "origin_tagged_models" / f"month={MAY}"
    assert tagged.description.splitlines()[-1] == f"The month's accepted partition is back in place; the rejected one is in {rejected}"
    assert tagged.metadata["rejected_partition"].value == str(rejected)
    # Raw passed again (the same listing, published again); everything after it is as the accepted run left it.
    after = digests(data, MAY)
    assert {k: v for k, v in after.items() if "raw_hub_listings" not in k} == {k: v for k, v in before.items() if "raw_hub_listings" not in k}
    assert verdicts.read(warehouse, "origin_tagged_models", MAY).state == verdicts.PASSED
    rejected_tagged = pl.read_parquet(rejected / "data.parquet")
    assert rejected_tagged.height == pl.read_parquet(SAMPLE).height
    assert set(rejected_tagged["org_country"].unique()) <= {"US", "UNATTRIBUTED"}
    assert not (warehouse / "_previous" / "origin_tagged_models" / f"month={MAY}").exists()


@pytest.mark.parametrize(("rejected", "first_refusal"), [("origin_tagged_models", "monthly_aggregates"), ("monthly_aggregates", "dominance_indices")])
def test_the_downstream_assets_alone_do_not_run_on_a_partition_that_failed_its_check(tmp_path, rejected, first_refusal):
    # The month passed; then `rejected`'s verdict on the same file is made a failure, as its check records
    # one. A run of the assets after it alone (the UI's Materialize) refuses to build on it, and leaves them
    # as they were.
    snapshots = snapshot_dir(tmp_path, april_snapshot(SAMPLE), pl.read_parquet(SAMPLE))
    data = tmp_path / "data"
    warehouse = data / "warehouse"
    assert run_month(data, MAY, snapshot_dir=snapshots).success
    before = digests(data, MAY)
    judged = verdicts.identity(partition(data, rejected, MAY))
    verdicts.record(warehouse, rejected, MAY, judged, passed=False, summary="ERROR stand-in")
    defs = build_definitions(data, snapshots)
    after = dg.AssetSelection.assets(rejected).downstream() - dg.AssetSelection.assets(rejected, "dominance_timeseries", "dominance_crossover")
    result = dg.materialize(
        [*defs.assets, *defs.asset_checks],  # type: ignore[list-item]
        selection=after, partition_key=MAY, resources=defs.resources, raise_on_error=False,
    )
    assert not result.success
    failures = {e.step_key: e.event_specific_data.error.message for e in result.all_events if e.event_type_value == "STEP_FAILURE"}
    assert f"{rejected} for 2026-05 failed its check (ERROR stand-in)" in failures[first_refusal]
    assert all(f"{rejected} for 2026-05 failed its check" in m for m in failures.values())
    assert not result.get_asset_materialization_events()
    assert digests(data, MAY) == before


@pytest.mark.parametrize("check", ["raw_hub_listings_valid", "origin_tagged_models_valid"])
def test_a_check_run_alone_on_a_month_never_materialized_says_so(tmp_path, check):
    defs = build_definitions(tmp_path / "data", tmp_path)
    table = check.removesuffix("_valid")
    # The check's own op, as the UI's Execute on a check runs it.
    result = defs.resolve_job_def("monthly_job").execute_in_process(
        partition_key=MAY, op_selection=[f"{table}_{check}"], raise_on_error=False
    )
    assert not result.success
    (failure,) = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    error = failure.event_specific_data.error
    while error.cause is not None:
        error = error.cause
    assert error.message.startswith(f"FileNotFoundError: partition {table} month={MAY} has not been materialized"), error.message


def test_the_leaderboard_takes_a_previous_month_that_failed_or_missed_its_check_for_absent(tmp_path):
    # Rank changes read the previous month's tagged partition: one its check rejected is no previous month.
    snapshots = snapshot_dir(tmp_path, april_snapshot(SAMPLE), pl.read_parquet(SAMPLE))
    data = tmp_path / "data"
    assert run_month(data, APRIL, snapshot_dir=snapshots).success and run_month(data, MAY, snapshot_dir=snapshots).success
    assert pl.read_parquet(partition(data, "monthly_leaderboard", MAY))["rank_change"].null_count() < 50  # ranked against April
    judged = verdicts.identity(partition(data, "origin_tagged_models", APRIL))
    verdicts.record(data / "warehouse", "origin_tagged_models", APRIL, judged, passed=False, summary="ERROR stand-in")
    defs = build_definitions(data, snapshots)
    result = dg.materialize(
        [*defs.assets, *defs.asset_checks],  # type: ignore[list-item]
        selection=dg.AssetSelection.assets("monthly_leaderboard"), partition_key=MAY, resources=defs.resources,
    )
    (meta,) = [m.metadata for m in result.asset_materializations_for_node("monthly_leaderboard")]
    assert meta["previous_month"].value == "absent: origin_tagged_models for 2026-04 failed its check (ERROR stand-in)"
    board = pl.read_parquet(partition(data, "monthly_leaderboard", MAY))
    assert board.height > 0 and board["rank_change"].null_count() == board.height
    # April published again (the same bytes, a new file) by a run that died before its check: unchecked, also refused.
    april = partition(data, "origin_tagged_models", APRIL)
    copy = april.with_name(".copy.tmp")
    copy.write_bytes(april.read_bytes())
    copy.replace(april)
    assert verdicts.read(data / "warehouse", "origin_tagged_models", APRIL).state == verdicts.UNCHECKED
    result = dg.materialize(
        [*defs.assets, *defs.asset_checks],  # type: ignore[list-item]
        selection=dg.AssetSelection.assets("monthly_leaderboard"), partition_key=MAY, resources=defs.resources,
    )
    (meta,) = [m.metadata for m in result.asset_materializations_for_node("monthly_leaderboard")]
    assert meta["previous_month"].value.startswith("absent: origin_tagged_models for 2026-04 was published and its check has not run on it since")
    board = pl.read_parquet(partition(data, "monthly_leaderboard", MAY))
    assert board.height > 0 and board["rank_change"].null_count() == board.height


def test_a_first_listing_whose_check_never_ran_is_unchecked_and_never_put_back_as_accepted(tmp_path, monkeypatch):
    # The month's first listing, from a corrupted snapshot, is published; the run dies in its check. It had no
    # verdict to differ from, and read as "never checked" (usable): downstream runs built on it, and when the
    # same snapshot failed its check next time, it was set aside and put "back in place" as the accepted one.
    from dominance_pipeline.quality import suites

    snapshots = snapshot_dir(tmp_path, april_snapshot(SAMPLE), corrupted_snapshot(SAMPLE).frame)
    data, instance = tmp_path / "data", dg.DagsterInstance.ephemeral()
    warehouse = data / "warehouse"

    def died(*args, **kwargs):
        raise RuntimeError("the check's process died")

    validate = suites.validate_raw
    monkeypatch.setattr(suites, "validate_raw", died)
    assert not run_month(data, MAY, instance=instance, snapshot_dir=snapshots).success
    assert partition(data, "raw_hub_listings", MAY).exists()
    unchecked = verdicts.read(warehouse, "raw_hub_listings", MAY)
    assert unchecked.state == verdicts.UNCHECKED and not unchecked.usable
    monkeypatch.setattr(suites, "validate_raw", validate)

    rerun = run_month(data, MAY, instance=instance, snapshot_dir=snapshots)

    raw = evaluation(rerun, "raw_hub_listings_valid")
    assert not raw.passed
    rejected = warehouse / "_rejected" / "raw_hub_listings" / f"month={MAY}"
    assert raw.description.splitlines()[-1] == (
        f"The month has no accepted listing to go back to, and now none at all; the rejected one and its quarantine are in {rejected}"
    )
    assert not partition(data, "raw_hub_listings", MAY).exists()
    assert verdicts.read(warehouse, "raw_hub_listings", MAY).state == verdicts.FAILED
    # The table's only partition is gone, and so is its DuckDB view: a view over no file fails every query.
    import duckdb

    with duckdb.connect(str(warehouse / "dominance.duckdb"), read_only=True) as con:
        views = {row[0] for row in con.sql("SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall()}
    assert "raw_hub_listings" not in views, views


def test_a_listing_set_aside_by_a_run_that_failed_before_publishing_is_not_put_back_when_rejected(tmp_path, monkeypatch):
    # May passed. A re-run sets the accepted listing aside, then fails before publishing (a full disk): the file
    # aside is the one in place. The raw check run alone with a stricter bound rejects that file; it was
    # "restored" from aside, the same file, with its old passed verdict, and read as accepted.
    import dominance_pipeline.defs.ingest as ingest

    snapshots = snapshot_dir(tmp_path, april_snapshot(SAMPLE), pl.read_parquet(SAMPLE))
    data, instance = tmp_path / "data", dg.DagsterInstance.ephemeral()
    warehouse = data / "warehouse"
    assert run_month(data, MAY, instance=instance, snapshot_dir=snapshots).success

    def full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    publish = ingest.publish_listing
    monkeypatch.setattr(ingest, "publish_listing", full)
    assert not run_month(data, MAY, instance=instance, snapshot_dir=snapshots).success
    monkeypatch.setattr(ingest, "publish_listing", publish)
    assert verdicts.read(warehouse, "raw_hub_listings", MAY).state == verdicts.PASSED  # nothing was published
    from dominance_pipeline.quality.config import THRESHOLDS_PATH

    strict = tmp_path / "thresholds.yaml"
    strict.write_text(THRESHOLDS_PATH.read_text().replace("max_count: 100000000000", "max_count: 1000"))
    monkeypatch.setenv("DOMINANCE_THRESHOLDS", str(strict))
    check_alone = build_definitions(data, snapshots).resolve_job_def("monthly_job")
    op = "raw_hub_listings_raw_hub_listings_valid"

    result = check_alone.execute_in_process(partition_key=MAY, op_selection=[op], instance=instance, raise_on_error=False)

    raw = evaluation(result, "raw_hub_listings_valid")
    rejected = warehouse / "_rejected" / "raw_hub_listings" / f"month={MAY}"
    assert not raw.passed and raw.description.splitlines()[-1] == (
        f"The month's listing, accepted until now, is rejected and the month has none; the rejected one and its quarantine are in {rejected}"
    )
    assert not partition(data, "raw_hub_listings", MAY).exists()
    assert verdicts.read(warehouse, "raw_hub_listings", MAY).state == verdicts.FAILED
    assert not (warehouse / "_previous" / "raw_hub_listings" / f"month={MAY}").exists()
    # Run alone again, the check names the reason the month has no listing, not "never materialized".
    again = check_alone.execute_in_process(partition_key=MAY, op_selection=[op], instance=instance, raise_on_error=False)
    (failure,) = [e for e in again.all_events if e.event_type_value == "STEP_FAILURE"]
    error = failure.event_specific_data.error
    while error.cause is not None:
        error = error.cause
    assert error.message.startswith("FileNotFoundError: raw_hub_listings for 2026-05 failed its check (ERROR"), error.message
    assert f"the rejected one is in {rejected}" in error.message


def test_a_listing_published_by_another_run_of_the_month_in_progress_is_named_as_such(tmp_path):
    # Two runs of May at once: the other one publishes the listing again after this run's raw check passed.
    # This run's tagged step refused it as "published again ...; fix the cause", though nothing was broken.
    from dominance_pipeline.storage import accepted

    snapshots = snapshot_dir(tmp_path, april_snapshot(SAMPLE), pl.read_parquet(SAMPLE))
    data, instance = tmp_path / "data", dg.DagsterInstance.ephemeral()
    warehouse = data / "warehouse"
    assert run_month(data, MAY, instance=instance, snapshot_dir=snapshots).success
    other = dg.DagsterRun(job_name="monthly_job", run_id="0ther-run", status=dg.DagsterRunStatus.STARTED, tags={"dagster/partition": MAY})
    instance.add_run(other)
    raw = partition(data, "raw_hub_listings", MAY)
    accepted.keep(warehouse, "raw_hub_listings", MAY, warehouse / "quarantine")  # as the other run's writer does
    copy = raw.with_name("copy.tmp")
    shutil.copyfile(raw, copy)
    copy.replace(raw)
    defs = build_definitions(data, snapshots)

    def tagging_refusal() -> str:
        """Why this run's tagged step of May fails (its only failure)."""
        result = dg.materialize(
            [*defs.assets, *defs.asset_checks],  # type: ignore[list-item]
            selection=dg.AssetSelection.assets("origin_tagged_models"), partition_key=MAY, instance=instance,
            resources=defs.resources, raise_on_error=False,
        )
        (failure,) = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
        return failure.event_specific_data.error.message

    message = tagging_refusal()
    assert "another run of 2026-05 is in progress (run 0ther-run) and published it after this run's check" in message, message
    # A listing its check failed is named as failed even while another run of the month is in progress.
    verdicts.record(warehouse, "raw_hub_listings", MAY, verdicts.identity(raw), passed=False, summary="ERROR stand-in")
    message = tagging_refusal()
    assert "raw_hub_listings for 2026-05 failed its check (ERROR stand-in)" in message and "another run" not in message, message
    copy = raw.with_name("copy.tmp")  # published again: unchecked, as the other run left it
    shutil.copyfile(raw, copy)
    copy.replace(raw)
    instance.report_run_canceled(other)
    # A run of another month in progress is no run of this one.
    april = dg.DagsterRun(job_name="monthly_job", run_id="apr1l-run", status=dg.DagsterRunStatus.STARTED, tags={"dagster/partition": APRIL})
    instance.add_run(april)
    assert "fix the cause and materialize the month again" in tagging_refusal()


def test_the_series_metadata_counts_gaps_rejected_months_and_crossovers(tmp_path):
    from dominance_pipeline.definitions import build_definitions
    from dominance_pipeline.storage import parquet, verdicts

    warehouse = tmp_path / "warehouse"
    months = [dt.date(2026, 1, 1), dt.date(2026, 2, 1), dt.date(2026, 3, 1), dt.date(2026, 4, 1), dt.date(2026, 6, 1)]
    for m in months:  # 2026-05 is never materialized
        parquet.write_partition(case_indices(m), warehouse, "dominance_indices", m.isoformat())
    # 2026-04 failed its check (its file still there, as when a run died before settling it).
    judged = verdicts.identity(parquet.partition_file(warehouse, "dominance_indices", "2026-04-01"))
    verdicts.record(warehouse, "dominance_indices", dt.date(2026, 4, 1), judged, passed=False, summary="ERROR stand-in")
    job = build_definitions(tmp_path).resolve_job_def("timeseries_job")
    result = job.execute_in_process(instance=dg.DagsterInstance.ephemeral(), raise_on_error=False)
    assert result.success
    meta = {e.asset_key.to_user_string(): e.materialization.metadata for e in result.get_asset_materialization_events()}
    series = meta["dominance_timeseries"]
    assert (series["months"].value, series["first_month"].value, series["last_month"].value) == (4, "2026-01", "2026-06")
    # The series has Jan, Feb, Mar, Jun: both April (rejected) and May (never built) are breaks in every line.
    assert series["missing_months"].value == ["2026-04", "2026-05"]
    assert list(series["excluded_months"].value) == ["2026-04"]
    # In CASE, Qwen (CN, 600) outweighs meta-llama (US, 200): China leads the download share in Jan, Feb, Mar,
    # so download crosses over in 2026-01 in both views. crossovers_found counts the rows with a crossover month.
    cross = pl.read_parquet(warehouse / "dominance_crossover" / "data.parquet")
    download = cross.filter(pl.col("family") == "download").sort("view")
    assert download.get_column("crossover_month").to_list() == [dt.date(2026, 1, 1)] * 2
    with_crossover = cross.filter(pl.col("crossover_month").is_not_null()).height
    assert with_crossover < cross.height  # some family never crosses over in CASE: the count is not the row count
    assert meta["dominance_crossover"]["crossovers_found"].value == with_crossover


def test_the_leaderboard_of_a_month_whose_tagged_partition_is_empty_says_there_is_nothing_to_rank(tmp_path):
    from dominance_pipeline.schemas import BY_ASSET
    from dominance_pipeline.storage import parquet

    parquet.write_partition(BY_ASSET["origin_tagged_models"].empty(), tmp_path / "data" / "warehouse", "origin_tagged_models", MAY)
    defs = build_definitions(tmp_path / "data", tmp_path)
    result = dg.materialize(
        [*defs.assets, *defs.asset_checks],  # type: ignore[list-item]
        selection=dg.AssetSelection.assets("monthly_leaderboard"), partition_key=MAY, resources=defs.resources, raise_on_error=False,
    )
    assert not result.success
    (failure,) = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    assert failure.step_key == "monthly_leaderboard"
    assert "origin_tagged_models for 2026-05 is not materialized (or empty): nothing to rank" in failure.event_specific_data.error.message
    assert not partition(tmp_path / "data", "monthly_leaderboard", MAY).exists()


def test_the_indices_alone_refuse_tagged_models_that_failed_their_check_though_the_aggregates_passed(tmp_path):
    # The UI's Materialize on dominance_indices alone: the aggregates' verdict is good, the tagged models' is not.
    data = tmp_path / "data"
    assert run_month(data, MAY).success
    before = digests(data, MAY)
    judged = verdicts.identity(partition(data, "origin_tagged_models", MAY))
    verdicts.record(data / "warehouse", "origin_tagged_models", MAY, judged, passed=False, summary="ERROR stand-in")
    defs = build_definitions(data, tmp_path)
    result = dg.materialize(
        [*defs.assets, *defs.asset_checks],  # type: ignore[list-item]
        selection=dg.AssetSelection.assets("dominance_indices"), partition_key=MAY, resources=defs.resources, raise_on_error=False,
    )
    assert not result.success
    (failure,) = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    assert "origin_tagged_models for 2026-05 failed its check (ERROR stand-in)" in failure.event_specific_data.error.message
    assert digests(data, MAY) == before


def test_a_previous_listing_published_again_since_its_check_is_neither_compared_with_nor_used_for_the_delta(tmp_path):
    # April's listing published again (the same bytes, a new file) by a run that died before its check: unchecked,
    # and refused as May's previous month by the raw size check and by download_delta_share alike.
    from dominance_pipeline_tests.conftest import derive_previous_month

    snapshots = tmp_path / "snapshots"
    derive_previous_month(SAMPLE, snapshots)
    data = tmp_path / "data"
    assert run_month(data, APRIL, snapshot_dir=snapshots).success and run_month(data, MAY, snapshot_dir=snapshots).success
    assert not pl.read_parquet(partition(data, "dominance_indices", MAY)).filter(pl.col("index") == "download_delta_share").is_empty()
    april = partition(data, "raw_hub_listings", APRIL)
    copy = april.with_name(".copy.tmp")
    copy.write_bytes(april.read_bytes())
    copy.replace(april)
    assert verdicts.read(data / "warehouse", "raw_hub_listings", APRIL).state == verdicts.UNCHECKED

    may = run_month(data, MAY, snapshot_dir=snapshots)

    assert may.success
    unchecked = "raw_hub_listings for 2026-04 was published and its check has not run on it since"
    (size,) = [s for s in evaluation(may, "raw_hub_listings_valid").metadata["skipped"].value if s["expectation"].startswith("row count")]
    assert size["note"].startswith(unchecked) and size["note"].endswith(": nothing accepted to compare with")
    (meta,) = [m.metadata for m in may.asset_materializations_for_node("dominance_indices")]
    assert meta["absent"].value["download_delta_share"].startswith(unchecked)
    indices = pl.read_parquet(partition(data, "dominance_indices", MAY))
    assert indices.filter(pl.col("index").str.starts_with("download_delta")).is_empty()
