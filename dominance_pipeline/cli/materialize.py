"""`dominance-pipeline materialize --month YYYY-MM`: the whole chain for one month, through Dagster.

The run goes into the persistent instance (data/dagster_home), so it shows in `make ui` afterwards. After
a successful month it refreshes the time series over every materialized month (timeseries_job).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass

from dominance_pipeline.cli.errors import UserError
from dominance_pipeline.cli.render import KEY_COUNTRIES

SOURCES = ("local", "live", "archive")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("materialize", help="materialize the asset chain for one month and print its indices")
    p.add_argument("--month", required=True, help="the month, YYYY-MM (for example 2026-05)")
    p.add_argument("--source", default="local", choices=SOURCES, help="where the month-end listing comes from")
    p.add_argument("--snapshot", help="a hub-stats Parquet file standing for the month-end listing (local source)")
    p.add_argument("--endpoint", help="the Hub to call (live and archive sources; default $HF_ENDPOINT or https://huggingface.co)")
    p.add_argument("--max-snapshot-lag-days", type=int, metavar="N",
                   help="live source: how many days after the month ended the listing may be taken (default 7)")
    p.add_argument("--quiet", action="store_true", help="only warnings and the result")
    p.set_defaults(func=run)


@dataclass(frozen=True)
class StepFailure:
    step: str
    reason: str


def month_key(text: str) -> str:
    from dominance_pipeline.defs.partitions import partition_key, require_partition

    try:
        return require_partition(partition_key(text))
    except ValueError as exc:
        raise UserError(str(exc)) from None


def raw_config(args: argparse.Namespace) -> dict[str, object]:
    """The raw asset's run config; options that do not apply to the chosen source are a usage mistake."""
    source = args.source
    if args.snapshot and source != "local":
        raise UserError(f"--snapshot is for the local source; --source {source} does not read a file")
    if args.endpoint and source == "local":
        raise UserError("--endpoint is for the live and archive sources")
    if args.max_snapshot_lag_days is not None and source != "live":
        raise UserError("--max-snapshot-lag-days is for the live source")
    if args.max_snapshot_lag_days is not None and args.max_snapshot_lag_days < 0:
        raise UserError("--max-snapshot-lag-days must be 0 or more")
    from dominance_pipeline.cli.preflight import check_endpoint

    check_endpoint(args.endpoint, source)
    config: dict[str, object] = {"source": source}
    if args.snapshot:
        config["snapshot"] = args.snapshot
    if args.max_snapshot_lag_days is not None:
        config["max_snapshot_lag_days"] = args.max_snapshot_lag_days
    return config


def run(args: argparse.Namespace) -> int:
    raw = raw_config(args)
    key = month_key(args.month)
    from dominance_pipeline.cli.preflight import check_inputs, prepare_instance

    check_inputs()
    prepare_instance()
    log_level = "WARNING" if args.quiet else "INFO"
    result = execute(key, raw, log_level=log_level, endpoint=args.endpoint)
    status = report(result, key)
    if status == 0:
        status = refresh_timeseries(log_level)
    return status


def execute(key: str, raw: dict[str, object], log_level: str = "INFO", endpoint: str | None = None):  # -> dg.JobExecutionResult
    """Run monthly_job for partition `key` in the persistent instance; never raises on a step failure."""
    import dagster as dg

    from dominance_pipeline.cli.inprocess import run_job

    with dg.DagsterInstance.get() as instance:
        release_slots(instance)
        # The checks run in this process: GX imports while the raw listing is read.
        return run_job(
            "monthly_job", instance, partition_key=key, run_config=monthly_run_config(raw, log_level), tags=cli_run_tags(),
            hub_endpoint=endpoint, warm_up_checks=True,
        )


def release_slots(instance) -> None:
    """Free pool slots that killed runs still hold, and say on stderr which pools another run keeps busy."""
    from dominance_pipeline.instance import busy_pools, release_orphaned_slots

    for note in [*release_orphaned_slots(instance), *busy_pools(instance)]:
        print(note, file=sys.stderr)


def cli_run_tags(extra: dict[str, str] | None = None) -> dict[str, str]:
    from dominance_pipeline.instance import cli_run_tags as tags

    return {**tags(), **(extra or {})}


def monthly_run_config(raw: dict[str, object], log_level: str) -> dict[str, object]:
    """monthly_job's run config: the raw asset's source settings, and the CLI's one-line logger."""
    return {
        "ops": {"raw_hub_listings": {"config": raw}},
        "loggers": {"concise_console": {"config": {"log_level": log_level}}},
    }


def refresh_timeseries(log_level: str = "INFO") -> int:
    """Run timeseries_job (the series, crossover and chart over every materialized month); print where they are."""
    import dagster as dg

    from dominance_pipeline.cli.inprocess import run_job

    run_config = {"loggers": {"concise_console": {"config": {"log_level": log_level}}}}
    with dg.DagsterInstance.get() as instance:
        result = run_job("timeseries_job", instance, run_config=run_config)
    return report_series(result)


