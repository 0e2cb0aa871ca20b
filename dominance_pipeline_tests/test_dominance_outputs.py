"""The index set, the leaderboard and the time series through real Dagster runs on the real sample.

Two months in one warehouse: 2026-04 (derived from the sample, see conftest.derive_previous_month) and
2026-05 (the bundled real sample), then timeseries_job. Expected values are recomputed with DuckDB SQL over
the Parquet outputs, sharing no code with the pipeline.
"""

from __future__ import annotations

import base64
import io
from pathlib import Path

import dagster as dg
import duckdb
import polars as pl
import pytest

from dominance_pipeline_tests.conftest import PREVIOUS_KEY, SAMPLE_KEY, run_month

TOL = 1e-9


def table(data_dir: Path, name: str, key: str) -> Path:
    return data_dir / "warehouse" / name / f"month={key}" / "data.parquet"


def published(data_dir: Path, key: str, index: str) -> dict[tuple, float]:
    ix = pl.read_parquet(table(data_dir, "dominance_indices", key)).filter(pl.col("index") == index)
    return {(v, d, c): x for v, d, c, x in ix.select("view", "denominator", "country", "value").iter_rows()}


# Per model and view: the country credited and the weight (1 in direct; each root's weight in lineage).
VIEW_ROWS = """
with t as (select * from read_parquet($tagged)),
views as (
    select 'direct' as view, model_id, org_country as country, org_namespace as namespace, 1.0 as weight from t
    union all
    select 'lineage', model_id, r.country, r.namespace, r.weight from (select model_id, unnest(lineage_roots) as r from t)
),
rows as (select v.*, t.* exclude (model_id) from views v join t using (model_id))
"""

SHARES_SQL = VIEW_ROWS + """,
amounts as (select view, country, sum(weight * ({amount})) as a from rows group by view, country),
groups as (
    select view, 'all' as denominator, country, a from amounts
    union all
    select view, 'attributed', country, a from amounts where country <> 'UNATTRIBUTED'
)
select view, denominator, country, a / sum(a) over (partition by view, denominator) as share
from groups qualify sum(a) over (partition by view, denominator) > 0
"""

HHI_ORG_SQL = VIEW_ROWS + """,
orgs as (select view, namespace, sum(weight * coalesce(downloads_30d, 0)) as d from rows group by view, namespace)
select view, 10000 * sum(power(d / total, 2)) from (select *, sum(d) over (partition by view) as total from orgs) group by view
"""

DOWNLOADS = "coalesce(downloads_30d, 0)"
NEW_ORIGINAL = (
    "case when created_at >= cast($start as timestamptz) and created_at < cast($end as timestamptz)"
    " and len(list_filter(base_model_ids, lambda x: x <> model_id)) = 0 then 1.0 else 0.0 end"
)
MONTHS = {SAMPLE_KEY: ("2026-05-01 00:00:00+00", "2026-06-01 00:00:00+00"), PREVIOUS_KEY: ("2026-04-01 00:00:00+00", "2026-05-01 00:00:00+00")}


def sql_shares(data_dir: Path, key: str, amount: str) -> dict[tuple, float]:
    params = {"tagged": str(table(data_dir, "origin_tagged_models", key))}
    if "$start" in amount:
        params |= dict(zip(("start", "end"), MONTHS[key], strict=True))
    rows = duckdb.execute(SHARES_SQL.format(amount=amount), params).fetchall()
    return {(v, d, c): float(x) for v, d, c, x in rows}


def assert_same(got: dict[tuple, float], expected: dict[tuple, float]) -> None:
    assert set(got) == set(expected)
    for key, value in expected.items():
        assert got[key] == pytest.approx(value, abs=TOL), key


@pytest.fixture(scope="module")
def runs(two_month_run):
    months, series, data_dir = two_month_run
    assert all(r.success for r in months.values()) and series.success
    return months, series, data_dir


