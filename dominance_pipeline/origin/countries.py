"""Country codes and the blocs readers see (CN, US, EUROPE, OTHER, INTL, UNATTRIBUTED).

Kept as a data file (countries.csv) so that a bloc boundary is a reviewed edit, not a code change.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import polars as pl

COUNTRIES_PATH = Path(__file__).with_name("countries.csv")

UNATTRIBUTED = "UNATTRIBUTED"
INTL = "INTL"
BLOCS = ("CN", "US", "EUROPE", "OTHER", INTL, UNATTRIBUTED)


@cache
def countries() -> pl.DataFrame:
    """Every valid country value (ISO 3166-1 alpha-2 plus INTL and UNATTRIBUTED) with its bloc."""
    return pl.read_csv(COUNTRIES_PATH, comment_prefix="#", schema={"code": pl.String, "name": pl.String, "bloc": pl.String})


def valid_codes() -> frozenset[str]:
    return frozenset(countries().get_column("code").to_list())


def bloc_of(country: pl.Expr) -> pl.Expr:
    """The bloc of a country column; an unknown code maps to UNATTRIBUTED (codes are validated upstream)."""
    table = countries()
    return country.replace_strict(
        table.get_column("code"), table.get_column("bloc"), default=UNATTRIBUTED, return_dtype=pl.String
    )
