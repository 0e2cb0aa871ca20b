"""Every index formula on one small case whose expected values are worked out by hand in the comments.

The case (month 2026-05, snapshot 2026-05-31; Qwen = CN, meta-llama = US, someone and bartowski unknown):

  #  model                created     30d    base (relation)                    all-time  prev  likes trend task
  1  Qwen/A               2026-05-10  5000   -                                  9000      -     10    4     text-generation
  2  Qwen/B               2026-05-12   200   -                                   300      -      0    0     text-generation
  3  meta-llama/C         2026-05-02  1000   -                                  5000      -     30    6     text-generation
  4  meta-llama/Old       2024-01-01  4000   -                                100000  96000     60    0     text-generation
  5  someone/ft           2026-05-20    10   Qwen/A (finetune)                    10      -      0    0     text-generation
  6  bartowski/A-GGUF     2026-05-21     6   Qwen/A (quantized, gguf)              6      -      0    0     text-generation
  7  someone/merge        2026-05-22   100   Qwen/A + meta-llama/C (merge)       100      -      0    0     text-generation
  8  someone/tiny         2026-05-23     5   meta-llama/Old (adapter)              5      -      0    0     text-generation
  9  someone/orig         2026-05-25     0   -                                     0      -      0    0     text-generation
 10  meta-llama/Reset     2025-09-01   300   -                                    50     80      0    0     feature-extraction

The previous listing also holds gone/x (vanished since), which must not matter.
"""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from dominance_pipeline.metrics import aggregates, concentration, indices
from dominance_pipeline.origin.registry import load_registry
from dominance_pipeline.origin.tagging import tag
from dominance_pipeline.schemas import RAW_HUB_LISTINGS

MONTH = dt.date(2026, 5, 1)
SNAP = dt.datetime(2026, 5, 31, tzinfo=dt.UTC)
TEXT = "text-generation"


def model(model_id: str, created: dt.date | None, dl: int, base: tuple[str, ...] = (), relation: str | None = None, **kw) -> dict:
    row = {
        "model_id": model_id,
        "created_at": dt.datetime(created.year, created.month, created.day, tzinfo=dt.UTC) if created else None,
        "downloads_30d": dl,
        "base_model_ids": list(base),
        "base_relation": relation,
        "downloads_all_time": kw.get("all_time", dl),
        "likes": kw.get("likes", 0),
        "trending_score": float(kw.get("trend", 0)),
        "pipeline_tag": kw.get("task", TEXT),
        "tags": kw.get("tags", []),
    }
    return row


def raw_frame(models: list[dict], month: dt.date = MONTH, snap: dt.datetime = SNAP) -> pl.DataFrame:
    df = pl.DataFrame(models, schema_overrides={c: RAW_HUB_LISTINGS.columns[c] for c in models[0]})
    missing = {c: pl.lit(None, t) for c, t in RAW_HUB_LISTINGS.columns.items() if c not in df.columns}
    return (
        df.with_columns(**missing)
        .with_columns(
            pl.col("model_id").str.split("/").list.first().alias("author"),
            (pl.col("tags").list.contains("gguf") | pl.col("tags").list.contains("mlx")).alias("repack_format"),
            pl.lit(month).alias("month"),
            pl.lit(snap).alias("snapshot_at"),
            pl.lit("test").alias("source"),
        )
        .select(RAW_HUB_LISTINGS.names)
    )


D = dt.date
CASE = [
    model("Qwen/A", D(2026, 5, 10), 5000, all_time=9000, likes=10, trend=4),
    model("Qwen/B", D(2026, 5, 12), 200, all_time=300),
    model("meta-llama/C", D(2026, 5, 2), 1000, all_time=5000, likes=30, trend=6),
    model("meta-llama/Old", D(2024, 1, 1), 4000, all_time=100_000, likes=60),
    model("someone/ft", D(2026, 5, 20), 10, ("Qwen/A",), "finetune"),
    model("bartowski/A-GGUF", D(2026, 5, 21), 6, ("Qwen/A",), "quantized", tags=["gguf"]),
    model("someone/merge", D(2026, 5, 22), 100, ("Qwen/A", "meta-llama/C"), "merge"),
    model("someone/tiny", D(2026, 5, 23), 5, ("meta-llama/Old",), "adapter"),
    model("someone/orig", D(2026, 5, 25), 0),
    model("meta-llama/Reset", D(2025, 9, 1), 300, all_time=50, task="feature-extraction"),
]
PREVIOUS = pl.DataFrame(
    {"model_id": ["meta-llama/Old", "meta-llama/Reset", "gone/x"], "downloads_all_time": [96_000, 80, 500]}
)


@pytest.fixture(scope="module")
def tagged() -> pl.DataFrame:
    return tag(raw_frame(CASE), load_registry())[0]