def test_every_check_passes_in_both_months_and_the_series(runs):
    months, series, _ = runs
    for result in months.values():
        evals = result.get_asset_check_evaluations()
        assert {e.asset_check_key.name for e in evals} == {
            "raw_hub_listings_valid",
            "origin_tagged_models_valid",
            "monthly_aggregates_conserve_totals",
            "dominance_indices_valid",
            "monthly_leaderboard_valid",
        }
        assert all(e.passed for e in evals), [(e.asset_check_key.name, e.description) for e in evals if not e.passed]
    evals = series.get_asset_check_evaluations()
    assert {e.asset_check_key.name: e.passed for e in evals} == {"dominance_timeseries_valid": True, "dominance_crossover_valid": True}
    (ts_check,) = [e for e in evals if e.asset_check_key.name == "dominance_timeseries_valid"]
    assert ts_check.metadata["rows"].value == pl.read_parquet(runs[2] / "warehouse" / "dominance_timeseries" / "data.parquet").height


@pytest.mark.parametrize("key", [SAMPLE_KEY, PREVIOUS_KEY])
def test_download_share_new_model_share_and_hhi_org_match_sql(runs, key):
    _, _, data_dir = runs
    assert_same(published(data_dir, key, "download_share"), sql_shares(data_dir, key, DOWNLOADS))
    assert_same(published(data_dir, key, "new_model_share"), sql_shares(data_dir, key, NEW_ORIGINAL))
    hhi = dict(duckdb.execute(HHI_ORG_SQL, {"tagged": str(table(data_dir, "origin_tagged_models", key))}).fetchall())
    got = {v: x for (v, _, _), x in published(data_dir, key, "hhi_org").items()}
    assert got == pytest.approx({v: float(x) for v, x in hhi.items()}, abs=TOL)


def test_new_model_share_is_absent_in_may_and_says_why(runs):
    # The sample has no model created in May 2026 (its newest is from 2026-04-22), so May has no
    # new-model rows at all, while April has six originals (DeepSeek, Qwen, Moonshot, Zhipu).
    months, _, data_dir = runs
    assert not published(data_dir, SAMPLE_KEY, "new_model_share")
    assert published(data_dir, PREVIOUS_KEY, "new_model_share")[("direct", "all", "CN")] == pytest.approx(1.0)
    meta = metadata(months[SAMPLE_KEY], "dominance_indices")
    assert meta["absent"].value["new_model_share"] == "no original model (without a base model) was created in 2026-05"


def metadata(result: dg.ExecuteInProcessResult, asset: str) -> dict:
    event = next(e for e in result.get_asset_materialization_events() if e.asset_key.to_user_string() == asset)
    return event.materialization.metadata


DELTA_SQL = """
with now as (select * from read_parquet($now)), before as (select model_id, downloads_all_time as prev from read_parquet($before)),
d as (
    select org_country as country,
           greatest(now.downloads_all_time - coalesce(before.prev, 0), 0) as delta
    from now left join before using (model_id)
)
select country, sum(delta) / (select sum(delta) from d) from d group by country
"""


def test_download_delta_share_reads_the_previous_month(runs):
    months, _, data_dir = runs
    expected = dict(
        duckdb.execute(
            DELTA_SQL,
            {"now": str(table(data_dir, "origin_tagged_models", SAMPLE_KEY)), "before": str(table(data_dir, "raw_hub_listings", PREVIOUS_KEY))},
        ).fetchall()
    )
    got = {c: x for (v, d, c), x in published(data_dir, SAMPLE_KEY, "download_delta_share").items() if (v, d) == ("direct", "all")}
    assert got == pytest.approx({c: float(x) for c, x in expected.items()}, abs=TOL)
    # April's previous month (March) was never materialized: no delta rows, and the metadata says so
    assert not published(data_dir, PREVIOUS_KEY, "download_delta_share")
    reason = metadata(months[PREVIOUS_KEY], "dominance_indices")["absent"].value["download_delta_share"]
    assert "2026-03 is not materialized" in reason


def test_leaderboard_ranks_the_sample_and_its_changes(runs):
    _, _, data_dir = runs
    board = pl.read_parquet(table(data_dir, "monthly_leaderboard", SAMPLE_KEY))
    assert board.group_by("board", "view").agg(pl.len()).get_column("len").to_list() == [50] * 4
    top = duckdb.execute(
        "select id from read_parquet($s) order by downloads desc, id limit 50",
        {"s": str(Path(__file__).parents[1] / "data" / "sample" / "hub_stats_2026-05.parquet")},
    ).fetchall()
    direct = board.filter((pl.col("board") == "model") & (pl.col("view") == "direct")).sort("rank")
    assert direct.get_column("name").to_list() == [r[0] for r in top]
    # every top model existed in April, so every one has a previous rank, and the changes add up
    assert direct.get_column("previous_rank").null_count() == 0
    april = dict(pl.read_parquet(table(data_dir, "raw_hub_listings", PREVIOUS_KEY)).select("model_id", "downloads_30d").iter_rows())
    for r in direct.iter_rows(named=True):
        # competition rank: 1 + the number of April models with strictly more downloads
        assert r["previous_rank"] == 1 + sum(d > april[r["name"]] for d in april.values())
        assert r["rank_change"] == r["previous_rank"] - r["rank"]


