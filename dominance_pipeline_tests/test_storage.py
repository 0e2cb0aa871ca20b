"""Hive-layout Parquet with atomic publish, and the DuckDB views over it."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import dagster as dg
import duckdb
import polars as pl
import pytest
from dagster_duckdb import DuckDBResource

from dominance_pipeline.defs.partitions import monthly
from dominance_pipeline.defs.resources import WarehouseIOManager
from dominance_pipeline.schemas import Schema, SchemaError, conform
from dominance_pipeline.storage import accepted, handoff, parquet, verdicts
from dominance_pipeline.storage.duckdb_views import ensure_views


def frame(month: str, n: int) -> pl.DataFrame:
    return pl.DataFrame({"month": [dt.date.fromisoformat(month)] * n, "x": list(range(n))})


def test_layout_and_replace(tmp_path):
    path = parquet.write_partition(frame("2026-05-01", 3), tmp_path, "t", "2026-05-01")
    assert path == tmp_path / "t" / "month=2026-05-01" / "data.parquet"
    parquet.write_partition(frame("2026-05-01", 2), tmp_path, "t", "2026-05-01")
    assert parquet.read_partition(tmp_path, "t", "2026-05-01").height == 2
    assert [p.name for p in path.parent.iterdir()] == ["data.parquet"]


def test_failed_write_leaves_previous_partition(tmp_path):
    parquet.write_partition(frame("2026-05-01", 3), tmp_path, "t", "2026-05-01")
    with pytest.raises(RuntimeError):
        with parquet.publishing(parquet.partition_file(tmp_path, "t", "2026-05-01")) as tmp:
            tmp.write_bytes(b"half a file")
            raise RuntimeError("killed mid-write")
    assert parquet.read_partition(tmp_path, "t", "2026-05-01").height == 3
    assert [p.name for p in (tmp_path / "t" / "month=2026-05-01").iterdir()] == ["data.parquet"]


def test_readers_see_all_months(tmp_path):
    for m, n in (("2026-04-01", 1), ("2026-05-01", 2)):
        parquet.write_partition(frame(m, n), tmp_path, "t", m)
    # a stray temporary file from a killed writer is never read
    (tmp_path / "t" / "month=2026-05-01" / ".data.parquet.dead.tmp").write_bytes(b"junk")
    assert parquet.scan_table(tmp_path, "t").collect().height == 3
    assert parquet.materialized_months(tmp_path, "t") == ["2026-04-01", "2026-05-01"]
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    assert ensure_views(con, tmp_path, ["t", "absent"]) == ["t"]
    assert con.sql("select month, count(*) from t group by month order by month").fetchall() == [
        (dt.date(2026, 4, 1), 1),
        (dt.date(2026, 5, 1), 2),
    ]
    parquet.write_partition(frame("2026-06-01", 4), tmp_path, "t", "2026-06-01")
    assert con.execute("select count(*) from t").fetchone() == (7,)


def test_io_manager_loads_only_the_columns_an_input_asks_for(tmp_path):
    parquet.write_partition(frame("2026-05-01", 3).with_columns(y=pl.lit("a")), tmp_path, "t", "2026-05-01")
    io = WarehouseIOManager(root=str(tmp_path), duckdb=DuckDBResource(database=str(tmp_path / "d.duckdb")))

    def load(metadata):
        ctx = dg.build_input_context(
            asset_key="t", partition_key="2026-05-01", asset_partitions_def=monthly, definition_metadata=metadata
        )
        return io.load_input(ctx)

    assert load({"columns": ["x"]}).columns == ["x"]
    assert load(None).columns == ["month", "x", "y"]
    assert parquet.partition_rows(tmp_path, "t", "2026-05-01") == 3
    assert parquet.partition_rows(tmp_path, "t", "2026-04-01") is None


def test_handoff_serves_a_published_frame_only_while_its_file_is_unchanged(tmp_path):
    published = frame("2026-05-01", 3).with_columns(y=pl.lit("a"))
    path = parquet.write_partition(published, tmp_path, "t", "2026-05-01")
    handoff.remember("t", path, published)
    try:
        assert handoff.recall("t", path, ["x"]).equals(published.select("x"))
        assert handoff.recall("t", path, ["x", "not_a_column"]) is None  # the file would say which is missing
        assert handoff.recall("other", path) is None
        io = WarehouseIOManager(root=str(tmp_path), duckdb=DuckDBResource(database=str(tmp_path / "d.duckdb")))
        ctx = dg.build_input_context(asset_key="t", partition_key="2026-05-01", asset_partitions_def=monthly)
        assert io.load_input(ctx).equals(published)
        # Another writer (a second process, a re-run) replaces the file: memory is no longer served.
        replaced = frame("2026-05-01", 5).with_columns(y=pl.lit("b"))
        parquet.write_partition(replaced, tmp_path, "t", "2026-05-01")
        assert handoff.recall("t", path) is None
        assert io.load_input(ctx).equals(replaced)
        handoff.remember("t", path, replaced)
        handoff.forget()
        assert handoff.recall("t", path) is None
    finally:
        handoff.forget()


def test_the_raw_columns_kept_while_publishing_are_the_published_ones_and_serve_only_themselves(tmp_path):
    from dominance_pipeline.defs.ingest import HANDED_ON
    from dominance_pipeline.sources.publish import parquet_batches, publish_listing
    from dominance_pipeline_tests.conftest import SAMPLE

    notes = publish_listing(
        parquet_batches(SAMPLE, batch_rows=1_000), warehouse=tmp_path, quarantine=tmp_path / "quarantine",
        month=dt.date(2026, 5, 1), snapshot_at=dt.datetime(2026, 6, 1, tzinfo=dt.UTC), source="local", keep=HANDED_ON,
    )
    path = notes["path"]
    assert notes["kept"].equals(pl.read_parquet(path, columns=list(HANDED_ON)))  # every row, as written
    handoff.remember("raw_hub_listings", path, notes["kept"], complete=False)
    try:
        assert handoff.recall("raw_hub_listings", path, ["model_id", "downloads_30d"]).height == notes["rows_out"]
        assert handoff.recall("raw_hub_listings", path, ["tags"]) is None  # not kept: the file has it
        assert handoff.recall("raw_hub_listings", path) is None  # the whole partition is only in the file
    finally:
        handoff.forget()


def test_a_partition_written_before_a_column_existed_is_read_with_it_computed(tmp_path):
    from dominance_pipeline.storage.upgrade import StalePartitionError

    # Written by the version before repack_format: the flag is derived from tags and library_name on read,
    # by hand here: a gguf tag, an mlx library, neither, and no tags at all.
    old = pl.DataFrame(
        {
            "month": [dt.date(2025, 1, 1)] * 4,
            "model_id": ["a/q-GGUF", "b/m-mlx", "c/plain", "d/none"],
            "tags": [["gguf", "region:us"], ["text-generation"], ["transformers"], None],
            "library_name": [None, "mlx", "transformers", None],
        }
    )
    parquet.write_partition(old, tmp_path, "raw_hub_listings", "2025-01-01")
    got = parquet.read_partition(tmp_path, "raw_hub_listings", "2025-01-01", ["model_id", "repack_format"])
    assert got.columns == ["model_id", "repack_format"]
    assert got.get_column("repack_format").to_list() == [True, True, False, False]
    assert parquet.read_partition(tmp_path, "raw_hub_listings", "2025-01-01").columns == [*old.columns, "repack_format"]
    # Anything else missing cannot be made up: the error names the month to materialize again.
    with pytest.raises(StalePartitionError, match=r"no column params_total.*--month 2025-01"):
        parquet.read_partition(tmp_path, "raw_hub_listings", "2025-01-01", ["model_id", "params_total"])
    # A table with nothing derivable reports the same way.
    parquet.write_partition(frame("2026-05-01", 2), tmp_path, "t", "2026-05-01")
    with pytest.raises(StalePartitionError, match="no column y"):
        parquet.read_partition(tmp_path, "t", "2026-05-01", ["x", "y"])


def test_a_listing_with_a_repeated_id_is_published_and_kept_once_from_its_second_pass(tmp_path):
    from dominance_pipeline.defs.ingest import HANDED_ON
    from dominance_pipeline.sources.publish import parquet_batches, publish_listing
    from dominance_pipeline_tests.conftest import SAMPLE

    listing = pl.read_parquet(SAMPLE)
    repeated = listing.head(3).with_columns(pl.col("downloads") + 1)  # later batches repeat the first ids
    pl.concat([listing, repeated]).write_parquet(tmp_path / "hub.parquet")
    notes = publish_listing(
        parquet_batches(tmp_path / "hub.parquet", batch_rows=1_000), warehouse=tmp_path, quarantine=tmp_path / "quarantine",
        month=dt.date(2026, 5, 1), snapshot_at=dt.datetime(2026, 6, 1, tzinfo=dt.UTC), source="local", keep=HANDED_ON,
    )
    published = pl.read_parquet(notes["path"])
    quarantined = pl.read_parquet(notes["quarantine_path"])
    assert notes["passes"] == 2
    assert published.height == listing.height and published.get_column("model_id").n_unique() == listing.height
    assert sorted(quarantined.get_column("model_id")) == sorted(repeated.get_column("id"))
    assert set(quarantined.get_column("reason")) == {"duplicate_id"}
    assert notes["kept"].equals(published.select(HANDED_ON))  # the first pass's rows are not in it
    # Only the two published files are left: the abandoned pass's temporary files are gone.
    leftovers = [p.name for p in tmp_path.rglob("*") if p.is_file() and p.suffix != ".parquet"]
    assert leftovers == []


def test_nested_columns_are_written_from_row_group_sized_chunks_with_the_same_values(tmp_path):
    roots = [[{"id": f"m{i}", "w": 1.0}] if i % 3 else [{"id": f"a{i}", "w": 0.5}, {"id": f"b{i}", "w": 0.5}] for i in range(10)]
    df = pl.DataFrame({"x": list(range(10)), "roots": roots, "ids": [[f"p{i}"] * (i % 2) for i in range(10)]})
    assert df.get_column("roots").chunk_lengths() == [10]

    split = parquet.in_row_groups(df, rows=4)
    assert split.get_column("roots").chunk_lengths() == [4, 4, 2]
    assert split.get_column("ids").chunk_lengths() == [4, 4, 2]
    assert split.get_column("x").chunk_lengths() == [10]  # flat columns are left as they are
    assert split.equals(df)
    assert parquet.in_row_groups(split, rows=4) is split  # already short enough: nothing copied

    path = parquet.write_partition(df, tmp_path, "t", "2026-05-01")
    assert pl.read_parquet(path).equals(df)


def _listing(root, quarantine, month: str, rows: int) -> tuple[bytes, bytes]:
    """Publish a raw partition of `rows` ids and a quarantine of one row; return both files' bytes."""
    data = parquet.write_partition(pl.DataFrame({"model_id": [f"o/m{i}" for i in range(rows)]}), root, "raw_hub_listings", month)
    q = parquet.write_partition(pl.DataFrame({"model_id": [f"bad{rows}"]}), quarantine, "raw_hub_listings", month)
    return data.read_bytes(), q.read_bytes()


