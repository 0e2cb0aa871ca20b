"""Registry gaps: the namespaces whose downloads are still UNATTRIBUTED, largest first, in both views.

Downloads are so concentrated that a few dozen namespaces usually hold most of what is unattributed, so
a curator adding rows in this order moves the coverage figure fastest.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from dominance_pipeline.origin.countries import UNATTRIBUTED
from dominance_pipeline.origin.tagging import coverage

GAP_SCHEMA = {
    "rank": pl.UInt32,
    "namespace": pl.String,
    "downloads_30d": pl.Float64,
    "share": pl.Float64,
    "models": pl.UInt32,
    "top_model": pl.String,
    "registry": pl.String,
}


@dataclass(frozen=True)
class Gaps:
    """The month's total downloads, the attributed share per view, and the top gaps of each view."""

    total_downloads: int
    coverage: dict[str, float]
    direct: pl.DataFrame
    lineage: pl.DataFrame


def registry_gaps(tagged: pl.DataFrame, lookup: pl.DataFrame, top: int = 20) -> Gaps:
    """The `top` unattributed namespaces by 30-day downloads in the direct and the lineage view.

    `lookup` is the registry as it stands now (`Registry.lookup_at`), so that a gap already filled since the
    month was materialized says so, and a known intermediary whose country is not public is labelled.
    """
    total = int(tagged.get_column("downloads_30d").sum() or 0)
    direct = (
        tagged.filter(pl.col("org_country") == UNATTRIBUTED)
        .select(pl.col("org_namespace").alias("namespace"), "model_id", pl.col("downloads_30d").fill_null(0).cast(pl.Float64).alias("dl"))
    )
    lineage = (
        tagged.select("model_id", "downloads_30d", "lineage_roots")
        .explode("lineage_roots")
        .unnest("lineage_roots")
        .filter(pl.col("country") == UNATTRIBUTED)
        .select("namespace", pl.col("root_id").alias("model_id"), (pl.col("downloads_30d").fill_null(0) * pl.col("weight")).alias("dl"))
    )
    return Gaps(
        total_downloads=total,
        coverage=coverage(tagged),
        direct=_rank(direct, lookup, total, top),
        lineage=_rank(lineage, lookup, total, top),
    )


def _rank(rows: pl.DataFrame, lookup: pl.DataFrame, total: int, top: int) -> pl.DataFrame:
    """Per namespace: downloads, share of the month, models, the model that carries the most, registry note."""
    known = lookup.select(
        "ns_key",
        pl.when(pl.col("country") == UNATTRIBUTED)
        .then(pl.lit("known intermediary, country not public"))
        .otherwise(pl.format("now {} in the registry: re-materialize the month", "country"))
        .alias("registry"),
    )
    return (
        rows.group_by("namespace")
        .agg(
            pl.col("dl").sum().alias("downloads_30d"),
            pl.col("model_id").n_unique().cast(pl.UInt32).alias("models"),
            pl.col("model_id").sort_by("dl", "model_id", descending=[True, False]).first().alias("top_model"),
        )
        .sort(["downloads_30d", "namespace"], descending=[True, False])
        .head(top)
        .with_columns(
            pl.int_range(1, pl.len() + 1, dtype=pl.UInt32).alias("rank"),
            (pl.col("downloads_30d") / total if total else pl.lit(None, pl.Float64)).alias("share"),
            pl.col("namespace").str.to_lowercase().alias("ns_key"),
        )
        .join(known, on="ns_key", how="left", maintain_order="left")
        .with_columns(pl.col("registry").fill_null(""))
        .select(list(GAP_SCHEMA))
        .cast(GAP_SCHEMA)
    )
