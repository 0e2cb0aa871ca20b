"""Benchmark: ingest N synthetic models through the live source from the local Hub server.

    .venv/bin/python bench/ingest_live.py                      # 100,000 and 1,000,000 models
    .venv/bin/python bench/ingest_live.py --sizes 20000        # a quick look

For each size it writes a hub-stats-shaped snapshot (a simple generator below; the synthetic Hub of the
performance issue will replace it), starts `dominance-pipeline hub-server` on it in its own process, and
materializes raw_hub_listings for 2026-10 through Dagster in a fresh child process, so the peak RSS printed
is that of the ingesting process alone. Side by side, in the same run:

- `local`: the same snapshot read as a local file (same normalise/publish path, no HTTP): the floor;
- `naive`: `list(HfApi.list_models(expand=...))` into one frame, what streaming avoids (run up to
  100,000 models only: its memory grows with N).

The server's clock is set to 2026-11-02 so that the listing may stand for 2026-10 (--as-of).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
MONTH_KEY = "2026-10-01"
AS_OF = "2026-11-02T00:00:00Z"
NAIVE_MAX = 100_000  # the naive baseline holds every ModelInfo: several GB at a million


def synthetic_snapshot(n: int, path: Path, seed: int = 3) -> Path:
    """`n` hub-stats-shaped models: ids, dates, heavy-tailed counts, tags, lineage for ~28 %, params, cards."""
    import numpy as np
    import polars as pl

    rng = np.random.default_rng(seed)
    orgs = rng.zipf(1.3, n) % max(n // 15, 50)
    created = np.datetime64("2022-03-02T23:29:04") + rng.integers(0, 4 * 365 * 86400, n).astype("timedelta64[s]")
    created[rng.random(n) < 0.02] = np.datetime64("2022-03-02T23:29:04")
    has_parent = rng.random(n) < 0.28
    parent = (rng.random(n) * np.arange(n)).astype(np.int64)
    relation = np.array(["finetune", "adapter", "quantized", "merge"])[rng.choice(4, n, p=[0.36, 0.43, 0.19, 0.02])]
    df = pl.DataFrame(
        {
            "i": np.arange(n),
            "org": orgs,
            "createdAt": created.astype("datetime64[us]"),
            "downloads": (rng.pareto(1.1, n) * 3).astype(np.int64),
            "likes": (rng.pareto(1.5, n)).astype(np.int64),
            "trendingScore": rng.random(n) * 10,
            "has_parent": has_parent,
            "parent": parent,
            "relation": relation,
            "params": rng.integers(10**6, 10**11, n),
            "has_st": rng.random(n) < 0.6,
            "has_gguf": rng.random(n) < 0.1,
            "task": np.array(["text-generation", "text-classification", "image-to-text", ""])[rng.choice(4, n)],
        }
    )
    model_id = pl.format("org-{}/model-{}", "org", "i")
    parent_id = pl.format("org-{}/model-{}", pl.col("parent") % max(n // 15, 50), "parent")
    out = df.select(
        model_id.alias("id"),
        pl.format("org-{}", "org").alias("author"),
        "createdAt",
        (pl.col("createdAt") + pl.duration(days=pl.col("i") % 90)).alias("lastModified"),
        "downloads",
        (pl.col("downloads") * (1 + pl.col("i") % 17)).alias("downloadsAllTime"),
        "likes",
        "trendingScore",
        pl.concat_list(
            pl.lit("transformers"), pl.lit("safetensors"), pl.lit("region:us"),
            pl.when(pl.col("has_parent")).then(pl.format("base_model:{}:{}", "relation", parent_id)).otherwise(pl.lit("en")),
        ).alias("tags"),
        pl.when(pl.col("task") != "").then(pl.col("task")).alias("pipeline_tag"),
        pl.lit("transformers").alias("library_name"),
        pl.when(pl.col("has_parent"))
        .then(pl.format('{{"license": "apache-2.0", "base_model": "{}", "base_model_relation": "{}"}}', parent_id, "relation"))
        .otherwise(pl.lit('{"license": "mit", "language": ["en"]}'))
        .alias("cardData"),
        pl.when(pl.col("has_st")).then(pl.struct(pl.struct(pl.col("params").alias("BF16")).alias("parameters"), pl.col("params").alias("total"))).alias("safetensors"),
        pl.when(pl.col("has_gguf")).then(pl.format('{{"total": {}, "architecture": "llama", "context_length": 8192}}', "params")).alias("gguf"),
        pl.when(pl.col("has_parent")).then(
            pl.struct(pl.col("relation"), pl.concat_list(pl.struct(pl.lit("x").alias("_id"), parent_id.alias("id"))).alias("models"))
        ).alias("baseModels"),
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    out.write_parquet(path, row_group_size=100_000)
    return path


def peak_rss_mb() -> float:
    """This process's peak RSS. VmHWM, not ru_maxrss: the latter survives exec, so a child would inherit the
    peak of the parent that generated the snapshot."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(mode: str, endpoint: str, snapshot: str, page_size: int) -> None:
    """Run one ingestion in this (fresh) process and print its figures as JSON."""
    import dagster as dg

    from dominance_pipeline.defs.ingest import raw_hub_listings
    from dominance_pipeline.defs.resources import HubApiResource, build_resources
    from dominance_pipeline.settings import paths

    rss_before = peak_rss_mb()
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        if mode == "naive":
            import polars as pl
            from huggingface_hub import HfApi

            from dominance_pipeline.sources.live import LIVE_EXPAND

            models = list(HfApi(endpoint=endpoint, token=False).list_models(expand=list(LIVE_EXPAND), sort="created_at"))
            rows = pl.DataFrame([{"id": m.id, "downloads": m.downloads, "tags": m.tags} for m in models]).height
        else:
            resources = build_resources(paths(tmp), hub_endpoint=endpoint)
            # The local server has no rate limit: measure throughput, not the pacing (see the printed note).
            resources["hub_api"] = HubApiResource(endpoint=endpoint, page_size=page_size, requests_per_5min=10**9)
            config = {"source": "live"} if mode == "live" else {"source": "local", "snapshot": snapshot}
            result = dg.materialize(
                [raw_hub_listings], partition_key=MONTH_KEY, resources=resources,
                run_config={"ops": {"raw_hub_listings": {"config": config}}}, instance=dg.DagsterInstance.ephemeral(),
            )
            event = result.get_asset_materialization_events()[0]
            rows = event.materialization.metadata["dagster/row_count"].value
        seconds = time.perf_counter() - start
    print(json.dumps({"rows": rows, "seconds": seconds, "rss_after_imports_mb": rss_before, "peak_rss_mb": peak_rss_mb()}))