def _judge(root, month: str, passed: bool) -> None:
    verdicts.record(root, "raw_hub_listings", month, verdicts.identity(parquet.partition_file(root, "raw_hub_listings", month)), passed, "" if passed else "ERROR x")


def _now(root, quarantine, month: str) -> tuple[bytes, bytes]:
    return parquet.partition_file(root, "raw_hub_listings", month).read_bytes(), parquet.partition_file(quarantine, "raw_hub_listings", month).read_bytes()


def test_a_rejected_listing_gives_way_to_the_accepted_one_it_replaced(tmp_path):
    root, q, m = tmp_path / "w", tmp_path / "w" / "quarantine", "2026-05-01"
    good = _listing(root, q, m, 3)
    _judge(root, m, passed=True)
    assert accepted.keep(root, "raw_hub_listings", m, q)
    bad = _listing(root, q, m, 5)
    _judge(root, m, passed=False)
    settled = accepted.settle(root, "raw_hub_listings", m, False, q)
    assert settled == accepted.Settled(accepted.rejected_dir(root, "raw_hub_listings", m), restored=True)
    out = settled.rejected
    assert _now(root, q, m) == good and verdicts.read(root, "raw_hub_listings", m).state == verdicts.PASSED
    assert ((out / "data.parquet").read_bytes(), (out / "quarantine.parquet").read_bytes()) == bad
    assert not accepted.previous_dir(root, "raw_hub_listings", m).exists()


