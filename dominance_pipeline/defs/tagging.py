"""origin_tagged_models: every model with its uploader's country and its root base model's country."""

import dagster as dg
import polars as pl

from dominance_pipeline.defs.partitions import GROUP, monthly
from dominance_pipeline.defs.resources import RegistryResource
from dominance_pipeline.origin import tagging


@dg.asset(
    partitions_def=monthly,
    group_name=GROUP,
    kinds={"polars", "parquet"},
    description="Every model with its uploader's country (direct view) and its root base model's country (lineage view).",
)
def origin_tagged_models(
    context: dg.AssetExecutionContext, raw_hub_listings: pl.DataFrame, registry: RegistryResource
) -> dg.Output[pl.DataFrame]:
    reg = registry.load()
    tagged, stats = tagging.tag(raw_hub_listings, reg)
    cov = tagging.coverage(tagged)
    context.log.info(f"attributed downloads: direct {cov['direct']:.2%}, lineage {cov['lineage']:.2%}")
    return dg.Output(
        tagged,
        metadata={
            "coverage_direct": cov["direct"],
            "coverage_lineage": cov["lineage"],
            "lineage_status": dg.MetadataValue.json(stats["lineage_status"]),
            "max_lineage_depth": stats["max_lineage_depth"],
            "registry": dg.MetadataValue.path(str(reg.path)),
            "registry_namespaces": reg.rows.height,
        },
    )