@pytest.fixture(scope="module")
def result(tagged) -> indices.IndexResult:
    return indices.compute(tagged, MONTH, PREVIOUS)


def values(result: indices.IndexResult, index: str) -> dict[tuple, float]:
    rows = result.table.filter(pl.col("index") == index)
    return {(v, d, c): x for v, d, c, x in rows.select("view", "denominator", "country", "value").iter_rows()}


def check(got: dict[tuple, float], expected: dict[tuple, float], complete: bool = True) -> None:
    """Every expected (view, denominator, country) value is there; if `complete`, other rows are zero-valued."""
    for key, value in expected.items():
        assert got[key] == pytest.approx(value, abs=1e-12), key
    for key in set(got) - set(expected) if complete else ():
        assert got[key] == 0, key


def test_download_share(result):
    # CN 5000 + 200; US 1000 + 4000 + 300; UNATTRIBUTED 10 + 6 + 100 + 5 + 0; total 10,621.
    # Lineage: the finetune and the GGUF go to CN, the merge half and half, the adapter to US.
    check(
        values(result, "download_share"),
        {
            ("direct", "all", "CN"): 5200 / 10621,
            ("direct", "all", "US"): 5300 / 10621,
            ("direct", "all", "UNATTRIBUTED"): 121 / 10621,
            ("direct", "attributed", "CN"): 5200 / 10500,
            ("direct", "attributed", "US"): 5300 / 10500,
            ("lineage", "all", "CN"): (5200 + 10 + 6 + 50) / 10621,
            ("lineage", "all", "US"): (5300 + 50 + 5) / 10621,
            ("lineage", "attributed", "CN"): 5266 / 10621,
            ("lineage", "attributed", "US"): 5355 / 10621,
        },
    )


def test_download_delta_share(result):
    # New in the listing: their whole all-time count (9000, 300, 5000, 10, 6, 100, 5, 0). meta-llama/Old:
    # 100,000 - 96,000 = 4,000. meta-llama/Reset: 50 - 80 < 0, a counter reset, counts 0.
    # Direct: CN 9,300; US 5,000 + 4,000 = 9,000; UNATTRIBUTED 121; total 18,421.
    check(
        values(result, "download_delta_share"),
        {
            ("direct", "all", "CN"): 9300 / 18421,
            ("direct", "all", "US"): 9000 / 18421,
            ("direct", "all", "UNATTRIBUTED"): 121 / 18421,
            ("direct", "attributed", "CN"): 9300 / 18300,
            ("lineage", "all", "CN"): (9300 + 10 + 6 + 50) / 18421,
            ("lineage", "all", "US"): (9000 + 50 + 5) / 18421,
        },
        complete=False,
    )
    assert result.notes["download_delta"] == {"counter_resets": 1, "new_in_listing": 8, "gaps": 0, "without_all_time_count": 0}


def test_download_delta_absent_without_previous_month(tagged):
    out = indices.compute(tagged, MONTH, None, "no previous month: 2024-07 is the first partition")
    assert out.table.filter(pl.col("index").str.contains("download_delta")).is_empty()
    assert out.absent["download_delta_share"] == "no previous month: 2024-07 is the first partition"


def test_a_model_missing_from_the_previous_listing_but_older_is_a_gap_not_a_month_of_its_whole_history():
    # April's listing was taken on April 30 at noon. Qwen/Late was created after it: all its 700 downloads
    # are May's. meta-llama/Hidden dates from 2024 but was not in April's listing (private for a while): its
    # 1,000,000 all-time downloads are not May's, and it counts nothing. Qwen/Kept: 900 - 800.
    now = [
        model("Qwen/Late", D(2026, 4, 30), 10, all_time=700),
        model("meta-llama/Hidden", D(2024, 1, 1), 10, all_time=1_000_000),
        model("Qwen/Kept", D(2025, 1, 1), 10, all_time=900),
    ]
    t = tag(raw_frame(now).with_columns(created_at=pl.col("created_at").dt.offset_by("18h")), load_registry())[0]
    april = pl.DataFrame({"model_id": ["Qwen/Kept"], "downloads_all_time": [800]}).with_columns(
        snapshot_at=pl.lit(dt.datetime(2026, 4, 30, 12, tzinfo=dt.UTC))
    )
    out = indices.compute(t, MONTH, april)
    # CN: 700 + 100 = 800 of 800 in every view and denominator; US (the gap) 0.
    check(values(out, "download_delta_share"), {(v, d, "CN"): 1.0 for v in ("direct", "lineage") for d in ("all", "attributed")})
    assert out.notes["download_delta"] == {"counter_resets": 0, "new_in_listing": 1, "gaps": 1, "without_all_time_count": 0}


