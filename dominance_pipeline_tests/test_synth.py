"""The synthetic Hub: deterministic, shaped like the real sample, consistent across months, readable by the pipeline."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow.parquet as pq
import pytest

from dominance_pipeline.origin.registry import load_registry
from dominance_pipeline.settings import PROJECT_ROOT
from dominance_pipeline.sources.local import declared_source
from dominance_pipeline.synth import SynthConfig, generate
from dominance_pipeline.synth.hub import RELATION_MIX
from dominance_pipeline.synth.orgs import SAMPLE_MONTH_END, org_table
from dominance_pipeline_tests.conftest import SAMPLE, run_month

END = dt.date(2026, 5, 1)


@pytest.fixture(scope="module")
def three_months(tmp_path_factory) -> list[Path]:
    # 40k models: at a few thousand, one unregistered heavy hitter can outweigh the registry orgs.
    return generate(SynthConfig(models=40_000, months=3, end=END, seed=11), tmp_path_factory.mktemp("synth3"))


@pytest.fixture(scope="module")
def big_month(tmp_path_factory) -> pl.DataFrame:
    (path,) = generate(SynthConfig(models=60_000, months=1, end=END, seed=5), tmp_path_factory.mktemp("synth60k"))
    return pl.read_parquet(path)


def test_same_seed_same_bytes_and_another_seed_differs(tmp_path):
    a = generate(SynthConfig(models=2_000, months=2, end=END, seed=3), tmp_path / "a")
    b = generate(SynthConfig(models=2_000, months=2, end=END, seed=3), tmp_path / "b")
    c = generate(SynthConfig(models=2_000, months=2, end=END, seed=4), tmp_path / "c")
    assert [p.name for p in a] == ["hub_stats_2026-04.parquet", "hub_stats_2026-05.parquet"]
    assert all(x.read_bytes() == y.read_bytes() for x, y in zip(a, b, strict=True))
    assert a[-1].read_bytes() != c[-1].read_bytes()


def test_columns_and_dtypes_are_the_real_samples_and_the_file_says_synthetic(three_months):
    synthetic, real = pq.read_schema(three_months[-1]), pq.read_schema(SAMPLE)
    assert synthetic.names == real.names
    for field in real:
        assert synthetic.field(field.name).type == field.type, field.name
    assert declared_source(three_months[-1]) == "synthetic"
    assert declared_source(SAMPLE) is None


def test_months_grow_consistently(three_months):
    months = [pl.read_parquet(p).sort("id") for p in three_months]
    for k, (old, new) in enumerate(zip(months, months[1:], strict=False)):
        assert set(old["id"]) < set(new["id"]), f"month {k + 1} must keep every model and add new ones"
        both = old.join(new, on="id", suffix="_new")
        assert (both["downloadsAllTime_new"] >= both["downloadsAllTime"]).all()
        assert (both["likes_new"] >= both["likes"]).all()
        assert (both["downloads_new"] != both["downloads"]).mean() > 0.2, "30-day downloads should vary"
        assert (both["lastModified_new"] >= both["lastModified"]).all()
    for df, path in zip(months, three_months, strict=True):
        month_end = dt.datetime.strptime(path.stem[-7:], "%Y-%m") + dt.timedelta(days=31)
        assert (df["downloadsAllTime"] >= df["downloads"]).all()
        assert (df["lastModified"] >= df["createdAt"]).all()
        assert df["createdAt"].max() < month_end.replace(day=1)
        assert df["id"].is_unique().all()


def test_lineage_share_relation_mix_and_declared_parents(big_month):
    df = big_month
    derived = df.filter(pl.col("baseModels").is_not_null())
    assert derived.height / df.height == pytest.approx(0.28, abs=0.01)
    mix = derived.get_column("baseModels").struct.field("relation").value_counts(normalize=True)
    for relation, share in mix.iter_rows():
        assert share == pytest.approx(RELATION_MIX[relation], abs=0.015), relation
    edges = derived.select(
        "id", pl.col("baseModels").struct.field("relation").alias("relation"),
        pl.col("baseModels").struct.field("models").list.eval(pl.element().struct.field("id")).alias("parent"), "tags", "cardData",
    ).explode("parent")
    # Every declared parent also appears in the tags, with the relation, and in the card's base_model.
    tagged = edges.filter(pl.col("tags").list.contains(pl.format("base_model:{}:{}", "relation", "parent")))
    assert tagged.height == edges.height
    assert edges.filter(pl.col("cardData").is_not_null() & ~pl.col("cardData").str.contains(pl.col("parent"), literal=True)).is_empty()
    # Parents exist earlier in the listing, apart from the few missing (private) ones and the rare quirks.
    created = df.select(pl.col("id").alias("parent"), pl.col("createdAt").alias("parent_created"))
    joined = edges.join(df.select("id", "createdAt"), on="id").join(created, on="parent", how="left")
    listed = joined.filter(pl.col("parent_created").is_not_null())
    assert listed.height / joined.height > 0.95
    assert (listed["parent_created"] <= listed["createdAt"]).mean() > 0.999
    merges = derived.filter(pl.col("baseModels").struct.field("relation") == "merge")
    assert (merges.get_column("baseModels").struct.field("models").list.len() >= 2).mean() > 0.9


def test_downloads_are_heavy_tailed_as_on_the_hub(big_month):
    d = np.sort(big_month["downloads"].to_numpy())[::-1]
    top_1pct = d[: len(d) // 100].sum() / d.sum()
    assert top_1pct > 0.9
    below_200 = (big_month["downloadsAllTime"] < 200).mean()
    assert 0.4 < below_200 < 0.75
    assert (big_month["createdAt"] == dt.datetime(2022, 3, 2, 23, 29, 4)).any(), "the Hub's placeholder date"


def test_org_table_is_the_samples_registry_namespaces(big_month):
    sample = pl.read_parquet(SAMPLE).with_columns(pl.col("id").str.split("/").list.first().alias("ns"))
    counts = dict(sample.group_by("ns").agg(pl.len(), pl.col("downloads").sum()).select("ns", pl.struct("len", "downloads")).iter_rows())
    keys = set(load_registry().lookup_at(SAMPLE_MONTH_END).get_column("ns_key").to_list())
    for ns, models, downloads, _ in org_table().iter_rows():
        assert ns.lower() in keys, f"{ns} must resolve in the registry"
        expected = counts.get(ns, {"len": 0, "downloads": 0})
        assert (models, downloads) == (expected["len"], expected["downloads"]), ns
    synthetic_ns = set(big_month["author"].unique().to_list())
    assert {"Qwen", "meta-llama", "google", "deepseek-ai"} <= synthetic_ns


def test_the_pipeline_runs_on_a_synthetic_month_and_records_its_source(tmp_path, three_months):
    result = run_month(tmp_path, "2026-05-01", snapshot_dir=three_months[-1].parent)
    assert result.success
    assert all(e.passed for e in result.get_asset_check_evaluations())
    raw = pl.read_parquet(tmp_path / "warehouse" / "raw_hub_listings" / "month=2026-05-01" / "data.parquet")
    assert raw.height == pl.scan_parquet(three_months[-1]).select(pl.len()).collect().item()
    assert raw["source"].unique().to_list() == ["synthetic"]


def test_cli_rejects_bad_values_and_reports_the_calibration(tmp_path):
    cli = [sys.executable, "-m", "dominance_pipeline.cli", "synth"]
    bad = subprocess.run([*cli, "--models", "10", "--out", str(tmp_path)], capture_output=True, text=True, cwd=PROJECT_ROOT)
    assert bad.returncode == 2 and "--models must be at least 100" in bad.stderr
    ok = subprocess.run([*cli, "--models", "3000", "--months", "2", "--end", "2026-05", "--out", str(tmp_path), "--report"],
                        capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=300)  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    assert sorted(p.name for p in tmp_path.glob("*.parquet")) == ["hub_stats_2026-04.parquet", "hub_stats_2026-05.parquet"]
    assert "top 1% share of 30-day downloads" in ok.stdout and "real sample" in ok.stdout
    assert f"use them: DOMINANCE_SNAPSHOT_DIR={tmp_path} dominance-pipeline materialize --month 2026-05" in ok.stdout
    # As materialize reads a month (it refused 2026-5), and no hint to materialize a month that is no partition.
    short = subprocess.run([*cli, "--models", "100", "--end", "2026-5", "--out", str(tmp_path / "a")], capture_output=True, text=True, cwd=PROJECT_ROOT)
    assert short.returncode == 2 and "--end must look like YYYY-MM" in short.stderr
    future = subprocess.run([*cli, "--models", "100", "--end", "2099-01", "--out", str(tmp_path / "b")], capture_output=True, text=True,
                            cwd=PROJECT_ROOT, timeout=300)  # fmt: skip
    assert future.returncode == 0 and "use them" not in future.stdout and "none of these months is a partition yet" in future.stdout


def test_the_report_counts_new_models_in_the_snapshot_s_month(sample_path):
    # The sample is May's snapshot and its newest model was created in April: May's new models are 0 %, not April's.
    from dominance_pipeline.synth.report import describe

    sample = pl.read_parquet(sample_path)
    newest = sample.get_column("createdAt").max()
    assert newest.month == 4
    in_may = sample.filter(pl.col("createdAt").dt.strftime("%Y-%m") == "2026-05").height / sample.height
    assert describe(sample_path)["new models this month"] == in_may == 0.0


def test_a_synthetic_months_raw_metadata_says_synthetic(tmp_path):
    from dominance_pipeline.synth import SynthConfig, generate

    (path,) = generate(SynthConfig(models=2_000, months=1, end=dt.date(2026, 5, 1), seed=3), tmp_path / "synth")
    defs_result = run_month(tmp_path / "data", "2026-05-01", snapshot_dir=path.parent)
    [meta] = [e.materialization.metadata for e in defs_result.get_asset_materialization_events()
              if e.asset_key.to_user_string() == "raw_hub_listings"]
    assert meta["source"].value == "synthetic"


def test_another_seed_draws_another_hub_not_just_other_counts(tmp_path):
    from dominance_pipeline.synth import SynthConfig, generate

    (a,) = generate(SynthConfig(models=500, months=1, end=dt.date(2026, 5, 1), seed=3), tmp_path / "a")
    (c,) = generate(SynthConfig(models=500, months=1, end=dt.date(2026, 5, 1), seed=4), tmp_path / "c")
    ids_a, ids_c = (set(pl.read_parquet(p, columns=["id"]).get_column("id")) for p in (a, c))
    assert len(ids_a & ids_c) < len(ids_a) // 2  # the models themselves differ, not only the Parquet metadata


def test_all_time_downloads_grow_by_exactly_the_months_downloads(tmp_path):
    from dominance_pipeline.synth import SynthConfig, generate

    old, new = (pl.read_parquet(p, columns=["id", "downloads", "downloadsAllTime"]) for p in
                generate(SynthConfig(models=2_000, months=2, end=dt.date(2026, 5, 1), seed=3), tmp_path))
    both = old.join(new, on="id", suffix="_new")
    assert both.height == old.height
    assert (both["downloadsAllTime_new"] - both["downloadsAllTime"] == both["downloads_new"]).all()
