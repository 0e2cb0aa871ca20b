"""Benchmark: the Great Expectations gates against the assets they gate, on a 1,000,000-row month.

The month is the bundled real sample (4,167 models) replicated with new ids until it has --rows rows,
30-day downloads perturbed per copy; declared parents still point at the original models, as the Hub's
derivatives point at a few popular bases. It is written as a snapshot file, and each stage runs the pure
function its asset calls and writes its output as the IO manager does; each check reads its inputs as
Dagster loads them and runs its suite.

Printed side by side per step, as a Dagster run pays them: the asset (read its inputs, compute, write) and
its check (read its inputs, derive the small frames, GX), with the GX part alone (pandas conversion and
validation) and its ratio to the asset's compute. Target: check <= asset. A last line compares the raw
rows' expectations as the suite runs them with the textbook GX recipe (whole frame, GX defaults).

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
from dataclasses import dataclass
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

    stages: list[Stage] = []
    with tempfile.TemporaryDirectory(prefix="bench_gates_") as tmp:
        root = Path(tmp)
        key = MONTH.isoformat()
        snapshot = root / "hub_stats_2026-05.parquet"
        listing.write_parquet(snapshot)
        del listing

        def write(name: str, df: pl.DataFrame) -> float:
            return timed(lambda: parquet.write_partition(df, root, name, key))[1]

        def read(name: str, columns: list[str] | None = None) -> tuple[pl.DataFrame, float]:
            return timed(lambda: parquet.read_partition(root, name, key, columns=columns))

        # raw_hub_listings: the snapshot is scanned lazily, so its read is inside the compute.
        norm, compute = timed(
            lambda: normalise(scan_snapshot(snapshot), month=MONTH, snapshot_at=infer_snapshot_at(SAMPLE), source="bench")
        )
        written = write("raw_hub_listings", norm.rows) + write("quarantine", norm.quarantine)
        raw, check_read = read("raw_hub_listings")
        ctx = suites.RawContext(MONTH, norm.quarantine, previous_rows=raw.height)
        res, check = timed(lambda: suites.validate_raw(raw, ctx, th))
        stages.append(Stage("raw_hub_listings", raw.height, 0.0, compute, written, check_read, check, res))

        # origin_tagged_models
        raw_in, asset_read = read("raw_hub_listings")
        (tagged, _), compute = timed(lambda: tag(raw_in, registry))
        written = write("origin_tagged_models", tagged)
        raw_in = tagged = None  # freed before the check reads its own copy
        tagged_in, check_read = read("origin_tagged_models")
        res, check = timed(lambda: suites.validate_tagged(tagged_in, th))
        stages.append(Stage("origin_tagged_models", tagged_in.height, asset_read, compute, written, check_read, check, res))

        # monthly_aggregates: its check also reads the raw columns conservation needs
        tagged_in, asset_read = read("origin_tagged_models")
        agg, compute = timed(lambda: aggregates.aggregate(tagged_in, MONTH))
        written = write("monthly_aggregates", agg)
        agg_in, read_agg = read("monthly_aggregates")
        raw_cols, read_raw = read("raw_hub_listings", list(suites.RAW_TOTAL_COLUMNS))
        res, check = timed(lambda: suites.validate_aggregates(agg_in, raw_cols, MONTH, th))
        stages.append(Stage("monthly_aggregates", agg.height, asset_read, compute, written, read_agg + read_raw, check, res))

        # dominance_indices: the asset reads the aggregates and the tagged models
        agg_in, read_agg = read("monthly_aggregates")
        tagged_in, read_tagged = read("origin_tagged_models")
        ix, compute = timed(lambda: indices.compute(agg_in, tagged_in, MONTH))
        written = write("dominance_indices", ix)
        ix_in, check_read = read("dominance_indices")
        res, check = timed(lambda: suites.validate_indices(ix_in, th))
        stages.append(Stage("dominance_indices", ix.height, read_agg + read_tagged, compute, written, check_read, check, res))

        on_rows = [e for e in suites.raw_expectations(th, raw.height, ctx) if e.table == "rows" and e.skip is None]
        _, lean = timed(lambda: suites.run_suite("raw_rows", {"rows": suites.Table(raw, "model_id")}, on_rows))
        naive = naive_gx(raw, on_rows)

    for st in stages:
        if st.result.failed():
            print(f"  note: {st.name} on the synthetic month: {st.result.summary()}")
    cols = ("rows", "asset read", "+ compute", "+ write", "= asset", "check read", "+ derive&GX", "= check", "of which GX", "check/asset", "GX/compute")
    print(f"\n{'step':<22}" + "".join(f"{c:>13}" for c in cols))
    for st in stages:
        print(
            f"{st.name:<22}{st.rows:>13,}"
            + "".join(f"{x:>12.2f}s" for x in (st.asset_read, st.compute, st.write, st.asset, st.check_read, st.check, st.total_check, st.result.seconds))
            + f"{st.total_check / st.asset:>13.2f}{st.result.seconds / st.compute:>13.2f}"
        )
    asset, check = sum(st.asset for st in stages), sum(st.total_check for st in stages)
    print(f"{'all four':<22}{'':>13}{'':>39}{asset:>12.2f}s{'':>26}{check:>12.2f}s{'':>13}{check / asset:>13.2f}")
    print(
        f"\nThe {len(on_rows)} expectations on the raw rows, as this suite runs them: {lean:.2f} s; the textbook way "
        f"(whole partition to pandas, GX defaults, ids as an index column): {naive:.2f} s. "
        f"Peak RSS {proc.memory_info().rss / 2**30:.1f} GiB."
    )


@dataclass(frozen=True)
class Stage:
    """One asset's step (read inputs, compute, write) and its check's step (read inputs, derive + GX)."""

    name: str
    rows: int
    asset_read: float
    compute: float
    write: float
    check_read: float
    check: float
    result: suites.SuiteResult

    @property
    def asset(self) -> float:
        return self.asset_read + self.compute + self.write

    @property
    def total_check(self) -> float:
        return self.check_read + self.check


def naive_gx(raw: pl.DataFrame, expectations: list[suites.Expectation]) -> float:
    """The same expectations the way GX's docs show it: a fresh context, the whole frame, batch fingerprinting on."""
    import warnings

    from great_expectations.execution_engine import pandas_execution_engine

    gx, gxe, progress_bars = suites._gx()
    saved, pandas_execution_engine.HASH_THRESHOLD = pandas_execution_engine.HASH_THRESHOLD, 1e9
    start = time.perf_counter()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            context = gx.get_context(mode="ephemeral")
            context.variables.progress_bars = progress_bars(globally=False)
            batches = context.data_sources.add_pandas("naive").add_dataframe_asset("raw").add_batch_definition_whole_dataframe("all")
            suite = gx.ExpectationSuite(name="naive", expectations=[getattr(gxe, e.gx)(**e.kwargs) for e in expectations])
            result_format = {"result_format": "SUMMARY", "unexpected_index_column_names": ["model_id"]}
            batches.get_batch(batch_parameters={"dataframe": raw.to_pandas()}).validate(suite, result_format=result_format)
    finally:
        pandas_execution_engine.HASH_THRESHOLD = saved
    return time.perf_counter() - start


if __name__ == "__main__":
    main()
