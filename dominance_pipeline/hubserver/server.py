"""The HTTP side of the fake Hub: routing, the Hub's headers and errors, Range reads, faults, counters.

Built on the standard library's ThreadingHTTPServer (HTTP/1.1 keep-alive, `Content-Length` on every
response), so it adds no dependency. Paths are split on `/` before unquoting each segment, because the
client quotes revisions and folders with `quote(x, safe="")` (hf-filesystem-offline.md §1).
"""

from __future__ import annotations

import datetime as dt
import email.utils
import hashlib
import json
import socket
import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

import polars as pl

from dominance_pipeline.hubserver.faults import Fault, Page, Reply
from dominance_pipeline.hubserver.models import DEFAULT_KEYS, ModelCorpus, Query, QueryError, check_expand, decode_cursor, encode_cursor
from dominance_pipeline.hubserver.repos import Commit, DatasetRepo

DEFAULT_PAGE_SIZE = 1000
COMMITS_PAGE_SIZE = 50
CHUNK = 1 << 20
MAX_BUFFERED_RANGE = 64 << 20


@dataclass
class Stats:
    """What the server sent, for tests and benchmarks to check (e.g. bytes of a file actually read)."""

    requests: Counter = field(default_factory=Counter)
    statuses: Counter = field(default_factory=Counter)
    file_bytes: Counter = field(default_factory=Counter)
    models_sent: int = 0
    pages_sent: int = 0
    # Requests that carried `Authorization: Bearer <token>`, and the SHA-256 of each token seen: enough for a
    # test to prove the client signed in with a given token, without the server keeping (or echoing) it.
    authorized: int = 0
    token_sha256: set[str] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def saw(self, authorization: str | None) -> None:
        if not authorization:
            return
        token = authorization.removeprefix("Bearer ").strip()
        with self._lock:
            self.authorized += 1
            self.token_sha256.add(hashlib.sha256(token.encode()).hexdigest())

    def count(self, route: str, status: int) -> None:
        with self._lock:
            self.requests[route] += 1
            self.statuses[status] += 1

    def add_bytes(self, path: str, n: int) -> None:
        with self._lock:
            self.file_bytes[path] += n

    def add_page(self, models: int) -> None:
        with self._lock:
            self.pages_sent += 1
            self.models_sent += models

    def as_json(self) -> dict[str, object]:
        with self._lock:
            return {
                "requests": dict(self.requests),
                "statuses": {str(k): v for k, v in self.statuses.items()},
                "file_bytes": dict(self.file_bytes),
                "models_sent": self.models_sent,
                "pages_sent": self.pages_sent,
                "authorized": self.authorized,
            }


class HubServer:
    """A fake Hub on 127.0.0.1; use as a context manager (tests) or `serve_forever()` (the CLI).

    `as_of` fixes the time the server reports in its `Date` header (a listing's snapshot time): a
    server replaying a past snapshot says when that snapshot was taken. None means the real clock.
    """

    def __init__(
        self,
        corpus: ModelCorpus | None = None,
        repos: Sequence[DatasetRepo] = (),
        faults: Sequence[Fault] = (),
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        page_size: int = DEFAULT_PAGE_SIZE,
        as_of: dt.datetime | None = None,
        log_requests: bool = False,
    ) -> None:
        self.corpus = corpus
        self.repos = {r.repo_id: r for r in repos}
        self.faults = list(faults)
        self.page_size = page_size
        self.as_of = as_of
        self.log_requests = log_requests
        self.stats = Stats()
        self.httpd = ThreadingHTTPServer((host, port), _handler_for(self))
        self.httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def now(self) -> dt.datetime:
        return self.as_of or dt.datetime.now(dt.UTC)

    def start(self) -> HubServer:
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="fake-hub", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self.httpd.serve_forever()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def __enter__(self) -> HubServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _handler_for(hub: HubServer) -> type[BaseHTTPRequestHandler]:
    class Handler(_HubHandler):
        server_hub = hub

    return Handler


