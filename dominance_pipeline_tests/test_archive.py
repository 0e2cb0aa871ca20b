"""The archive source reads month-end snapshots through HfFileSystem from the local Hub server."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest

from dominance_pipeline.hubserver import HubServer
from dominance_pipeline.hubserver.faults import parse_fault
from dominance_pipeline.hubserver.repos import DatasetRepo, daily_repo, weekly_repo
from dominance_pipeline.sources import archive
from dominance_pipeline.sources.publish import parquet_batches, publish_listing
from dominance_pipeline_tests.fakehub import with_marker, write

MAY = dt.date(2026, 5, 1)
WEEKS = [dt.date(2026, 5, 11), dt.date(2026, 5, 18), dt.date(2026, 5, 25), dt.date(2026, 6, 1)]
DAYS = [dt.datetime(2026, 5, d, 13, tzinfo=dt.UTC) for d in (30, 31)] + [dt.datetime(2026, 6, 1, 13, tzinfo=dt.UTC)]
OLD_WEEK = dt.date(2024, 7, 24)


def old_era(sample: pl.DataFrame) -> pl.DataFrame:
    """A 2024-style file: fewer columns, dates as ISO strings, tags as a JSON string."""
    return sample.head(200).select(
        "id",
        "author",
        pl.col("createdAt").dt.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        pl.col("lastModified").dt.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        "downloads",
        "likes",
        pl.col("tags").list.join('","').map_elements(lambda t: f'["{t}"]', return_dtype=pl.String),
    ).with_columns(pl.lit("2024-07-01T00:00:00.000Z").alias("createdAt"))


@pytest.fixture(scope="module")
def archive_hub(tmp_path_factory, sample_path):
    tmp = tmp_path_factory.mktemp("archive")
    sample = pl.read_parquet(sample_path)
    rng = np.random.default_rng(7)
    weekly_files = [(w, write(with_marker(sample, f"week-{w}"), tmp / f"week-{w}.parquet")) for w in WEEKS]
    # The month-end file of May carries a large column the raw schema never reads, in many row groups.
    junk = pl.Series("siblings", [rng.bytes(1500).hex() for _ in range(sample.height + 1)])
    weekly_files[2] = (WEEKS[2], write(with_marker(sample, f"week-{WEEKS[2]}").with_columns(junk), tmp / "big.parquet", row_group_size=500))
    weekly_files.append((OLD_WEEK, write(old_era(sample), tmp / "old.parquet")))
    daily_files = [(d, write(with_marker(sample, f"day-{d:%Y-%m-%d}"), tmp / f"day-{d:%d}.parquet")) for d in DAYS]
    with HubServer(repos=[weekly_repo(weekly_files), daily_repo(daily_files)]) as server:
        yield server, tmp


def bytes_served(server: HubServer, repo_path: str) -> int:
    return sum(n for key, n in server.stats.file_bytes.items() if key.endswith(repo_path))


def markers(path) -> list[str]:  # noqa: ANN001
    return pl.read_parquet(path, columns=["id"]).filter(pl.col("id").str.starts_with("marker/"))["id"].to_list()


def test_weekly_month_end_is_the_last_week_that_ended_by_then(archive_hub, tmp_path):
    server, tmp = archive_hub
    snap = archive.find_snapshot(server.url, None, archive.WEEKLY, MAY, max_days_late=7)
    assert (snap.path, snap.taken_at) == ("models/2026-05-25/models.parquet", dt.datetime(2026, 6, 1, tzinfo=dt.UTC))
    read = archive.stage_snapshot(server.url, None, snap, tmp_path / "s.parquet")
    assert markers(read.path) == ["marker/week-2026-05-25"]
    assert read.rows == 4168 and read.row_groups == 9


def test_a_projected_read_moves_a_small_share_of_the_file(archive_hub, tmp_path):
    server, tmp = archive_hub
    snap = archive.find_snapshot(server.url, None, archive.WEEKLY, MAY, max_days_late=7)
    before = bytes_served(server, snap.path)
    read = archive.stage_snapshot(server.url, None, snap, tmp_path / "s.parquet")
    served = bytes_served(server, snap.path) - before
    size = (tmp / "big.parquet").stat().st_size
    assert read.file_bytes == size > 5_000_000
    assert served < 0.2 * size, f"served {served:,} of {size:,} bytes"
    assert read.bytes_read == served
    assert "siblings" not in read.columns and "safetensors.total" in read.columns


def test_daily_month_end_is_read_at_the_last_commit_of_the_month(archive_hub, tmp_path):
    server, _ = archive_hub
    snap = archive.find_snapshot(server.url, None, archive.DAILY, MAY, max_days_late=7)
    assert snap.taken_at == DAYS[1] and snap.revision != "main"
    read = archive.stage_snapshot(server.url, None, snap, tmp_path / "s.parquet")
    assert markers(read.path) == ["marker/day-2026-05-31"]


def test_no_snapshot_before_the_month_and_stale_snapshots_are_clear_errors(archive_hub):
    server, _ = archive_hub
    with pytest.raises(archive.ArchiveError, match="no snapshot taken on or before the end of 2024-06; its first snapshot is models/2024-07-24"):
        archive.find_snapshot(server.url, None, archive.WEEKLY, dt.date(2024, 6, 1), max_days_late=7)
    with pytest.raises(archive.ArchiveError, match=r"23 days before the end of the month .* try the other dataset \(cfahlgren1/hub-stats\)"):
        archive.find_snapshot(server.url, None, archive.WEEKLY, dt.date(2026, 6, 1), max_days_late=7)
    assert archive.find_snapshot(server.url, None, archive.WEEKLY, dt.date(2026, 6, 1), max_days_late=30).path.startswith("models/2026-06-01")
    with pytest.raises(archive.ArchiveError, match="unknown archive dataset"):
        archive.find_snapshot(server.url, None, "someone/else", MAY, max_days_late=7)


def test_an_old_era_snapshot_is_normalised_and_says_what_it_lacked(archive_hub, tmp_path):
    server, _ = archive_hub
    month = dt.date(2024, 7, 1)
    snap = archive.find_snapshot(server.url, None, archive.WEEKLY, month, max_days_late=7)
    read = archive.stage_snapshot(server.url, None, snap, tmp_path / "s.parquet")
    assert set(read.absent) == {"downloadsAllTime", "trendingScore", "pipeline_tag", "library_name", "cardData", "baseModels", "safetensors", "gguf", "gated"}
    notes = publish_listing(
        parquet_batches(read.path), warehouse=tmp_path / "w", quarantine=tmp_path / "q",
        month=month, snapshot_at=snap.taken_at, source="archive",
    )
    assert notes["rows_out"] == 200 and notes["quarantined"] == 0
    assert set(notes["missing_columns"]) == set(read.absent) and {"createdAt", "tags"} <= set(notes["recast_columns"])
    rows = pl.read_parquet(notes["path"])
    assert rows["downloads_all_time"].null_count() == 200
    assert rows["created_at"].unique().to_list() == [dt.datetime(2024, 7, 1, tzinfo=dt.UTC)]
    assert rows["tags"].list.len().min() > 0


def test_a_later_commit_that_leaves_models_parquet_alone_does_not_make_it_newer(sample_path, tmp_path):
    # models.parquet was last replaced on May 10; a README edit on May 31 is the month's last commit.
    sample = pl.read_parquet(sample_path)
    repo = DatasetRepo(archive.DAILY)
    repo.commit(dt.datetime(2026, 5, 10, 13, tzinfo=dt.UTC), "Upload models.parquet", {"models.parquet": write(with_marker(sample, "may-10"), tmp_path / "m.parquet")})
    readme = tmp_path / "README.md"
    readme.write_text("changelog\n")
    repo.commit(dt.datetime(2026, 5, 31, 9, tzinfo=dt.UTC), "Update README.md", {"README.md": readme})
    with HubServer(repos=[repo]) as server:
        with pytest.raises(archive.ArchiveError, match=r"commit \w{8} of 2026-05-10 13:00 UTC, 21 days before the end of the month"):
            archive.find_snapshot(server.url, None, archive.DAILY, MAY, max_days_late=7)
        snap = archive.find_snapshot(server.url, None, archive.DAILY, MAY, max_days_late=30)
        assert snap.taken_at == dt.datetime(2026, 5, 10, 13, tzinfo=dt.UTC) and snap.revision == repo.commits[0].sha
        assert markers(archive.stage_snapshot(server.url, None, snap, tmp_path / "s.parquet").path) == ["marker/may-10"]


def test_of_two_uploads_in_the_same_second_the_newer_is_read(sample_path, tmp_path):
    sample = pl.read_parquet(sample_path)
    when = dt.datetime(2026, 5, 31, 13, tzinfo=dt.UTC)
    repo = DatasetRepo(archive.DAILY)
    repo.commit(when, "Upload models.parquet", {"models.parquet": write(with_marker(sample, "first"), tmp_path / "a.parquet")})
    repo.commit(when, "Re-upload models.parquet", {"models.parquet": write(with_marker(sample, "second"), tmp_path / "b.parquet")})
    with HubServer(repos=[repo]) as server:
        snap = archive.find_snapshot(server.url, None, archive.DAILY, MAY, max_days_late=7)
        assert markers(archive.stage_snapshot(server.url, None, snap, tmp_path / "s.parquet").path) == ["marker/second"]


def test_safetensors_stored_as_json_text_is_read_whole_not_skipped(sample_path, tmp_path):
    sample = pl.read_parquet(sample_path).head(50)
    texts = sample.with_columns(pl.col("safetensors").struct.json_encode())
    repo = DatasetRepo(archive.DAILY)
    repo.commit(dt.datetime(2026, 5, 31, 13, tzinfo=dt.UTC), "Upload models.parquet", {"models.parquet": write(texts, tmp_path / "m.parquet")})
    with HubServer(repos=[repo]) as server:
        snap = archive.find_snapshot(server.url, None, archive.DAILY, MAY, max_days_late=7)
        read = archive.stage_snapshot(server.url, None, snap, tmp_path / "s.parquet")
    assert "safetensors" in read.columns and "safetensors" not in read.absent
    notes = publish_listing(
        parquet_batches(read.path), warehouse=tmp_path / "w", quarantine=tmp_path / "q", month=MAY, snapshot_at=snap.taken_at, source="archive"
    )
    # The same rows with safetensors as a struct, read as a local file: the same parameter counts.
    local = publish_listing(
        parquet_batches(write(sample, tmp_path / "struct.parquet")), warehouse=tmp_path / "w2", quarantine=tmp_path / "q2",
        month=MAY, snapshot_at=snap.taken_at, source="local",
    )
    expected = pl.read_parquet(local["path"]).get_column("params_total")
    assert sample.get_column("safetensors").struct.field("total").null_count() < sample.height
    assert pl.read_parquet(notes["path"]).get_column("params_total").to_list() == expected.to_list()


def test_a_body_cut_short_is_an_archive_error_that_names_the_snapshot(sample_path, tmp_path):
    repo = DatasetRepo(archive.DAILY)
    repo.commit(dt.datetime(2026, 5, 31, 13, tzinfo=dt.UTC), "Upload models.parquet", {"models.parquet": write(pl.read_parquet(sample_path), tmp_path / "m.parquet")})
    with HubServer(repos=[repo], faults=[parse_fault("truncate:route=resolve")]) as server:
        snap = archive.find_snapshot(server.url, None, archive.DAILY, MAY, max_days_late=7)
        with pytest.raises(archive.ArchiveError, match=r"^reading cfahlgren1/hub-stats commit \w{8} of 2026-05-31 13:00 UTC \(models.parquet\) failed: .+; nothing was published: run the month again$"):
            archive.stage_snapshot(server.url, None, snap, tmp_path / "s.parquet")


def test_the_weekly_dataset_is_read_at_the_commit_its_folders_were_listed_at(sample_path, tmp_path):
    # The month's folder is uploaded again after the snapshot was chosen and before it is read: the run reads
    # what it listed, and its metadata names that commit (a re-run can read it again).
    sample = pl.read_parquet(sample_path)
    repo = weekly_repo([(WEEKS[2], write(with_marker(sample, "as-listed"), tmp_path / "a.parquet"))])
    with HubServer(repos=[repo]) as server:
        snap = archive.find_snapshot(server.url, None, archive.WEEKLY, MAY, max_days_late=7)
        assert snap.revision == repo.commits[-1].sha
        rewritten = write(with_marker(sample, "rewritten"), tmp_path / "b.parquet")
        repo.commit(dt.datetime(2026, 6, 20, tzinfo=dt.UTC), "Upload the week of 2026-05-25 again", {"models/2026-05-25/models.parquet": rewritten})
        read = archive.stage_snapshot(server.url, None, snap, tmp_path / "s.parquet")
    assert markers(read.path) == ["marker/as-listed"]
    assert read.metadata()["archive_revision"] == snap.revision


def test_a_hub_that_cannot_be_reached_is_named_with_the_way_out():
    # The client's own "[Errno 111] Connection refused" named no host, nor the settings that choose it.
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}"  # bound, never listening: refused
        with pytest.raises(archive.ArchiveError) as err:
            archive.find_snapshot(closed, None, archive.WEEKLY, dt.date(2025, 3, 1), 7)
    assert str(err.value).startswith(f"cannot reach the Hub at {closed} to list {archive.WEEKLY} (")
    assert "(--endpoint, HF_ENDPOINT)" in str(err.value)
