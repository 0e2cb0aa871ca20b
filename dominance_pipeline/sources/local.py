"""The local source: a hub-stats-shaped Parquet file on disk standing for one month-end snapshot."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from dominance_pipeline.sources.normalise import HUB_COLUMNS

SNAPSHOT_PATTERN = "hub_stats_{month}.parquet"


class SnapshotNotFoundError(FileNotFoundError):
    """No snapshot for the requested month; the message says where we looked and how to supply one."""


class SnapshotUnreadableError(ValueError):
    """The snapshot file is not a hub-stats Parquet file; the message names it."""


def snapshot_path(snapshot_dir: Path, month: dt.date) -> Path:
    return snapshot_dir / SNAPSHOT_PATTERN.format(month=month.strftime("%Y-%m"))


def find_snapshot(month: dt.date, snapshot_dir: Path, snapshot: str | Path | None = None) -> Path:
    """The file standing for `month`: the explicit `snapshot` if given, else hub_stats_YYYY-MM.parquet in the dir."""
    path = Path(snapshot) if snapshot else snapshot_path(snapshot_dir, month)
    if not path.is_file() and snapshot:
        raise SnapshotNotFoundError(f"no local snapshot for {month:%Y-%m}: the snapshot file {path} does not exist")
    if not path.is_file():
        # Said for every place a run starts from: materialize's and backfill's flags, the UI's run config.
        how = (
            f"place a hub-stats models.parquet taken at the end of {month:%Y-%m} there (the snapshot folder: "
            f"--snapshot-dir DIR or $DOMINANCE_SNAPSHOT_DIR), or name the file (materialize --snapshot FILE; "
            f"`snapshot: FILE` in raw_hub_listings' run config in the UI), or use the archive source "
            f"(--source archive; `source: archive` in the run config)"
        )
        raise SnapshotNotFoundError(f"no local snapshot for {month:%Y-%m}: looked for {path}; {how}")
    try:
        schema = pq.read_schema(path)
    except (OSError, pa.ArrowException) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise SnapshotUnreadableError(f"the snapshot {path} is not a readable Parquet file: {reason}") from None
    if "id" not in schema.names:
        raise SnapshotUnreadableError(f"the snapshot {path} has no `id` column: it is not a hub-stats models file")
    return path


def scan_snapshot(path: Path) -> pl.LazyFrame:
    """A lazy scan projected on the columns the raw schema needs (hub-stats files carry many more)."""
    names = set(pq.read_schema(path).names)
    return pl.scan_parquet(path, glob=False).select([c for c in HUB_COLUMNS if c in names])


def declared_source(path: Path) -> str | None:
    """The `source` a file declares in its Parquet key-value metadata (the synthetic Hub writes `synthetic`)."""
    meta = pq.read_schema(path).metadata or {}
    value = meta.get(b"source")
    return value.decode() if value else None


def infer_snapshot_at(path: Path, now: dt.datetime | None = None) -> dt.datetime:
    """The latest timestamp in the file that is not in the future: the snapshot was taken no earlier than that.

    hub-stats files carry no snapshot time of their own; the newest lastModified/createdAt is the tightest
    lower bound the file itself proves. A date after this machine's clock is not evidence but a broken row
    (normalisation quarantines it as `created_after_snapshot`): one such row must not move the snapshot
    into the future. Pass an explicit time when you know it.
    """
    from dominance_pipeline.sources.normalise import _to_utc

    now = now or dt.datetime.now(dt.UTC)
    scan = pl.scan_parquet(path, glob=False)
    schema = scan.collect_schema()
    cols = [c for c in ("lastModified", "createdAt") if c in schema]
    latest = None
    if cols:
        times = [_to_utc(c, schema[c]) for c in cols]
        latest = scan.select(pl.max_horizontal([t.filter(t <= now).max() for t in times])).collect().item()
    if latest is None:
        return dt.datetime.fromtimestamp(path.stat().st_mtime, tz=dt.UTC)
    return latest.astimezone(dt.UTC)
