"""The org registry file: the shipped one loads and is well formed, and a broken one is refused with file and line."""

from __future__ import annotations

import csv
import datetime as dt
import re

import polars as pl
import pytest

from dominance_pipeline.origin.countries import bloc_of, countries, valid_codes
from dominance_pipeline.origin.registry import ATTRIBUTION, COLUMNS, REGISTRY_PATH, RegistryError, attribute, load_registry, month_end
from dominance_pipeline.origin.registry import attributed as registry_attributed

MAY = dt.date(2026, 5, 31)


def write(tmp_path, *lines: str):
    p = tmp_path / "registry.csv"
    p.write_text(",".join(COLUMNS) + "\n" + "\n".join(lines) + "\n")
    return p


def row(ns: str, cc: str = "US", aliases: str = "", renamed: str = "", start: str = "", end: str = "", inter: str = "false") -> str:
    return f"{ns},Org,{cc},company,headquarters,https://example.org,{aliases},{renamed},{start},{end},{inter},"


def attributed(reg, day: dt.date, *namespaces: str, columns: tuple[str, ...] = ("namespace", "country")) -> list[tuple]:
    """`columns` of each namespace's attribution on `day` (by default its canonical name and country)."""
    got = attribute(pl.Series(list(namespaces)), reg.lookup_at(day))
    return list(got.select(*columns).iter_rows())


def test_shipped_registry_is_large_sourced_and_valid():
    reg = load_registry()
    assert reg.namespaces >= 300
    assert reg.rows.filter(pl.col("source") == "").is_empty()
    assert set(reg.rows.get_column("country")) <= valid_codes()
    # UNATTRIBUTED is only for repackagers whose country is not public; an unknown individual stays out.
    unknown = reg.rows.filter(pl.col("country") == "UNATTRIBUTED")
    assert unknown.get_column("is_intermediary").all()


def test_shipped_registry_flags_the_known_repackagers_and_not_the_labs():
    rows = {r["namespace"]: r for r in csv.DictReader(REGISTRY_PATH.open(encoding="utf-8"))}
    for ns in ("unsloth", "bartowski", "mlx-community", "TheBloke", "lmstudio-community", "QuantFactory", "mradermacher"):
        assert rows[ns]["is_intermediary"] == "true", ns
    for ns in ("Qwen", "meta-llama", "deepseek-ai", "google", "mistralai", "zai-org"):
        assert rows[ns]["is_intermediary"] == "false", ns


def test_shipped_registry_follows_renames_and_ownership_changes():
    reg = load_registry()
    got = dict(zip(["THUDM", "Yi", "CohereForAI", "AIDC-AI"], attributed(reg, MAY, "THUDM", "Yi", "CohereForAI", "AIDC-AI"), strict=True))
    assert got == {"THUDM": ("zai-org", "CN"), "Yi": ("01-ai", "CN"), "CohereForAI": ("CohereLabs", "CA"), "AIDC-AI": ("ATH-MaaS", "CN")}
    # Jina AI was acquired by Elastic in October 2025: September is German, October (month end) American.
    assert attributed(reg, month_end(dt.date(2025, 9, 1)), "jinaai") == [("jinaai", "DE")]
    assert attributed(reg, month_end(dt.date(2025, 10, 1)), "jinaai") == [("jinaai", "US")]


def test_country_table_keeps_namibia():
    # "NA" must not be read as a missing value
    assert "NA" in valid_codes() and countries().get_column("code").null_count() == 0


def test_bloc_of_maps_each_code_to_its_bloc_and_an_unknown_code_to_unattributed():
    codes = pl.DataFrame({"c": ["CN", "US", "FR", "RU", "INTL", "UNATTRIBUTED", "ZZ"]})  # ZZ is no ISO code
    got = codes.select(bloc_of(pl.col("c"))).to_series().to_list()
    assert got == ["CN", "US", "EUROPE", "OTHER", "INTL", "UNATTRIBUTED", "UNATTRIBUTED"]


def test_lookup_is_case_insensitive_and_follows_renames_and_aliases(tmp_path):
    reg = load_registry(write(tmp_path, row("zai-org", "CN"), row("THUDM", "CN", renamed="zai-org"), row("Qwen", "CN", aliases="qwen-legacy")))
    assert attributed(reg, MAY, "thudm", "Qwen", "QWEN-legacy", "nobody") == [
        ("zai-org", "CN"),
        ("Qwen", "CN"),
        ("Qwen", "CN"),
        ("nobody", "UNATTRIBUTED"),
    ]


