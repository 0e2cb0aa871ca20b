"""The GX suites on the hand-computed case of test_metrics, each corruption made by hand with a known outcome."""

from __future__ import annotations

import datetime as dt
import math
import re
from pathlib import Path

import polars as pl
import pytest

from dominance_pipeline.metrics import aggregates, indices, leaderboard, timeseries
from dominance_pipeline.origin.registry import load_registry
from dominance_pipeline.origin.release_dates import CORRECTIONS_SCHEMA
from dominance_pipeline.origin.tagging import tag
from dominance_pipeline.quality import suites
from dominance_pipeline.quality.config import THRESHOLDS_PATH, Thresholds, ThresholdsError, load_thresholds
from dominance_pipeline.schemas import DOMINANCE_CROSSOVER, QUARANTINE
from dominance_pipeline_tests.test_metrics import CASE, MONTH
from dominance_pipeline_tests.test_metrics import raw as raw_frame

TH = load_thresholds()


def thresholds(section: str, **updates: object) -> Thresholds:
    return TH.model_copy(update={section: getattr(TH, section).model_copy(update=updates)})


def failed(result: suites.SuiteResult) -> dict[str, suites.Outcome]:
    return {o.name: o for o in result.failed()}


def unexpected(failures: dict[str, suites.Outcome]) -> dict[str, int | None]:
    """Each failed expectation's unexpected count."""
    return {n: o.unexpected_count for n, o in failures.items()}


def set_value(df: pl.DataFrame, model: str, column: str, value: object, key: str = "model_id") -> pl.DataFrame:
    return df.with_columns(
        pl.when(pl.col(key) == model).then(pl.lit(value, df.schema[column])).otherwise(pl.col(column)).alias(column)
    )


@pytest.fixture(scope="module")
def case():
    raw = raw_frame(CASE)
    tagged, _ = tag(raw, load_registry())
    agg = aggregates.aggregate(tagged, MONTH)
    return raw, tagged, agg, indices.compute(tagged, MONTH).table


def ctx(quarantine: pl.DataFrame | None = None, previous: int | None = None) -> suites.RawContext:
    return suites.RawContext(MONTH, QUARANTINE.empty() if quarantine is None else quarantine, previous)


def test_the_clean_case_passes_every_suite(case):
    raw, tagged, agg, ix = case
    board = leaderboard.leaderboard(tagged, None, MONTH)
    cross = timeseries.crossover(ix)
    results = [
        suites.validate_raw(raw, ctx(previous=5), TH),
        suites.validate_tagged(tagged, TH),
        suites.validate_aggregates(agg, raw, MONTH, TH),
        suites.validate_indices(ix, TH),
        suites.validate_leaderboard(board, TH),
        suites.validate_timeseries(ix, TH),
        suites.validate_crossover(cross, TH),
    ]
    for r in results:
        assert r.worst is None and not r.failed() and not r.skipped, r.summary()
        assert r.evaluated == len(r.outcomes) > 5
    assert [r.rows for r in results] == [5, 5, agg.height, ix.height, board.height, ix.height, cross.height]


RAW_CORRUPTIONS = [
    (lambda r: pl.concat([r, r.head(1)]), "model_id is unique", 2, ("Qwen/Q",)),
    (lambda r: set_value(r, "meta-llama/L", "likes", -1), "likes within [0, 1e+11]", 1, ("meta-llama/L (likes=-1)",)),
    (
        lambda r: set_value(r, "Qwen/Q", "downloads_30d", 10**11 + 1),
        "downloads_30d within [0, 1e+11]",
        1,
        ("Qwen/Q (downloads_30d=100,000,000,001)",),
    ),
    (lambda r: set_value(r, "someone/orig", "author", None), "author is not null", 1, ("someone/orig (author=null)",)),
    (
        lambda r: set_value(r, "someone/orig", "created_at", dt.datetime(2026, 6, 2, tzinfo=dt.UTC)),
        "created_at <= snapshot_at",
        1,
        ("someone/orig (snapshot_at=2026-05-31 00:00:00+00:00, created_at=2026-06-02 00:00:00+00:00)",),
    ),
    (
        lambda r: r.with_columns(pl.col("likes").cast(pl.Float64), pl.lit(1).alias("extra")),
        "columns and dtypes are those declared for raw_hub_listings (schemas.py)",
        2,
        ("likes (declared=Int64, actual=Float64)", "extra (declared=null, actual=Int32)"),
    ),
]


@pytest.mark.parametrize(("corrupt", "name", "unexpected", "sample"), RAW_CORRUPTIONS)
def test_each_raw_corruption_fails_its_own_expectation(case, corrupt, name, unexpected, sample):
    result = suites.validate_raw(corrupt(case[0]), ctx(), TH)
    assert list(failed(result)) == [name]
    got = failed(result)[name]
    assert (got.severity, got.unexpected_count, got.sample) == ("ERROR", unexpected, sample)
    assert result.worst == "ERROR"


def quarantine(n: int) -> pl.DataFrame:
    return pl.DataFrame(
        {"month": [MONTH] * n, "model_id": [f"x/{i}" for i in range(n)], "reason": ["negative_count"] * n,
         "detail": ["downloads"] * n, "row_json": ["{}"] * n},
        schema=QUARANTINE.columns,
    )


def test_quarantine_volume_against_its_threshold(case):
    raw = case[0]
    # 5 rows kept + 1 quarantined = 6 in: 1 % allows floor(0.06) = 0 rows, 20 % allows 1.
    strict = suites.validate_raw(raw, suites.RawContext(MONTH, quarantine(1), quarantine_file="q.parquet"), TH)
    (got,) = strict.failed()
    assert got.name == "quarantined rows <= 1.00% of the listing (0 of 6)"
    assert (got.unexpected_count, got.sample, got.observed) == (1, ("x/0 (negative_count:downloads)",), None)
    assert got.note == "every quarantined row with its reason: q.parquet"
    loose = suites.validate_raw(raw, ctx(quarantine(1)), thresholds("raw_hub_listings", max_quarantined_fraction=0.2))
    assert not loose.failed()


@pytest.mark.parametrize(
    ("previous", "bounds", "passed"),
    [(5, "5 to 6", True), (6, "6 to 7", False), (4, "4 to 5", True), (3, "3 to 3", False)],
)
def test_row_count_against_the_previous_month(case, previous, bounds, passed):
    # -3 % / +25 %: 6 rows before allow ceil(5.82) = 6 to floor(7.5) = 7; 3 rows allow 3 to floor(3.75) = 3.
    result = suites.validate_raw(case[0], ctx(previous=previous), TH)
    (outcome,) = [o for o in result.outcomes if o.name.startswith("row count")]
    assert outcome.name == f"row count within -3%/+25% of 2026-04 ({previous} rows): {bounds}"
    assert outcome.passed is passed and outcome.observed == 5


