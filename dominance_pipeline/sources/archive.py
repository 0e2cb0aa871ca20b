"""The archive source: a past month's listing from the public Hub snapshot datasets, for backfills.

The Hub's API only knows *now*; a month in the past is read from a dataset that took snapshots then
(hf-filesystem-offline.md §6):

- `hfmlsoc/hub_weekly_snapshots`: `models/<YYYY-MM-DD>/models.parquet` every week since 2024-07-24. A folder
  is labelled with its week's first day but holds the data as of that week's end, so its snapshot time is
  taken as label + 7 days. Folders are listed and read at the commit `main` points at when the run starts;
- `cfahlgren1/hub-stats`: one `models.parquet` rewritten daily; a past day is the file at a past commit
  (from `list_repo_commits`), timed by the commit that last replaced the file (`get_paths_info`).

The month's snapshot is the last one taken on or before the month ended, if it is at most `max_days_late`
days older than the end. It is read through `HfFileSystem` (so any endpoint works, including a local
server: polars' and DuckDB's own `hf://` are hard-wired to huggingface.co) with `cache_type="none"`, one row
group at a time and only the columns the raw schema needs: a 1.5 GB file is neither downloaded whole nor
held in memory, and a column the raw schema does not use is never fetched (fsspec's default 5 MiB
read-ahead would pull most of the file anyway: hf-filesystem-offline.md §3).
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx2
import pyarrow as pa
import pyarrow.parquet as pq
from huggingface_hub import HfApi, HfFileSystem
from huggingface_hub.errors import HfHubHTTPError

from dominance_pipeline.sources.live import month_end
from dominance_pipeline.sources.normalise import HUB_COLUMNS

WEEKLY = "hfmlsoc/hub_weekly_snapshots"
DAILY = "cfahlgren1/hub-stats"
DATASETS = (WEEKLY, DAILY)
WEEK = dt.timedelta(days=7)
BATCH_ROWS = 65_536
# Nested columns of which the raw schema reads a single field: fetch only that leaf.
LEAVES = {"safetensors": "safetensors.total"}


class ArchiveError(ValueError):
    """No usable snapshot for the month; the message names the dataset and what to try instead."""


@dataclass(frozen=True)
class ArchiveSnapshot:
    """One archived listing: where it is (repo, revision, path) and when its data was taken."""

    dataset: str
    revision: str
    path: str
    taken_at: dt.datetime
    label: str

    @property
    def fs_path(self) -> str:
        return f"datasets/{self.dataset}@{self.revision}/{self.path}"

    @property
    def url_path(self) -> str:
        return f"datasets/{self.dataset}/resolve/{self.revision}/{self.path}"


def _other(dataset: str) -> str:
    return DAILY if dataset == WEEKLY else WEEKLY


def weekly_snapshots(fs: HfFileSystem, dataset: str = WEEKLY, revision: str = "main") -> list[ArchiveSnapshot]:
    """Every dated folder of the weekly dataset at `revision`, oldest first."""
    out = []
    for folder in fs.ls(f"datasets/{dataset}@{revision}/models", detail=False):
        label = str(folder).rsplit("/", 1)[-1]
        try:
            day = dt.date.fromisoformat(label)
        except ValueError:
            continue
        taken = dt.datetime.combine(day, dt.time(), dt.UTC) + WEEK
        out.append(ArchiveSnapshot(dataset, revision, f"models/{label}/models.parquet", taken, f"models/{label} (week of {label})"))
    return sorted(out, key=lambda s: s.taken_at)


def head_commit(api: HfApi, dataset: str) -> str:
    """The commit `main` points at now: folders are listed and read there, so a commit landing meanwhile
    (a new week, a folder rewritten) changes nothing in this run, and the metadata names what was read."""
    sha = api.dataset_info(dataset, revision="main").sha
    if not sha:
        raise ArchiveError(f"{dataset}: the Hub did not say which commit main is at")
    return sha


def _daily(dataset: str, commit_id: str, when: dt.datetime) -> ArchiveSnapshot:
    return ArchiveSnapshot(dataset, commit_id, "models.parquet", when.astimezone(dt.UTC), f"commit {commit_id[:8]} of {when:%Y-%m-%d %H:%M} UTC")


def daily_snapshots(api: HfApi, dataset: str = DAILY) -> list[ArchiveSnapshot]:
    """Every commit of the daily dataset, oldest first, each standing for `models.parquet` at that commit (of
    two commits in the same second, the one listed newer last)."""
    commits = api.list_repo_commits(dataset, repo_type="dataset")  # newest first
    return sorted((_daily(dataset, c.commit_id, c.created_at) for c in reversed(commits)), key=lambda s: s.taken_at)


def file_snapshot(api: HfApi, chosen: ArchiveSnapshot) -> ArchiveSnapshot:
    """`chosen` timed by the commit that last replaced its file: a later commit that changed only other files
    (a README, a card) leaves the data as old as that one."""
    (info,) = api.get_paths_info(chosen.dataset, [chosen.path], revision=chosen.revision, repo_type="dataset", expand=True)
    last = getattr(info, "last_commit", None)
    if last is None or last.oid == chosen.revision:
        return chosen
    return _daily(chosen.dataset, last.oid, last.date)


def choose_snapshot(candidates: list[ArchiveSnapshot], dataset: str, month: dt.date, max_days_late: int) -> ArchiveSnapshot:
    """The last snapshot taken on or before the end of `month`, if it is at most `max_days_late` days older."""
    end = month_end(month)
    before = [s for s in candidates if s.taken_at <= end]
    if not before:
        first = f"; its first snapshot is {candidates[0].label}" if candidates else " (it has none)"
        raise ArchiveError(f"{dataset} has no snapshot taken on or before the end of {month:%Y-%m}{first}")
    return _on_time(before[-1], dataset, month, max_days_late)


def _on_time(chosen: ArchiveSnapshot, dataset: str, month: dt.date, max_days_late: int) -> ArchiveSnapshot:
    end = month_end(month)
    late = end - chosen.taken_at
    if late > dt.timedelta(days=max_days_late):
        raise ArchiveError(
            f"the last {dataset} snapshot before {month:%Y-%m} ended is {chosen.label}, {late.days} days before the "
            f"end of the month (archive max_days_late={max_days_late}); try the other dataset ({_other(dataset)}) "
            "or allow more days"
        )
    return chosen


def find_snapshot(endpoint: str, token: str | None, dataset: str, month: dt.date, max_days_late: int) -> ArchiveSnapshot:
    """List the dataset's snapshots on the Hub at `endpoint` and choose the one for `month`; a Hub that cannot
    be reached is an ArchiveError naming it (the client's own message names no host)."""
    if dataset not in DATASETS:
        raise ArchiveError(f"unknown archive dataset {dataset!r}: use {WEEKLY} or {DAILY}")
    try:
        return _find(endpoint, token, dataset, month, max_days_late)
    except HfHubHTTPError:
        raise  # the Hub answered: its status and message say what is wrong
    except (OSError, httpx2.TransportError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ArchiveError(f"cannot reach the Hub at {endpoint} to list {dataset} ({reason}); check the endpoint "
                           "(--endpoint, HF_ENDPOINT) and the network, then run the month again") from None


def _find(endpoint: str, token: str | None, dataset: str, month: dt.date, max_days_late: int) -> ArchiveSnapshot:
    fs = hf_filesystem(endpoint, token)
    api = HfApi(endpoint=endpoint, token=token or False)
    if dataset == WEEKLY:
        chosen = choose_snapshot(weekly_snapshots(fs, dataset, head_commit(api, dataset)), dataset, month, max_days_late)
    else:
        chosen = choose_snapshot(daily_snapshots(api, dataset), dataset, month, max_days_late)
        chosen = _on_time(file_snapshot(api, chosen), dataset, month, max_days_late)
    if not fs.exists(chosen.fs_path):
        raise ArchiveError(
            f"{dataset} has no {chosen.path} at {chosen.label} (early hub-stats revisions held models.csv); "
            f"try {_other(dataset)}"
        )
    return chosen


def hf_filesystem(endpoint: str, token: str | None) -> HfFileSystem:
    # A fresh instance: fsspec caches instances and directory listings, and a listing must be current.
    return HfFileSystem(endpoint=endpoint.rstrip("/"), token=token or False, skip_instance_cache=True)


class CountingFile(io.RawIOBase):
    """A read-only file wrapper that counts the bytes actually read (for the metadata: what moved)."""

    def __init__(self, f: io.IOBase) -> None:
        self.f, self.bytes_read = f, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = 0) -> int:
        return self.f.seek(offset, whence)

    def tell(self) -> int:
        return self.f.tell()

    def read(self, size: int = -1) -> bytes:
        data = self.f.read(size)
        self.bytes_read += len(data)
        return data

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def projection(schema: pa.Schema) -> tuple[list[str], list[str]]:
    """The columns to fetch (nested leaves where only one is used) and the raw-schema columns absent.

    A column that holds JSON text, or a struct without the leaf, is fetched whole (normalise reads it):
    pyarrow would silently skip a leaf path that does not exist.
    """
    present = set(schema.names)

    def fetched(c: str) -> str:
        leaf = LEAVES.get(c)
        kind = schema.field(c).type
        has_leaf = leaf is not None and pa.types.is_struct(kind) and kind.get_field_index(leaf.split(".", 1)[1]) >= 0
        return leaf if has_leaf else c  # type: ignore[return-value]

    columns = [fetched(c) for c in HUB_COLUMNS if c in present]
    return columns, [c for c in HUB_COLUMNS if c not in present]


@dataclass
class ArchiveRead:
    snapshot: ArchiveSnapshot
    path: Path
    rows: int
    file_bytes: int
    bytes_read: int
    row_groups: int
    columns: list[str]
    absent: list[str]

    def metadata(self) -> dict[str, object]:
        return {
            "archive_dataset": self.snapshot.dataset,
            "archive_snapshot": self.snapshot.label,
            "archive_revision": self.snapshot.revision,
            "archive_file": self.snapshot.path,
            "archive_file_bytes": self.file_bytes,
            "archive_bytes_read": self.bytes_read,
            "archive_read_share": round(self.bytes_read / self.file_bytes, 4) if self.file_bytes else None,
            "archive_row_groups": self.row_groups,
            "archive_columns_read": self.columns,
            "archive_columns_absent": self.absent,
        }


def stage_snapshot(
    endpoint: str,
    token: str | None,
    snapshot: ArchiveSnapshot,
    path: Path,
    log: Callable[[str], None] = lambda line: None,
) -> ArchiveRead:
    """Copy the projected columns of `snapshot` into the local Parquet file `path`, one row group at a time.

    A read that fails part-way (a body cut short after the client's own retries) is an ArchiveError that
    names the snapshot: nothing is published, and the month can be run again.
    """
    try:
        return _stage(endpoint, token, snapshot, path, log)
    except (OSError, pa.ArrowException) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ArchiveError(
            f"reading {snapshot.dataset} {snapshot.label} ({snapshot.path}) failed: {reason}; nothing was published: "
            "run the month again"
        ) from exc


def _stage(endpoint: str, token: str | None, snapshot: ArchiveSnapshot, path: Path, log: Callable[[str], None]) -> ArchiveRead:
    fs = hf_filesystem(endpoint, token)
    with fs.open(snapshot.fs_path, "rb", cache_type="none") as remote:
        counted = CountingFile(remote)
        pf = pq.ParquetFile(counted, pre_buffer=True)
        columns, absent = projection(pf.schema_arrow)
        size = fs.size(snapshot.fs_path)
        log(
            f"archive: reading {snapshot.dataset} {snapshot.label}: {pf.metadata.num_rows:,} models, {size / 1e6:,.1f} MB, "
            f"{pf.num_row_groups} row groups; columns {', '.join(columns)}" + (f"; absent: {', '.join(absent)}" if absent else "")
        )
        rows = 0
        writer: pq.ParquetWriter | None = None
        try:
            for i in range(pf.num_row_groups):
                for batch in pf.iter_batches(batch_size=BATCH_ROWS, row_groups=[i], columns=columns):
                    if writer is None:
                        writer = pq.ParquetWriter(path, batch.schema, compression="zstd")
                    writer.write_batch(batch)
                    rows += batch.num_rows
                log(f"archive: row group {i + 1}/{pf.num_row_groups}, {rows:,} models, {counted.bytes_read / 1e6:,.1f} MB fetched")
            if writer is None:
                pf_schema = pf.schema_arrow
                writer = pq.ParquetWriter(path, pa.schema([pf_schema.field(c.split(".")[0]) for c in columns]))
        finally:
            if writer is not None:
                writer.close()
    return ArchiveRead(snapshot, path, rows, size, counted.bytes_read, pf.num_row_groups, columns, absent)
