"""Faults the server can inject, so tests and benchmarks see what the real Hub does on a bad day.

A fault is switched on by a spec, `NAME[:key=value,...]` (CLI: `--fault 429:every=5,retry_after=2`), and
acts at one of three points of an exchange, each a no-op by default:

- `before`: answer instead of the server (a 429, a 5xx, a delay before answering);
- `page`: change a listing page before it is rendered (its rows, its next cursor, the total it reports);
- `wire`: change the bytes sent (cut the connection part-way through the body, send a truncated body,
  splice raw items into a page).

A new fault is a subclass that overrides one hook and registers itself in `FAULTS`. Shared parameters
decide when it fires, counted over the requests of its `route` (default `models`, i.e. `/api/models`;
`resolve`, `tree`, `paths-info`, `commits`, `info` or `all`): it fires on every `every`-th request after
the first `after` ones, at most `times` times.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field, fields, replace
from typing import ClassVar

ROUTES = frozenset({"models", "resolve", "tree", "paths-info", "commits", "info", "all"})


@dataclass
class Reply:
    """A complete response a fault sends instead of the server's."""

    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Page:
    """A listing page about to be rendered: its row numbers in the ordering, where the next page starts, the
    total the server reports in `X-Total-Count` (None: no such header, as on the real Hub), and a `nonce`
    that makes the next link's cursor new even when it points where an earlier one did."""

    start: int
    stop: int
    next_start: int | None
    total: int | None = None
    nonce: int = 0


@dataclass
class Wire:
    """The body to send, and after how many of its bytes to drop the connection (None: send it all)."""

    body: bytes
    cut_after: int | None = None


