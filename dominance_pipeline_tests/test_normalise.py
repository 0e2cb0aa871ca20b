"""Normalisation of hub-stats rows into the raw schema, with hand-made rows whose outcome is known."""

from __future__ import annotations

import datetime as dt
from contextlib import contextmanager

import polars as pl
import pytest

from dominance_pipeline.schemas import RAW_HUB_LISTINGS
from dominance_pipeline.sources.normalise import normalise

SNAP = dt.datetime(2026, 5, 31, 12, tzinfo=dt.UTC)
MONTH = dt.date(2026, 5, 1)


def hub_rows(*rows: dict) -> pl.DataFrame:
    base = {
        "id": None,
        "author": None,
        "createdAt": "2025-01-01T00:00:00.000Z",
        "lastModified": "2025-02-01T00:00:00.000Z",
        "downloads": 1,
        "downloadsAllTime": 10,
        "likes": 0,
        "trendingScore": 0.0,
        "tags": [],
        "pipeline_tag": "text-generation",
        "library_name": "transformers",
        "cardData": None,
    }
    return pl.DataFrame([{**base, **r} for r in rows], schema_overrides={"tags": pl.List(pl.String), "cardData": pl.String})


def test_clean_rows_map_to_raw_schema():
    out = normalise(hub_rows({"id": "Qwen/Qwen3-8B", "downloads": 5}), month=MONTH, snapshot_at=SNAP, source="local")
    assert out.rows.schema == pl.Schema(RAW_HUB_LISTINGS.columns)
    row = out.rows.row(0, named=True)
    assert (row["model_id"], row["author"], row["downloads_30d"], row["month"]) == ("Qwen/Qwen3-8B", "Qwen", 5, MONTH)
    assert row["created_at"] == dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    assert out.quarantine.is_empty()
    assert "gated" in out.notes["missing_columns"]


def test_repack_format_flags_gguf_and_mlx_builds_by_tag_or_library():
    out = normalise(
        hub_rows(
            {"id": "u/tag-gguf", "tags": ["gguf", "region:us"]},
            {"id": "u/tag-mlx", "tags": ["mlx"]},
            {"id": "u/lookalike", "tags": ["GGUF-my-repo", "gguf-conversion"]},
            {"id": "u/library", "tags": None, "library_name": "mlx"},
            {"id": "u/plain", "library_name": None},
        ),
        month=MONTH, snapshot_at=SNAP, source="local",
    )
    assert dict(out.rows.select("model_id", "repack_format").iter_rows()) == {
        "u/tag-gguf": True, "u/tag-mlx": True, "u/lookalike": False, "u/library": True, "u/plain": False,
    }


def test_author_is_the_namespace_of_ids_in_any_script():
    out = normalise(hub_rows({"id": "Çağrı/model-ç"}, {"id": "日本語/x"}, {"id": "a/b.c-d"}), month=MONTH, snapshot_at=SNAP, source="local")
    assert dict(out.rows.select("model_id", "author").iter_rows()) == {"Çağrı/model-ç": "Çağrı", "日本語/x": "日本語", "a/b.c-d": "a"}


def test_placeholder_creation_date_becomes_null():
    out = normalise(
        hub_rows({"id": "a/old", "createdAt": "2022-03-02T23:29:04.000Z"}, {"id": "a/new"}),
        month=MONTH, snapshot_at=SNAP, source="local",
    )
    created = dict(out.rows.select("model_id", "created_at").iter_rows())
    assert created["a/old"] is None and created["a/new"] is not None
    assert out.notes["placeholder_created_at"] == 1


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ({"id": None}, "missing_id"),
        ({"id": "  "}, "missing_id"),
        ({"id": "../../etc/passwd"}, "invalid_id"),
        ({"id": "no-namespace"}, "invalid_id"),
        ({"id": "a/b", "downloads": -3}, "negative_count"),
        ({"id": "a/b", "likes": 10**12}, "absurd_count"),
        ({"id": "a/b", "createdAt": "2027-01-01T00:00:00.000Z"}, "created_after_snapshot"),
        ({"id": "a/b", "createdAt": "not a date"}, "unparseable_date"),
    ],
)
def test_bad_rows_are_quarantined_with_reason(row, reason):
    out = normalise(hub_rows(row, {"id": "ok/model"}), month=MONTH, snapshot_at=SNAP, source="local")
    assert out.rows.get_column("model_id").to_list() == ["ok/model"]
    assert out.quarantine.get_column("reason").to_list() == [reason]
    assert out.notes["rows_in"] == out.rows.height + out.quarantine.height


