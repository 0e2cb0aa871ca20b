"""Origin tagging: each model gets two countries, the uploader's (`direct`) and its root base model's (`lineage`).

The two views answer different questions. `direct` asks who publishes what the Hub downloads; `lineage`
asks whose base models it runs on, so that a bartowski quantization of Qwen counts for China. Countries
come only from the reviewed registry; a namespace it does not know is UNATTRIBUTED (never inferred from
tags such as `region:us`, which is a storage region).
"""

from __future__ import annotations

import polars as pl

from dominance_pipeline.origin import lineage
from dominance_pipeline.origin.countries import bloc_of
from dominance_pipeline.origin.registry import Registry, attribute_namespaces
from dominance_pipeline.schemas import ORIGIN_TAGGED_MODELS, conform


def tag(raw: pl.DataFrame, registry: Registry, max_depth: int = lineage.MAX_DEPTH) -> tuple[pl.DataFrame, dict[str, object]]:
    """Tag every raw row with both views; return the tagged frame and lineage statistics for metadata."""
    lookup = registry.lookup
    org_ns, org_country, intermediary = attribute_namespaces(pl.col("author"), lookup)
    resolved = lineage.resolve(raw.select("model_id", "base_model_ids"), max_depth=max_depth)

    root_ns, root_country, _ = attribute_namespaces(pl.col("root_id").str.split("/").list.first(), lookup)
    roots = resolved.roots.with_columns(root_ns.alias("namespace"), root_country.alias("country"))
    per_model = (
        roots.sort("model_id", pl.col("weight"), "root_id", descending=[False, True, False])
        .group_by("model_id", maintain_order=True)
        .agg(
            pl.col("root_id").first().alias("root_model_id"),
            pl.col("namespace").first().alias("root_namespace"),
            pl.col("country").first().alias("root_country"),
            pl.struct("root_id", "namespace", "country", "weight").alias("lineage_roots"),
            pl.col("depth").max().alias("lineage_depth"),
        )
    )
    tagged = (
        raw.with_columns(org_ns.alias("org_namespace"), org_country.alias("org_country"), intermediary.alias("is_intermediary"))
        .join(per_model, on="model_id", how="left")
        .join(resolved.status, on="model_id", how="left")
        .with_columns(bloc_of(pl.col("org_country")).alias("org_bloc"), bloc_of(pl.col("root_country")).alias("root_bloc"))
    )
    stats: dict[str, object] = {
        "lineage_status": resolved.stats,
        "max_lineage_depth": int(tagged.get_column("lineage_depth").max() or 0),
    }
    return conform(tagged.select(ORIGIN_TAGGED_MODELS.names), ORIGIN_TAGGED_MODELS), stats


def coverage(tagged: pl.DataFrame) -> dict[str, float]:
    """Share of 30-day downloads attributed to a country (anything but UNATTRIBUTED), per view."""
    total = tagged.get_column("downloads_30d").sum() or 0
    if not total:
        return {"direct": float("nan"), "lineage": float("nan")}
    direct = tagged.filter(pl.col("org_country") != "UNATTRIBUTED").get_column("downloads_30d").sum()
    lin = (
        tagged.select("downloads_30d", "lineage_roots")
        .explode("lineage_roots")
        .unnest("lineage_roots")
        .filter(pl.col("country") != "UNATTRIBUTED")
        .select((pl.col("downloads_30d") * pl.col("weight")).sum())
        .item()
    )
    return {"direct": direct / total, "lineage": (lin or 0.0) / total}