def test_without_a_previous_month_the_size_check_is_skipped_not_failed(case):
    result = suites.validate_raw(case[0], ctx(), TH)
    (skipped,) = result.skipped
    assert skipped.passed and skipped.note == "no raw partition for 2026-04 to compare with"
    assert "SKIPPED row count within -3%/+25% of 2026-04: no raw partition" in result.summary()


def test_a_listing_without_downloads_fails_the_raw_suite_naming_the_column(case):
    # A snapshot without the `downloads` column is normalised with every downloads_30d null: it was published as
    # accepted, and the month failed one step later on "null coverage".
    raw = case[0].with_columns(downloads_30d=pl.lit(None, pl.Int64))
    result = suites.validate_raw(raw, ctx(), TH)
    name = "the listing reports 30-day downloads (at least one downloads_30d value: the source has the column)"
    assert list(failed(result)) == [name] and result.worst == "ERROR"
    assert failed(result)[name].sample == ("downloads_30d (reported=0)",)
    some = raw.with_columns(downloads_30d=pl.when(pl.int_range(pl.len()) == 0).then(pl.lit(7, pl.Int64)))  # one model reported
    assert not suites.validate_raw(some, ctx(), TH).failed()


def test_an_empty_listing_fails_the_raw_suite_even_without_a_previous_month(case):
    result = suites.validate_raw(case[0].clear(), ctx(), TH)
    assert list(failed(result)) == ["the listing has at least one model"]
    assert failed(result)["the listing has at least one model"].observed == 0


def test_a_late_snapshot_is_a_warning_an_early_one_an_error(case):
    raw = case[0]
    late = suites.validate_raw(raw.with_columns(snapshot_at=pl.lit(dt.datetime(2026, 6, 10, 12, tzinfo=dt.UTC))), ctx(), TH)
    (warn,) = late.failed()
    assert (warn.severity, warn.name, late.worst) == ("WARN", "snapshot taken at most 7 days after the month end", "WARN")
    assert warn.sample == ("2026-06-10 12:00 UTC (days_after_month_end=9.5)",)
    early = suites.validate_raw(
        raw.with_columns(snapshot_at=pl.lit(dt.datetime(2026, 4, 30, tzinfo=dt.UTC)), created_at=pl.lit(None, pl.Datetime("us", "UTC"))),
        ctx(),
        TH,
    )
    assert [(o.severity, o.name) for o in early.failed()] == [
        ("ERROR", "snapshot taken after the month started (else it is another month's file)")
    ]


def test_tagged_invalid_country_and_open_lineage(case):
    tagged = set_value(case[1], "Qwen/Q", "org_country", "ZZ")
    half = pl.Series([[{"root_id": "Qwen/Q", "namespace": "Qwen", "country": "CN", "weight": 0.5}]])
    tagged = tagged.with_columns(
        pl.when(pl.col("model_id") == "someone/merge").then(half.first()).otherwise(pl.col("lineage_roots")).alias("lineage_roots")
    )
    got = failed(suites.validate_tagged(tagged, TH))
    assert set(got) == {
        "org_country is a valid country code (countries.csv)",
        "root weights sum to 1 for every model (no lineage walk left open)",
    }
    assert got["org_country is a valid country code (countries.csv)"].sample == ("Qwen/Q (org_country=ZZ)",)
    assert got["root weights sum to 1 for every model (no lineage walk left open)"].sample == (
        "someone/merge (root_weight_sum=0.5)",
    )


def with_roots(tagged: pl.DataFrame, model: str, roots: list[dict]) -> pl.DataFrame:
    dtype = tagged.schema["lineage_roots"]
    return tagged.with_columns(
        pl.when(pl.col("model_id") == model).then(pl.lit(pl.Series([roots], dtype=dtype)).first()).otherwise(pl.col("lineage_roots")).alias("lineage_roots")
    )


def test_a_nan_or_null_root_weight_is_caught_not_skipped(case):
    # GX skips NaN like a null: an UNATTRIBUTED root of weight NaN passed every expectation, and a null weight
    # beside a root of weight 1 (a sum of 1 without it) hid its own invalid country.
    nan = with_roots(case[1], "someone/orig", [{"root_id": "someone/orig", "namespace": "someone", "country": "UNATTRIBUTED", "weight": float("nan")}])
    got = failed(suites.validate_tagged(nan, TH))
    assert set(got) == {
        "every lineage root has a weight",  # pandas, under GX, takes a NaN for a null
        "every lineage root weight is in (0, 1]",
        "root weights sum to 1 for every model (no lineage walk left open)",
    }
    assert got["every lineage root weight is in (0, 1]"].sample == ("someone/orig (weight=NaN)",)
    assert got["root weights sum to 1 for every model (no lineage walk left open)"].sample == ("someone/orig (root_weight_sum=NaN)",)
    roots = [{"root_id": "Qwen/Q", "namespace": "Qwen", "country": "CN", "weight": 1.0}, {"root_id": "x/y", "namespace": "x", "country": "ZZ", "weight": None}]
    got = failed(suites.validate_tagged(with_roots(case[1], "Qwen/Q", roots), TH))
    assert set(got) == {"every lineage root has a weight", "every lineage root's country is a valid country code"}
    assert got["every lineage root has a weight"].unexpected_count == 1


def test_nan_counts_and_shares_fail_conservation_and_the_leaderboard_bounds(case):
    raw, tagged, agg, _ = case
    lineage_us = (pl.col("view") == "lineage") & (pl.col("country") == "US")
    nan_agg = agg.with_columns(pl.when(lineage_us).then(float("nan")).otherwise(pl.col("downloads_30d")).alias("downloads_30d"))
    got = failed(suites.validate_aggregates(nan_agg, raw, MONTH, TH))
    assert set(got) == {"conservation: per view and measure, the totals across countries equal the raw totals (relative error <= 1e-09)"}
    (conservation,) = got.values()
    assert conservation.sample == ("lineage / downloads_30d (relative_error=NaN)",)
    board = leaderboard.leaderboard(tagged, tagged, MONTH)
    qwen = (pl.col("board") == "model") & (pl.col("view") == "direct") & (pl.col("name") == "Qwen/Q")
    nan_board = board.with_columns(pl.when(qwen).then(float("nan")).otherwise(pl.col("share")).alias("share"))
    got = failed(suites.validate_leaderboard(nan_board, TH))
    assert set(got) == {"share within [0, 1]"} and got["share within [0, 1]"].unexpected_count == 1


def test_cut_lineage_warns_and_blocks_only_beyond_its_threshold(case):
    tagged = set_value(case[1], "bartowski/Q-GGUF", "lineage_status", "cycle")
    strict = suites.validate_tagged(tagged, TH)  # 1 of 5 models is 20 % > 0.1 %
    assert [(o.severity, o.unexpected_count) for o in strict.failed()] == [("ERROR", 1), ("WARN", 1)]
    lenient = suites.validate_tagged(tagged, thresholds("origin_tagged_models", max_cut_lineage_fraction=0.25))
    (warn,) = lenient.failed()
    assert (lenient.worst, warn.sample) == ("WARN", ("bartowski/Q-GGUF (lineage_status=cycle)",))


