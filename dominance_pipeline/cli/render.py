"""Readable tables of a month's indices for the terminal (and CSV/JSON for scripts)."""

from __future__ import annotations

import polars as pl

KEY_COUNTRIES = ("CN", "US", "UNATTRIBUTED")


def format_value(index: str, value: float | None) -> str:
    """Shares as percentages, gaps in percentage points, HHI as a whole number, the rest with three decimals."""
    if value is None:
        return ""
    if "gap" in index:
        return f"{value * 100:+.2f} pp"
    if "share" in index or index.startswith("cr"):
        return f"{value:.2%}"
    if index.startswith("hhi"):
        return f"{value:,.0f}"
    return f"{value:.3f}"


def indices_table(ix: pl.DataFrame, countries: tuple[str, ...] | None = KEY_COUNTRIES) -> pl.DataFrame:
    """One row per (index, country), one column per view/denominator: the layout people read shares in."""
    rows = ix if countries is None else ix.filter(pl.col("country").is_null() | pl.col("country").is_in(list(countries)))
    return (
        rows.with_columns(
            pl.format("{}/{}", "view", "denominator").alias("group"),
            pl.col("country").fill_null("—"),
            pl.struct("index", "value")
            .map_elements(lambda r: format_value(r["index"], r["value"]), return_dtype=pl.String)
            .alias("value"),
        )
        .pivot(on="group", index=["index", "country"], values="value", sort_columns=True)
        .fill_null("")
        .sort("index", "country")
    )


def print_table(df: pl.DataFrame, title: str) -> None:
    with pl.Config(tbl_rows=-1, tbl_cols=-1, tbl_hide_dataframe_shape=True, tbl_hide_column_data_types=True, float_precision=4, tbl_width_chars=160):
        print(title)
        print(df)
