"""A DuckDB file with one view per table over its Parquet partitions, for analysts who think in SQL.

Views are lazy globs, so a newly published partition shows up without touching the database; a view is
(re)created only when its table gains its first partition. Paths are absolute: DuckDB resolves relative
paths against the reader's working directory, not the database file.
"""

from __future__ import annotations

from glob import escape
from pathlib import Path

import duckdb

from dominance_pipeline.storage.parquet import table_file, table_glob


def view_sql(root: Path, table: str) -> str:
    """A view over the table's monthly partitions, or over its one file if it is unpartitioned."""
    single = table_file(root, table)
    # DuckDB reads a path as a pattern: a `[` in the warehouse's own path is escaped (table_glob does it too).
    glob = (escape(str(single.resolve())) if single.exists() else table_glob(root, table)).replace("'", "''")
    return f"CREATE OR REPLACE VIEW {table} AS SELECT * FROM read_parquet('{glob}', hive_partitioning = false, union_by_name = true)"


def ensure_views(conn: duckdb.DuckDBPyConnection, root: Path, tables: list[str]) -> list[str]:
    """Create or refresh the view of each table that has at least one partition (or its one file), and drop
    that of a table left with none (its only partition rejected: a view over no file fails every query);
    return the views made."""
    made = []
    for table in tables:
        if table_file(root, table).exists() or any((Path(root) / table).glob("month=*/data.parquet")):
            conn.execute(view_sql(root, table))
            made.append(table)
        else:
            conn.execute(f"DROP VIEW IF EXISTS {table}")
    return made
