"""Benchmark: the Great Expectations gates against the assets they gate, on a 1,000,000-row month.

The month is the bundled real sample (4,167 models) replicated with new ids until it has --rows rows,
30-day downloads perturbed per copy; declared parents still point at the original models, as the Hub's
derivatives point at a few popular bases. It is written as a snapshot file, and each stage runs the pure
function its asset calls and writes its output as the IO manager does (the raw asset writes its own
partition, so its read and write are counted in its compute); each check reads its inputs as
Dagster loads them and runs its suite. The previous month, where an asset reads one, is this month again;
the time series (and the crossover computed from it) holds this month's indices for 24 months.

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

from dominance_pipeline.defs.leaderboard import COLUMNS as LEADERBOARD_COLUMNS  # noqa: E402
from dominance_pipeline.metrics import aggregates, chart, indices, leaderboard, timeseries  # noqa: E402
from dominance_pipeline.origin.registry import load_registry  # noqa: E402
from dominance_pipeline.origin.tagging import tag  # noqa: E402
from dominance_pipeline.quality import suites  # noqa: E402
from dominance_pipeline.quality.config import load_thresholds  # noqa: E402
from dominance_pipeline.sources.local import infer_snapshot_at, scan_snapshot  # noqa: E402
from dominance_pipeline.sources.publish import parquet_batches, publish_listing  # noqa: E402
from dominance_pipeline.storage import parquet  # noqa: E402

SAMPLE = ROOT / "data" / "sample" / "hub_stats_2026-05.parquet"
MONTH = dt.date(2026, 5, 1)
SERIES_MONTHS = 24


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

        # raw_hub_listings: the asset streams the snapshot through normalisation into its own partition and
        # quarantine, so its read and write are inside the compute.
        notes, compute = timed(
            lambda: publish_listing(
                parquet_batches(snapshot), warehouse=root, quarantine=root / "quarantine", month=MONTH,
                snapshot_at=infer_snapshot_at(SAMPLE), source="bench", max_count=th.raw_hub_listings.max_count,
            )
        )
        written = 0.0
        raw, check_read = read("raw_hub_listings")
        ctx = suites.RawContext(MONTH, pl.read_parquet(notes["quarantine_path"]), previous_rows=raw.height)
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

        # dominance_indices: the asset reads the tagged models and three columns of the previous month's raw
        # listing (this month's stands in for it)
        tagged_in, read_tagged = read("origin_tagged_models")
        previous, read_previous = read("raw_hub_listings", ["month", "model_id", "downloads_all_time"])
        ix, compute = timed(lambda: indices.compute(tagged_in, MONTH, previous).table)
        written = write("dominance_indices", ix)
        tagged_in = previous = None
        ix_in, check_read = read("dominance_indices")
        res, check = timed(lambda: suites.validate_indices(ix_in, th))
        stages.append(Stage("dominance_indices", ix.height, read_tagged + read_previous, compute, written, check_read, check, res))

        # monthly_leaderboard: the asset reads its columns of this month's and the previous month's tagged
        # models (this month's again)
        (current, read_now), (before, read_before) = read("origin_tagged_models", LEADERBOARD_COLUMNS), read("origin_tagged_models", LEADERBOARD_COLUMNS)
        board, compute = timed(lambda: leaderboard.leaderboard(current, before, MONTH))
        written = write("monthly_leaderboard", board)
        current = before = None
        board_in, check_read = read("monthly_leaderboard")
        res, check = timed(lambda: suites.validate_leaderboard(board_in, th))
        stages.append(Stage("monthly_leaderboard", board.height, read_now + read_before, compute, written, check_read, check, res))

        # dominance_timeseries over SERIES_MONTHS months of this month's indices, then dominance_crossover:
        # not partitioned, each check validates the whole table.
        month = MONTH
        for _ in range(SERIES_MONTHS - 1):
            month = (month - dt.timedelta(days=1)).replace(day=1)
            parquet.write_partition(ix.with_columns(month=pl.lit(month)), root, "dominance_indices", month)
        ts, asset_read = timed(lambda: parquet.scan_table(root, "dominance_indices").collect())

        def series() -> tuple[pl.DataFrame, pl.DataFrame]:
            out = ts.sort("month", "index", "view", "denominator", "country", nulls_last=True)
            chart.share_chart(out, {})
            return out, timeseries.crossover(out)

        (ts, cross), compute = timed(series)
        written = timed(lambda: parquet.write_table(ts, root, "dominance_timeseries"))[1]
        ts_in, check_read = timed(lambda: parquet.read_table(root, "dominance_timeseries"))
        res, check = timed(lambda: suites.validate_timeseries(ts_in, th))
        stages.append(Stage("dominance_timeseries", ts.height, asset_read, compute, written, check_read, check, res))
        ts_in, asset_read = timed(lambda: parquet.read_table(root, "dominance_timeseries"))
        cross, compute = timed(lambda: timeseries.crossover(ts_in))
        written = timed(lambda: parquet.write_table(cross, root, "dominance_crossover"))[1]
        cross_in, check_read = timed(lambda: parquet.read_table(root, "dominance_crossover"))
        res, check = timed(lambda: suites.validate_crossover(cross_in, th))
        stages.append(Stage("dominance_crossover", cross.height, asset_read, compute, written, check_read, check, res))

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
    print(f"{'all':<22}{'':>13}{'':>39}{asset:>12.2f}s{'':>26}{check:>12.2f}s{'':>13}{check / asset:>13.2f}")
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
