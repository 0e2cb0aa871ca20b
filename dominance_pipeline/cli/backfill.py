"""`dominance-pipeline backfill --from YYYY-MM --to YYYY-MM`: many months, one Dagster run per month.

Each month is its own run of monthly_job in the persistent instance (data/dagster_home), in calendar
order (a month's indices read the previous month's listing), so each month's checks gate that month
alone and every run shows in `make ui`, tagged `dominance/backfill=<id>`. Months already materialized
are run again and replaced (each partition is written atomically, in place), and the plan says which
ones; `--missing-only` skips them instead (not a month whose last run failed, nor one the warehouse no longer holds as
its checks left it), and says so, running again the
month after each month it fills. A failed month is reported with its failing step
and does not stop the others unless `--fail-fast`. At the end: one line per month, the time series
refreshed once over everything materialized, and whether the last complete month is there.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from dominance_pipeline.cli.errors import UserError
from dominance_pipeline.cli.materialize import INTERRUPTED, StepFailure, month_key, was_interrupted
from dominance_pipeline.settings import paths

SOURCES = ("local", "archive")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("backfill", help="materialize a range of months, one run per month, and refresh the time series")
    p.add_argument("--from", dest="first", required=True, metavar="YYYY-MM", help="first month of the range")
    p.add_argument("--to", dest="last", required=True, metavar="YYYY-MM", help="last month of the range (included)")
    p.add_argument("--source", default="local", choices=SOURCES,
                   help="local snapshot files (default) or the public snapshot dataset on the Hub (archive)")
    p.add_argument("--snapshot-dir", metavar="DIR",
                   help="local source: the folder of hub_stats_YYYY-MM.parquet files (default $DOMINANCE_SNAPSHOT_DIR or data/sample)")
    p.add_argument("--endpoint", help="archive source: the Hub to read from (default $HF_ENDPOINT or https://huggingface.co)")
    p.add_argument(
        "--missing-only",
        action="store_true",
        help="skip months whose whole chain is already materialized by a run that did not fail and is still in the "
        "warehouse as its checks left it (listed, not silent); "
        "the month after one that runs is run again",
    )
    p.add_argument("--fail-fast", action="store_true", help="stop at the first month that fails (the rest are listed as not run)")
    p.add_argument("--quiet", action="store_true", help="only warnings, failures and the per-month lines")
    p.set_defaults(func=run)


@dataclass
class MonthResult:
    key: str
    run_id: str
    seconds: float
    failures: list[StepFailure] = field(default_factory=list)
    replaced: bool = False

    @property
    def ok(self) -> bool:
        return not self.failures

    @property
    def interrupted(self) -> bool:
        return any(f.reason == INTERRUPTED for f in self.failures)


def month_range(first: str, last: str) -> list[str]:
    """Partition keys from `first` to `last` (YYYY-MM, both included), each a valid partition."""
    start, end = month_key(first), month_key(last)
    if start > end:
        raise UserError(f"--from {first} is after --to {last}")
    from dominance_pipeline.defs.partitions import monthly

    return [k for k in monthly.get_partition_keys() if start <= k <= end]


def check_options(args: argparse.Namespace) -> None:
    if args.snapshot_dir and args.source != "local":
        raise UserError(f"--snapshot-dir is for the local source; --source {args.source} does not read files")
    if args.snapshot_dir and not Path(args.snapshot_dir).is_dir():
        raise UserError(f"--snapshot-dir {args.snapshot_dir} is not a folder")
    if args.endpoint and args.source == "local":
        raise UserError("--endpoint is for the archive source")
    from dominance_pipeline.cli.preflight import check_endpoint

    check_endpoint(args.endpoint, args.source)


def done_months(instance, keys: list[str], warehouse: Path) -> set[str]:
    """Months whose every monthly asset has a materialization in the instance, whose latest run did not
    fail (a check that fails after its asset is written leaves the chain materialized but the month blocked),
    and whose every partition is in `warehouse` now, not refused by its check: the instance remembers what was
    written, not what is still there (a deleted folder, a partition a check run alone rejected)."""
    import dagster as dg

    from dominance_pipeline.defs.assets import ASSETS
    from dominance_pipeline.storage import parquet, verdicts

    done = set(keys)
    for asset in ASSETS:
        done &= set(instance.get_materialized_partitions(asset.key))
    for key in sorted(done):
        latest = instance.get_runs(filters=dg.RunsFilter(tags={"dagster/partition": key}), limit=1)
        if latest and latest[0].status == dg.DagsterRunStatus.FAILURE:
            done.discard(key)
        elif not all(
            parquet.partition_file(warehouse, table, key).is_file() and verdicts.read(warehouse, table, key).usable
            for table in (asset.key.path[-1] for asset in ASSETS)
        ):
            done.discard(key)
    return done


def after_gaps(keys: list[str], todo: list[str]) -> list[str]:
    """The months of `keys` not in `todo` whose previous month is: their delta and rank changes read it."""
    run = set(todo)
    return [k for prev, k in zip(keys, keys[1:], strict=False) if prev in run and k not in run]


def planned(todo: list[str], follow: list[str], results: list[MonthResult]) -> list[str]:
    """The months the backfill set out to run: `todo`, and the months of `follow` it ran again."""
    return [*todo, *(m.key for m in results if m.key in follow)]


def months_text(keys: list[str]) -> str:
    return ", ".join(k[:7] for k in keys) if keys else "none"


def run(args: argparse.Namespace) -> int:
    check_options(args)
    keys = month_range(args.first, args.last)
    from dominance_pipeline.cli.preflight import check_inputs, prepare_instance

    check_inputs()  # a broken registry or thresholds file: one line before any month's listing is read
    home = prepare_instance()
    import dagster as dg

    from dominance_pipeline.cli.materialize import cli_run_tags, monthly_run_config, print_outcome, refresh_timeseries, release_slots
    from dominance_pipeline.cli.inprocess import run_job

    log_level = "WARNING" if args.quiet else "INFO"
    snapshot_dir = str(Path(args.snapshot_dir).resolve()) if args.snapshot_dir else None
    location = {"snapshot_dir": snapshot_dir, "hub_endpoint": args.endpoint}  # each month's run rebuilds its job from these
    run_config = monthly_run_config({"source": args.source}, log_level)
    backfill_id = f"cli-{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%SZ}"
    tags = cli_run_tags({"dominance/backfill": backfill_id, "dominance/source": args.source})
    where = f" from {Path(args.snapshot_dir).resolve()}" if args.snapshot_dir else ""

    results: list[MonthResult] = []
    t0 = time.perf_counter()
    with dg.DagsterInstance.get() as instance:
        done = done_months(instance, keys, paths().warehouse)
        skipped = sorted(done) if args.missing_only else []
        todo = [k for k in keys if k not in skipped]
        # A skipped month right after one run here reads it (its delta and rank changes): run again if that succeeds.
        follow = after_gaps(keys, todo) if args.missing_only else []
        print(f"Backfill {backfill_id}: {len(keys)} month(s), {keys[0][:7]} to {keys[-1][:7]}, source {args.source}{where}; "
              f"one run per month in {home}", flush=True)
        if skipped:
            print(f"  skipped, already materialized (--missing-only): {months_text(skipped)}", flush=True)
            if follow:
                print(f"  run again if the month before succeeds (its delta and rank changes read it): {months_text(follow)}", flush=True)
        elif done:
            print(f"  already materialized, will be replaced: {months_text(sorted(done))}", flush=True)
        try:
            step = 0
            for before, key in zip([None, *keys], keys, strict=False):
                if key in follow:
                    if not any(m.key == before and m.ok for m in results):
                        print(f"[again] {key[:7]} not run again: {str(before)[:7]} did not succeed", flush=True)
                        continue
                    label = "again"
                elif key in todo:
                    step += 1
                    label = f"{step}/{len(todo)}"
                else:
                    continue
                print(f"[{label}] {key[:7]} ...", flush=True)
                release_slots(instance)
                started = time.perf_counter()
                # GX imports in the background while the first month's listing is read.
                result = run_job("monthly_job", instance, partition_key=key, run_config=run_config, tags=tags, warm_up_checks=True, **location)
                month = MonthResult(key, result.run_id, time.perf_counter() - started, print_outcome(result, key), key in done)
                results.append(month)
                if was_interrupted(result):  # Ctrl-C during the month: stop the backfill, not just the month
                    ended = f"ok in {month.seconds:.1f} s, then interrupted" if month.ok else f"interrupted after {month.seconds:.1f} s"
                    print(f"[{label}] {key[:7]} {ended}, run {month.run_id}", flush=True)
                    raise KeyboardInterrupt
                status = "ok" if month.ok else f"FAILED at {month.failures[0].step}"
                replaced = " (replaced the earlier materialization)" if month.replaced and month.ok else ""
                print(f"[{label}] {key[:7]} {status} in {month.seconds:.1f} s, run {month.run_id}{replaced}", flush=True)
                if not month.ok and args.fail_fast:
                    break
        except KeyboardInterrupt:
            summarize(results, planned(todo, follow, results), time.perf_counter() - t0, interrupted=True)
            raise
    todo = planned(todo, follow, results)
    status = summarize(results, todo, time.perf_counter() - t0)
    if any(m.ok for m in results):
        refreshed = refresh_timeseries(log_level)
        if refreshed == 130:
            return 130
        status = max(status, refreshed)
    elif todo:
        print("Time series not refreshed: no month succeeded", file=sys.stderr)
    else:
        print("Time series not refreshed: no month was run", file=sys.stderr)
    print(f"Freshness: {freshness_line()}")
    return status


def summarize(results: list[MonthResult], todo: list[str], seconds: float, interrupted: bool = False) -> int:
    """The closing lines: which months ran and how each ended; 1 if any failed (or did not run)."""
    ok = [m.key for m in results if m.ok]
    failed = [m for m in results if not m.ok and not m.interrupted]
    stopped = [m for m in results if m.interrupted]
    not_run = [k for k in todo if k not in {m.key for m in results}]
    print(f"\nRan {len(results)} of {len(todo)} month(s) in {seconds:.1f} s: {len(ok)} succeeded ({months_text(ok)})"
          + (f", {len(failed)} failed" if failed else "") + (f", {len(stopped)} interrupted" if stopped else ""))
    for m in failed:
        print(f"  FAILED {m.key[:7]} at {m.failures[0].step}: {m.failures[0].reason.splitlines()[0]} (run {m.run_id})")
    for m in stopped:
        print(f"  INTERRUPTED {m.key[:7]} at {m.failures[0].step}: not finished, run it again (run {m.run_id})")
    if not_run:
        why = "interrupted" if interrupted else "--fail-fast"
        print(f"  not run ({why}): {months_text(not_run)}")
    return 1 if failed or stopped or not_run else 0


def freshness_line() -> str:
    """Run freshness_job (so the UI shows it too) and say whether the last complete month is materialized."""
    import dagster as dg

    from dominance_pipeline.cli.inprocess import run_job

    with dg.DagsterInstance.get() as instance:
        result = run_job("freshness_job", instance, run_config={"loggers": {"concise_console": {"config": {"log_level": "WARNING"}}}})
    evaluations = result.get_asset_check_evaluations()
    if not evaluations:
        return "not evaluated (the freshness check did not run; see make ui, Runs)"
    e = evaluations[0]
    return ("ok: " if e.passed else "WARNING ") + (e.description or "")