def test_coverage_per_view(case):
    # Direct: Qwen 600 + meta-llama 200 of 1,000 downloads are attributed (0.8); lineage: all 1,000 (1.0).
    warn = suites.validate_tagged(case[1], thresholds("origin_tagged_models", warn_attributed_coverage=0.85))
    assert [(o.severity, o.name, o.sample) for o in warn.failed()] == [
        ("WARN", "attributed download coverage >= 85% per view", ("direct (coverage=0.8)",))
    ]
    error = suites.validate_tagged(
        case[1], thresholds("origin_tagged_models", min_attributed_coverage=0.9, warn_attributed_coverage=0.95)
    )
    assert [(o.severity, o.sample) for o in error.failed()] == [("ERROR", ("direct (coverage=0.8)",)), ("WARN", ("direct (coverage=0.8)",))]
    silent = suites.validate_tagged(case[1].with_columns(downloads_30d=pl.lit(0, pl.Int64)), TH)
    assert [o.name for o in silent.failed()] == ["attributed download coverage is defined (the month has downloads)"]


CONSERVATION = (
    "conservation: per view and measure, the totals across countries equal the raw totals (relative error <= 1e-09)"
)


def test_conservation_names_the_view_and_measure_that_lost_rows(case):
    raw, _, agg, _ = case
    no_us = agg.filter(~((pl.col("view") == "direct") & (pl.col("country") == "US")))
    got = failed(suites.validate_aggregates(no_us, raw, MONTH, TH))
    (cons,) = got.values()
    # meta-llama/L (US, 1 model, 200 of 1,000 downloads) is missing from direct: 1/5 and 200/1000 lost.
    assert cons.sample == ("direct / models (relative_error=0.2)", "direct / downloads_30d (relative_error=0.2)")
    (no_lineage,) = failed(suites.validate_aggregates(agg.filter(pl.col("view") == "direct"), raw, MONTH, TH)).values()
    assert no_lineage.unexpected_count == len(aggregates.MEASURES)
    assert no_lineage.sample[0] == "lineage / models (relative_error=inf)"
    doubled = failed(suites.validate_aggregates(pl.concat([agg, agg.head(1)]), raw, MONTH, TH))
    assert set(doubled) == {"one row per (view, country)", CONSERVATION}
    negative = agg.with_columns(
        pl.when((pl.col("view") == "lineage") & (pl.col("country") == "US")).then(-1.0).otherwise(pl.col("likes")).alias("likes")
    )
    got = failed(suites.validate_aggregates(negative, raw, MONTH, TH))
    assert got["every count >= 0 (models, new models, downloads, likes)"].sample == ("lineage / US (smallest_count=-1)",)
    assert got[CONSERVATION].sample == ("lineage / likes (relative_error=1)",)  # 0 likes in the raw rows


def test_conservation_counts_new_models_by_their_corrected_release_date():
    # Qwen/Q's repo dates from 2025-01-01; a (made-up) correction says it was released on 2026-05-10, so the
    # tagged listing counts it new in May: 3 new models (with bartowski/Q-GGUF and someone/merge), not 2.
    corrections = pl.DataFrame(
        [("Qwen/Q", dt.date(2025, 1, 1), dt.date(2026, 5, 10), "test", 2)], schema=CORRECTIONS_SCHEMA, orient="row"
    )
    raw = raw_frame(CASE)
    agg = aggregates.aggregate(tag(raw, load_registry(), corrections=corrections)[0], MONTH)
    assert agg.filter(pl.col("view") == "direct").get_column("new_models").sum() == 3
    assert not suites.validate_aggregates(agg, raw, MONTH, TH, corrections).failed()
    uncorrected = failed(suites.validate_aggregates(agg, raw, MONTH, TH, corrections.clear()))
    assert uncorrected[CONSERVATION].sample == (
        "direct / new_models (relative_error=0.5)",
        "lineage / new_models (relative_error=0.5)",
    )


def keyed(ix: pl.DataFrame) -> pl.DataFrame:
    return ix.with_columns(pl.format("{}|{}|{}|{}", "index", "view", "denominator", pl.col("country").fill_null("-")).alias("k"))


SUMS = "shares sum to 1 within 1e-09 per (month, index, view, denominator)"


def test_indices_shares_sums_hhi_and_nan(case):
    bad = set_value(keyed(case[3]), "download_share|direct|all|CN", "value", 1.2, key="k")
    bad = set_value(bad, "hhi_org|lineage|all|-", "value", 10_001.0, key="k").with_columns(
        pl.when(pl.col("index") == "china_us_gap").then(float("nan")).otherwise(pl.col("value")).alias("value")
    ).drop("k")
    got = failed(suites.validate_indices(bad, TH))
    assert unexpected(got) == {
        "every value is a number (not null, not NaN)": 4,
        "china_us_gap* within [-1, 1]": 4,  # a NaN is in no range
        "every share is within [0, 1]": 1,
        SUMS: 1,
        "HHI within [0, 10,000]": 1,
    }
    assert got["every share is within [0, 1]"].sample == ("2026-05 download_share direct all CN (share=1.2)",)
    assert got[SUMS].sample[0].startswith("2026-05 download_share direct all (total=1.6")


def test_indices_bounds_of_the_other_indices_and_the_row_keys(case):
    bad = keyed(case[3])
    for key, value in [
        ("cr5_org|direct|all|-", 1.1),
        ("gini_org|lineage|all|-", -0.1),
        ("effective_orgs|lineage|all|-", 0.5),
        ("china_us_ratio|direct|all|-", -1.0),
        ("china_us_gap|lineage|all|-", 1.5),
    ]:
        bad = set_value(bad, key, "value", value, key="k")
    bad = set_value(bad, "hhi_org|direct|all|-", "country", "CN", key="k").drop("k")
    # A zero UNATTRIBUTED share under `attributed` (the sum stays 1), and a repeated HHI row.
    unattributed = bad.filter((pl.col("index") == "download_share") & (pl.col("denominator") == "attributed")).head(1)
    unattributed = unattributed.with_columns(country=pl.lit("UNATTRIBUTED"), value=pl.lit(0.0))
    bad = pl.concat([bad, unattributed, bad.filter(pl.col("index") == "hhi_country").head(1)])
    got = failed(suites.validate_indices(bad, TH))
    assert unexpected(got) == {
        "one row per (month, index, view, denominator, country)": 2,
        "country is set exactly on the *_share rows": 1,
        "the attributed denominator has no UNATTRIBUTED row": 1,
        "cr*_org and gini_org within [0, 1]": 2,
        "effective_orgs >= 1": 1,
        "china_us_ratio* >= 0": 1,
        "china_us_gap* within [-1, 1]": 1,
    }
    assert set(got["cr*_org and gini_org within [0, 1]"].sample) == {
        "2026-05 cr5_org direct all - (cr_or_gini=1.1)",
        "2026-05 gini_org lineage all - (cr_or_gini=-0.1)",
    }
    assert got["country is set exactly on the *_share rows"].sample == (
        "2026-05 hhi_org direct all CN (country_set_iff_share=false)",
    )
    assert got["the attributed denominator has no UNATTRIBUTED row"].sample[0].startswith(
        "2026-05 download_share direct attributed UNATTRIBUTED"
    )


