"""The persistent instance's dagster.yaml, the team deployment example, and slots left by killed runs."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest
import yaml
from dagster._config import validate_config
from dagster._core.errors import DagsterInvalidConfigError
from dagster._core.instance.config import dagster_instance_config
from dagster._core.instance.ref import InstanceRef
from dagster._serdes.config_class import ConfigurableClassData, class_from_code_pointer

from dominance_pipeline import instance as inst
from dominance_pipeline.settings import PROJECT_ROOT

DEPLOY = PROJECT_ROOT / "deploy" / "dagster.postgres.yaml"


def test_a_new_home_gets_the_instance_dagster_reads_as_intended(tmp_path):
    home = inst.ensure_dagster_home(tmp_path / "home")
    assert inst.instance_status(home).endswith(f"v{inst.VERSION}, as written")
    with dg.DagsterInstance.from_config(str(home)) as instance:
        storage = instance.get_ref().storage_data
        assert storage.class_name == "DagsterSqliteStorage"
        assert yaml.safe_load(storage.config_yaml) == {"base_dir": str(home)}
        config = instance.get_concurrency_config()
        assert config.run_queue_config.max_concurrent_runs == 2
        # One run at a time per backfill, so its months run in calendar order (each reads the one before).
        assert config.run_queue_config.tag_concurrency_limits == [
            {"key": "dagster/backfill", "value": {"applyLimitPerUniqueValue": True}, "limit": 1}
        ]
        assert config.pool_config.default_pool_limit == 1
        assert config.pool_config.pool_granularity.value == "op"
        assert instance.run_retries_enabled and instance.run_retries_max_retries == 1
        assert instance.run_retries_retry_on_asset_or_op_failure is False  # a month blocked by its checks is not re-run
        assert instance.run_monitoring_enabled
        assert not instance.telemetry_enabled
    assert (home / "history" / "runs.db").is_file()


def test_an_edited_file_is_left_alone_and_an_unedited_old_one_is_upgraded(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    config = home / "dagster.yaml"
    config.write_text(inst.LEGACY_V1)  # what earlier releases wrote
    inst.ensure_dagster_home(home)
    assert config.read_text() == inst.render(home.resolve())

    edited = config.read_text().replace("max_concurrent_runs: 2", "max_concurrent_runs: 6")
    config.write_text(edited)
    inst.ensure_dagster_home(home)
    assert config.read_text() == edited
    assert f"edited after v{inst.VERSION}, left as it is" in inst.instance_status(home.resolve())

    config.write_text(inst.LEGACY_V1 + "# my note\n")  # an edited v1: ours no longer
    inst.ensure_dagster_home(home)
    assert config.read_text().endswith("# my note\n")


def test_a_moved_home_is_rewritten_for_its_new_place_while_unedited(tmp_path):
    old = inst.ensure_dagster_home(tmp_path / "old")
    new = tmp_path / "new"
    shutil.move(old, new)
    assert str(old) in (new / "dagster.yaml").read_text()
    inst.ensure_dagster_home(new)
    assert (new / "dagster.yaml").read_text() == inst.render(new.resolve())


def validate_instance_file(folder: Path, filename: str) -> list[str]:
    """Load a dagster.yaml the way DagsterInstance does, without connecting to anything: the top-level schema,
    then every configurable class it names (storage, launcher, coordinator...) against that class's own schema."""
    dagster_instance_config(str(folder), filename)
    checked = []
    ref = InstanceRef.from_dir(str(folder), config_filename=filename)
    for name, data in ref._asdict().items():
        if isinstance(data, ConfigurableClassData):
            klass = class_from_code_pointer(data.module_name, data.class_name)
            result = validate_config(klass.config_type(), yaml.safe_load(data.config_yaml) or {})
            assert result.success, f"{name} ({data.class_name}): {[e.message for e in result.errors]}"
            checked.append(data.class_name)
    return checked


