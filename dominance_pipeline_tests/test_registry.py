"""The org registry file: the shipped one loads, and a broken one is refused with file and line."""

from __future__ import annotations

import polars as pl
import pytest

from dominance_pipeline.origin.countries import countries, valid_codes
from dominance_pipeline.origin.registry import COLUMNS, RegistryError, attribute_namespaces, load_registry


def write(tmp_path, *lines: str):
    p = tmp_path / "registry.csv"
    p.write_text(",".join(COLUMNS) + "\n" + "\n".join(lines) + "\n")
    return p


ROW = "{ns},Org,{cc},company,headquarters,https://example.org,{aliases},{renamed},,,false,"


def row(ns: str, cc: str = "US", aliases: str = "", renamed: str = "") -> str:
    return ROW.format(ns=ns, cc=cc, aliases=aliases, renamed=renamed)


def test_shipped_registry_loads_and_every_row_has_a_source():
    reg = load_registry()
    assert reg.rows.height >= 100
    assert reg.rows.filter(pl.col("source") == "").is_empty()
    assert set(reg.rows.get_column("country")) <= valid_codes()


def test_country_table_keeps_namibia():
    # "NA" must not be read as a missing value
    assert "NA" in valid_codes() and countries().get_column("code").null_count() == 0


def test_lookup_is_case_insensitive_and_follows_renames(tmp_path):
    reg = load_registry(write(tmp_path, row("zai-org", "CN"), row("THUDM", "CN", renamed="zai-org"), row("Qwen", "CN", aliases="qwen-legacy")))
    df = pl.DataFrame({"ns": ["thudm", "Qwen", "QWEN-legacy", "nobody"]})
    canon, country, _ = attribute_namespaces(pl.col("ns"), reg.lookup)
    got = df.select(canon.alias("c"), country.alias("k")).rows()
    assert got == [("zai-org", "CN"), ("Qwen", "CN"), ("Qwen", "CN"), ("nobody", "UNATTRIBUTED")]


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        ((row("a"), row("A")), "repeats line 2"),
        ((row("a", "XX"),), "country 'XX'"),
        ((row("a", renamed="b"), row("b", renamed="a")), "renamed_to cycle"),
        ((row("a", renamed="ghost"),), "renamed_to 'ghost' has no row"),
        (("a,Org,US,company,headquarters,,,,,,false,",), "has no source"),
        (("a,Org,US",), "expected 12 fields"),
    ],
)
def test_broken_registry_names_file_and_line(tmp_path, lines, message):
    path = write(tmp_path, *lines)
    with pytest.raises(RegistryError) as err:
        load_registry(path)
    assert message in str(err.value)
    assert f"{path}:" in str(err.value)