def test_timeseries_takes_each_month_apart_and_names_it(case):
    may = case[3]
    april = may.with_columns(month=pl.lit(dt.date(2026, 4, 1)))
    assert not suites.validate_timeseries(pl.concat([april, may]), TH).failed()
    bad_april = set_value(keyed(april), "download_share|direct|all|CN", "value", 1.2, key="k").drop("k")
    got = failed(suites.validate_timeseries(pl.concat([bad_april, may]), TH))
    assert set(got) == {"every share is within [0, 1]", SUMS}
    assert got["every share is within [0, 1]"].sample == ("2026-04 download_share direct all CN (share=1.2)",)
    (group,) = got[SUMS].sample
    assert group.startswith("2026-04 download_share direct all (total=1.6")
    doubled = failed(suites.validate_timeseries(pl.concat([may, may]), TH))
    assert doubled["one row per (month, index, view, denominator, country)"].unexpected_count == 2 * may.height


@pytest.fixture(scope="module")
def board(case):
    # The month against itself: every entry has a previous rank equal to its rank.
    return leaderboard.leaderboard(case[1], case[1], MONTH)


def test_leaderboard_ranks_shares_and_changes(board):
    assert not suites.validate_leaderboard(board, TH).failed()
    lb = board.with_columns(pl.format("{}|{}|{}", "board", "view", "name").alias("k"))
    lb = set_value(lb, "model|direct|meta-llama/L", "rank", 3, key="k")  # 200 downloads, one entry above: rank 2
    lb = set_value(lb, "model|direct|Qwen/Q", "share", 1.5, key="k")
    lb = set_value(lb, "model|lineage|Qwen/Q", "rank_change", 4, key="k")  # previous 1 - rank 1 = 0
    lb = set_value(lb, "model|lineage|meta-llama/L", "previous_rank", None, key="k")  # its rank_change stays 0
    lb = pl.concat([lb, lb.tail(1)]).drop("k")  # the last namespace (meta-llama, lineage) twice: still rank 2
    # Fifth of the direct model board with 50 downloads: its rank is right, but outside a top 4.
    fifth = board.filter((pl.col("board") == "model") & (pl.col("view") == "direct")).tail(1).with_columns(
        name=pl.lit("someone/fifth"), downloads_30d=pl.lit(50.0), rank=pl.lit(5, pl.Int32), previous_rank=pl.lit(5, pl.Int32)
    )
    lb = pl.concat([lb, fifth])
    got = failed(suites.validate_leaderboard(lb, TH, top=4))
    assert unexpected(got) == {
        "rank = 1 + entries with more downloads (ties share a rank)": 1,
        # rank 3 stored for meta-llama/L changes its own rank_change check too: previous 2 - 3 = -1, stored 0.
        "rank_change = previous_rank - rank": 3,
        "ranks within the top 4": 1,
        "one entry per name per board and view": 2,
        "share within [0, 1]": 1,
    }
    assert got["rank = 1 + entries with more downloads (ties share a rank)"].sample == (
        "model direct #3 meta-llama/L (rank=3, competition_rank=2)",
    )
    assert got["ranks within the top 4"].sample == ("model direct #5 someone/fifth (rank=5)",)


def cross_rows(*rows: tuple) -> pl.DataFrame:
    return pl.DataFrame(list(rows), schema=DOMINANCE_CROSSOVER.columns, orient="row")


def test_crossover_inside_the_series_with_its_whole_run():
    d = dt.date
    good = cross_rows(
        ("download", "direct", 4, d(2026, 1, 1), d(2026, 4, 1), 1.2, d(2026, 2, 1)),  # Feb, Mar, Apr led
        ("download", "lineage", 4, d(2026, 1, 1), d(2026, 4, 1), 0.8, None),
    )
    assert not suites.validate_crossover(good, TH).failed()
    bad = pl.concat(
        [
            good,
            cross_rows(
                ("likes", "direct", 4, d(2026, 1, 1), d(2026, 4, 1), 1.1, d(2026, 3, 1)),  # Mar, Apr: one month short
                ("downloads", "direct", 4, d(2026, 4, 1), d(2026, 1, 1), -1.0, None),
                ("download", "direct", 4, d(2026, 1, 1), d(2026, 4, 1), 1.2, d(2025, 12, 1)),
            ),
        ]
    )
    got = failed(suites.validate_crossover(bad, TH))
    assert unexpected(got) == {
        "one row per (family, view)": 2,
        "family is a share family of the index set": 1,
        "last_month >= first_month": 1,
        "crossover_month >= first_month": 1,
        f"the crossover's {timeseries.CROSSOVER_RUN} led months end by last_month": 1,
        "latest_ratio >= 0": 1,
    }
    assert got[f"the crossover's {timeseries.CROSSOVER_RUN} led months end by last_month"].sample[0].startswith("likes direct (")


def test_tagged_release_dates_only_move_later(case):
    name = "created_at >= created_at_hub (a release-date correction only moves a date later)"
    earlier = set_value(case[1], "Qwen/Q", "created_at", dt.datetime(2024, 12, 1, tzinfo=dt.UTC))
    lost = set_value(earlier, "meta-llama/L", "created_at", None)
    got = failed(suites.validate_tagged(lost, TH))
    assert list(got) == [name] and got[name].unexpected_count == 2
    assert got[name].sample[0].startswith("Qwen/Q (created_at=2024-12-01")


def test_an_expectation_gx_cannot_evaluate_fails_closed():
    table = suites.Table(pl.DataFrame({"id": ["a"]}), "id")
    expectation = suites.Expectation("x is not null", "t", "ExpectColumnValuesToNotBeNull", {"column": "x"})
    (outcome,) = suites.run_suite("s", {"t": table}, [expectation]).outcomes
    assert not outcome.passed and outcome.note.startswith("could not be evaluated")
    with pytest.raises(ValueError, match="names table 'nope'"):
        suites.run_suite("s", {"t": table}, [suites.Expectation("y", "nope", "ExpectColumnValuesToNotBeNull")])


