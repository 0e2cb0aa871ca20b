"""Tagging on hand-made listings: validity dates, renames, intermediaries, release dates, and registry gaps."""

from __future__ import annotations

import datetime as dt
import math
import re

import polars as pl
import pytest

from dominance_pipeline.metrics import aggregates
from dominance_pipeline.origin.gaps import registry_gaps
from dominance_pipeline.origin.registry import load_registry, month_end
from dominance_pipeline.origin.release_dates import CorrectionsError, load_corrections
from dominance_pipeline.origin.tagging import coverage, intermediary_share, tag
from dominance_pipeline.schemas import ORIGIN_TAGGED_MODELS, RAW_HUB_LISTINGS
from dominance_pipeline_tests.test_registry import write

UTC = dt.UTC


def listing(rows: list[tuple[str, int, list[str], dt.datetime | None]], month: dt.date = dt.date(2026, 5, 1)) -> pl.DataFrame:
    df = pl.DataFrame(
        {
            "model_id": [r[0] for r in rows],
            "downloads_30d": [r[1] for r in rows],
            "base_model_ids": [r[2] for r in rows],
            "created_at": [r[3] for r in rows],
        },
        schema={"model_id": pl.String, "downloads_30d": pl.Int64, "base_model_ids": pl.List(pl.String), "created_at": pl.Datetime("us", "UTC")},
    )
    filled = {c: pl.lit(None, t) for c, t in RAW_HUB_LISTINGS.columns.items() if c not in df.columns}
    return (
        df.with_columns(**filled)
        .with_columns(
            pl.col("model_id").str.split("/").list.first().alias("author"),
            pl.lit(month).alias("month"),
            pl.lit(dt.datetime(2026, 5, 31, tzinfo=UTC)).alias("snapshot_at"),
            pl.lit("test").alias("source"),
        )
        .select(RAW_HUB_LISTINGS.names)
    )


def registry_file(tmp_path, *rows: str):
    return load_registry(write(tmp_path, *rows))


def by_id(tagged: pl.DataFrame) -> dict[str, dict]:
    return {r["model_id"]: r for r in tagged.iter_rows(named=True)}


NO_CORRECTIONS = pl.DataFrame(schema={"model_id": pl.String, "hf_created_at": pl.Date, "actual_release_date": pl.Date, "notes": pl.String, "line": pl.Int64})


def test_each_month_is_attributed_with_the_registry_rows_valid_at_its_end(tmp_path):
    reg = registry_file(
        tmp_path,
        "lab,Lab,DE,company,headquarters,https://x.org,,,,2025-10-09,false,",
        "lab,Lab (Parent),US,company,parent company,https://x.org,,,2025-10-09,,false,acquired",
    )
    rows = [("lab/base", 10, [], None), ("fan/ft", 5, ["lab/base"], None)]
    sept = by_id(tag(listing(rows, dt.date(2025, 9, 1)), reg, corrections=NO_CORRECTIONS)[0])
    octo = by_id(tag(listing(rows, dt.date(2025, 10, 1)), reg, corrections=NO_CORRECTIONS)[0])
    assert (sept["lab/base"]["org_country"], sept["fan/ft"]["root_country"]) == ("DE", "DE")
    assert (octo["lab/base"]["org_country"], octo["fan/ft"]["root_country"]) == ("US", "US")
    assert sept["lab/base"]["org_bloc"] == "EUROPE" and octo["fan/ft"]["root_bloc"] == "US"


def test_renamed_namespaces_are_canonical_for_uploaders_and_parents():
    rows = [
        ("zai-org/glm-4-9b", 100, [], None),
        ("THUDM/legacy-upload", 10, [], None),
        ("someone/ft", 5, ["THUDM/glm-4-9b"], None),
        ("someone/other", 5, ["thudm/chatglm-6b"], None),
    ]
    t = by_id(tag(listing(rows), load_registry(), corrections=NO_CORRECTIONS)[0])
    assert t["THUDM/legacy-upload"]["org_namespace"] == "zai-org" and t["THUDM/legacy-upload"]["org_country"] == "CN"
    assert t["someone/ft"]["root_model_id"] == "zai-org/glm-4-9b" and t["someone/ft"]["lineage_status"] == "resolved"
    assert (t["someone/other"]["root_model_id"], t["someone/other"]["root_country"]) == ("zai-org/chatglm-6b", "CN")
    assert t["someone/other"]["org_country"] == "UNATTRIBUTED"


