"""What runs unattended: the monthly schedule, the freshness check, the time-series refresh, backfill policy."""

from __future__ import annotations

import datetime as dt

import dagster as dg
import pytest

from dominance_pipeline.defs.assets import ASSETS
from dominance_pipeline.definitions import build_definitions, defs
from dominance_pipeline.quality import freshness
from dominance_pipeline_tests.conftest import SAMPLE_DIR, SAMPLE_KEY, run_month

UTC = dt.UTC
FRESH_OP = "dominance_timeseries_dominance_indices_fresh"
TIMESERIES = {dg.AssetKey("dominance_timeseries"), dg.AssetKey("dominance_crossover")}


def tick(when: dt.datetime) -> list[dg.RunRequest]:
    schedule = defs.resolve_schedule_def("monthly_live_schedule")
    return list(schedule.evaluate_tick(dg.build_schedule_context(scheduled_execution_time=when)).run_requests or [])


def test_the_schedule_requests_the_month_that_just_ended_from_the_live_source():
    [request] = tick(dt.datetime(2026, 6, 2, 6, 0, tzinfo=UTC))
    assert request.partition_key == "2026-05-01"
    assert request.run_config["ops"]["raw_hub_listings"]["config"]["source"] == "live"
    schedule = defs.resolve_schedule_def("monthly_live_schedule")
    assert (schedule.cron_schedule, schedule.execution_timezone) == ("0 6 2 * *", "UTC")
    assert schedule.job_name == "monthly_live_job"
    assert schedule.default_status == dg.DefaultScheduleStatus.STOPPED


def test_the_schedule_crosses_the_year_and_its_run_config_is_valid():
    [request] = tick(dt.datetime(2027, 1, 2, 6, 0, tzinfo=UTC))
    assert request.partition_key == "2026-12-01"
    job = defs.resolve_job_def("monthly_live_job")
    assert dg.validate_run_config(job, request.run_config)["ops"]["raw_hub_listings"]["config"]["source"] == "live"


def test_every_monthly_asset_is_backfilled_one_run_per_month():
    """A single-run backfill would record each check once for the whole range (partition None): keep the default."""
    for asset in ASSETS:
        policy = asset.backfill_policy
        assert policy is None or policy.max_partitions_per_run == 1, asset.key


def test_the_freshness_check_runs_in_its_own_job_only():
    check_ops = {n.name for n in defs.resolve_job_def("freshness_job").graph.node_defs}
    assert check_ops == {FRESH_OP}
    for name in ("monthly_job", "monthly_live_job", "monthly_archive_job", "timeseries_job"):
        assert FRESH_OP not in {n.name for n in defs.resolve_job_def(name).graph.node_defs}, name


def test_a_ui_run_of_one_month_leaves_the_freshness_check_out():
    # The UI's Materialize button and its partition backfills run the global asset job subset to the selection,
    # with the checks of the selected assets: for a backfill of 2025, the freshness check warned in every run.
    monthly = {a.key for a in ASSETS}
    job = defs.resolve_implicit_global_asset_job_def().get_subset(asset_selection=monthly)
    ops = {n.name for n in job.graph.node_defs}
    assert {"dominance_indices", "monthly_leaderboard"} <= ops
    assert not [op for op in ops if op.endswith("_fresh")], ops
    series = defs.resolve_implicit_global_asset_job_def().get_subset(asset_selection={dg.AssetKey("dominance_timeseries")})
    assert FRESH_OP in {n.name for n in series.graph.node_defs}  # a refresh of the series from the UI judges it


@pytest.mark.parametrize(
    ("now", "due"),
    [
        ("2026-06-02T23:59:59+00:00", "2026-04-01"),  # the 2nd: the scheduled listing may still be running
        ("2026-06-03T00:00:00+00:00", "2026-05-01"),  # the deadline: May is due
        ("2026-06-30T12:00:00+00:00", "2026-05-01"),
        ("2027-01-02T10:00:00+00:00", "2026-11-01"),
        ("2027-01-03T00:00:00+00:00", "2026-12-01"),
        ("2027-01-03T01:30:00+02:00", "2026-11-01"),  # 23:30 UTC on the 2nd
    ],
)
def test_the_month_due_is_the_last_one_whose_deadline_passed(now, due):
    assert freshness.due_month(dt.datetime.fromisoformat(now)) == dt.date.fromisoformat(due)