def test_the_shipped_thresholds_are_valid_and_a_bad_file_names_every_problem(tmp_path):
    assert load_thresholds(THRESHOLDS_PATH) == TH
    text = THRESHOLDS_PATH.read_text()
    bad = tmp_path / "t.yaml"
    bad.write_text(text.replace("max_shrink: 0.03", "max_shrink: 3").replace("sample_size:", "sample_sise:"))
    with pytest.raises(ThresholdsError) as err:
        load_thresholds(bad)
    message = str(err.value)
    assert str(bad) in message and "raw_hub_listings.max_shrink" in message
    assert "sample_size: Field required" in message and "sample_sise: Extra inputs" in message
    bad.write_text(text.replace("warn_attributed_coverage: 0.8", "warn_attributed_coverage: 0.3"))
    with pytest.raises(ThresholdsError, match="warn_attributed_coverage must be at least min_attributed_coverage"):
        load_thresholds(bad)
    with pytest.raises(ThresholdsError, match="cannot read"):
        load_thresholds(tmp_path / "missing.yaml")
    assert math.isclose(TH.raw_hub_listings.max_quarantined_fraction, 0.01)


def shipped_with(tmp_path, old: str, new: str) -> Path:
    """The shipped thresholds file with `old` replaced by `new` (which must occur), in tmp_path."""
    text = THRESHOLDS_PATH.read_text()
    assert text.count(old) == 1
    path = tmp_path / "thresholds.yaml"
    path.write_text(text.replace(old, new))
    return path


def test_the_warning_coverage_may_equal_the_failing_coverage(tmp_path):
    # "at least": warn == min (both 0.5) is a valid file; only warn < min is refused.
    tagged = load_thresholds(shipped_with(tmp_path, "warn_attributed_coverage: 0.8", "warn_attributed_coverage: 0.5")).origin_tagged_models
    assert (tagged.min_attributed_coverage, tagged.warn_attributed_coverage) == (0.5, 0.5)


def test_a_yaml_syntax_error_names_the_line_and_column_of_the_bad_character(tmp_path):
    path = shipped_with(tmp_path, "max_shrink: 0.03", "max_shrink: @0.03")
    text = path.read_text()
    line = text[: text.index("@")].count("\n") + 1  # 1-based, as editors count
    column = text.index("@") - text.rindex("\n", 0, text.index("@"))  # 1-based
    with pytest.raises(ThresholdsError) as err:
        load_thresholds(path)
    assert str(err.value) == f"cannot read thresholds {path}:{line}:{column}: not valid YAML (found character '@' that cannot start any token)"


def test_an_empty_thresholds_file_is_refused_as_a_whole(tmp_path):
    path = tmp_path / "thresholds.yaml"
    path.write_text("# everything commented out\n")
    with pytest.raises(ThresholdsError) as err:
        load_thresholds(path)
    assert str(err.value).startswith(f"invalid thresholds {path}: (file): Input should be a valid dictionary")


def test_a_thresholds_file_that_is_not_utf8_or_not_a_file_fails_with_a_thresholds_error(tmp_path):
    raw = THRESHOLDS_PATH.read_bytes()
    at = raw.index(b"max_shrink")
    path = tmp_path / "thresholds.yaml"
    path.write_bytes(raw[:at] + b"\xe9" + raw[at:])
    with pytest.raises(ThresholdsError) as err:
        load_thresholds(path)
    assert str(err.value).startswith(f"cannot read thresholds {path}: not UTF-8 text (")
    assert str(err.value).endswith(f" at byte {at})")
    with pytest.raises(ThresholdsError, match=f"^cannot read thresholds {re.escape(str(tmp_path))}: "):
        load_thresholds(tmp_path)  # a folder, not a file


def test_a_python_tag_in_the_thresholds_is_refused_and_never_run(tmp_path):
    made = tmp_path / "made-by-the-yaml"
    path = shipped_with(tmp_path, "max_shrink: 0.03", f"max_shrink: !!python/object/apply:os.mkdir ['{made}']")
    with pytest.raises(ThresholdsError, match="not valid YAML .*could not determine a constructor"):
        load_thresholds(path)
    assert not made.exists()


@pytest.mark.parametrize("collide", [False, True])
@pytest.mark.parametrize("repeats", [True, False])
def test_equality_codes_are_equal_exactly_where_the_values_are(monkeypatch, collide, repeats):
    from dominance_pipeline.quality.suites import _equality_codes

    if repeats:
        values = pl.Series("model_id", ["a/x", "b/y", None, "a/x", "c/z", None, "b/y"])
    else:  # distinct ids, as a listing's: only a collision makes two hashes equal
        values = pl.Series("model_id", ["a/x", "b/y", None, "c/z", "d/w"])
    if collide:  # every value hashes alike: the codes must fall back to something exact
        monkeypatch.setattr(pl.Series, "hash", lambda self, *a, **k: pl.Series([7] * self.len(), dtype=pl.UInt64))
    codes = _equality_codes(values).to_list()
    pairs = [(i, j) for i in range(len(codes)) for j in range(len(codes))]
    assert all((codes[i] == codes[j]) == (values[i] == values[j]) for i, j in pairs if values[i] is not None and values[j] is not None)
    assert [c is None for c in codes] == [v is None for v in values]


def test_a_failed_warm_up_prints_nothing_and_the_first_check_sets_gx_up_itself(case, monkeypatch):
    import threading

    real = suites._batch_definition
    calls: list[str] = []
    uncaught: list[type[BaseException]] = []  # what Python would print as "Exception in thread ..."
    monkeypatch.setattr(threading, "excepthook", lambda args: uncaught.append(args.exc_type))

    def flaky():
        calls.append(threading.current_thread().name)
        if len(calls) == 1:  # as importlib.metadata failed once beside another thread's imports
            raise ImportError("no package metadata was found (simulated)")
        return real()

    monkeypatch.setattr(suites, "_batch_definition", flaky)
    monkeypatch.setattr(suites, "_warming", None)
    suites.warm_up()
    result = suites.validate_indices(case[3], TH)
    assert calls == ["gx-warm-up", threading.current_thread().name]
    assert not result.failed()
    assert uncaught == []


# Rules that only a value the rest of the suite cannot see would break (each suite's other expectations pass).


def test_a_model_without_lineage_roots_leaves_its_walk_open(case):
    # No root at all: its weights sum to 0, not 1, and its downloads would vanish from the lineage view.
    tagged = case[1].with_columns(
        pl.when(pl.col("model_id") == "someone/orig").then(None).otherwise(pl.col("lineage_roots")).alias("lineage_roots")
    )
    got = failed(suites.validate_tagged(tagged, TH))
    name = "root weights sum to 1 for every model (no lineage walk left open)"
    assert got[name].unexpected_count == 1
    assert got[name].sample == ("someone/orig (root_weight_sum=0)",)