def test_a_passed_listing_drops_the_one_aside_and_a_rejected_one_leaves_even_with_nothing_to_go_back_to(tmp_path):
    root, q, m = tmp_path / "w", tmp_path / "w" / "quarantine", "2026-05-01"
    _listing(root, q, m, 3)
    _judge(root, m, passed=True)
    accepted.keep(root, "raw_hub_listings", m, q)
    newer = _listing(root, q, m, 4)
    assert accepted.settle(root, "raw_hub_listings", m, True, q) is None
    assert _now(root, q, m) == newer and not accepted.previous_dir(root, "raw_hub_listings", m).exists()
    # June's first listing is rejected: nothing to go back to, so June has no listing now; its verdict says why.
    assert not accepted.keep(root, "raw_hub_listings", "2026-06-01", q)
    june = _listing(root, q, "2026-06-01", 2)
    _judge(root, "2026-06-01", passed=False)
    settled = accepted.settle(root, "raw_hub_listings", "2026-06-01", False, q)
    assert settled is not None and not settled.restored
    assert not parquet.partition_file(root, "raw_hub_listings", "2026-06-01").exists()
    assert not parquet.partition_file(q, "raw_hub_listings", "2026-06-01").exists()
    assert ((settled.rejected / "data.parquet").read_bytes(), (settled.rejected / "quarantine.parquet").read_bytes()) == june
    verdict = verdicts.read(root, "raw_hub_listings", "2026-06-01")
    assert verdict.state == verdicts.FAILED and verdict.summary == "ERROR x"


