"""origin_tagged_models: every model with its uploader's country and its root base model's country."""

import dagster as dg
import polars as pl

from dominance_pipeline.defs.gates import require_accepted
from dominance_pipeline.defs.partitions import GROUP, monthly
from dominance_pipeline.defs.resources import RegistryResource, WarehouseResource
from dominance_pipeline.origin import tagging


@dg.asset(
    partitions_def=monthly,
    group_name=GROUP,
    kinds={"polars", "parquet"},
    ins={"raw_hub_listings": dg.AssetIn(metadata={"columns": list(tagging.RAW_COLUMNS)})},
    description="Every model with its uploader's country (direct view) and its root base model's country (lineage view).",
)
def origin_tagged_models(
    context: dg.AssetExecutionContext, raw_hub_listings: pl.DataFrame, registry: RegistryResource, warehouse: WarehouseResource
) -> dg.Output[pl.DataFrame]:
    require_accepted(context, warehouse, "raw_hub_listings", context.partition_key)
    reg = registry.load()
    tagged, stats = tagging.tag(raw_hub_listings, reg)
    cov = tagging.coverage(tagged)
    lin: dict = stats["lineage"]  # type: ignore[assignment]
    dates: dict = stats["release_dates"]  # type: ignore[assignment]
    context.log.info(
        f"attributed downloads: direct {cov['direct']:.2%}, lineage {cov['lineage']:.2%} "
        f"(registry as of {stats['attributed_on']}; `dominance-pipeline registry-gaps --month {context.partition_key[:7]}` lists the gaps)"
    )
    if lin["cycle_nodes"] or lin["depth_capped_nodes"]:
        context.log.warning(
            f"lineage: {lin['cycle_nodes']} models on declared cycles (e.g. {', '.join(lin['cycle_examples'])}), "
            f"{lin['depth_capped_nodes']} chains cut at the depth cap"
        )
    return dg.Output(
        tagged,
        metadata={
            "coverage_direct": cov["direct"],
            "coverage_lineage": cov["lineage"],
            "intermediary_download_share": tagging.intermediary_share(tagged),
            "lineage_status": dg.MetadataValue.json(lin["status"]),
            "lineage": dg.MetadataValue.json({k: v for k, v in lin.items() if k != "status"}),
            "max_lineage_depth": lin["max_depth"],
            "lineage_cycle_nodes": lin["cycle_nodes"],
            "lineage_depth_capped": lin["depth_capped_nodes"],
            "release_dates_corrected": len(dates["applied"]),
            "release_date_corrections": dg.MetadataValue.json(dates),
            "registry": dg.MetadataValue.path(str(reg.path)),
            "registry_namespaces": reg.namespaces,
            "registry_attributed_on": stats["attributed_on"],
        },
    )