def test_timeseries_holds_both_months_and_a_chart(runs):
    _, series, data_dir = runs
    ts = pl.read_parquet(data_dir / "warehouse" / "dominance_timeseries" / "data.parquet")
    assert sorted(ts.get_column("month").cast(pl.String).unique().to_list()) == [PREVIOUS_KEY, SAMPLE_KEY]
    both = pl.concat([pl.read_parquet(table(data_dir, "dominance_indices", k)) for k in (PREVIOUS_KEY, SAMPLE_KEY)])
    assert ts.height == both.height
    cross = pl.read_parquet(data_dir / "warehouse" / "dominance_crossover" / "data.parquet")
    download = cross.filter(pl.col("family") == "download").sort("view").to_dicts()
    assert [r["months_observed"] for r in download] == [2, 2]
    assert all(r["crossover_month"] is None for r in download)  # two months cannot make a three-month run

    import matplotlib.image as mpimg

    meta = metadata(series, "dominance_timeseries")
    assert meta["months"].value == 2
    png = (data_dir / "warehouse" / "dominance_timeseries" / "chart.png").read_bytes()
    embedded = meta["chart"].value.split("base64,", 1)[1].rstrip(")")
    assert base64.b64decode(embedded) == png
    img = mpimg.imread(io.BytesIO(png), format="png")
    assert img.shape[0] > 300 and img.shape[1] > 1000
    assert "| download | direct |" in meta["latest_month"].value
    con = duckdb.connect(str(data_dir / "warehouse" / "dominance.duckdb"), read_only=True)
    assert con.execute("select count(distinct month) from dominance_timeseries").fetchone() == (2,)


def test_the_first_partition_materializes_without_a_previous_month(tmp_path, sample_path):
    # 2024-07 is the first partition: its previous month does not exist at all (not merely unmaterialized).
    result = run_month(tmp_path, "2024-07-01", raw_config={"source": "local", "snapshot": str(sample_path)})
    assert result.success
    reason = metadata(result, "dominance_indices")["absent"].value["download_delta_share"]
    assert reason == "no previous month: 2024-07 is the first partition"
    assert metadata(result, "monthly_leaderboard")["previous_month"].value == "absent: first partition"


def test_the_leaderboard_metadata_names_the_month_it_ranked_against_or_why_none(runs):
    # May is ranked against April; April's previous month (March) was never materialized, and April is not
    # the first partition: the reason names March, not April.
    months, _, _ = runs
    assert metadata(months[SAMPLE_KEY], "monthly_leaderboard")["previous_month"].value == "2026-04"
    assert metadata(months[PREVIOUS_KEY], "monthly_leaderboard")["previous_month"].value == (
        "absent: origin_tagged_models for 2026-03 is not materialized"
    )


def test_the_indices_preview_puts_each_countrys_share_in_its_own_column():
    import datetime as dt

    from dominance_pipeline.defs.indices import summary_markdown
    from dominance_pipeline_tests.cases import case_indices

    ix = case_indices(dt.date(2026, 5, 1))
    rows = ix.filter((pl.col("view") == "direct") & (pl.col("denominator") == "all"))
    share = dict(rows.filter(pl.col("index") == "download_share").select("country", "value").iter_rows())
    (ratio,) = rows.filter(pl.col("index") == "china_us_ratio").get_column("value").to_list()
    assert share["CN"] != share["US"]  # Qwen (CN, 600) outweighs meta-llama (US, 200)
    lines = summary_markdown(ix).splitlines()
    assert lines[0] == "| view | denominator | CN | US | UNATTRIBUTED | CN/US |"
    line = f"| direct | all | {share['CN'] * 100:.2f}% | {share['US'] * 100:.2f}% | {share['UNATTRIBUTED'] * 100:.2f}% | {ratio:.3f} |"
    assert line in lines, lines