def test_a_listing_never_judged_does_not_push_the_accepted_one_out(tmp_path):
    # A run published May and died before its check; the next run's listing is rejected: the accepted one
    # from before both comes back, not the unjudged one.
    root, q, m = tmp_path / "w", tmp_path / "w" / "quarantine", "2026-05-01"
    good = _listing(root, q, m, 3)
    _judge(root, m, passed=True)
    accepted.keep(root, "raw_hub_listings", m, q)
    _listing(root, q, m, 4)  # never judged
    assert verdicts.read(root, "raw_hub_listings", m).state == verdicts.UNCHECKED
    assert accepted.keep(root, "raw_hub_listings", m, q)
    _listing(root, q, m, 5)
    _judge(root, m, passed=False)
    accepted.settle(root, "raw_hub_listings", m, False, q)
    assert _now(root, q, m) == good and verdicts.read(root, "raw_hub_listings", m).state == verdicts.PASSED


def test_without_hard_links_the_accepted_listing_is_copied_back_and_keeps_its_verdict(tmp_path, monkeypatch):
    root, q, m = tmp_path / "w", tmp_path / "w" / "quarantine", "2026-05-01"
    good = _listing(root, q, m, 3)  # never checked here: it goes back never checked
    monkeypatch.setattr(accepted.os, "link", lambda *a: (_ for _ in ()).throw(OSError(1, "Operation not permitted")))
    assert accepted.keep(root, "raw_hub_listings", m, q)
    _listing(root, q, m, 5)
    _judge(root, m, passed=False)
    accepted.settle(root, "raw_hub_listings", m, False, q)
    assert _now(root, q, m) == good and verdicts.read(root, "raw_hub_listings", m).state == verdicts.NEVER
    _judge(root, m, passed=True)
    accepted.keep(root, "raw_hub_listings", m, q)
    _listing(root, q, m, 6)
    _judge(root, m, passed=False)
    accepted.settle(root, "raw_hub_listings", m, False, q)
    assert _now(root, q, m) == good and verdicts.read(root, "raw_hub_listings", m).state == verdicts.PASSED


def test_every_partition_the_io_manager_writes_is_settled_by_its_blocking_check():
    # A partition kept aside by the IO manager and never settled would pin its old file forever; one not
    # kept aside could not be put back when its check fails.
    from dominance_pipeline.defs.resources import CHECKED_PARTITIONS
    from dominance_pipeline.definitions import defs

    graph = defs.resolve_asset_graph()
    partitioned = {k.to_user_string() for k in graph.get_all_asset_keys() if graph.get(k).partitions_def is not None}
    blocking = {k.asset_key.to_user_string() for k in graph.asset_check_keys if graph.get_check_spec(k).blocking}
    assert CHECKED_PARTITIONS == partitioned - {"raw_hub_listings"}  # the raw asset writes its own partition
    assert CHECKED_PARTITIONS <= blocking


def test_an_accepted_listing_without_quarantine_comes_back_without_the_rejected_ones_quarantine(tmp_path):
    root, q, m, table = tmp_path / "w", tmp_path / "w" / "quarantine", "2026-05-01", "raw_hub_listings"
    good = parquet.write_partition(pl.DataFrame({"model_id": ["o/a", "o/b"]}), root, table, m).read_bytes()
    verdicts.record(root, table, m, verdicts.identity(parquet.partition_file(root, table, m)), True, "")
    assert accepted.keep(root, table, m, q)  # the accepted listing had no quarantined row
    parquet.write_partition(pl.DataFrame({"model_id": ["o/x"]}), root, table, m)
    parquet.write_partition(pl.DataFrame({"model_id": ["bad"]}), q, table, m)
    verdicts.record(root, table, m, verdicts.identity(parquet.partition_file(root, table, m)), False, "ERROR x")
    settled = accepted.settle(root, table, m, False, q)
    assert settled is not None and settled.restored
    assert parquet.partition_file(root, table, m).read_bytes() == good
    assert not parquet.partition_file(q, table, m).exists()  # the rejected listing's quarantine is in _rejected only
    assert (settled.rejected / "quarantine.parquet").exists()


def test_a_partition_replaced_by_one_of_the_same_size_is_unchecked(tmp_path):
    path = parquet.write_partition(pl.DataFrame({"x": [1, 2, 3]}), tmp_path, "t", "2026-05-01")
    verdicts.record(tmp_path, "t", "2026-05-01", verdicts.identity(path), True, "")
    size = path.stat().st_size
    parquet.write_partition(pl.DataFrame({"x": [7, 8, 9]}), tmp_path, "t", "2026-05-01")
    assert path.stat().st_size == size  # the case this is about: only the size would not tell them apart
    assert verdicts.read(tmp_path, "t", "2026-05-01").state == verdicts.UNCHECKED