@pytest.mark.parametrize("odd", ["2026-01-10", "2026-01-10T01:00:00+01:00", "2026-01-10 01:00:00+01:00", "2026-01-10 00:00:00", "2026-01-10T00:00:00"])
def test_each_date_is_read_on_its_own_wherever_it_stands_in_the_batch(odd):
    # polars' format inference would read the whole batch in the first value's format: the Hub's dates after
    # an odd first one would all be unparseable, and the same rows in another order all fine.
    rows = [{"id": "a/odd", "createdAt": odd}, *({"id": f"a/m{d}", "createdAt": f"2026-01-1{d}T00:00:00.000Z"} for d in (1, 2))]
    for batch in (hub_rows(*rows), hub_rows(*rows[::-1])):
        out = normalise(batch, month=MONTH, snapshot_at=SNAP, source="local")
        assert out.quarantine.is_empty()
        created = dict(out.rows.select("model_id", "created_at").iter_rows())
        assert created == {
            "a/odd": dt.datetime(2026, 1, 10, tzinfo=dt.UTC),
            "a/m1": dt.datetime(2026, 1, 11, tzinfo=dt.UTC),
            "a/m2": dt.datetime(2026, 1, 12, tzinfo=dt.UTC),
        }


def test_a_date_in_no_known_format_is_quarantined_alone():
    out = normalise(hub_rows({"id": "a/odd", "createdAt": "10/01/2026"}, {"id": "a/ok"}), month=MONTH, snapshot_at=SNAP, source="local")
    assert out.rows.get_column("model_id").to_list() == ["a/ok"]
    assert out.quarantine.select("model_id", "reason", "detail").rows() == [("a/odd", "unparseable_date", "createdAt")]


def test_columns_missing_or_recast_in_any_batch_are_reported_not_only_the_last_batch_s():
    first = pl.DataFrame({"id": ["a/x"], "likes": ["3"], "gated": ["auto"]})
    last = pl.DataFrame({"id": ["a/y"], "likes": [4]})
    out = normalise(lambda: [first, last], month=MONTH, snapshot_at=SNAP, source="local")
    assert out.rows.select("model_id", "likes", "gated").rows() == [("a/x", 3, "auto"), ("a/y", 4, None)]
    assert "gated" in out.notes["missing_columns"] and "likes" in out.notes["recast_columns"]


def test_a_listing_of_no_batches_is_empty_not_an_error():
    out = normalise(lambda: [], month=MONTH, snapshot_at=SNAP, source="local")
    assert out.rows.is_empty() and out.rows.schema == pl.Schema(RAW_HUB_LISTINGS.columns)
    assert out.quarantine.is_empty() and out.notes["rows_in"] == 0


def test_wrong_type_is_quarantined_not_nulled():
    df = pl.DataFrame({"id": ["a/x", "a/y"], "downloads": ["12", "lots"]})
    out = normalise(df, month=MONTH, snapshot_at=SNAP, source="local")
    assert out.rows.get_column("downloads_30d").to_list() == [12]
    q = out.quarantine.row(0, named=True)
    assert (q["model_id"], q["reason"], q["detail"]) == ("a/y", "wrong_type", "downloads")
    assert '"lots"' in q["row_json"]


def test_a_fractional_count_is_quarantined_not_truncated():
    df = pl.DataFrame({"id": ["a/x", "a/y", "a/z"], "downloads": [12.0, 1.7, 2.25]})
    out = normalise(df, month=MONTH, snapshot_at=SNAP, source="local")
    assert out.rows.select("model_id", "downloads_30d").rows() == [("a/x", 12)]
    assert out.quarantine.select("model_id", "reason", "detail").rows() == [("a/y", "wrong_type", "downloads"), ("a/z", "wrong_type", "downloads")]


def test_every_leniently_cast_column_is_checked_for_values_lost_in_the_cast():
    df = pl.DataFrame(
        {
            "id": ["a/ok", "a/score", "a/modified"],
            "trendingScore": ["1.5", "hot", "2"],
            "lastModified": ["2025-01-01T00:00:00Z", "2025-01-01T00:00:00Z", "last week"],
        }
    )
    out = normalise(df, month=MONTH, snapshot_at=SNAP, source="local")
    assert out.rows.get_column("trending_score").to_list() == [1.5]
    got = {r["model_id"]: (r["reason"], r["detail"]) for r in out.quarantine.iter_rows(named=True)}
    assert got == {"a/score": ("wrong_type", "trendingScore"), "a/modified": ("unparseable_date", "lastModified")}


