"""Dataset repos with a git-like history, built from local files, as the `hf://` filesystem sees them.

Two layouts mirror the public snapshot datasets the archive source reads (hf-filesystem-offline.md §6):

- `weekly_repo`: like `hfmlsoc/hub_weekly_snapshots`, `models/<YYYY-MM-DD>/models.parquet`, one commit per
  week adding that week's folder (dated a week after the folder's label, when its data is complete);
- `daily_repo`: like `cfahlgren1/hub-stats`, a single `models.parquet` at the root, rewritten by one commit
  a day, so older snapshots are only reachable at older revisions.

Files are served from disk, never loaded whole; a commit's tree maps repo paths to local files.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

WEEKLY_REPO_ID = "hfmlsoc/hub_weekly_snapshots"
DAILY_REPO_ID = "cfahlgren1/hub-stats"
WEEK = dt.timedelta(days=7)


def hub_time(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


@dataclass(frozen=True)
class Commit:
    sha: str
    date: dt.datetime
    title: str
    tree: dict[str, Path]

    def as_json(self) -> dict[str, object]:
        return {
            "id": self.sha,
            "title": self.title,
            "message": "",
            "authors": [{"user": "snapshot-bot", "avatar": None}],
            "date": hub_time(self.date),
        }


def file_oid(path: str, local: Path) -> str:
    """A stable stand-in for the git blob id: hashing gigabyte files on every start would be too slow."""
    st = local.stat()
    return hashlib.sha1(f"{path}:{st.st_size}:{st.st_mtime_ns}".encode()).hexdigest()


@dataclass
class DatasetRepo:
    """A dataset repo: commits oldest first; `main` is the newest."""

    repo_id: str
    commits: list[Commit] = field(default_factory=list)

    def commit(self, date: dt.datetime, title: str, changes: dict[str, Path]) -> Commit:
        """Add a commit on top of the newest, changing `changes` (repo path -> local file)."""
        for local in changes.values():
            if not Path(local).is_file():
                raise FileNotFoundError(f"{self.repo_id}: snapshot file not found: {local}")
        tree = {**(self.commits[-1].tree if self.commits else {}), **{p: Path(f) for p, f in changes.items()}}
        sha = hashlib.sha1(f"{self.repo_id}:{len(self.commits)}:{date.isoformat()}:{title}".encode()).hexdigest()
        made = Commit(sha, date.astimezone(dt.UTC), title, tree)
        self.commits.append(made)
        self.commits.sort(key=lambda c: c.date)
        return made

    def resolve(self, revision: str) -> Commit | None:
        """A branch name (`main`) or a full or abbreviated commit sha."""
        if not self.commits:
            return None
        if revision == "main":
            return self.commits[-1]
        if len(revision) >= 7:
            for c in self.commits:
                if c.sha.startswith(revision):
                    return c
        return None

    def history(self, revision: Commit) -> list[Commit]:
        """Commits reachable from `revision`, newest first (what `list_repo_commits` returns)."""
        return [c for c in reversed(self.commits) if c.date <= revision.date]

    def entries(self, commit: Commit, path: str, recursive: bool) -> list[dict[str, object]] | None:
        """Tree entries under `path` (repo-relative); None if `path` is neither a folder nor a file."""
        prefix = f"{path.strip('/')}/" if path.strip("/") else ""
        if path.strip("/") in commit.tree:
            return [self.entry(commit, path.strip("/"))]
        files = sorted(p for p in commit.tree if p.startswith(prefix))
        if not files and prefix:
            return None
        out: dict[str, dict[str, object]] = {}
        for p in files:
            rest = p[len(prefix):].split("/")
            if recursive:
                for depth in range(1, len(rest)):
                    folder = prefix + "/".join(rest[:depth])
                    out.setdefault(folder, self.folder_entry(folder))
                out[p] = self.entry(commit, p)
            elif len(rest) == 1:
                out[p] = self.entry(commit, p)
            else:
                folder = prefix + rest[0]
                out.setdefault(folder, self.folder_entry(folder))
        return list(out.values())

    def entry(self, commit: Commit, path: str) -> dict[str, object]:
        local = commit.tree[path]
        return {"type": "file", "oid": file_oid(path, local), "size": local.stat().st_size, "path": path}

    def folder_entry(self, path: str) -> dict[str, object]:
        return {"type": "directory", "oid": hashlib.sha1(path.encode()).hexdigest(), "path": path}

    def path_info(self, commit: Commit, path: str, expand: bool = False) -> dict[str, object] | None:
        """A file's or folder's entry; with `expand`, a file's `lastCommit`, as the Hub's paths-info gives it."""
        path = path.strip("/")
        if path in commit.tree:
            changed = self.last_change(commit, path) if expand else None
            return {**self.entry(commit, path), **({"lastCommit": _commit_ref(changed)} if changed else {})}
        if any(p.startswith(path + "/") for p in commit.tree):
            return self.folder_entry(path)
        return None

    def last_change(self, commit: Commit, path: str) -> Commit | None:
        """The newest commit up to `commit` that added or replaced `path` (a commit changing other files only
        leaves it as it was)."""
        history = [c for c in self.commits if c.date <= commit.date]
        changed = None
        for before, after in zip([None, *history], history, strict=False):
            if path in after.tree and (before is None or before.tree.get(path) != after.tree[path]):
                changed = after
        return changed

    def info(self, commit: Commit) -> dict[str, object]:
        return {
            "_id": self.repo_id.replace("/", "-"),
            "id": self.repo_id,
            "author": self.repo_id.split("/")[0],
            "sha": commit.sha,
            "lastModified": hub_time(commit.date),
            "private": False,
            "gated": False,
            "disabled": False,
            "tags": [],
            "siblings": [{"rfilename": p} for p in sorted(commit.tree)],
        }


def _commit_ref(commit: Commit) -> dict[str, object]:
    return {"id": commit.sha, "title": commit.title, "date": hub_time(commit.date)}


def parse_when(text: str) -> dt.datetime:
    """`2026-05-31` (midnight UTC) or an ISO time such as `2026-05-31T13:00:00Z`."""
    value = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def weekly_repo(snapshots: Iterable[tuple[dt.date, Path]], repo_id: str = WEEKLY_REPO_ID) -> DatasetRepo:
    """`models/<date>/models.parquet` per week; each added by a commit dated when that week ended."""
    repo = DatasetRepo(repo_id)
    for label, local in sorted(snapshots):
        when = dt.datetime.combine(label, dt.time(), dt.UTC) + WEEK
        repo.commit(when, f"Add snapshot for week of {label.isoformat()}", {f"models/{label.isoformat()}/models.parquet": local})
    return repo


def daily_repo(snapshots: Iterable[tuple[dt.datetime, Path]], repo_id: str = DAILY_REPO_ID) -> DatasetRepo:
    """One `models.parquet` at the root, replaced by one commit per snapshot time."""
    repo = DatasetRepo(repo_id)
    for when, local in sorted(snapshots):
        repo.commit(when, f"Upload models.parquet ({when:%Y-%m-%d})", {"models.parquet": local})
    return repo
