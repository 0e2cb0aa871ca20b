"""Whether a stored partition passed its blocking check, for the runs that read it later.

Dagster stops a month's downstream steps only inside the run whose check failed. Later runs must not take
a rejected partition for an accepted one: the next month would compare its size with it and compute its
delta from it, a run of the downstream assets alone would build on it. A rejected partition leaves the
warehouse (storage.accepted), but a month may also hold one published by a run that died before its check.
So the check records its verdict beside the warehouse (`_checks/<table>/month=<key>.json`, out of the
partitions' own folders, which readers glob) with the identity of the file it judged: a file published
again since is unchecked until its check runs again, and a month whose partition was rejected and has none
now reads as failed, with the reason.

A writer marks the month `pending` before it publishes (`pending`), naming the file in place then and what
that file's verdict was: if the run dies before its check, the file it published reads as unchecked (the
month's first partition too, which has no verdict to differ from), while the file in place, if nothing was
published, keeps its verdict.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path

from dominance_pipeline.storage.parquet import partition_file, publishing

PASSED, FAILED, UNCHECKED, NEVER = "passed", "failed", "unchecked", "never checked"
FOLDER = "_checks"


@dataclass(frozen=True)
class Verdict:
    state: str
    summary: str = ""

    @property
    def usable(self) -> bool:
        """Passed, or never checked here (a warehouse written before verdicts were kept): only a failed
        check, or a file published since its check ran (or by a run that died before it), is refused."""
        return self.state in (PASSED, NEVER)

    def refusal(self, table: str, month: dt.date) -> str:
        """Why the partition is refused, for a log line or an `absent` reason."""
        if self.state == FAILED:
            return f"{table} for {month:%Y-%m} failed its check ({self.summary})"
        return f"{table} for {month:%Y-%m} was published and its check has not run on it since (run the check, or the month again)"


def identity(path: Path) -> list[int]:
    """What changes when a file is published again (os.replace gives it a new inode and time)."""
    st = path.stat()
    return [st.st_size, st.st_mtime_ns, st.st_ino]


def verdict_file(root: Path, table: str, month: dt.date | str) -> Path:
    return Path(root) / FOLDER / table / f"month={month}.json"


def record(root: Path, table: str, month: dt.date | str, judged: list[int], passed: bool, summary: str) -> None:
    """Keep the verdict on the partition file whose `identity` was `judged`."""
    path = verdict_file(root, table, month)
    with publishing(path) as tmp:
        tmp.write_text(json.dumps({"passed": passed, "file": judged, "summary": summary}))


def pending(root: Path, table: str, month: dt.date | str, now: Verdict | None = None) -> None:
    """Before a writer publishes the month's partition: whatever it publishes is unchecked until its check
    records a verdict; the file in place now (if it stays) keeps the verdict it has (`now`, if read already)."""
    data, now = partition_file(root, table, month), now or read(root, table, month)
    before = identity(data) if data.exists() else None
    path = verdict_file(root, table, month)
    with publishing(path) as tmp:
        tmp.write_text(json.dumps({"pending": True, "before": before, "state": now.state, "summary": now.summary}))


def read(root: Path, table: str, month: dt.date | str) -> Verdict:
    """The verdict on the partition as it is now."""
    path, data = verdict_file(root, table, month), partition_file(root, table, month)
    if not path.exists():
        return Verdict(NEVER)
    kept = json.loads(path.read_text())
    if kept.get("pending"):
        unchanged = (identity(data) if data.exists() else None) == kept["before"]
        return Verdict(kept["state"], kept["summary"]) if unchanged else Verdict(UNCHECKED, kept["summary"])
    if not data.exists():  # a rejected partition left the warehouse (storage.accepted): its verdict says why
        return Verdict(NEVER) if kept["passed"] else Verdict(FAILED, kept["summary"])
    if kept["file"] != identity(data):
        return Verdict(UNCHECKED, kept["summary"])
    return Verdict(PASSED if kept["passed"] else FAILED, kept["summary"])


def judged_months(root: Path, table: str) -> list[str]:
    """The partition keys (YYYY-MM-01) of `table` with a verdict kept, whether or not a file is there now."""
    folder = Path(root) / FOLDER / table
    return sorted(p.stem.removeprefix("month=") for p in folder.glob("month=*.json")) if folder.is_dir() else []
