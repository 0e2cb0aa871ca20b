"""How long the month's indices and leaderboard take, and how much memory, at Hub scale.

The real sample's origin-tagged models (4,167 rows) are tiled to N models (ids suffixed, so every row is a
distinct model; lineage roots stay the sample's, so the namespaces and countries keep the real mix). Each
step runs in a fresh process that first loads the tiled frame, so its peak RSS is its own:

  load         reading the tiled origin_tagged_models (every column; the floor every step pays)
  aggregates   metrics.aggregates.aggregate: the foundation's monthly step, the baseline
  indices      metrics.indices.compute with a previous listing (every index of issue 9)
  leaderboard  metrics.leaderboard.leaderboard with a previous month (the asset itself reads 7 columns of
               two months, not every column of one)

    .venv/bin/python bench/bench_indices.py                  # 1M and 3M models
    .venv/bin/python bench/bench_indices.py --models 300000
"""

from __future__ import annotations

import argparse
import datetime as dt
import multiprocessing as mp
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
OUT = ROOT / "data" / "bench"
MONTH = dt.date(2026, 5, 1)
STEPS = ("load", "aggregates", "indices", "leaderboard")


def tiled(n: int) -> Path:
    import polars as pl

    from dominance_pipeline.origin.registry import load_registry
    from dominance_pipeline.origin.tagging import tag
    from dominance_pipeline.sources import local
    from dominance_pipeline.sources.normalise import normalise

    path = OUT / f"tagged_{n}.parquet"
    if path.exists():
        return path
    sample = ROOT / "data" / "sample" / "hub_stats_2026-05.parquet"
    raw = normalise(local.scan_snapshot(sample), month=MONTH, snapshot_at=local.infer_snapshot_at(sample), source="local").rows
    tagged = tag(raw, load_registry())[0]
    copies = -(-n // tagged.height)
    out = pl.concat(
        [tagged.with_columns((pl.col("model_id") + f"-{k}").alias("model_id")) for k in range(copies)]
    ).head(n)
    OUT.mkdir(parents=True, exist_ok=True)
    out.write_parquet(path)
    return path


def step(name: str, path: str, queue: mp.Queue) -> None:
    import polars as pl

    from dominance_pipeline.metrics import aggregates, indices, leaderboard

    start = time.perf_counter()
    tagged = pl.read_parquet(path)
    previous = tagged.select("model_id", (pl.col("downloads_all_time") - pl.col("downloads_30d")).clip(0).alias("downloads_all_time"))
    if name != "load":
        start = time.perf_counter()
    if name == "aggregates":
        aggregates.aggregate(tagged, MONTH)
    elif name == "indices":
        indices.compute(tagged, MONTH, previous)
    elif name == "leaderboard":
        leaderboard.leaderboard(tagged, tagged, MONTH)
    seconds = time.perf_counter() - start
    queue.put((seconds, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))


def measure(name: str, path: Path) -> tuple[float, float]:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=step, args=(name, str(path), queue))
    proc.start()
    result = queue.get()
    proc.join()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, nargs="+", default=[1_000_000, 3_000_000])
    args = parser.parse_args()
    print(f"{'models':>10} {'step':<12} {'seconds':>8} {'peak RSS MB':>12}")
    for n in args.models:
        path = tiled(n)
        for name in STEPS:
            seconds, rss = measure(name, path)
            print(f"{n:>10,} {name:<12} {seconds:>8.2f} {rss:>12,.0f}", flush=True)


if __name__ == "__main__":
    main()
