"""The monthly leaderboard: which models and which organisations carry each country's share.

Two boards per view, ranked by 30-day downloads:
- `model`: each model, credited to its uploader's country (`direct`) or to its main root's country
  (`lineage`; for a merge, the root with the largest weight). The ranking is the same in both views.
- `namespace`: each organisation's downloads, the uploader's namespace (`direct`) or the root's namespace
  (`lineage`, a merge split among its roots by weight), as in the concentration indices.
`share` is the entry's part of the view's 30-day downloads. Ranks are competition ranks (equal downloads
share a rank). `previous_rank` is the entry's rank in the whole previous month (not only its top 50), so a
climb from 73rd to 40th shows as +33; it is null when the entry was not in the previous listing or that
month was not materialized. `rank_change` = previous_rank − rank (positive = climbed).
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from dominance_pipeline.metrics.concentration import namespace_countries, org_downloads
from dominance_pipeline.schemas import MONTHLY_LEADERBOARD, conform

TOP = 50


def _ranked(entries: pl.DataFrame, top: int | None = None, names: pl.Series | None = None) -> pl.DataFrame:
    """Entries (name, downloads_30d, ...) with share and rank; none if they have no downloads at all.

    Competition ranking: equal downloads share a rank (1, 2, 2, 4), so no tie is broken arbitrarily and a
    numeric rank over millions of entries needs no string sort. With `top`, only entries ranked `top` or
    better are returned: those with downloads and at least the `top`-th largest. Every entry above one of
    them is kept too, so their ranks are their ranks among all entries, and only the kept ones are ranked
    (a top-k pass instead of a sort of millions). With `names`, only those entries are returned, each
    ranked among all: 1 + how many entries have more downloads, found in the sorted downloads.
    """
    total = entries.get_column("downloads_30d").sum()
    if not total:
        return entries.clear().with_columns(pl.lit(None, pl.Float64).alias("share"), pl.lit(None, pl.Int32).alias("rank"))
    if top is not None:
        # An entry without downloads carries none of any share: never on a board (a month with fewer than
        # `top` downloaded entries would otherwise list every one of its thousands of zeros, tied at the cut).
        entries = entries.filter(pl.col("downloads_30d") > 0)
        if entries.height > top:
            cut = entries.get_column("downloads_30d").top_k(top).min()
            entries = entries.filter(pl.col("downloads_30d") >= cut)
    if names is not None:
        ordered = entries.get_column("downloads_30d").sort()
        kept = entries.filter(pl.col("name").is_in(names.implode()))
        above = ordered.len() - ordered.search_sorted(kept.get_column("downloads_30d"), side="right")
        return kept.with_columns((pl.col("downloads_30d") / total).alias("share"), (above + 1).cast(pl.Int32).alias("rank"))
    return entries.with_columns(
        (pl.col("downloads_30d") / total).alias("share"),
        pl.col("downloads_30d").rank("min", descending=True).cast(pl.Int32).alias("rank"),
    )


def rankings(tagged: pl.DataFrame, top: int | None = None, names: pl.Series | None = None) -> pl.DataFrame:
    """Every model and namespace ranked, per view: board, view, name, country, downloads_30d, share, rank.

    With `top`, only the entries ranked `top` or better (ties at the cut included); with `names`, only the
    entries of those names (see `_ranked`).
    """
    models = _ranked(
        tagged.select(
            pl.col("model_id").alias("name"),
            pl.col("downloads_30d").fill_null(0).cast(pl.Float64),
            pl.col("org_country").alias("direct"),
            pl.col("root_country").alias("lineage"),
        ),
        top,
        names,
    )
    orgs = org_downloads(tagged).rename({"namespace": "name"})
    cols = ["board", "view", "name", "country", "downloads_30d", "share", "rank"]
    frames = [
        models.select(pl.lit("model").alias("board"), pl.lit(view).alias("view"), pl.col(view).alias("country"), pl.exclude("direct", "lineage")).select(cols)
        for view in ("direct", "lineage")
    ]
    boards = pl.concat([_ranked(orgs.filter(pl.col("view") == view), top, names) for view in ("direct", "lineage")])
    countries = namespace_countries(tagged, boards.get_column("name").unique()).rename({"namespace": "name"})
    frames.append(boards.join(countries, on=["view", "name"], how="left", nulls_equal=True).with_columns(pl.lit("namespace").alias("board")).select(cols))
    return pl.concat(frames)


def leaderboard(tagged: pl.DataFrame, previous: pl.DataFrame | None, month: dt.date, top: int = TOP) -> pl.DataFrame:
    """The monthly_leaderboard partition: the `top` models and namespaces per view, with rank changes.

    Entries tied at the cut all stay, so a board can have a few more than `top` rows. `previous` is the
    previous month's origin-tagged models (None or empty when that month is not materialized).
    """
    now = rankings(tagged, top)
    keys = ["board", "view", "name"]
    if previous is None or previous.is_empty():
        before = pl.DataFrame(schema={**{k: pl.String for k in keys}, "previous_rank": pl.Int32})
    else:
        before = rankings(previous, names=now.get_column("name").unique()).select(*keys, pl.col("rank").alias("previous_rank"))
    out = now.join(before, on=keys, how="left").with_columns(
        pl.lit(month, pl.Date).alias("month"),
        (pl.col("previous_rank") - pl.col("rank")).alias("rank_change"),
    )
    return conform(out.select(MONTHLY_LEADERBOARD.names).sort("board", "view", "rank", "name"), MONTHLY_LEADERBOARD)
