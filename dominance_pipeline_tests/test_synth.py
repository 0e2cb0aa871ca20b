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
from dominance_pipeline.synth.hub import (
    FEATURE_TAGS,
    HISTORY_START,
    INDIVIDUAL,
    INTERMEDIARY,
    LIBRARIES,
    LINEAGE_START,
    MAX_PARENTS,
    REGISTRY,
    RELATIONS,
    RELATION_MIX,
    TAIL_CAP,
    TAIL_MIN,
    UNREGISTERED,
    build_universe,
    month_end,
    to_us,
    _parents,
    _popularity_draws,
)
from dominance_pipeline.synth.orgs import SAMPLE_MONTH_END, derive_org_table, org_table
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


def test_org_table_has_every_registry_namespace_of_the_sample():
    # orgs.csv is frozen: after a registry change it must be regenerated, or the orgs added since are missing
    # from the synthetic Hub (their models are drawn as unregistered uploaders).
    keys = set(load_registry().lookup_at(SAMPLE_MONTH_END).get_column("ns_key").to_list())
    namespaces = {i.split("/")[0] for i in pl.read_parquet(SAMPLE, columns=["id"]).get_column("id").to_list()}
    missing = sorted(ns for ns in namespaces if ns.lower() in keys and ns not in set(org_table().get_column("namespace")))
    assert missing == [], f"{len(missing)} registry namespaces of the sample missing from orgs.csv: run python -m dominance_pipeline.synth.orgs"
    # and its counts are today's too (derive_org_table has its own hand-checked test)
    assert org_table().equals(derive_org_table(SAMPLE, load_registry())), "orgs.csv is stale: run python -m dominance_pipeline.synth.orgs"


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
    assert f"vs synthetic {tmp_path / 'hub_stats_2026-05.parquet'}\n" in ok.stdout  # the newest month, not the first
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


def tiny_snapshot(path: Path, rows: list[tuple]) -> Path:
    """A hub-stats-shaped file of hand-written rows: (id, created, 30-day, all-time, relation, parent ids)."""
    base = pl.Struct({"relation": pl.String, "models": pl.List(pl.Struct({"_id": pl.String, "id": pl.String}))})
    pl.DataFrame(
        {
            "id": [r[0] for r in rows],
            "author": [r[0].split("/")[0] for r in rows],
            "createdAt": [r[1] for r in rows],
            "lastModified": [dt.datetime(2026, 5, 31) for _ in rows],  # the snapshot's month: May
            "downloads": [r[2] for r in rows],
            "downloadsAllTime": [r[3] for r in rows],
            "likes": [0 for _ in rows],
            "trendingScore": [0.0 for _ in rows],
            "tags": [["transformers"] for _ in rows],
            "cardData": [None for _ in rows],
            "baseModels": [None if r[4] is None else {"relation": r[4], "models": [{"_id": p, "id": p} for p in r[5]]} for r in rows],
            "pipeline_tag": ["text-generation" for _ in rows],
            "library_name": ["transformers" for _ in rows],
        },
        schema_overrides={"createdAt": pl.Datetime("us"), "lastModified": pl.Datetime("us"), "cardData": pl.String, "baseModels": base},
    ).write_parquet(path)
    return path


OLD, MAY_10, MAY_20 = dt.datetime(2025, 1, 1), dt.datetime(2026, 5, 10), dt.datetime(2026, 5, 20)
# Qwen (CN) and meta-llama (US) are registry orgs; the other namespaces are unknown to it.
# Lineage by first parent: Qwen/base <- Qwen/ft <- alice-x/q <- bob-x/q (depths 1, 2, 3), meta-llama/L <- carol-x/m
# (a merge of two parents, depth 1), and dave-x/a's parent is not in the file.
TINY = [
    ("Qwen/base", OLD, 1000, 5000, None, []),
    ("Qwen/ft", MAY_10, 0, 199, "finetune", ["Qwen/base"]),
    ("alice-x/q", MAY_20, 10, 200, "quantized", ["Qwen/ft"]),
    ("bob-x/q", OLD, 5, 100, "quantized", ["alice-x/q"]),
    ("meta-llama/L", OLD, 100, 1000, None, []),
    ("carol-x/m", OLD, 1, 50, "merge", ["meta-llama/L", "Qwen/base"]),
    ("dave-x/a", OLD, 2, 300, "adapter", ["outside-x/private"]),
    ("erin-x/z", OLD, 0, 0, None, []),
]


