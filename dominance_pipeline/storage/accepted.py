"""A month's accepted raw listing, kept aside while a new listing of that month waits for its check.

Dagster runs a check after its asset, so a re-run of a month has replaced the raw partition (and its
quarantine) before the blocking check judges the new listing. Should the check reject it, the month would
hold a listing no later run may read, beside downstream partitions computed from the one it replaced.
So the asset links the accepted files aside before it publishes (`keep`), and the check settles: a passed
listing drops them, a rejected one moves to `_rejected/` for inspection and the accepted files go back in
place with their verdict (`settle`). Hard links: keeping 3 million models aside costs no copy.

A listing that was never accepted (the month's first run, or one whose earlier listing failed too) has
nothing to go back to: the rejected listing stays in place, refused by its verdict (storage.verdicts).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
from pathlib import Path

from dominance_pipeline.storage import verdicts
from dominance_pipeline.storage.parquet import partition_dir, partition_file

PREVIOUS, REJECTED = "_previous", "_rejected"
DATA, QUARANTINE, VERDICT = "data.parquet", "quarantine.parquet", "verdict.json"


def previous_dir(root: Path, table: str, month: dt.date | str) -> Path:
    """Where the accepted listing waits while its replacement is checked."""
    return partition_dir(Path(root) / PREVIOUS, table, month)


def rejected_dir(root: Path, table: str, month: dt.date | str) -> Path:
    """Where a rejected listing that replaced an accepted one is kept, with its quarantine and verdict."""
    return partition_dir(Path(root) / REJECTED, table, month)


def _place(source: Path, target: Path) -> None:
    """`target` becomes another name for `source` (atomically replaced if it exists); a copy where the
    file system has no hard links."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.unlink(missing_ok=True)
    try:
        os.link(source, tmp)
    except OSError:
        shutil.copy2(source, tmp)
    os.replace(tmp, target)


def keep(root: Path, quarantine: Path, table: str, month: dt.date | str) -> bool:
    """Before `month`'s listing is published again: link the one in place aside if it is accepted (passed
    its check, or was never checked). A listing in place that is not (rejected with nothing to go back to,
    or published by a run that died before its check) leaves the last accepted one aside as it was.
    Returns whether an accepted listing is aside.
    """
    data, aside = partition_file(root, table, month), previous_dir(root, table, month)
    if not data.exists() or not verdicts.read(root, table, month).usable:
        return (aside / DATA).exists()
    shutil.rmtree(aside, ignore_errors=True)
    q, kept = partition_file(quarantine, table, month), verdicts.verdict_file(root, table, month)
    if q.exists():
        _place(q, aside / QUARANTINE)
    if kept.exists():
        _place(kept, aside / VERDICT)
    _place(data, aside / DATA)  # last: a listing is aside once its data file is
    return True


def settle(root: Path, quarantine: Path, table: str, month: dt.date | str, passed: bool) -> Path | None:
    """After the check of `month`'s listing: a passed listing drops the accepted one aside; a rejected one
    is moved to `rejected_dir` and the accepted listing goes back in place with its verdict. Returns the
    rejected folder when that happened.

    Each file moves by an atomic rename, the data file first: a crash part way leaves the rejected listing
    in place (still refused by its verdict, the accepted one still aside), or the accepted data beside a
    verdict that does not name it (refused until the check runs on it again).
    """
    aside = previous_dir(root, table, month)
    if passed or not (aside / DATA).exists():
        if passed:
            shutil.rmtree(aside, ignore_errors=True)
        return None
    data, q, kept = partition_file(root, table, month), partition_file(quarantine, table, month), verdicts.verdict_file(root, table, month)
    out = rejected_dir(root, table, month)
    shutil.rmtree(out, ignore_errors=True)
    for current, name in ((data, DATA), (q, QUARANTINE), (kept, VERDICT)):
        if current.exists():
            _place(current, out / name)
    _place(aside / DATA, data)
    if (aside / QUARANTINE).exists():
        _place(aside / QUARANTINE, q)
    else:
        q.unlink(missing_ok=True)
    if (aside / VERDICT).exists():
        # Recorded again on the file as it is back in place: the same file, unless it had to be copied.
        before = json.loads((aside / VERDICT).read_text())
        verdicts.record(root, table, month, verdicts.identity(data), passed=before["passed"], summary=before["summary"])
    else:
        kept.unlink(missing_ok=True)  # never checked here, as before
    shutil.rmtree(aside, ignore_errors=True)
    return out