def test_rename_chains_end_at_the_last_name(tmp_path):
    reg = load_registry(write(tmp_path, row("a", renamed="b"), row("b", renamed="c"), row("c")))
    assert attributed(reg, MAY, "A") == [("c", "US")]


def test_each_day_uses_the_row_valid_on_it(tmp_path):
    reg = load_registry(
        write(tmp_path, row("lab", "DE", end="2025-10-09"), row("lab", "US", start="2025-10-09"), row("gone", "FR", end="2024-01-01"))
    )
    assert attributed(reg, dt.date(2025, 10, 8), "lab") == [("lab", "DE")]
    assert attributed(reg, dt.date(2025, 10, 9), "lab") == [("lab", "US")]
    # A namespace outside every validity period is unknown on that day, not guessed from another period.
    assert attributed(reg, MAY, "gone") == [("gone", "UNATTRIBUTED")]
    assert reg.namespaces == 2 and reg.rows.height == 3


def test_month_end_is_the_last_day():
    assert month_end(dt.date(2024, 2, 1)) == dt.date(2024, 2, 29)
    assert month_end(dt.date(2026, 12, 1)) == dt.date(2026, 12, 31)


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        ((row("a"), row("A")), "overlaps line 2"),
        ((row("a", end="2025-01-01"), row("a", start="2024-06-01")), "overlaps line 2"),
        ((row("a", start="2025-01-01", end="2024-01-01"),), "is not before valid_to"),
        ((row("a", start="2025-13-01"),), "valid_from '2025-13-01' is not a date"),
        ((row("a", start="2025-10"),), "is not a date YYYY-MM-DD"),
        ((row("a", "XX"),), "country 'XX'"),
        ((row("a", "UNATTRIBUTED"),), "leave a namespace whose country is unknown out"),
        ((row("a/b"),), "is not a Hub namespace"),
        ((row("a", renamed="b"), row("b", renamed="a")), "renamed_to cycle"),
        ((row("a", renamed="ghost"),), "renamed_to 'ghost' has no row"),
        ((row("a", "CN", renamed="b"), row("b", "US")), "a rename keeps the owner"),
        ((row("a", aliases="b"), row("b")), "alias 'b' is also a namespace (line 3)"),
        ((row("a", aliases="x"), row("b", aliases="X")), "is also an alias of 'a'"),
        ((row("a", aliases="a"),), "is the namespace itself"),
        (("a,Org,US,company,headquarters,,,,,,false,",), "has no source"),
        (("a,Org,US,company,garage,https://x.org,,,,,false,",), "basis 'garage'"),
        (("a,Org,US,firm,headquarters,https://x.org,,,,,false,",), "org_type 'firm'"),
        (("a,Org,US,company,headquarters,https://x.org,,,,,yes,",), "is_intermediary must be true or false"),
        (("a,Org,US",), "expected 12 fields"),
        # Two namespaces renamed to each other in their later periods: a cycle from 2020 on, though not before.
        (
            (row("a", end="2020-01-01", renamed="c"), row("a", start="2020-01-01", renamed="b"),
             row("b", end="2020-01-01", renamed="c"), row("b", start="2020-01-01", renamed="a"), row("c")),
            "renamed_to cycle from 2020-01-01: a -> b -> a",
        ),
        # A quote left open swallows the rows after it: with the field count right they would just be gone.
        (('a,Org,US,company,headquarters,https://x.org,,,,,false,"Berlin', row("b"), row("c")), ':2: a field runs over lines 2-4: a quote (") left open?'),
        # A period that ends the day it starts holds no day at all: [d, d) is empty.
        ((row("a", start="2025-01-01", end="2025-01-01"),), ":2: valid_from 2025-01-01 is not before valid_to 2025-01-01"),
        # fromisoformat would read 20250101 as a date; the file's format is YYYY-MM-DD only.
        ((row("a", start="20250101"),), "valid_from '20250101' is not a date YYYY-MM-DD"),
        ((row("a", end="2025-02-30"),), ":2: valid_to '2025-02-30' is not a date YYYY-MM-DD"),
        # Hub namespaces are at most 96 characters and start with a letter, digit or underscore.
        ((row("a" * 97),), f"namespace '{'a' * 97}' is not a Hub namespace"),
        ((row("-lab"),), "namespace '-lab' is not a Hub namespace"),
        ((row(".lab"),), "namespace '.lab' is not a Hub namespace"),
        ((row("a", aliases="b;x/y"),), ":2: alias 'x/y' is not a Hub namespace"),
        ((",Org,US,company,headquarters,https://x.org,,,,,false,",), ":2: empty namespace"),
        # An alias is a name with no row of its own, in any period: never both, even when the periods do not meet.
        ((row("a", aliases="b", start="2020-01-01"), row("b", end="2020-01-01")), ":2: alias 'b' is also a namespace (line 3)"),
        # A period is checked against every earlier one of its namespace, not just the one before it.
        ((row("a", end="2020-01-01"), row("a", start="2020-01-01"), row("a", start="2010-01-01", end="2015-01-01")), ":4: namespace 'a' [2010-01-01, 2015-01-01) overlaps line 2"),
        # A chain that runs into a cycle further on is refused (and checking it ends).
        ((row("a", renamed="b"), row("b", renamed="c"), row("c", renamed="b")), ":2: renamed_to cycle: a -> b -> c -> b"),
        # A cycle that only appears once a period ends (x then has no row valid and is followed through its first
        # row, renamed to a): the days where a period ends are checked too, not only those where one starts.
        (
            (row("x", end="2010-01-01", renamed="a"), row("x", start="2010-01-01", end="2030-01-01"),
             row("a", end="2015-01-01"), row("a", start="2020-01-01", renamed="x")),
            ":5: renamed_to cycle from 2030-01-01: a -> x -> a",
        ),
    ],
)
def test_broken_registry_names_file_and_line(tmp_path, lines, message):
    path = write(tmp_path, *lines)
    with pytest.raises(RegistryError) as err:
        load_registry(path)
    assert message in str(err.value)
    assert f"{path}:" in str(err.value)


