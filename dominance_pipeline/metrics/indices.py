"""The dominance indices: every formula the pipeline publishes, in one long table.

Shape: (month, index, view, denominator, country, value); `country` is null for indices that are not per
country. `view` is `direct` (uploader's country) or `lineage` (root base model's country, a merge's weight
split equally among its parents, recursively down to its roots); `denominator` is `all` (every model counted by the index) or `attributed` (only
models whose country is known, so it has no UNATTRIBUTED row).

Every per-country share is computed the same way, and this is the place to read it: each model
contributes an amount to its index (its 30-day downloads, 1 if it is a new original, ...; see
`contributions`), the amount goes to the model's country in each view (with the root's weight in
`lineage`), and a country's share is its amount over the group's total. A group whose total is zero has no
rows, and `IndexResult.absent` says why: a missing row, never a zero that looks like a measurement.
Concentration indices (HHI, CR-n, Gini) are in `concentration.py`. docs/data_dictionary.md gives each
formula with a worked example.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field

import polars as pl

from dominance_pipeline.metrics import concentration
from dominance_pipeline.metrics.aggregates import VIEWS, is_new, month_bounds
from dominance_pipeline.origin import lineage
from dominance_pipeline.origin.countries import UNATTRIBUTED
from dominance_pipeline.schemas import DOMINANCE_INDICES, conform
from dominance_pipeline.sources.normalise import RELATIONS

DENOMINATORS = ("all", "attributed")

NOTABLE_MIN_DOWNLOADS = 1_000  # new_notable_share: at least this many 30-day downloads
DERIVATIVE_MIN_DOWNLOADS = 5  # derivative_share: strictly more than this many 30-day downloads
VINTAGE_MONTHS = 12  # vintage_share: created at most this many months before the snapshot
ROBUST_TASK = "text-generation"
ROBUST_QUANTILE = 0.999  # robust_share caps each model's downloads at this quantile of the month
_DIRECT_ROBUST = "_robust_direct"  # robust_share's amount in the direct view (repackages count 0)

# Share family -> its index. A family also has china_us_ratio_<family> and china_us_gap_<family>
# (plain china_us_ratio / china_us_gap for downloads). Names with "share" are per-country shares summing
# to 1 per (index, view, denominator); nothing else may contain "share" (the quality rules rely on it).
FAMILIES: dict[str, str] = {
    "download": "download_share",
    "download_delta": "download_delta_share",
    "vintage": "vintage_share",
    "robust": "robust_share",
    "new_model": "new_model_share",
    "new_notable": "new_notable_share",
    "derivative": "derivative_share",
    "likes": "likes_share",
    "trending": "trending_share",
}
RELATION_INDICES = tuple(f"derivative_share_{r}" for r in RELATIONS)
LINEAGE_ONLY = ("derivative_share", *RELATION_INDICES)  # a derivative's country is its root's by definition
# The origin_tagged_models columns `compute` reads (the asset loads only these).
COLUMNS = (
    "model_id", "created_at", "created_at_hub", "snapshot_at", "downloads_30d", "downloads_all_time", "likes", "trending_score",
    "pipeline_tag", "repack_format", "base_relation", "lineage_depth", "lineage_status", "is_intermediary",
    "org_namespace", "org_country", "lineage_roots",
)  # fmt: skip


def ratio_index(family: str) -> str:
    return "china_us_ratio" if family == "download" else f"china_us_ratio_{family}"


def gap_index(family: str) -> str:
    return "china_us_gap" if family == "download" else f"china_us_gap_{family}"


@dataclass
class IndexResult:
    """The month's index rows, why any index has no rows for some group, and figures for the metadata."""

    table: pl.DataFrame
    absent: dict[str, str] = field(default_factory=dict)
    notes: dict[str, object] = field(default_factory=dict)


