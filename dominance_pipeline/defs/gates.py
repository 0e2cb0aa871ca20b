"""Verdict gates: a run of some assets alone runs none of their upstream checks, whose verdicts, kept on disk
(storage.verdicts), stand in for them.

Dagster stops a month's downstream steps only inside the run whose blocking check failed. A later run of
the downstream assets alone (the UI's *Materialize*, or a UI backfill that splits a month over several runs)
must still not build on a partition its check rejected.
"""

import dagster as dg

from dominance_pipeline.defs.partitions import month_of
from dominance_pipeline.defs.resources import WarehouseResource
from dominance_pipeline.storage import verdicts


def require_accepted(context: dg.AssetExecutionContext, warehouse: WarehouseResource, table: str, key: str) -> None:
    """Fail the step, with the reason, if `key`'s partition of `table` failed its check (or was published
    again since its check ran: by another run of the month still in progress, if there is one)."""
    month = month_of(key)
    verdict = verdicts.read(warehouse.path, table, month)
    if verdict.usable:
        return
    if verdict.state == verdicts.UNCHECKED and (other := _other_run_of(context, key)):
        raise dg.Failure(
            description=f"{verdict.refusal(table, month)}: another run of {month:%Y-%m} is in progress (run {other}) and "
            f"published it after this run's check; let one run of a month finish before starting the next"
        )
    raise dg.Failure(
        description=f"{verdict.refusal(table, month)}: this month's downstream assets stay as they were until it "
        f"passes; fix the cause and materialize the month again ({table} with its check)"
    )


def _other_run_of(context: dg.AssetExecutionContext, key: str) -> str | None:
    """The id of another run of partition `key` that has not ended, if any."""
    live = [dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.CANCELING]
    runs = context.instance.get_runs(filters=dg.RunsFilter(tags={"dagster/partition": key}, statuses=live), limit=10)
    return next((r.run_id for r in runs if r.run_id != context.run.run_id), None)