def test_download_delta_absent_when_the_previous_month_has_no_all_time_counts(tagged):
    # Without the previous counts every model in both listings would count 0 and every new one its whole
    # count (CN would hold 9,300 of 9,421 here): no rows and a reason instead.
    previous = PREVIOUS.with_columns(pl.lit(None, pl.Int64).alias("downloads_all_time"))
    out = indices.compute(tagged, MONTH, previous)
    assert out.table.filter(pl.col("index").str.contains("download_delta")).is_empty()
    assert out.absent["download_delta_share"] == "the previous month's listing has no all-time download counts"
    assert values(out, "download_share") == values(indices.compute(tagged, MONTH, PREVIOUS), "download_share")


def test_an_empty_listing_names_every_share_index_absent():
    empty = tag(raw_frame(CASE).clear(), load_registry())[0]
    out = indices.compute(empty, MONTH, PREVIOUS)
    assert out.table.is_empty()
    assert out.absent == dict.fromkeys(indices.EMPTY_REASONS, "the listing has no models")
    assert out.notes["robust_cap_downloads_30d"] == 0.0  # no downloads at all: no cap, not a made-up one


def test_new_model_and_new_notable_share(result):
    # Originals created in May: Qwen/A, Qwen/B, meta-llama/C, someone/orig -> CN 2, US 1, UNATTRIBUTED 1.
    # Notable (>= 1,000 downloads): Qwen/A (5,000) and meta-llama/C (exactly 1,000).
    for view in ("direct", "lineage"):
        check(
            {k: v for k, v in values(result, "new_model_share").items() if k[0] == view},
            {(view, "all", "CN"): 2 / 4, (view, "all", "US"): 1 / 4, (view, "all", "UNATTRIBUTED"): 1 / 4,
             (view, "attributed", "CN"): 2 / 3, (view, "attributed", "US"): 1 / 3},
        )
        check(
            {k: v for k, v in values(result, "new_notable_share").items() if k[0] == view},
            {(view, "all", "CN"): 0.5, (view, "all", "US"): 0.5, (view, "attributed", "CN"): 0.5, (view, "attributed", "US"): 0.5},
        )


def test_derivative_share_total_and_per_relation(result):
    # Created in May with a base model and > 5 downloads: someone/ft (10), the GGUF (6), the merge (100);
    # someone/tiny has exactly 5 and is left out. Roots: CN, CN, CN/US half each -> CN 2.5 of 3.
    check(
        values(result, "derivative_share"),
        {("lineage", "all", "CN"): 2.5 / 3, ("lineage", "all", "US"): 0.5 / 3,
         ("lineage", "attributed", "CN"): 2.5 / 3, ("lineage", "attributed", "US"): 0.5 / 3},
    )
    assert values(result, "derivative_share_finetune")[("lineage", "all", "CN")] == 1.0
    assert values(result, "derivative_share_quantized")[("lineage", "all", "CN")] == 1.0
    merge = values(result, "derivative_share_merge")
    assert merge[("lineage", "all", "CN")] == merge[("lineage", "all", "US")] == 0.5
    assert not values(result, "derivative_share_adapter")
    assert "no adapter derivative created in 2026-05" in result.absent["derivative_share_adapter"]
    assert not result.table.filter(pl.col("index").str.starts_with("derivative") & (pl.col("view") == "direct")).height


def test_a_closed_cycle_is_derivatives_not_originals():
    # c1 and c2 name each other (no way out: each is its own root, at depth 0) but both declare a base model:
    # derivatives of their own (UNATTRIBUTED) country; Qwen/N is the month's only original.
    cycle = [
        model("Qwen/N", D(2026, 5, 3), 50),
        model("someone/c1", D(2026, 5, 4), 10, ("someone/c2",), "finetune"),
        model("someone/c2", D(2026, 5, 5), 10, ("someone/c1",), "finetune"),
    ]
    t = tag(raw_frame(cycle), load_registry())[0]
    assert t.filter(pl.col("lineage_status") == "cycle").get_column("lineage_depth").to_list() == [0, 0]
    out = indices.compute(t, MONTH)
    check(values(out, "new_model_share"), {(v, d, "CN"): 1.0 for v in ("direct", "lineage") for d in ("all", "attributed")})
    check(values(out, "derivative_share"), {("lineage", "all", "UNATTRIBUTED"): 1.0})


def test_vintage_share(result):
    # At most 12 months old at 2026-05-31: everything but meta-llama/Old (2024). Direct: CN 5,200;
    # US 1,000 + 300; UNATTRIBUTED 121; total 6,621.
    check(
        {k: v for k, v in values(result, "vintage_share").items() if k[:2] == ("direct", "all")},
        {("direct", "all", "CN"): 5200 / 6621, ("direct", "all", "US"): 1300 / 6621, ("direct", "all", "UNATTRIBUTED"): 121 / 6621},
    )


