"""Per month, view and country: how many models, how many new, how much they are downloaded.

In the `direct` view each model counts once for its uploader's country. In the `lineage` view it counts
for the country of each of its roots, with the root's weight (a merge of a Chinese and an American base
gives each 0.5), which is why the counts are floats. Both views add up to the same Hub totals: that
conservation is checked on every partition.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from dominance_pipeline.origin.countries import bloc_of
from dominance_pipeline.schemas import MONTHLY_AGGREGATES, conform

VIEWS = ("direct", "lineage")
MEASURES = ("models", "new_models", "downloads_30d", "downloads_all_time", "likes")
# The origin_tagged_models columns `aggregate` reads (the asset loads only these).
COLUMNS = ("org_country", "lineage_roots", "created_at", "downloads_30d", "downloads_all_time", "likes")


def month_bounds(month: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """[start, end) of the month in UTC."""
    start = dt.datetime(month.year, month.month, 1, tzinfo=dt.UTC)
    end = dt.datetime(month.year + month.month // 12, month.month % 12 + 1, 1, tzinfo=dt.UTC)
    return start, end


def is_new(month: dt.date) -> pl.Expr:
    """Created within the month (a null creation date, such as the Hub's placeholder, is not new)."""
    start, end = month_bounds(month)
    return pl.col("created_at").is_between(start, end, closed="left").fill_null(False)


def view_frame(tagged: pl.DataFrame, view: str) -> pl.LazyFrame:
    """One row per (model, country) with the model's weight in that country under `view`."""
    lf = tagged.lazy()
    if view == "direct":
        return lf.with_columns(pl.col("org_country").alias("country"), pl.lit(1.0).alias("weight"))
    if view == "lineage":
        return (
            lf.explode("lineage_roots")
            .with_columns(
                pl.col("lineage_roots").struct.field("country").alias("country"),
                pl.col("lineage_roots").struct.field("weight").alias("weight"),
            )
            .drop("lineage_roots")
        )
    raise ValueError(f"unknown view {view!r}; expected one of {VIEWS}")


def _known_sum(weight: pl.Expr, count: str) -> pl.Expr:
    """Σ weight × count, null when no model of the group has the count (a listing without it): unknown, not 0."""
    return pl.when(pl.col(count).is_not_null().any()).then((weight * pl.col(count)).sum()).alias(count)


def aggregate(tagged: pl.DataFrame, month: dt.date) -> pl.DataFrame:
    """The monthly_aggregates partition for `month` from its origin-tagged models."""
    w = pl.col("weight")
    frames = [
        view_frame(tagged, view)
        .group_by("country")
        .agg(
            w.sum().alias("models"),
            (w * is_new(month)).sum().alias("new_models"),
            (w * pl.col("downloads_30d").fill_null(0)).sum().alias("downloads_30d"),
            *[_known_sum(w, c) for c in ("downloads_all_time", "likes")],
        )
        .with_columns(pl.lit(view).alias("view"))
        for view in VIEWS
    ]
    out = (
        pl.concat(frames)
        .with_columns(pl.lit(month, pl.Date).alias("month"), bloc_of(pl.col("country")).alias("bloc"))
        .select(MONTHLY_AGGREGATES.names)
        .sort("view", "downloads_30d", "country", descending=[False, True, False])
        .collect()
    )
    return conform(out, MONTHLY_AGGREGATES)