def _long(df: pl.DataFrame, month: dt.date, index: str | None = None) -> pl.DataFrame:
    """Rows in the table's column order; df has view, denominator, country, value (and index unless given)."""
    return df.select(
        pl.lit(month, pl.Date).alias("month"),
        pl.lit(index).alias("index") if index else pl.col("index"),
        pl.col("view"),
        pl.col("denominator"),
        pl.col("country").cast(pl.String),
        pl.col("value").cast(pl.Float64),
    )


def shares(amounts: pl.DataFrame) -> pl.DataFrame:
    """Each country's share of its (view, index) amount, under both denominators.

    `amounts` has view, index, country, amount. Groups whose total is zero produce no rows. The
    `attributed` denominator leaves UNATTRIBUTED out of both numerator and denominator.
    """
    frames = []
    for denominator in DENOMINATORS:
        base = amounts if denominator == "all" else amounts.filter(pl.col("country") != UNATTRIBUTED)
        total = pl.col("amount").sum().over("view", "index")
        frames.append(
            base.filter(total > 0).select(
                "view", "index", pl.lit(denominator).alias("denominator"), "country", (pl.col("amount") / total).alias("value")
            )
        )
    return pl.concat(frames)


def is_original() -> pl.Expr:
    """No declared base model other than itself: the model is its own lineage root.

    A member of a declared cycle with no way out is its own root too (depth 0), but it declares another
    model as its base: a derivative, not an original.
    """
    return (pl.col("lineage_depth") == 0) & (pl.col("lineage_status") != lineage.CYCLE).fill_null(True)


def is_repackage() -> pl.Expr:
    """A quantization or format conversion of someone else's model, not a model of its own.

    Declared as quantized; or a GGUF/MLX build (`repack_format`) that declares a base model; or uploaded by a registry
    intermediary (quantizers, converters). robust_share leaves these out of the direct view; the lineage
    view keeps them, credited to their root like every derivative.
    """
    return (
        (pl.col("base_relation") == "quantized").fill_null(False)
        | (pl.col("repack_format").fill_null(False) & ~is_original())
        | pl.col("is_intermediary").fill_null(False)
    )


def robust_cap(tagged: pl.DataFrame) -> float:
    """The month's 99.9th percentile of 30-day downloads over every model (linear interpolation)."""
    q = tagged.select(pl.col("downloads_30d").fill_null(0).cast(pl.Float64).quantile(ROBUST_QUANTILE, "linear")).item()
    return float(q or 0.0)


def snapshot_time(tagged: pl.DataFrame) -> pl.Expr:
    """`snapshot_at` as a literal when every row has the same one (a month's listing does), else the column.

    vintage_share offsets the snapshot time by months: once for a literal, instead of once per model
    (0.1 CPU-s at 3M models).
    """
    taken = tagged.get_column("snapshot_at")
    first = taken.min()
    if first is not None and taken.null_count() == 0 and taken.max() == first:
        return pl.lit(first, taken.dtype)
    return pl.col("snapshot_at")


def contributions(month: dt.date, cap: float, with_delta: bool, snapshot: pl.Expr = pl.col("snapshot_at")) -> dict[str, pl.Expr]:
    """What one model adds to each share index (its country's numerator and the group's denominator).

    `cap` is robust_share's per-model ceiling; `with_delta` says whether the `download_delta` column
    (downloads since the previous snapshot) exists; `snapshot` is the snapshot time (`snapshot_time`).
    """
    dl = pl.col("downloads_30d").fill_null(0).cast(pl.Float64)
    new = is_new(month)
    new_original = new & is_original()
    new_derivative = new & ~is_original() & (dl > DERIVATIVE_MIN_DOWNLOADS)
    young = (pl.col("created_at") >= snapshot.dt.offset_by(f"-{VINTAGE_MONTHS}mo")).fill_null(False)
    text_generation = (pl.col("pipeline_tag") == ROBUST_TASK).fill_null(False)

    def count(flag: pl.Expr) -> pl.Expr:
        return flag.cast(pl.Float64)

    out = {
        "download_share": dl,
        "vintage_share": pl.when(young).then(dl).otherwise(0.0),
        "robust_share": pl.when(text_generation).then(dl.clip(upper_bound=cap)).otherwise(0.0),
        "new_model_share": count(new_original),
        "new_notable_share": count(new_original & (dl >= NOTABLE_MIN_DOWNLOADS)),
        "derivative_share": count(new_derivative),
        **{f"derivative_share_{r}": count(new_derivative & (pl.col("base_relation") == r).fill_null(False)) for r in RELATIONS},
        "likes_share": pl.col("likes").fill_null(0).cast(pl.Float64),
        "trending_share": pl.col("trending_score").fill_null(0.0).clip(lower_bound=0.0),
    }
    if with_delta:
        out["download_delta_share"] = pl.col("download_delta").fill_null(0).cast(pl.Float64)
    return out


