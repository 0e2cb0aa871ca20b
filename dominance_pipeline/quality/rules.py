"""Pure data-quality rules: each takes a frame and returns the failures it found (empty = passed).

Kept free of Dagster and of any validation framework so each rule can be unit-tested on a hand-made
frame; defs/checks.py turns the results into blocking asset checks.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

from dominance_pipeline.origin.countries import valid_codes

SAMPLE_SIZE = 10
SHARE_TOLERANCE = 1e-9


@dataclass(frozen=True)
class Failure:
    """One failed rule: what it expects, how many rows broke it, and a sample of offending ids."""

    rule: str
    unexpected_count: int
    sample: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {"rule": self.rule, "unexpected_count": self.unexpected_count, "sample": self.sample}


def _failing(df: pl.DataFrame, rule: str, bad: pl.Expr, id_col: str) -> list[Failure]:
    offenders = df.filter(bad)
    if offenders.is_empty():
        return []
    sample = offenders.get_column(id_col).cast(pl.String).head(SAMPLE_SIZE).to_list()
    return [Failure(rule, offenders.height, sample)]


def raw_rules(raw: pl.DataFrame) -> list[Failure]:
    out: list[Failure] = []
    out += _failing(raw, "model_id is unique", pl.col("model_id").is_duplicated(), "model_id")
    for col in ("model_id", "author", "snapshot_at"):
        out += _failing(raw, f"{col} is not null", pl.col(col).is_null(), "model_id")
    for col in ("downloads_30d", "downloads_all_time", "likes"):
        out += _failing(raw, f"{col} >= 0", pl.col(col) < 0, "model_id")
    out += _failing(raw, "created_at <= snapshot_at", pl.col("created_at") > pl.col("snapshot_at"), "model_id")
    return out


def tagged_rules(tagged: pl.DataFrame) -> list[Failure]:
    codes = pl.Series(sorted(valid_codes())).implode()
    out: list[Failure] = []
    for col in ("org_country", "root_country"):
        out += _failing(tagged, f"{col} is a valid country code", ~pl.col(col).is_in(codes), "model_id")
    weights = pl.col("lineage_roots").list.eval(pl.element().struct.field("weight")).list.sum()
    out += _failing(tagged, "lineage root weights sum to 1", (weights - 1).abs() > 1e-9, "model_id")
    return out


def conservation_rules(aggregates: pl.DataFrame, raw: pl.DataFrame) -> list[Failure]:
    """Per view, the totals across countries equal the raw totals (models and 30-day downloads)."""
    raw_models = float(raw.height)
    raw_downloads = float(raw.get_column("downloads_30d").fill_null(0).sum())
    totals = aggregates.group_by("view").agg(pl.col("models").sum(), pl.col("downloads_30d").sum())
    out = []
    for view, models, downloads in totals.iter_rows():
        if abs(models - raw_models) > 1e-6 * max(1.0, raw_models):
            out.append(Failure(f"{view}: Σ models = raw rows ({raw_models:.0f})", 1, [f"{models:.6f}"]))
        if abs(downloads - raw_downloads) > 1e-9 * max(1.0, raw_downloads):
            out.append(Failure(f"{view}: Σ downloads_30d = raw total ({raw_downloads:.0f})", 1, [f"{downloads:.6f}"]))
    return out


def index_rules(ix: pl.DataFrame) -> list[Failure]:
    labelled = ix.with_columns(pl.format("{} {} {} {}", "index", "view", "denominator", "country").alias("label"))
    is_share = pl.col("index").str.contains("share")
    out: list[Failure] = []
    out += _failing(labelled, "shares are within [0, 1]", is_share & ~pl.col("value").is_between(0, 1), "label")
    sums = (
        ix.filter(is_share)
        .group_by("index", "view", "denominator")
        .agg(pl.col("value").sum().alias("total"))
        .with_columns(pl.format("{} {} {}", "index", "view", "denominator").alias("label"))
    )
    out += _failing(sums, "shares sum to 1 per group", (pl.col("total") - 1).abs() > SHARE_TOLERANCE, "label")
    hhi = pl.col("index").str.starts_with("hhi")
    out += _failing(labelled, "HHI within [0, 10000]", hhi & ~pl.col("value").is_between(0, 10_000), "label")
    return out
