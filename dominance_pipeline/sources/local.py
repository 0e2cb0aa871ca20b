"""The local source: a hub-stats-shaped Parquet file on disk standing for one month-end snapshot."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq

from dominance_pipeline.sources.normalise import HUB_COLUMNS

SNAPSHOT_PATTERN = "hub_stats_{month}.parquet"


class SnapshotNotFoundError(FileNotFoundError):
    """No snapshot for the requested month; the message says where we looked and how to supply one."""


def snapshot_path(snapshot_dir: Path, month: dt.date) -> Path:
    return snapshot_dir / SNAPSHOT_PATTERN.format(month=month.strftime("%Y-%m"))


def find_snapshot(month: dt.date, snapshot_dir: Path, snapshot: str | Path | None = None) -> Path:
    """The file standing for `month`: the explicit `snapshot` if given, else hub_stats_YYYY-MM.parquet in the dir."""
    path = Path(snapshot) if snapshot else snapshot_path(snapshot_dir, month)
    if not path.is_file():
        how = (
            f"pass --snapshot FILE (any hub-stats models.parquet taken at the end of {month:%Y-%m}), "
            f"or place it at {snapshot_path(snapshot_dir, month)}, or use --source archive"
        )
        raise SnapshotNotFoundError(f"no local snapshot for {month:%Y-%m}: looked for {path}; {how}")
    return path


def scan_snapshot(path: Path) -> pl.LazyFrame:
    """A lazy scan projected on the columns the raw schema needs (hub-stats files carry many more)."""
    names = set(pq.read_schema(path).names)
    return pl.scan_parquet(path).select([c for c in HUB_COLUMNS if c in names])


def declared_source(path: Path) -> str | None:
    """The `source` a file declares in its Parquet key-value metadata (the synthetic Hub writes `synthetic`)."""
    meta = pq.read_schema(path).metadata or {}
    value = meta.get(b"source")
    return value.decode() if value else None


def infer_snapshot_at(path: Path) -> dt.datetime:
    """The latest timestamp in the file: the snapshot was taken no earlier than that.

    hub-stats files carry no snapshot time of their own; the newest lastModified/createdAt is the tightest
    lower bound the file itself proves. Pass an explicit time when you know it.
    """
    names = set(pq.read_schema(path).names)
    cols = [c for c in ("lastModified", "createdAt") if c in names]
    if not cols:
        return dt.datetime.fromtimestamp(path.stat().st_mtime, tz=dt.UTC)
    latest = pl.scan_parquet(path).select(pl.max_horizontal([pl.col(c).max() for c in cols])).collect().item()
    if isinstance(latest, str):
        latest = dt.datetime.fromisoformat(latest.replace("Z", "+00:00"))
    if latest.tzinfo is None:
        latest = latest.replace(tzinfo=dt.UTC)
    return latest.astimezone(dt.UTC)
