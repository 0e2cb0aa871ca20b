"""Aggregates and indices on a small hand-computed case."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from dominance_pipeline.metrics import aggregates, indices
from dominance_pipeline.origin.registry import load_registry
from dominance_pipeline.origin.tagging import tag
from dominance_pipeline.schemas import RAW_HUB_LISTINGS

MONTH = dt.date(2026, 5, 1)
SNAP = dt.datetime(2026, 5, 31, tzinfo=dt.UTC)


def raw(rows: list[tuple[str, int, list[str], dt.datetime | None]]) -> pl.DataFrame:
    df = pl.DataFrame(
        {
            "model_id": [r[0] for r in rows],
            "downloads_30d": [r[1] for r in rows],
            "base_model_ids": [r[2] for r in rows],
            "created_at": [r[3] for r in rows],
        },
        schema_overrides={"base_model_ids": pl.List(pl.String), "created_at": pl.Datetime("us", "UTC")},
    )
    filled = {c: pl.lit(None, t) for c, t in RAW_HUB_LISTINGS.columns.items() if c not in df.columns}
    return df.with_columns(
        **filled,
    ).with_columns(
        pl.col("model_id").str.split("/").list.first().alias("author"),
        pl.lit(MONTH).alias("month"),
        pl.lit(SNAP).alias("snapshot_at"),
        pl.lit("test").alias("source"),
    ).select(RAW_HUB_LISTINGS.names)


# Qwen (CN) 600, meta-llama (US) 200, bartowski quant of Qwen 100 (UNATTRIBUTED uploader), a merge of
# Qwen and Llama by an unknown user 100 (new this month), an unknown original 0.
CASE = [
    ("Qwen/Q", 600, [], dt.datetime(2025, 1, 1, tzinfo=dt.UTC)),
    ("meta-llama/L", 200, [], dt.datetime(2024, 1, 1, tzinfo=dt.UTC)),
    ("bartowski/Q-GGUF", 100, ["Qwen/Q"], dt.datetime(2026, 5, 3, tzinfo=dt.UTC)),
    ("someone/merge", 100, ["Qwen/Q", "meta-llama/L"], dt.datetime(2026, 5, 20, tzinfo=dt.UTC)),
    ("someone/orig", 0, [], None),
]


@pytest.fixture(scope="module")
def tagged() -> pl.DataFrame:
    return tag(raw(CASE), load_registry())[0]


def by(df: pl.DataFrame, *keys: str) -> dict:
    return {tuple(r[k] for k in keys): r for r in df.iter_rows(named=True)}


def test_aggregates_by_view(tagged):
    agg = by(aggregates.aggregate(tagged, MONTH), "view", "country")
    assert agg[("direct", "CN")]["downloads_30d"] == 600
    assert agg[("direct", "US")]["downloads_30d"] == 200
    assert agg[("direct", "UNATTRIBUTED")]["downloads_30d"] == 200
    assert agg[("direct", "UNATTRIBUTED")]["models"] == 3
    assert agg[("direct", "UNATTRIBUTED")]["new_models"] == 2
    # lineage: the quant counts for CN; the merge splits 50/50; the unknown original stays unattributed
    assert agg[("lineage", "CN")]["downloads_30d"] == 600 + 100 + 50
    assert agg[("lineage", "US")]["downloads_30d"] == 200 + 50
    assert agg[("lineage", "CN")]["models"] == pytest.approx(2.5)
    assert agg[("lineage", "CN")]["new_models"] == pytest.approx(1.5)
    assert agg[("lineage", "UNATTRIBUTED")]["models"] == 1


def test_aggregates_of_counts_the_listing_lacks_are_null_not_zero(tagged):
    without = tagged.with_columns(pl.lit(None, pl.Int64).alias("downloads_all_time"))
    agg = aggregates.aggregate(without, MONTH)
    assert agg.get_column("downloads_all_time").null_count() == agg.height
    assert agg.drop("downloads_all_time").equals(aggregates.aggregate(tagged, MONTH).drop("downloads_all_time"))


def test_download_share_both_denominators(tagged):
    ix = indices.compute(tagged, MONTH).table
    s = {k: r["value"] for k, r in by(ix.filter(pl.col("index") == "download_share"), "view", "denominator", "country").items()}
    assert s[("direct", "all", "CN")] == pytest.approx(0.6)
    assert s[("direct", "all", "UNATTRIBUTED")] == pytest.approx(0.2)
    assert s[("direct", "attributed", "CN")] == pytest.approx(0.75)
    assert s[("direct", "attributed", "US")] == pytest.approx(0.25)
    assert ("direct", "attributed", "UNATTRIBUTED") not in s
    assert s[("lineage", "all", "CN")] == pytest.approx(0.75)
    assert s[("lineage", "all", "US")] == pytest.approx(0.25)
    ratio = {k: r["value"] for k, r in by(ix.filter(pl.col("index") == "china_us_ratio"), "view", "denominator").items()}
    assert ratio[("direct", "all")] == pytest.approx(3.0)
    assert ratio[("lineage", "attributed")] == pytest.approx(3.0)
    gap = {k: r["value"] for k, r in by(ix.filter(pl.col("index") == "china_us_gap"), "view", "denominator").items()}
    assert gap[("direct", "all")] == pytest.approx(0.4)


def test_hhi_org_hand_computed(tagged):
    ix = indices.compute(tagged, MONTH).table
    hhi = {r["view"]: r["value"] for r in ix.filter(pl.col("index") == "hhi_org").iter_rows(named=True)}
    # direct: Qwen .6, meta-llama .2, bartowski .1, someone .1
    assert hhi["direct"] == pytest.approx(10_000 * (0.36 + 0.04 + 0.01 + 0.01))
    # lineage by root namespace: Qwen .75, meta-llama .25, someone (the orig, 0 downloads) 0
    assert hhi["lineage"] == pytest.approx(10_000 * (0.75**2 + 0.25**2))


def test_empty_denominator_gives_no_rows():
    t = tag(raw([("someone/x", 0, [], None)]), load_registry())[0]
    result = indices.compute(t, MONTH)
    ix = result.table
    assert ix.filter(pl.col("index") == "download_share").is_empty()
    assert ix.filter(pl.col("index") == "china_us_ratio").is_empty()
    assert ix.filter(pl.col("index") == "hhi_org").is_empty()
    assert result.absent["download_share"] == "no 30-day downloads in the listing"


def test_aggregates_sum_the_likes_that_are_known_when_only_some_models_have_them(tagged):
    # Likes known for Qwen/Q (7) and bartowski/Q-GGUF (4) only. Direct UNATTRIBUTED (bartowski, merge, orig):
    # 4, not null; direct US (meta-llama/L alone, no count): null. Lineage CN: Qwen/Q 7 + the GGUF 4 (the
    # merge's half has no count) = 11.
    likes = pl.col("model_id").replace_strict({"Qwen/Q": 7, "bartowski/Q-GGUF": 4}, default=None, return_dtype=pl.Int64)
    agg = by(aggregates.aggregate(tagged.with_columns(likes.alias("likes")), MONTH), "view", "country")
    assert agg[("direct", "UNATTRIBUTED")]["likes"] == 4
    assert agg[("direct", "CN")]["likes"] == 7
    assert agg[("direct", "US")]["likes"] is None
    assert agg[("lineage", "CN")]["likes"] == pytest.approx(11)