def download_delta(tagged: pl.DataFrame, previous: pl.DataFrame, since: dt.datetime) -> tuple[pl.Series, dict[str, int]]:
    """downloads_all_time(M) − downloads_all_time(M−1) per model, aligned with `tagged`'s rows.

    A model absent from the previous listing counts its whole all-time count when the Hub created it after
    `since` (when that listing was taken). One created before was missing from it (private for a while, or
    a listing that missed it): a gap, which counts nothing rather than book its whole history in one month
    (the studies' rule: never fill a gap). A negative difference (the counter was reset) counts 0; a model
    without an all-time count in either month counts nothing.
    """
    prev = previous.select("model_id", pl.col("downloads_all_time").alias("_prev"), pl.lit(True).alias("_in_prev"))
    joined = tagged.select("model_id", "downloads_all_time", "created_at_hub").join(prev, on="model_id", how="left", maintain_order="left")
    now, before, seen = pl.col("downloads_all_time"), pl.col("_prev"), pl.col("_in_prev").fill_null(False)
    fresh = (pl.col("created_at_hub") > since).fill_null(False)
    raw = pl.when(~seen & fresh).then(now).when(seen & before.is_not_null()).then(now - before)
    gap = ~seen & ~fresh
    flags = joined.select(
        raw.clip(lower_bound=0).alias("delta"),
        (raw < 0).fill_null(False).alias("reset"),
        (~seen & fresh & now.is_not_null()).alias("new"),
        gap.alias("gap"),
        (raw.is_null() & ~gap).alias("unknown"),
    )
    stats = {
        "counter_resets": int(flags.get_column("reset").sum()),
        "new_in_listing": int(flags.get_column("new").sum()),
        "gaps": int(flags.get_column("gap").sum()),
        "without_all_time_count": int(flags.get_column("unknown").sum()),
    }
    return flags.get_column("delta").alias("download_delta"), stats


