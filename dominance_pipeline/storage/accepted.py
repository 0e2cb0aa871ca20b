"""A month's accepted partition, kept aside while a new one of that month waits for its check.

Dagster runs a check after its asset, so a re-run of a month has replaced the partition (and, for the raw
listing, its quarantine) before the blocking check judges the new one. Should the check reject it, the
month would hold a partition no later run may read, beside partitions computed from the one it replaced.
So the writer links the accepted files aside before it publishes (`keep`), and the check settles: a passed
partition drops them, a rejected one moves to `_rejected/` for inspection and the accepted files go back in
place with their verdict (`settle`). Hard links: keeping 3 million models aside costs no copy.

A partition that was never accepted (the month's first, or one whose earlier partition failed too) has
nothing to go back to: the rejected one leaves all the same, and the month has no partition until one passes;
its failed verdict stays (storage.verdicts), so that later runs say why.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from dominance_pipeline.storage import verdicts
from dominance_pipeline.storage.parquet import partition_dir, partition_file

PREVIOUS, REJECTED = "_previous", "_rejected"
DATA, QUARANTINE, VERDICT = "data.parquet", "quarantine.parquet", "verdict.json"


def previous_dir(root: Path, table: str, month: dt.date | str) -> Path:
    """Where the accepted partition waits while its replacement is checked."""
    return partition_dir(Path(root) / PREVIOUS, table, month)


def rejected_dir(root: Path, table: str, month: dt.date | str) -> Path:
    """Where a rejected partition is kept for inspection, with its quarantine and verdict."""
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


def keep(root: Path, table: str, month: dt.date | str, quarantine: Path | None = None) -> bool:
    """Before `month`'s partition of `table` is published again: link the one in place aside (with its
    quarantine under `quarantine`, and its verdict) if it is accepted (passed its check, or was never
    checked). One in place that is not (rejected with nothing to go back to, or published by a run that
    died before its check) leaves the last accepted one aside as it was. Then the month is marked pending
    (storage.verdicts), so that what is published next is unchecked until its check runs. Returns whether
    one is aside.
    """
    data, aside = partition_file(root, table, month), previous_dir(root, table, month)
    now = verdicts.read(root, table, month)
    if data.exists() and now.usable:
        shutil.rmtree(aside, ignore_errors=True)
        aside.mkdir(parents=True, exist_ok=True)
        if quarantine is not None and partition_file(quarantine, table, month).exists():
            _place(partition_file(quarantine, table, month), aside / QUARANTINE)
        # Its verdict, and the identity it had in place: a run that fails before it publishes leaves it aside
        # while it is still in place, and then it is no other partition to go back to (`settle`).
        (aside / VERDICT).write_text(json.dumps({"state": now.state, "summary": now.summary, "file": verdicts.identity(data)}))
        _place(data, aside / DATA)  # last: a partition is aside once its data file is
    verdicts.pending(root, table, month, now)
    return (aside / DATA).exists()


def _aside_verdict(aside: Path) -> dict[str, object]:
    """The verdict kept aside with a partition: its state, summary and the identity it had in place (a folder
    set aside before these were kept has the verdict file itself, or none if it was never checked)."""
    path = aside / VERDICT
    kept = json.loads(path.read_text()) if path.exists() else {}
    state = kept.get("state") or (verdicts.PASSED if kept.get("passed") else verdicts.NEVER)
    return {"state": state, "summary": kept.get("summary", ""), "file": kept.get("file")}


@dataclass(frozen=True)
class Settled:
    """Where a rejected partition went, and whether the accepted one it replaced is back in its place."""

    rejected: Path
    restored: bool


def settle(root: Path, table: str, month: dt.date | str, passed: bool, quarantine: Path | None = None) -> Settled | None:
    """After the check of `month`'s partition: a passed one drops the accepted one aside. A rejected one
    leaves the published tree for `rejected_dir` (with its quarantine and verdict), so that no glob or view
    an analyst reads holds it, and the accepted partition goes back in place with its quarantine and
    verdict; with none aside the month has no partition, and its failed verdict stays to say why.

    Each file is linked into `rejected_dir` before anything moves, and the data file moves first: a crash
    part way leaves the rejected partition in place (still refused by its verdict, the accepted one still
    aside), or the accepted data beside a verdict that does not name it (refused until the check runs on it
    again).
    """
    aside = previous_dir(root, table, month)
    if passed:
        shutil.rmtree(aside, ignore_errors=True)
        return None
    data, kept = partition_file(root, table, month), verdicts.verdict_file(root, table, month)
    if not data.exists():
        return None
    q = partition_file(quarantine, table, month) if quarantine is not None else None
    before = _aside_verdict(aside)
    if (aside / DATA).exists() and before["file"] == verdicts.identity(data):
        shutil.rmtree(aside, ignore_errors=True)  # nothing was published since it went aside: it is the one rejected
    out = rejected_dir(root, table, month)
    shutil.rmtree(out, ignore_errors=True)
    for current, name in ((data, DATA), (q, QUARANTINE), (kept, VERDICT)):
        if current is not None and current.exists():
            _place(current, out / name)
    if not (aside / DATA).exists():
        data.unlink()
        if q is not None:
            q.unlink(missing_ok=True)
        return Settled(out, restored=False)
    _place(aside / DATA, data)
    if q is not None:
        if (aside / QUARANTINE).exists():
            _place(aside / QUARANTINE, q)
        else:
            q.unlink(missing_ok=True)
    if before["state"] == verdicts.PASSED:
        # Recorded again on the file as it is back in place: the same file, unless it had to be copied.
        verdicts.record(root, table, month, verdicts.identity(data), passed=True, summary=before["summary"])
    else:
        kept.unlink(missing_ok=True)  # never checked here, as before
    shutil.rmtree(aside, ignore_errors=True)
    return Settled(out, restored=True)
