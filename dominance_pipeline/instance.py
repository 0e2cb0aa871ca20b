"""The persistent Dagster instance under data/dagster_home, shared by the CLI, `make ui` and the schedule.

`ensure_dagster_home` is the one place its dagster.yaml comes from (`make instance`, which `make ui` and
`make demo` run, and every CLI command that starts a run). The file is written when missing and upgraded
when this module's template changes, but only while nobody has edited it: its first line records the
template's version and a checksum of the rest, and a file whose checksum no longer matches belongs to its
user and is left alone (`instance_status` says so, and what the current template would be).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from dominance_pipeline.settings import paths

if TYPE_CHECKING:
    from dagster._utils.concurrency import ConcurrencyKeyInfo

VERSION = 3

# Version 1, written by earlier releases; recognised so that an unedited copy is upgraded.
LEGACY_V1 = """\
# Written by dominance_pipeline (instance.py) when missing; edit freely, it is not overwritten.
telemetry:
  enabled: false
"""

TEMPLATE = """\
# Edit freely: once edited (the checksum above no longer matches), this file is never rewritten.
# A team that outgrows one machine: see deploy/dagster.postgres.yaml and the README (Operations).

# Runs, event logs and schedule state in SQLite files under this folder, so history survives restarts.
storage:
  sqlite:
    base_dir: {home}

concurrency:
  runs:
    # Runs waiting in the queue start two at a time: a month of the full Hub (~3 million models) keeps
    # one core busy and a few GB in memory, and this machine class has two cores.
    max_concurrent_runs: 2
    tag_concurrency_limits:
      # One run at a time per backfill, in the order Dagster submits them (calendar order): a month's
      # indices and leaderboard read the previous month's listing and tagged models from the warehouse.
      - key: dagster/backfill
        value:
          applyLimitPerUniqueValue: true
        limit: 1
  pools:
    # Every pool without an explicit limit gets 1. The only pool is hf_api (raw_hub_listings): one
    # listing of the Hub at a time, from any number of runs, so parallel backfill runs share the
    # Hub's rate limit instead of each assuming it has it alone. "op" granularity: only that step
    # waits for the slot, the other steps of the months in flight go on (and in-process CLI runs obey
    # it too). Raise it in the UI (Deployment > Concurrency) or here.
    granularity: op
    default_limit: 1

# A run whose worker crashed (killed, out of memory, machine restarted) is retried once. A run that
# failed because a step failed is not: a month blocked by its checks would fail the same way again,
# and transient Hub errors are already retried inside the step (huggingface_hub's backoff).
run_retries:
  enabled: true
  max_retries: 1
  retry_on_asset_or_op_failure: false

run_monitoring:
  enabled: true
  # Concurrency slots of a run that ended without releasing them (a killed worker) are freed.
  free_slots_after_run_end_seconds: 60

telemetry:
  enabled: false
nux:
  enabled: false
