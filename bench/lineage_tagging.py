"""Benchmark: origin tagging (both views, full lineage) of a synthetic 3,000,000-model Hub month.

    .venv/bin/python bench/lineage_tagging.py                 # 3,000,000 models
    .venv/bin/python bench/lineage_tagging.py --models 300000 # a quick run

The input is generated here with numpy/polars in the shape of the real Hub (until the synthetic Hub
generator is on main): ~28 % of models declare parents, fan-in onto a few thousand bases is heavy-tailed,
chains go up to depth 6, ~4 % of derivatives are merges, some parents are outside the snapshot, some are
spelled in another case or under a renamed namespace (THUDM -> zai-org), and a few models reference
themselves or sit on cycles. It is written once to data/bench/ and each measurement runs in a fresh
process that reads it, so the peak RSS of one step is not inflated by the generator or by another step.

Printed side by side: reading the input alone (the floor every step pays), `lineage.resolve` alone, and
`origin.tagging.tag` as a whole. Targets on a 2-core machine: under 4 s and under 3 GB.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dominance_pipeline.origin import lineage, tagging  # noqa: E402
from dominance_pipeline.origin.registry import load_registry  # noqa: E402
from dominance_pipeline.schemas import RAW_HUB_LISTINGS, UTC_TS  # noqa: E402
from dominance_pipeline.sources.normalise import repack_format  # noqa: E402

OUT_DIR = ROOT / "data" / "bench"
MONTH = dt.date(2026, 5, 1)
TARGET_SECONDS = 4.0
TARGET_GB = 3.0

PARENT_SHARE = 0.28
LEVEL_SHARES = (0.60, 0.22, 0.10, 0.05, 0.02, 0.01)  # derivatives at depth 1..6
N_BASES = 4_000
MERGE_SHARE = 0.04
EXTERNAL_SHARE = 0.04
LOWERCASE_SHARE = 0.01
INTERMEDIARIES = ("bartowski", "unsloth", "mlx-community", "lmstudio-community", "QuantFactory", "mradermacher")
BASE_ORGS = ("Qwen", "meta-llama", "google", "mistralai", "deepseek-ai", "microsoft", "zai-org", "nvidia", "BAAI", "openai")
PIPELINES = ("text-generation", "text-classification", "feature-extraction", "image-text-to-text", "automatic-speech-recognition")
LIBRARIES = ("transformers", "gguf", "mlx", "sentence-transformers", "diffusers")
TAG_VOCAB = ("transformers", "safetensors", "gguf", "conversational", "text-generation-inference", "endpoints_compatible", "region:us", "en", "license:apache-2.0", "llama", "qwen2", "mistral")


def _heavy(rng: np.random.Generator, size: int, n: int, power: float) -> np.ndarray:
    """Indices in [0, n) concentrated on the low end: index 0 is the most popular."""
    return np.minimum((n * rng.random(size) ** power).astype(np.int64), n - 1)


def synthetic_raw(n: int, seed: int = 7) -> pl.DataFrame:
    """A raw_hub_listings partition of `n` synthetic models with realistic lineage (see module docstring)."""
    rng = np.random.default_rng(seed)
    n_derived = int(n * PARENT_SHARE)
    sizes = [int(n_derived * s) for s in LEVEL_SHARES]
    sizes[0] += n_derived - sum(sizes)
    n_orig = n - n_derived
    starts = np.cumsum([n_orig, *sizes])[:-1]  # first index of each derivative level

    # Namespaces: bases belong to big orgs; derivatives often to intermediaries; the rest to a long tail of users.
    users = rng.zipf(1.6, n) % 600_000
    ns = np.char.add("user", users.astype(str)).astype(object)
    ns[:N_BASES] = np.array(BASE_ORGS, dtype=object)[_heavy(rng, N_BASES, len(BASE_ORGS), 1.5)]
    deriv = np.arange(n_orig, n)
    pick = rng.random(n_derived)
    ns[deriv[pick < 0.15]] = np.array(INTERMEDIARIES, dtype=object)[rng.integers(0, len(INTERMEDIARIES), (pick < 0.15).sum())]
    ids = pl.Series("model_id", ns.astype(str)) + "/m" + pl.Series(np.arange(n)).cast(pl.String)
    id_arr = ids.to_numpy()

    child_parts: list[np.ndarray] = []
    parent_parts: list[np.ndarray] = []
    for level, (start, size) in enumerate(zip(starts, sizes, strict=True)):
        children = np.arange(start, start + size)
        if level == 0:
            parents = _heavy(rng, size, N_BASES, 3.0)
        else:
            prev_start, prev_size = starts[level - 1], sizes[level - 1]
            parents = prev_start + _heavy(rng, size, prev_size, 2.5)
        child_parts.append(children)
        parent_parts.append(parents)
        merges = children[rng.random(size) < MERGE_SHARE]  # a second parent from any shallower level
        child_parts.append(merges)
        j = rng.integers(0, N_BASES + start - n_orig, len(merges))
        parent_parts.append(np.where(j < N_BASES, j, n_orig + j - N_BASES))
    child = np.concatenate(child_parts)
    parent_ix = np.concatenate(parent_parts)
    parent = id_arr[parent_ix].astype(object)

    # Parents outside the snapshot, in another case, or under the renamed namespace.
    r = rng.random(len(parent))
    external = r < EXTERNAL_SHARE
    parent[external] = np.char.add("gone/base", rng.integers(0, 20_000, external.sum()).astype(str))
    lower = (r >= EXTERNAL_SHARE) & (r < EXTERNAL_SHARE + LOWERCASE_SHARE)
    parent[lower] = np.char.lower(parent[lower].astype(str))
    renamed = np.char.startswith(parent.astype(str), "zai-org/")
    parent[renamed] = np.char.replace(parent[renamed].astype(str), "zai-org/", "THUDM/", count=1)

    # A few self-references and cycles among originals (2- and 3-cycles), each with children of their own.
    selfref = rng.choice(np.arange(N_BASES, n_orig), 200, replace=False)
    ring = rng.choice(np.arange(N_BASES, n_orig), 90, replace=False).reshape(30, 3)
    cyc_child = np.concatenate([ring[:15, 0], ring[:15, 1], ring[15:, 0], ring[15:, 1], ring[15:, 2]])
    cyc_parent = np.concatenate([ring[:15, 1], ring[:15, 0], ring[15:, 1], ring[15:, 2], ring[15:, 0]])
    child = np.concatenate([child, selfref, cyc_child])
    parent = np.concatenate([parent, id_arr[selfref], id_arr[cyc_parent]]).astype(str)

    edges = (
        pl.DataFrame({"i": child, "parent": parent})
        .group_by("i")
        .agg(pl.col("parent").alias("base_model_ids"))
    )
    base = pl.DataFrame({"i": np.arange(n), "model_id": ids})
    downloads = np.minimum(rng.pareto(1.1, n) * 20, 5e7).astype(np.int64)
    created = dt.datetime(2022, 3, 3, tzinfo=dt.UTC).timestamp() + rng.random(n) * (4.2 * 365 * 86400)
    ntags = rng.integers(3, 9, n)
    offsets = np.concatenate([[0], np.cumsum(ntags)]).astype(np.int32)
    vocab = pa.array(TAG_VOCAB)
    tag_values = vocab.take(pa.array(rng.integers(0, len(TAG_VOCAB), offsets[-1])))
    tags = pl.Series("tags", pa.ListArray.from_arrays(pa.array(offsets), tag_values))
    frame = (
        base.join(edges, on="i", how="left")
        .sort("i")
        .with_columns(
            pl.lit(MONTH).alias("month"),
            pl.col("model_id").str.split("/").list.first().alias("author"),
            pl.Series("created_at", (created * 1e6).astype(np.int64)).cast(pl.Datetime("us")).dt.replace_time_zone("UTC"),
            pl.Series("last_modified", (created * 1e6).astype(np.int64)).cast(pl.Datetime("us")).dt.replace_time_zone("UTC"),
            pl.Series("downloads_30d", downloads),
            pl.Series("downloads_all_time", downloads * 7),
            pl.Series("likes", (downloads // 1000)),
            pl.Series("trending_score", rng.random(n)),
            pl.Series("pipeline_tag", np.array(PIPELINES)[rng.integers(0, len(PIPELINES), n)]),
            pl.Series("library_name", np.array(LIBRARIES)[rng.integers(0, len(LIBRARIES), n)]),
            tags,
        )
        .with_columns(
            repack_format().alias("repack_format"),
            pl.col("base_model_ids").fill_null([]),
            pl.when(pl.col("base_model_ids").list.len() > 1).then(pl.lit("merge")).when(pl.col("base_model_ids").is_not_null()).then(pl.lit("finetune")).alias("base_relation"),
            pl.Series("params_total", rng.integers(10**7, 10**11, n)),
            pl.lit(None, pl.String).alias("gated"),
            pl.lit(dt.datetime(2026, 5, 31, tzinfo=dt.UTC), UTC_TS).alias("snapshot_at"),
            pl.lit("synthetic").alias("source"),
        )
    )
    return frame.select(RAW_HUB_LISTINGS.names)


def _peak_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def measure(step: str, path: Path) -> dict[str, object]:
    """Run one step on the prepared input in this (fresh) process; return its wall and CPU time and peak RSS."""
    registry = load_registry()
    t0, c0 = time.perf_counter(), time.process_time()
    raw = pl.read_parquet(path)
    if step != "read input":
        t0, c0 = time.perf_counter(), time.process_time()
    stats: dict[str, object] = {}
    if step == "lineage.resolve":
        lookup = registry.lookup_at(tagging.attribution_day(raw))
        redirects = lookup.filter(pl.col("ns_key") != pl.col("namespace").str.to_lowercase())
        res = lineage.resolve(raw.select("model_id", "base_model_ids"), redirects=redirects)
        keep = ("status", "max_depth", "cycle_nodes", "depth_capped_nodes", "parents_renamed", "parents_matched_by_case")
        stats = {k: res.stats[k] for k in keep}
    elif step == "tagging.tag":
        tagged, tag_stats = tagging.tag(raw, registry)
    elif step != "read input":
        raise ValueError(step)
    seconds, cpu, peak = time.perf_counter() - t0, time.process_time() - c0, _peak_gb()
    if step == "tagging.tag":
        cov = tagging.coverage(tagged)
        stats = {"coverage": {k: round(v, 4) for k, v in cov.items()}, "release_dates_applied": len(tag_stats["release_dates"]["applied"])}
    return {"step": step, "models": raw.height, "seconds": seconds, "cpu_seconds": cpu, "peak_gb": peak, "stats": stats}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", type=int, default=3_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    parser.add_argument("--input", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, Path(args.input))))
        return

    OUT_DIR.mkdir(parents=True, exist_ok=True)
    path = OUT_DIR / f"lineage_{args.models}_{args.seed}.parquet"
    if not path.exists() or pl.read_parquet_schema(path).names() != RAW_HUB_LISTINGS.names:  # generated before a schema change
        t0 = time.perf_counter()
        raw = synthetic_raw(args.models, args.seed)
        raw.write_parquet(path)
        derived = raw.filter(pl.col("base_model_ids").list.len() > 0).height
        print(f"generated {raw.height:,} models ({derived / raw.height:.1%} with parents) in {time.perf_counter() - t0:.1f} s -> {path}")
        del raw
    print(f"input: {path}\n")
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} (CPU seconds are less sensitive to other load)")
    print(f"{'step':<18}{'seconds':>9}{'CPU s':>8}{'peak RSS':>11}   notes")
    results = []
    for step in ("read input", "lineage.resolve", "tagging.tag"):
        out = subprocess.run(
            [sys.executable, __file__, "--measure", step, "--input", str(path)], capture_output=True, text=True, check=True
        )
        info = json.loads(out.stdout.strip().splitlines()[-1])
        results.append(info)
        print(f"{step:<18}{info['seconds']:>8.2f}s{info['cpu_seconds']:>7.2f}s{info['peak_gb']:>8.2f} GB   {json.dumps(info.get('stats', {}))}")
    tag = results[-1]
    ok = tag["seconds"] < TARGET_SECONDS and tag["peak_gb"] < TARGET_GB
    print(f"\ntagging.tag of {tag['models']:,} models: {tag['seconds']:.2f} s, peak {tag['peak_gb']:.2f} GB "
          f"(target < {TARGET_SECONDS:.0f} s, < {TARGET_GB:.0f} GB): {'within target' if ok else 'MISSES the target'}")


if __name__ == "__main__":
    main()
