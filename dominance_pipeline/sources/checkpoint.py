"""The resumable state of a live listing: staged pages on disk plus the link to the next page.

A listing of the whole Hub takes half an hour of paced API calls; a run that dies (killed, out of
memory, the Hub rate-limiting it for longer than the client retries) must not start again from page 1.
The live source stages pages into numbered Parquet chunks in the month's staging folder and, after each
chunk, writes `checkpoint.json`: which chunks hold the listing so far and the `Link` URL of the next page
(the Hub's cursor is in that URL, so following it continues the same listing). Both are published with
an atomic rename, chunk first, so after a SIGKILL at any instant the checkpoint names only complete
chunks and the next page after the last of them; a chunk written after the last checkpoint is an orphan
and is deleted.

A checkpoint is only resumed by a listing of the same month, endpoint and query, and only while it is
fresh (`RESUME_MAX_AGE`): a listing resumed days later would mix two moments of the Hub. The snapshot
window rule (live.check_listing_time) is checked again on the first page of the resumed run.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import json
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from dominance_pipeline.storage import parquet

FILE = "checkpoint.json"
FORMAT = 1
RESUME_MAX_AGE = dt.timedelta(hours=24)


def url_key(url: str) -> str:
    """A short fingerprint of a page URL (the checkpoint keeps these, not the URLs, to detect a loop)."""
    return hashlib.sha1(url.encode()).hexdigest()[:16]


@dataclass
class Checkpoint:
    """How far a listing got. `next_url` None with `done` means complete (killed before publishing)."""

    month: str
    endpoint: str
    query: dict
    next_url: str | None = None
    done: bool = False
    pages: int = 0
    models: int = 0
    repeats: int = 0
    files: list[str] = field(default_factory=list)
    last_page_rows: int = 0
    started_at: str | None = None
    last_page_at: str | None = None
    clock: str = "server"
    min_total: int | None = None
    cursors: list[str] = field(default_factory=list)
    saved_at: str | None = None
    format: int = FORMAT

    def same_listing(self, other: Checkpoint) -> bool:
        return (self.format, self.month, self.endpoint, self.query) == (other.format, other.month, other.endpoint, other.query)


class StagingBusyError(RuntimeError):
    """Another process is listing the same month into the same staging folder."""


@contextmanager
def locked(root: Path) -> Iterator[None]:
    """Hold the month's staging folder for this process: two runs of one month would write one checkpoint.

    An advisory lock on a file beside the folder (the folder itself is emptied and removed); the kernel
    releases it when the process ends, however it ends, so a killed run never leaves it held.
    """
    root.parent.mkdir(parents=True, exist_ok=True)
    with open(root.with_name(root.name + ".lock"), "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise StagingBusyError(
                f"another run is already listing into {root}; wait for it to end (or stop it) and run the month again"
            ) from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class StagingArea:
    """One month's staging folder: numbered chunks of staged pages and the checkpoint naming them."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    @property
    def checkpoint_path(self) -> Path:
        return self.root / FILE

    def files(self, state: Checkpoint) -> list[Path]:
        return [self.root / name for name in state.files]

    def load(self, wanted: Checkpoint, now: dt.datetime) -> tuple[Checkpoint | None, str]:
        """The checkpoint to resume, or None and why not (no checkpoint, another listing, too old, damaged)."""
        if not self.checkpoint_path.exists():
            return None, "no checkpoint"
        try:
            data = json.loads(self.checkpoint_path.read_text())
            state = Checkpoint(**data)
        except (OSError, ValueError, TypeError) as exc:
            return None, f"unreadable checkpoint ({exc})"
        if not state.same_listing(wanted):
            return None, "the checkpoint belongs to another month, endpoint or query"
        saved = dt.datetime.fromisoformat(state.saved_at) if state.saved_at else None
        if saved is None or now - saved > RESUME_MAX_AGE:
            return None, f"the checkpoint is older than {RESUME_MAX_AGE.total_seconds() / 3600:.0f} hours"
        missing = [p.name for p in self.files(state) if not p.is_file()]
        if missing:
            return None, f"staged chunks are missing ({', '.join(missing)})"
        return state, "resuming"

    def reset(self) -> None:
        """Forget any staged listing: the folder is emptied (and created)."""
        shutil.rmtree(self.root, ignore_errors=True)
        self.root.mkdir(parents=True, exist_ok=True)

    def drop_orphans(self, state: Checkpoint) -> None:
        """Delete what the checkpoint does not name: a chunk written after it, a temporary file of a killed write."""
        keep = {FILE, *state.files}
        for path in self.root.iterdir():
            if path.name not in keep:
                path.unlink() if path.is_file() else shutil.rmtree(path, ignore_errors=True)

    def write_chunk(self, state: Checkpoint, table: pa.Table) -> None:
        """Publish one chunk of staged pages (atomically); it is part of the listing once `save` names it."""
        name = f"part-{len(state.files):05d}.parquet"
        with parquet.publishing(self.root / name) as tmp:
            pq.write_table(table, tmp, compression="zstd")
        state.files.append(name)

    def save(self, state: Checkpoint, now: dt.datetime) -> None:
        state.saved_at = now.isoformat()
        with parquet.publishing(self.checkpoint_path) as tmp:
            tmp.write_text(json.dumps(asdict(state)))

    def last_rows(self, state: Checkpoint) -> pa.Table | None:
        """The staged rows of the last page before the checkpoint (to recognise a repeat on the next page)."""
        if not state.files or not state.last_page_rows:
            return None
        table = pq.read_table(self.files(state)[-1])
        return table.slice(max(table.num_rows - state.last_page_rows, 0))

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
