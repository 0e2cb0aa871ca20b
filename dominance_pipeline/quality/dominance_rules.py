"""Pure rules for the index set, the leaderboard and the time series, beyond quality.rules.index_rules.

index_rules checks what every share and HHI must satisfy (shares in [0, 1] summing to 1 per group, HHI in
[0, 10,000]); these add the bounds of the other indices and the leaderboard's ranking invariants.
"""

from __future__ import annotations

import polars as pl

from dominance_pipeline.quality.rules import SHARE_TOLERANCE as TOLERANCE
from dominance_pipeline.quality.rules import Failure, _failing, index_rules


def index_bound_rules(ix: pl.DataFrame) -> list[Failure]:
    labelled = ix.with_columns(pl.format("{} {} {} {}", "index", "view", "denominator", pl.col("country").fill_null("-")).alias("label"))
    index, value = pl.col("index"), pl.col("value")
    eps = TOLERANCE
    per_country = index.str.contains("share")
    out: list[Failure] = []
    out += _failing(labelled, "cr*_org and gini_org within [0, 1]", (index.str.starts_with("cr") | (index == "gini_org")) & ~value.is_between(-eps, 1 + eps), "label")
    out += _failing(labelled, "effective_orgs >= 1", (index == "effective_orgs") & (value < 1 - eps), "label")
    out += _failing(labelled, "china_us_ratio* >= 0", index.str.starts_with("china_us_ratio") & (value < 0), "label")
    out += _failing(labelled, "china_us_gap* within [-1, 1]", index.str.starts_with("china_us_gap") & ~value.is_between(-1 - eps, 1 + eps), "label")
    out += _failing(labelled, "country set exactly for *_share indices", per_country != pl.col("country").is_not_null(), "label")
    unattributed = (pl.col("denominator") == "attributed") & (pl.col("country") == "UNATTRIBUTED")
    out += _failing(labelled, "attributed denominator has no UNATTRIBUTED row", unattributed, "label")
    dup = pl.struct("index", "view", "denominator", "country").is_duplicated()
    out += _failing(labelled, "one row per (index, view, denominator, country)", dup, "label")
    return out


def leaderboard_rules(board: pl.DataFrame, top: int) -> list[Failure]:
    labelled = board.with_columns(pl.format("{} {} #{} {}", "board", "view", "rank", "name").alias("label"))
    group = ["board", "view"]
    out: list[Failure] = []
    ahead = pl.col("downloads_30d").rank("min", descending=True).over(group)
    out += _failing(labelled, "rank = 1 + entries with more downloads (ties share a rank)", pl.col("rank") != ahead, "label")
    out += _failing(labelled, f"ranks within the top {top}", pl.col("rank") > top, "label")
    out += _failing(labelled, "one entry per name per board and view", pl.struct(*group, "name").is_duplicated(), "label")
    out += _failing(labelled, "share within [0, 1]", ~pl.col("share").is_between(0, 1 + TOLERANCE), "label")
    wrong_change = (pl.col("rank_change") != pl.col("previous_rank") - pl.col("rank")).fill_null(False)
    wrong_change = wrong_change | (pl.col("rank_change").is_null() != pl.col("previous_rank").is_null())
    out += _failing(labelled, "rank_change = previous_rank - rank", wrong_change, "label")
    return out


def timeseries_rules(ts: pl.DataFrame) -> list[Failure]:
    """Every month of the series passes the monthly index rules (named with their month)."""
    out: list[Failure] = []
    for (month,), rows in ts.group_by("month", maintain_order=True):
        for f in index_rules(rows) + index_bound_rules(rows):
            out.append(Failure(f"{month:%Y-%m}: {f.rule}", f.unexpected_count, f.sample))
    return out