class _HubHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_hub: HubServer

    # -- plumbing ---------------------------------------------------------------------------------------

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
        if self.server_hub.log_requests:
            super().log_message(format, *args)

    def date_time_string(self, timestamp: float | None = None) -> str:
        return email.utils.format_datetime(self.server_hub.now(), usegmt=True)

    def _segments(self) -> tuple[list[str], list[tuple[str, str]]]:
        parts = urlsplit(self.path)
        return [unquote(s) for s in parts.path.split("/") if s], parse_qsl(parts.query, keep_blank_values=True)

    def _send(self, route: str, reply: Reply, wire: bool = True) -> None:
        body = reply.body
        cut = None
        if wire and self.command != "HEAD":
            for fault in self._faults(route, fire=False):
                sent = fault.wire(body)
                body, cut = sent.body, sent.cut_after if sent.cut_after is not None else cut
        self.send_response(reply.status)
        # A HEAD answer may state the length its GET would send (a file's size); any other reply is measured.
        length = reply.headers.get("Content-Length") if self.command == "HEAD" else None
        headers = {"Content-Type": "application/json; charset=utf-8", **reply.headers, "Content-Length": length or str(len(body))}
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        self.server_hub.stats.count(route, reply.status)
        if self.command == "HEAD":
            return
        if cut is not None:
            self.wfile.write(body[:cut])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.wfile.write(body)

    def _json(self, route: str, status: int, payload: object, headers: dict[str, str] | None = None) -> None:
        self._send(route, Reply(status, json.dumps(payload).encode(), headers or {}))

    def _not_found(self, route: str, code: str, message: str) -> None:
        self._send(route, Reply(404, json.dumps({"error": message}).encode(), {"X-Error-Code": code}))

    def _faults(self, route: str, fire: bool = True) -> list[Fault]:
        """The faults that act on this request: with fire=True, those whose schedule fires now (counted once)."""
        if fire:
            self._fired = [f for f in self.server_hub.faults if f.applies(route) and f.tick()]
        return getattr(self, "_fired", [])

    def _pre(self, route: str) -> bool:
        """Run the `before` hooks; True if a fault already answered."""
        for fault in self._faults(route):
            reply = fault.before()
            if reply is not None:
                self._send(route, reply, wire=False)
                return True
        return False

    def _base_url(self) -> str:
        """This server as the client addressed it: Link headers must be absolute URLs back to it."""
        host = self.headers.get("Host")
        return f"http://{host}" if host else self.server_hub.url

    def _body_params(self) -> list[tuple[str, str]]:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length).decode() if length else ""
        if "json" in (self.headers.get("Content-Type") or ""):
            data = json.loads(raw or "{}")
            return [("paths", p) for p in data.get("paths", [])] + [("expand", str(data.get("expand", False)))]
        return parse_qsl(raw, keep_blank_values=True)

    # -- routing ----------------------------------------------------------------------------------------

    def do_HEAD(self) -> None:
        self.do_GET()

    def do_GET(self) -> None:
        self._fired = []
        self.server_hub.stats.saw(self.headers.get("Authorization"))
        segments, params = self._segments()
        try:
            if segments[:2] == ["api", "models"] and len(segments) == 2:
                self._list_models(params)
            elif segments[:2] == ["api", "datasets"] and len(segments) >= 4:
                self._dataset_api(segments[2:], params)
            elif segments[:1] == ["datasets"] and len(segments) >= 6 and segments[3] == "resolve":
                self._resolve(f"{segments[1]}/{segments[2]}", segments[4], "/".join(segments[5:]))
            elif segments == ["_fake", "stats"]:
                self._json("stats", 200, self.server_hub.stats.as_json())
            else:
                self._send("other", Reply(404, b'{"error": "Not Found"}'))
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def do_POST(self) -> None:
        self._fired = []
        self.server_hub.stats.saw(self.headers.get("Authorization"))
        segments, _ = self._segments()
        if segments[:2] == ["api", "datasets"] and len(segments) >= 6 and segments[4] == "paths-info":
            self._paths_info(f"{segments[2]}/{segments[3]}", segments[5], self._body_params())
        else:
            self._body_params()
            self._send("other", Reply(404, b'{"error": "Not Found"}'))

    # -- /api/models --------------------------------------------------------------------------------------

    def _list_models(self, params: list[tuple[str, str]]) -> None:
        route = "models"
        if self._pre(route):
            return
        hub = self.server_hub
        try:
            query, keys, limit, cursor = _listing_request(params, hub.page_size)
            if hub.corpus is None:
                rows = pl.Series("_row", [], dtype=pl.UInt32)
            else:
                rows = hub.corpus.order(query)
            start = decode_cursor(cursor, query) if cursor else 0
        except QueryError as exc:
            self._json(route, 400, {"error": str(exc)})
            return
        page = Page(start, min(start + limit, len(rows)), start + limit if start + limit < len(rows) else None, len(rows))
        for fault in self._faults(route, fire=False):
            page = fault.page(page)
        chosen = rows.slice(page.start, max(page.stop - page.start, 0))
        body = hub.corpus.page_json(chosen, keys) if hub.corpus is not None else b"[]"
        headers = {"X-Total-Count": str(page.total)} if page.total is not None else {}
        if page.next_start is not None:
            kept = [(k, v) for k, v in params if k != "cursor"]
            link_query = urlencode([*kept, ("cursor", encode_cursor(page.next_start, query, page.nonce))])
            headers["Link"] = f'<{self._base_url()}/api/models?{link_query}>; rel="next"'
        hub.stats.add_page(len(chosen))
        self._send(route, Reply(200, body, headers))

    # -- dataset repos ------------------------------------------------------------------------------------

    def _open(self, repo_id: str, revision: str, route: str) -> tuple[DatasetRepo, Commit] | None:
        """Faults first, then the repo at `revision`; None once an answer (a fault, a 404) has been sent."""
        if self._pre(route):
            return None
        repo = self.server_hub.repos.get(repo_id)
        if repo is None:
            self._not_found(route, "RepoNotFound", f"Repository Not Found for url: {self.path}.")
            return None
        commit = repo.resolve(revision)
        if commit is None:
            self._not_found(route, "RevisionNotFound", f"Invalid rev id: {revision}")
            return None
        return repo, commit

    def _dataset_api(self, rest: list[str], params: list[tuple[str, str]]) -> None:
        repo_id, tail = f"{rest[0]}/{rest[1]}", rest[2:]
        kind = tail[0] if tail else "info"
        route = {"revision": "info", "tree": "tree", "commits": "commits"}.get(kind, "info")
        revision = tail[1] if len(tail) > 1 else "main"
        found = self._open(repo_id, revision, route)
        if found is None:
            return
        repo, commit = found
        if kind in ("info", "revision"):
            self._json(route, 200, repo.info(commit))
        elif kind == "tree":
            recursive = dict(params).get("recursive", "false").lower() == "true"
            entries = repo.entries(commit, "/".join(tail[2:]), recursive)
            if entries is None:
                self._not_found(route, "EntryNotFound", f"{'/'.join(tail[2:])} does not exist on {revision}")
            else:
                self._json(route, 200, entries)
        elif kind == "commits":
            self._commits(repo, commit, revision, params)
        else:
            self._send("other", Reply(404, b'{"error": "Not Found"}'))

    def _commits(self, repo: DatasetRepo, commit: Commit, revision: str, params: list[tuple[str, str]]) -> None:
        history = repo.history(commit)
        page_no = int(dict(params).get("p", "0") or 0)
        chunk = history[page_no * COMMITS_PAGE_SIZE:(page_no + 1) * COMMITS_PAGE_SIZE]
        headers = {}
        if (page_no + 1) * COMMITS_PAGE_SIZE < len(history):
            kept = urlencode([*[(k, v) for k, v in params if k != "p"], ("p", str(page_no + 1))])
            headers["Link"] = f'<{self._base_url()}/api/datasets/{repo.repo_id}/commits/{quote(revision, safe="")}?{kept}>; rel="next"'
        self._json("commits", 200, [c.as_json() for c in chunk], headers)

    def _paths_info(self, repo_id: str, revision: str, params: list[tuple[str, str]]) -> None:
        route = "paths-info"
        found = self._open(repo_id, revision, route)
        if found is None:
            return
        repo, commit = found
        expand = dict(params).get("expand", "").lower() == "true"
        infos = [repo.path_info(commit, v, expand) for k, v in params if k == "paths"]
        self._json(route, 200, [i for i in infos if i is not None])

    def _resolve(self, repo_id: str, revision: str, path: str) -> None:
        route = "resolve"
        found = self._open(repo_id, revision, route)
        if found is None:
            return
        repo, commit = found
        local = commit.tree.get(path)
        if local is None:
            self._not_found(route, "EntryNotFound", f"{path} does not exist on {revision}")
            return
        size = local.stat().st_size
        start, stop = 0, size
        status = 200
        headers = {
            "Content-Type": "application/octet-stream",
            "Accept-Ranges": "bytes",
            "ETag": f'"{repo.entry(commit, path)["oid"]}"',
            "X-Repo-Commit": commit.sha,
        }
        wanted = self.headers.get("Range")
        if wanted:
            parsed = _parse_range(wanted, size)
            if parsed is None:
                self._send(route, Reply(416, b"", {"Content-Range": f"bytes */{size}"}))
                return
            start, stop = parsed
            status = 206
            headers["Content-Range"] = f"bytes {start}-{stop - 1}/{size}"
        length = stop - start
        key = f"{repo_id}@{commit.sha[:8]}/{path}"
        if self.command == "HEAD":
            self._send(route, Reply(status, b"", {**headers, "Content-Length": str(length)}), wire=False)
            self.server_hub.stats.add_bytes(key, 0)
            return
        if length <= MAX_BUFFERED_RANGE:
            with open(local, "rb") as f:
                f.seek(start)
                data = f.read(length)
            self.server_hub.stats.add_bytes(key, len(data))
            self._send(route, Reply(status, data, headers))
            return
        self.send_response(status)
        for k, v in {**headers, "Content-Length": str(length)}.items():
            self.send_header(k, v)
        self.end_headers()
        self.server_hub.stats.count(route, status)
        with open(local, "rb") as f:
            f.seek(start)
            left = length
            while left > 0:
                data = f.read(min(CHUNK, left))
                if not data:
                    break
                # Counted before it is sent, as on the buffered path: a client that has the bytes sees them counted.
                self.server_hub.stats.add_bytes(key, len(data))
                self.wfile.write(data)
                left -= len(data)