def test_the_count_bound_is_a_parameter():
    rows = hub_rows({"id": "a/big", "downloads": 1_001}, {"id": "a/small", "downloads": 1_000})
    out = normalise(rows, month=MONTH, snapshot_at=SNAP, source="local", max_count=1_000)
    assert out.rows.get_column("model_id").to_list() == ["a/small"]
    assert out.quarantine.select("model_id", "reason", "detail").row(0) == ("a/big", "absurd_count", "downloads")


def test_duplicate_ids_keep_latest_and_quarantine_the_rest():
    out = normalise(
        hub_rows(
            {"id": "a/m", "downloads": 1, "lastModified": "2025-01-01T00:00:00.000Z"},
            {"id": "a/m", "downloads": 7, "lastModified": "2025-06-01T00:00:00.000Z"},
            {"id": "a/m", "downloads": 3, "lastModified": "2025-03-01T00:00:00.000Z"},
        ),
        month=MONTH, snapshot_at=SNAP, source="local",
    )
    assert out.rows.get_column("downloads_30d").to_list() == [7]
    assert out.quarantine.get_column("reason").to_list() == ["duplicate_id", "duplicate_id"]


def test_parents_merge_all_three_declarations():
    out = normalise(
        hub_rows(
            {
                "id": "x/ft",
                "tags": ["base_model:Qwen/A", "base_model:finetune:Qwen/A", "region:us"],
                "cardData": '{"base_model": ["Qwen/A", "meta-llama/B"]}',
            },
            {"id": "x/q", "cardData": '{"base_model": "google/C", "base_model_relation": "quantized"}'},
            {"id": "x/orig", "tags": ["region:us"]},
        ),
        month=MONTH, snapshot_at=SNAP, source="local",
    )
    got = {r["model_id"]: (r["base_model_ids"], r["base_relation"]) for r in out.rows.iter_rows(named=True)}
    assert got["x/ft"] == (["Qwen/A", "meta-llama/B"], "finetune")
    assert got["x/q"] == (["google/C"], "quantized")
    assert got["x/orig"] == ([], None)


def test_base_models_struct_is_read():
    df = pl.DataFrame(
        {
            "id": ["u/merge"],
            "baseModels": [{"relation": "merge", "models": [{"_id": "1", "id": "p/one"}, {"_id": "2", "id": "p/two"}]}],
        }
    )
    row = normalise(df, month=MONTH, snapshot_at=SNAP, source="local").rows.row(0, named=True)
    assert (row["base_model_ids"], row["base_relation"]) == (["p/one", "p/two"], "merge")


def test_real_sample_normalises_without_loss(sample_path):
    from dominance_pipeline.sources.local import infer_snapshot_at, scan_snapshot

    raw = pl.read_parquet(sample_path)
    out = normalise(scan_snapshot(sample_path), month=MONTH, snapshot_at=infer_snapshot_at(sample_path), source="local")
    assert out.rows.height + out.quarantine.height == raw.height
    assert out.quarantine.is_empty(), out.quarantine
    assert out.rows.get_column("downloads_30d").sum() == raw.get_column("downloads").sum()
    placeholders = raw.filter(pl.col("createdAt") == dt.datetime(2022, 3, 2, 23, 29, 4)).height
    assert out.notes["placeholder_created_at"] == placeholders > 0


def test_duplicates_in_different_batches_are_resolved_across_the_whole_listing():
    from dominance_pipeline.sources.normalise import normalise_batches

    batches = [
        hub_rows({"id": "a/m", "downloads": 1, "lastModified": "2025-01-01T00:00:00.000Z"}, {"id": "b/x", "downloads": 2}),
        hub_rows({"id": "a/m", "downloads": 7, "lastModified": "2025-06-01T00:00:00.000Z"}),
        hub_rows({"id": "a/m", "downloads": 3, "lastModified": "2025-03-01T00:00:00.000Z"}, {"id": "c/y", "downloads": -1}, {"id": "d/z"}),
    ]
    rows: list[pl.DataFrame] = []
    quarantined: list[pl.DataFrame] = []
    opened: list[str] = []

    @contextmanager
    def sinks():
        # A pass that is abandoned must leave its sinks with an exception, as a partition writer needs to
        # discard what it wrote; only the last pass's frames are kept.
        rows.clear()
        quarantined.clear()
        try:
            yield rows.append, quarantined.append
        except BaseException as exc:
            opened.append(f"abandoned: {type(exc).__name__}")
            raise
        opened.append("completed")

    notes = normalise_batches(lambda: iter(batches), month=MONTH, snapshot_at=SNAP, source="live", sinks=sinks)
    assert opened == ["abandoned: _RepeatedIds", "completed"] and notes["passes"] == 2
    kept = pl.concat(rows)
    assert kept.select("model_id", "downloads_30d").rows() == [("b/x", 2), ("a/m", 7), ("d/z", 1)]
    q = pl.concat(quarantined)
    assert sorted(q.select("model_id", "reason").rows()) == [("a/m", "duplicate_id"), ("a/m", "duplicate_id"), ("c/y", "negative_count")]
    assert (notes["rows_in"], notes["rows_out"], notes["quarantined"], notes["downloads_30d_total"]) == (6, 3, 3, 10)
    assert notes["quarantine_reasons"] == {"duplicate_id": 2, "negative_count": 1}