def test_freshness_names_the_missing_months_and_only_the_last_decides():
    months = [dt.date(2026, 2, 1), dt.date(2026, 4, 1), dt.date(2026, 5, 1)]
    ok = freshness.assess(months, dt.datetime(2026, 6, 3, tzinfo=UTC))
    assert ok.passed and ok.missing == (dt.date(2026, 3, 1),)
    late = freshness.assess(months, dt.datetime(2026, 8, 3, tzinfo=UTC))
    assert not late.passed
    assert late.due == dt.date(2026, 7, 1) and late.latest == dt.date(2026, 5, 1)
    assert late.missing == (dt.date(2026, 3, 1), dt.date(2026, 6, 1), dt.date(2026, 7, 1))
    assert "2026-07 (due by 2026-08-03 00:00 UTC) is not materialized" in late.summary()
    none = freshness.assess([], dt.datetime(2026, 6, 3, tzinfo=UTC))
    assert not none.passed and none.missing == (dt.date(2026, 5, 1),)


def freshness_at(definitions: dg.Definitions, instance: dg.DagsterInstance, as_of: str) -> dg.AssetCheckEvaluation:
    result = definitions.resolve_job_def("freshness_job").execute_in_process(
        instance=instance, run_config={"ops": {FRESH_OP: {"config": {"as_of": as_of}}}}
    )
    [evaluation] = result.get_asset_check_evaluations()
    return evaluation


@pytest.fixture(scope="module")
def one_month(tmp_path_factory):
    """An instance before and after 2026-05 is materialized: freshness and the automation tick on both sides."""
    data_dir = tmp_path_factory.mktemp("operations")
    definitions = build_definitions(data_dir, SAMPLE_DIR)
    instance = dg.DagsterInstance.ephemeral()
    before = freshness_at(definitions, instance, "2026-06-03T00:00:00Z")
    first_tick = dg.evaluate_automation_conditions(defs=definitions, instance=instance)
    run = run_month(data_dir, SAMPLE_KEY, instance=instance)
    assert run.success
    return definitions, instance, before, first_tick


def test_the_freshness_check_warns_until_the_last_complete_month_is_materialized(one_month):
    definitions, instance, before, _ = one_month
    assert not before.passed and before.severity == dg.AssetCheckSeverity.WARN
    assert before.description.startswith("the last complete month 2026-05 (due by 2026-06-03 00:00 UTC) is not materialized")
    after = freshness_at(definitions, instance, "2026-06-03T00:00:00Z")
    assert after.passed, after.description
    assert after.metadata["latest_month"].value == "2026-05"
    a_month_later = freshness_at(definitions, instance, "2026-07-03T00:00:00Z")
    assert not a_month_later.passed
    assert a_month_later.metadata["missing_months"].value == ["2026-06"]


def test_a_new_month_refreshes_the_time_series_once(one_month):
    definitions, instance, _, first_tick = one_month
    assert first_tick.total_requested == 0  # nothing has changed since the condition first looked
    second = dg.evaluate_automation_conditions(defs=definitions, instance=instance, cursor=first_tick.cursor)
    assert {key for key in TIMESERIES if second.get_num_requested(key)} == TIMESERIES
    assert second.total_requested == len(TIMESERIES)  # nothing else: the monthly chain is not automated
    third = dg.evaluate_automation_conditions(defs=definitions, instance=instance, cursor=second.cursor)
    assert third.total_requested == 0  # requested once, not on every tick


def test_a_month_whose_indices_failed_their_check_is_not_fresh(tmp_path):
    # Its indices are materialized (the instance says so) but were rejected, and the series leaves them out.
    from dominance_pipeline.storage import parquet, verdicts

    definitions = build_definitions(tmp_path, SAMPLE_DIR)
    instance = dg.DagsterInstance.ephemeral()
    assert run_month(tmp_path, SAMPLE_KEY, instance=instance).success
    assert freshness_at(definitions, instance, "2026-06-03T00:00:00Z").passed
    warehouse = tmp_path / "warehouse"
    judged = verdicts.identity(parquet.partition_file(warehouse, "dominance_indices", SAMPLE_KEY))
    verdicts.record(warehouse, "dominance_indices", SAMPLE_KEY, judged, passed=False, summary="ERROR share in [0, 1]")
    stale = freshness_at(definitions, instance, "2026-06-03T00:00:00Z")
    assert not stale.passed and stale.severity == dg.AssetCheckSeverity.WARN
    assert stale.description.startswith("the last complete month 2026-05 (due by 2026-06-03 00:00 UTC) is not materialized")