def country_amounts(tagged: pl.DataFrame, amounts: dict[str, pl.Expr]) -> pl.DataFrame:
    """Σ weight × amount per (view, index, country): columns view, country, index, amount.

    In `direct` a model's whole amount goes to its uploader's country; in `lineage` each of its roots
    takes the amount times the root's weight. Almost every model has a single root of weight 1, so the
    models are grouped once by (uploader's country, root's country) and both views are summed from those
    few groups; only the others (merges and what derives from them) are taken root by root, from `tagged`
    again rather than from a frame shared with the grouping (polars would keep that frame, roots included,
    whole in memory). Exploding every model's roots instead carries each amount column through twice the
    rows: a third slower at 3M models. robust_share leaves repackages out of the direct view only (see
    `is_repackage`).
    """
    cols = list(amounts)
    per_model = [e.alias(c) for c, e in amounts.items()]
    roots = pl.col("lineage_roots")
    first = roots.list.first().struct
    whole = (roots.list.len() == 1) & (first.field("weight") == 1.0)
    robust = "robust_share" in cols
    direct_robust = [pl.when(is_repackage()).then(0.0).otherwise(amounts["robust_share"]).alias(_DIRECT_ROBUST)] if robust else []
    groups = (
        tagged.lazy()
        .select(
            pl.col("org_country").alias("direct"),
            pl.when(whole).then(first.field("country")).alias("lineage"),
            whole.alias("_whole"),
            *per_model,
            *direct_robust,
        )
        .group_by("direct", "lineage", "_whole")
        .agg(pl.sum(*cols), *[pl.col(_DIRECT_ROBUST).sum()] if robust else [])
    )
    root = roots.struct
    split = (
        tagged.lazy()
        .filter(~whole)
        .select("lineage_roots", *per_model)
        .explode("lineage_roots")
        .group_by(root.field("country").alias("lineage"))
        .agg((pl.col(c) * root.field("weight")).sum() for c in cols)
    )
    groups, split = pl.collect_all([groups, split])
    direct = groups.group_by("direct").agg(pl.col(_DIRECT_ROBUST if robust and c == "robust_share" else c).sum().alias(c) for c in cols)
    lineage = pl.concat([groups.filter("_whole").select("lineage", *cols), split]).group_by("lineage").agg(pl.col(c).sum() for c in cols)
    sums = pl.concat(
        [
            direct.select(pl.lit("direct").alias("view"), pl.col("direct").alias("country"), *cols),
            lineage.select(pl.lit("lineage").alias("view"), pl.col("lineage").alias("country"), *cols),
        ]
    )
    return sums.unpivot(on=cols, index=["view", "country"], variable_name="index", value_name="amount").filter(
        ~(pl.col("index").is_in(LINEAGE_ONLY) & (pl.col("view") == "direct"))
    )


EMPTY_REASONS: dict[str, str] = {
    "download_share": "no 30-day downloads in the listing",
    "download_delta_share": "no downloads between the two snapshots",
    "vintage_share": f"no downloads of models created in the {VINTAGE_MONTHS} months before the snapshot",
    "robust_share": f"no downloads of {ROBUST_TASK} models",
    "new_model_share": "no original model (without a base model) was created in {month}",
    "new_notable_share": f"no original model created in {{month}} has {NOTABLE_MIN_DOWNLOADS:,} or more 30-day downloads",
    "derivative_share": f"no model created in {{month}} declares a base model and has more than {DERIVATIVE_MIN_DOWNLOADS} downloads",
    "likes_share": "no likes in the listing",
    "trending_share": "no positive trending score in the listing",
    **{
        f"derivative_share_{r}": f"no {r} derivative created in {{month}} has more than {DERIVATIVE_MIN_DOWNLOADS} downloads"
        for r in RELATIONS
    },
}


def absent_groups(indices: Iterable[str], share_rows: pl.DataFrame, month: dt.date) -> dict[str, str]:
    """For each share index in `indices` missing some (view, denominator) group, why; groups named unless all
    are missing."""
    expected = {
        (i, v, d) for i in indices for v in VIEWS if not (v == "direct" and i in LINEAGE_ONLY) for d in DENOMINATORS
    }
    present = set(share_rows.select("index", "view", "denominator").unique().iter_rows())
    by_index: dict[str, dict[str, list[str]]] = {}
    for index, view, den in sorted(expected - present):
        if (index, view, "all") in present:
            why = "every counted model is UNATTRIBUTED"
        elif index == "robust_share" and view == "direct" and (index, "lineage", "all") in present:
            why = f"every {ROBUST_TASK} download in the listing is a repackage's, which the direct view leaves out"
        else:
            why = EMPTY_REASONS[index].format(month=f"{month:%Y-%m}")
        by_index.setdefault(index, {}).setdefault(why, []).append(f"{view}/{den}")
    out = {}
    for index, reasons in by_index.items():
        every = not any(i == index for i, _, _ in present)
        out[index] = "; ".join(why if every else f"{why} ({', '.join(groups)})" for why, groups in reasons.items())
    return out


