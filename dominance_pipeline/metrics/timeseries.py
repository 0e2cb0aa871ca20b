"""The indices over time: the crossover month and the latest month's summary.

The crossover of a share family (download, derivative, new_model, ...) in a view is the first month t such
that China leads the US in t and in the two calendar months after it: china_us_ratio(t) ≥ 1 three months
in a row (CROSSOVER_RUN). China leads when CN's share ≥ US's share and the US share is positive, or when
the US share is 0 and CN's is positive (the ratio is then undefined, the gap positive). A month missing
from the series breaks a run: gaps are never interpolated. The ratio does not depend on the denominator
(both shares have the same one), so crossovers are per family and view, on the `all` denominator.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from dominance_pipeline.metrics.indices import FAMILIES, gap_index, ratio_index
from dominance_pipeline.schemas import DOMINANCE_CROSSOVER, conform

CROSSOVER_RUN = 3


def next_month(month: dt.date) -> dt.date:
    return dt.date(month.year + month.month // 12, month.month % 12 + 1, 1)


def missing_months(months: list[dt.date]) -> list[dt.date]:
    """Calendar months between the first and the last of `months` that are not in it."""
    if not months:
        return []
    have, out, m = set(months), [], min(months)
    while m < max(months):
        if m not in have:
            out.append(m)
        m = next_month(m)
    return out


def first_run_start(months: list[dt.date], leads: list[bool], run: int = CROSSOVER_RUN) -> dt.date | None:
    """The first month that starts `run` consecutive calendar months all led by China (months sorted)."""
    streak_start, streak = None, 0
    previous = None
    for month, lead in zip(months, leads, strict=True):
        consecutive = previous is not None and month == next_month(previous)
        if lead:
            streak = streak + 1 if consecutive and streak else 1
            streak_start = streak_start if streak > 1 else month
            if streak >= run:
                return streak_start
        else:
            streak = 0
        previous = month
    return None


def china_leads(ts: pl.DataFrame) -> pl.DataFrame:
    """Per (family, view, month) on the `all` denominator: ratio (null when undefined), gap and whether China leads."""
    frames = []
    keys = ["view", "month"]
    for family in FAMILIES:
        rows = ts.filter(pl.col("denominator") == "all")
        gap = rows.filter(pl.col("index") == gap_index(family)).select(*keys, pl.col("value").alias("gap"))
        ratio = rows.filter(pl.col("index") == ratio_index(family)).select(*keys, pl.col("value").alias("ratio"))
        frames.append(gap.join(ratio, on=keys, how="left").with_columns(pl.lit(family).alias("family")))
    out = pl.concat(frames)
    leads = pl.when(pl.col("ratio").is_not_null()).then(pl.col("ratio") >= 1).otherwise(pl.col("gap") > 0)
    return out.with_columns(leads.alias("leads")).sort("family", "view", "month")


def crossover(ts: pl.DataFrame) -> pl.DataFrame:
    """One row per (family, view) observed in the series: months observed, latest ratio, crossover month (or null)."""
    rows = []
    for (family, view), grp in china_leads(ts).group_by("family", "view", maintain_order=True):
        months = grp.get_column("month").to_list()
        rows.append(
            {
                "family": family,
                "view": view,
                "months_observed": len(months),
                "first_month": months[0],
                "last_month": months[-1],
                "latest_ratio": grp.get_column("ratio")[-1],
                "crossover_month": first_run_start(months, grp.get_column("leads").to_list()),
            }
        )
    return conform(pl.DataFrame(rows, schema=DOMINANCE_CROSSOVER.columns), DOMINANCE_CROSSOVER)


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.2%}"


def latest_markdown(ts: pl.DataFrame) -> str:
    """The latest month's CN and US shares per family and view (`all` denominator), with the CN/US ratio."""
    latest = ts.get_column("month").max()
    rows = ts.filter((pl.col("month") == latest) & (pl.col("denominator") == "all"))
    value = {(i, v, c): x for i, v, c, x in rows.select("index", "view", "country", "value").iter_rows()}
    lines = [
        f"**{latest:%Y-%m}**, denominator `all`",
        "",
        "| family | view | CN | US | CN/US |",
        "|---|---|---|---|---|",
    ]
    for family, index in FAMILIES.items():
        for view in ("direct", "lineage"):
            if (index, view, "CN") not in value and (index, view, "US") not in value:
                continue
            ratio = value.get((ratio_index(family), view, None))
            lines.append(
                f"| {family} | {view} | {_pct(value.get((index, view, 'CN')))} | {_pct(value.get((index, view, 'US')))} | "
                f"{'–' if ratio is None else f'{ratio:.3f}'} |"
            )
    return "\n".join(lines)


def crossover_markdown(cross: pl.DataFrame) -> str:
    lines = ["| family | view | months | crossover |", "|---|---|---|---|"]
    for r in cross.iter_rows(named=True):
        when = f"{r['crossover_month']:%Y-%m}" if r["crossover_month"] else f"none yet (needs {CROSSOVER_RUN} consecutive months)"
        lines.append(f"| {r['family']} | {r['view']} | {r['months_observed']} | {when} |")
    return "\n".join(lines)