def test_the_postgres_and_kubernetes_example_is_a_valid_instance(tmp_path):
    shutil.copy(DEPLOY, tmp_path / "dagster.yaml")
    checked = validate_instance_file(tmp_path, "dagster.yaml")
    assert {"DagsterPostgresStorage", "PostgresRunStorage", "K8sRunLauncher", "QueuedRunCoordinator"} <= set(checked)
    cfg = yaml.safe_load(DEPLOY.read_text())
    local = yaml.safe_load(inst.render(tmp_path))
    # A team keeps the same run semantics: the pool limit and the retry rule carry over.
    assert cfg["concurrency"]["pools"] == local["concurrency"]["pools"]
    assert cfg["run_retries"] == local["run_retries"]


@pytest.mark.parametrize(
    ("broken", "error"),
    [
        (("concurrency", "runs", "max_concurent_runs"), DagsterInvalidConfigError),  # a misspelt key
        (("run_launcher", "config", "job_namespce"), AssertionError),  # a misspelt key of the launcher's own config
    ],
)
def test_the_validation_catches_a_misspelt_key(tmp_path, broken, error):
    cfg = yaml.safe_load(DEPLOY.read_text())
    *path, key = broken
    node = cfg
    for part in path:
        node = node[part]
    node[key] = 3
    (tmp_path / "dagster.yaml").write_text(yaml.safe_dump(cfg))
    with pytest.raises(error):
        validate_instance_file(tmp_path, "dagster.yaml")


def test_the_local_file_is_valid_the_same_way(tmp_path):
    home = inst.ensure_dagster_home(tmp_path / "home")
    assert "DagsterSqliteStorage" in validate_instance_file(home, "dagster.yaml")


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_slot_held_by_a_killed_cli_run_is_released_and_a_live_one_is_kept(tmp_path):
    home = inst.ensure_dagster_home(tmp_path / "home")
    with dg.DagsterInstance.from_config(str(home)) as instance:
        storage = instance.event_log_storage
        storage.set_concurrency_slots("hf_api", 1)
        tags = inst.cli_run_tags()
        killed = instance.create_run_for_job(dg.GraphDefinition("g").to_job(), tags={**tags, inst.CLI_PID_TAG: str(dead_pid())})
        instance.report_run_canceling(killed)  # any in-progress status: the run never ended
        assert storage.claim_concurrency_slot("hf_api", killed.run_id, "raw_hub_listings").is_claimed
        assert storage.get_concurrency_info("hf_api").active_run_ids == {killed.run_id}

        alive = instance.create_run_for_job(dg.GraphDefinition("g").to_job(), tags=tags)  # this very process
        instance.report_run_canceling(alive)
        notes = inst.release_orphaned_slots(instance)
        assert len(notes) == 1 and killed.run_id in notes[0] and "was killed" in notes[0]
        assert storage.get_concurrency_info("hf_api").active_run_ids == set()
        assert instance.get_run_by_id(killed.run_id).status == dg.DagsterRunStatus.FAILURE

        assert storage.claim_concurrency_slot("hf_api", alive.run_id, "raw_hub_listings").is_claimed
        assert inst.release_orphaned_slots(instance) == []  # its process is alive: the slot is in use
        assert storage.get_concurrency_info("hf_api").active_run_ids == {alive.run_id}
        assert inst.busy_pools(instance) == [
            f"the hf_api pool is busy (limit 1, held by run {alive.run_id}): this run's hf_api step waits for it"
        ]



@pytest.fixture
def stalled(tmp_path):
    """An instance whose hf_api slot is free while run-b's step waits for it, handed nothing: run-b found the
    slot taken, run-a freed it, then run-b queued its step (the order two processes can interleave in);
    Dagster hands a freed slot only to steps queued before it was freed."""
    home = inst.ensure_dagster_home(tmp_path / "home")
    with dg.DagsterInstance.from_config(str(home)) as instance:
        storage = instance.event_log_storage
        storage.set_concurrency_slots("hf_api", 1)
        assert storage.claim_concurrency_slot("hf_api", "run-a", "raw_hub_listings").is_claimed
        assert not storage.has_unassigned_slots("hf_api")  # what run-b reads first
        storage.free_concurrency_slot_for_step("run-a", "raw_hub_listings")
        storage.add_pending_step("hf_api", "run-b", "raw_hub_listings", should_assign=False)
        yield instance


