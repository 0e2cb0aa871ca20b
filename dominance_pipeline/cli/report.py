"""`dominance-pipeline report [--month YYYY-MM] [--format table|csv|json]`: a materialized month's indices.

Reads the warehouse's Parquet files (no run is started). The table shows the key countries; CSV and JSON
carry every row. Why an index has no rows for the month comes from that month's run in the Dagster
instance, when the instance has it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from dominance_pipeline.cli.errors import UserError
from dominance_pipeline.cli.render import KEY_COUNTRIES
from dominance_pipeline.settings import paths

if TYPE_CHECKING:
    import polars as pl

FORMATS = ("table", "csv", "json")
TABLE = "dominance_indices"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="print the dominance indices of a materialized month")
    p.add_argument("--month", help="the month, YYYY-MM (default: the latest materialized month)")
    p.add_argument("--format", default="table", choices=FORMATS, help="table for reading, csv or json for scripts (every row)")
    p.add_argument(
        "--countries",
        default=",".join(KEY_COUNTRIES),
        help=f"countries shown in the table, comma-separated, or 'all' (default {','.join(KEY_COUNTRIES)})",
    )
    p.set_defaults(func=run)


def choose_month(root: Path, month: str | None) -> str:
    """The partition key to report: the requested month if it is materialized, else the latest one."""
    from dominance_pipeline.cli.materialize import month_key
    from dominance_pipeline.storage import parquet

    key = month_key(month) if month is not None else None  # a malformed month is the first thing to say
    months = parquet.materialized_months(root, TABLE)
    if not months:
        raise UserError(f"no month is materialized in {root}: run `dominance-pipeline materialize --month YYYY-MM` first")
    if key is None:
        return months[-1]
    if key not in months:
        have = ", ".join(m[:7] for m in months)
        raise UserError(f"{key[:7]} is not materialized (materialized: {have}); run `dominance-pipeline materialize --month {key[:7]}`")
    return key


def absent_reasons(key: str) -> dict[str, str] | None:
    """Why indices have no rows for the month, from its latest materialization; None if no instance has it."""
    home = Path(os.environ.get("DAGSTER_HOME") or paths().dagster_home)
    if not (home / "dagster.yaml").is_file():
        return None
    import dagster as dg

    with dg.DagsterInstance.from_config(str(home)) as instance:
        query = dg.AssetRecordsFilter(asset_key=dg.AssetKey(TABLE), asset_partitions=[key])
        records = instance.fetch_materializations(query, limit=1).records
    if not records or records[0].asset_materialization is None:
        return None
    value = records[0].asset_materialization.metadata.get("absent")
    return dict(value.value) if value is not None else {}


def print_month(ix: pl.DataFrame, key: str, absent: dict[str, str] | None, countries: tuple[str, ...] | None, title: str) -> None:
    from dominance_pipeline.cli.render import indices_table, print_table

    print_table(indices_table(ix, countries), title)
    if absent:
        print(f"\nNo rows for {key[:7]}:")
        for index, reason in sorted(absent.items()):
            print(f"  {index}: {reason}")
    elif absent is None:
        print("\n(no record of this month's run in the Dagster instance: reasons for any absent index unknown)")


def chosen_countries(text: str, ix: "pl.DataFrame") -> tuple[str, ...]:
    """The codes of --countries, in capitals; one that is no country code (nor a bucket of the indices)
    is a usage mistake, not a table without its rows."""
    from dominance_pipeline.origin.countries import valid_codes

    codes = tuple(c.strip().upper() for c in text.split(",") if c.strip())
    known = valid_codes() | set(ix.get_column("country").drop_nulls().unique())
    unknown = [c for c in codes if c not in known]
    if unknown or not codes:
        raise UserError(f"--countries: {', '.join(unknown) or 'none given'} is not a country code; give ISO codes such as CN,US, or all")
    return codes


def run(args: argparse.Namespace) -> int:
    import polars as pl

    from dominance_pipeline.storage import parquet

    root = paths().warehouse
    key = choose_month(root, args.month)
    ix = parquet.read_partition(root, TABLE, key)
    if args.format == "csv":
        sys.stdout.write(ix.write_csv())
        return 0
    absent = absent_reasons(key)
    if args.format == "json":
        rows = ix.with_columns(pl.col("month").cast(pl.String)).to_dicts()
        json.dump({"month": key[:7], "indices": rows, "absent": absent}, sys.stdout, indent=1)
        sys.stdout.write("\n")
        return 0
    countries = None if args.countries.strip().lower() == "all" else chosen_countries(args.countries, ix)
    print_month(ix, key, absent, countries, f"Dominance indices for {key[:7]}")
    return 0
