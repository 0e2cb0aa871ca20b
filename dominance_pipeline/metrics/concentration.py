"""Concentration of 30-day downloads: how few organisations (or countries) the Hub's use rests on.

All on download shares, per view: an organisation is the uploader's namespace (`direct`) or the root
model's namespace (`lineage`, a merge's downloads split among its roots by weight). These indices are not
per country (`country` is null) and are computed on the `all` denominator, except hhi_country which
follows download_share's two denominators.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

TOP_N = (5, 10)  # cr5_org, cr10_org


def org_downloads(tagged: pl.DataFrame) -> pl.DataFrame:
    """30-day downloads per (view, namespace): columns view, namespace, downloads_30d.

    Each view is grouped on its own by namespace alone (grouping both views on (view, namespace) hashes a
    composite key over twice the rows: a quarter slower at 3M models), both collected together. The
    namespace's country is not carried: taking any value of a string column per group costs as much as the
    grouping itself (0.3 CPU-s per view at 3M models); `namespace_countries` finds it for the few names a
    caller shows.
    """
    dl = pl.col("downloads_30d").fill_null(0).cast(pl.Float64)
    direct = tagged.lazy().select(pl.col("org_namespace").alias("namespace"), dl)
    root = pl.col("lineage_roots").struct
    lineage = (
        tagged.lazy()
        .select("downloads_30d", "lineage_roots")
        .explode("lineage_roots")
        .select(root.field("namespace").alias("namespace"), dl * root.field("weight"))
    )
    per_view = [
        lf.group_by("namespace").agg(pl.col("downloads_30d").sum()).select(pl.lit(view).alias("view"), pl.all())
        for view, lf in (("direct", direct), ("lineage", lineage))
    ]
    return pl.concat(pl.collect_all(per_view))


def namespace_countries(tagged: pl.DataFrame, names: pl.Series) -> pl.DataFrame:
    """The country of each namespace in `names`, per view: columns view, namespace, country.

    A namespace's country is a function of the namespace (the registry on one day): the uploader's
    (`direct`) or a root's (`lineage`), so the first row naming it will do. A namespace a view does not
    have gets no row there.
    """
    wanted = names.implode()
    root = pl.col("lineage_roots").struct
    direct = tagged.lazy().select(pl.col("org_namespace").alias("namespace"), pl.col("org_country").alias("country"))
    lineage = tagged.lazy().select(pl.col("lineage_roots").explode()).select(root.field("namespace"), root.field("country"))
    per_view = [
        lf.filter(pl.col("namespace").is_in(wanted, nulls_equal=True)).unique("namespace", keep="first", maintain_order=True).select(pl.lit(view).alias("view"), "namespace", "country")
        for view, lf in (("direct", direct), ("lineage", lineage))
    ]
    return pl.concat(pl.collect_all(per_view))


def org_indices(orgs: pl.DataFrame) -> pl.DataFrame:
    """hhi_org, effective_orgs, cr5_org, cr10_org and gini_org per view (columns view, index, value).

    s_o = a namespace's share of the view's downloads. hhi_org = 10,000 · Σ s_o²; effective_orgs =
    10,000 / hhi_org (the number of equal-sized organisations with the same HHI); crN_org = Σ of the N
    largest s_o; gini_org = Gini coefficient of the namespaces' downloads, every namespace present in the
    view counting (those with zero downloads too). A view with no downloads has no rows.
    """
    x = pl.col("downloads_30d")
    s = x / x.sum()
    ascending = x.sort()
    n = pl.len().cast(pl.Float64)
    rank = pl.int_range(1, pl.len() + 1).cast(pl.Float64)
    hhi = 10_000 * (s**2).sum()
    wide = (
        orgs.filter(x.sum().over("view") > 0)
        .group_by("view")
        .agg(
            hhi.alias("hhi_org"),
            (10_000 / hhi).alias("effective_orgs"),
            # The k largest by selection, summed largest first as after a descending sort (org_indices at 3M
            # models: 0.107 s, against 0.134 s with a full sort).
            *[s.top_k(k).sort(descending=True).sum().alias(f"cr{k}_org") for k in TOP_N],
            (2 * (rank * ascending).sum() / (n * x.sum()) - (n + 1) / n).alias("gini_org"),
        )
    )
    return wide.unpivot(index="view", variable_name="index", value_name="value")


def hhi_country(download_share: pl.DataFrame) -> pl.DataFrame:
    """hhi_country = 10,000 · Σ_c download_share(c)², per view and denominator (columns view, denominator, value).

    Under `all`, UNATTRIBUTED counts as one bucket, as it does in download_share.
    """
    return download_share.group_by("view", "denominator").agg((10_000 * (pl.col("value") ** 2).sum()).alias("value"))


def indices(tagged: pl.DataFrame, download_share: pl.DataFrame, month: dt.date) -> pl.DataFrame:
    """Every concentration index of the month, in dominance_indices' columns."""
    orgs = org_indices(org_downloads(tagged)).with_columns(pl.lit("all").alias("denominator"))
    countries = hhi_country(download_share).with_columns(pl.lit("hhi_country").alias("index"))
    cols = ["index", "view", "denominator", "value"]
    return pl.concat([orgs.select(cols), countries.select(cols)]).select(
        pl.lit(month, pl.Date).alias("month"),
        "index",
        "view",
        "denominator",
        pl.lit(None, pl.String).alias("country"),
        pl.col("value").cast(pl.Float64),
    )