def test_the_view_holds_a_column_that_older_partitions_lack(tmp_path):
    parquet.write_partition(pl.DataFrame({"month": [dt.date(2026, 4, 1)], "x": [1]}), tmp_path, "t", "2026-04-01")
    parquet.write_partition(pl.DataFrame({"month": [dt.date(2026, 5, 1)], "x": [2], "y": ["b"]}), tmp_path, "t", "2026-05-01")
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    assert ensure_views(con, tmp_path, ["t"]) == ["t"]
    assert con.sql("select month, x, y from t order by month").fetchall() == [(dt.date(2026, 4, 1), 1, None), (dt.date(2026, 5, 1), 2, "b")]


def test_conform_orders_the_declared_columns_and_names_every_mismatch_without_casting():
    schema = Schema("t", {"month": pl.Date, "x": pl.Int64, "y": pl.String}, not_null=("month", "y"))
    shuffled = pl.DataFrame({"y": ["a"], "x": [1], "month": [dt.date(2026, 5, 1)]})
    assert conform(shuffled, schema).rows(named=True) == [{"month": dt.date(2026, 5, 1), "x": 1, "y": "a"}]
    assert conform(shuffled, schema).columns == ["month", "x", "y"]
    drifted = pl.DataFrame({"month": [dt.date(2026, 5, 1)], "x": [1.0], "z": [0]})  # y missing, z extra, x a float
    with pytest.raises(SchemaError) as err:
        conform(drifted, schema)
    assert str(err.value) == "t: missing columns ['y']; unexpected columns ['z']; column 'x' is Float64, expected Int64"
    nulls = pl.DataFrame({"month": [None, dt.date(2026, 5, 1)], "x": [None, 2], "y": ["a", None]}, schema=schema.columns)
    with pytest.raises(SchemaError) as err:
        conform(nulls, schema)
    assert str(err.value) == "t: nulls in non-null columns ['month', 'y']"  # x may be null


def test_views_read_an_unpartitioned_table_under_a_path_with_a_bracket_and_a_quote(tmp_path, monkeypatch):
    # "it's [1]" read as a pattern would match the sibling "it's 1"; a bare ' would end the SQL string.
    parquet.write_table(pl.DataFrame({"x": [1, 2]}), tmp_path / "it's [1]", "summary")
    parquet.write_table(pl.DataFrame({"x": [7, 8, 9]}), tmp_path / "it's 1", "summary")
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    assert ensure_views(con, tmp_path / "it's [1]", ["summary"]) == ["summary"]
    assert con.sql("select x from summary order by x").fetchall() == [(1,), (2,)]
    # a warehouse given relative to the working directory still reads from elsewhere (paths are absolute)
    monkeypatch.chdir(tmp_path)
    assert ensure_views(con, Path("it's [1]"), ["summary"]) == ["summary"]
    monkeypatch.chdir(tmp_path / "it's 1")
    assert con.sql("select x from summary order by x").fetchall() == [(1,), (2,)]


def test_a_key_value_folder_above_the_warehouse_adds_no_column_to_the_views(tmp_path):
    root = tmp_path / "run=3"  # read as a hive partition, it would add a column "run" to every row
    parquet.write_partition(frame("2026-05-01", 2), root, "t", "2026-05-01")
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    assert ensure_views(con, root, ["t"]) == ["t"]
    assert con.sql("select * from t order by x").fetchall() == [(dt.date(2026, 5, 1), 0), (dt.date(2026, 5, 1), 1)]
    assert con.sql("select * from t").columns == ["month", "x"]


def test_every_row_group_and_every_slice_of_one_is_published_with_its_own_values(tmp_path):
    # hub-stats files have many row groups (122,880 rows each); here 25 models in row groups of 10, 10 and 5,
    # read in batches of 4 (a row group larger than a batch is read in slices). Model k has downloads
    # (k * 7919) % 100,000 and safetensors.total 1000 + k, each row's own.
    import pyarrow.parquet as pq

    from dominance_pipeline.sources.publish import parquet_batches, publish_listing
    from dominance_pipeline_tests.fakehub import synthetic_models, write

    n = 25
    params = pl.DataFrame({"total": [1000 + k for k in range(n)], "BF16": [1000 + k for k in range(n)]})
    path = write(synthetic_models(n).with_columns(params.to_struct("safetensors")), tmp_path / "hub.parquet", row_group_size=10)
    assert [pq.ParquetFile(path).metadata.row_group(i).num_rows for i in range(3)] == [10, 10, 5]
    notes = publish_listing(
        parquet_batches(path, batch_rows=4), warehouse=tmp_path / "w", quarantine=tmp_path / "q",
        month=dt.date(2026, 5, 1), snapshot_at=dt.datetime(2026, 6, 5, tzinfo=dt.UTC), source="local",
    )
    got = pl.read_parquet(notes["path"]).select("model_id", "downloads_30d", "params_total").sort("model_id")
    expected = [{"model_id": f"org{k % 37}/model-{k}", "downloads_30d": (k * 7919) % 100_000, "params_total": 1000 + k} for k in range(n)]
    assert got.to_dicts() == sorted(expected, key=lambda r: r["model_id"])
    assert "safetensors" not in notes["recast_columns"]  # only the `total` leaf is read, in the raw type as it is


