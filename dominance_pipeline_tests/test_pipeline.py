"""The real chain through Dagster on the real 2026-05 sample, checked against independent computations."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import dagster as dg
import duckdb
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from dominance_pipeline.origin.registry import REGISTRY_PATH
from dominance_pipeline.schemas import BY_ASSET
from dominance_pipeline_tests.conftest import SAMPLE, SAMPLE_KEY, run_month

ASSET_NAMES = ["raw_hub_listings", "origin_tagged_models", "monthly_aggregates", "dominance_indices", "monthly_leaderboard"]


def shares(data_dir: Path, view: str, denominator: str) -> dict[str, float]:
    ix = pl.read_parquet(data_dir / "warehouse" / "dominance_indices" / f"month={SAMPLE_KEY}" / "data.parquet")
    rows = ix.filter((pl.col("index") == "download_share") & (pl.col("view") == view) & (pl.col("denominator") == denominator))
    return dict(rows.select("country", "value").iter_rows())


def test_run_succeeds_and_every_check_passes(sample_run):
    result, _ = sample_run
    assert result.success
    evals = result.get_asset_check_evaluations()
    # One GX check per monthly asset.
    assert sorted(e.asset_key.to_user_string() for e in evals) == sorted(ASSET_NAMES) and all(e.passed for e in evals)
    assert {e.partition for e in evals} == {SAMPLE_KEY}
    materialized = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert materialized == set(ASSET_NAMES)


def test_the_aggregates_metadata_counts_countries_not_buckets(sample_run):
    result, data_dir = sample_run
    (agg,) = [m for m in result.asset_materializations_for_node("monthly_aggregates")]
    tagged = pl.read_parquet(data_dir / "warehouse" / "origin_tagged_models" / f"month={SAMPLE_KEY}" / "data.parquet")
    iso = {c for c in tagged["org_country"].unique() if len(c) == 2}  # ISO 3166-1 alpha-2; not INTL, UNATTRIBUTED
    assert agg.metadata["countries_direct"].value == len(iso)


def test_the_raw_metadata_counts_placeholder_dates_and_authors_other_than_the_ids_namespace(sample_run):
    result, _ = sample_run
    (raw,) = [m for m in result.asset_materializations_for_node("raw_hub_listings")]
    hub = pl.read_parquet(SAMPLE, columns=["id", "author", "createdAt"])
    mismatch = sum(1 for i, a in hub.select("id", "author").iter_rows() if a is not None and a != i.split("/")[0])
    placeholder = hub.filter(pl.col("createdAt") == dt.datetime(2022, 3, 2, 23, 29, 4)).height  # the Hub's placeholder, UTC
    assert (raw.metadata["author_mismatch"].value, raw.metadata["placeholder_created_at"].value) == (mismatch, placeholder)
    assert raw.metadata["quarantined"].value == 0  # every sample row is kept, so both count over the whole file


def test_outputs_are_hive_partitioned_with_declared_schemas(sample_run):
    _, data_dir = sample_run
    for name in ASSET_NAMES:
        path = data_dir / "warehouse" / name / f"month={SAMPLE_KEY}" / "data.parquet"
        df = pl.read_parquet(path)
        assert df.schema == pl.Schema(BY_ASSET[name].columns)
        assert df.get_column("month").cast(pl.String).unique().to_list() == [SAMPLE_KEY]
    quarantine = data_dir / "warehouse" / "quarantine" / "raw_hub_listings" / f"month={SAMPLE_KEY}" / "data.parquet"
    assert pl.read_parquet(quarantine).is_empty()


# The registry rows valid on the sample month's last day (a namespace can have rows for several periods).
DIRECT_SQL = """
with reg as (
    select lower(namespace) as ns, country
    from read_csv(?, all_varchar = true)
    where coalesce(valid_from, '0000') <= '2026-05-31' and coalesce(valid_to, '9999') > '2026-05-31'
),
models as (
    select coalesce(reg.country, 'UNATTRIBUTED') as country, coalesce(m.downloads, 0) as downloads
    from read_parquet(?) m left join reg on lower(split_part(m.id, '/', 1)) = reg.ns
)
select country, sum(downloads) / (select sum(downloads) from models) as share_all,
       sum(downloads) / (select sum(downloads) from models where country <> 'UNATTRIBUTED') as share_attributed