def test_two_views_and_the_intermediary_flag():
    rows = [("Qwen/Q", 600, [], None), ("bartowski/Q-GGUF", 300, ["Qwen/Q"], None), ("nobody/x", 100, [], None)]
    tagged, stats = tag(listing(rows), load_registry(), corrections=NO_CORRECTIONS)
    t = by_id(tagged)
    assert [t[m]["is_intermediary"] for m in ("Qwen/Q", "bartowski/Q-GGUF", "nobody/x")] == [False, True, False]
    assert (t["bartowski/Q-GGUF"]["org_country"], t["bartowski/Q-GGUF"]["root_country"]) == ("UNATTRIBUTED", "CN")
    assert t["bartowski/Q-GGUF"]["lineage_roots"] == [{"root_id": "Qwen/Q", "namespace": "Qwen", "country": "CN", "weight": 1.0}]
    assert coverage(tagged) == {"direct": pytest.approx(0.6), "lineage": pytest.approx(0.9)}
    assert intermediary_share(tagged) == pytest.approx(0.3)
    assert stats["attributed_on"] == "2026-05-31" and stats["lineage"]["status"]["resolved"] == 1


def test_roots_of_equal_weight_but_for_rounding_are_a_tie_broken_by_root_id():
    # m's parents: z/R (weight 1/2) and y/mix, whose 49 parents all descend from a/R: a/R's weight in y/mix is
    # 1/49 summed 49 times (0.9999999999999999), so 0.49999999999999994 in m. Equal weights: a/R, the smaller id.
    parents = [f"p/{i}" for i in range(49)]
    rows = [("a/R", 1, [], None), ("z/R", 1, [], None), *((p, 1, ["a/R"], None) for p in parents)]
    rows += [("y/mix", 1, parents, None), ("m/m", 1, ["z/R", "y/mix"], None)]
    m = by_id(tag(listing(rows), load_registry())[0])["m/m"]
    weights = {r["root_id"]: r["weight"] for r in m["lineage_roots"]}
    assert weights["z/R"] == 0.5 and weights["a/R"] == pytest.approx(0.5) and weights["a/R"] != 0.5
    assert m["root_model_id"] == "a/R"


def test_tag_takes_one_month_at_a_time():
    two = pl.concat([listing([("a/x", 1, [], None)], dt.date(2026, 4, 1)), listing([("a/y", 1, [], None)])])
    with pytest.raises(ValueError, match="one month's listing"):
        tag(two, load_registry())


def corrections_file(tmp_path, *rows: str) -> pl.DataFrame:
    p = tmp_path / "corrections.csv"
    p.write_text("# comment\n# another\nmodel_id,hf_created_at,actual_release_date,notes\n" + "\n".join(rows) + "\n")
    return load_corrections(p)


def test_release_date_corrections_move_a_model_to_its_release_month(tmp_path):
    fixes = corrections_file(
        tmp_path,
        "lab/early,2026-04-28,2026-05-02,4 days early",
        "Lab/Case,2026-04-30,2026-05-01,case differs from the Hub",
        "lab/late,2026-05-10,2026-05-03,announced before the upload",
        "lab/elsewhere,2026-01-01,2026-01-02,not in this listing",
    )
    rows = [
        ("lab/early", 1, [], dt.datetime(2026, 4, 28, 9, tzinfo=UTC)),
        ("lab/case", 1, [], dt.datetime(2026, 4, 30, 9, tzinfo=UTC)),
        ("lab/late", 1, [], dt.datetime(2026, 5, 10, 9, tzinfo=UTC)),
        ("lab/plain", 1, [], dt.datetime(2026, 4, 2, tzinfo=UTC)),
    ]
    tagged, stats = tag(listing(rows), load_registry(), corrections=fixes)
    t = by_id(tagged)
    assert t["lab/early"]["created_at"] == dt.datetime(2026, 5, 2, tzinfo=UTC)
    assert t["lab/early"]["created_at_hub"] == dt.datetime(2026, 4, 28, 9, tzinfo=UTC)
    assert t["lab/case"]["created_at"] == dt.datetime(2026, 5, 1, tzinfo=UTC)
    assert t["lab/late"]["created_at"] == t["lab/late"]["created_at_hub"] == dt.datetime(2026, 5, 10, 9, tzinfo=UTC)
    assert t["lab/plain"]["created_at"] == t["lab/plain"]["created_at_hub"]
    assert stats["release_dates"] == {"listed_in_snapshot": 3, "applied": ["lab/case", "lab/early"], "not_applied": ["lab/late"]}
    # "new in May": the two corrected models and lab/late, not lab/plain
    agg = aggregates.aggregate(tagged, dt.date(2026, 5, 1)).filter(pl.col("view") == "direct")
    assert agg.get_column("new_models").sum() == 3