def test_a_null_country_fails_the_tagged_suite(case):
    # someone/orig has no downloads and is UNATTRIBUTED: nulling its countries moves no coverage, and the
    # in-set rules skip nulls, so only the not-null rules can see it.
    tagged = set_value(set_value(case[1], "someone/orig", "org_country", None), "someone/orig", "root_country", None)
    result = suites.validate_tagged(tagged, TH)
    assert unexpected(failed(result)) == {"org_country is not null": 1, "root_country is not null": 1}
    assert result.worst == "ERROR"


def test_shares_summing_below_one_fail(case):
    # Direct download shares: CN 0.6, US 0.2, UNATTRIBUTED 0.2. CN set to 0 (a country lost) leaves 0.4, every
    # share still in [0, 1]: only the sum's lower bound catches it.
    bad = set_value(keyed(case[3]), "download_share|direct|all|CN", "value", 0.0, key="k").drop("k")
    got = failed(suites.validate_indices(bad, TH))
    assert unexpected(got) == {SUMS: 1}
    assert got[SUMS].sample[0].startswith("2026-05 download_share direct all (total=0.4")


def test_a_zero_weight_root_is_not_a_root(case):
    # Qwen/Q's own root at weight 1 beside a root of weight 0: the sum is still 1, the countries valid.
    roots = [
        {"root_id": "Qwen/Q", "namespace": "Qwen", "country": "CN", "weight": 1.0},
        {"root_id": "meta-llama/L", "namespace": "meta-llama", "country": "US", "weight": 0.0},
    ]
    got = failed(suites.validate_tagged(with_roots(case[1], "Qwen/Q", roots), TH))
    assert unexpected(got) == {"every lineage root weight is in (0, 1]": 1}
    assert got["every lineage root weight is in (0, 1]"].sample == ("Qwen/Q (weight=0)",)


def test_root_weights_off_by_a_millionth_fail_with_the_shipped_tolerance(case):
    # One root at 0.999999: in (0, 1], but the sum misses 1 by 1e-6, far above thresholds.yaml's 1e-9.
    roots = [{"root_id": "Qwen/Q", "namespace": "Qwen", "country": "CN", "weight": 0.999999}]
    got = failed(suites.validate_tagged(with_roots(case[1], "Qwen/Q", roots), TH))
    assert unexpected(got) == {"root weights sum to 1 for every model (no lineage walk left open)": 1}


def test_lineage_coverage_counts_only_attributed_roots(case):
    # Qwen/Q's root made UNATTRIBUTED: lineage coverage = (bartowski 100 + merge 100 + meta-llama 200) / 1,000
    # = 0.4, under both bounds; direct coverage stays 0.8.
    roots = [{"root_id": "Qwen/Q", "namespace": "Qwen", "country": "UNATTRIBUTED", "weight": 1.0}]
    result = suites.validate_tagged(with_roots(case[1], "Qwen/Q", roots), TH)
    assert [(o.severity, o.sample) for o in result.failed()] == [("ERROR", ("lineage (coverage=0.4)",)), ("WARN", ("lineage (coverage=0.4)",))]


def test_a_previous_month_of_one_row_still_bounds_the_row_count(case):
    # One row before allows ceil(0.97) = 1 to floor(1.25) = 1 rows; the case has 5.
    result = suites.validate_raw(case[0], ctx(previous=1), TH)
    (outcome,) = [o for o in result.outcomes if o.name.startswith("row count")]
    assert outcome.name == "row count within -3%/+25% of 2026-04 (1 rows): 1 to 1"
    assert (outcome.skipped, outcome.passed, outcome.observed) == (False, False, 5)
    assert result.worst == "ERROR"


def test_an_unknown_bloc_fails_the_aggregates_suite(case):
    # A made-up bloc would be a group of its own in every bloc-level query.
    raw, _, agg, _ = case
    cn = (pl.col("view") == "direct") & (pl.col("country") == "CN")
    bad = agg.with_columns(pl.when(cn).then(pl.lit("Atlantis")).otherwise(pl.col("bloc")).alias("bloc"))
    got = failed(suites.validate_aggregates(bad, raw, MONTH, TH))
    assert unexpected(got) == {"bloc is a known bloc": 1}


def test_an_invalid_country_in_the_indices_fails(case):
    # The CN share row relabelled ZZ: still unique, still a share with a country, the sum unchanged.
    bad = set_value(keyed(case[3]), "download_share|direct|all|CN", "country", "ZZ", key="k").drop("k")
    got = failed(suites.validate_indices(bad, TH))
    assert unexpected(got) == {"country is a valid country code": 1}


def test_a_key_given_twice_in_the_thresholds_is_refused(tmp_path):
    # An edit that adds a new max_shrink above the old one must not leave the gate on the old value.
    path = shipped_with(tmp_path, "max_shrink: 0.03", "max_shrink: 0.5\n  max_shrink: 0.03")
    text = path.read_text()
    line = text[: text.index("max_shrink: 0.03")].count("\n") + 1
    with pytest.raises(ThresholdsError) as err:
        load_thresholds(path)
    assert str(err.value) == f"cannot read thresholds {path}:{line}:3: not valid YAML (key 'max_shrink' is repeated)"


# Found untested by a mutation audit of quality/suites.py: each index of a kind, each tolerance at its edge, the
# offenders' samples, the messages a user reads.


def test_every_index_of_a_kind_is_bounded_not_only_its_first_member(case):
    # hhi_country, cr10_org and the per-family china_us_ratio_* / china_us_gap_* rows (metrics/indices.py) are
    # under the same bounds as hhi_org, cr5_org, china_us_ratio and china_us_gap.
    bad = keyed(case[3])
    for key, value in [
        ("hhi_country|direct|attributed|-", 10_000.5),
        ("cr10_org|lineage|all|-", 1.01),
        ("china_us_ratio_vintage|lineage|all|-", -0.5),
        ("china_us_gap_derivative|lineage|attributed|-", -1.01),
    ]:
        bad = set_value(bad, key, "value", value, key="k")
    got = failed(suites.validate_indices(bad.drop("k"), TH))
    assert unexpected(got) == {
        "HHI within [0, 10,000]": 1,
        "cr*_org and gini_org within [0, 1]": 1,
        "china_us_ratio* >= 0": 1,
        "china_us_gap* within [-1, 1]": 1,
    }
    assert got["HHI within [0, 10,000]"].sample == ("2026-05 hhi_country direct attributed - (hhi=10000.5)",)
    assert got["cr*_org and gini_org within [0, 1]"].sample == ("2026-05 cr10_org lineage all - (cr_or_gini=1.01)",)
    assert got["china_us_ratio* >= 0"].sample == ("2026-05 china_us_ratio_vintage lineage all - (china_us_ratio=-0.5)",)
    assert got["china_us_gap* within [-1, 1]"].sample == (
        "2026-05 china_us_gap_derivative lineage attributed - (china_us_gap=-1.01)",
    )


