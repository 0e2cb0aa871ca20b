"""Running a job of the code location in this process without keeping its outputs in memory.

`JobDefinition.execute_in_process` (Dagster 1.13) always captures every step's returned value for the
result's `output_for_node`: a month's raw listing and tagged models (GBs at Hub scale) stay referenced
until the run ends and then by the result, so one month peaks higher than its work needs and a backfill
in one process grows month after month. `dg.execute_job` runs the same plan in this process too (the code
location's executor is `in_process_executor`) and keeps no output: each value lives in the warehouse (the
IO manager) and in memory only while a step uses it. It wants a reconstructable job, so `job_for` rebuilds
the job from build_definitions' arguments (JSON values, recorded on the run as its code origin).
Partitions a step has just published are handed to the next steps in memory (storage.handoff) until the
run ends.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import dagster as dg

from dominance_pipeline.instance import waking_stalled_steps
from dominance_pipeline.quality import suites
from dominance_pipeline.storage import handoff


def job_for(job_name: str, data_dir: str | None = None, snapshot_dir: str | None = None,
            hub_endpoint: str | None = None) -> dg.JobDefinition:
    """The reconstructor `run_job` points Dagster at: the named job of build_definitions(...)."""
    from dominance_pipeline.definitions import build_definitions

    return build_definitions(data_dir, snapshot_dir, hub_endpoint).resolve_job_def(job_name)


def run_job(
    job_name: str,
    instance: dg.DagsterInstance,
    *,
    partition_key: str | None = None,
    run_config: Mapping[str, object] | None = None,
    tags: Mapping[str, str] | None = None,
    data_dir: str | Path | None = None,
    snapshot_dir: str | Path | None = None,
    hub_endpoint: str | None = None,
    warm_up_checks: bool = False,
) -> dg.JobExecutionResult:
    """Run `job_name` of build_definitions(data_dir, snapshot_dir, hub_endpoint) in this process, recorded in
    `instance`, for `partition_key` if given; never raises on a step failure (read `success` and the events).

    With `warm_up_checks`, GX is imported in the background from the run's first step on, for a run whose
    checks execute here (quality.suites.warm_up_later): Dagster loads the job up to four times before its first
    step, altering `sys.path` each time, which such an import must not meet; nor is a job loaded while one
    runs (`warmed_up`).
    The result carries the run's events, not its outputs (read those from the warehouse).
    """
    location = {
        "job_name": job_name,
        "data_dir": None if data_dir is None else str(data_dir),
        "snapshot_dir": None if snapshot_dir is None else str(snapshot_dir),
        "hub_endpoint": hub_endpoint,
    }
    suites.warmed_up()
    job = dg.build_reconstructable_job(__name__, job_for.__name__, reconstructable_kwargs=location)
    if warm_up_checks:
        suites.warm_up_later()
    run_tags = dict(tags or {})
    if partition_key is not None:
        run_tags.update(partition_tags(job.get_definition(), partition_key))
    began = time.time()
    try:
        with signals_seen() as seen, waking_stalled_steps(instance):
            result = dg.execute_job(job, instance=instance, run_config=run_config, tags=run_tags, raise_on_error=False)
    except KeyboardInterrupt:
        _cancel_unstarted(instance, run_tags, began)
        raise
    finally:
        handoff.forget()
    if seen() & STOP_SIGNALS:
        _interrupted.add(result.run_id)
    return result


def _cancel_unstarted(instance: dg.DagsterInstance, tags: Mapping[str, str], since: float) -> None:
    """Mark canceled the run this call created if Ctrl-C came before it started: left NOT_STARTED, the UI
    would list it as pending for good."""
    import datetime as dt

    created = dt.datetime.fromtimestamp(since, dt.UTC)
    status = [dg.DagsterRunStatus.NOT_STARTED]
    for record in instance.get_run_records(filters=dg.RunsFilter(tags=dict(tags), statuses=status, created_after=created)):
        instance.report_run_canceled(record.dagster_run, message="interrupted (Ctrl-C) before it started")


STOP_SIGNALS = frozenset({signal.SIGINT, signal.SIGTERM})
_interrupted: set[str] = set()


def interrupted(run_id: str) -> bool:
    """Whether Ctrl-C (or SIGTERM) reached this process while `run_job` ran run `run_id`, even if the run
    finished: Dagster holds a SIGINT back while it runs a job and raises it in the step then running, but
    one that arrives as the run starts or ends, between steps, is dropped when the run returns."""
    return run_id in _interrupted


@contextmanager
def signals_seen() -> Iterator[Callable[[], set[int]]]:
    """The numbers of the signals this process receives in the block (Python writes each to the wakeup fd,
    whichever handler then takes it); nothing is seen off the main thread, where no handler runs."""
    if threading.current_thread() is not threading.main_thread():
        yield set
        return
    read_end, write_end = os.pipe()
    os.set_blocking(read_end, False)
    os.set_blocking(write_end, False)
    seen: set[int] = set()
    open_ = [True]

    def drain() -> set[int]:
        try:
            while open_[0] and (chunk := os.read(read_end, 512)):
                seen.update(chunk)
        except BlockingIOError:
            pass
        return seen

    previous = signal.set_wakeup_fd(write_end, warn_on_full_buffer=False)
    try:
        yield drain
    finally:
        signal.set_wakeup_fd(previous)
        drain()
        open_[0] = False
        os.close(read_end)
        os.close(write_end)


def partition_tags(job: dg.JobDefinition, key: str) -> Mapping[str, str]:
    """The run tags that make a run one partition's (`dagster/partition`, and the partition set the UI
    groups a job's runs by), as execute_in_process sets them; a key outside the job's partitions is refused
    here rather than failing inside the run."""
    partitions = job.partitions_def
    if partitions is None or job.partitioned_config is None:
        raise ValueError(f"{job.name} is not partitioned; it has no partition {key!r}")
    if not partitions.has_partition_key(key):
        raise ValueError(f"{key!r} is not a partition of {job.name}")
    return job.partitioned_config.get_tags_for_partition_key(key, job_name=job.name)