def test_every_problem_is_listed_not_just_the_first(tmp_path):
    path = write(tmp_path, row("a", "XX"), row("b", "YY"), row("c"))
    with pytest.raises(RegistryError) as err:
        load_registry(path)
    text = str(err.value)
    assert text.startswith("2 problem(s)") and f"{path}:2:" in text and f"{path}:3:" in text


def test_a_wrong_header_is_refused(tmp_path):
    p = tmp_path / "registry.csv"
    p.write_text("namespace,country\nQwen,CN\n")
    with pytest.raises(RegistryError, match=":1: header must be"):
        load_registry(p)


def test_a_registry_with_only_its_header_is_refused(tmp_path):
    # It would load, and tag every model UNATTRIBUTED: indices with no country in them.
    p = tmp_path / "registry.csv"
    p.write_text(",".join(COLUMNS) + "\n\n")
    with pytest.raises(RegistryError, match=r"^org registry .*registry\.csv: no organisation rows below the header$"):
        load_registry(p)


def test_a_problem_in_a_record_over_several_lines_names_the_line_it_starts_on(tmp_path):
    path = write(tmp_path, row("a"), 'a/b,Org,US,company,headquarters,https://x.org,,,,,false,"two\nlines"')
    with pytest.raises(RegistryError) as err:
        load_registry(path)
    assert f"{path}:3: a field runs over lines 3-4" in str(err.value)


def test_attributed_replaces_attribution_columns_the_frame_already_has(tmp_path):
    reg = load_registry(write(tmp_path, row("Qwen", "CN")))
    lookup = reg.lookup_at(MAY)
    frame = pl.LazyFrame({"author": ["Qwen", "nobody"], "country": ["old", "old"], "bloc": ["old", "old"], "is_intermediary": [True, True]})
    got = registry_attributed(frame, "author", lookup).select("author", *ATTRIBUTION).collect()
    expected = attribute(pl.Series(["Qwen", "nobody"]), lookup).insert_column(0, pl.Series("author", ["Qwen", "nobody"]))
    assert got.equals(expected)