def test_a_ui_backfill_of_months_targets_exactly_those_months():
    # What the asset graph's "Launch backfill" computes (Dagster's asset backfill). A month-1 input mapped to
    # the previous partition made it also target the indices and leaderboard of the month after the range
    # (whose run then failed) and, depending on the process's hash seed, drop the first month's indices.
    from dagster._core.execution.asset_backfill import AssetBackfillData

    from dominance_pipeline.defs.assets import ASSETS
    from dominance_pipeline.definitions import defs

    months = ["2026-03-01", "2026-04-01", "2026-05-01"]
    with dg.instance_for_test() as instance:
        data = AssetBackfillData.from_asset_partitions(
            asset_graph=defs.resolve_asset_graph(), partition_names=months, asset_selection=[a.key for a in ASSETS],
            dynamic_partitions_store=instance, backfill_start_timestamp=dt.datetime(2026, 8, 10, tzinfo=UTC).timestamp(), all_partitions=False,
        )
    target = data.target_subset
    assert {k.to_user_string(): sorted(target.get_partitions_subset(k).get_partition_keys()) for k in target.asset_keys} == {
        a.key.to_user_string(): months for a in ASSETS
    }


def test_a_run_is_tagged_with_the_source_it_read_not_its_jobs_default(tmp_path):
    # monthly_archive_job with `source: local` typed in the launchpad read local files: its tag said archive.
    instance = dg.DagsterInstance.ephemeral()
    job = build_definitions(tmp_path / "data", SAMPLE_DIR).resolve_job_def("monthly_archive_job")
    result = job.execute_in_process(
        partition_key=SAMPLE_KEY,
        instance=instance,
        run_config={"ops": {"raw_hub_listings": {"config": {"source": "local"}}}},
        asset_selection=[dg.AssetKey("raw_hub_listings")],
        raise_on_error=False,
    )
    assert result.success
    assert instance.get_run_by_id(result.run_id).tags["dominance/source"] == "local"


def test_a_later_month_does_not_stand_in_for_the_missing_due_month():
    # On 2026-06-02 12:00 UTC the due month is April (May's deadline is 2026-06-03 00:00). May is already
    # materialized, April is not: the check fails and names April.
    got = freshness.assess([dt.date(2026, 5, 1)], dt.datetime(2026, 6, 2, 12, tzinfo=dt.UTC))
    assert (got.due, got.latest, got.missing) == (dt.date(2026, 4, 1), dt.date(2026, 5, 1), (dt.date(2026, 4, 1),))
    assert not got.passed


def test_the_freshness_schedule_runs_every_day_after_the_deadline():
    from dominance_pipeline.definitions import defs

    schedule = defs.resolve_schedule_def("freshness_schedule")
    assert (schedule.cron_schedule, schedule.execution_timezone) == ("0 7 * * *", "UTC")
    assert schedule.job_name == "freshness_job"
    # The first tick after May's deadline (2026-06-03 00:00 UTC) is the same morning, not a month later.
    from dagster._utils.schedules import cron_string_iterator

    first = next(cron_string_iterator(dt.datetime(2026, 6, 3, tzinfo=UTC).timestamp(), schedule.cron_schedule, "UTC"))
    assert first.astimezone(UTC) == dt.datetime(2026, 6, 3, 7, tzinfo=UTC)


def test_the_freshness_metadata_names_the_latest_month_not_the_due_one(tmp_path):
    from dominance_pipeline.definitions import build_definitions

    definitions = build_definitions(tmp_path, SAMPLE_DIR)
    instance = dg.DagsterInstance.ephemeral()
    # What the instance records of a materialized month: a materialization of dominance_indices for 2026-05.
    instance.report_runless_asset_event(dg.AssetMaterialization("dominance_indices", partition="2026-05-01"))
    result = definitions.resolve_job_def("freshness_job").execute_in_process(
        instance=instance, run_config={"ops": {FRESH_OP: {"config": {"as_of": "2026-08-03T00:00:00Z"}}}}
    )
    [ev] = result.get_asset_check_evaluations()
    assert not ev.passed  # due: 2026-07 (its deadline 2026-08-03 00:00 has passed); latest: 2026-05
    assert ev.metadata["due_month"].value == "2026-07"
    assert ev.metadata["latest_month"].value == "2026-05"
    assert ev.metadata["missing_months"].value == ["2026-06", "2026-07"]


