"""The monthly leaderboard: which models and which organisations carry each country's share.

Two boards per view, ranked by 30-day downloads:
- `model`: each model, credited to its uploader's country (`direct`) or to its main root's country
  (`lineage`; for a merge, the root with the largest weight). The ranking is the same in both views.
- `namespace`: each organisation's downloads, the uploader's namespace (`direct`) or the root's namespace
  (`lineage`, a merge split equally among its roots), as in the concentration indices.
`share` is the entry's part of the view's 30-day downloads. Ranks are competition ranks (equal downloads
share a rank). `previous_rank` is the entry's rank in the whole previous month (not only its top 50), so a
climb from 73rd to 40th shows as +33; it is null when the entry was not in the previous listing or that
month was not materialized. `rank_change` = previous_rank − rank (positive = climbed).
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from dominance_pipeline.metrics.concentration import org_downloads
from dominance_pipeline.schemas import MONTHLY_LEADERBOARD, conform

TOP = 50


def _ranked(entries: pl.DataFrame) -> pl.DataFrame:
    """Entries (name, downloads_30d, ...) with share and rank; none if they have no downloads at all.

    Competition ranking: equal downloads share a rank (1, 2, 2, 4), so no tie is broken arbitrarily and a
    numeric rank over millions of entries needs no string sort.
    """
    total = entries.get_column("downloads_30d").sum()
    if not total:
        return entries.clear().with_columns(pl.lit(None, pl.Float64).alias("share"), pl.lit(None, pl.Int32).alias("rank"))
    return entries.with_columns(
        (pl.col("downloads_30d") / total).alias("share"),
        pl.col("downloads_30d").rank("min", descending=True).cast(pl.Int32).alias("rank"),
    )


def rankings(tagged: pl.DataFrame) -> pl.DataFrame:
    """Every model and namespace ranked, per view: board, view, name, country, downloads_30d, share, rank."""
    models = _ranked(
        tagged.select(
            pl.col("model_id").alias("name"),
            pl.col("downloads_30d").fill_null(0).cast(pl.Float64),
            pl.col("org_country").alias("direct"),
            pl.col("root_country").alias("lineage"),
        )
    )
    orgs = org_downloads(tagged).rename({"namespace": "name"})
    cols = ["board", "view", "name", "country", "downloads_30d", "share", "rank"]
    frames = [
        models.select(pl.lit("model").alias("board"), pl.lit(view).alias("view"), pl.col(view).alias("country"), pl.exclude("direct", "lineage")).select(cols)
        for view in ("direct", "lineage")
    ]
    frames += [
        _ranked(orgs.filter(pl.col("view") == view)).with_columns(pl.lit("namespace").alias("board")).select(cols)
        for view in ("direct", "lineage")
    ]
    return pl.concat(frames)


def leaderboard(tagged: pl.DataFrame, previous: pl.DataFrame | None, month: dt.date, top: int = TOP) -> pl.DataFrame:
    """The monthly_leaderboard partition: the `top` models and namespaces per view, with rank changes.

    Entries tied at the cut all stay, so a board can have a few more than `top` rows. `previous` is the
    previous month's origin-tagged models (None or empty when that month is not materialized).
    """
    now = rankings(tagged).filter(pl.col("rank") <= top)
    keys = ["board", "view", "name"]
    if previous is None or previous.is_empty():
        before = pl.DataFrame(schema={**{k: pl.String for k in keys}, "previous_rank": pl.Int32})
    else:
        names = now.get_column("name").unique().implode()
        before = rankings(previous).filter(pl.col("name").is_in(names)).select(*keys, pl.col("rank").alias("previous_rank"))
    out = now.join(before, on=keys, how="left").with_columns(
        pl.lit(month, pl.Date).alias("month"),
        (pl.col("previous_rank") - pl.col("rank")).alias("rank_change"),
    )
    return conform(out.select(MONTHLY_LEADERBOARD.names).sort("board", "view", "rank", "name"), MONTHLY_LEADERBOARD)