def _parse_range(header: str, size: int) -> tuple[int, int] | None:
    """`bytes=a-b`, `bytes=a-` or `bytes=-n` -> [start, stop); None if unsatisfiable."""
    unit, _, spec = header.partition("=")
    if unit.strip() != "bytes" or "," in spec:
        return None
    first, _, last = spec.strip().partition("-")
    if first == "":
        n = int(last)
        start, stop = max(size - n, 0), size
    else:
        start = int(first)
        stop = min(int(last) + 1, size) if last else size
    return (start, stop) if start < stop <= size else None


def _listing_request(params: list[tuple[str, str]], max_page: int) -> tuple[Query, list[str], int, str | None]:
    values: dict[str, list[str]] = {}
    for key, value in params:
        values.setdefault(key, []).append(value)
    one = {k: v[-1] for k, v in values.items()}
    expand = values.get("expand", []) + values.get("expand[]", [])
    keys = check_expand(expand) if expand else list(DEFAULT_KEYS)
    try:
        limit = int(one.get("limit") or max_page)
    except ValueError:
        raise QueryError(f'Invalid limit "{one.get("limit")}"') from None
    if limit < 1:
        raise QueryError("limit must be a positive integer")
    query = Query(
        sort=one.get("sort") or "trendingScore",
        ascending=one.get("direction") == "1",
        search=one.get("search") or None,
        author=one.get("author") or None,
        tags=tuple(values.get("filter", [])),
        pipeline_tag=one.get("pipeline_tag") or None,
    )
    return query, keys, min(limit, max_page), one.get("cursor")