def test_a_step_queued_just_after_the_slot_was_freed_is_woken(stalled):
    storage = stalled.event_log_storage
    for _ in range(3):  # the slot is free, yet the waiter never gets it by asking
        assert not storage.claim_concurrency_slot("hf_api", "run-b", "raw_hub_listings").is_claimed
    assert storage.get_concurrency_info("hf_api").active_slot_count == 0

    assert inst.wake_stalled_steps(stalled) == ["hf_api"]
    assert storage.claim_concurrency_slot("hf_api", "run-b", "raw_hub_listings").is_claimed
    assert inst.wake_stalled_steps(stalled) == []

    # The limit still holds: a step queued behind the holder is not woken.
    assert not storage.claim_concurrency_slot("hf_api", "run-c", "raw_hub_listings").is_claimed
    assert inst.wake_stalled_steps(stalled) == []
    assert not storage.claim_concurrency_slot("hf_api", "run-c", "raw_hub_listings").is_claimed
    storage.free_concurrency_slot_for_step("run-b", "raw_hub_listings")  # the ordinary hand-over
    assert storage.claim_concurrency_slot("hf_api", "run-c", "raw_hub_listings").is_claimed


def test_a_stalled_step_is_woken_in_the_background_while_a_run_goes_on(stalled):
    storage = stalled.event_log_storage
    with inst.waking_stalled_steps(stalled, every=0.05):
        deadline = time.monotonic() + 10
        while not storage.claim_concurrency_slot("hf_api", "run-b", "raw_hub_listings").is_claimed:
            assert time.monotonic() < deadline, "the stalled step was never woken"
            time.sleep(0.05)
    assert storage.get_concurrency_info("hf_api").active_run_ids == {"run-b"}


def test_under_the_daemon_the_sensor_wakes_a_stalled_step(stalled):
    from dominance_pipeline.defs.schedules import pool_wakeup_sensor

    tick = pool_wakeup_sensor(dg.build_sensor_context(instance=stalled))
    assert tick.skip_message == "handed a free slot to a waiting step in hf_api"
    assert stalled.event_log_storage.claim_concurrency_slot("hf_api", "run-b", "raw_hub_listings").is_claimed
    assert pool_wakeup_sensor(dg.build_sensor_context(instance=stalled)).skip_message == "no step waits for a free pool slot"


def test_the_status_line_says_how_the_file_relates_to_the_template(tmp_path):
    import hashlib

    home = tmp_path / "home"
    home.mkdir()
    config = home / "dagster.yaml"
    assert inst.instance_status(home) == f"{config}: missing"

    def header(version: int, body: str) -> str:  # the header as the module documents it, computed here
        return f"# dominance_pipeline instance config v{version} sha256={hashlib.sha256(body.encode()).hexdigest()}\n"

    now, old = inst.VERSION, inst.VERSION - 1
    where = f"; the current template (v{now}) is in dominance_pipeline/instance.py"
    body = "telemetry:\n  enabled: false\n"
    config.write_text(header(old, body) + body)  # an unedited file of the previous template
    assert inst.instance_status(home) == f"{config}: v{old}, will be upgraded to v{now}"
    config.write_text(header(old, body) + body + "# my note\n")  # edited after it: the current template is named
    assert inst.instance_status(home) == f"{config}: edited after v{old}, left as it is{where}"
    config.write_text(body)  # no header at all
    assert inst.instance_status(home) == f"{config}: not written by dominance_pipeline, left as it is{where}"
    config.write_text(inst.render(home) + "# my note\n")  # edited after the current one: nothing newer to point at
    assert inst.instance_status(home) == f"{config}: edited after v{now}, left as it is"


def test_without_dagster_home_the_instance_goes_under_the_data_dir_and_is_exported(tmp_path, monkeypatch):
    import os

    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    monkeypatch.setenv("DOMINANCE_DATA_DIR", str(tmp_path / "data"))
    home = inst.ensure_dagster_home()
    assert home == (tmp_path / "data" / "dagster_home").resolve()
    assert os.environ["DAGSTER_HOME"] == str(home)  # what the CLI's DagsterInstance.get() then opens
    with dg.DagsterInstance.get() as instance:
        assert instance.root_directory == str(home)


