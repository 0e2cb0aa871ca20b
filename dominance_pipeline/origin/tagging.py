"""Origin tagging: each model gets two countries, the uploader's (`direct`) and its root base model's (`lineage`).

The two views answer different questions. `direct` asks who publishes what the Hub downloads; `lineage`
asks whose base models it runs on, so that a bartowski quantization of Qwen counts for China. Countries
come only from the reviewed registry, as it stood on the last day of the month; a namespace it does not
know is UNATTRIBUTED (never inferred from tags such as `region:us`, which is a storage region).
"""

from __future__ import annotations

import datetime as dt
from concurrent.futures import ThreadPoolExecutor

import polars as pl

from dominance_pipeline.origin import lineage
from dominance_pipeline.origin.countries import UNATTRIBUTED
from dominance_pipeline.origin.registry import Registry, attribute, month_end
from dominance_pipeline.origin.release_dates import apply_corrections, load_corrections
from dominance_pipeline.schemas import ORIGIN_TAGGED_MODELS, RAW_HUB_LISTINGS, conform

# The raw columns `tag` reads: those origin_tagged_models carries over (the asset loads only these; the tags
# stay in raw_hub_listings, a third of the tagged table's size and of its writing cost at Hub scale).
RAW_COLUMNS = tuple(c for c in ORIGIN_TAGGED_MODELS.names if c in RAW_HUB_LISTINGS.columns)


def attribution_day(raw: pl.DataFrame) -> dt.date:
    """The day the registry is read on: the last day of the listing's month (one month per listing)."""
    month = raw.get_column("month")
    first, last = month.min(), month.max()  # a tenth of the time of unique() on millions of rows
    if first != last:
        months = month.unique().drop_nulls()
        raise ValueError(f"tag() takes one month's listing at a time, got {months.len()} months: {sorted(months.to_list())[:3]} ...")
    return month_end(first) if first is not None else dt.date.today()  # type: ignore[arg-type]


def namespace(model_id: pl.Expr) -> pl.Expr:
    """The namespace part of each model id (the whole id for a legacy id without one, such as `gpt2`)."""
    return model_id.str.split_exact("/", 1).struct.field("field_0")


def namespace_of(model_ids: pl.Series) -> pl.Series:
    """`namespace` of a Series of model ids."""
    return model_ids.to_frame().select(namespace(pl.col(model_ids.name))).to_series()


def tag(
    raw: pl.DataFrame,
    registry: Registry,
    max_depth: int = lineage.MAX_DEPTH,
    corrections: pl.DataFrame | None = None,
) -> tuple[pl.DataFrame, dict[str, object]]:
    """Tag every raw row with both views; return the tagged frame and what tagging met (for metadata).

    `corrections` are the release-date corrections (default: the reviewed file shipped in the package).
    Only models that declare parents go through the lineage joins; an original is its own root, so its
    lineage view is its direct view.
    """
    day = attribution_day(raw)
    lookup = registry.lookup_at(day)
    redirects = lookup.filter(pl.col("ns_key") != pl.col("namespace").str.to_lowercase()).select("ns_key", "namespace")
    ids = raw.get_column("model_id").rechunk()
    models = pl.DataFrame([ids, raw.get_column("base_model_ids")])
    # The uploaders' attribution and the release dates do not depend on the lineage walk, and run mostly on
    # one core while the walk's joins leave the other idle part of the time: they run beside it.
    with ThreadPoolExecutor(1, thread_name_prefix="tag") as pool:
        attributed = pool.submit(attribute, raw.get_column("author"), lookup)
        corrected = pool.submit(apply_corrections, raw, load_corrections() if corrections is None else corrections)
        resolved = lineage.resolve(models, max_depth=max_depth, redirects=redirects)
        org, (dated, release_notes) = attributed.result(), corrected.result()
    roots, origins = _root_origins(resolved.derived, lookup)
    several, per_model = _per_model(roots, origins)
    # Every model starts as an original (its own root: its lineage view is its direct view); a derived one
    # reads its root's instead. Each column is one gather by position (not a join on millions of ids):
    # root_model_id from the node ids, the root's namespace, country and bloc from the uploaders'
    # attribution followed by the roots'.
    n = raw.height
    rows = per_model.get_column("row")
    root = pl.int_range(n, dtype=pl.UInt32, eager=True).scatter(rows, per_model.get_column("root"))
    origin = pl.int_range(n, dtype=pl.UInt32, eager=True).scatter(rows, per_model.get_column("origin") + n)
    read = pl.concat([org.select("namespace", "country", "bloc"), origins], rechunk=True).gather(origin)
    lin = pl.DataFrame(
        {
            "root_model_id": resolved.node_ids.gather(root),
            "root_namespace": read.get_column("namespace"),
            "root_country": read.get_column("country"),
            "root_bloc": read.get_column("bloc"),
            "lineage_depth": pl.zeros(n, pl.Int32, eager=True).scatter(rows, per_model.get_column("lineage_depth")),
            "lineage_status": pl.repeat(lineage.ORIGINAL, n, eager=True)
            .scatter(resolved.self_reference_rows, lineage.SELF_REFERENCE)
            .scatter(rows, per_model.get_column("lineage_status")),
        }
    )
    # A row's roots are its one root with weight 1, unless it has several: those lists go after the
    # single ones and every row gathers its own (half the cost of a when/then over two gathered lists).
    single = lin.select(
        pl.concat_list(pl.struct(root_id="root_model_id", namespace="root_namespace", country="root_country", weight=pl.lit(1.0)))
    ).to_series()
    at = pl.int_range(n, dtype=pl.UInt32, eager=True).scatter(
        several.get_column("row"), pl.int_range(n, n + several.height, dtype=pl.UInt32, eager=True)
    )
    # One chunk: polars gathers from a list column in several chunks ten times slower.
    lin = lin.with_columns(pl.concat([single, several.get_column("lineage_roots")], rechunk=True).gather(at).alias("lineage_roots"))
    columns = {
        **{c: dated.get_column(c) for c in dated.columns},
        "org_namespace": org.get_column("namespace"),
        "org_country": org.get_column("country"),
        "org_bloc": org.get_column("bloc"),
        "is_intermediary": org.get_column("is_intermediary"),
        **{c: lin.get_column(c) for c in lin.columns},
    }
    tagged = pl.DataFrame([columns[c].alias(c) for c in ORIGIN_TAGGED_MODELS.names])
    stats: dict[str, object] = {
        "attributed_on": day.isoformat(),
        "registry_namespaces": registry.namespaces,
        "lineage": resolved.stats,
        "release_dates": release_notes,
    }
    return conform(tagged, ORIGIN_TAGGED_MODELS), stats