def test_a_listing_without_repeated_ids_is_read_once():
    from dominance_pipeline.sources.normalise import normalise_batches

    batches = [hub_rows({"id": "a/m"}, {"id": "b/x"}), hub_rows({"id": "c/y"}, {"id": "c/y", "downloads": -1})]
    reads: list[int] = []

    def listing():
        reads.append(1)
        return iter(batches)

    @contextmanager
    def sinks():
        yield (lambda rows: None), (lambda q: None)

    notes = normalise_batches(listing, month=MONTH, snapshot_at=SNAP, source="live", sinks=sinks)
    # c/y's second copy is quarantined for its count: only good rows' ids can repeat
    assert (len(reads), notes["passes"], notes["rows_out"], notes["quarantined"]) == (1, 1, 3, 1)


def test_fast_id_check_accepts_and_rejects_exactly_what_the_pattern_does():
    import random

    from dominance_pipeline.sources.normalise import MODEL_ID_PATTERN, valid_model_ids

    word = "aZ09_ßéñ日本語ٱ١𝔘\u0301\u200d"  # ASCII, Latin, CJK, Arabic letter and digit, astral letter, combining mark, ZWJ
    other = "./-  \t\n\r\x00'\"\\%@:~+日\u00a0\u2028😀"
    hostile = [
        "a/b", "a/" + "b" * 96, "a/" + "b" * 97, "a" * 96 + "/b", "a" * 97 + "/b", "a" * 96 + "/" + "b" * 96,
        "é" * 96 + "/" + "日" * 96, "é" * 97 + "/b", "a/" + "日" * 97, "𝔘" * 96 + "/x", "𝔘" * 97 + "/x",
        "a/b\n", "\na/b", "a/b ", "a//b", "/b", "a/", ".a/b", "-a/b", "_a/b", "a/b/c", "a/.b", "a/-", "a/b.c-d_e",
        "日本/模型", "ß/ẞ", "a\u0301/b", "\u0301a/b", "a/b\u200d", "a\tb/c", "a/b😀", "١٢/٣", "", "/", "gpt2", None,
    ]
    rng = random.Random(7)
    for _ in range(3000):
        n = rng.choice([1, 2, 5, 40, 95, 96, 97, 98, 99, 150])
        noisy = rng.random() < 0.3  # then any character may be one the pattern refuses
        ns = "".join(rng.choice(word + (other if noisy else "") + ("._-" if i else "")) for i in range(n))
        name = "".join(rng.choice(word + "._-" + (other if noisy else "")) for _ in range(rng.choice([1, 3, 96, 97])))
        hostile.append(ns + rng.choice(["/", "/", "//", "", "-"]) + name)
    ids = pl.Series("id", hostile, pl.String)
    expected = ids.str.contains(MODEL_ID_PATTERN)
    got = valid_model_ids(ids)
    differ = [i for i, e, g in zip(hostile, expected, got, strict=True) if e != g]
    assert not differ, differ[:5]
    assert expected.sum() > 300 and (~expected).sum() > 300, (expected.sum(), (~expected).sum())  # both outcomes exercised