def test_a_row_is_not_valid_on_its_valid_to_day(tmp_path):
    # Periods are [valid_from, valid_to): on the day one ends, the next one applies (May's attribution day is the 31st).
    reg = load_registry(write(tmp_path, row("lab", "US", start="2026-05-31"), row("lab", "DE", end="2026-05-31"), row("ended", "FR", end="2026-05-31")))
    assert attributed(reg, dt.date(2026, 5, 30), "lab", "ended") == [("lab", "DE"), ("ended", "FR")]
    assert attributed(reg, MAY, "lab", "ended") == [("lab", "US"), ("ended", "UNATTRIBUTED")]


WITH_FLAG = ("namespace", "country", "is_intermediary")


def test_a_namespace_of_96_characters_is_accepted(tmp_path):
    reg = load_registry(write(tmp_path, row("a" * 96, "FR")))
    assert attributed(reg, MAY, "A" * 96) == [("a" * 96, "FR")]


def test_aliases_match_case_insensitively_and_inherit_canonical_name_and_intermediary_flag(tmp_path):
    reg = load_registry(
        write(
            tmp_path,
            row("Qwen", "CN", aliases="Qwen-Legacy"),
            row("quants", "UNATTRIBUTED", aliases="quants-old", inter="true"),
            row("new-lab", "FR"),
            row("old-lab", "FR", renamed="new-lab", aliases="older-lab"),
        )
    )
    assert attributed(reg, MAY, "qwen-legacy", "QUANTS-OLD", "Older-Lab", columns=WITH_FLAG) == [
        ("Qwen", "CN", False),
        ("quants", "UNATTRIBUTED", True),
        ("new-lab", "FR", False),
    ]


def test_an_alias_is_unknown_outside_its_namespaces_period(tmp_path):
    reg = load_registry(write(tmp_path, row("lab", "DE", aliases="old-lab", end="2020-01-01"), row("other")))
    assert attributed(reg, dt.date(2019, 12, 31), "old-lab") == [("lab", "DE")]
    assert attributed(reg, MAY, "old-lab", "lab") == [("old-lab", "UNATTRIBUTED"), ("lab", "UNATTRIBUTED")]


def test_the_intermediary_flag_comes_from_the_namespaces_own_row_not_its_rename_target(tmp_path):
    reg = load_registry(write(tmp_path, row("b", "US"), row("a", "US", renamed="b", inter="true")))
    assert attributed(reg, MAY, "a", "b", columns=WITH_FLAG) == [("b", "US", True), ("b", "US", False)]


def test_the_canonical_name_is_spelt_as_the_targets_row_and_followed_through_a_target_out_of_its_period(tmp_path):
    # renamed_to may differ in case from the target's row: the name published is the row's (one spelling per org).
    # b has no row valid in May 2026, yet the chain a -> b -> c still runs through b's row to c.
    reg = load_registry(
        write(tmp_path, row("zai-org", "CN"), row("THUDM", "CN", renamed="ZAI-ORG"), row("a", renamed="b"),
              row("b", renamed="c", start="2020-01-01", end="2021-01-01"), row("c"))
    )
    assert attributed(reg, MAY, "thudm", "a", "b") == [("zai-org", "CN"), ("c", "US"), ("b", "UNATTRIBUTED")]


def test_an_ownership_change_may_keep_its_aliases_and_be_a_rename_target(tmp_path):
    # lab moved from DE to US in 2020 and lists its old name in both periods; old was renamed to lab before the
    # move, so its country need only agree with lab's row of the same period.
    reg = load_registry(
        write(
            tmp_path,
            row("lab", "DE", aliases="lab-old", end="2020-01-01"),
            row("lab", "US", aliases="lab-old", start="2020-01-01"),
            row("old", "DE", renamed="lab", end="2020-01-01"),
        )
    )
    assert attributed(reg, dt.date(2019, 12, 31), "lab-old", "old") == [("lab", "DE"), ("lab", "DE")]
    assert attributed(reg, MAY, "lab-old", "old") == [("lab", "US"), ("old", "UNATTRIBUTED")]


def test_spaces_around_fields_and_rows_of_empty_fields_are_ignored(tmp_path):
    # As a spreadsheet saves them: a space after a comma, an empty row of separators, a row of blanks.
    reg = load_registry(
        write(tmp_path, " Qwen , Qwen , CN , company , headquarters , https://x.org ,  , ,  , , false , ", ",,,,,,,,,,,", "  ,  ", row("b"))
    )
    assert attributed(reg, MAY, "qwen", "b") == [("Qwen", "CN"), ("b", "US")]
    assert reg.rows.get_column("line").to_list() == [2, 5]


