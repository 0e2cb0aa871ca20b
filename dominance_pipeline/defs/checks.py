"""One blocking, per-partition Great Expectations check per asset: a failing month stops before the indices.

The suites live in quality/suites.py; this module only loads what each suite needs and turns its result
into an `AssetCheckResult`. Severity follows the worst failed expectation: an ERROR blocks the month's
downstream assets, a WARN (for example a late snapshot) is shown on the check but lets the month through.
Each check keeps its verdict on the file it judged, and a rejected partition gives way to the accepted one
it replaced (`judged_result`, storage.accepted).
"""

from pathlib import Path

import dagster as dg
import polars as pl
from dagster_duckdb import DuckDBResource

from dominance_pipeline.defs.assets import dominance_indices, monthly_aggregates, origin_tagged_models, raw_hub_listings
from dominance_pipeline.defs.partitions import month_of, monthly
from dominance_pipeline.defs.resources import QualityResource, WarehouseResource, refresh_view
from dominance_pipeline.quality import suites
from dominance_pipeline.schemas import QUARANTINE
from dominance_pipeline.storage import accepted, handoff, parquet, verdicts


def check_result(result: suites.SuiteResult, outcome: str | None = None, **extra: object) -> dg.AssetCheckResult:
    """The suite's outcome as a check result whose metadata lists every failed expectation and its offenders;
    `outcome` is a last line for the description (what became of the checked file), `extra` more metadata."""
    worst = result.worst
    return dg.AssetCheckResult(
        passed=worst is None,
        severity=dg.AssetCheckSeverity.WARN if worst == suites.WARN else dg.AssetCheckSeverity.ERROR,
        description=result.summary() + (f"\n{outcome}" if outcome else ""),
        metadata={
            **extra,  # type: ignore[dict-item]
            "failed_expectations": dg.MetadataValue.md(result.failures_markdown()),
            "failed": dg.MetadataValue.json([o.as_dict() for o in result.failed()]),
            "failed_count": len(result.failed()),
            "evaluated_expectations": result.evaluated,
            "skipped": dg.MetadataValue.json([o.as_dict() for o in result.skipped]),
            "rows": result.rows,
            "gx_seconds": round(result.seconds, 3),
        },
    )


def _partition(
    warehouse: WarehouseResource, table: str, key: str, columns: tuple[str, ...]
) -> tuple[pl.DataFrame, pl.Schema]:
    """The columns a suite reads from a stored partition, and the partition's whole schema (its footer).

    A check whose asset is a parameter would load every column through the IO manager (at 3 million
    models the tags and parents lists alone take seconds); Dagster gives the checked asset's own input
    no metadata, so the check reads the file itself (or, when this process has just published that very
    file, takes its columns from memory: storage.handoff).
    """
    path = _materialized(warehouse, table, key)
    return handoff.read_partition(warehouse.path, table, key, list(columns)), pl.scan_parquet(path, glob=False).collect_schema()


def _materialized(warehouse: WarehouseResource, table: str, key: str) -> Path:
    """The partition's file; a check run alone on a month without one says why: never materialized, or
    rejected (the verdict's reason)."""
    path = parquet.partition_file(warehouse.path, table, key)
    if not path.exists():
        verdict = verdicts.read(warehouse.path, table, key)
        if verdict.state == verdicts.FAILED:
            rejected = accepted.rejected_dir(warehouse.path, table, key)
            raise FileNotFoundError(
                f"{verdict.refusal(table, month_of(key))}; the month has no partition to check (the rejected one is in {rejected})"
            )
        raise FileNotFoundError(f"partition {table} month={key} has not been materialized: {path} is missing")
    return path


@dg.asset_check(
    asset=raw_hub_listings,
    blocking=True,
    partitions_def=monthly,
    description="GX suite: schema, unique non-null ids, counts in range, dates, quarantine volume, size vs last month, snapshot time.",
)
def raw_hub_listings_valid(
    context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource, quality: QualityResource, duckdb: DuckDBResource
) -> dg.AssetCheckResult:
    month = month_of(context.partition_key)
    table, before = "raw_hub_listings", suites.previous_month(month)
    identity = judged(warehouse, table, context.partition_key)
    raw_hub_listings, stored = _partition(warehouse, table, context.partition_key, suites.RAW_CHECK_COLUMNS)
    qfile = parquet.partition_file(warehouse.quarantine, table, month)
    quarantine = pl.read_parquet(qfile, glob=False) if qfile.exists() else QUARANTINE.empty()
    previous = verdicts.read(warehouse.path, table, before)
    ctx = suites.RawContext(
        month=month,
        quarantine=quarantine,
        previous_rows=parquet.partition_rows(warehouse.path, table, before) if previous.usable else None,
        # Named only when the quarantine's volume fails the month (ERROR): the file is then with the rejected listing.
        quarantine_file=str(accepted.rejected_dir(warehouse.path, table, month) / accepted.QUARANTINE),
        previous_refused=None if previous.usable else previous.refusal(table, before),
    )
    result = suites.validate_raw(raw_hub_listings, ctx, quality.thresholds(), stored)
    # Kept for later runs: the next month's size check and delta, and runs of the downstream assets alone.
    return judged_result(context, warehouse, duckdb, table, identity, result, warehouse.quarantine)


