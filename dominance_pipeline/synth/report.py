"""Calibration report: the same statistics of the real sample and of a synthetic snapshot, side by side.

Both columns are computed by one function from the hub-stats files themselves (not from the generator's
parameters), next to the whole-Hub figure each parameter was fitted to, so a reader can see what matches
the Hub, what matches the sample, and where the two differ because the sample is selected.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from dominance_pipeline.origin.registry import Registry, configured_path, load_registry
from dominance_pipeline.sources.normalise import PLACEHOLDER_CREATED_AT
from dominance_pipeline.synth.orgs import SAMPLE_MONTH_END

RELATIONS = ("adapter", "finetune", "quantized", "merge")
# Whole-Hub figures (see the package docstring for sources); None = no public figure.
HUB_TARGETS: dict[str, str] = {
    "top 1% share of 30-day downloads": "≈ 99 %",
    "top 0.01% share of 30-day downloads": "≈ 50 %",
    "share < 200 all-time downloads": "≈ 50 %",
    "mean 30-day downloads per model": "≈ 1,000",
    "lineage share (declares a base)": "28 %",
    "relation: adapter": "42.6 %",
    "relation: finetune": "35.9 %",
    "relation: quantized": "19.2 %",
    "relation: merge": "2.3 %",
    "direct share CN": "17.1 % *",
    "direct share US": "15.8 % *",
    "new models this month": "≈ 5-6 %",
}


def _share_of_top(values: np.ndarray, fraction: float) -> float:
    total = values.sum()
    if not total:
        return float("nan")
    k = max(1, int(round(values.shape[0] * fraction)))
    return float(np.partition(values, values.shape[0] - k)[-k:].sum() / total)


def _first_parent_walk(ids: pl.Series, first_parent: pl.Series) -> tuple[np.ndarray, np.ndarray]:
    """Hops to, and index of, the root along first parents present in the file (pointer jumping; cycles stop
    at the round cap). An approximation of the lineage walk, independent of origin.lineage."""
    index = pl.DataFrame({"id": ids, "i": np.arange(ids.len())})
    parent = (
        pl.DataFrame({"p": first_parent})
        .join(index, left_on="p", right_on="id", how="left", maintain_order="left")
        .get_column("i")
        .to_numpy()
    )
    n = ids.len()
    own = np.arange(n)
    nxt = np.where(np.isnan(parent.astype(np.float64)), own, np.nan_to_num(parent, nan=0)).astype(np.int64)
    nxt = np.where(nxt == own, own, nxt)
    depth = (nxt != own).astype(np.int64)
    for _ in range(8):
        depth = np.minimum(depth + depth[nxt], 1000)
        nxt = nxt[nxt]
    return depth, nxt


def describe(path: Path, registry: Registry | None = None) -> dict[str, float | str]:
    """The calibration statistics of one hub-stats-shaped snapshot file."""
    reg = registry or load_registry(configured_path())
    lf = pl.scan_parquet(path, glob=False)
    df = lf.select(
        "id",
        "createdAt",
        pl.col("downloads").fill_null(0),
        pl.col("downloadsAllTime").fill_null(0),
        pl.col("likes").fill_null(0),
        pl.col("trendingScore").fill_null(0),
        pl.col("tags").list.len().alias("n_tags"),
        pl.col("cardData").str.len_bytes().alias("card_bytes"),
        pl.col("baseModels").struct.field("relation").alias("relation"),
        pl.col("baseModels").struct.field("models").list.len().alias("n_parents"),
        pl.col("baseModels").struct.field("models").list.first().struct.field("id").alias("first_parent"),
        "pipeline_tag",
        "library_name",
    ).collect()
    n = df.height
    d30 = df.get_column("downloads").to_numpy()
    at = df.get_column("downloadsAllTime").to_numpy()
    out: dict[str, float | str] = {"models": n}
    for q in (0.25, 0.5, 0.75, 0.9, 0.99, 0.999):
        out[f"30-day downloads p{q * 100:g}"] = float(np.quantile(d30, q))
    out["30-day downloads max"] = float(d30.max())
    out["mean 30-day downloads per model"] = float(d30.mean())
    out["share with 0 30-day downloads"] = float((d30 == 0).mean())
    out["top 1% share of 30-day downloads"] = _share_of_top(d30, 0.01)
    out["top 0.01% share of 30-day downloads"] = _share_of_top(d30, 0.0001)
    out["all-time downloads p50"] = float(np.median(at))
    out["share < 200 all-time downloads"] = float((at < 200).mean())
    out["median all-time / 30-day"] = float(np.median(at / np.maximum(d30, 1)))
    out["share with 0 likes"] = float((df.get_column("likes") == 0).mean())
    out["share with trendingScore 0"] = float((df.get_column("trendingScore") == 0).mean())

    derived = df.filter(pl.col("relation").is_not_null())
    out["lineage share (declares a base)"] = derived.height / n if n else float("nan")
    for rel in RELATIONS:
        out[f"relation: {rel}"] = (derived.get_column("relation") == rel).mean() if derived.height else float("nan")
    out["parents: 2+ (of derived)"] = (derived.get_column("n_parents") >= 2).mean() if derived.height else float("nan")
    depth_all, root = _first_parent_walk(df.get_column("id"), df.get_column("first_parent"))
    depth = depth_all[df.get_column("relation").is_not_null().to_numpy()]
    in_file = depth > 0
    out["parent in file (of derived)"] = float(in_file.mean()) if depth.shape[0] else float("nan")
    for k, label in ((1, "1"), (2, "2"), (3, "3+")):
        hit = depth >= k if label.endswith("+") else depth == k
        out[f"depth {label} (of derived, parent in file)"] = float(hit[in_file].mean()) if in_file.any() else float("nan")

    created = df.get_column("createdAt")
    out["placeholder createdAt share"] = float((created == PLACEHOLDER_CREATED_AT.replace(tzinfo=None)).mean())
    # The snapshot's month, from its newest date (the newest creation can be a month earlier: none in May).
    from dominance_pipeline.sources.local import infer_snapshot_at

    month = f"{infer_snapshot_at(path):%Y-%m}"
    out["new models this month"] = float((created.dt.strftime("%Y-%m") == month).mean())
    out["tags per model p50"] = float(df.get_column("n_tags").median() or 0)
    out["cardData null share"] = float(df.get_column("card_bytes").is_null().mean())
    out["cardData bytes mean"] = float(df.get_column("card_bytes").mean() or 0)
    out["cardData bytes p50"] = float(df.get_column("card_bytes").median() or 0)
    out["cardData bytes p90"] = float(df.get_column("card_bytes").quantile(0.9) or 0)
    for col in ("pipeline_tag", "library_name"):
        top = df.get_column(col).fill_null("(none)").value_counts(sort=True).head(3)
        out[f"top {col}"] = ", ".join(f"{v} {c / n:.0%}" for v, c in top.iter_rows())

    by_ns = (
        df.select(pl.col("id").str.split("/").list.first().alias("ns"), pl.col("downloads").cast(pl.Float64))
        .with_columns(pl.col("ns").str.to_lowercase().alias("ns_key"))
        .join(reg.lookup_at(SAMPLE_MONTH_END).select("ns_key", "country"), on="ns_key", how="left")
        .with_columns(pl.col("country").fill_null("UNATTRIBUTED"))
    )
    total = by_ns.get_column("downloads").sum() or 1.0
    shares = dict(by_ns.group_by("country").agg(pl.col("downloads").sum() / total).iter_rows())
    for c in ("CN", "US", "UNATTRIBUTED"):
        out[f"direct share {c}"] = float(shares.get(c, 0.0))
    root_country = by_ns.get_column("country").gather(root)
    lineage = by_ns.with_columns(root_country.alias("country")).group_by("country").agg(pl.col("downloads").sum() / total)
    lin = dict(lineage.iter_rows())
    for c in ("CN", "US"):
        out[f"first-parent root share {c}"] = float(lin.get(c, 0.0))
    top_ns = by_ns.group_by("ns").agg(pl.col("downloads").sum() / total).sort("downloads", descending=True).head(5)
    out["top 5 namespaces"] = ", ".join(f"{ns} {s:.1%}" for ns, s in top_ns.iter_rows())
    return out


def _fmt(key: str, value: float | str | None) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if np.isnan(value):
        return "–"
    if "share" in key or key.startswith(("relation", "depth", "parent", "top 1", "top 0", "new models", "lineage")):
        return f"{value:.1%}"
    return f"{value:,.0f}" if abs(value) >= 10 or value == int(value) else f"{value:.2f}"


def comparison(sample: Path, synthetic: Path) -> pl.DataFrame:
    """statistic | real sample | synthetic | whole-Hub target."""
    reg = load_registry(configured_path())
    a, b = describe(sample, reg), describe(synthetic, reg)
    return pl.DataFrame(
        {
            "statistic": list(a),
            "real sample": [_fmt(k, a[k]) for k in a],
            "synthetic": [_fmt(k, b.get(k)) for k in a],
            "Hub target": [HUB_TARGETS.get(k, "") for k in a],
        }
    )


def print_comparison(sample: Path, synthetic: Path) -> None:
    table = comparison(sample, synthetic)
    with pl.Config(tbl_rows=-1, tbl_hide_dataframe_shape=True, tbl_hide_column_data_types=True, fmt_str_lengths=80, tbl_width_chars=200):
        print(f"Calibration: real sample {sample.name} vs synthetic {synthetic}")
        print(table)
    print(
        "* direct shares: the Economies of Open Intelligence headline (broader attribution than this registry);"
        " the sample is a selection of mostly registry-tracked LLMs, so its body quantiles and lineage share are not the Hub's."
    )