def test_shipped_corrections_load_and_apply_on_the_real_sample_rows():
    fixes = load_corrections()
    assert fixes.height == 40 and fixes.get_column("model_id").n_unique() == 40
    kimi = fixes.filter(pl.col("model_id") == "moonshotai/Kimi-K2.5").row(0, named=True)
    assert (kimi["hf_created_at"], kimi["actual_release_date"]) == (dt.date(2026, 1, 1), dt.date(2026, 1, 27))


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("a/b,2026-01-01,2026-13-01,x", "actual_release_date '2026-13-01' is not a date"),
        ("a/b,2026-01-01", "expected 4 fields"),
        ("ab,2026-01-01,2026-01-02,x", "is not namespace/name"),
        ("a/b/c,2026-01-01,2026-01-02,x", "model_id 'a/b/c' is not namespace/name"),
        ("a/b,2026-01-01,2026-01-02,x,a fifth field", "expected 4 fields, found 5"),
        ("a/b,2025-W01-1,20250102,x", "hf_created_at '2025-W01-1' is not a date YYYY-MM-DD"),
        ('a/b,2026-01-01,2026-01-02,"a note left open', 'a quote (") is left open'),
    ],
)
def test_broken_corrections_name_file_and_line(tmp_path, row, message):
    with pytest.raises(CorrectionsError) as err:
        corrections_file(tmp_path, "ok/model,2026-01-01,2026-01-02,fine", row)
    assert message in str(err.value) and ":5:" in str(err.value)


def test_a_corrections_file_that_is_not_utf8_names_its_line(tmp_path):
    path = tmp_path / "corrections.csv"
    path.write_bytes(b"model_id,hf_created_at,actual_release_date,notes\na/b,2026-01-01,2026-01-02,caf\xe9\n")
    with pytest.raises(CorrectionsError, match=r"corrections.csv:2: not UTF-8 text \(byte 0xe9\)"):
        load_corrections(path)


def test_repeated_correction_is_refused(tmp_path):
    with pytest.raises(CorrectionsError, match="repeats line 4"):
        corrections_file(tmp_path, "a/b,2026-01-01,2026-01-02,x", "A/B,2026-01-01,2026-01-03,y")


def test_a_missing_corrections_file_is_named(tmp_path):
    with pytest.raises(CorrectionsError, match=f"^release-date corrections not found: {re.escape(str(tmp_path / 'nope.csv'))}$"):
        load_corrections(tmp_path / "nope.csv")


def test_a_wrong_header_is_refused_naming_its_line_after_the_comments(tmp_path):
    path = tmp_path / "corrections.csv"
    # line 3 is the header (after a comment and a blank line); its columns are swapped
    path.write_text("# comment\n\nmodel_id,actual_release_date,hf_created_at,notes\na/b,2026-01-01,2026-01-02,x\n")
    with pytest.raises(CorrectionsError) as err:
        load_corrections(path)
    assert str(err.value) == f"{path}:3: header must be model_id,hf_created_at,actual_release_date,notes"


def test_an_indented_comment_and_padded_fields_are_read(tmp_path):
    fixes = corrections_file(tmp_path, "   # an indented comment, not a record", " a/b , 2026-01-01 , 2026-01-02 , padded ")
    assert fixes.rows() == [("a/b", dt.date(2026, 1, 1), dt.date(2026, 1, 2), "padded", 5)]


