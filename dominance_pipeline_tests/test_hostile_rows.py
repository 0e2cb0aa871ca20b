"""A corpus of hostile rows, fed through the local file path and the live server path: each row ends either
normalised or in quarantine with the reason the corpus expects, and none is lost.

`data/hostile_rows.jsonl` holds one raw `/api/models` item per line, byte for byte as a server would send
it (three lines carry bytes that are not UTF-8, which no JSON escape can express). Each object names its
expected fate in `_expect` (`normalised` or `quarantined:<reason>[:<detail>]`), `_expect_local` where the
local path differs, and `_why`: all three are unknown fields that the pipeline must ignore. Lines that are
not JSON objects are expected as `wrong_type:item` (live only: a Parquet row cannot be a bare string).
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from collections import Counter
from pathlib import Path

import duckdb
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dominance_pipeline.hubserver import HubServer
from dominance_pipeline.hubserver.faults import parse_fault
from dominance_pipeline.hubserver.models import ModelCorpus
from dominance_pipeline.sources.normalise import HUB_COLUMNS
from dominance_pipeline_tests.fakehub import materialize_raw, raw_metadata, synthetic_models

CORPUS = Path(__file__).parent / "data" / "hostile_rows.jsonl"
JUNE_5 = dt.datetime(2026, 6, 5, tzinfo=dt.UTC)
COUNTS = ("downloads", "downloadsAllTime", "likes")
JSON_TEXT = ("cardData", "baseModels", "safetensors", "gguf")


def corpus() -> list[object]:
    """The items as a client decodes them: bytes that are not UTF-8 become lone surrogates."""
    return [json.loads(line.decode("utf-8", "surrogateescape")) for line in CORPUS.read_bytes().splitlines() if line.strip()]


def expected_fate(item: object, path: str) -> str:
    if not isinstance(item, dict):
        return "quarantined:wrong_type:item"
    return item.get(f"_expect_{path}", item["_expect"])


def actual_fates(warehouse: Path, key: str, exclude: set[str] = frozenset()) -> tuple[Counter, dict[str, list[str]]]:
    """Every fate the run gave, as a multiset, and by (stripped) model id where there is one."""
    raw = pl.read_parquet(warehouse / "raw_hub_listings" / f"month={key}" / "data.parquet")
    q = pl.read_parquet(warehouse / "quarantine" / "raw_hub_listings" / f"month={key}" / "data.parquet")
    by_id: dict[str, list[str]] = {}
    fates: Counter = Counter()
    for model_id in raw["model_id"]:
        if model_id not in exclude:
            fates["normalised"] += 1
            by_id.setdefault(model_id, []).append("normalised")
    for model_id, reason, detail in q.select("model_id", "reason", "detail").iter_rows():
        fate = f"quarantined:{reason}" + (f":{detail}" if detail else "")
        fates[fate] += 1
        if model_id:
            by_id.setdefault(model_id, []).append(fate)
    return fates, by_id


def expected_by_id(items: list[object], path: str) -> dict[str, list[str]]:
    """Fates of the items whose id a test can name: a valid-Unicode string that is not blank."""
    out: dict[str, list[str]] = {}
    for item in items:
        if not isinstance(item, dict) or item.get("id") is None:
            continue
        # A Parquet column of text holds a non-string id as its JSON text; the live source does not keep it.
        model_id = item["id"] if isinstance(item["id"], str) else json.dumps(item["id"]) if path == "local" else ""
        if not model_id.strip() or item["_expect"].startswith("quarantined:invalid_text:id"):
            continue  # blank, or unreadable: the quarantine row has no id to name it by
        out.setdefault(model_id.strip(), []).append(expected_fate(item, path))
    return {k: sorted(v) for k, v in out.items()}


def _bytes(text: str) -> bytes:
    """The bytes a string came from: surrogateescape restores undecodable bytes, a lone surrogate escape
    becomes its (invalid) UTF-8 encoding."""
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogatepass")


def _valid(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _column(key: str, values: list[object]) -> pa.Array:
    """One column of the corpus as a Parquet exporter would write it: the Hub's type when every value has
    it, otherwise text (strings as they are, anything else as its JSON); text that is not valid Unicode as
    binary, which is the only way Parquet can hold it."""
    if key in JSON_TEXT:
        texts = [None if v is None else json.dumps(v, ensure_ascii=False) for v in values]
    elif key in COUNTS and all(v is None or (type(v) is int and -(2**63) <= v < 2**63) for v in values):
        return pa.array(values, pa.int64())
    elif key == "trendingScore" and all(v is None or (isinstance(v, int | float) and not isinstance(v, bool) and abs(v) <= sys.float_info.max) for v in values):
        return pa.array([None if v is None else float(v) for v in values], pa.float64())
    elif key == "tags" and all(v is None or (isinstance(v, list) and all(isinstance(t, str) for t in v)) for v in values):
        if all(v is None or all(_valid(t) for t in v) for v in values):
            return pa.array(values, pa.list_(pa.string()))
        return pa.array([None if v is None else [_bytes(t) for t in v] for v in values], pa.list_(pa.binary()))
    else:
        texts = [v if v is None or isinstance(v, str) else json.dumps(v, ensure_ascii=False) for v in values]
    if all(t is None or _valid(t) for t in texts):
        return pa.array(texts, pa.string())
    return pa.array([None if t is None else _bytes(t) for t in texts], pa.binary())


def hostile_parquet(items: list[object], path: Path) -> Path:
    rows = [item for item in items if isinstance(item, dict)]
    keys = [*HUB_COLUMNS, "_why", "someNewField"]
    pq.write_table(pa.table({k: _column(k, [r.get(k) for r in rows]) for k in keys}), path)
    return path


def check_no_row_lost(meta: dict, fates: Counter, expected: Counter, extra_rows: int = 0) -> None:
    assert meta["rows_in"] == meta["dagster/row_count"] + meta["quarantined"]
    assert meta["rows_in"] == sum(expected.values()) + extra_rows
    assert fates == expected
    # A repeated id is only known at the end of the listing: the first pass is abandoned and a second writes
    assert meta["listing_passes"] == (2 if any(f.endswith(":duplicate_id") for f in expected) else 1)


def test_the_corpus_covers_what_the_issue_lists():
    items = corpus()
    reasons = {expected_fate(i, "live").split(":")[1] for i in items if expected_fate(i, "live") != "normalised"}
    assert reasons >= {"missing_id", "duplicate_id", "invalid_text", "invalid_id", "negative_count", "absurd_count",
                       "created_after_snapshot", "wrong_type", "unparseable_date", "non_finite"}
    raw = CORPUS.read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")  # really not UTF-8
    assert b"\\ud800" in raw and b"../../etc" in raw and b"\\u001b" in raw


def test_hostile_rows_through_the_local_file_path(tmp_path):
    items = corpus()
    snapshot = hostile_parquet(items, tmp_path / "hostile.parquet")
    result = materialize_raw(tmp_path / "data", "2026-02-01", {"source": "local", "snapshot": str(snapshot)})
    assert result.success
    meta = raw_metadata(result)
    fates, by_id = actual_fates(tmp_path / "data" / "warehouse", "2026-02-01")
    rows = [i for i in items if isinstance(i, dict)]
    check_no_row_lost(meta, fates, Counter(expected_fate(i, "local") for i in rows))
    assert {k: sorted(v) for k, v in by_id.items()} == expected_by_id(rows, "local")
    # The snapshot time comes from the newest date that is not in the future: 2099 is a broken row.
    assert meta["snapshot_at"] == "2026-03-01T00:00:00+00:00"
    check_contents(tmp_path / "data" / "warehouse", "2026-02-01")


def test_hostile_rows_through_the_live_server_path(tmp_path):
    items = corpus()
    models = synthetic_models(200)
    inject = parse_fault(f"inject:path={CORPUS},after=1,times=1")  # into the second page
    with HubServer(ModelCorpus(models), faults=[inject], as_of=JUNE_5) as server:
        result = materialize_raw(tmp_path, "2026-05-01", {"source": "live"}, server.url, page_size=50)
        assert inject.fired == 1
    assert result.success
    meta = raw_metadata(result)
    fates, by_id = actual_fates(tmp_path / "warehouse", "2026-05-01", exclude=set(models["id"]))
    check_no_row_lost(meta, fates, Counter(expected_fate(i, "live") for i in items), extra_rows=200)
    assert meta["listing_models"] == 200 + len(items) and meta["listing_repeats"] == 0
    assert {k: sorted(v) for k, v in by_id.items()} == expected_by_id(items, "live")
    raw = pl.read_parquet(tmp_path / "warehouse" / "raw_hub_listings" / "month=2026-05-01" / "data.parquet")
    assert set(models["id"]) <= set(raw["model_id"])
    check_contents(tmp_path / "warehouse", "2026-05-01")


def check_contents(warehouse: Path, key: str) -> None:
    """What the normalised hostile rows hold, and that the quarantine keeps the original values."""
    raw = pl.read_parquet(warehouse / "raw_hub_listings" / f"month={key}" / "data.parquet")
    row = {r["model_id"]: r for r in raw.iter_rows(named=True)}
    assert row["good/offset-time"]["created_at"] == dt.datetime(2026, 1, 10, tzinfo=dt.UTC)
    assert row["good/placeholder-date"]["created_at"] is None
    assert row["good/control-chars-in-text"]["pipeline_tag"] == "text-generation\x07"
    assert row["good/deep-card"]["base_model_ids"] == ["org/parent"]
    assert row["dup/model"]["downloads_30d"] == 9
    assert row["good/null-counts"]["downloads_30d"] is None
    assert "good/padded" in row and "组织/模型-7B" in row
    assert not any(m.startswith(("/", ".", "..")) or "\\" in m or ".." in m for m in raw["model_id"])
    q = pl.read_parquet(warehouse / "quarantine" / "raw_hub_listings" / f"month={key}" / "data.parquet")
    bad_byte = q.filter((pl.col("reason") == "invalid_text") & (pl.col("detail") == "author"))["row_json"].item()
    assert "caf\\\\udce9" in bad_byte  # the byte 0xE9 kept (JSON-escaped inside the row's JSON)
    assert q.filter(pl.col("model_id") == "../../etc/passwd")["reason"].to_list() == ["invalid_id"]
    # Both files are valid Parquet with valid UTF-8: an analyst's DuckDB reads them.
    con = duckdb.connect()
    for path in (warehouse / "raw_hub_listings", warehouse / "quarantine" / "raw_hub_listings"):
        count = con.execute(f"SELECT count(*) FROM read_parquet('{path}/month={key}/data.parquet')").fetchone()[0]
        assert count == (raw.height if path.name == "raw_hub_listings" and "quarantine" not in str(path) else q.height)