from models group by country
"""


def test_direct_download_share_matches_sql_over_the_sample(sample_run):
    _, data_dir = sample_run
    reg = str(REGISTRY_PATH)
    expected = {c: (a, b) for c, a, b in duckdb.execute(DIRECT_SQL, [reg, str(SAMPLE)]).fetchall()}
    got_all, got_attr = shares(data_dir, "direct", "all"), shares(data_dir, "direct", "attributed")
    for country in ("CN", "US"):
        assert got_all[country] == pytest.approx(expected[country][0], abs=1e-12)
        assert got_attr[country] == pytest.approx(expected[country][1], abs=1e-12)
    assert got_all["UNATTRIBUTED"] == pytest.approx(expected["UNATTRIBUTED"][0], abs=1e-12)
    assert got_all["CN"] > got_all["US"] > 0.3


def _independent_lineage_shares() -> dict[str, float]:
    """A plain recursive walk (dicts and memoisation), sharing no code with origin.lineage."""
    import csv
    import json

    raw = pl.read_parquet(SAMPLE).select("id", "downloads", "tags", "baseModels", "cardData").to_dicts()
    country, renamed = {}, {}
    day = "2026-05-31"
    for r in csv.DictReader(REGISTRY_PATH.open(encoding="utf-8")):
        if (r["valid_from"] or "0000") <= day < (r["valid_to"] or "9999"):
            country[r["namespace"].lower()] = r["country"]
            if r["renamed_to"]:
                renamed[r["namespace"].lower()] = r["renamed_to"]
    ids = {r["id"] for r in raw}
    by_lower = {i.lower(): i for i in sorted(ids, reverse=True)}

    def served(p: str) -> str:
        """The Hub serves ids case-insensitively and redirects renamed namespaces."""
        if p in ids:
            return p
        if p.lower() in by_lower:
            return by_lower[p.lower()]
        ns, _, name = p.partition("/")
        if ns.lower() in renamed and name:
            moved = f"{renamed[ns.lower()]}/{name}"
            return by_lower.get(moved.lower(), moved)
        return p

    parents: dict[str, list[str]] = {}
    for r in raw:
        ps: list[str] = []
        if r["baseModels"]:
            ps += [m["id"] for m in r["baseModels"]["models"]]
        for t in r["tags"] or []:
            if t.startswith("base_model:"):
                parts = t.split(":")
                ps.append(parts[-1] if len(parts) == 2 else ":".join(parts[2:]))
        if r["cardData"]:
            b = json.loads(r["cardData"]).get("base_model")
            ps += [b] if isinstance(b, str) else list(b or [])
        seen: list[str] = []
        for p in (served(x.strip()) for x in ps if x.strip()):
            if p != r["id"] and p not in seen:
                seen.append(p)
        parents[r["id"]] = seen
    memo: dict[str, dict[str, float]] = {}

    def roots(m: str) -> dict[str, float]:
        if m not in memo:
            ps = parents.get(m, [])
            out: dict[str, float] = {}
            if not ps:
                out[m] = 1.0
            for p in ps:
                for root, w in roots(p).items():
                    out[root] = out.get(root, 0.0) + w / len(ps)
            memo[m] = out
        return memo[m]

    totals: dict[str, float] = {}
    for r in raw:
        for root, w in roots(r["id"]).items():
            c = country.get(root.split("/")[0].lower(), "UNATTRIBUTED")
            totals[c] = totals.get(c, 0.0) + w * (r["downloads"] or 0)
    grand = sum(totals.values())
    return {c: v / grand for c, v in totals.items()}


def test_lineage_download_share_matches_an_independent_walk(sample_run):
    import sys

    _, data_dir = sample_run
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(10_000)
    try:
        expected = _independent_lineage_shares()
    finally:
        sys.setrecursionlimit(limit)
    got = shares(data_dir, "lineage", "all")
    for country in ("CN", "US", "UNATTRIBUTED"):
        assert got[country] == pytest.approx(expected[country], abs=1e-9)


def test_rematerializing_replaces_the_partition(tmp_path):
    instance = dg.DagsterInstance.ephemeral()
    first = run_month(tmp_path, instance=instance)
    second = run_month(tmp_path, instance=instance)
    assert first.success and second.success
    raw = pl.read_parquet(tmp_path / "warehouse" / "raw_hub_listings" / f"month={SAMPLE_KEY}" / "data.parquet")
    assert raw.height == pl.read_parquet(SAMPLE).height
    con = duckdb.connect(str(tmp_path / "warehouse" / "dominance.duckdb"), read_only=True)
    assert con.execute("select count(*) from raw_hub_listings").fetchone() == (raw.height,)


def test_missing_month_fails_with_where_it_looked(tmp_path):
    result = run_month(tmp_path, key="2026-04-01")
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    assert failure.step_key == "raw_hub_listings"
    err = failure.step_failure_data.error
    text = err.cause.message if err.cause else err.message
    assert "hub_stats_2026-04.parquet" in text and "--snapshot" in text
    assert not (tmp_path / "warehouse" / "dominance_indices").exists()


def test_a_broken_registry_stops_the_month_before_the_indices(tmp_path):
    bad_registry = tmp_path / "registry.csv"
    shutil.copy(REGISTRY_PATH, bad_registry)
    bad_registry.write_text(bad_registry.read_text().replace("Qwen,Qwen (Alibaba Cloud),CN", "Qwen,Qwen (Alibaba Cloud),ZZ"))
    from dominance_pipeline.definitions import build_definitions
    from dominance_pipeline.defs.resources import RegistryResource

    defs = build_definitions(tmp_path)
    result = dg.materialize(
        [*defs.assets, *defs.asset_checks],  # type: ignore[list-item]
        partition_key=SAMPLE_KEY,
        resources={**defs.resources, "registry": RegistryResource(path=str(bad_registry))},
        instance=dg.DagsterInstance.ephemeral(),
        raise_on_error=False,
        run_config={"ops": {"raw_hub_listings": {"config": {"source": "local"}}}},
    )
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    assert failure.step_key == "origin_tagged_models"
    assert "country 'ZZ'" in str(failure.step_failure_data.error.cause.message)
    assert not (tmp_path / "warehouse" / "dominance_indices").exists()


def test_a_month_whose_raw_partition_predates_repack_format_is_tagged_again(tmp_path):
    """A warehouse written before raw_hub_listings had `repack_format`: tagging that month again works."""
    from dominance_pipeline.definitions import build_definitions

    instance = dg.DagsterInstance.ephemeral()
    assert run_month(tmp_path, instance=instance).success
    warehouse = tmp_path / "warehouse"
    raw_file = warehouse / "raw_hub_listings" / f"month={SAMPLE_KEY}" / "data.parquet"
    tagged_file = warehouse / "origin_tagged_models" / f"month={SAMPLE_KEY}" / "data.parquet"
    before = pl.read_parquet(tagged_file).sort("model_id")
    raw = pl.read_parquet(raw_file)
    assert raw.get_column("repack_format").any()  # the sample has GGUF builds: the flag is not vacuous
    raw.drop("repack_format").write_parquet(raw_file)
    shutil.rmtree(warehouse / "_checks")  # nor did such a warehouse keep its checks' verdicts

    defs = build_definitions(tmp_path)
    result = dg.materialize(
        [*defs.assets, *defs.asset_checks],  # type: ignore[list-item]
        selection=["origin_tagged_models"],
        partition_key=SAMPLE_KEY,
        resources=defs.resources,
        instance=instance,
        raise_on_error=False,
    )
    assert result.success
    after = pl.read_parquet(tagged_file).sort("model_id")
    assert after.get_column("repack_format").to_list() == before.get_column("repack_format").to_list()
    # Identical, to the last bit of every merge weight and the order of every model's roots.
    assert_frame_equal(after, before, check_exact=True)


def test_the_coverage_metadata_is_each_views_attributed_download_share(sample_run):
    result, data_dir = sample_run
    [meta] = [e.materialization.metadata for e in result.get_asset_materialization_events()
              if e.asset_key.to_user_string() == "origin_tagged_models"]
    tagged = pl.read_parquet(data_dir / "warehouse" / "origin_tagged_models" / f"month={SAMPLE_KEY}" / "data.parquet",
                             columns=["downloads_30d", "org_country"])
    total = tagged.get_column("downloads_30d").sum()
    direct = tagged.filter(pl.col("org_country") != "UNATTRIBUTED").get_column("downloads_30d").sum() / total
    assert meta["coverage_direct"].value == pytest.approx(direct, abs=1e-12)
    assert meta["coverage_direct"].value != pytest.approx(meta["coverage_lineage"].value, abs=1e-6)  # the views differ on the sample