def _parents_parsing_every_card(df: pl.DataFrame) -> list[tuple[list[str], str | None]]:
    """The three declarations merged the straightforward way: every cardData document parsed."""
    from_struct = pl.col("baseModels").struct.field("models").list.eval(pl.element().struct.field("id"))
    base_tags = pl.col("tags").list.eval(pl.element().filter(pl.element().str.starts_with("base_model:")))
    tag_ids = base_tags.list.eval(pl.element().str.replace(r"^base_model:(?:(?:finetune|adapter|quantized|merge):)?", ""))
    tag_relation = base_tags.list.eval(pl.element().str.extract(r"^base_model:(finetune|adapter|quantized|merge):", 1).drop_nulls()).list.first()
    card = pl.col("cardData").str.json_path_match("$.base_model")
    card_ids = (
        pl.when(card.str.starts_with("["))
        .then(card.str.strip_chars("[]").str.split(","))
        .otherwise(pl.concat_list(card))
        .list.eval(pl.element().str.strip_chars(" \"'").filter(pl.element().str.len_chars() > 0))
    )
    ids = (
        pl.concat_list(from_struct.fill_null([]), tag_ids.fill_null([]), card_ids.fill_null([]))
        .list.eval(pl.element().str.strip_chars())
        .list.unique(maintain_order=True)
    )
    relation = pl.coalesce(pl.col("baseModels").struct.field("relation"), tag_relation, pl.col("cardData").str.json_path_match("$.base_model_relation"))
    relation = pl.when(relation.is_in(["finetune", "adapter", "quantized", "merge"])).then(relation)
    return df.select(ids, relation).rows()


def test_cards_are_parsed_only_where_they_can_add_a_parent_with_the_same_result():
    """Most documents are read from their text (see normalise._redundant_cards); hostile ones must still
    come out as if every document had been parsed."""
    struct = {"relation": "finetune", "models": [{"_id": "1", "id": "org/base"}]}
    cards = [
        '{"base_model": "org/base"}',  # mirrored: read from the text
        '{"base_model": ["org/base"], "license": "mit"}',
        '{"base_model":"org/base","base_model_relation":"merge"}',
        '{"base_model": "org/other"}',  # adds a parent
        '{"base_model": ["org/base", "org/second"]}',
        '{"base_model": [ "org/base" , "x/y,z" ]}',  # a comma inside an id
        '{"base_model": "[org/base]"}',
        '{"base_model": " org/base "}',
        '{"base_model": "org/base", "base_model": "org/dup"}',  # duplicate key: the parser keeps one
        '{"model-index": {"base_model": "org/nested"}}',  # not top-level
        '{"model-index": {"base_model": "org/base"}, "base_model": "org/top"}',
        '{"base_model": "org/base"',  # not JSON
        '{"base_model": "org/base"} trailing',
        '{"base\\u005fmodel": "org/escaped"}',  # an escaped key
        '{"base_model": "org/b\\u0061se"}',  # an escaped value
        '{"base_model": "org/\\"quoted\\""}',
        '{"base_model": null}',
        '{"base_model": 42}',
        '{"base_model": {"id": "org/obj"}}',
        '{"base_model": ["org/base", null]}',
        '{"base_model": []}',
        '{"base_model"\t:\n"org/base"}',
        '{"base_model"\u00a0: "org/base"}',  # a no-break space is not JSON whitespace
        '{"tags": ["base_model"], "x": "org/base"}',
        '{"note": "base_model: org/fake"}',
        '{"base_model_relation": "quantized"}',
        '{"base_model": "org/base", "base_model_relation": "adapter"}',
        '{"base_model": "日本/模型"}',
        "not json at all base_model",
        "",
        None,
    ]
    rows = []
    for i, card in enumerate(cards):
        for declared in ({"baseModels": struct, "tags": ["base_model:org/base", "base_model:finetune:org/base"]}, {"baseModels": None, "tags": []}):
            rows.append({"id": f"u/m{i}-{len(rows)}", "cardData": card, **declared})
    # An escaped quote ends no string: the text up to it looks like a declared parent, the parsed value differs.
    rows.append({"id": "u/escaped", "cardData": '{"base_model": "org/base\\", \\"x"}', "baseModels": None, "tags": ["base_model:org/base\\"]})
    # A string value that looks like an array: json_path_match answers it unquoted, and that answer is split.
    bracketed = {"relation": "finetune", "models": [{"_id": "2", "id": "[org/base]"}]}
    rows.append({"id": "u/bracketed", "cardData": '{"base_model": "[org/base]"}', "baseModels": bracketed, "tags": []})
    # Cards that name a declared parent in text that reads back otherwise (quotes stripped, commas split), or not as
    # the top-level value: any shortcut that skips parsing them must keep these answers.
    for i, (parent, card) in enumerate([
        ("'org/q'", '{"base_model": "\'org/q\'"}'),  # quotes stripped from the card's id
        ("x/y,z", '{"base_model": ["x/y,z"]}'),  # an array's comma splits
        ("x/y,z", '{"base_model": "x/y,z"}'),
        ("org/a b", '{"base_model": ["org/a b"]}'),
        ("[org/base]", '{"base_model": ["[org/base]"]}'),
        ("org/base", '{"base_model": "org/base-extra"}'),
        ("org/base", '{"base_model": ["org/base", "org/more"]}'),
        ("org/base", '{"base_model": ["org/base"] , "x": 1}'),
        ("org/base", '{"m": {"base_model": "org/base"}}'),
        ("org/base", '{"base_model":"org/base"}'),
        ("org/base", '{"base_model": "org/base"'),
        # Seven two-byte characters before the key: read at a character offset, the text seven characters on
        # would be `"org/base"`, and the card's p/q would be lost.
        ("org/base", '{"n": "\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9", "base_model": ["p/q","org/base"]}'),
    ]):
        declared = {"relation": "merge", "models": [{"_id": "3", "id": parent}, {"_id": "4", "id": "org/second"}]}
        rows.append({"id": f"u/said{i}", "cardData": card, "baseModels": declared, "tags": []})
    df = pl.DataFrame(
        rows,
        schema={
            "id": pl.String,
            "cardData": pl.String,
            "baseModels": pl.Struct({"relation": pl.String, "models": pl.List(pl.Struct({"_id": pl.String, "id": pl.String}))}),
            "tags": pl.List(pl.String),
        },
    )
    out = normalise(df, month=MONTH, snapshot_at=SNAP, source="local").rows
    got = out.select("base_model_ids", "base_relation").rows()
    assert out.get_column("model_id").to_list() == df.get_column("id").to_list()
    assert got == _parents_parsing_every_card(df)
    assert ["org/base", "org/other"] in [ids for ids, _ in got]  # a card that adds a parent was parsed


