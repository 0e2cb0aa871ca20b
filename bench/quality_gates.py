"""Benchmark: the Great Expectations gates against the assets they gate, on a 1,000,000-row month.

The month is the bundled real sample (4,167 models) replicated with new ids until it has --rows rows,
30-day downloads perturbed per copy; declared parents still point at the original models, as the Hub's
derivatives point at a few popular bases. Each stage runs the pure function its asset calls and writes
its output as the IO manager would; each check reads its inputs as Dagster loads them and runs its suite.

Printed side by side per asset: the asset (compute + write), the check (read + derive + GX), and of the
check the GX part alone (pandas conversion and validation). Target: check <= asset. A last line shows what
handing GX the whole raw partition would cost instead of the columns the expectations name.

    .venv/bin/python bench/quality_gates.py            # 1,000,000 rows
    .venv/bin/python bench/quality_gates.py --rows 200000
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dominance_pipeline.metrics import aggregates, indices  # noqa: E402
from dominance_pipeline.origin.registry import load_registry  # noqa: E402
from dominance_pipeline.origin.tagging import tag  # noqa: E402
from dominance_pipeline.quality import suites  # noqa: E402
from dominance_pipeline.quality.config import load_thresholds  # noqa: E402
from dominance_pipeline.sources.local import infer_snapshot_at, scan_snapshot  # noqa: E402
from dominance_pipeline.sources.normalise import normalise  # noqa: E402
from dominance_pipeline.storage import parquet  # noqa: E402

SAMPLE = ROOT / "data" / "sample" / "hub_stats_2026-05.parquet"
MONTH = dt.date(2026, 5, 1)


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def synthetic_listing(rows: int, seed: int = 5) -> pl.DataFrame:
    """The sample replicated to `rows` rows: copy k > 0 renames every model `<id>-r<k>` and rescales its downloads."""
    base = scan_snapshot(SAMPLE).collect()
    copies = -(-rows // base.height)
    rng = np.random.default_rng(seed)
    frames = []
    for k in range(copies):
        if k == 0:
            frames.append(base)
            continue
        factor = pl.Series(rng.uniform(0.05, 1.5, base.height))
        frames.append(
            base.with_columns(
                (pl.col("id") + f"-r{k}").alias("id"),
                (pl.col("downloads").cast(pl.Float64) * factor).round().cast(pl.Int64).alias("downloads"),
            )
        )
    return pl.concat(frames).head(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    proc = psutil.Process()
    th = load_thresholds()
    registry = load_registry()

    _, gx_import = timed(suites._gx)
    listing, build = timed(lambda: synthetic_listing(args.rows))
    print(f"{args.rows:,}-row month built in {build:.1f} s from {SAMPLE.name}; `import great_expectations` {gx_import:.1f} s "
          f"(once per process, not counted below); {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}")

    rows: list[tuple[str, int, float, float, float, float, float]] = []
    with tempfile.TemporaryDirectory(prefix="bench_gates_") as tmp:
        root = Path(tmp)
        key = MONTH.isoformat()

        def write(name: str, df: pl.DataFrame) -> float:
            return timed(lambda: parquet.write_partition(df, root, name, key))[1]

        def read(name: str, columns: list[str] | None = None) -> tuple[pl.DataFrame, float]:
            return timed(lambda: parquet.read_partition(root, name, key, columns=columns))

        # raw_hub_listings
        norm, compute = timed(lambda: normalise(listing.lazy(), month=MONTH, snapshot_at=infer_snapshot_at(SAMPLE), source="bench"))
        written = write("raw_hub_listings", norm.rows) + write("quarantine", norm.quarantine)
        raw, loaded = read("raw_hub_listings")
        ctx = suites.RawContext(MONTH, norm.quarantine, previous_rows=raw.height)
        res, check = timed(lambda: suites.validate_raw(raw, ctx, th))
        rows.append(("raw_hub_listings", raw.height, compute, written, loaded, check, res.seconds))
        _report_failures(res)

        # origin_tagged_models
        (tagged, _), compute = timed(lambda: tag(raw, registry))
        written = write("origin_tagged_models", tagged)
        tagged_in, loaded = read("origin_tagged_models")
        res, check = timed(lambda: suites.validate_tagged(tagged_in, th))
        rows.append(("origin_tagged_models", tagged.height, compute, written, loaded, check, res.seconds))
        _report_failures(res)

        # monthly_aggregates: the check also reads the raw columns conservation needs
        agg, compute = timed(lambda: aggregates.aggregate(tagged_in, MONTH))
        written = write("monthly_aggregates", agg)
        agg_in, loaded_agg = read("monthly_aggregates")
        raw_cols, loaded_raw = read("raw_hub_listings", list(suites.RAW_TOTAL_COLUMNS))
        res, check = timed(lambda: suites.validate_aggregates(agg_in, raw_cols, MONTH, th))
        rows.append(("monthly_aggregates", agg.height, compute, written, loaded_agg + loaded_raw, check, res.seconds))
        _report_failures(res)

        # dominance_indices
        ix, compute = timed(lambda: indices.compute(agg_in, tagged_in, MONTH))
        written = write("dominance_indices", ix)
        ix_in, loaded = read("dominance_indices")
        res, check = timed(lambda: suites.validate_indices(ix_in, th))
        rows.append(("dominance_indices", ix.height, compute, written, loaded, check, res.seconds))
        _report_failures(res)

        _, whole = timed(lambda: raw.to_pandas())

    header = ("asset", "rows", "asset compute", "+ write", "= asset", "check read", "+ derive & GX", "= check", "of which GX", "check/asset")
    print()
    print(f"{header[0]:<22}{header[1]:>11}" + "".join(f"{h:>15}" for h in header[2:]))
    tot_asset = tot_check = 0.0
    for name, n, compute, written, loaded, check, gx in rows:
        asset_s, check_s = compute + written, loaded + check
        tot_asset += asset_s
        tot_check += check_s
        print(
            f"{name:<22}{n:>11,}{compute:>14.2f}s{written:>14.2f}s{asset_s:>14.2f}s{loaded:>14.2f}s{check:>14.2f}s"
            f"{check_s:>14.2f}s{gx:>14.2f}s{check_s / asset_s:>15.2f}"
        )
    print(f"{'all four':<22}{'':>11}{'':>15}{'':>15}{tot_asset:>14.2f}s{'':>15}{'':>15}{tot_check:>14.2f}s{'':>15}{tot_check / tot_asset:>15.2f}")
    print(
        f"\nHanding GX the whole raw partition instead: its conversion to pandas alone takes {whole:.2f} s "
        f"(the suite converts only the columns its expectations name). Peak RSS {proc.memory_info().rss / 2**30:.1f} GiB."
    )


def _report_failures(res: suites.SuiteResult) -> None:
    if res.failed():
        print(f"  note: {res.suite} on the synthetic month: {res.summary()}")


if __name__ == "__main__":
    main()
