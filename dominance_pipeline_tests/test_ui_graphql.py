"""The UI's launch of a month, at the GraphQL level, against a real `dagster dev` (the browser version: make e2e).

Why `dagster dev` over HTTP rather than dagster_graphql's in-process context: the point is what a user of
`make ui` gets, so the test goes through the same webserver, the same instance file (queued runs, the
daemon that dequeues them, the hf_api pool) and the same run launcher; a run launched here runs in its own
process exactly as one launched from the browser. It costs ~20 s, most of it the month itself.
"""

from __future__ import annotations

import pytest

from dominance_pipeline_tests.ui import DagsterDev, asset_checks, check_executions, free_port, graphql, launch_materialization, wait_run

MONTHLY = ["raw_hub_listings", "origin_tagged_models", "monthly_aggregates", "dominance_indices", "monthly_leaderboard"]
REPO = '{repositoryName: "__repository__", repositoryLocationName: "dominance_pipeline"}'
AUTOMATION = f"""
{{ schedulesOrError(repositorySelector: {REPO}) {{ ... on Schedules {{ results {{ name scheduleState {{ status }} }} }} }}
   sensorsOrError(repositorySelector: {REPO}) {{ ... on Sensors {{ results {{ name sensorState {{ status }} }} }} }} }}
"""


@pytest.fixture(scope="module")
def dev(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("dagster_dev")
    with DagsterDev(tmp / "home", tmp / "data", free_port(), tmp / "dagster_dev.log") as server:
        server.wait_ready()
        yield server


def test_the_ui_shows_every_asset_with_its_checks(dev):
    checks = asset_checks(dev.url)
    assert set(checks) == {*MONTHLY, "dominance_timeseries", "dominance_crossover"}
    for asset in MONTHLY:
        assert any(checks[asset].values()), f"{asset} has no blocking check"
    assert checks["dominance_timeseries"]["dominance_indices_fresh"] is False  # freshness warns, it does not block


def test_the_instance_ships_the_live_schedule_stopped_and_the_local_automation_running(dev):
    data = graphql(dev.url, AUTOMATION)
    schedules = {s["name"]: s["scheduleState"]["status"] for s in data["schedulesOrError"]["results"]}
    sensors = {s["name"]: s["sensorState"]["status"] for s in data["sensorsOrError"]["results"]}
    assert schedules == {"monthly_live_schedule": "STOPPED", "freshness_schedule": "RUNNING"}
    assert sensors == {"timeseries_refresh_sensor": "RUNNING", "pool_wakeup_sensor": "RUNNING"}


def test_a_month_launched_as_the_ui_does_succeeds_with_every_gate_passed(dev):
    checks = {a: [c for c, blocking in asset_checks(dev.url)[a].items() if blocking] for a in MONTHLY}
    run_id = launch_materialization(dev.url, MONTHLY, checks, "2026-05-01")  # default run config: local, the bundled sample
    assert wait_run(dev.url, run_id, timeout=300) == "SUCCESS", f"see {dev.log}"
    for asset, names in checks.items():
        for name in names:
            latest = check_executions(dev.url, asset, name)[0]
            assert (latest["runId"], latest["partition"], latest["status"]) == (run_id, "2026-05-01", "SUCCEEDED"), (asset, name)