"""

HEADER = re.compile(r"^# dominance_pipeline instance config v(\d+) sha256=([0-9a-f]{64})$")


def _checksum(body: str) -> str:
    return hashlib.sha256(body.encode()).hexdigest()


def render(home: Path) -> str:
    """The current dagster.yaml for an instance at `home`: a header line with version and checksum, then the body."""
    body = TEMPLATE.format(home=json.dumps(str(home)))  # a JSON string is a YAML string
    return f"# dominance_pipeline instance config v{VERSION} sha256={_checksum(body)}\n{body}"


def classify(text: str) -> tuple[str, int | None]:
    """('ours', version) for an unedited file this module wrote, ('edited', version or None) otherwise."""
    if text == LEGACY_V1:
        return "ours", 1
    first, _, body = text.partition("\n")
    match = HEADER.match(first)
    if match and _checksum(body) == match.group(2):
        return "ours", int(match.group(1))
    return "edited", int(match.group(1)) if match else None


def write_config(home: Path) -> str:
    """Write or upgrade home/dagster.yaml unless its user edited it; return what happened."""
    config = home / "dagster.yaml"
    wanted = render(home)
    if not config.exists():
        config.write_text(wanted)
        return "written"
    text = config.read_text()
    if text == wanted:
        return "current"
    kind, version = classify(text)
    if kind == "ours":  # an older template, or the same one rendered for a folder that has since moved
        tmp = config.with_name(".dagster.yaml.tmp")
        tmp.write_text(wanted)
        os.replace(tmp, config)
        return f"upgraded from v{version}"
    return "edited"


def instance_status(home: Path) -> str:
    """One line on home/dagster.yaml: current, or edited by its user (and how it relates to the template)."""
    config = home / "dagster.yaml"
    if not config.exists():
        return f"{config}: missing"
    text = config.read_text()
    if text == render(home):
        return f"{config}: v{VERSION}, as written"
    kind, version = classify(text)
    if kind == "edited":
        since = f"edited after v{version}" if version else "not written by dominance_pipeline"
        hint = "" if version == VERSION else f"; the current template (v{VERSION}) is in dominance_pipeline/instance.py"
        return f"{config}: {since}, left as it is{hint}"
    return f"{config}: v{version}, will be upgraded to v{VERSION}"


def ensure_dagster_home(home: str | Path | None = None) -> Path:
    """Make sure DAGSTER_HOME points at an existing folder with a dagster.yaml; return it.

    An explicit `home` wins, then an existing $DAGSTER_HOME, then <data>/dagster_home.
    """
    chosen = Path(home or os.environ.get("DAGSTER_HOME") or paths().dagster_home).resolve()
    chosen.mkdir(parents=True, exist_ok=True)
    write_config(chosen)
    os.environ["DAGSTER_HOME"] = str(chosen)
    _create_storage(chosen)
    return chosen


def _create_storage(home: Path) -> None:
    """Create the instance's SQLite storage (if it is new) while holding a lock on the folder.

    Two runs started at once on a new DAGSTER_HOME would both create the schemas and one would fail
    (`table alembic_version already exists`); under the lock the first creates them and the second finds
    them. Opening an existing instance only checks its schema version.
    """
    import fcntl

    import dagster as dg

    with open(home / ".storage.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            dg.DagsterInstance.from_config(str(home)).dispose()
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


# Tags on every run the CLI executes in its own process, so a later command can tell whether that
# process is still alive (nothing else watches an in-process run: the daemon's run monitoring only knows
# the runs it launched).
CLI_HOST_TAG = "dominance/cli_host"
CLI_PID_TAG = "dominance/cli_pid"


def cli_run_tags() -> dict[str, str]:
    import socket

    return {CLI_HOST_TAG: socket.gethostname(), CLI_PID_TAG: str(os.getpid())}


def _cli_process_gone(record) -> bool:  # record: dagster RunRecord
    """True if the run was executed in-process by a CLI on this host whose process no longer exists."""
    import socket

    import psutil

    run = record.dagster_run
    pid = run.tags.get(CLI_PID_TAG)
    if run.tags.get(CLI_HOST_TAG) != socket.gethostname() or not pid:
        return False
    try:
        started = psutil.Process(int(pid)).create_time()
    except (psutil.NoSuchProcess, ValueError):
        return True
    return started > (record.start_time or record.create_timestamp.timestamp()) + 1  # the pid was reused since


def _pool_infos(storage) -> Iterator[tuple[str, ConcurrencyKeyInfo]]:  # storage: an EventLogStorage
    """Each concurrency pool and its ConcurrencyKeyInfo; none where the storage keeps no pool limits."""
    if storage.supports_global_concurrency_limits:
        for pool in storage.get_concurrency_keys():
            yield pool, storage.get_concurrency_info(pool)


def release_orphaned_slots(instance) -> list[str]:  # instance: dg.DagsterInstance
    """Free concurrency-pool slots still held by runs that can no longer release them; say which.

    With the hf_api pool limited to 1, a CLI run killed while listing the Hub (kill -9, out of memory)
    would keep the slot forever and every later run would wait for it without a word. A slot is
    released when its run has ended (the daemon does that too, after free_slots_after_run_end_seconds,
    when it runs) or when it is a CLI run of this host whose process is gone; such a run is also marked
    failed, so the UI stops showing it as running.
    """
    notes: list[str] = []
    storage = instance.event_log_storage
    for pool, info in _pool_infos(storage):
        for run_id in sorted(info.active_run_ids):
            record = instance.get_run_record_by_id(run_id)
            run = record.dagster_run if record else None
            if run is None:
                why = "no longer exists"
            elif run.is_finished:
                why = f"had ended ({run.status.value})"
            elif _cli_process_gone(record):
                why = f"was killed (its process {run.tags.get(CLI_PID_TAG)} is gone; marked failed)"
                instance.report_run_failed(run, f"its process ({run.tags.get(CLI_PID_TAG)}) is gone; {pool} slot released")
            else:
                continue
            storage.free_concurrency_slots_for_run(run_id)
            notes.append(f"released the {pool} slot held by run {run_id}, which {why}")
    return notes


def wake_stalled_steps(instance) -> list[str]:  # instance: dg.DagsterInstance
    """Hand free pool slots to the steps left waiting for them; return the pools where that was needed.

    Dagster 1.13's SQL storage lets a step take a free slot at once when it first asks, and otherwise
    queues it for the run that frees a slot to hand it on. The check and the queueing are two
    transactions: a slot freed between them is handed to nobody, and the queued step then waits forever,
    polling without sleeping. Two CLI months started at once met that on the hf_api pool (CI, 2026-11-30:
    one run still waiting after 10 minutes, its pool free, its step queued). A pool with a queued step and
    fewer steps assigned than slots gets its oldest queued step assigned, as the freeing run would have
    done; the slot rows still cap how many steps run at once.
    """
    storage = instance.event_log_storage
    assign = getattr(storage, "assign_pending_steps", None)
    if assign is None:
        return []
    woken = []
    for pool, info in _pool_infos(storage):
        if info.pending_step_count and info.assigned_step_count < info.slot_count:
            assign([pool])
            woken.append(pool)
    return woken


@contextmanager
def waking_stalled_steps(instance, every: float = 1.0) -> Iterator[None]:  # instance: dg.DagsterInstance
    """Run `wake_stalled_steps` every `every` seconds in a background thread while the block runs."""
    stop = threading.Event()

    def watch() -> None:
        while not stop.wait(every):
            try:
                wake_stalled_steps(instance)
            except Exception:  # noqa: BLE001 - a busy database is tried again at the next tick
                continue

    thread = threading.Thread(target=watch, name="pool-wakeups", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def busy_pools(instance) -> list[str]:  # instance: dg.DagsterInstance
    """One line per pool whose slots are all taken, naming the runs that hold them: a run about to start
    will wait there (silently, as far as Dagster's own log goes), so the CLI says so beforehand."""
    lines = []
    for pool, info in _pool_infos(instance.event_log_storage):
        if info.limit is not None and info.active_slot_count >= info.limit:
            holders = ", ".join(sorted(info.active_run_ids))
            lines.append(f"the {pool} pool is busy (limit {info.limit}, held by run {holders}): this run's {pool} step waits for it")
    return lines
