"""The whole chain through Dagster with the live and archive sources, against the local Hub server."""

from __future__ import annotations

import datetime as dt

import dagster as dg
import polars as pl
import pytest

from dominance_pipeline.defs.ingest import raw_hub_listings
from dominance_pipeline.hubserver import HubServer
from dominance_pipeline.hubserver.models import ModelCorpus
from dominance_pipeline.hubserver.repos import weekly_repo
from dominance_pipeline.metrics import indices
from dominance_pipeline_tests.conftest import SAMPLE, SAMPLE_KEY, run_month

JUNE_5 = dt.datetime(2026, 6, 5, tzinfo=dt.UTC)


def partition(data_dir, table: str) -> pl.DataFrame:  # noqa: ANN001
    return pl.read_parquet(data_dir / "warehouse" / table / f"month={SAMPLE_KEY}" / "data.parquet", glob=False)


def same_indices(a: pl.DataFrame, b: pl.DataFrame) -> bool:
    """Equal up to float summation order (models arrive in another order from the API than from the file)."""
    keys = ["index", "view", "denominator", "country"]
    joined = a.join(b, on=keys, how="full", nulls_equal=True, coalesce=True)
    return a.height == b.height == joined.height and joined.filter((pl.col("value") - pl.col("value_right")).abs() > 1e-9).is_empty()


def same_as_local(data_dir, local_dir, snapshot_at: dt.datetime) -> bool:  # noqa: ANN001
    """The indices equal those of the same listing read as a local file, taken at `snapshot_at`.

    Only vintage_share (and its ratio and gap) depends on the snapshot time (models at most 12 months old
    at the snapshot), and the local file's inferred time (2026-05-20) is not the live or archive one; so the
    expectation is the local run's tagged models, moved to `snapshot_at`, through the indices' pure core.
    """
    tagged = partition(local_dir, "origin_tagged_models").with_columns(pl.lit(snapshot_at).alias("snapshot_at"))
    expected = indices.compute(tagged, dt.date(2026, 5, 1)).table
    return same_indices(partition(data_dir, "dominance_indices"), expected)


def raw_metadata(result) -> dict:  # noqa: ANN001
    event = next(e for e in result.get_asset_materialization_events() if e.asset_key.to_user_string() == "raw_hub_listings")
    return {k: v.value for k, v in event.materialization.metadata.items()}


@pytest.fixture(scope="module")
def live_run(tmp_path_factory, sample_path):
    data_dir = tmp_path_factory.mktemp("live_run")
    with HubServer(ModelCorpus.from_parquet([sample_path]), as_of=JUNE_5, page_size=700) as server:
        result = run_month(data_dir, raw_config={"source": "live"}, hub_endpoint=server.url)
    return result, data_dir


def test_live_month_runs_the_chain_and_matches_the_local_source(live_run, sample_run):
    result, data_dir = live_run
    assert result.success
    assert all(e.passed for e in result.get_asset_check_evaluations())
    raw = partition(data_dir, "raw_hub_listings")
    assert raw.height == 4167 and raw["source"].unique().to_list() == ["live"]
    assert raw["snapshot_at"].unique().to_list() == [JUNE_5]
    meta = raw_metadata(result)
    assert meta["listing_pages"] == 6 and meta["listing_clock"] == "server" and meta["dagster/row_count"] == 4167
    # Same models, same counts: the indices equal those of the same snapshot read as a local file.
    _, local_dir = sample_run
    assert same_as_local(data_dir, local_dir, JUNE_5)
    assert not list((data_dir / "warehouse").glob(".staging-*"))


def test_archive_month_runs_the_chain(tmp_path, sample_path, sample_run):
    repo = weekly_repo([(dt.date(2026, 5, 25), sample_path)])
    with HubServer(repos=[repo]) as server:
        result = run_month(tmp_path, raw_config={"source": "archive"}, hub_endpoint=server.url)
    assert result.success
    raw = partition(tmp_path, "raw_hub_listings")
    assert raw.height == 4167 and raw["source"].unique().to_list() == ["archive"]
    assert raw["snapshot_at"].unique().to_list() == [dt.datetime(2026, 6, 1, tzinfo=dt.UTC)]
    meta = raw_metadata(result)
    assert meta["archive_snapshot"] == "models/2026-05-25 (week of 2026-05-25)" and meta["archive_columns_absent"] == ["gated"]
    assert meta["missing_columns"] == ["gated"]
    _, local_dir = sample_run
    assert same_as_local(tmp_path, local_dir, dt.datetime(2026, 6, 1, tzinfo=dt.UTC))


