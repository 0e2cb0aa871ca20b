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


def require_accepted(warehouse: WarehouseResource, table: str, key: str) -> None:
    """Fail the step, with the reason, if `key`'s partition of `table` failed its check (or was published
    again since its check ran)."""
    month = month_of(key)
    verdict = verdicts.read(warehouse.path, table, month)
    if not verdict.usable:
        raise dg.Failure(
            description=f"{verdict.refusal(table, month)}: this month's downstream assets stay as they were until it "
            f"passes; fix the cause and materialize the month again ({table} with its check)"
        )


def is_accepted(warehouse: WarehouseResource, table: str, key: str) -> bool:
    """Whether `key`'s partition of `table` may be read (it did not fail its check)."""
    return verdicts.read(warehouse.path, table, month_of(key)).usable