def test_handoff_is_not_served_after_a_same_size_rewrite_of_its_file(tmp_path):
    # the same width: only inode / mtime tell the files apart; memory must not be served for the new file.
    first = pl.DataFrame({"x": [1, 2, 3]})
    path = parquet.write_partition(first, tmp_path, "t", "2026-05-01")
    handoff.remember("t", path, first)
    try:
        size = path.stat().st_size
        second = pl.DataFrame({"x": [7, 8, 9]})
        parquet.write_partition(second, tmp_path, "t", "2026-05-01")
        assert path.stat().st_size == size  # the case this is about
        assert handoff.recall("t", path) is None
        assert handoff.read_partition(tmp_path, "t", "2026-05-01")["x"].to_list() == [7, 8, 9]
    finally:
        handoff.forget()


def test_handoff_read_partition_hands_on_only_the_columns_asked_for(tmp_path):
    published = pl.DataFrame({"x": [1, 2], "y": ["a", "b"]})
    path = parquet.write_partition(published, tmp_path, "t", "2026-05-01")
    handoff.remember("t", path, published)
    try:
        got = handoff.read_partition(tmp_path, "t", "2026-05-01", ["x"])
        assert got.columns == ["x"] and got["x"].to_list() == [1, 2]
    finally:
        handoff.forget()


def test_an_older_origin_tagged_partition_is_read_with_repack_format_computed(tmp_path):
    old = pl.DataFrame(
        {
            "month": [dt.date(2025, 1, 1)] * 2,
            "model_id": ["a/q-GGUF", "c/plain"],
            "tags": [["gguf"], ["transformers"]],
            "library_name": [None, "transformers"],
        }
    )
    parquet.write_partition(old, tmp_path, "origin_tagged_models", "2025-01-01")
    got = parquet.read_partition(tmp_path, "origin_tagged_models", "2025-01-01", ["model_id", "repack_format"])
    assert got.get_column("repack_format").to_list() == [True, False]


def test_a_derived_column_whose_inputs_are_missing_is_a_stale_partition_error(tmp_path):
    # and U5 (a full read of such a partition asks for the underivable column and fails).
    from dominance_pipeline.storage.upgrade import StalePartitionError

    old = pl.DataFrame({"month": [dt.date(2025, 1, 1)], "model_id": ["a/b"]})  # neither tags nor library_name
    parquet.write_partition(old, tmp_path, "raw_hub_listings", "2025-01-01")
    with pytest.raises(StalePartitionError, match=r"no column repack_format.*--month 2025-01"):
        parquet.read_partition(tmp_path, "raw_hub_listings", "2025-01-01", ["model_id", "repack_format"])
    assert parquet.read_partition(tmp_path, "raw_hub_listings", "2025-01-01").columns == ["month", "model_id"]


def test_a_duckdb_file_that_refuses_the_view_is_a_warning_not_a_failure(tmp_path, caplog):
    # The Parquet partition is published already: a DuckDB file that cannot take the view (here opened
    # read-only; an analyst's lock likewise, after DuckDBResource's retries) must not fail the step.
    import logging

    from dominance_pipeline.defs.resources import refresh_view

    parquet.write_partition(frame("2026-05-01", 3), tmp_path, "t", "2026-05-01")
    db = tmp_path / "d.duckdb"
    duckdb.connect(str(db)).close()
    read_only = DuckDBResource(database=str(db), connection_config={"access_mode": "READ_ONLY"})
    log = logging.getLogger("refresh_view_test")
    with caplog.at_level(logging.WARNING, logger="refresh_view_test"):
        refresh_view(read_only, tmp_path, "t", log)
    (warning,) = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warning.startswith("DuckDB view for t not refreshed (") and warning.endswith("); the Parquet partition is published")
    refresh_view(DuckDBResource(database=str(db)), tmp_path, "t", log)  # writable again: the view is made
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("select count(*) from t").fetchone() == (3,)


def test_a_month_never_materialized_reads_as_an_empty_frame_of_the_columns_asked_for(tmp_path):
    from dominance_pipeline.defs.resources import WarehouseResource

    warehouse = WarehouseResource(root=str(tmp_path))
    empty = warehouse.read_month("raw_hub_listings", "2026-04-01", ["model_id", "downloads_30d"])
    assert empty.height == 0 and empty.schema == pl.Schema({"model_id": pl.String, "downloads_30d": pl.Int64})