def test_corrections_match_hub_ids_in_any_case_and_leave_an_equal_or_unknown_creation_date(tmp_path):
    fixes = corrections_file(
        tmp_path,
        "lab/upper,2026-04-28,2026-05-02,the Hub spells it Lab/Upper",
        "lab/same,2026-05-02,2026-05-02,created at the very midnight of the release",
        "lab/unknown,2026-04-28,2026-05-02,the Hub gives no createdAt",
    )
    rows = [
        ("Lab/Upper", 1, [], dt.datetime(2026, 4, 28, 9, tzinfo=UTC)),
        ("lab/same", 1, [], dt.datetime(2026, 5, 2, tzinfo=UTC)),
        ("lab/unknown", 1, [], None),
    ]
    tagged, stats = tag(listing(rows), load_registry(), corrections=fixes)
    t = by_id(tagged)
    assert (t["Lab/Upper"]["created_at"], t["Lab/Upper"]["created_at_hub"]) == (dt.datetime(2026, 5, 2, tzinfo=UTC), dt.datetime(2026, 4, 28, 9, tzinfo=UTC))
    assert t["lab/same"]["created_at"] == t["lab/same"]["created_at_hub"] == dt.datetime(2026, 5, 2, tzinfo=UTC)
    assert t["lab/unknown"]["created_at"] is None and t["lab/unknown"]["created_at_hub"] is None
    # created_at == release is not a correction; an unknown createdAt cannot be compared, so it is not applied
    assert stats["release_dates"] == {"listed_in_snapshot": 3, "applied": ["Lab/Upper"], "not_applied": ["lab/same", "lab/unknown"]}


def test_registry_gaps_ranks_unattributed_namespaces_in_both_views():
    rows = [
        ("Qwen/Q", 500, [], None),
        ("anon/big", 300, [], None),
        ("anon/small", 50, [], None),
        ("bartowski/Q-GGUF", 100, ["Qwen/Q"], None),
        ("other/merge", 40, ["anon/big", "Qwen/Q"], None),
        ("other/ft", 10, ["gone/base"], None),
    ]
    tagged = tag(listing(rows), load_registry(), corrections=NO_CORRECTIONS)[0]
    gaps = registry_gaps(tagged, load_registry().lookup_at(month_end(dt.date(2026, 5, 1))), top=10)
    assert gaps.total_downloads == 1000
    direct = {r["namespace"]: r for r in gaps.direct.iter_rows(named=True)}
    # direct: anon 350 (2 models), bartowski 100 (a known intermediary), other 50
    assert list(direct) == ["anon", "bartowski", "other"]
    assert (direct["anon"]["downloads_30d"], direct["anon"]["models"], direct["anon"]["top_model"]) == (350, 2, "anon/big")
    assert direct["anon"]["share"] == pytest.approx(0.35)
    assert direct["bartowski"]["registry"] == "known intermediary, country not public"
    lineage = {r["namespace"]: r["downloads_30d"] for r in gaps.lineage.iter_rows(named=True)}
    # lineage: anon 300 + 50 + half of the merge (20); gone 10; Qwen's derivatives are attributed
    assert lineage == {"anon": pytest.approx(370), "gone": pytest.approx(10)}
    assert gaps.coverage["direct"] == pytest.approx(0.5) and gaps.coverage["lineage"] == pytest.approx(0.62)
    assert registry_gaps(tagged, load_registry().lookup_at(dt.date(2026, 5, 31)), top=1).direct.height == 1


def _gaps():
    rows = [
        ("Qwen/Q", 500, [], None),
        ("anon/big", 300, [], None),
        ("anon/small", 50, [], None),
        ("other/merge", 40, ["anon/big", "Qwen/Q"], None),
        ("MaziyarPanahi/Q-GGUF", 100, ["Qwen/Q"], None),  # a mixed-case intermediary in registry.csv
    ]
    tagged = tag(listing(rows), load_registry(), corrections=NO_CORRECTIONS)[0]
    return registry_gaps(tagged, load_registry().lookup_at(month_end(dt.date(2026, 5, 1))), top=10)


def test_registry_gaps_ranks_from_one_counts_distinct_roots_and_labels_mixed_case_intermediaries():
    gaps = _gaps()
    # direct: anon 350, MaziyarPanahi 100, other 40 -> ranks 1, 2, 3
    assert gaps.direct.select("namespace", "rank").rows() == [("anon", 1), ("MaziyarPanahi", 2), ("other", 3)]
    # The registry spells it in mixed case: its row is found by the lower-cased key
    maziyar = gaps.direct.filter(pl.col("namespace") == "MaziyarPanahi").row(0, named=True)
    assert maziyar["registry"] == "known intermediary, country not public"
    # lineage: anon's roots are anon/big (its own 300 + half of other/merge 20) and anon/small (50):
    # 370 downloads over 2 distinct root models (3 rows)
    anon = gaps.lineage.filter(pl.col("namespace") == "anon").row(0, named=True)
    assert anon["downloads_30d"] == pytest.approx(370)
    assert (anon["models"], anon["top_model"]) == (2, "anon/big")