def test_robust_share(result):
    # Cap: the 99.9th percentile (linear) of the ten 30-day counts 0, 5, 6, 10, 100, 200, 300, 1000, 4000,
    # 5000 is at position 9 x 0.999 = 8.991: 4000 + 0.991 x 1000 = 4,991, so Qwen/A counts 4,991.
    # meta-llama/Reset is not text-generation. Direct view drops the GGUF repackage:
    #   CN 4,991 + 200; US 1,000 + 4,000; UNATTRIBUTED 10 + 100 + 5; total 10,306.
    # Lineage keeps it, credited to its root: CN 4,991 + 200 + 10 + 6 + 50; US 5,000 + 50 + 5; total 10,312.
    assert result.notes["robust_cap_downloads_30d"] == pytest.approx(4991)
    check(
        {k: v for k, v in values(result, "robust_share").items() if k[1] == "all"},
        {("direct", "all", "CN"): 5191 / 10306, ("direct", "all", "US"): 5000 / 10306, ("direct", "all", "UNATTRIBUTED"): 115 / 10306,
         ("lineage", "all", "CN"): 5257 / 10312, ("lineage", "all", "US"): 5055 / 10312},
    )


def test_likes_and_trending_share(result):
    # Likes: CN 10, US 30 + 60. Trending: CN 4, US 6.
    assert values(result, "likes_share")[("direct", "all", "CN")] == pytest.approx(0.1)
    assert values(result, "likes_share")[("direct", "all", "US")] == pytest.approx(0.9)
    assert values(result, "trending_share")[("lineage", "attributed", "US")] == pytest.approx(0.6)


def test_china_us_ratio_and_gap_per_family(result):
    # new_model: CN 1/2 vs US 1/4; derivative: 2.5/3 vs 0.5/3; downloads (direct): 5,200 vs 5,300.
    assert values(result, "china_us_ratio_new_model")[("direct", "all", None)] == pytest.approx(2.0)
    assert values(result, "china_us_gap_new_model")[("direct", "all", None)] == pytest.approx(0.25)
    assert values(result, "china_us_ratio_derivative")[("lineage", "all", None)] == pytest.approx(5.0)
    assert values(result, "china_us_ratio")[("direct", "attributed", None)] == pytest.approx(5200 / 5300)
    assert values(result, "china_us_gap")[("direct", "all", None)] == pytest.approx(-100 / 10621)


def test_concentration(result):
    # Direct namespaces: Qwen 5,200, meta-llama 5,300, someone 115, bartowski 6 (total 10,621).
    orgs = [5200, 5300, 115, 6]
    s = [x / 10621 for x in orgs]
    hhi = 10_000 * sum(x * x for x in s)
    mean = sum(orgs) / len(orgs)
    gini = sum(abs(a - b) for a in orgs for b in orgs) / (2 * len(orgs) ** 2 * mean)
    got = {i: values(result, i)[("direct", "all", None)] for i in ("hhi_org", "effective_orgs", "cr5_org", "cr10_org", "gini_org")}
    assert got["hhi_org"] == pytest.approx(hhi)
    assert got["effective_orgs"] == pytest.approx(10_000 / hhi)
    assert got["cr5_org"] == pytest.approx(1.0) and got["cr10_org"] == pytest.approx(1.0)
    assert got["gini_org"] == pytest.approx(gini)
    # hhi_country on the direct/all download shares CN, US, UNATTRIBUTED
    assert values(result, "hhi_country")[("direct", "all", None)] == pytest.approx(10_000 * ((5200**2 + 5300**2 + 121**2) / 10621**2))
    assert values(result, "hhi_country")[("direct", "attributed", None)] == pytest.approx(10_000 * ((5200**2 + 5300**2) / 10500**2))


def test_concentration_ratios_and_gini_on_twelve_namespaces():
    # Downloads 12, 11, ..., 1 (total 78): CR5 = (12+11+10+9+8)/78, CR10 = (78-2-1)/78.
    orgs = pl.DataFrame({"view": ["direct"] * 12, "namespace": [f"o{i}" for i in range(12)], "downloads_30d": [float(12 - i) for i in range(12)]})
    got = dict(concentration.org_indices(orgs).select("index", "value").iter_rows())
    assert got["cr5_org"] == pytest.approx(50 / 78)
    assert got["cr10_org"] == pytest.approx(75 / 78)
    xs = list(range(1, 13))
    assert got["gini_org"] == pytest.approx(sum(abs(a - b) for a in xs for b in xs) / (2 * 144 * (78 / 12)))
    # equal downloads: no concentration beyond the count itself
    equal = orgs.with_columns(pl.lit(5.0).alias("downloads_30d"))
    got = dict(concentration.org_indices(equal).select("index", "value").iter_rows())
    assert got["gini_org"] == pytest.approx(0.0, abs=1e-12)
    assert got["effective_orgs"] == pytest.approx(12)


