"""Where outputs land: Hive-partitioned Parquet (atomically published) and DuckDB views over it."""