def test_registry_gaps_table_prints_share_as_a_percentage(capsys, tmp_path):
    from dominance_pipeline.cli.registry_gaps import _print_tables

    gaps = _gaps()
    assert gaps.total_downloads == 990
    _print_tables(gaps, ("direct",), "2026-05-01", tmp_path / "x.parquet")
    anon_line = next(line for line in capsys.readouterr().out.splitlines() if " anon " in line)
    assert "35.354" in anon_line


def test_the_heaviest_root_is_the_root_model_and_lineage_depth_is_the_deepest_root():
    # m/child: 1/2 through m/merge (Qwen 1/4, meta-llama 1/4) + 1/2 directly to meta-llama -> meta-llama 3/4.
    # m/deep: Qwen/Q one hop away, meta-llama/L two (through x/ft): equal weights, so the smaller id, Qwen/Q;
    # its depth is the deepest root's, 2.
    rows = [
        ("Qwen/Q", 1, [], None),
        ("meta-llama/L", 1, [], None),
        ("x/ft", 1, ["meta-llama/L"], None),
        ("m/merge", 1, ["Qwen/Q", "meta-llama/L"], None),
        ("m/child", 1, ["m/merge", "meta-llama/L"], None),
        ("m/deep", 1, ["Qwen/Q", "x/ft"], None),
    ]
    t = by_id(tag(listing(rows), load_registry(), corrections=NO_CORRECTIONS)[0])
    child = t["m/child"]
    assert (child["root_model_id"], child["root_namespace"], child["root_country"], child["root_bloc"]) == ("meta-llama/L", "meta-llama", "US", "US")
    assert {r["root_id"]: r["weight"] for r in child["lineage_roots"]} == {"meta-llama/L": 0.75, "Qwen/Q": 0.25}
    assert (t["m/deep"]["root_model_id"], t["m/deep"]["root_country"], t["m/deep"]["lineage_depth"]) == ("Qwen/Q", "CN", 2)
    assert (t["m/merge"]["lineage_depth"], t["x/ft"]["lineage_depth"], t["Qwen/Q"]["lineage_depth"]) == (1, 1, 0)


def test_a_self_reference_is_tagged_as_its_own_root_with_its_status():
    rows = [("Qwen/self", 7, ["Qwen/self"], None), ("other/ft", 3, ["Qwen/self"], None)]
    tagged, stats = tag(listing(rows), load_registry(), corrections=NO_CORRECTIONS)
    s = by_id(tagged)["Qwen/self"]
    assert (s["root_model_id"], s["root_country"], s["lineage_depth"], s["lineage_status"]) == ("Qwen/self", "CN", 0, "self_reference")
    assert by_id(tagged)["other/ft"]["lineage_status"] == "resolved"
    assert stats["lineage"]["status"]["self_reference"] == 1


def test_a_missing_parent_keeps_its_id_when_only_its_namespace_case_differs():
    # qwen is Qwen in the registry but not a rename: the outside root keeps the id as written (its namespace
    # still counts for China), and no parent is counted as renamed
    tagged, stats = tag(listing([("u/ft", 1, ["qwen/gone-model"], None)]), load_registry(), corrections=NO_CORRECTIONS)
    u = by_id(tagged)["u/ft"]
    assert (u["root_model_id"], u["root_country"], u["lineage_status"]) == ("qwen/gone-model", "CN", "external_root")
    assert stats["lineage"]["parents_renamed"] == 0


def test_tag_cuts_chains_at_the_depth_cap_it_is_given():
    rows = [("a/m0", 1, [], None), ("a/m1", 1, ["a/m0"], None), ("a/m2", 1, ["a/m1"], None)]
    tagged, stats = tag(listing(rows), load_registry(), max_depth=1, corrections=NO_CORRECTIONS)
    m2 = by_id(tagged)["a/m2"]
    assert (m2["root_model_id"], m2["lineage_depth"], m2["lineage_status"]) == ("a/m2", 0, "depth_cap")
    assert stats["lineage"]["depth_capped_nodes"] == 1