def test_every_check_but_freshness_is_blocking():
    # A non-blocking ERROR check lets its run succeed: timeseries_job (and so `materialize`, `backfill`) would
    # report a failed crossover check as a refreshed series, exit 0. Freshness alone only warns.
    from dominance_pipeline.definitions import defs

    graph = defs.resolve_asset_graph()
    not_blocking = {k.name for k in graph.asset_check_keys if not graph.get_check_spec(k).blocking}
    assert not_blocking == {"dominance_indices_fresh"}


def test_the_series_waits_for_a_backfill_of_months_in_progress(tmp_path):
    # A month was materialized (the series is due a refresh), but a UI backfill of more months is still
    # running: the series must not refresh after each of its months, only once it has ended.
    from dagster._core.execution.backfill import PartitionBackfill

    from dominance_pipeline.defs.assets import ASSETS
    from dominance_pipeline.definitions import build_definitions

    definitions = build_definitions(tmp_path, SAMPLE_DIR)
    instance = dg.DagsterInstance.ephemeral()
    first = dg.evaluate_automation_conditions(defs=definitions, instance=instance)
    assert run_month(tmp_path, SAMPLE_KEY, instance=instance).success
    backfill = PartitionBackfill.from_asset_partitions(
        backfill_id="uibackfill", asset_graph=definitions.resolve_asset_graph(), partition_names=["2026-03-01", "2026-04-01"],
        asset_selection=[a.key for a in ASSETS], backfill_timestamp=dt.datetime.now(UTC).timestamp(), tags={},
        dynamic_partitions_store=instance, all_partitions=False, title=None, description=None, run_config=None,
    )
    instance.add_backfill(backfill)  # REQUESTED: in progress
    during = dg.evaluate_automation_conditions(defs=definitions, instance=instance, cursor=first.cursor)
    assert during.total_requested == 0
    from dagster._core.execution.backfill import BulkActionStatus

    instance.update_backfill(backfill.with_status(BulkActionStatus.COMPLETED_SUCCESS))
    after = dg.evaluate_automation_conditions(defs=definitions, instance=instance, cursor=during.cursor)
    assert after.total_requested == 2  # once it has ended: dominance_timeseries and dominance_crossover, once


def freshness_on(months: list[str], as_of: str, tmp_path) -> dg.AssetCheckEvaluation:
    """The freshness check on an instance that records `months` of dominance_indices as materialized."""
    instance = dg.DagsterInstance.ephemeral()
    for key in months:
        instance.report_runless_asset_event(dg.AssetMaterialization("dominance_indices", partition=key))
    return freshness_at(build_definitions(tmp_path, SAMPLE_DIR), instance, as_of)


def test_freshness_as_of_keeps_its_utc_offset_and_reads_a_time_without_one_as_utc(tmp_path):
    # 2027-01-03 01:30 at +02:00 is 23:30 UTC on the 2nd: 2026-12's deadline (the 3rd, 00:00 UTC) has not passed,
    # so 2026-11 is due, and it is there. Read as 01:30 UTC it would be past the deadline, with 2026-12 missing.
    east = freshness_on(["2026-11-01"], "2027-01-03T01:30:00+02:00", tmp_path)
    assert east.passed, east.description
    assert east.metadata["due_month"].value == "2026-11"
    assert east.metadata["as_of"].value == "2027-01-03T01:30:00+02:00"
    # Without an offset the time is UTC: 2026-06-03 00:00 is May's deadline, May is due and missing.
    naive = freshness_on(["2026-04-01"], "2026-06-03T00:00:00", tmp_path)
    assert not naive.passed
    assert naive.metadata["due_month"].value == "2026-05"
    assert naive.metadata["as_of"].value == "2026-06-03T00:00:00+00:00"


def test_the_freshness_metadata_gives_the_due_months_deadline_and_says_none_without_any_month(tmp_path):
    empty = freshness_on([], "2026-08-10T12:00:00Z", tmp_path)
    assert not empty.passed
    assert empty.metadata["latest_month"].value == "none"
    assert empty.metadata["missing_months"].value == ["2026-07"]
    # 2026-07 is due by 2026-08-03 00:00 UTC; the latest month, 2026-05, had 2026-06-03 as its deadline
    late = freshness_on(["2026-05-01"], "2026-08-10T12:00:00Z", tmp_path)
    assert late.metadata["deadline"].value == dt.datetime(2026, 8, 3, tzinfo=UTC).timestamp()
    assert empty.metadata["deadline"].value == dt.datetime(2026, 8, 3, tzinfo=UTC).timestamp()