def china_us(share_rows: pl.DataFrame, month: dt.date) -> pl.DataFrame:
    """china_us_ratio = share(CN) / share(US) and china_us_gap = share(CN) − share(US), per family, view and denominator.

    `share_rows` are share-index rows; only the families' main indices (FAMILIES) get a ratio and a gap.
    A group without a US share has no ratio row (the ratio is undefined) but still has a gap.
    """
    keys = ["index", "view", "denominator"]
    rows = share_rows.filter(pl.col("index").is_in(list(FAMILIES.values())))

    def one(country: str) -> pl.DataFrame:
        return rows.filter(pl.col("country") == country).select(*keys, pl.col("value").alias(country))

    wide = (
        rows.select(keys).unique()
        .join(one("CN"), on=keys, how="left")
        .join(one("US"), on=keys, how="left")
        .with_columns(pl.col("CN").fill_null(0.0), pl.col("US").fill_null(0.0))
    )
    family = {index: f for f, index in FAMILIES.items()}
    ratio_names = {index: ratio_index(f) for index, f in family.items()}
    gap_names = {index: gap_index(f) for index, f in family.items()}
    none = pl.lit(None, pl.String).alias("country")
    ratio = wide.filter(pl.col("US") > 0).select(
        pl.col("index").replace_strict(ratio_names), "view", "denominator", none, (pl.col("CN") / pl.col("US")).alias("value")
    )
    gap = wide.select(pl.col("index").replace_strict(gap_names), "view", "denominator", none, (pl.col("CN") - pl.col("US")).alias("value"))
    return _long(pl.concat([ratio, gap]), month)


def compute(
    tagged: pl.DataFrame,
    month: dt.date,
    previous: pl.DataFrame | None = None,
    no_previous_reason: str = "no previous month's listing",
) -> IndexResult:
    """The dominance_indices partition for `month` from its origin-tagged models.

    `previous` is the previous month's listing (model_id, downloads_all_time, snapshot_at) for
    download_delta_share; without it that index is absent, for `no_previous_reason`. Without its
    snapshot_at, a model missing from it is new if the Hub created it this month (see `download_delta`).
    """
    notes: dict[str, object] = {}
    absent: dict[str, str] = {}
    if previous is None:
        absent["download_delta_share"] = no_previous_reason
    elif tagged.get_column("downloads_all_time").is_null().all():
        absent["download_delta_share"] = "the listing has no all-time download counts"
    elif previous.get_column("downloads_all_time").is_null().all():
        # Every model in both listings would count nothing and every new one its whole count.
        absent["download_delta_share"] = "the previous month's listing has no all-time download counts"
    else:
        taken = previous.get_column("snapshot_at").max() if "snapshot_at" in previous.columns else None
        since = taken if isinstance(taken, dt.datetime) else month_bounds(month)[0]
        delta, notes["download_delta"] = download_delta(tagged, previous, since)
        tagged = tagged.with_columns(delta)
    with_delta = "download_delta" in tagged.columns
    cap = robust_cap(tagged)
    notes["robust_cap_downloads_30d"] = cap

    amounts_of = contributions(month, cap, with_delta, snapshot_time(tagged))
    amounts = country_amounts(tagged, amounts_of)
    share_rows = shares(amounts)
    absent |= absent_groups(amounts_of, share_rows, month)
    if tagged.is_empty():
        absent = dict.fromkeys(absent, "the listing has no models")
    share_table = _long(share_rows, month)

    frames = [
        share_table,
        china_us(share_table, month),
        concentration.indices(tagged, share_table.filter(pl.col("index") == "download_share"), month),
    ]
    out = pl.concat(frames).sort("index", "view", "denominator", "country", nulls_last=True)
    return IndexResult(conform(out, DOMINANCE_INDICES), absent, notes)
