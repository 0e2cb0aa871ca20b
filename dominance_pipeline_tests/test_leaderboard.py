"""The monthly leaderboard on a small hand-ranked case."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from dominance_pipeline.metrics import leaderboard
from dominance_pipeline.origin.registry import load_registry
from dominance_pipeline.origin.tagging import tag
from dominance_pipeline_tests.test_indices import model, raw_frame

D = dt.date
APRIL = dt.date(2026, 4, 1)
MAY = dt.date(2026, 5, 1)

# May: Qwen/A 500, meta-llama/L 300, bartowski/A-GGUF (of Qwen/A) 150, someone/merge (Qwen/A + meta-llama/L) 100,
# deepseek-ai/D 50. April: meta-llama/L 400, Qwen/A 200, deepseek-ai/D 100 (bartowski and the merge did not exist).
NOW = [
    model("Qwen/A", D(2025, 1, 1), 500),
    model("meta-llama/L", D(2024, 1, 1), 300),
    model("bartowski/A-GGUF", D(2026, 5, 2), 150, ("Qwen/A",), "quantized"),
    model("someone/merge", D(2026, 5, 3), 100, ("Qwen/A", "meta-llama/L"), "merge"),
    model("deepseek-ai/D", D(2025, 1, 1), 50),
]
BEFORE = [model("meta-llama/L", D(2024, 1, 1), 400), model("Qwen/A", D(2025, 1, 1), 200), model("deepseek-ai/D", D(2025, 1, 1), 100)]


def board(top: int = 50) -> pl.DataFrame:
    reg = load_registry()
    now = tag(raw_frame(NOW, MAY), reg)[0]
    before = tag(raw_frame(BEFORE, APRIL, dt.datetime(2026, 4, 30, tzinfo=dt.UTC)), reg)[0]
    return leaderboard.leaderboard(now, before, MAY, top=top)


def rows(b: pl.DataFrame, name: str, view: str) -> list[dict]:
    return b.filter((pl.col("board") == name) & (pl.col("view") == view)).sort("rank").to_dicts()


def test_model_board_ranks_countries_and_changes():
    got = rows(board(), "model", "direct")
    assert [r["name"] for r in got] == ["Qwen/A", "meta-llama/L", "bartowski/A-GGUF", "someone/merge", "deepseek-ai/D"]
    assert [r["country"] for r in got] == ["CN", "US", "UNATTRIBUTED", "UNATTRIBUTED", "CN"]
    assert [r["share"] for r in got] == pytest.approx([500 / 1100, 300 / 1100, 150 / 1100, 100 / 1100, 50 / 1100])
    # April ranks: meta-llama/L 1, Qwen/A 2, deepseek-ai/D 3
    assert [r["previous_rank"] for r in got] == [2, 1, None, None, 3]
    assert [r["rank_change"] for r in got] == [1, -1, None, None, -2]
    lineage = rows(board(), "model", "lineage")
    # lineage: the GGUF is Chinese; the merge goes to its largest root (a tie, broken by root id: Qwen/A)
    assert [r["country"] for r in lineage] == ["CN", "US", "CN", "CN", "CN"]


def test_namespace_board_in_both_views():
    direct = rows(board(), "namespace", "direct")
    assert [(r["name"], r["downloads_30d"]) for r in direct] == [("Qwen", 500), ("meta-llama", 300), ("bartowski", 150), ("someone", 100), ("deepseek-ai", 50)]
    assert [r["country"] for r in direct] == ["CN", "US", "UNATTRIBUTED", "UNATTRIBUTED", "CN"]
    # April direct: meta-llama 400 (1), Qwen 200 (2), deepseek-ai 100 (3)
    assert [r["rank_change"] for r in direct] == [1, -1, None, None, -2]
    lineage = rows(board(), "namespace", "lineage")
    # roots: Qwen 500 + 150 + 50 = 700, meta-llama 300 + 50 = 350, deepseek-ai 50
    assert [(r["name"], r["downloads_30d"], r["country"]) for r in lineage] == [("Qwen", 700, "CN"), ("meta-llama", 350, "US"), ("deepseek-ai", 50, "CN")]
    assert [r["share"] for r in lineage] == pytest.approx([700 / 1100, 350 / 1100, 50 / 1100])


def test_top_n_and_no_previous_month():
    b = board(top=2)
    assert b.group_by("board", "view").agg(pl.len()).get_column("len").to_list() == [2, 2, 2, 2]
    reg = load_registry()
    alone = leaderboard.leaderboard(tag(raw_frame(NOW, MAY), reg)[0], None, MAY)
    assert alone.get_column("previous_rank").null_count() == alone.height
    assert alone.get_column("rank_change").null_count() == alone.height


def test_equal_downloads_share_a_rank():
    reg = load_registry()
    tied = [model("Qwen/A", D(2025, 1, 1), 100), model("meta-llama/L", D(2024, 1, 1), 100), model("deepseek-ai/D", D(2025, 1, 1), 50)]
    got = rows(leaderboard.leaderboard(tag(raw_frame(tied, MAY), reg)[0], None, MAY, top=1), "model", "direct")
    # both tied entries stay at the cut, in name order
    assert [(r["rank"], r["name"]) for r in got] == [(1, "Qwen/A"), (1, "meta-llama/L")]
    # Below a tie the next entry's rank counts every entry above it (competition ranking: 1, 1, 3, not 1, 1, 2).
    every = rows(leaderboard.leaderboard(tag(raw_frame(tied, MAY), reg)[0], None, MAY), "model", "direct")
    assert [(r["rank"], r["name"]) for r in every] == [(1, "Qwen/A"), (1, "meta-llama/L"), (3, "deepseek-ai/D")]


def test_entries_without_downloads_are_never_on_a_board():
    # 60 models without a download in a month with 5 downloaded ones: tied at a cut of 0, they would all stay.
    reg = load_registry()
    zeros = [model(f"someone-{i}/idle", D(2025, 1, 1), 0) for i in range(60)]
    b = leaderboard.leaderboard(tag(raw_frame(NOW + zeros, MAY), reg)[0], None, MAY)
    assert b.filter(pl.col("downloads_30d") == 0).is_empty()
    assert b.group_by("board", "view").agg(pl.len()).sort("board", "view").get_column("len").to_list() == [5, 5, 5, 3]


def test_previous_rank_is_the_rank_in_the_whole_previous_month_not_only_its_top():
    # Top 1 in May: Qwen/A (model) and Qwen (namespace). In April they ranked 2nd, below the April top 1,
    # and their previous rank is still 2 (climbed 1), not null.
    b = board(top=1)
    for name in ("model", "namespace"):
        got = rows(b, name, "direct")
        assert [(r["name"], r["rank"], r["previous_rank"], r["rank_change"]) for r in got] == [
            ("Qwen/A" if name == "model" else "Qwen", 1, 2, 1)
        ]


def test_shares_on_a_cut_board_are_of_the_whole_view_not_of_the_top():
    # top=2: Qwen/A 500 and meta-llama/L 300 of the view's 1,100 downloads (not of the 800 shown).
    got = rows(board(top=2), "model", "direct")
    assert [r["share"] for r in got] == pytest.approx([500 / 1100, 300 / 1100])
    lineage = rows(board(top=2), "namespace", "lineage")
    assert [r["share"] for r in lineage] == pytest.approx([700 / 1100, 350 / 1100])
