"""monthly_aggregates: per view and country, models, new models, downloads, likes."""

import dagster as dg
import polars as pl

from dominance_pipeline.defs.gates import require_accepted
from dominance_pipeline.defs.partitions import GROUP, month_of, monthly
from dominance_pipeline.defs.resources import WarehouseResource
from dominance_pipeline.metrics import aggregates
from dominance_pipeline.origin.countries import INTL, UNATTRIBUTED


@dg.asset(
    partitions_def=monthly,
    group_name=GROUP,
    kinds={"polars", "parquet"},
    ins={"origin_tagged_models": dg.AssetIn(metadata={"columns": list(aggregates.COLUMNS)})},
    description="Per view and country: models, new models, 30-day and all-time downloads, likes.",
)
def monthly_aggregates(
    context: dg.AssetExecutionContext, origin_tagged_models: pl.DataFrame, warehouse: WarehouseResource
) -> dg.Output[pl.DataFrame]:
    require_accepted(context, warehouse, "origin_tagged_models", context.partition_key)
    out = aggregates.aggregate(origin_tagged_models, month_of(context.partition_key))
    # Countries proper: the INTL and UNATTRIBUTED buckets are rows of the table but not countries.
    countries = out.filter((pl.col("view") == "direct") & ~pl.col("country").is_in([INTL, UNATTRIBUTED]))
    return dg.Output(out, metadata={"countries_direct": countries.height})