def test_an_empty_listing_tags_to_an_empty_table():
    tagged, stats = tag(listing([]), load_registry(), corrections=NO_CORRECTIONS)
    assert tagged.height == 0 and tagged.columns == list(ORIGIN_TAGGED_MODELS.names)
    assert stats["lineage"]["status"] == dict.fromkeys(("original", "resolved", "external_root", "self_reference", "cycle", "depth_cap"), 0)


def test_shares_of_a_listing_without_downloads_are_undefined_not_zero():
    tagged = tag(listing([("Qwen/Q", 0, [], None), ("bartowski/Q-GGUF", 0, ["Qwen/Q"], None)]), load_registry(), corrections=NO_CORRECTIONS)[0]
    cov = coverage(tagged)
    assert math.isnan(cov["direct"]) and math.isnan(cov["lineage"])
    assert math.isnan(intermediary_share(tagged))


def test_registry_gaps_top_model_counts_unknown_downloads_as_zero_and_breaks_ties_by_the_smaller_id():
    # anon: zeta 7 and alpha 7 tie (alpha, the smaller id, carries the most); anon/unknown has no download
    # count, which is 0 and so can never be the top model, in either view (each is its own root).
    rows = [("anon/zeta", 7, [], None), ("anon/unknown", None, [], None), ("anon/alpha", 7, [], None)]
    tagged = tag(listing(rows), load_registry(), corrections=NO_CORRECTIONS)[0]
    gaps = registry_gaps(tagged, load_registry().lookup_at(month_end(dt.date(2026, 5, 1))), top=10)
    for view in (gaps.direct, gaps.lineage):
        assert view.select("namespace", "downloads_30d", "models", "top_model").rows() == [("anon", 14.0, 3, "anon/alpha")]


def test_registry_gaps_with_equal_downloads_are_listed_by_namespace_and_top_cuts_after_the_order():
    # zed, abc and mid each hold 5 unattributed downloads, big 9: big first, then the tie in name order.
    rows = [("zed/a", 5, [], None), ("big/a", 9, [], None), ("mid/a", 5, [], None), ("abc/a", 5, [], None)]
    tagged = tag(listing(rows), load_registry(), corrections=NO_CORRECTIONS)[0]
    lookup = load_registry().lookup_at(month_end(dt.date(2026, 5, 1)))
    for view in ("direct", "lineage"):
        full = getattr(registry_gaps(tagged, lookup, top=10), view)
        assert full.select("rank", "namespace").rows() == [(1, "big"), (2, "abc"), (3, "mid"), (4, "zed")], view
        assert full["registry"].to_list() == [""] * 4, view  # not in the registry: an empty note, not null
        cut = getattr(registry_gaps(tagged, lookup, top=2), view)
        assert cut.select("rank", "namespace").rows() == [(1, "big"), (2, "abc")], view


def test_registry_gaps_of_a_month_without_downloads_have_no_share_rather_than_nan():
    rows = [("anon/a", 0, [], None), ("anon/b", None, [], None)]
    tagged = tag(listing(rows), load_registry(), corrections=NO_CORRECTIONS)[0]
    gaps = registry_gaps(tagged, load_registry().lookup_at(month_end(dt.date(2026, 5, 1))), top=10)
    assert gaps.total_downloads == 0
    for view in (gaps.direct, gaps.lineage):
        assert view.select("namespace", "downloads_30d", "share", "models").rows() == [("anon", 0.0, None, 2)]


def test_registry_gaps_table_of_a_fully_attributed_view_says_so_instead_of_an_empty_table(capsys, tmp_path):
    from dominance_pipeline.cli.registry_gaps import _print_tables

    tagged = tag(listing([("Qwen/Q", 500, [], None), ("anon/x", 5, [], None)]), load_registry(), corrections=NO_CORRECTIONS)[0]
    gaps = registry_gaps(tagged.filter(pl.col("model_id") == "Qwen/Q"), load_registry().lookup_at(dt.date(2026, 5, 31)))
    _print_tables(gaps, ("direct", "lineage"), "2026-05-01", tmp_path / "x.parquet")
    lines = capsys.readouterr().out.splitlines()
    titles = [i for i, line in enumerate(lines) if line.startswith("Top 0 unattributed namespaces")]
    assert len(titles) == 2 and [lines[i + 1] for i in titles] == ["(none: every download is attributed)"] * 2