def test_an_empty_as_of_judges_freshness_now(tmp_path):
    # The launchpad's as_of left as "" (a cleared field) means now, like no as_of at all, rather than a crash.
    for as_of in ("", None):
        instance = dg.DagsterInstance.ephemeral()
        config = {"as_of": as_of} if as_of is not None else {}
        result = build_definitions(tmp_path, SAMPLE_DIR).resolve_job_def("freshness_job").execute_in_process(
            instance=instance, run_config={"ops": {FRESH_OP: {"config": config}}}
        )
        [ev] = result.get_asset_check_evaluations()
        judged = dt.datetime.fromisoformat(ev.metadata["as_of"].value)
        assert abs(judged - dt.datetime.now(UTC)) < dt.timedelta(minutes=1)
        assert not ev.passed  # no month at all


def test_the_series_is_not_requested_again_while_its_refresh_is_running(tmp_path):
    # A month of indices changed while a refresh of the series was already running (launched from the UI, or by
    # the previous tick): no second refresh is queued behind it; once it has ended, none is owed either.
    from dagster._core.storage.dagster_run import DagsterRunStatus

    definitions = build_definitions(tmp_path, SAMPLE_DIR)
    instance = dg.DagsterInstance.ephemeral()
    first = dg.evaluate_automation_conditions(defs=definitions, instance=instance)
    instance.report_runless_asset_event(dg.AssetMaterialization("dominance_indices", partition=SAMPLE_KEY))
    refresh = instance.create_run_for_job(
        job_def=definitions.resolve_job_def("timeseries_job"), status=DagsterRunStatus.STARTED, asset_selection=frozenset(TIMESERIES)
    )
    during = dg.evaluate_automation_conditions(defs=definitions, instance=instance, cursor=first.cursor)
    assert during.total_requested == 0
    instance.report_run_canceled(refresh)  # it ended without materializing: the new month is still owed a refresh
    after = dg.evaluate_automation_conditions(defs=definitions, instance=instance, cursor=during.cursor)
    assert {key for key in TIMESERIES if after.get_num_requested(key)} == TIMESERIES


def test_months_run_from_2024_07_to_the_last_complete_month():
    from dominance_pipeline.defs.partitions import require_partition

    today = dt.datetime.now(UTC).date()
    this_month = today.replace(day=1)
    last_complete = (this_month - dt.timedelta(days=1)).replace(day=1)
    assert require_partition("2024-07-01") == "2024-07-01"
    assert require_partition(last_complete.isoformat()) == last_complete.isoformat()
    expected = f"months run from 2024-07 to {last_complete:%Y-%m} (the last complete month)"
    for refused in ("2024-06-01", this_month.isoformat()):
        with pytest.raises(ValueError) as err:
            require_partition(refused)
        assert str(err.value) == f"{refused[:7]} is not a partition: {expected}"


@pytest.mark.parametrize(("text", "key"), [("2026-05", "2026-05-01"), ("2026-05-01", "2026-05-01"), (" 2026-05\n", "2026-05-01"), ("2024-12", "2024-12-01")])
def test_a_month_is_yyyy_mm_or_its_first_day(text, key):
    from dominance_pipeline.defs.partitions import partition_key

    assert partition_key(text) == key


@pytest.mark.parametrize("text", ["2026-05-15", "2026-05-02", "2026-5", "202605", "2026-05-1", "20260501", "2026-W18-5", "2026-5-01"])
def test_a_day_other_than_the_first_is_not_a_month(text):
    # Taken as a key, 2026-05-15 would be refused as "2026-05 is not a partition", naming a valid month.
    from dominance_pipeline.defs.partitions import partition_key

    with pytest.raises(ValueError) as err:
        partition_key(text)
    assert str(err.value) == f"month must look like YYYY-MM (for example 2026-05), got {text!r}"


def test_the_refresh_sensor_targets_both_all_months_assets_every_minute_and_the_pool_sensor_every_30_seconds():
    # evaluate_automation_conditions (above) evaluates every condition in the definitions; under the daemon only
    # the assets the sensor targets are evaluated: both, or the crossover table would never follow a new month.
    refresh = defs.resolve_sensor_def("timeseries_refresh_sensor")
    assert refresh.asset_selection.resolve(defs.resolve_asset_graph()) == TIMESERIES
    assert (refresh.minimum_interval_seconds, refresh.default_status) == (60, dg.DefaultSensorStatus.RUNNING)
    wakeup = defs.resolve_sensor_def("pool_wakeup_sensor")
    assert (wakeup.minimum_interval_seconds, wakeup.default_status) == (30, dg.DefaultSensorStatus.RUNNING)
