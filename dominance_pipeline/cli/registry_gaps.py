"""`dominance-pipeline registry-gaps --month YYYY-MM [--top N]`: what to add to the registry next.

Reads the month's materialized origin_tagged_models partition (it does not re-run anything) and lists the
namespaces whose downloads are UNATTRIBUTED, largest first, in the direct view (who uploaded them) and the
lineage view (whose root models they run on).
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys

from dominance_pipeline.cli.errors import UserError

VIEWS = ("direct", "lineage")
FORMATS = ("table", "csv")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "registry-gaps",
        help="list the namespaces with the most unattributed downloads in a materialized month",
        description="List the namespaces whose 30-day downloads are still UNATTRIBUTED in a materialized month, "
        "largest first, so curators know which registry rows to add next.",
    )
    p.add_argument("--month", required=True, help="a materialized month, YYYY-MM (for example 2026-05)")
    p.add_argument("--top", type=_positive, default=20, help="how many namespaces per view (default 20)")
    p.add_argument("--view", choices=(*VIEWS, "both"), default="both", help="which view (default both)")
    p.add_argument("--format", choices=FORMATS, default="table", help="table for people, csv for scripts (default table)")
    p.set_defaults(func=run)


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _month_key(text: str) -> str:
    """'2026-05' -> '2026-05-01' (parsed here, not through the Dagster partitions, to start fast)."""
    try:
        return dt.datetime.strptime(text.strip(), "%Y-%m").date().isoformat()
    except ValueError:
        raise UserError(f"month must look like YYYY-MM (for example 2026-05), got {text!r}") from None


def run(args: argparse.Namespace) -> int:
    import polars as pl

    from dominance_pipeline.origin.gaps import registry_gaps
    from dominance_pipeline.origin.registry import RegistryError, configured_path, load_registry, month_end
    from dominance_pipeline.settings import paths
    from dominance_pipeline.storage import parquet

    key = _month_key(args.month)
    root = paths().warehouse
    path = parquet.partition_file(root, "origin_tagged_models", key)
    if not path.exists():
        done = parquet.materialized_months(root, "origin_tagged_models")
        have = f"materialized months: {', '.join(m[:7] for m in done)}" if done else "no month is materialized yet"
        raise UserError(
            f"origin_tagged_models for {key[:7]} is not materialized in {root} ({have}); "
            f"run `dominance-pipeline materialize --month {key[:7]}` first"
        )
    try:
        registry = load_registry(configured_path())
    except RegistryError as exc:
        raise UserError(str(exc)) from None
    tagged = pl.read_parquet(path, glob=False)
    gaps = registry_gaps(tagged, registry.lookup_at(month_end(tagged.get_column("month").min())), top=args.top)
    views = VIEWS if args.view == "both" else (args.view,)
    if args.format == "csv":
        frames = [getattr(gaps, v).select(pl.lit(v).alias("view"), pl.all()) for v in views]
        sys.stdout.write(pl.concat(frames).write_csv())
        return 0
    _print_tables(gaps, views, key, path)
    return 0


def _print_tables(gaps, views: tuple[str, ...], key: str, path) -> None:  # gaps: origin.gaps.Gaps
    import polars as pl

    titles = {
        "direct": "direct view: who uploaded the unattributed downloads",
        "lineage": "lineage view: whose root models the unattributed downloads run on",
    }
    print(f"Registry gaps for {key[:7]} ({path})")
    print(
        f"Attributed 30-day downloads: direct {gaps.coverage['direct']:.2%}, lineage {gaps.coverage['lineage']:.2%} "
        f"of {gaps.total_downloads:,}"
    )
    for view in views:
        table = getattr(gaps, view).with_columns(
            pl.col("downloads_30d").round(0).cast(pl.Int64),
            (pl.col("share") * 100).round(3).alias("share_%"),
        ).drop("share")
        table = table.select("rank", "namespace", "downloads_30d", "share_%", "models", "top_model", "registry")
        with pl.Config(tbl_rows=-1, tbl_hide_dataframe_shape=True, tbl_hide_column_data_types=True, tbl_width_chars=200, fmt_str_lengths=60):
            print(f"\nTop {table.height} unattributed namespaces, {titles[view]}")
            print(table if table.height else "(none: every download is attributed)")
    print(
        "\nAdd a sourced row to dominance_pipeline/origin/registry.csv for each namespace you can attribute "
        "(README: Attribution), then re-materialize the month."
    )