def test_repackage_rule(tagged):
    flags = dict(tagged.select("model_id", indices.is_repackage()).iter_rows())
    assert flags["bartowski/A-GGUF"] and not flags["someone/ft"] and not flags["Qwen/A"]


def test_attributed_groups_have_no_unattributed_row_and_names_agree_with_the_rules(result):
    table = result.table
    assert table.filter((pl.col("denominator") == "attributed") & (pl.col("country") == "UNATTRIBUTED")).is_empty()
    per_country = table.filter(pl.col("country").is_not_null()).get_column("index").unique().to_list()
    assert all("share" in i for i in per_country)
    assert not [i for i in table.get_column("index").unique().to_list() if "share" in i and i not in per_country]


def test_an_empty_attributed_group_is_absent_with_a_reason():
    # Only unknown uploaders create originals this month: new_model_share exists under `all`, not `attributed`.
    t = tag(raw_frame([model("someone/x", D(2026, 5, 3), 10), model("Qwen/Old", D(2024, 1, 1), 50)]), load_registry())[0]
    out = indices.compute(t, MONTH)
    got = values(out, "new_model_share")
    assert got[("direct", "all", "UNATTRIBUTED")] == 1.0
    assert not [k for k in got if k[1] == "attributed"]
    assert out.absent["new_model_share"] == (
        "every counted model is UNATTRIBUTED (direct/attributed, lineage/attributed)"
    )


def test_a_negative_trending_score_counts_zero():
    t = tag(raw_frame([model("Qwen/A", D(2025, 1, 1), 10, trend=-5), model("meta-llama/B", D(2025, 1, 1), 10, trend=5)]), load_registry())[0]
    got = values(indices.compute(t, MONTH), "trending_share")
    assert got[("direct", "all", "CN")] == 0 and got[("direct", "all", "US")] == 1


def test_the_declared_columns_are_all_tag_compute_and_aggregate_read(tagged, result):
    """The assets load only tagging.RAW_COLUMNS / indices.COLUMNS / aggregates.COLUMNS: the same results from those alone."""
    from dominance_pipeline.origin.tagging import RAW_COLUMNS

    assert tag(raw_frame(CASE).select(RAW_COLUMNS), load_registry())[0].equals(tagged)
    assert indices.compute(tagged.select(indices.COLUMNS), MONTH, PREVIOUS).table.equals(result.table)
    assert aggregates.aggregate(tagged.select(aggregates.COLUMNS), MONTH).equals(aggregates.aggregate(tagged, MONTH))


# Boundary cases, each on a registry of its own (Qwen = CN, meta-llama = US, aws-neuron = US and a registry
# intermediary; anyone else UNATTRIBUTED) so that a change to the shipped registry cannot move them.


@pytest.fixture
def small_registry(tmp_path):
    from dominance_pipeline_tests.test_registry import row, write

    return load_registry(write(tmp_path, row("Qwen", "CN"), row("meta-llama", "US"), row("aws-neuron", "US", inter="true")))


def test_a_model_created_at_midnight_on_the_first_of_next_month_is_not_new(small_registry):
    # A May listing taken on 1 June at noon: the month is [May 1 00:00, June 1 00:00).
    raw = raw_frame(
        [
            model("Qwen/first-instant", D(2026, 5, 1), 10),  # the month's first instant: new
            model("Qwen/last-day", D(2026, 5, 31), 10),  # new
            model("meta-llama/june", D(2026, 6, 1), 10),  # June 1 00:00: not new in May
        ],
        snap=dt.datetime(2026, 6, 1, 12, tzinfo=dt.UTC),
    )
    tagged = tag(raw, small_registry)[0]
    agg = aggregates.aggregate(tagged, MONTH).filter(pl.col("view") == "direct")
    assert dict(agg.select("country", "new_models").iter_rows()) == {"CN": 2.0, "US": 0.0}
    share = values(indices.compute(tagged, MONTH), "new_model_share")
    assert share[("direct", "all", "CN")] == pytest.approx(1.0)
    assert ("direct", "all", "US") not in share or share[("direct", "all", "US")] == 0.0