def test_the_report_describes_a_hand_written_snapshot(tmp_path):
    from dominance_pipeline.synth.report import describe

    got = describe(tiny_snapshot(tmp_path / "hub_stats_2026-05.parquet", TINY))
    total = 1000 + 0 + 10 + 5 + 100 + 1 + 2 + 0
    expected = {
        "models": 8,
        "mean 30-day downloads per model": total / 8,
        "share with 0 30-day downloads": 2 / 8,
        "top 1% share of 30-day downloads": 1000 / total,  # 1 % of 8 models rounds to none: the top one
        "share < 200 all-time downloads": 4 / 8,  # 199, 100, 50 and 0; 200 is not below 200
        "median all-time / 30-day": 20.0,  # 0, 5, 10, 20, 20, 50, 150, 199 (a 30-day 0 counts as 1)
        "lineage share (declares a base)": 5 / 8,
        "relation: adapter": 1 / 5,
        "relation: finetune": 1 / 5,
        "relation: quantized": 2 / 5,
        "relation: merge": 1 / 5,
        "parents: 2+ (of derived)": 1 / 5,
        "parent in file (of derived)": 4 / 5,
        "depth 1 (of derived, parent in file)": 2 / 4,
        "depth 2 (of derived, parent in file)": 1 / 4,
        "depth 3+ (of derived, parent in file)": 1 / 4,
        "new models this month": 2 / 8,
        "direct share CN": 1000 / total,
        "direct share US": 100 / total,
        "direct share UNATTRIBUTED": 18 / total,
        "first-parent root share CN": (1000 + 0 + 10 + 5) / total,
        "first-parent root share US": (100 + 1) / total,
    }
    assert {k: got[k] for k in expected} == pytest.approx(expected)
    assert got["top 5 namespaces"] == "Qwen 89.4%, meta-llama 8.9%, alice-x 0.9%, bob-x 0.4%, dave-x 0.2%"


def test_the_comparison_puts_each_file_in_its_own_column(tmp_path):
    from dominance_pipeline.synth.report import comparison

    sample = tiny_snapshot(tmp_path / "hub_stats_2026-05.parquet", TINY)
    (tmp_path / "synthetic").mkdir()
    synthetic = tiny_snapshot(tmp_path / "synthetic" / "hub_stats_2026-05.parquet", TINY[:5])
    rows = {r["statistic"]: r for r in comparison(sample, synthetic).iter_rows(named=True)}
    assert (rows["models"]["real sample"], rows["models"]["synthetic"]) == ("8", "5")
    # Shares as percentages: 1000 of 1118 downloads are Qwen's in the first file, 1000 of 1115 in the second.
    assert (rows["direct share CN"]["real sample"], rows["direct share CN"]["synthetic"]) == ("89.4%", "89.7%")
    assert (rows["lineage share (declares a base)"]["real sample"], rows["lineage share (declares a base)"]["synthetic"]) == ("62.5%", "60.0%")
    assert rows["relation: merge"]["Hub target"] == "2.3 %"


