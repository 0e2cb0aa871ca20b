"""The organisations of the synthetic Hub: registry namespaces weighted as in the real sample.

`orgs.csv` (beside this module) is frozen from the bundled real sample by `derive_org_table`: one row per
namespace of the sample that the registry knows, with how many of the sample's models it
uploaded and their 30-day downloads. The generator uses the first as the org's share of registry-org
models and the second (per model) as its popularity, so the big orgs keep their real order (Qwen, openai,
google, BAAI, meta-llama, deepseek-ai, ...) and every synthetic model of theirs resolves to its country.
Registry intermediaries missing from the sample are added with zero counts (they upload quantizations,
weighted equally). Regenerate with `python -m dominance_pipeline.synth.orgs` after a registry change.
"""

from __future__ import annotations

import datetime as dt
from functools import cache
from pathlib import Path

import polars as pl

from dominance_pipeline.origin.registry import Registry, load_registry

ORGS_PATH = Path(__file__).with_name("orgs.csv")
# The sample is the 2026-05 month-end listing: attribute it with the registry rows valid then.
SAMPLE_MONTH_END = dt.date(2026, 5, 31)
ORGS_SCHEMA = {"namespace": pl.String, "models": pl.Int64, "downloads_30d": pl.Int64, "intermediary": pl.Boolean}


def derive_org_table(sample: Path, registry: Registry) -> pl.DataFrame:
    """Per registry namespace seen in `sample` (plus every registry intermediary): models and 30-day downloads.

Namespaces are kept as the sample spells them (the Hub's `author`), so a renamed org (THUDM -> zai-org)
appears under the name its models carry; the registry resolves it.
"""
    lookup = registry.lookup_at(SAMPLE_MONTH_END)
    counts = (
        pl.scan_parquet(sample, glob=False)
        .select(pl.col("id").str.split("/").list.first().alias("namespace"), pl.col("downloads").fill_null(0))
        .with_columns(pl.col("namespace").str.to_lowercase().alias("ns_key"))
        .join(lookup.lazy().select("ns_key", pl.col("is_intermediary").alias("intermediary")), on="ns_key")
        .group_by("namespace", "intermediary")
        .agg(pl.len().cast(pl.Int64).alias("models"), pl.col("downloads").sum().alias("downloads_30d"))
        .collect()
    )
    intermediaries = registry.rows.filter(pl.col("is_intermediary")).select(
        "namespace", pl.lit(0, pl.Int64).alias("models"), pl.lit(0, pl.Int64).alias("downloads_30d"), pl.lit(True).alias("intermediary")
    )
    missing = intermediaries.join(counts.select(pl.col("namespace").str.to_lowercase().alias("k")), left_on=pl.col("namespace").str.to_lowercase(), right_on="k", how="anti")
    return (
        pl.concat([counts.select(list(ORGS_SCHEMA)), missing.select(list(ORGS_SCHEMA))])
        .sort("downloads_30d", "namespace", descending=[True, False])
    )


@cache
def org_table() -> pl.DataFrame:
    return pl.read_csv(ORGS_PATH, schema=ORGS_SCHEMA)


if __name__ == "__main__":
    from dominance_pipeline.settings import PROJECT_ROOT

    table = derive_org_table(PROJECT_ROOT / "data" / "sample" / "hub_stats_2026-05.parquet", load_registry())
    table.write_csv(ORGS_PATH)
    print(f"wrote {ORGS_PATH}: {table.height} namespaces")