def test_vintage_share_includes_a_model_created_exactly_twelve_months_before_the_snapshot(small_registry):
    # Snapshot 2026-05-31 00:00; twelve months before it is 2025-05-31 00:00, which is "at most 12 months old".
    raw = raw_frame(
        [
            model("Qwen/edge", D(2025, 5, 31), 100),  # exactly 12 months: counted
            model("meta-llama/older", D(2025, 5, 30), 100),  # a day older: not counted
            model("meta-llama/recent", D(2026, 5, 10), 100),  # counted
        ]
    )
    got = values(indices.compute(tag(raw, small_registry)[0], MONTH), "vintage_share")
    assert got[("direct", "all", "CN")] == pytest.approx(0.5)  # 100 of 200
    assert got[("direct", "all", "US")] == pytest.approx(0.5)


def test_vintage_share_measures_each_model_from_its_own_snapshot_time(small_registry):
    # One listing taken at two times (not what a source produces, but the schema allows it). Qwen/late was
    # listed 2026-06-30: twelve months before is 2025-06-30, so its 2025-06-15 creation is too old, though
    # it is young against the other row's 2026-05-31 snapshot.
    early = raw_frame([model("meta-llama/recent", D(2026, 5, 10), 100)])
    late = raw_frame([model("Qwen/late", D(2025, 6, 15), 300)], snap=dt.datetime(2026, 6, 30, tzinfo=dt.UTC))
    tagged = tag(pl.concat([early, late]), small_registry)[0]
    assert indices.snapshot_time(tagged).meta.output_name() == "snapshot_at"  # the column, not one time
    got = values(indices.compute(tagged, MONTH), "vintage_share")
    assert got[("direct", "all", "US")] == pytest.approx(1.0)
    assert got.get(("direct", "all", "CN"), 0.0) == 0.0


def test_snapshot_time_is_one_literal_only_when_every_row_has_it(small_registry):
    tagged = tag(raw_frame(CASE), small_registry)[0]
    assert pl.select(indices.snapshot_time(tagged)).item() == SNAP
    with_null = tagged.with_columns(pl.when(pl.col("model_id") == "Qwen/B").then(None).otherwise(pl.col("snapshot_at")).alias("snapshot_at"))
    assert indices.snapshot_time(with_null).meta.output_name() == "snapshot_at"
    assert indices.snapshot_time(tagged.clear()).meta.output_name() == "snapshot_at"


def test_robust_share_direct_keeps_an_original_gguf_and_leaves_out_an_intermediarys_upload(small_registry):
    # Every model has 100 downloads: the 99.9th-percentile cap is 100 and clips nothing.
    raw = raw_frame(
        [
            model("Qwen/own-GGUF", D(2026, 5, 3), 100, tags=["gguf"]),  # a GGUF that declares no base: an original, kept
            model("meta-llama/C", D(2026, 5, 3), 100),
            model("aws-neuron/neuron-copy", D(2026, 5, 3), 100),  # an intermediary's upload: out of the direct view
            model("meta-llama/D", D(2026, 5, 3), 100),
        ]
    )
    got = values(indices.compute(tag(raw, small_registry)[0], MONTH), "robust_share")
    assert got[("direct", "all", "CN")] == pytest.approx(1 / 3)  # CN 100, US 200
    assert got[("direct", "all", "US")] == pytest.approx(2 / 3)
    assert got[("lineage", "all", "CN")] == pytest.approx(1 / 4)  # the lineage view keeps all four: US 300
    assert got[("lineage", "all", "US")] == pytest.approx(3 / 4)


def test_download_delta_a_model_without_a_creation_date_missing_from_the_previous_listing_is_a_gap(small_registry):
    raw = raw_frame(
        [
            model("Qwen/A", D(2025, 1, 1), 10, all_time=500),  # 300 in the previous listing: delta 200
            model("meta-llama/legacy", None, 10, all_time=1000),  # no creation date (the Hub's placeholder), absent before: a gap
        ]
    )
    previous = pl.DataFrame({"model_id": ["Qwen/A"], "downloads_all_time": [300]})
    result = indices.compute(tag(raw, small_registry)[0], MONTH, previous)
    got = values(result, "download_delta_share")
    assert got[("direct", "all", "CN")] == pytest.approx(1.0)  # 200 of 200
    assert ("direct", "all", "US") not in got or got[("direct", "all", "US")] == 0.0
    assert (result.notes["download_delta"]["gaps"], result.notes["download_delta"]["new_in_listing"]) == (1, 0)


def test_no_china_us_ratio_row_when_the_us_has_no_share(small_registry):
    raw = raw_frame([model("Qwen/A", D(2025, 1, 1), 100), model("someone/x", D(2025, 1, 1), 50)])
    result = indices.compute(tag(raw, small_registry)[0], MONTH)
    assert result.table.filter(pl.col("index") == "china_us_ratio").is_empty()  # undefined: absent, never inf
    gap = values(result, "china_us_gap")
    assert gap[("direct", "all", None)] == pytest.approx(100 / 150)  # CN 2/3 - US 0
    assert gap[("direct", "attributed", None)] == pytest.approx(1.0)