@pytest.mark.parametrize(("past", "fails"), [(0.1, False), (10.0, True)])
def test_an_index_past_its_bound_by_a_rounding_error_passes_by_more_fails(case, past, fails):
    # thresholds.yaml's bound_tolerance (1e-9) on each side of CR-n, Gini, effective_orgs and the gaps: a tenth of
    # it past the exact bound is rounding, ten times it is a wrong value.
    d = past * TH.dominance_indices.bound_tolerance
    bad = keyed(case[3])
    for key, value in [
        ("cr5_org|direct|all|-", 1 + d),
        ("gini_org|lineage|all|-", -d),
        ("effective_orgs|lineage|all|-", 1 - d),
        ("china_us_gap|direct|all|-", -1 - d),
        ("china_us_gap|lineage|all|-", 1 + d),
    ]:
        bad = set_value(bad, key, "value", value, key="k")
    got = failed(suites.validate_indices(bad.drop("k"), TH))
    expected = {"cr*_org and gini_org within [0, 1]": 2, "effective_orgs >= 1": 1, "china_us_gap* within [-1, 1]": 2}
    assert unexpected(got) == (expected if fails else {})


@pytest.mark.parametrize(("past", "fails"), [(0.1, False), (10.0, True)])
def test_a_leaderboard_share_above_one_by_a_rounding_error_passes_by_more_fails(board, past, fails):
    # A namespace holding a whole lineage view: its share, a ratio of two float sums, may come out a rounding
    # error above 1 (thresholds.yaml share_tolerance).
    first = pl.int_range(pl.len()) == 0
    lb = board.with_columns(pl.when(first).then(1 + past * TH.monthly_leaderboard.share_tolerance).otherwise(pl.col("share")).alias("share"))
    assert unexpected(failed(suites.validate_leaderboard(lb, TH))) == ({"share within [0, 1]": 1} if fails else {})


def test_a_root_weight_a_rounding_error_above_one_passes_but_weights_summing_to_two_fail(case):
    tol = TH.origin_tagged_models.weight_tolerance
    rounded = [{"root_id": "Qwen/Q", "namespace": "Qwen", "country": "CN", "weight": 1 + tol / 10}]
    assert not suites.validate_tagged(with_roots(case[1], "Qwen/Q", rounded), TH).failed()
    # Each root in (0, 1] and of a valid country, but the two sum to 2: the model counted twice in the lineage view.
    twice = [
        {"root_id": "Qwen/Q", "namespace": "Qwen", "country": "CN", "weight": 1.0},
        {"root_id": "meta-llama/L", "namespace": "meta-llama", "country": "US", "weight": 1.0},
    ]
    got = failed(suites.validate_tagged(with_roots(case[1], "Qwen/Q", twice), TH))
    name = "root weights sum to 1 for every model (no lineage walk left open)"
    assert unexpected(got) == {name: 1} and got[name].sample == ("Qwen/Q (root_weight_sum=2)",)


def test_a_model_created_at_the_snapshot_instant_passes_a_microsecond_later_fails(case):
    snapshot = dt.datetime(2026, 5, 31, tzinfo=dt.UTC)  # the case's snapshot_at
    at = set_value(case[0], "someone/orig", "created_at", snapshot)
    assert not suites.validate_raw(at, ctx(), TH).failed()
    after = set_value(case[0], "someone/orig", "created_at", snapshot + dt.timedelta(microseconds=1))
    assert unexpected(failed(suites.validate_raw(after, ctx(), TH))) == {"created_at <= snapshot_at": 1}


def test_the_quarantine_sample_takes_each_reason_in_turn_and_names_a_row_without_an_id(case):
    # 12 rows quarantined, in the order normalisation wrote them: 9 duplicate ids, 2 negative counts, 1 row
    # without an id. With a sample of 4, the first of each reason (reasons in name order), then the second of each.
    reasons = [("duplicate_id", None)] * 9 + [("negative_count", "likes"), ("negative_count", "downloads"), ("missing_id", None)]
    ids = [f"d/{i}" for i in range(9)] + ["n/0", "n/1", None]
    q = pl.DataFrame(
        {"month": [MONTH] * 12, "model_id": ids, "reason": [r for r, _ in reasons], "detail": [d for _, d in reasons],
         "row_json": ["{}"] * 12},
        schema=QUARANTINE.columns,
    )
    th = TH.model_copy(update={"sample_size": 4})
    result = suites.validate_raw(case[0], suites.RawContext(MONTH, q), th)
    (got,) = result.failed()
    assert got.name == "quarantined rows <= 1.00% of the listing (0 of 17)"
    assert got.unexpected_count == 12
    assert got.sample == ("d/0 (duplicate_id)", "<no id> (missing_id)", "n/0 (negative_count:likes)", "d/1 (duplicate_id)")
    assert got.note is None  # no quarantine file named: no hint


def test_nan_and_out_of_range_values_add_up_and_the_sample_keeps_its_size(case):
    # china_us_gap: 1.5 (out of range, seen by GX) and two NaNs (GX skips them like nulls, the suite adds them).
    bad = keyed(case[3])
    for key, value in [("china_us_gap|lineage|all|-", 1.5), ("china_us_gap|direct|all|-", math.nan), ("china_us_gap|direct|attributed|-", math.nan)]:
        bad = set_value(bad, key, "value", value, key="k")
    got = failed(suites.validate_indices(bad.drop("k"), TH.model_copy(update={"sample_size": 2})))
    assert unexpected(got) == {"every value is a number (not null, not NaN)": 2, "china_us_gap* within [-1, 1]": 3}
    assert got["china_us_gap* within [-1, 1]"].sample == (
        "2026-05 china_us_gap direct all - (china_us_gap=NaN)",
        "2026-05 china_us_gap direct attributed - (china_us_gap=NaN)",
    )


def test_a_skipped_expectation_is_not_counted_as_evaluated(case):
    result = suites.validate_raw(case[0], ctx(), TH)  # no previous month: the size comparison is skipped
    assert len(result.skipped) == 1 and result.evaluated == len(result.outcomes) - 1
    assert result.summary().splitlines()[0] == f"all {len(result.outcomes) - 1} expectations passed"


def test_the_failures_table_lists_warnings_too_and_an_observed_zero(case):
    late = suites.validate_raw(case[0].with_columns(snapshot_at=pl.lit(dt.datetime(2026, 6, 10, 12, tzinfo=dt.UTC))), ctx(), TH)
    assert late.failures_markdown().splitlines()[2:] == [
        "| WARN | snapshot taken at most 7 days after the month end | 1 |  | `2026-06-10 12:00 UTC (days_after_month_end=9.5)` |"
    ]
    empty = suites.validate_raw(case[0].clear(), ctx(), TH)
    (outcome,) = empty.failed()
    assert outcome.line() == "ERROR the listing has at least one model: observed 0"
    assert empty.failures_markdown().splitlines()[2:] == ["| ERROR | the listing has at least one model |  | 0 |  |"]
    assert suites.validate_raw(case[0], ctx(previous=5), TH).failures_markdown() == "All expectations passed."