def test_a_refused_live_listing_fails_the_step_and_keeps_the_previous_partition(tmp_path, sample_path):
    instance = dg.DagsterInstance.ephemeral()
    assert run_month(tmp_path, instance=instance).success
    before = partition(tmp_path, "raw_hub_listings")
    with HubServer(ModelCorpus.from_parquet([sample_path]), as_of=dt.datetime(2026, 11, 29, tzinfo=dt.UTC)) as server:
        result = run_month(tmp_path, raw_config={"source": "live"}, instance=instance, hub_endpoint=server.url)
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    assert failure.step_key == "raw_hub_listings"
    assert "use the archive source" in failure.step_failure_data.error.cause.message
    assert partition(tmp_path, "raw_hub_listings").equals(before)
    assert not list((tmp_path / "warehouse").glob(".staging-*"))


def test_hub_calls_share_one_concurrency_pool():
    assert raw_hub_listings.op.pool == "hf_api"


def test_a_live_listing_that_repeats_models_is_quarantined_and_fails_the_raw_gate(tmp_path, sample_path):
    # The listing serves 60 of the sample's 4,167 models twice, the second copy modified an hour later:
    # 60 of 4,227 rows is above the 1 % quarantine threshold (42 rows).
    sample = pl.read_parquet(sample_path)
    repeated = sample.sample(60, seed=3).with_columns(pl.col("lastModified") + dt.timedelta(hours=1))
    corpus = ModelCorpus(pl.concat([sample, repeated]))
    with HubServer(corpus, as_of=JUNE_5, page_size=500) as server:
        result = run_month(tmp_path, raw_config={"source": "live"}, hub_endpoint=server.url)
        assert server.stats.pages_sent == 9
    assert not result.success
    (raw_check,) = [e for e in result.get_asset_check_evaluations() if e.check_name == "raw_hub_listings_valid"]
    assert not raw_check.passed and raw_check.severity == dg.AssetCheckSeverity.ERROR
    (failed,) = raw_check.metadata["failed"].value
    assert failed["expectation"].startswith("quarantined rows <= 1.00% of the listing (42 of 4,227)")
    assert failed["unexpected_count"] == 60
    # The rejected listing left the published tree with its quarantine (the month's first: nothing to go back to).
    rejected = tmp_path / "warehouse" / "_rejected" / "raw_hub_listings" / f"month={SAMPLE_KEY}"
    assert not (tmp_path / "warehouse" / "raw_hub_listings" / f"month={SAMPLE_KEY}" / "data.parquet").exists()
    quarantine = pl.read_parquet(rejected / "quarantine.parquet")
    assert sorted(quarantine["model_id"]) == sorted(repeated["id"]) and set(quarantine["reason"]) == {"duplicate_id"}
    # Each model once in the listing, as its later copy; nothing downstream of the raw asset ran.
    raw = pl.read_parquet(rejected / "data.parquet")
    assert raw.height == 4167 and raw["model_id"].n_unique() == 4167
    kept = raw.filter(pl.col("model_id").is_in(repeated["id"].implode())).select("model_id", "last_modified").sort("model_id")
    later = repeated.select(pl.col("id").alias("model_id"), pl.col("lastModified").dt.replace_time_zone("UTC").alias("last_modified"))
    assert kept.equals(later.sort("model_id"))
    assert {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()} == {"raw_hub_listings"}


def test_paths_with_glob_characters_are_read_as_written(tmp_path, sample_run):
    # "snaps [a]" read as a pattern matches the sibling "snaps a", which holds 40 other models under the same name.
    import shutil

    import duckdb

    from dominance_pipeline.storage.duckdb_views import ensure_views

    snaps = tmp_path / "snaps [a]"
    snaps.mkdir()
    shutil.copy(SAMPLE, snaps / SAMPLE.name)
    decoy = tmp_path / "snaps a"
    decoy.mkdir()
    pl.read_parquet(SAMPLE).head(40).with_columns(pl.format("decoy/m-{}", pl.int_range(pl.len())).alias("id")).write_parquet(decoy / SAMPLE.name)
    data_dir = tmp_path / "out [1]"
    result = run_month(data_dir, snapshot_dir=snaps)
    assert result.success
    raw = partition(data_dir, "raw_hub_listings")
    assert raw.height == partition(sample_run[1], "raw_hub_listings").height
    assert raw.filter(pl.col("model_id").str.starts_with("decoy/")).is_empty()
    assert same_indices(partition(data_dir, "dominance_indices"), partition(sample_run[1], "dominance_indices"))
    conn = duckdb.connect()
    assert "raw_hub_listings" in ensure_views(conn, data_dir / "warehouse", ["raw_hub_listings"])
    assert conn.execute("SELECT count(*) FROM raw_hub_listings").fetchone() == (raw.height,)