def test_main_root_of_an_unequal_merge_is_the_heaviest(small_registry):
    raw = raw_frame(
        [
            model("Qwen/A", D(2025, 1, 1), 1),
            model("meta-llama/B", D(2025, 1, 1), 1),
            model("meta-llama/C", D(2025, 1, 1), 1),
            model("someone/m1", D(2026, 5, 2), 1, ("meta-llama/B", "meta-llama/C"), "merge"),
            model("someone/m2", D(2026, 5, 3), 1, ("Qwen/A", "someone/m1"), "merge"),
        ]
    )
    row = tag(raw, small_registry)[0].filter(pl.col("model_id") == "someone/m2").row(0, named=True)
    # Roots: Qwen/A 1/2, meta-llama/B 1/4, meta-llama/C 1/4: the main root is Qwen/A, Chinese, though two are American.
    assert (row["root_model_id"], row["root_country"]) == ("Qwen/A", "CN")
    assert {r["root_id"]: r["weight"] for r in row["lineage_roots"]} == pytest.approx({"Qwen/A": 0.5, "meta-llama/B": 0.25, "meta-llama/C": 0.25})


def test_a_listing_without_likes_has_no_likes_share_and_says_why(small_registry):
    # A source without like counts (null, not 0): nothing to share out, so no rows and the reason, not
    # an equal split of made-up likes.
    raw = raw_frame([model("Qwen/A", D(2025, 1, 1), 100, likes=None), model("meta-llama/B", D(2025, 1, 1), 300, likes=None)])
    out = indices.compute(tag(raw, small_registry)[0], MONTH)
    assert not values(out, "likes_share")
    assert out.absent["likes_share"] == "no likes in the listing"
    assert not values(out, "china_us_ratio_likes") and not values(out, "china_us_gap_likes")


def test_download_delta_models_without_an_all_time_count_in_either_month_count_nothing(small_registry):
    # No snapshot_at in the previous listing: a missing model is new if created in May.
    #   Qwen/A        500 now, 300 before          -> 200
    #   meta-llama/B  no count now, 100 before      -> nothing (unknown)
    #   meta-llama/C  1,000 now, no count before    -> nothing (unknown), never its whole 1,000
    #   Qwen/New      created in May, no count      -> nothing (unknown), not "new in listing"
    #   Qwen/Fresh    created in May, 50            -> 50 (new in listing)
    # The listing still has all-time counts, so the index exists: CN 250 of 250.
    raw = raw_frame(
        [
            model("Qwen/A", D(2025, 1, 1), 10, all_time=500),
            model("meta-llama/B", D(2025, 1, 1), 10, all_time=None),
            model("meta-llama/C", D(2025, 1, 1), 10, all_time=1000),
            model("Qwen/New", D(2026, 5, 10), 10, all_time=None),
            model("Qwen/Fresh", D(2026, 5, 11), 10, all_time=50),
        ]
    )
    previous = pl.DataFrame(
        {"model_id": ["Qwen/A", "meta-llama/B", "meta-llama/C"], "downloads_all_time": [300, 100, None]}, schema_overrides={"downloads_all_time": pl.Int64}
    )
    out = indices.compute(tag(raw, small_registry)[0], MONTH, previous)
    assert "download_delta_share" not in out.absent
    check(values(out, "download_delta_share"), {(v, d, "CN"): 1.0 for v in ("direct", "lineage") for d in ("all", "attributed")})
    assert out.notes["download_delta"] == {"counter_resets": 0, "new_in_listing": 1, "gaps": 0, "without_all_time_count": 3}


def test_download_delta_a_model_created_at_the_instant_of_the_previous_listing_is_a_gap_not_new(small_registry):
    # `since` is when April's listing was taken (April 30, 12:00); only a model the Hub created strictly
    # after it is new. One created at that very instant and absent from it is a gap.
    taken = dt.datetime(2026, 4, 30, 12, tzinfo=dt.UTC)
    raw = raw_frame([model("Qwen/After", D(2026, 4, 30), 10, all_time=700), model("meta-llama/AtInstant", D(2026, 4, 30), 10, all_time=900)])
    raw = raw.with_columns(
        created_at=pl.when(pl.col("model_id") == "Qwen/After").then(pl.lit(taken + dt.timedelta(seconds=1))).otherwise(pl.lit(taken))
    )
    april = pl.DataFrame({"model_id": ["someone/other"], "downloads_all_time": [5]}).with_columns(snapshot_at=pl.lit(taken))
    out = indices.compute(tag(raw, small_registry)[0], MONTH, april)
    check(values(out, "download_delta_share"), {(v, d, "CN"): 1.0 for v in ("direct", "lineage") for d in ("all", "attributed")})
    assert (out.notes["download_delta"]["new_in_listing"], out.notes["download_delta"]["gaps"]) == (1, 1)


