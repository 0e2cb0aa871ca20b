"""One blocking, per-partition check per asset: a failing month stops before it reaches the indices."""


import dagster as dg
import polars as pl

from dominance_pipeline.defs.assets import dominance_indices, monthly_aggregates, origin_tagged_models, raw_hub_listings
from dominance_pipeline.defs.partitions import monthly
from dominance_pipeline.quality import rules


def _result(failures: list[rules.Failure], rows: int) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        passed=not failures,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={
            "rows": rows,
            "failed_rules": dg.MetadataValue.json([f.as_dict() for f in failures]),
            "failed_count": len(failures),
        },
        description="; ".join(f"{f.rule}: {f.unexpected_count} unexpected (e.g. {', '.join(f.sample[:3])})" for f in failures) or None,
    )


@dg.asset_check(asset=raw_hub_listings, blocking=True, partitions_def=monthly, description="Unique non-null ids, non-negative counts, no creation after the snapshot.")
def raw_hub_listings_valid(raw_hub_listings: pl.DataFrame) -> dg.AssetCheckResult:
    return _result(rules.raw_rules(raw_hub_listings), raw_hub_listings.height)


@dg.asset_check(asset=origin_tagged_models, blocking=True, partitions_def=monthly, description="Valid country codes; lineage weights sum to 1 per model.")
def origin_tagged_models_valid(origin_tagged_models: pl.DataFrame) -> dg.AssetCheckResult:
    return _result(rules.tagged_rules(origin_tagged_models), origin_tagged_models.height)


@dg.asset_check(
    asset=monthly_aggregates,
    blocking=True,
    partitions_def=monthly,
    additional_ins={"raw_hub_listings": dg.AssetIn("raw_hub_listings")},
    description="Conservation: per view, the totals across countries equal the raw totals.",
)
def monthly_aggregates_conserve_totals(monthly_aggregates: pl.DataFrame, raw_hub_listings: pl.DataFrame) -> dg.AssetCheckResult:
    return _result(rules.conservation_rules(monthly_aggregates, raw_hub_listings), monthly_aggregates.height)


@dg.asset_check(asset=dominance_indices, blocking=True, partitions_def=monthly, description="Shares in [0, 1] summing to 1 per group; HHI in [0, 10000].")
def dominance_indices_valid(dominance_indices: pl.DataFrame) -> dg.AssetCheckResult:
    return _result(rules.index_rules(dominance_indices), dominance_indices.height)


CHECKS = [raw_hub_listings_valid, origin_tagged_models_valid, monthly_aggregates_conserve_totals, dominance_indices_valid]