def test_a_failure_line_shows_the_count_and_three_offenders(case):
    raw = case[0].with_columns(likes=pl.lit(-1, pl.Int64))  # all 5 models
    (outcome,) = suites.validate_raw(raw, ctx(), TH).failed()
    assert outcome.line() == (
        "ERROR likes within [0, 1e+11]: 5 unexpected; e.g. Qwen/Q (likes=-1), meta-llama/L (likes=-1), bartowski/Q-GGUF (likes=-1)"
    )
    assert len(outcome.sample) == 5  # the whole sample stays in the check's metadata
    # thresholds.yaml sample_size bounds it: all 5 are counted, the first 2 named.
    (few,) = suites.validate_raw(raw, ctx(), TH.model_copy(update={"sample_size": 2})).failed()
    assert (few.unexpected_count, few.sample) == (5, ("Qwen/Q (likes=-1)", "meta-llama/L (likes=-1)"))


def test_a_check_reading_only_some_columns_judges_the_schema_from_the_stored_footer(case):
    # The checks load RAW_CHECK_COLUMNS / TAGGED_CHECK_COLUMNS only; the schema rule must see the stored file's.
    raw, tagged = case[0], case[1]
    subset = raw.select(suites.RAW_CHECK_COLUMNS)
    assert not suites.validate_raw(subset, ctx(), TH, stored=raw.schema).failed()
    drifted = {**dict(raw.schema), "likes": pl.Float64()}
    got = failed(suites.validate_raw(subset, ctx(), TH, stored=drifted))
    assert got["columns and dtypes are those declared for raw_hub_listings (schemas.py)"].sample == ("likes (declared=Int64, actual=Float64)",)
    assert not suites.validate_tagged(tagged.select(suites.TAGGED_CHECK_COLUMNS), TH, stored=tagged.schema).failed()


def test_a_leaderboard_rank_equal_to_the_top_is_inside_it(board):
    # The case's boards rank 1, 2, 3, 3 (model boards and direct namespaces) and 1, 2 (lineage namespaces).
    assert not suites.validate_leaderboard(board, TH, top=3).failed()
    got = failed(suites.validate_leaderboard(board, TH, top=2))
    assert unexpected(got) == {"ranks within the top 2": 6}


def test_a_crossover_row_observed_in_no_month_fails():
    d = dt.date
    row = cross_rows(("download", "direct", 0, d(2026, 1, 1), d(2026, 4, 1), 1.2, None))
    assert unexpected(failed(suites.validate_crossover(row, TH))) == {"months_observed >= 1": 1}
    one = cross_rows(("download", "direct", 1, d(2026, 1, 1), d(2026, 1, 1), 1.2, None))
    assert not suites.validate_crossover(one, TH).failed()


def test_a_share_row_without_a_country_fails(case):
    # The CN download share with its country lost: still unique (a null key), the sum still 1, the share in range.
    bad = set_value(keyed(case[3]), "download_share|direct|all|CN", "country", None, key="k").drop("k")
    got = failed(suites.validate_indices(bad, TH))
    assert unexpected(got) == {"country is set exactly on the *_share rows": 1}
    assert got["country is set exactly on the *_share rows"].sample == ("2026-05 download_share direct all - (country_set_iff_share=false)",)


def test_a_listing_row_without_a_snapshot_time_fails(case):
    # The in-range and date rules skip a null snapshot_at; only its not-null rule sees it.
    bad = set_value(case[0], "meta-llama/L", "snapshot_at", None)
    got = failed(suites.validate_raw(bad, ctx(), TH))
    assert unexpected(got) == {"snapshot_at is not null": 1}
    assert got["snapshot_at is not null"].sample == ("meta-llama/L (snapshot_at=null)",)


def test_the_size_check_of_january_compares_with_december_of_the_year_before(case):
    january = suites.RawContext(dt.date(2026, 1, 1), QUARANTINE.empty(), previous_rows=5)
    result = suites.validate_raw(case[0], january, TH)
    (size,) = [o for o in result.outcomes if o.name.startswith("row count")]
    assert size.name == "row count within -3%/+25% of 2025-12 (5 rows): 5 to 6" and size.passed


def test_a_pair_expectation_names_its_offender_behind_rows_it_ignores(case):
    """The rows a pair expectation ignores are dropped before GX sees them (suites._pair_domain); the
    offender is still named by its own row, and the ignored rows are neither counted nor named."""
    raw, tagged = case[0], case[1]
    first, last = raw.get_column("model_id")[0], raw.get_column("model_id")[-1]
    late = dt.datetime(2026, 6, 2, tzinfo=dt.UTC)
    # created_at <= snapshot_at ignores a row missing either value.
    ignored = set_value(set_value(raw, first, "created_at", None), raw.get_column("model_id")[1], "snapshot_at", None)
    got = failed(suites.validate_raw(set_value(ignored, last, "created_at", late), ctx(), TH))
    assert unexpected(got) == {"created_at <= snapshot_at": 1, "snapshot_at is not null": 1}
    assert got["created_at <= snapshot_at"].sample == (f"{last} (snapshot_at=2026-05-31 00:00:00+00:00, created_at=2026-06-02 00:00:00+00:00)",)
    # created_at >= created_at_hub ignores a row missing both, and counts one missing only one.
    name = "created_at >= created_at_hub (a release-date correction only moves a date later)"
    both = set_value(set_value(tagged, first, "created_at", None), first, "created_at_hub", None)
    one = set_value(both, tagged.get_column("model_id")[1], "created_at", None)
    earlier = set_value(one, last, "created_at", dt.datetime(2000, 1, 1, tzinfo=dt.UTC))
    got = failed(suites.validate_tagged(earlier, TH))
    assert got[name].unexpected_count == 2
    assert [s.split(" (")[0] for s in got[name].sample] == [tagged.get_column("model_id")[1], last]


@pytest.mark.parametrize("how", ["either_value_is_missing", "both_values_are_missing"])
def test_a_pair_expectation_ignores_the_rows_pandas_dropna_would(how):
    """Missing is pandas' missing: a NaN counts as one, as a null does (GX drops rows with pandas' dropna)."""
    frame = pl.DataFrame({"a": [1.0, float("nan"), None, 2.0, float("nan"), 3.0], "b": [1, 1, 1, None, None, 2]})
    e = suites.Expectation("a >= b", "t", "ExpectColumnPairValuesAToBeGreaterThanB", {"column_A": "a", "column_B": "b", "ignore_row_if": how})
    pandas_how = "any" if how == "either_value_is_missing" else "all"
    expected = frame.to_pandas().dropna(how=pandas_how, subset=["a", "b"]).index.to_list()
    assert suites._pair_domain(e, frame).to_list() == expected
    assert expected == ([0, 5] if pandas_how == "any" else [0, 1, 2, 3, 5])