def test_china_us_ratio_is_zero_and_gap_negative_when_china_has_no_model(small_registry):
    # US 300, UNATTRIBUTED 100, no Chinese model at all: CN's share is 0 (a measurement), so the ratio is 0
    # and the gap is -US's share, not missing.
    raw = raw_frame([model("meta-llama/A", D(2025, 1, 1), 300), model("someone/x", D(2025, 1, 1), 100)])
    out = indices.compute(tag(raw, small_registry)[0], MONTH)
    assert values(out, "china_us_ratio") == pytest.approx({(v, d, None): 0.0 for v in ("direct", "lineage") for d in ("all", "attributed")})
    gap = values(out, "china_us_gap")
    assert gap[("direct", "all", None)] == pytest.approx(-0.75)
    assert gap[("direct", "attributed", None)] == pytest.approx(-1.0)


def test_robust_share_absent_only_in_the_direct_view_names_those_groups_and_not_the_unattributed_reason(small_registry):
    # The only text-generation model is an intermediary's upload (aws-neuron, US): out of the direct view,
    # kept in lineage (its own root, US). direct/all has no total, so direct/attributed is missing for the
    # same reason, not because "every counted model is UNATTRIBUTED".
    raw = raw_frame([model("aws-neuron/copy", D(2025, 1, 1), 100), model("Qwen/emb", D(2025, 1, 1), 50, task="feature-extraction")])
    out = indices.compute(tag(raw, small_registry)[0], MONTH)
    check(values(out, "robust_share"), {("lineage", "all", "US"): 1.0, ("lineage", "attributed", "US"): 1.0})
    # There are text-generation downloads: the reason says where they went.
    assert out.absent["robust_share"] == (
        "every text-generation download in the listing is a repackage's, which the direct view leaves out (direct/all, direct/attributed)"
    )


def test_robust_share_direct_leaves_out_a_declared_quantization_without_a_gguf_tag(small_registry):
    # someone/q declares itself `quantized` (no gguf/mlx tag, not an intermediary): a repackage, out of the
    # direct view (where it would be UNATTRIBUTED) and credited to its root (Qwen) in lineage.
    raw = raw_frame(
        [model("Qwen/A", D(2026, 5, 3), 100), model("meta-llama/B", D(2026, 5, 3), 100), model("someone/q", D(2026, 5, 4), 100, ("Qwen/A",), "quantized")]
    )
    got = values(indices.compute(tag(raw, small_registry)[0], MONTH), "robust_share")
    assert got[("direct", "all", "CN")] == pytest.approx(0.5)
    assert got.get(("direct", "all", "UNATTRIBUTED"), 0.0) == 0.0
    assert got[("lineage", "all", "CN")] == pytest.approx(2 / 3)


def test_december_new_models_run_to_the_first_of_january(small_registry):
    # The month bounds cross a year end: December 2025 is [2025-12-01, 2026-01-01).
    dec = dt.date(2025, 12, 1)
    assert aggregates.month_bounds(dec) == (dt.datetime(2025, 12, 1, tzinfo=dt.UTC), dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    raw = raw_frame(
        [model("Qwen/dec", D(2025, 12, 31), 10), model("meta-llama/jan", D(2026, 1, 1), 10), model("meta-llama/nov", D(2025, 11, 30), 10)],
        month=dec,
        snap=dt.datetime(2026, 1, 1, 12, tzinfo=dt.UTC),
    )
    tagged = tag(raw, small_registry)[0]
    assert values(indices.compute(tagged, dec), "new_model_share")[("direct", "all", "CN")] == 1.0
    agg = aggregates.aggregate(tagged, dec).filter(pl.col("view") == "direct")
    assert dict(agg.select("country", "new_models").iter_rows()) == {"CN": 1.0, "US": 0.0}


def test_gini_org_counts_a_namespace_without_downloads():
    # Two namespaces, 10 and 0 downloads: Gini = (|10-0| + |0-10|) / (2 * 2^2 * 5) = 0.5; leaving the
    # idle one out would say 0 (one namespace, no inequality).
    orgs = pl.DataFrame({"view": ["direct", "direct"], "namespace": ["busy", "idle"], "downloads_30d": [10.0, 0.0]})
    got = dict(concentration.org_indices(orgs).select("index", "value").iter_rows())
    assert got["gini_org"] == pytest.approx(0.5)
    assert got["hhi_org"] == pytest.approx(10_000) and got["cr5_org"] == pytest.approx(1.0)