def report_series(result) -> int:
    """What timeseries_job did: where the series is, or what failed and which of its assets are stale."""
    for f in failed_checks(result, "WARN"):
        print_step("WARNING", f)
    if was_interrupted(result):
        print(f"INTERRUPTED the time series refresh: the months are materialized; dominance_timeseries and its chart are "
              f"refreshed by the next materialize or backfill, or timeseries_job in the UI (run {result.run_id})", file=sys.stderr)
        return 130
    if not result.success:
        for f in failures(result):
            print_step("FAILED", f)
        from dominance_pipeline.defs.timeseries import TIMESERIES_ASSETS

        done = {e.asset_key for e in result.get_asset_materialization_events()}
        stale = [a.key.to_user_string() for a in TIMESERIES_ASSETS if a.key not in done]
        # A failed blocking check leaves its asset written (for inspection) and stops what is downstream.
        print(f"the month is materialized; not refreshed: {', '.join(stale)} (run {result.run_id})", file=sys.stderr)
        return 1
    meta = next(e for e in result.get_asset_materialization_events() if e.asset_key.to_user_string() == "dominance_timeseries")
    m = meta.materialization.metadata
    print(f"Time series: {m['months'].value} month(s), {m['first_month'].value} to {m['last_month'].value}; chart {m['chart_file'].value}")
    return 0


def failed_checks(result, severity: str) -> list[StepFailure]:
    """Checks that failed at `severity` (ERROR or WARN), each with its description: which expectations failed."""
    out: list[StepFailure] = []
    for ev in result.get_asset_check_evaluations():
        if not ev.passed and ev.severity.value == severity:
            name = f"check {ev.asset_check_key.name} on {ev.asset_key.to_user_string()}"
            out.append(StepFailure(name, ev.description or "failed"))
    return out


INTERRUPTED = "interrupted (Ctrl-C or a stop signal) before the month was finished; run the month again"


def was_interrupted(result) -> bool:
    """Whether the user interrupted the run: Dagster turns SIGINT into a step error, or drops it when it
    arrives between steps (cli.inprocess notices those)."""
    from dominance_pipeline.cli.inprocess import interrupted

    if interrupted(result.run_id):
        return True
    for event in result.all_events:
        if event.event_type_value == "STEP_FAILURE":
            error = event.step_failure_data.error
            while error is not None:
                if error.cls_name == "DagsterExecutionInterruptedError":
                    return True
                error = error.cause
    return False


def failures(result) -> list[StepFailure]:
    """What went wrong, in the user's terms: the failing step (asset or check) and the innermost reason."""
    out = failed_checks(result, "ERROR")
    for event in result.all_events:
        if event.event_type_value != "STEP_FAILURE":
            continue
        error = event.step_failure_data.error
        while error is not None and error.cause is not None:
            error = error.cause
        if error is not None and error.cls_name == "DagsterExecutionInterruptedError":
            out.append(StepFailure(event.step_key, INTERRUPTED))
            continue
        reason = (error.message.strip() if error else "unknown error").splitlines()[0]
        if error is not None and f"{error.cls_name}: " in reason:
            reason = reason.split(f"{error.cls_name}: ", 1)[1]
        if "blocking asset check" in reason and out:
            continue
        out.append(StepFailure(event.step_key, reason))
    return out


def print_step(label: str, f: StepFailure) -> None:
    """`label step: first line of the reason`, then its other lines (one per failed expectation) indented."""
    first, *rest = f.reason.splitlines() or [""]
    print(f"{label} {f.step}: {first}", file=sys.stderr)
    for line in rest:
        print(f"    {line}", file=sys.stderr)


def print_outcome(result, key: str) -> list[StepFailure]:
    """A month's warnings and, if its run failed, what failed and what it left unmaterialized (stderr);
    returns the failures (empty when the run succeeded)."""
    for f in failed_checks(result, "WARN"):
        print_step("WARNING", f)
    if result.success:
        return []
    found = failures(result) or [StepFailure("run", INTERRUPTED if was_interrupted(result) else "failed")]
    for f in found:
        print_step("INTERRUPTED" if f.reason == INTERRUPTED else "FAILED", f)
    from dominance_pipeline.defs.assets import ASSETS

    done = {e.asset_key for e in result.get_asset_materialization_events() if e.asset_key}
    missing = [a.key.to_user_string() for a in ASSETS if a.key not in done]
    if missing:
        print(f"not materialized for {key[:7]}: {', '.join(missing)}", file=sys.stderr)
    return found


def report(result, key: str) -> int:
    if print_outcome(result, key):
        if was_interrupted(result):
            print(f"run {result.run_id} interrupted; details: make ui, then Runs", file=sys.stderr)
            return 130
        print(f"run {result.run_id} failed; details: make ui, then Runs", file=sys.stderr)
        return 1
    from dominance_pipeline.cli.report import print_month
    from dominance_pipeline.settings import paths
    from dominance_pipeline.storage import parquet

    root = paths().warehouse  # where the run wrote: its definitions are built from the environment as it is now
    ix = parquet.read_partition(root, "dominance_indices", key)
    event = next(e for e in result.get_asset_materialization_events() if e.asset_key.to_user_string() == "dominance_indices")
    absent = event.materialization.metadata["absent"].value
    print_month(ix, key, dict(absent), KEY_COUNTRIES, f"\nDominance indices for {key[:7]} (run {result.run_id})")
    print(f"\nOutputs: {root}/<asset>/month={key}/data.parquet; SQL views in {root / 'dominance.duckdb'}")
    if was_interrupted(result):  # as the run ended: the month is whole, nothing more is done
        print(f"INTERRUPTED after {key[:7]} was materialized: the time series was not refreshed (run {result.run_id})", file=sys.stderr)
        return 130
    return 0