def run_child(mode: str, endpoint: str, snapshot: Path, page_size: int) -> dict:
    env = {**os.environ, "NO_PROXY": "127.0.0.1,localhost", "DAGSTER_DISABLE_TELEMETRY": "1"}
    proc = subprocess.run(
        [sys.executable, __file__, "--child", mode, "--endpoint", endpoint, "--snapshot", str(snapshot), "--page-size", str(page_size)],
        capture_output=True, text=True, env=env, cwd=PROJECT,
    )
    if proc.returncode:
        raise SystemExit(f"{mode} ingestion failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def serve(snapshot: Path, page_size: int) -> tuple[subprocess.Popen, str]:
    ready = Path(tempfile.mkdtemp()) / "url"
    server = subprocess.Popen(
        [sys.executable, "-m", "dominance_pipeline.cli", "hub-server", "--snapshot", str(snapshot), "--as-of", AS_OF,
         "--page-size", str(page_size), "--ready-file", str(ready)],
        cwd=PROJECT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 300
    while not ready.exists():
        if server.poll() is not None or time.monotonic() > deadline:
            raise SystemExit("hub-server did not start")
        time.sleep(0.1)
    return server, ready.read_text().strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--page-size", type=int, default=1000)
    parser.add_argument("--workdir", type=Path, default=PROJECT / "data" / "bench")
    parser.add_argument("--child", choices=["live", "local", "naive"], help=argparse.SUPPRESS)
    parser.add_argument("--endpoint", help=argparse.SUPPRESS)
    parser.add_argument("--snapshot", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.endpoint, args.snapshot, args.page_size)
        return

    print(f"{'models':>10} {'source':<7} {'seconds':>8} {'models/s':>9} {'peak RSS MB':>12} {'(after imports)':>15}")
    for n in args.sizes:
        snapshot = args.workdir / f"synthetic_{n}.parquet"
        if not snapshot.exists():
            synthetic_snapshot(n, snapshot)
        server, url = serve(snapshot, args.page_size)
        try:
            modes = ["live", "local"] + (["naive"] if n <= NAIVE_MAX else [])
            for mode in modes:
                fig = run_child(mode, url, snapshot, args.page_size)
                assert fig["rows"] == n, f"{mode}: {fig['rows']} rows, expected {n}"
                print(f"{n:>10,} {mode:<7} {fig['seconds']:>8.1f} {n / fig['seconds']:>9,.0f} {fig['peak_rss_mb']:>12,.0f} {fig['rss_after_imports_mb']:>15,.0f}", flush=True)
        finally:
            server.terminate()
            server.wait(timeout=60)
    print(f"\npage size {args.page_size}; live = HTTP listing + staging + normalise + publish, through Dagster; "
          "local = the same snapshot as a file; naive = list(HfApi.list_models(expand=...)) held in memory.\n"
          "Client-side pacing is off here (the local server has no rate limit); against the Hub the live source "
          "keeps to 900 requests per 5 minutes with a token (450 without): 3,000 pages of 1,000 models take >= 15 min.")


if __name__ == "__main__":
    main()
