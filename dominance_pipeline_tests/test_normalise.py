"""Normalisation of hub-stats rows into the raw schema, with hand-made rows whose outcome is known."""

from __future__ import annotations

import datetime as dt

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


def test_wrong_type_is_quarantined_not_nulled():
    df = pl.DataFrame({"id": ["a/x", "a/y"], "downloads": ["12", "lots"]})
    out = normalise(df, month=MONTH, snapshot_at=SNAP, source="local")
    assert out.rows.get_column("downloads_30d").to_list() == [12]
    q = out.quarantine.row(0, named=True)
    assert (q["model_id"], q["reason"], q["detail"]) == ("a/y", "wrong_type", "downloads")
    assert '"lots"' in q["row_json"]


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
    notes = normalise_batches(
        lambda: iter(batches), month=MONTH, snapshot_at=SNAP, source="live",
        write_rows=rows.append, write_quarantine=quarantined.append,
    )
    kept = pl.concat(rows)
    assert kept.select("model_id", "downloads_30d").rows() == [("b/x", 2), ("a/m", 7), ("d/z", 1)]
    q = pl.concat(quarantined)
    assert sorted(q.select("model_id", "reason").rows()) == [("a/m", "duplicate_id"), ("a/m", "duplicate_id"), ("c/y", "negative_count")]
    assert (notes["rows_in"], notes["rows_out"], notes["quarantined"], notes["downloads_30d_total"]) == (6, 3, 3, 10)
    assert notes["quarantine_reasons"] == {"duplicate_id": 2, "negative_count": 1}
