"""The dominance indices: every formula the pipeline publishes, in one long table.

Shape: (month, index, view, denominator, country, value); `country` is null for indices that are not per
country. `view` is `direct` (uploader's country) or `lineage` (root base model's country); `denominator`
is `all` (every download on the Hub) or `attributed` (downloads of models whose country is known).
An index with an empty denominator has no rows for that group: a missing row, never a zero that looks like
a measurement. The data dictionary (docs/data_dictionary.md) gives each formula with a worked example.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from dominance_pipeline.metrics.aggregates import VIEWS, view_frame
from dominance_pipeline.origin.countries import UNATTRIBUTED
from dominance_pipeline.schemas import DOMINANCE_INDICES, conform

DENOMINATORS = ("all", "attributed")


def _long(df: pl.DataFrame, month: dt.date, index: str) -> pl.DataFrame:
    """Rows of one index in the table's column order (df has view, denominator, country, value)."""
    return df.select(
        pl.lit(month, pl.Date).alias("month"),
        pl.lit(index).alias("index"),
        pl.col("view"),
        pl.col("denominator"),
        pl.col("country").cast(pl.String),
        pl.col("value").cast(pl.Float64),
    )


def shares(by_country: pl.DataFrame, measure: str) -> pl.DataFrame:
    """Each country's share of `measure` per view, under both denominators.

    `by_country` has columns view, country, <measure>. The `attributed` denominator leaves UNATTRIBUTED out
    of both numerator and denominator, so it has no UNATTRIBUTED row.
    """
    frames = []
    for denominator in DENOMINATORS:
        base = by_country if denominator == "all" else by_country.filter(pl.col("country") != UNATTRIBUTED)
        total = pl.col(measure).sum().over("view")
        frames.append(
            base.filter(total > 0).select(
                "view", pl.lit(denominator).alias("denominator"), "country", (pl.col(measure) / total).alias("value")
            )
        )
    return pl.concat(frames)


def download_share(aggregates: pl.DataFrame, month: dt.date) -> pl.DataFrame:
    """download_share: Σ downloads_30d of the country's models / Σ downloads_30d over the denominator."""
    return _long(shares(aggregates.select("view", "country", "downloads_30d"), "downloads_30d"), month, "download_share")


def china_us(share_rows: pl.DataFrame, month: dt.date, suffix: str = "") -> pl.DataFrame:
    """china_us_ratio = share(CN) / share(US) and china_us_gap = share(CN) − share(US), per view and denominator.

    `share_rows` are the rows of one share index. A group without a US share has no ratio row (the ratio
    is undefined) but still has a gap. `suffix` names the share family for indices other than downloads.
    """
    wide = (
        share_rows.filter(pl.col("country").is_in(["CN", "US"]))
        .pivot(on="country", index=["view", "denominator"], values="value")
    )
    for c in ("CN", "US"):
        if c not in wide.columns:
            wide = wide.with_columns(pl.lit(None, pl.Float64).alias(c))
    wide = wide.with_columns(pl.col("CN").fill_null(0.0), pl.col("US").fill_null(0.0))
    none = pl.lit(None, pl.String).alias("country")
    ratio = wide.filter(pl.col("US") > 0).select("view", "denominator", none, (pl.col("CN") / pl.col("US")).alias("value"))
    gap = wide.select("view", "denominator", none, (pl.col("CN") - pl.col("US")).alias("value"))
    return pl.concat([_long(ratio, month, f"china_us_ratio{suffix}"), _long(gap, month, f"china_us_gap{suffix}")])


def org_downloads(tagged: pl.DataFrame) -> pl.DataFrame:
    """30-day downloads per namespace and view: the uploader's namespace (direct) or the root's (lineage)."""
    dl = pl.col("downloads_30d").fill_null(0).cast(pl.Float64)
    direct = tagged.lazy().select(pl.lit("direct").alias("view"), pl.col("org_namespace").alias("namespace"), dl)
    lineage = (
        tagged.lazy()
        .select("downloads_30d", "lineage_roots")
        .explode("lineage_roots")
        .select(
            pl.lit("lineage").alias("view"),
            pl.col("lineage_roots").struct.field("namespace").alias("namespace"),
            dl * pl.col("lineage_roots").struct.field("weight"),
        )
    )
    return pl.concat([direct, lineage]).group_by("view", "namespace").agg(pl.col("downloads_30d").sum()).collect()


def hhi_org(orgs: pl.DataFrame, month: dt.date) -> pl.DataFrame:
    """hhi_org = 10,000 · Σ_o s_o², s_o the namespace's share of all 30-day downloads in the view (0–10,000)."""
    s = pl.col("downloads_30d") / pl.col("downloads_30d").sum().over("view")
    out = (
        orgs.filter(pl.col("downloads_30d").sum().over("view") > 0)
        .group_by("view")
        .agg((10_000 * (s**2).sum()).alias("value"))
        .with_columns(pl.lit("all").alias("denominator"), pl.lit(None, pl.String).alias("country"))
    )
    return _long(out, month, "hhi_org")


def compute(aggregates: pl.DataFrame, tagged: pl.DataFrame, month: dt.date) -> pl.DataFrame:
    """The dominance_indices partition for `month`."""
    dl = download_share(aggregates, month)
    out = pl.concat([dl, china_us(dl, month), hhi_org(org_downloads(tagged), month)])
    return conform(out.sort("index", "view", "denominator", "country", nulls_last=True), DOMINANCE_INDICES)
