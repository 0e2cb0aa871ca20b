"""`dominance-pipeline synth`: write a calibrated synthetic Hub, one hub-stats Parquet file per month.

The files are what the local source reads: point DOMINANCE_SNAPSHOT_DIR at the output folder and
materialize any of the months. They carry `source=synthetic` in their Parquet metadata, which the
pipeline records in every raw row, so a synthetic month can never pass for a real one.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from pathlib import Path

from dominance_pipeline.cli.errors import UserError


def register(sub: argparse._SubParsersAction) -> None:
    from dominance_pipeline.synth.hub import CYCLES_PER_MILLION, MONTHLY_GROWTH

    p = sub.add_parser("synth", help="write a synthetic, Hub-calibrated listing: one hub_stats_YYYY-MM.parquet per month")
    p.add_argument("--models", type=int, required=True, help="models in the newest month (the Hub has ~3,000,000)")
    p.add_argument("--months", type=int, default=1, help="consecutive month-end snapshots, ending at --end (default 1)")
    p.add_argument("--seed", type=int, default=0, help="random seed; the same seed writes the same files (default 0)")
    p.add_argument("--out", default="data/synth", help="output folder (default data/synth)")
    p.add_argument("--end", help="newest month, YYYY-MM (default: the last complete month)")
    p.add_argument("--growth", type=float, default=MONTHLY_GROWTH, help=f"monthly growth of the model count (default {MONTHLY_GROWTH}, the Hub's)")
    p.add_argument("--cycles-per-million", type=float, default=CYCLES_PER_MILLION,
                   help=f"pairs of models naming each other as base, per million models (default {CYCLES_PER_MILLION:g})")
    p.add_argument("--report", action="store_true", help="print the calibration: real sample vs the newest synthetic month")
    p.set_defaults(func=run)


def _month(text: str) -> dt.date:
    """--end as materialize and backfill read a month: YYYY-MM, two-digit month."""
    if len(text.strip()) != 7:
        raise UserError(f"--end must look like YYYY-MM (for example 2026-05), got {text!r}")
    try:
        return dt.datetime.strptime(text.strip(), "%Y-%m").date()
    except ValueError:
        raise UserError(f"--end must look like YYYY-MM (for example 2026-05), got {text!r}") from None


def _usable(months: list[dt.date]) -> dt.date | None:
    """The newest of `months` that is a partition today (a synthetic month after the last complete one is not)."""
    from dominance_pipeline.defs.partitions import monthly

    keys = set(monthly.get_partition_keys())
    return next((m for m in reversed(months) if m.isoformat() in keys), None)


def run(args: argparse.Namespace) -> int:
    from dominance_pipeline.synth import SynthConfig, generate

    try:
        config = SynthConfig(
            models=args.models,
            months=args.months,
            end=_month(args.end) if args.end else None,
            seed=args.seed,
            monthly_growth=args.growth,
            cycles_per_million=args.cycles_per_million,
        )
    except ValueError as exc:
        raise UserError(str(exc)) from None
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out} exists and is not a folder")
    t0 = time.perf_counter()
    paths = generate(config, out, progress=lambda msg: print(msg, file=sys.stderr, flush=True))
    print(f"wrote {len(paths)} synthetic month(s) to {out} in {time.perf_counter() - t0:.1f} s")
    newest = _usable(list(config.month_starts))
    if newest is None:
        print("none of these months is a partition yet (the partitions end at the last complete month): "
              "generate them with an earlier --end to materialize them")
    else:
        print(f"use them: DOMINANCE_SNAPSHOT_DIR={out} dominance-pipeline materialize --month {newest:%Y-%m}")
    if args.report:
        from dominance_pipeline.settings import PROJECT_ROOT
        from dominance_pipeline.synth.report import print_comparison

        print_comparison(PROJECT_ROOT / "data" / "sample" / "hub_stats_2026-05.parquet", paths[-1])
    return 0