@dataclass
class Fault:
    """Base class: when the fault fires; subclasses override one hook."""

    name: ClassVar[str] = ""
    every: int = 1
    after: int = 0
    times: int | None = None
    route: str = "models"
    _count: int = field(default=0, init=False, repr=False)
    _fired: int = field(default=0, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.every < 1 or self.after < 0 or (self.times is not None and self.times < 0):
            raise ValueError(f"fault {self.name}: every must be >= 1, after and times >= 0")
        if self.route not in ROUTES:
            raise ValueError(f"fault {self.name}: route must be one of {', '.join(sorted(ROUTES))}")

    def applies(self, route: str) -> bool:
        return self.route == "all" or self.route == route

    def tick(self) -> bool:
        """Count one request of this fault's route; True if the fault fires on it."""
        with self._lock:
            self._count += 1
            n = self._count - self.after
            if n <= 0 or n % self.every or (self.times is not None and self._fired >= self.times):
                return self._continues()
            self._fired += 1
            return self._starts()

    def _starts(self) -> bool:
        return True

    def _continues(self) -> bool:
        return False

    @property
    def fired(self) -> int:
        return self._fired

    def before(self) -> Reply | None:
        return None

    def page(self, page: Page) -> Page:
        return page

    def wire(self, body: bytes) -> Wire:
        return Wire(body)


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> Reply:
    return Reply(status, json.dumps({"error": message}).encode(), {"Content-Type": "application/json", **(headers or {})})


@dataclass
class RateLimited(Fault):
    """429 with the Hub's IETF draft headers; huggingface_hub sleeps `retry_after` + 1 s and retries."""

    name: ClassVar[str] = "429"
    retry_after: int = 1
    quota: int = 1000
    window: int = 300

    def before(self) -> Reply | None:
        headers = {
            "RateLimit": f'"api";r=0;t={self.retry_after}',
            "RateLimit-Policy": f'"fixed window";"api";q={self.quota};w={self.window}',
            "Retry-After": str(self.retry_after),
        }
        message = (
            f"You have exceeded our hourly quotas for action 'api'. You have reached your 'api' rate limit "
            f"(fake Hub). Retry after {self.retry_after} seconds."
        )
        return _error(429, message, headers)


@dataclass
class ServerErrors(Fault):
    """A burst of `burst` consecutive 5xx answers each time it fires (the client retries at most 5 times)."""

    name: ClassVar[str] = "5xx"
    status: int = 503
    burst: int = 3
    _left: int = field(default=0, init=False, repr=False)

    def _starts(self) -> bool:
        self._left = self.burst - 1
        return True

    def _continues(self) -> bool:
        if self._left > 0:
            self._left -= 1
            return True
        return False

    def before(self) -> Reply | None:
        return _error(self.status, f"fake Hub: injected {self.status}")


@dataclass
class Slow(Fault):
    """Wait `delay` seconds before answering."""

    name: ClassVar[str] = "slow"
    delay: float = 0.5

    def before(self) -> Reply | None:
        time.sleep(self.delay)
        return None


@dataclass
class DropMidBody(Fault):
    """Send the headers and a fraction `at` of the body, then close the connection."""

    name: ClassVar[str] = "drop"
    at: float = 0.5

    def wire(self, body: bytes) -> Wire:
        return Wire(body, cut_after=int(len(body) * self.at))


@dataclass
class TruncatedBody(Fault):
    """A complete response whose JSON body stops after a fraction `at` (Content-Length matches what is sent):
    what a broken proxy or cache passes on. huggingface_hub does not retry it (the status is 200)."""

    name: ClassVar[str] = "truncate"
    at: float = 0.5

    def wire(self, body: bytes) -> Wire:
        return Wire(body[: int(len(body) * self.at)])


@dataclass
class Overlap(Fault):
    """The next page starts `rows` rows early, so the models at the end of this page are served again on the
    next one (a cursor that slips back, e.g. on ties of the sort key)."""

    name: ClassVar[str] = "overlap"
    rows: int = 3

    def page(self, page: Page) -> Page:
        if page.next_start is None:
            return page
        return replace(page, next_start=max(page.next_start - self.rows, 0))


@dataclass
class LoopingCursor(Fault):
    """The next link points back `back` pages (1: this very page again), so a client following it never ends.
    With `fresh=1` each such link carries a cursor never sent before: the loop shows only in the models."""

    name: ClassVar[str] = "loop"
    back: int = 1
    fresh: int = 0

    def page(self, page: Page) -> Page:
        size = page.stop - page.start
        return replace(page, next_start=max(page.start - (self.back - 1) * size, 0), nonce=self.fired if self.fresh else page.nonce)


@dataclass
class EndEarly(Fault):
    """This page has no next link: the listing ends here, however many models are left."""

    name: ClassVar[str] = "end"

    def page(self, page: Page) -> Page:
        return replace(page, next_start=None)


@dataclass
class NoTotal(Fault):
    """No `X-Total-Count` header, as on the real Hub (which does not say how many models a listing holds)."""

    name: ClassVar[str] = "nototal"

    def page(self, page: Page) -> Page:
        return replace(page, total=None)


@dataclass
class InjectItems(Fault):
    """Splice raw JSON items into the page: each non-empty line of the file `path` is one item, inserted
    byte for byte (hostile rows: invalid UTF-8, lone surrogate escapes, values of the wrong type). With
    `at=start` they come first, otherwise last."""

    name: ClassVar[str] = "inject"
    path: str = ""
    at: str = "end"

    def __post_init__(self) -> None:
        super().__post_init__()
        with open(self.path, "rb") as f:
            self._items = [line.strip() for line in f if line.strip()]

    def wire(self, body: bytes) -> Wire:
        extra = b",".join(self._items)
        inner = body.strip()[1:-1].strip()
        if not inner:
            return Wire(b"[" + extra + b"]")
        return Wire(b"[" + (extra + b"," + inner if self.at == "start" else inner + b"," + extra) + b"]")


FAULTS: dict[str, type[Fault]] = {
    f.name: f
    for f in (RateLimited, ServerErrors, Slow, DropMidBody, TruncatedBody, Overlap, LoopingCursor, EndEarly, NoTotal, InjectItems)
}


def parse_fault(spec: str) -> Fault:
    """`NAME[:key=value,...]` -> a Fault; a ValueError saying what is accepted for anything else."""
    name, _, params = spec.partition(":")
    cls = FAULTS.get(name.strip())
    if cls is None:
        raise ValueError(f"unknown fault {name!r}: use one of {', '.join(FAULTS)}")
    types = {f.name: f.type for f in fields(cls) if f.init}
    kwargs: dict[str, object] = {}
    for item in filter(None, (p.strip() for p in params.split(","))):
        key, eq, value = item.partition("=")
        if not eq or key not in types:
            raise ValueError(f"fault {name}: bad parameter {item!r}; known: {', '.join(sorted(types))}")
        kind = str(types[key])
        kwargs[key] = value if "str" in kind else float(value) if "float" in kind else int(value)
    return cls(**kwargs)  # type: ignore[arg-type]