def test_a_card_that_repeats_the_first_declared_parent_is_read_from_its_text():
    """The common case of _redundant_cards, checked by hand: `"base_model": "X"` or `["X"]`, X the first
    declared parent and made of id characters."""
    from dominance_pipeline.sources.normalise import _names_first_known

    cases = [
        (["org/base"], '{"base_model": "org/base", "license": "mit"}', True),
        (["org/base", "org/two"], '{"base_model": ["org/base"]}', True),
        (["\u00e9/x", "org/base"], '{"d": "\u00e9\u00e9", "base_model": "\u00e9/x"}', False),  # not id characters
        (["org/base"], '{"d": "\u00e9\u00e9", "base_model": "org/base"}', True),
        (["org/base"], '{"base_model": "org/base-2"}', False),
        (["org/base"], '{"base_model": ["org/base", "org/two"]}', False),
        (["org/two", "org/base"], '{"base_model": "org/base"}', False),  # not the first: left to the regex
        (["org/base"], '{"base_model":"org/base"}', False),  # not the Hub's spelling
        ([], '{"base_model": "org/base"}', False),
        (["org/base"], None, False),
    ]
    models = pl.DataFrame(
        {"_known": [k for k, _, _ in cases], "cardData": [c for _, c, _ in cases]},
        schema={"_known": pl.List(pl.String), "cardData": pl.String},
    )
    assert _names_first_known(models).to_list() == [want for _, _, want in cases]


def test_duplicate_ids_on_a_tie_keep_the_first_copy_and_an_undated_copy_loses():
    out = normalise(
        hub_rows(
            {"id": "a/tie", "downloads": 1, "lastModified": "2025-06-01T00:00:00.000Z"},
            {"id": "a/tie", "downloads": 7, "lastModified": "2025-06-01T00:00:00.000Z"},
            {"id": "b/undated", "downloads": 3, "lastModified": None},
            {"id": "b/undated", "downloads": 9, "lastModified": "2025-01-01T00:00:00.000Z"},
        ),
        month=MONTH,
        snapshot_at=SNAP,
        source="local",
    )
    assert dict(out.rows.select("model_id", "downloads_30d").iter_rows()) == {"a/tie": 1, "b/undated": 9}
    assert out.quarantine.get_column("reason").to_list() == ["duplicate_id", "duplicate_id"]


def test_an_undocumented_relation_is_dropped_but_its_parent_kept():
    card = '{"base_model": "google/C", "base_model_relation": "distillation"}'
    out = normalise(hub_rows({"id": "x/distilled", "cardData": card}), month=MONTH, snapshot_at=SNAP, source="local")
    row = out.rows.row(0, named=True)
    assert (row["base_model_ids"], row["base_relation"]) == (["google/C"], None)


