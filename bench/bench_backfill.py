"""Backfill benchmark: many synthetic months through the real monthly_job, one Dagster run per month.

    python bench/bench_backfill.py                          # 24 months ending 2026-10, ~1,000,000 models each  (make bench-backfill)
    python bench/bench_backfill.py --months 3 --models 200000

The months come from one `dominance-pipeline synth` call (cached in data/bench/synth/), so they form a
consistent history: every model of one month is in the next, all-time downloads never fall. The synthetic
Hub grows (new models every month), so no two months have the same size: with the defaults (1,200,000
models in the newest month, growth 0.01/month) the 24 months run from about 0.8M to 1.2M models and average
about 1M. (The Hub's own growth, 0.059/month, would start a 24-month backfill at a quarter of the newest
size.) Each month is one in-process run of monthly_job (as the CLI's, cli/inprocess.py) in one persistent
instance, in a single worker process whose peak RSS is reported, like a sequential backfill; the code
location is loaded once. Prints per-month seconds and the total; writes data/bench/backfill.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    BENCH_DIR,
    Measure,
    dagster_env,
    ensure_synthetic,
    machine,
    machine_line,
    monthly_job,
    run_monthly_job,
    run_worker,
    step_seconds,
    worker_main,
)

SCRIPT = Path(__file__).resolve()


def _backfill(job: dict[str, object], m: Measure) -> None:
    import time

    import polars as pl

    data_dir = Path(str(job["work"])) / "dagster"
    snapshot_dir = Path(str(job["snapshot_dir"]))
    dagster_env(data_dir, snapshot_dir)
    months: list[dict[str, object]] = []
    with m.clock():
        monthly = monthly_job(data_dir, snapshot_dir)  # the code location is loaded once, as by a backfill daemon
        for key in job["keys"]:  # type: ignore[union-attr]
            path = snapshot_dir / f"hub_stats_{str(key)[:7]}.parquet"
            rows = pl.scan_parquet(path).select(pl.len()).collect().item()
            t0 = time.perf_counter()
            result, run_seconds = run_monthly_job(monthly, str(key))
            months.append(
                {
                    "month": str(key)[:7],
                    "models": rows,
                    "run_seconds": round(run_seconds, 3),
                    "seconds": round(time.perf_counter() - t0, 3),
                    "success": result.success,
                    "steps": step_seconds(result),
                }
            )
            print(f"{key[:7]}  {rows:>10,} models  {run_seconds:7.2f} s  {'ok' if result.success else 'FAILED'}", file=sys.stderr, flush=True)
    m.extra["months"] = months


def month_keys(end: str, months: int) -> list[str]:
    out = [dt.date.fromisoformat(f"{end}-01")]
    for _ in range(months - 1):
        out.append((out[-1] - dt.timedelta(days=1)).replace(day=1))
    return [d.isoformat() for d in reversed(out)]


def main() -> int:
    if "--worker" in sys.argv:
        worker_main({"backfill": _backfill})
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--models", type=int, default=1_200_000, help="models in the newest month (default 1,200,000)")
    parser.add_argument("--end", default="2026-10", help="newest month, YYYY-MM (must be a partition)")
    parser.add_argument("--growth", type=float, default=0.01, help="monthly growth of the model count (default 0.01)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=str(BENCH_DIR / "backfill.json"))
    parser.add_argument("--rss-limit-mb", type=float, default=12_000)
    parser.add_argument("--timeout", type=float, default=6 * 3600)
    args = parser.parse_args()
    keys = month_keys(args.end, args.months)
    snapshot_dir, gen_seconds = ensure_synthetic(args.models, args.months, args.seed, args.end, args.growth)
    print(f"{args.months} synthetic months in {snapshot_dir} ({'generated in %.1f s' % gen_seconds if gen_seconds else 'cached'})", flush=True)
    before = machine(calibrate=True)
    work = Path(tempfile.mkdtemp(prefix="bench-backfill-"))
    try:
        job = {"task": "backfill", "snapshot_dir": str(snapshot_dir), "work": str(work), "keys": keys}
        res = run_worker(SCRIPT, job, args.rss_limit_mb, args.timeout, echo_stderr=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    after = machine(calibrate=True)
    if res.get("error"):
        print(f"backfill failed: {res['error']}")
    months = res.get("extra", {}).get("months", [])
    for mo in months:
        print(f"  {mo['month']}  {mo['models']:>10,} models  {mo['run_seconds']:7.2f} s  {'ok' if mo['success'] else 'FAILED'}")
    total_models = sum(mo["models"] for mo in months)
    if res.get("seconds") is not None:
        print(
            f"\nbackfill of {len(months)} months ({total_models:,} model-rows, {total_models / max(len(months), 1):,.0f} per month):"
            f" total {res['seconds']:.1f} s "
            f"({res['seconds'] / max(len(months), 1):.1f} s per month), peak RSS {res['peak_rss_mb']:,.0f} MB"
        )
    print(machine_line(before, after))
    report = {
        "months": args.months,
        "models_newest_month": args.models,
        "growth": args.growth,
        "generation_seconds": gen_seconds,
        "total_seconds": res.get("seconds"),
        "process_seconds": res.get("process_seconds"),
        "peak_rss_mb": res.get("peak_rss_mb"),
        "model_rows": total_models,
        "per_month": months,
        "error": res.get("error"),
        "machine_before": before,
        "machine_after": after,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2, default=str))
    print(f"wrote {out}")
    return 0 if not res.get("error") else 1


if __name__ == "__main__":
    sys.exit(main())