def test_an_explicit_folder_wins_over_the_environment_and_the_environment_over_the_project_folders(tmp_path, monkeypatch):
    from dominance_pipeline.defs.resources import build_resources
    from dominance_pipeline.settings import PROJECT_ROOT, paths

    monkeypatch.setenv("DOMINANCE_DATA_DIR", str(tmp_path / "env_data"))
    monkeypatch.setenv("DOMINANCE_SNAPSHOT_DIR", str(tmp_path / "env_snapshots"))
    given = paths(tmp_path / "data", tmp_path / "snapshots")  # what --snapshot-dir and the tests pass
    assert (given.data, given.sample) == ((tmp_path / "data").resolve(), (tmp_path / "snapshots").resolve())
    resources = build_resources(given)
    assert resources["warehouse"].root == resources["io_manager"].root == str((tmp_path / "data" / "warehouse").resolve())
    assert resources["local_snapshots"].snapshot_dir == str((tmp_path / "snapshots").resolve())
    assert resources["duckdb"].database == str((tmp_path / "data" / "warehouse" / "dominance.duckdb").resolve())
    from_env = paths()
    assert (from_env.data, from_env.sample) == ((tmp_path / "env_data").resolve(), (tmp_path / "env_snapshots").resolve())
    monkeypatch.delenv("DOMINANCE_DATA_DIR")
    monkeypatch.delenv("DOMINANCE_SNAPSHOT_DIR")
    default = paths()
    assert (default.data, default.sample) == (PROJECT_ROOT / "data", PROJECT_ROOT / "data" / "sample")
    assert default.dagster_home == PROJECT_ROOT / "data" / "dagster_home"


def test_streamed_partitions_write_statistics_only_for_the_columns_their_options_name(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema([("x", pa.int64()), ("y", pa.int64())])
    specs = [(tmp_path, "t", "2026-05-01", schema, {"write_statistics": ["x"]}), (tmp_path, "u", "2026-05-01", schema, {})]
    with parquet.partition_writers(specs) as (only_x, both):
        for writer in (only_x, both):
            writer.write_table(pa.table({"x": [3, 1, 2], "y": [9, 7, 8]}, schema=schema))

    def stats(table: str) -> list[bool]:
        group = pq.read_metadata(parquet.partition_file(tmp_path, table, "2026-05-01")).row_group(0)
        return [group.column(i).is_stats_set for i in range(2)]

    assert stats("t") == [True, False]  # the options say which columns
    assert stats("u") == [True, True]  # on unless they say otherwise


def test_an_unpartitioned_table_under_a_path_with_a_bracket_is_read_from_its_own_file(tmp_path):
    # "w[1]" read as a pattern would match the sibling folder "w1" and read its file instead.
    parquet.write_table(pl.DataFrame({"x": [1, 2]}), tmp_path / "w[1]", "summary")
    parquet.write_table(pl.DataFrame({"x": [7, 8, 9]}), tmp_path / "w1", "summary")
    assert parquet.read_table(tmp_path / "w[1]", "summary").get_column("x").to_list() == [1, 2]


def test_a_second_rejection_of_the_month_leaves_nothing_of_the_first_in_the_rejected_folder(tmp_path):
    root, q, m, table = tmp_path / "w", tmp_path / "w" / "quarantine", "2026-05-01", "raw_hub_listings"
    _listing(root, q, m, 3)  # rejected with its quarantine
    _judge(root, m, passed=False)
    first = accepted.settle(root, table, m, False, q)
    assert first is not None and (first.rejected / "quarantine.parquet").exists()
    second = parquet.write_partition(pl.DataFrame({"model_id": ["o/x"]}), root, table, m).read_bytes()  # no quarantine
    _judge(root, m, passed=False)
    settled = accepted.settle(root, table, m, False, q)
    assert settled is not None and not settled.restored
    assert sorted(p.name for p in settled.rejected.iterdir()) == ["data.parquet", "verdict.json"]
    assert (settled.rejected / "data.parquet").read_bytes() == second


def test_an_accepted_listing_set_aside_by_an_older_version_comes_back_with_its_passed_verdict(tmp_path):
    # Before the state and identity were kept aside, the verdict file itself was linked there: {"passed": ...}.
    import json

    root, q, m, table = tmp_path / "w", tmp_path / "w" / "quarantine", "2026-05-01", "raw_hub_listings"
    good = _listing(root, q, m, 3)
    aside = accepted.previous_dir(root, table, m)
    aside.mkdir(parents=True)
    for name, source in (("data.parquet", parquet.partition_file(root, table, m)), ("quarantine.parquet", parquet.partition_file(q, table, m))):
        (aside / name).write_bytes(source.read_bytes())
    (aside / "verdict.json").write_text(json.dumps({"passed": True, "file": [0, 0, 0], "summary": ""}))
    _listing(root, q, m, 5)
    _judge(root, m, passed=False)
    settled = accepted.settle(root, table, m, False, q)
    assert settled is not None and settled.restored
    assert _now(root, q, m) == good and verdicts.read(root, table, m).state == verdicts.PASSED


def test_settling_a_rejected_month_again_after_its_partition_left_changes_nothing(tmp_path):
    root, q, m, table = tmp_path / "w", tmp_path / "w" / "quarantine", "2026-05-01", "raw_hub_listings"
    assert not accepted.keep(root, table, m, q)
    june = _listing(root, q, m, 2)
    _judge(root, m, passed=False)
    out = accepted.settle(root, table, m, False, q).rejected  # type: ignore[union-attr]
    assert accepted.settle(root, table, m, False, q) is None  # the check ran again: there is nothing to settle
    assert not parquet.partition_file(root, table, m).exists()
    assert ((out / "data.parquet").read_bytes(), (out / "quarantine.parquet").read_bytes()) == june
    assert verdicts.read(root, table, m) == verdicts.Verdict(verdicts.FAILED, "ERROR x")


def test_an_empty_listing_file_is_read_as_one_empty_batch_of_its_hub_columns(tmp_path):
    from dominance_pipeline.sources.publish import parquet_batches

    empty = tmp_path / "empty.parquet"
    pl.DataFrame({"id": [], "downloads": [], "other": []}, schema={"id": pl.String, "downloads": pl.Int64, "other": pl.Int64}).write_parquet(empty)
    batches = list(parquet_batches([empty, empty])())
    assert len(batches) == 1
    assert batches[0].height == 0 and batches[0].schema == pl.Schema({"id": pl.String, "downloads": pl.Int64})
    # pyarrow writes an empty table as one row group of no rows (polars as none): one empty batch all the same.
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"id": pa.array([], pa.string())}), one_empty_group := tmp_path / "one_empty_group.parquet")
    assert pq.ParquetFile(one_empty_group).num_row_groups == 1
    batches = list(parquet_batches(one_empty_group)())
    assert len(batches) == 1 and batches[0].height == 0 and batches[0].columns == ["id"]


