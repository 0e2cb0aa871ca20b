"""Whether a stored partition passed its blocking check, for the runs that read it later.

Dagster stops a month's downstream steps only inside the run whose check failed. Later runs must not take
a rejected partition for an accepted one: the next month would compare its size with it and compute its
delta from it, a run of the downstream assets alone would build on it. A rejected partition leaves the
warehouse (storage.accepted), but a month may also hold one published by a run that died before its check.
So the check records its verdict beside the warehouse (`_checks/<table>/month=<key>.json`, out of the
partitions' own folders, which readers glob) with the identity of the file it judged: a file published
again since is unchecked until its check runs again, and a month whose partition was rejected and has none
now reads as failed, with the reason.
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
        """Passed, or never checked here (a warehouse written before verdicts were kept, or a run without
        the check): only a failed check, or a file published again after its check, is refused."""
        return self.state in (PASSED, NEVER)

    def refusal(self, table: str, month: dt.date) -> str:
        """Why the partition is refused, for a log line or an `absent` reason."""
        if self.state == FAILED:
            return f"{table} for {month:%Y-%m} failed its check ({self.summary})"
        return f"{table} for {month:%Y-%m} was published again after its check ran and has not been checked since"


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


def read(root: Path, table: str, month: dt.date | str) -> Verdict:
    """The verdict on the partition as it is now."""
    path, data = verdict_file(root, table, month), partition_file(root, table, month)
    if not path.exists():
        return Verdict(NEVER)
    kept = json.loads(path.read_text())
    if not data.exists():  # a rejected partition left the warehouse (storage.accepted): its verdict says why
        return Verdict(NEVER) if kept["passed"] else Verdict(FAILED, kept["summary"])
    if kept["file"] != identity(data):
        return Verdict(UNCHECKED, kept["summary"])
    return Verdict(PASSED if kept["passed"] else FAILED, kept["summary"])


def judged_months(root: Path, table: str) -> list[str]:
    """The partition keys (YYYY-MM-01) of `table` with a verdict kept, whether or not a file is there now."""
    folder = Path(root) / FOLDER / table
    return sorted(p.stem.removeprefix("month=") for p in folder.glob("month=*.json")) if folder.is_dir() else []