def test_the_org_table_is_derived_from_the_sample_and_the_registry_valid_at_its_month_end(tmp_path):
    from dominance_pipeline.synth.orgs import derive_org_table
    from dominance_pipeline_tests.test_registry import row, write

    registry = load_registry(write(tmp_path, row("Qwen", "CN"), row("TheBloke", inter="true"), row("bartowski", inter="true"),
                                   row("NewLab", "FR", start="2026-05-15")))  # fmt: skip
    sample = tmp_path / "sample.parquet"
    pl.DataFrame({"id": ["Qwen/a", "Qwen/b", "qwen/c", "thebloke/x", "NewLab/m", "nobody/z"],
                  "downloads": [10, 5, 1, None, 7, 100]}).write_parquet(sample)  # fmt: skip
    # Namespaces as the sample spells them; thebloke is TheBloke (not added again with zero counts), bartowski
    # uploaded nothing; NewLab is in the registry from May 15, so at May's end; nobody is not in it.
    assert derive_org_table(sample, registry).rows() == [
        ("Qwen", 2, 15, False),
        ("NewLab", 1, 7, False),
        ("qwen", 1, 1, False),
        ("bartowski", 0, 0, True),  # equal downloads: by name
        ("thebloke", 1, 0, True),
    ]


def test_cli_passes_its_options_to_the_generator_and_refuses_a_file_as_out(tmp_path, capsys):
    from dominance_pipeline.cli import main

    # One month by default, seed 0 by default, --growth and --cycles-per-million as given: the bytes of that config
    # (whose values the file's metadata also records).
    args = ["synth", "--models", "300", "--end", "2026-05", "--growth", "0.5", "--cycles-per-million", "20000"]
    assert main([*args, "--out", str(out := tmp_path / "new" / "cli")]) == 0  # a folder in a new folder
    (expected,) = generate(SynthConfig(models=300, end=END, seed=0, monthly_growth=0.5, cycles_per_million=20_000.0), tmp_path / "lib")
    assert [p.name for p in out.iterdir()] == ["hub_stats_2026-05.parquet"]
    assert (out / expected.name).read_bytes() == expected.read_bytes()
    capsys.readouterr()
    (tmp_path / "a_file").write_text("")
    assert main(["synth", "--models", "300", "--out", str(tmp_path / "a_file")]) == 2
    assert capsys.readouterr().err == f"dominance-pipeline synth: error: --out {tmp_path / 'a_file'} exists and is not a folder\n"