def held_slot(instance, tags=None):
    """A run (in progress: CANCELING) holding the hf_api slot."""
    run = instance.create_run_for_job(dg.GraphDefinition("g").to_job(), tags=tags or {})
    instance.report_run_canceling(run)
    assert instance.event_log_storage.claim_concurrency_slot("hf_api", run.run_id, "raw_hub_listings").is_claimed
    return run


def test_a_slot_of_a_cli_run_on_another_host_is_kept_even_if_its_pid_is_dead_here(tmp_path):
    home = inst.ensure_dagster_home(tmp_path / "home")
    with dg.DagsterInstance.from_config(str(home)) as instance:
        instance.event_log_storage.set_concurrency_slots("hf_api", 1)
        elsewhere = held_slot(instance, {inst.CLI_HOST_TAG: "another-host.invalid", inst.CLI_PID_TAG: str(dead_pid())})
        assert inst.release_orphaned_slots(instance) == []  # its process may be alive on its own host
        assert instance.event_log_storage.get_concurrency_info("hf_api").active_run_ids == {elsewhere.run_id}
        assert instance.get_run_by_id(elsewhere.run_id).status == dg.DagsterRunStatus.CANCELING


def test_a_slot_of_a_cli_run_whose_pid_now_belongs_to_a_newer_process_is_released(tmp_path):
    home = inst.ensure_dagster_home(tmp_path / "home")
    with dg.DagsterInstance.from_config(str(home)) as instance:
        instance.event_log_storage.set_concurrency_slots("hf_api", 1)
        run = instance.create_run_for_job(dg.GraphDefinition("g").to_job(), tags={inst.CLI_HOST_TAG: inst.cli_run_tags()[inst.CLI_HOST_TAG]})
        started = dg.DagsterEvent(event_type_value=dg.DagsterEventType.RUN_START.value, job_name=run.job_name)
        instance.report_dagster_event(started, run.run_id, timestamp=time.time() - 60)  # the run started a minute ago
        assert instance.event_log_storage.claim_concurrency_slot("hf_api", run.run_id, "raw_hub_listings").is_claimed
        newer = subprocess.Popen(["sleep", "30"])  # alive, but started now: the run's pid, reused by another process
        try:
            instance.add_run_tags(run.run_id, {inst.CLI_PID_TAG: str(newer.pid)})
            assert instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.STARTED
            notes = inst.release_orphaned_slots(instance)
        finally:
            newer.kill()
            newer.wait()
        assert notes == [
            f"released the hf_api slot held by run {run.run_id}, which was killed (its process {newer.pid} is gone; marked failed)"
        ]
        assert instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.FAILURE


def test_a_slot_held_by_a_run_that_ended_or_was_deleted_is_released(tmp_path):
    home = inst.ensure_dagster_home(tmp_path / "home")
    with dg.DagsterInstance.from_config(str(home)) as instance:
        storage = instance.event_log_storage
        storage.set_concurrency_slots("hf_api", 2)
        ended = held_slot(instance)
        instance.report_run_failed(instance.get_run_by_id(ended.run_id))
        assert storage.claim_concurrency_slot("hf_api", "deleted-run", "raw_hub_listings").is_claimed  # no such run
        assert storage.get_concurrency_info("hf_api").active_run_ids == {ended.run_id, "deleted-run"}
        assert sorted(inst.release_orphaned_slots(instance)) == sorted([
            f"released the hf_api slot held by run {ended.run_id}, which had ended (FAILURE)",
            "released the hf_api slot held by run deleted-run, which no longer exists",
        ])
        assert storage.get_concurrency_info("hf_api").active_run_ids == set()


def test_no_pool_is_woken_when_no_step_waits(tmp_path):
    from dominance_pipeline.defs.schedules import pool_wakeup_sensor

    home = inst.ensure_dagster_home(tmp_path / "home")
    with dg.DagsterInstance.from_config(str(home)) as instance:
        instance.event_log_storage.set_concurrency_slots("hf_api", 1)  # a free slot, nobody queued for it
        assert inst.wake_stalled_steps(instance) == []
        tick = pool_wakeup_sensor(dg.build_sensor_context(instance=instance))
        assert tick.skip_message == "no step waits for a free pool slot"