def test_a_zoned_timestamp_column_is_the_same_instant_and_a_date_column_is_midnight_utc():
    from zoneinfo import ZoneInfo

    df = pl.DataFrame(
        {"id": ["a/tokyo"], "createdAt": [dt.datetime(2026, 1, 10, 9, tzinfo=ZoneInfo("Asia/Tokyo"))], "lastModified": [dt.date(2026, 1, 11)]}
    )
    out = normalise(df, month=MONTH, snapshot_at=SNAP, source="local")
    assert out.quarantine.is_empty()
    assert out.rows.select("created_at", "last_modified").row(0) == (dt.datetime(2026, 1, 10, tzinfo=dt.UTC), dt.datetime(2026, 1, 11, tzinfo=dt.UTC))


def test_one_malformed_tags_text_costs_only_its_own_row_its_tags():
    df = pl.DataFrame({"id": ["a/build", "a/broken", "a/none"], "tags": ['["gguf", "base_model:org/p"]', "[not json", None]})
    out = normalise(df, month=MONTH, snapshot_at=SNAP, source="local")
    got = {r["model_id"]: (r["tags"], r["repack_format"], r["base_model_ids"]) for r in out.rows.iter_rows(named=True)}
    assert got == {"a/build": (["gguf", "base_model:org/p"], True, ["org/p"]), "a/broken": ([], False, []), "a/none": ([], False, [])}


def test_card_data_given_as_an_object_is_read_like_its_json_text():
    card = pl.Struct({"base_model": pl.String, "base_model_relation": pl.String, "license": pl.String})
    df = pl.DataFrame(
        {"id": ["a/q", "a/plain"], "cardData": [{"base_model": "org/p", "base_model_relation": "quantized", "license": "mit"}, None]},
        schema={"id": pl.String, "cardData": card},
    )
    out = normalise(df, month=MONTH, snapshot_at=SNAP, source="local")
    assert out.rows.select("model_id", "base_model_ids", "base_relation").rows() == [("a/q", ["org/p"], "quantized"), ("a/plain", [], None)]


def test_the_relation_comes_from_the_first_declaration_that_has_one_and_the_first_tag_that_names_one():
    out = normalise(
        hub_rows(
            # a tag's relation comes before the card's
            {"id": "r/tag-over-card", "tags": ["base_model:adapter:org/p"], "cardData": '{"base_model_relation": "merge"}'},
            # the first relation tag wins
            {"id": "r/first-tag", "tags": ["base_model:quantized:org/p", "base_model:finetune:org/p"]},
            # a relation key spelled with an escape is still the key
            {"id": "r/escaped-key", "cardData": '{"base_model": "org/p", "base\\u005fmodel_relation": "quantized"}'},
            # nothing before the card names one: the card's
            {"id": "r/card-only", "tags": ["base_model:org/p"], "cardData": '{"base_model_relation": "merge"}'},
        ),
        month=MONTH, snapshot_at=SNAP, source="local",
    )
    assert dict(out.rows.select("model_id", "base_relation").iter_rows()) == {
        "r/tag-over-card": "adapter", "r/first-tag": "quantized", "r/escaped-key": "quantized", "r/card-only": "merge",
    }


def test_parent_ids_from_tags_are_stripped_of_surrounding_spaces():
    out = normalise(hub_rows({"id": "x/padded", "tags": ["base_model: org/p ", "base_model:finetune:  org/q"]}), month=MONTH, snapshot_at=SNAP, source="local")
    assert out.rows.select("base_model_ids", "base_relation").row(0) == (["org/p", "org/q"], "finetune")


def test_a_model_created_at_the_snapshot_instant_is_kept():
    at_snapshot = SNAP.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    out = normalise(hub_rows({"id": "a/just-now", "createdAt": at_snapshot}), month=MONTH, snapshot_at=SNAP, source="local")
    assert out.rows.select("model_id", "created_at").rows() == [("a/just-now", SNAP)]
    assert out.quarantine.is_empty()