def judged(warehouse: WarehouseResource, table: str, key: str) -> list[int]:
    """The identity of the partition file a check is about to judge (storage.verdicts)."""
    return verdicts.identity(_materialized(warehouse, table, key))


def judged_result(
    context: dg.AssetCheckExecutionContext,
    warehouse: WarehouseResource,
    duckdb: DuckDBResource,
    table: str,
    identity: list[int],
    result: suites.SuiteResult,
    quarantine: Path | None = None,
) -> dg.AssetCheckResult:
    """The check result, after keeping its verdict on the file it judged (`identity`: for the runs that read the partition
    later) and settling the month (storage.accepted): a rejected partition gives way to the accepted one it
    replaced, and the result's last line says where the rejected one went."""
    month = month_of(context.partition_key)
    errors = "; ".join(o.line() for o in result.failed(suites.ERROR))
    was = verdicts.read(warehouse.path, table, month).state
    verdicts.record(warehouse.path, table, month, identity, passed=not errors, summary=errors[:500])
    settled = accepted.settle(warehouse.path, table, month, not errors, quarantine)
    if settled is None:
        return check_result(result)
    what = "listing" if quarantine is not None else "partition"
    where = f"the rejected one{' and its quarantine are' if quarantine is not None else ' is'} in {settled.rejected}"
    if settled.restored:
        outcome = f"The month's accepted {what} is back in place; {where}"
    else:
        refresh_view(duckdb, warehouse.path, table, context.log)  # dropped if that was the table's only partition
        outcome = (
            f"The month's {what}, accepted until now, is rejected and the month has none; {where}"
            if was == verdicts.PASSED  # the check run again on the month's accepted partition (new thresholds)
            else f"The month has no accepted {what} to go back to, and now none at all; {where}"
        )
    return check_result(result, outcome, rejected_partition=dg.MetadataValue.path(str(settled.rejected)))


@dg.asset_check(
    asset=origin_tagged_models,
    blocking=True,
    partitions_def=monthly,
    description="GX suite: valid country codes in both views, lineage walks closed and rarely cut, release dates only moved later, attributed coverage per view.",
)
def origin_tagged_models_valid(
    context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource, quality: QualityResource, duckdb: DuckDBResource
) -> dg.AssetCheckResult:
    identity = judged(warehouse, "origin_tagged_models", context.partition_key)
    tagged, stored = _partition(warehouse, "origin_tagged_models", context.partition_key, suites.TAGGED_CHECK_COLUMNS)
    result = suites.validate_tagged(tagged, quality.thresholds(), stored)
    return judged_result(context, warehouse, duckdb, "origin_tagged_models", identity, result)


@dg.asset_check(
    asset=monthly_aggregates,
    blocking=True,
    partitions_def=monthly,
    additional_ins={
        "raw_hub_listings": dg.AssetIn("raw_hub_listings", metadata={"columns": list(suites.RAW_TOTAL_COLUMNS)})
    },
    description="GX suite: conservation (per view and measure, totals across countries equal the raw totals), one row per country.",
)
def monthly_aggregates_conserve_totals(
    context: dg.AssetCheckExecutionContext,
    monthly_aggregates: pl.DataFrame,
    raw_hub_listings: pl.DataFrame,
    quality: QualityResource,
    warehouse: WarehouseResource,
    duckdb: DuckDBResource,
) -> dg.AssetCheckResult:
    month = month_of(context.partition_key)
    identity = judged(warehouse, "monthly_aggregates", context.partition_key)
    result = suites.validate_aggregates(monthly_aggregates, raw_hub_listings, month, quality.thresholds())
    return judged_result(context, warehouse, duckdb, "monthly_aggregates", identity, result)


@dg.asset_check(
    asset=dominance_indices,
    blocking=True,
    partitions_def=monthly,
    description="GX suite: every value a number, one row per key, shares in [0, 1] summing to 1 per group, HHI in [0, 10,000], CR-n and Gini in [0, 1], effective_orgs >= 1, ratios >= 0, gaps in [-1, 1], country only on shares, no UNATTRIBUTED under attributed.",
)
def dominance_indices_valid(
    context: dg.AssetCheckExecutionContext,
    dominance_indices: pl.DataFrame,
    quality: QualityResource,
    warehouse: WarehouseResource,
    duckdb: DuckDBResource,
) -> dg.AssetCheckResult:
    identity = judged(warehouse, "dominance_indices", context.partition_key)
    result = suites.validate_indices(dominance_indices, quality.thresholds())
    return judged_result(context, warehouse, duckdb, "dominance_indices", identity, result)  # the time series leaves out a month that failed


CHECKS = [raw_hub_listings_valid, origin_tagged_models_valid, monthly_aggregates_conserve_totals, dominance_indices_valid]