def test_trending_is_a_tenth_of_the_likes_gained_since_the_month_before(tmp_path):
    old, new = (pl.read_parquet(p, columns=["id", "likes", "trendingScore"]) for p in
                generate(SynthConfig(models=2_000, months=2, end=END, seed=3), tmp_path))
    both = old.join(new, on="id", suffix="_new")
    gained = (both["likes_new"] - both["likes"]).to_list()
    assert both["trendingScore_new"].to_list() == [float(g // 10) for g in gained]
    assert sum(g >= 10 for g in gained) > 0  # some models gained enough likes to trend


def test_no_model_is_modified_after_its_snapshot_was_taken(tmp_path):
    for path in generate(SynthConfig(models=2_000, months=2, end=END, seed=3), tmp_path):
        taken = dt.datetime.fromisoformat(pq.read_schema(path).metadata[b"snapshot_at"].decode()).replace(tzinfo=None)
        assert taken == dt.datetime.strptime(path.stem[-7:], "%Y-%m") + dt.timedelta(days=31 if path.stem.endswith("05") else 30) - dt.timedelta(seconds=1)
        assert pl.read_parquet(path, columns=["lastModified"])["lastModified"].max() <= taken


def _all_time_over_30_day(df: pl.DataFrame) -> float:
    """Median all-time / 30-day downloads of the models 12 to 24 months old at the end of May 2026."""
    age = (pl.lit(dt.datetime(2026, 6, 1)) - pl.col("createdAt")).dt.total_days() / 30.44
    x = df.filter((pl.col("downloads") > 0) & age.is_between(12, 24))
    return (x["downloadsAllTime"] / x["downloads"]).median()


def test_only_young_models_ramp_so_old_models_30_day_downloads_keep_the_samples_history_ratio(big_month):
    # A model older than 30 days downloads at its rate, not more with age: the all-time / 30-day ratio of
    # 1-2-year-old models stays near the real sample's (measured here on the sample itself).
    sample = _all_time_over_30_day(pl.read_parquet(SAMPLE, columns=["createdAt", "downloads", "downloadsAllTime"]))
    assert sample / 2 < _all_time_over_30_day(big_month) < sample * 2


# --- the universe itself (hub.py), checked on its arrays against the module's documented rules -----------------

UNIVERSE_CYCLES = 500  # per million: 100 two-cycles in the 200k-model universe below


@pytest.fixture(scope="module")
def universe():
    return build_universe(SynthConfig(models=200_000, end=END, seed=2, cycles_per_million=UNIVERSE_CYCLES))


def _first_parent_roots(u) -> list[int | None]:
    """Root along first parents, walked in plain Python; None for a model whose chain reaches a cycle."""
    roots: list[int | None] = []
    offsets, parents = u.edge_offsets.tolist(), u.edge_parent.tolist()
    for i in range(u.n):
        if offsets[i] == offsets[i + 1]:
            roots.append(i)
            continue
        p = parents[offsets[i]]
        if p >= u.n or p == i:  # a parent outside the universe, or the model naming itself: it is its own root
            roots.append(i)
        elif p < i:
            roots.append(roots[p])
        else:  # names a later model: a cycle
            roots.append(None)
    return roots


def _uploaders(u) -> np.ndarray:
    """Each model's namespace, by name."""
    return np.array(u.namespaces.to_list(), dtype=object)[u.namespace]


def _two_cycles(u) -> list[tuple[int, int]]:
    per = np.diff(u.edge_offsets)
    first = np.where(per > 0, u.edge_parent[np.minimum(u.edge_offsets[:-1], len(u.edge_parent) - 1)], -1)
    return [(a, int(first[a])) for a in range(u.n) if a < first[a] < u.n and first[first[a]] == a and per[a] == per[first[a]] == 1]


def test_the_config_accepts_its_boundaries_and_refuses_just_past_them():
    assert len(SynthConfig(models=100, months=240, end=END, monthly_growth=0.999, cycles_per_million=0).month_starts) == 240
    for kwargs, message in [
        ({"months": 0}, "--months must be between 1 and 240, got 0"),
        ({"months": 241}, "--months must be between 1 and 240, got 241"),
        ({"monthly_growth": 1.0}, "--growth must be in (0, 1), got 1.0"),
        ({"monthly_growth": 0.0}, "--growth must be in (0, 1), got 0.0"),
        ({"cycles_per_million": -0.5}, "cycles per million must be >= 0, got -0.5"),
        ({"models": 99}, "--models must be at least 100, got 99"),
    ]:
        with pytest.raises(ValueError) as err:
            SynthConfig(**{"models": 100, **kwargs})
        assert str(err.value) == message


def test_the_end_names_its_month_whatever_the_day_and_months_run_back_across_a_year():
    cfg = SynthConfig(models=100, months=3, end=dt.date(2026, 1, 17))
    assert cfg.month_starts == [dt.date(2025, 11, 1), dt.date(2025, 12, 1), dt.date(2026, 1, 1)]
    assert month_end(dt.date(2025, 12, 1)) == dt.datetime(2025, 12, 31, 23, 59, 59, tzinfo=dt.UTC)
    assert month_end(dt.date(2024, 2, 1)) == dt.datetime(2024, 2, 29, 23, 59, 59, tzinfo=dt.UTC)


def test_without_an_end_the_newest_month_is_the_last_complete_one():
    today = dt.datetime.now(dt.UTC).date()
    last = (today.year, today.month - 1) if today.month > 1 else (today.year - 1, 12)
    assert SynthConfig(models=100).end_month == dt.date(*last, 1)


def test_models_are_created_in_order_between_the_history_start_and_the_snapshot(universe):
    u = universe
    assert (np.diff(u.created) >= 0).all()
    assert u.created.min() >= to_us(HISTORY_START)
    assert u.created.max() < to_us(month_end(END))
    # count_at: a model created at the instant exists then; one microsecond earlier it does not yet
    k = u.n // 2
    assert u.count_at(int(u.created[k])) >= k + 1
    assert u.count_at(int(u.created[k]) - 1) <= k
    assert u.count_at(to_us(month_end(END))) == u.n


def test_no_model_created_before_lineage_metadata_existed_declares_a_parent(universe):
    u = universe
    early = u.created < to_us(LINEAGE_START)
    assert early.sum() > 1000  # the check has models to look at
    assert (u.relation[early] == 0).all()
    assert (np.diff(u.edge_offsets)[early] == 0).all()


def test_derived_models_have_parents_originals_none_merges_two_to_twelve_and_no_parent_twice(universe):
    u = universe
    per = np.diff(u.edge_offsets)
    assert ((per > 0) == (u.relation > 0)).all()
    merge = u.relation == RELATIONS.index("merge")
    assert (per[(u.relation > 0) & ~merge] == 1).all()
    # 1 + Geometric(0.5) draws, at most 12; a parent drawn twice is named once, which leaves a rare merge with one
    assert per[merge].max() <= MAX_PARENTS and (per[merge] >= 2).mean() > 0.99
    for i in np.flatnonzero(merge):
        parents = u.edge_parent[u.edge_offsets[i]:u.edge_offsets[i + 1]].tolist()
        assert len(set(parents)) == len(parents), f"model {i} names a parent twice: {parents}"


def test_merges_cap_at_twelve_parents_even_when_the_geometric_draw_is_longer():
    # 40,000 merges of 1 + Geometric(0.5) parents: about 40,000 / 2**11 = 20 of them draw more than 12
    relation = np.array([0] * 100_000 + [RELATIONS.index("merge")] * 40_000, dtype=np.int8)
    child, _ = _parents(np.random.default_rng(1), relation, np.ones(relation.shape[0]))
    assert np.bincount(child).max() == MAX_PARENTS


def test_every_derived_model_draws_its_parent_among_the_models_before_it():
    # 999 finetunes after one original, all equally popular: child k draws among models 0..k-1, never itself
    relation = np.array([0] + [RELATIONS.index("finetune")] * 999, dtype=np.int8)
    child, parent = _parents(np.random.default_rng(3), relation, np.full(1000, 1e6))
    assert child.tolist() == list(range(1, 1000))
    assert (parent < child).all() and parent[0] == 0
    assert len(set(parent.tolist())) > 300  # spread over the earlier models, not stuck on the first


def test_parents_are_created_before_their_child_except_the_documented_quirks(universe):
    u = universe
    per = np.diff(u.edge_offsets)
    child = np.repeat(np.arange(u.n), per)
    parent = u.edge_parent
    inside = parent < u.n
    later = inside & (parent > child)
    same = parent == child
    cycle_members = {m for pair in _two_cycles(u) for m in pair}
    assert set(child[later].tolist()) <= cycle_members
    ordinary = inside & ~later & ~same
    assert (u.created[parent[ordinary]] <= u.created[child[ordinary]]).all()
    # external parents: each its own id, none of them a model of the universe
    ext = parent[~inside] - u.n
    assert len(ext) > 100 and sorted(ext.tolist()) == list(range(len(u.external_ids)))  # each named once, none unused
    assert not set(u.external_ids.to_list()) & set(u.ids.to_list())
    # the quirks (external, self, cycle) only ever replace the parent of a single-parent model
    quirky = ~inside | same | later
    assert same.sum() > 0 and (per[child[quirky]] == 1).all()


def test_cycles_are_as_many_as_asked_and_pair_a_model_with_its_only_child(universe):
    u = universe
    pairs = _two_cycles(u)
    asked = round(UNIVERSE_CYCLES * u.n / 1_000_000)
    assert 0.95 * asked <= len(pairs) <= asked  # as asked, bar a pair dropped where two chosen pairs chain
    children = np.bincount(u.edge_parent[u.edge_parent < u.n], minlength=u.n)
    for a, b in pairs:  # a (earlier) was b's only parent and b its only child; a's card now names b
        assert children[a] == 1, (a, b)
    none = build_universe(SynthConfig(models=20_000, end=END, seed=2, cycles_per_million=0))
    assert _two_cycles(none) == []


def test_the_root_is_the_end_of_the_first_parent_chain_and_gives_task_architecture_and_size(universe):
    u = universe
    roots = _first_parent_roots(u)
    ok = np.array([r is not None for r in roots])
    expected = np.array([-1 if r is None else r for r in roots])
    assert (u.root[ok] == expected[ok]).all()
    deep = sum(1 for i, r in enumerate(roots) if r is not None and r != i and u.edge_parent[u.edge_offsets[i]] != r)
    assert deep > 1000  # many chains longer than one link
    r = u.root[ok]
    for name in ("pipeline", "arch", "params"):
        values = getattr(u, name)
        assert (values[ok] == values[r]).all(), name


def test_card_tag_and_file_features_only_where_they_can_be(universe):
    u = universe
    gguf = u.library == LIBRARIES.index("gguf")
    assert gguf.sum() > 100 and not (u.has_safetensors & gguf).any()
    assert not ((u.model_index > 0) & ~u.has_card).any()
    first, second = u.languages[:, 0], u.languages[:, 1]
    assert ((second == -1) | ((first != -1) & (first != second))).all()
    merge, quant = u.relation == RELATIONS.index("merge"), u.relation == RELATIONS.index("quantized")
    assert (u.library[merge] == LIBRARIES.index("transformers")).all()
    assert set(np.unique(u.library[quant]).tolist()) == {LIBRARIES.index(x) for x in ("gguf", "transformers", "mlx")}
    names = _uploaders(u)
    assert (names == "mlx-community").sum() > 20 and (u.library[names == "mlx-community"] == LIBRARIES.index("mlx")).all()
    # an adapter is a diffusers LoRA only on a diffusion task (text-to-image, image-to-image), otherwise mostly peft
    adapter = u.relation == RELATIONS.index("adapter")
    diffusion = np.isin(np.array(u.pipelines, dtype=object)[np.where(u.pipeline >= 0, u.pipeline, 0)], ["text-to-image", "image-to-image"]) & (u.pipeline >= 0)
    assert (adapter & diffusion).sum() > 100
    assert not (adapter & ~diffusion & (u.library == LIBRARIES.index("diffusers"))).any()
    assert (u.library[adapter & ~diffusion] == LIBRARIES.index("peft")).mean() > 0.8
    trained = np.isin(u.relation, [RELATIONS.index("finetune"), RELATIONS.index("adapter")])
    who = {
        "merge": merge,
        "quantized": quant,
        "gguf": gguf,
        "trained": trained,
        "llm": np.array([p in ("text-generation", "image-text-to-text", "any-to-any", "video-text-to-text")
                         for p in u.pipelines])[u.pipeline] & (u.pipeline >= 0),  # fmt: skip
    }
    for bit, (tag, _, group) in enumerate(FEATURE_TAGS):
        has = (u.features >> bit) & 1 == 1
        if group == "model-index":
            assert (has == (u.model_index > 0)).all(), tag
        elif group != "any":
            assert has.any() and not (has & ~who[group]).any(), tag


def test_each_uploader_class_draws_its_own_namespaces(universe):
    u = universe
    names = _uploaders(u)
    orgs = org_table()
    registry = set(orgs.filter(~pl.col("intermediary"))["namespace"])
    intermediaries = set(orgs.filter(pl.col("intermediary"))["namespace"])
    assert set(names[u.uploader == REGISTRY]) <= registry
    assert set(names[u.uploader == INTERMEDIARY]) <= intermediaries
    assert all(x.startswith("lab-") for x in names[u.uploader == UNREGISTERED])
    assert all(x.startswith("user-") for x in names[u.uploader == INDIVIDUAL])
    assert (u.relation[u.uploader == INTERMEDIARY] == RELATIONS.index("quantized")).all()


def test_registry_orgs_get_their_sample_share_of_models_and_popularity_by_sample_downloads_per_model(universe):
    u = universe
    names = _uploaders(u)
    reg = u.uploader == REGISTRY
    # Qwen uploaded 106 of the registry orgs' 1,006 sample models (orgs.csv): 10.5 %
    orgs = org_table().filter(~pl.col("intermediary"))
    qwen = orgs.filter(pl.col("namespace") == "Qwen").item(0, "models") / orgs["models"].sum()
    assert (names[reg] == "Qwen").mean() == pytest.approx(qwen, rel=0.3)
    # Of the orgs with 30+ sample models, the one downloaded most per model (Qwen, 1.6M) and least (princeton-nlp,
    # ~900): the first's synthetic models are drawn far more popular.
    per_model = orgs.filter(pl.col("models") >= 30).sort(pl.col("downloads_30d") / pl.col("models"))["namespace"]
    most, least = per_model[-1], per_model[0]
    assert (names == most).sum() > 100 and (names == least).sum() > 100
    assert np.median(u.rate[names == most]) > 10 * np.median(u.rate[names == least])
    # Registry orgs take most of the downloads (the module's calibration: > 80 %); the top 1 % of models > 90 %.
    assert u.rate[reg].sum() / u.rate.sum() > 0.8
    top = np.sort(u.rate)[::-1]
    assert top[: u.n // 100].sum() / top.sum() > 0.9


def test_popularity_draws_are_capped_and_one_percent_reach_the_tail():
    draws = _popularity_draws(np.random.default_rng(0), 10_000_000)
    assert draws.shape == (10_000_000,)
    assert draws.max() <= TAIL_CAP  # uncapped, ~11 of the 100k tail draws would exceed it
    assert (draws >= TAIL_MIN).mean() == pytest.approx(0.01, rel=0.02)


def test_individuals_are_a_long_tail_most_with_a_model_or_two_a_few_with_hundreds(universe):
    u = universe
    per_namespace = np.bincount(u.namespace[u.uploader == INDIVIDUAL])
    used = per_namespace[per_namespace > 0]
    assert len(used) > 0.1 * u.n  # tens of thousands of people
    assert np.median(used) <= 2
    assert used.max() > 0.001 * u.n  # the busiest person holds more than 0.1 % of the Hub


def test_the_org_table_adds_only_intermediaries_missing_from_the_sample(tmp_path):
    from dominance_pipeline_tests.test_registry import row, write

    # Mistral (an org, not an intermediary) uploaded nothing in the sample: it is not in the table; bartowski is.
    registry = load_registry(write(tmp_path, row("Qwen", "CN"), row("Mistral", "FR"), row("bartowski", inter="true")))
    sample = tmp_path / "sample.parquet"
    pl.DataFrame({"id": ["Qwen/a"], "downloads": [3]}).write_parquet(sample)
    assert derive_org_table(sample, registry).rows() == [("Qwen", 1, 3, False), ("bartowski", 0, 0, True)]


def test_chained_cycle_picks_leave_no_model_naming_a_later_one_outside_a_cycle():
    # Seed 0 picks two pairs where one pair's B is the other's A: (A2, A1) and (A1, B1). Editing both cards makes
    # A1 <-> B1 a cycle, and A2 (A1's parent) names A1, a later model, outside any cycle; A1 then has two children.
    u = build_universe(SynthConfig(models=200_000, end=END, seed=0, cycles_per_million=UNIVERSE_CYCLES))
    child = np.repeat(np.arange(u.n), np.diff(u.edge_offsets))
    later = (u.edge_parent < u.n) & (u.edge_parent > child)
    assert set(child[later].tolist()) <= {m for pair in _two_cycles(u) for m in pair}