def test_namespaces_counts_a_namespace_spelt_differently_in_two_periods_once(tmp_path):
    reg = load_registry(write(tmp_path, row("Lab", "DE", end="2020-01-01"), row("lab", "US", start="2020-01-01"), row("other")))
    assert reg.namespaces == 2 and reg.rows.height == 3


def test_the_registry_is_the_one_dominance_registry_names_unless_it_is_empty(tmp_path, monkeypatch):
    from dominance_pipeline.origin.registry import configured_path

    monkeypatch.setenv("DOMINANCE_REGISTRY", str(tmp_path / "mine.csv"))
    assert configured_path() == tmp_path / "mine.csv"
    monkeypatch.setenv("DOMINANCE_REGISTRY", "")
    assert configured_path() == REGISTRY_PATH
    monkeypatch.delenv("DOMINANCE_REGISTRY")
    assert configured_path() == REGISTRY_PATH


def test_attributed_on_a_column_called_namespace_replaces_it_with_the_canonical_name(tmp_path):
    reg = load_registry(write(tmp_path, row("zai-org", "CN"), row("THUDM", "CN", renamed="zai-org")))
    frame = pl.LazyFrame({"namespace": ["thudm", "nobody"], "downloads": [5, 7]})
    got = registry_attributed(frame, "namespace", reg.lookup_at(MAY)).collect()
    assert sorted(got.columns) == sorted(["downloads", *ATTRIBUTION])
    assert got.select("namespace", "downloads", "country", "bloc", "is_intermediary").rows() == [("zai-org", 5, "CN", "CN", False), ("nobody", 7, "UNATTRIBUTED", "UNATTRIBUTED", False)]


@pytest.mark.parametrize(("broken", "shown", "more"), [(50, 50, ""), (51, 50, "  ... and 1 more")])
def test_at_most_fifty_problems_are_listed_then_how_many_more(tmp_path, broken, shown, more):
    path = write(tmp_path, *(row(f"ns{i}", "XX") for i in range(broken)))
    with pytest.raises(RegistryError) as err:
        load_registry(path)
    lines = str(err.value).splitlines()
    assert lines[0] == f"{broken} problem(s) in the org registry {path}:"
    listed = [ln for ln in lines[1:] if ln.startswith(f"  {path}:")]
    assert [int(ln.split(":")[1]) for ln in listed] == list(range(2, 2 + shown))
    assert lines[1:] == [*listed, *([more] if more else [])]


def test_a_missing_registry_is_named(tmp_path):
    with pytest.raises(RegistryError, match=f"^org registry not found: {re.escape(str(tmp_path / 'nope.csv'))}$"):
        load_registry(tmp_path / "nope.csv")


def test_a_quote_left_open_in_a_large_registry_is_refused_as_unreadable_csv(tmp_path):
    # The open quote swallows the rest of the file into one field, past the csv module's 128 KiB field limit.
    path = write(tmp_path, 'a,Org,US,company,headquarters,https://x.org,,,,,false,"Berlin', *(row(f"ns{i}") + "x" * 100 for i in range(1500)))
    with pytest.raises(RegistryError, match=rf"^org registry {re.escape(str(path))}: not a readable CSV file \(field larger than field limit"):
        load_registry(path)


@pytest.mark.parametrize("name", ["mistralai-", "mistralai.", "mistral--ai", "mistral..ai"])
def test_a_name_huggingface_hub_refuses_is_not_a_hub_namespace(tmp_path, name):
    # No Hub namespace ends in '-' or '.' or holds '--' or '..' (huggingface_hub's validate_repo_id refuses them):
    # such a row is a typo that would match no model and leave the organisation's downloads UNATTRIBUTED.
    path = write(tmp_path, row(name), row("lab", aliases=name))
    with pytest.raises(RegistryError) as err:
        load_registry(path)
    assert f"{path}:2: namespace {name!r} is not a Hub namespace" in str(err.value)
    assert f"{path}:3: alias {name!r} is not a Hub namespace" in str(err.value)