def _root_origins(derived: pl.DataFrame, lookup: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """`derived` with `origin`, the place of its root in the returned table of root origins (namespace, country, bloc).

    A root is shared by many derivatives (a few hundred thousand roots for a million rows at Hub scale), so
    each is attributed once and read back by position.
    """
    root = derived.get_column("root")
    first = derived.select("root", "root_id").filter(pl.col("root").is_first_distinct())
    origins = attribute(namespace_of(first.get_column("root_id")), lookup).select("namespace", "country", "bloc")
    # Node number -> place in `first`: an array as long as the highest root number, read by position.
    place = pl.zeros(int(root.max() or 0) + 1, pl.UInt32, eager=True).scatter(first.get_column("root"), pl.int_range(first.height, dtype=pl.UInt32, eager=True))
    return derived.with_columns(place.gather(root).alias("origin")), origins


def _per_model(roots: pl.DataFrame, origins: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The models with several roots (row, lineage_roots), and every derived model's row, heaviest root
    (node number, and place among `origins`; ties broken by root id), depth and status.

    Most derived models have a single root and are mapped row by row; only the few with several (merges
    and their descendants) are grouped and carry their list of roots here: for every other model the
    list is its one root with weight 1, built once for the whole listing.
    """
    columns = ("row", "root", "origin", "lineage_depth", "lineage_status")
    single = roots.filter("single_root").select("row", "root", "origin", pl.col("depth").alias("lineage_depth"), "lineage_status")
    multi = roots.filter(~pl.col("single_root"))
    multi = (
        multi.hstack(origins.select("namespace", "country").gather(multi.get_column("origin")))
        # Weights equal but for rounding (0.1 summed ten times is 0.9999999999999999) are a tie: root id decides.
        .sort(pl.col("row"), pl.col("weight").round(12), pl.col("root_id"), descending=[False, True, False])
        .group_by("row", maintain_order=True)
        .agg(
            pl.col("root").first(),
            pl.col("origin").first(),
            pl.col("depth").max().alias("lineage_depth"),
            pl.col("lineage_status").first(),
            pl.struct("root_id", "namespace", "country", "weight").alias("lineage_roots"),
        )
    )
    return multi.select("row", "lineage_roots"), pl.concat([single, multi.select(columns)])


def coverage(tagged: pl.DataFrame) -> dict[str, float]:
    """Share of 30-day downloads attributed to a country (anything but UNATTRIBUTED), per view."""
    total = tagged.get_column("downloads_30d").sum() or 0
    if not total:
        return {"direct": float("nan"), "lineage": float("nan")}
    direct = tagged.select(pl.col("downloads_30d").filter(pl.col("org_country") != UNATTRIBUTED).sum()).item()
    root = pl.col("lineage_roots").struct
    # Lazy, so that only the two fields read are taken out of the roots (eagerly: 0.7 s at 3M models, here 0.01).
    lin = (
        tagged.lazy()
        .select("downloads_30d", "lineage_roots")
        .explode("lineage_roots")
        .select((pl.col("downloads_30d") * root.field("weight")).filter(root.field("country") != UNATTRIBUTED).sum())
        .collect()
        .item()
    )
    return {"direct": direct / total, "lineage": (lin or 0.0) / total}


def intermediary_share(tagged: pl.DataFrame) -> float:
    """Share of 30-day downloads that go to repackagers (quantizers, converters), by the registry's flag."""
    total = tagged.get_column("downloads_30d").sum() or 0
    if not total:
        return float("nan")
    return float(tagged.select(pl.col("downloads_30d").filter("is_intermediary").sum()).item() or 0) / total