def test_a_quarantined_copy_of_a_repeated_id_never_wins_over_its_good_copies():
    # The newest copy's count is beyond the bound passed in (not beyond the default): it is quarantined for that,
    # and of the two good copies the newer is kept. The quarantine holds each rejected row once.
    out = normalise(
        hub_rows(
            {"id": "a/m", "downloads": 3, "lastModified": "2024-01-01T00:00:00.000Z"},
            {"id": "a/m", "downloads": 5_000, "lastModified": "2025-06-01T00:00:00.000Z"},
            {"id": "a/m", "downloads": 5, "lastModified": "2025-01-01T00:00:00.000Z"},
        ),
        month=MONTH, snapshot_at=SNAP, source="local", max_count=1_000,
    )
    assert out.rows.select("model_id", "downloads_30d").rows() == [("a/m", 5)]
    assert sorted(out.quarantine.select("reason", "detail").rows(), key=str) == [("absurd_count", "downloads"), ("duplicate_id", None)]
    assert out.notes["passes"] == 2 and out.notes["quarantine_reasons"] == {"absurd_count": 1, "duplicate_id": 1}


def test_copies_of_an_id_apart_in_the_listing_are_found():
    out = normalise(
        hub_rows(
            {"id": "a/m", "downloads": 1, "lastModified": "2025-01-01T00:00:00.000Z"},
            {"id": "b/x", "downloads": 2},
            {"id": "c/y", "downloads": 4},
            {"id": "a/m", "downloads": 7, "lastModified": "2025-06-01T00:00:00.000Z"},
        ),
        month=MONTH, snapshot_at=SNAP, source="local",
    )
    assert dict(out.rows.select("model_id", "downloads_30d").iter_rows()) == {"a/m": 7, "b/x": 2, "c/y": 4}
    assert out.quarantine.select("model_id", "reason").rows() == [("a/m", "duplicate_id")]


def test_params_total_is_safetensors_total_else_the_gguf_total_when_that_is_an_integer():
    df = pl.DataFrame(
        {
            "id": ["p/both", "p/gguf", "p/half", "p/none"],
            "safetensors": [{"total": 8}, None, None, None],
            "gguf": ['{"total": 3}', '{"total": 3, "architecture": "llama"}', '{"total": 2.5}', None],
        },
        schema={"id": pl.String, "safetensors": pl.Struct({"total": pl.Int64}), "gguf": pl.String},
    )
    out = normalise(df, month=MONTH, snapshot_at=SNAP, source="local")
    assert dict(out.rows.select("model_id", "params_total").iter_rows()) == {"p/both": 8, "p/gguf": 3, "p/half": None, "p/none": None}


def test_notes_count_placeholder_dates_and_author_mismatches_among_kept_rows_only():
    placeholder = "2022-03-02T23:29:04.000Z"
    out = normalise(
        hub_rows(
            {"id": "org/kept", "author": "org", "createdAt": placeholder},
            {"id": "org/other", "author": "someone-else"},
            {"id": "org/bad", "author": "someone-else", "createdAt": placeholder, "downloads": -1},
        ),
        month=MONTH, snapshot_at=SNAP, source="local",
    )
    assert out.rows.height == 2
    assert (out.notes["placeholder_created_at"], out.notes["author_mismatch"]) == (1, 1)


def test_a_snapshot_time_given_with_an_offset_is_the_same_instant_in_utc():
    two_hours_east = dt.datetime(2026, 5, 31, 14, tzinfo=dt.timezone(dt.timedelta(hours=2)))  # 12:00 UTC
    out = normalise(
        hub_rows({"id": "a/before", "createdAt": "2026-05-31T11:00:00.000Z"}, {"id": "a/after", "createdAt": "2026-05-31T13:00:00.000Z"}),
        month=MONTH, snapshot_at=two_hours_east, source="local",
    )
    assert out.rows.select("model_id", "snapshot_at").rows() == [("a/before", dt.datetime(2026, 5, 31, 12, tzinfo=dt.UTC))]
    assert out.quarantine.select("model_id", "reason").rows() == [("a/after", "created_after_snapshot")]


def test_a_column_missing_only_from_the_first_batch_is_reported():
    first = pl.DataFrame({"id": ["a/x"]})
    last = pl.DataFrame({"id": ["a/y"], "gated": ["auto"]})
    out = normalise(lambda: [first, last], month=MONTH, snapshot_at=SNAP, source="local")
    assert "gated" in out.notes["missing_columns"]
    assert out.rows.select("model_id", "gated").rows() == [("a/x", None), ("a/y", "auto")]


def test_a_date_column_of_numbers_is_quarantined_not_read_as_an_epoch():
    df = pl.DataFrame({"id": ["a/epoch"], "createdAt": [1_767_225_600]})
    out = normalise(df, month=MONTH, snapshot_at=SNAP, source="local")
    assert out.rows.is_empty()
    assert out.quarantine.select("model_id", "reason", "detail").rows() == [("a/epoch", "unparseable_date", "createdAt")]
