"""dominance_timeseries and dominance_crossover: every materialized month together, with the chart.

They are not partitioned, so they cannot run in the monthly job: `timeseries_job` refreshes them from
whatever months are in the warehouse. `dominance-pipeline materialize` runs it after each successful month
(`backfill` once at the end); under the daemon (`make ui`), timeseries_refresh_sensor runs them once a
month has been updated and nothing upstream is running (defs/automation.py).
"""

import base64
import datetime as dt

import dagster as dg
import polars as pl

from dominance_pipeline.defs.automation import REFRESH_AFTER_MONTHS
from dominance_pipeline.defs.indices import dominance_indices
from dominance_pipeline.defs.partitions import GROUP
from dominance_pipeline.defs.resources import WarehouseResource
from dominance_pipeline.metrics import chart, timeseries
from dominance_pipeline.metrics.indices import FAMILIES
from dominance_pipeline.storage import parquet, verdicts

CHART_FILE = "chart.png"


@dg.asset(
    group_name=GROUP,
    kinds={"polars", "parquet"},
    deps=[dominance_indices],
    automation_condition=REFRESH_AFTER_MONTHS,
    description="Every materialized month of dominance_indices in one long table, with a chart of CN and US shares.",
)
def dominance_timeseries(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.Output[pl.DataFrame]:
    months = parquet.materialized_months(warehouse.path, "dominance_indices")
    # A month whose indices failed their check is no point of the series: left out, a break in every line
    # like a month never materialized, and named with the reason. Its file has left the warehouse, unless
    # a run died between publishing it and its check.
    rejected = [m for m in verdicts.judged_months(warehouse.path, "dominance_indices") if m not in months]
    if not months and not rejected:
        raise dg.Failure("no month of dominance_indices is materialized yet: run `dominance-pipeline materialize --month YYYY-MM` first")
    refused = {m: verdicts.read(warehouse.path, "dominance_indices", m) for m in sorted([*months, *rejected])}
    excluded = {m[:7]: v.refusal("dominance_indices", dt.date.fromisoformat(m)) for m, v in refused.items() if not v.usable}
    for why in excluded.values():
        context.log.warning(f"left out of the series: {why}")
    months = [m for m in months if m[:7] not in excluded]
    if not months:
        raise dg.Failure(f"no month of dominance_indices passed its check: {'; '.join(excluded.values())}")
    keep = pl.col("month").is_in([dt.date.fromisoformat(m) for m in months])
    ts = parquet.scan_table(warehouse.path, "dominance_indices").filter(keep).collect().sort("month", "index", "view", "denominator", "country", nulls_last=True)
    dates = [dt.date.fromisoformat(m) for m in months]
    gaps = timeseries.missing_months(dates)
    cross = timeseries.crossover(ts)
    lines = {(FAMILIES[r["family"]], r["view"]): r["crossover_month"] for r in cross.iter_rows(named=True) if r["crossover_month"]}
    png = chart.share_chart(ts, lines)
    path = warehouse.path / "dominance_timeseries" / CHART_FILE
    with parquet.publishing(path) as tmp:
        tmp.write_bytes(png)
    context.log.info(f"{len(months)} month(s), {months[0][:7]} to {months[-1][:7]}; chart at {path}")
    image = f"![CN and US shares over time](data:image/png;base64,{base64.b64encode(png).decode()})"
    return dg.Output(
        ts,
        metadata={
            "months": len(months),
            "first_month": months[0][:7],
            "last_month": months[-1][:7],
            "missing_months": dg.MetadataValue.json([f"{m:%Y-%m}" for m in gaps]),
            "excluded_months": dg.MetadataValue.json(excluded),
            "chart": dg.MetadataValue.md(image),
            "chart_file": dg.MetadataValue.path(str(path)),
            "latest_month": dg.MetadataValue.md(timeseries.latest_markdown(ts)),
            "crossover": dg.MetadataValue.md(timeseries.crossover_markdown(cross)),
        },
    )


@dg.asset(
    group_name=GROUP,
    kinds={"polars", "parquet"},
    automation_condition=REFRESH_AFTER_MONTHS,
    description="Per share family and view: the first month from which China's share is at least the US share three months running.",
)
def dominance_crossover(dominance_timeseries: pl.DataFrame) -> dg.Output[pl.DataFrame]:
    cross = timeseries.crossover(dominance_timeseries)
    found = cross.filter(pl.col("crossover_month").is_not_null()).height
    return dg.Output(cross, metadata={"crossovers_found": found, "table": dg.MetadataValue.md(timeseries.crossover_markdown(cross))})


TIMESERIES_ASSETS = [dominance_timeseries, dominance_crossover]