def test_listing_batches_decoded_two_at_a_time_come_in_file_order_and_stop_with_the_reader(tmp_path):
    import threading

    import pyarrow.parquet as pq

    from dominance_pipeline.sources.publish import parquet_batches
    from dominance_pipeline_tests.conftest import SAMPLE

    path = tmp_path / "hub.parquet"
    pq.write_table(pq.read_table(SAMPLE), path, row_group_size=500)
    groups = [pq.ParquetFile(path).metadata.row_group(g).num_rows for g in range(pq.ParquetFile(path).num_row_groups)]
    assert len(groups) == 9  # 4,167 rows
    batches = list(parquet_batches(path, batch_rows=200)())
    assert [b.height for b in batches] == [min(200, rows - start) for rows in groups for start in range(0, rows, 200)]
    assert pl.concat(batches).get_column("id").to_list() == pl.read_parquet(SAMPLE).get_column("id").to_list()

    reading = parquet_batches(path, batch_rows=200)()
    assert next(reading).height == 200
    reading.close()  # the caller stops early: the threads decoding the next batches end with it
    assert [t.name for t in threading.enumerate() if t.name.startswith("parquet-batches")] == []


def test_a_listing_file_that_cannot_be_read_fails_the_read_instead_of_ending_it_early(tmp_path):
    import pyarrow as pa

    from dominance_pipeline.sources.publish import parquet_batches
    from dominance_pipeline_tests.conftest import SAMPLE

    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"PAR1 not a parquet file")
    with pytest.raises(pa.ArrowInvalid):
        list(parquet_batches([SAMPLE, broken], batch_rows=1_000)())
    with pytest.raises(ValueError, match="at least one file"):
        parquet_batches([])


def test_a_streamed_listing_stores_plain_strings_for_every_reader(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from dominance_pipeline.sources.publish import parquet_batches, publish_listing
    from dominance_pipeline_tests.conftest import SAMPLE

    notes = publish_listing(
        parquet_batches(SAMPLE, batch_rows=1_000), warehouse=tmp_path, quarantine=tmp_path / "quarantine",
        month=dt.date(2026, 5, 1), snapshot_at=dt.datetime(2026, 6, 1, tzinfo=dt.UTC), source="local",
    )
    for path in (notes["path"], notes["quarantine_path"]):
        assert pq.read_schema(path).field("model_id").type == pa.string()
    # Dictionaries only where values repeat: every row group of the raw file says which columns got one.
    meta = pq.ParquetFile(notes["path"]).metadata
    paths = [meta.row_group(0).column(i).path_in_schema.split(".")[0] for i in range(meta.num_columns)]
    for group in range(meta.num_row_groups):
        with_dictionary = {paths[i] for i in range(meta.num_columns) if meta.row_group(group).column(i).has_dictionary_page}
        assert {"model_id", "author", "created_at", "last_modified", "params_total"}.isdisjoint(with_dictionary)
        assert {"tags", "base_model_ids", "pipeline_tag", "library_name", "downloads_30d"} <= with_dictionary
