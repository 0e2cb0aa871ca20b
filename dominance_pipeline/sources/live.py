"""The live source: today's model listing from the Hub's API, paged to a local Parquet file as it arrives.

How it talks to the Hub. It pages through `GET /api/models` with huggingface_hub's own HTTP machinery,
the calls `HfApi.list_models` makes: `build_hf_headers`, `http_backoff` (which retries 408/429/5xx and
dropped connections, honouring the Hub's `RateLimit` header) and the `Link` header followed verbatim
(hf-hub-api.md §3). It does not call `list_models` itself, because there `limit` is both the page size sent
to the Hub and a cap on the total (hf_api.py:2493, `islice`), so it can only page at the Hub's default
size, and it hides each page's headers, which carry the Hub's clock (below).

What it asks for. `expand` with every field the raw schema needs, `sort=createdAt`: a model's creation
time never changes, so no model can move across the cursor while the listing runs (sorting on downloads
or trending score, which change by the minute, can skip or repeat models); ties are broken by the Hub.

When it was taken. A listing is a snapshot of *now*, timed by the server's `Date` header (the real Hub's
clock; a local server replaying an old snapshot reports that snapshot's time). It may stand for month M
only if it was started after M ended and at most `max_lag_days` later; the check runs on the first page.

Memory. Items are turned into Arrow columns page by page and written in row groups of `STAGE_ROWS`; no
more than one row group of models is ever held, whatever the size of the Hub.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from huggingface_hub.utils import build_hf_headers, hf_raise_for_status, http_backoff

LIVE_EXPAND = (
    "author", "createdAt", "lastModified", "downloads", "downloadsAllTime", "likes", "trendingScore",
    "tags", "pipeline_tag", "library_name", "baseModels", "cardData", "safetensors", "gguf", "gated",
)
SORT = "createdAt"
DEFAULT_PAGE_SIZE = 1000
STAGE_ROWS = 50_000
REQUEST_TIMEOUT_S = 120.0
PROGRESS_EVERY_S = 10.0
# hub-docs rate-limits.md (Sept 2025): API calls per 5-minute window; we keep 10 % for the user's other calls.
WINDOW_S = 300.0
ANONYMOUS_BUDGET, SIGNED_IN_BUDGET = 450, 900
MAX_CLOCK_AHEAD = dt.timedelta(days=1)

COUNTS = ("downloads", "downloadsAllTime", "likes")
TEXT = ("author", "pipeline_tag", "library_name")
BASE_MODELS = pa.struct([("relation", pa.string()), ("models", pa.list_(pa.struct([("_id", pa.string()), ("id", pa.string())])))])
STAGE_SCHEMA = pa.schema(
    [
        ("id", pa.string()), ("author", pa.string()), ("createdAt", pa.string()), ("lastModified", pa.string()),
        ("downloads", pa.int64()), ("downloadsAllTime", pa.int64()), ("likes", pa.int64()),
        ("trendingScore", pa.float64()), ("tags", pa.list_(pa.string())), ("pipeline_tag", pa.string()),
        ("library_name", pa.string()), ("cardData", pa.string()), ("baseModels", BASE_MODELS),
        ("safetensors", pa.struct([("total", pa.int64())])), ("gguf", pa.string()), ("gated", pa.string()),
        ("_reject", pa.string()), ("_orig_item", pa.string()),
    ]
)
CARD_KEYS = ("base_model", "base_model_relation")


class ListingWindowError(ValueError):
    """The live listing cannot stand for the requested month; the message says what to use instead."""


def month_end(month: dt.date) -> dt.datetime:
    """The first instant after `month` (UTC)."""
    nxt = dt.date(month.year + month.month // 12, month.month % 12 + 1, 1)
    return dt.datetime.combine(nxt, dt.time(), dt.UTC)


def check_listing_time(month: dt.date, taken_at: dt.datetime, max_lag_days: int) -> None:
    """Raise ListingWindowError unless a listing taken at `taken_at` may stand for the end of `month`."""
    end = month_end(month)
    if taken_at < end:
        raise ListingWindowError(
            f"a live listing taken {taken_at:%Y-%m-%d %H:%M} UTC cannot stand for {month:%Y-%m}: the month ends "
            f"{end:%Y-%m-%d %H:%M} UTC; materialize it after that"
        )
    lag = taken_at - end
    if lag > dt.timedelta(days=max_lag_days):
        raise ListingWindowError(
            f"a live listing taken {taken_at:%Y-%m-%d %H:%M} UTC is {lag.days} days after {month:%Y-%m} ended "
            f"(max_snapshot_lag_days={max_lag_days}), so it cannot stand for {month:%Y-%m}; use the archive "
            f"source (--source archive: the month-end snapshot from hfmlsoc/hub_weekly_snapshots or cfahlgren1/hub-stats)"
        )


def request_budget(token: str | None, configured: int | None = None) -> int:
    """API calls allowed per 5-minute window: configured, else 90 % of the documented anonymous/free limit."""
    if configured is not None:
        if configured < 1:
            raise ValueError("requests_per_5min must be at least 1")
        return configured
    return SIGNED_IN_BUDGET if token else ANONYMOUS_BUDGET


@dataclass
class Pacer:
    """Holds requests back so that at most `budget` start in any fixed `window` seconds."""

    budget: int
    window: float = WINDOW_S
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    on_pause: Callable[[float], None] = lambda seconds: None
    _start: float | None = None
    _used: int = 0

    def wait(self) -> None:
        now = self.clock()
        if self._start is None or now - self._start >= self.window:
            self._start, self._used = now, 0
        if self._used >= self.budget:
            pause = self._start + self.window - now
            self.on_pause(pause)
            self.sleep(pause)
            self._start, self._used = self.clock(), 0
        self._used += 1


@dataclass
class Page:
    items: list
    server_time: dt.datetime | None
    total: int | None


def server_time(headers: object) -> dt.datetime | None:
    value = headers.get("date") if hasattr(headers, "get") else None  # type: ignore[union-attr]
    if not value:
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return parsed.astimezone(dt.UTC) if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def iter_pages(endpoint: str, token: str | None, page_size: int, pacer: Pacer) -> Iterator[Page]:
    """Every page of `/api/models` (all models, createdAt descending), following the Link header verbatim."""
    headers = build_hf_headers(token=token or False, library_name="dominance_pipeline")
    url: str | None = f"{endpoint.rstrip('/')}/api/models"
    params: dict | None = {"limit": page_size, "sort": SORT, "expand": list(LIVE_EXPAND)}
    while url is not None:
        pacer.wait()
        r = http_backoff("GET", url, params=params, headers=headers, timeout=REQUEST_TIMEOUT_S)
        hf_raise_for_status(r)
        items = r.json()
        if not isinstance(items, list):
            raise ValueError(f"{r.url}: expected a JSON array of models, got {type(items).__name__}")
        total = r.headers.get("x-total-count")
        yield Page(items, server_time(r.headers), int(total) if total and total.isdigit() else None)
        url, params = r.links.get("next", {}).get("url"), None


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _time(value: object) -> str | None:
    """Kept as sent; anything that is not a string is kept as its JSON text, so it fails parsing visibly."""
    return value if value is None or isinstance(value, str) else json.dumps(value)


def _base_models(value: object) -> dict | None:
    if not isinstance(value, dict) or not isinstance(value.get("models"), list):
        return None
    models = [{"_id": _text(m.get("_id")), "id": _text(m.get("id"))} for m in value["models"] if isinstance(m, dict)]
    return {"relation": _text(value.get("relation")), "models": models}


def _total(value: object) -> int | None:
    total = value.get("total") if isinstance(value, dict) else None
    return total if type(total) is int else None


def _gated(value: object) -> str | None:
    if isinstance(value, bool):
        return "true" if value else "false"
    return _text(value)


def _card(value: object) -> str | None:
    """Only the card keys the raw schema reads (declared parents): cards can be kilobytes of YAML."""
    if not isinstance(value, dict):
        return None
    kept = {k: value[k] for k in CARD_KEYS if k in value}
    return json.dumps(kept) if kept else None


def items_to_table(items: list) -> pa.Table:
    """One page of `/api/models` items as Arrow columns in STAGE_SCHEMA.

    A value of the wrong JSON type is never guessed at: a non-integer count or a non-numeric trending score
    marks the row for quarantine (`_reject`, with the item as received in `_orig_item`); a timestamp that is
    not a string is kept as JSON text, so normalisation quarantines it as unparseable; other malformed
    fields become null.
    """
    cols: dict[str, list] = {name: [] for name in STAGE_SCHEMA.names}
    for item in items:
        if not isinstance(item, dict):
            for name in STAGE_SCHEMA.names:
                cols[name].append(None)
            cols["_reject"][-1], cols["_orig_item"][-1] = "wrong_type:item", json.dumps(item)
            continue
        reject = None
        for name in COUNTS:
            value = item.get(name)
            if value is not None and type(value) is not int:
                reject, value = reject or f"wrong_type:{name}", None
            cols[name].append(value)
        cols["id"].append(_text(item.get("id")))
        for name in TEXT:
            cols[name].append(_text(item.get(name)))
        cols["createdAt"].append(_time(item.get("createdAt")))
        cols["lastModified"].append(_time(item.get("lastModified")))
        score = item.get("trendingScore")
        if score is not None and (isinstance(score, bool) or not isinstance(score, int | float)):
            reject, score = reject or "wrong_type:trendingScore", None
        cols["trendingScore"].append(None if score is None else float(score))
        tags = item.get("tags")
        cols["tags"].append([t for t in tags if isinstance(t, str)] if isinstance(tags, list) else None)
        cols["cardData"].append(_card(item.get("cardData")))
        cols["baseModels"].append(_base_models(item.get("baseModels")))
        total = _total(item.get("safetensors"))
        cols["safetensors"].append({"total": total} if total is not None else None)
        gguf = _total(item.get("gguf"))
        cols["gguf"].append(json.dumps({"total": gguf}) if gguf is not None else None)
        cols["gated"].append(_gated(item.get("gated")))
        cols["_reject"].append(reject)
        cols["_orig_item"].append(json.dumps(item) if reject else None)
    return pa.Table.from_pydict(cols, schema=STAGE_SCHEMA)


@dataclass
class Progress:
    """Pages, models and rate so far; `total` when the Hub (or the caller's estimate) gives one."""

    pages: int = 0
    models: int = 0
    total: int | None = None
    started: float = field(default_factory=time.monotonic)

    def line(self, now: float | None = None) -> str:
        elapsed = max((now or time.monotonic()) - self.started, 1e-9)
        rate = self.models / elapsed
        text = f"live listing: page {self.pages:,}, {self.models:,} models, {rate:,.0f} models/s"
        if self.total:
            left = max(self.total - self.models, 0)
            eta = dt.timedelta(seconds=round(left / rate)) if rate > 0 else None
            text += f", {min(self.models / self.total, 1):.0%} of ~{self.total:,}" + (f", ETA {eta}" if eta is not None else "")
        return text


@dataclass
class LiveListing:
    """What the listing fetched and when: `snapshot_at` is the server's time at the last page."""

    path: Path
    started_at: dt.datetime
    snapshot_at: dt.datetime
    pages: int
    models: int
    seconds: float
    clock: str

    def metadata(self) -> dict[str, object]:
        return {
            "listing_started_at": self.started_at.isoformat(),
            "listing_pages": self.pages,
            "listing_models": self.models,
            "listing_seconds": round(self.seconds, 1),
            "listing_models_per_s": round(self.models / self.seconds, 1) if self.seconds else None,
            "listing_clock": self.clock,
        }


def stage_listing(
    *,
    endpoint: str,
    token: str | None,
    month: dt.date,
    path: Path,
    max_lag_days: int = 7,
    page_size: int = DEFAULT_PAGE_SIZE,
    requests_per_5min: int | None = None,
    expected_total: int | None = None,
    log: Callable[[str], None] = lambda line: None,
    pacer: Pacer | None = None,
    now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
) -> LiveListing:
    """Fetch the whole listing into the hub-shaped Parquet file `path`; refuse it if it cannot stand for `month`.

    `expected_total` (e.g. last month's model count) gives an ETA when the server sends no total.
    The token is only ever passed to the HTTP headers, never logged.
    """
    if page_size < 1:
        raise ValueError("page_size must be at least 1")
    pacer = pacer or Pacer(request_budget(token, requests_per_5min))
    pacer.on_pause = lambda s: log(f"live listing: pausing {s:.0f} s to stay within {pacer.budget} API calls per 5 minutes")
    progress = Progress(total=expected_total)
    started_at = finished_at = None
    clock = "server"
    last_log = progress.started
    buffered: list[pa.Table] = []
    rows = 0
    with pq.ParquetWriter(path, STAGE_SCHEMA, compression="zstd") as writer:
        for page in iter_pages(endpoint, token, page_size, pacer):
            taken = page.server_time
            if taken is None:
                taken, clock = now(), "local"
            if started_at is None:
                started_at = taken
                if taken - now() > MAX_CLOCK_AHEAD:
                    raise ListingWindowError(
                        f"the Hub's clock ({taken:%Y-%m-%d %H:%M} UTC) is more than a day ahead of this machine's; "
                        "refusing to date a snapshot by it"
                    )
                check_listing_time(month, taken, max_lag_days)
                log(f"live listing from {endpoint} started {taken:%Y-%m-%d %H:%M:%S} UTC ({clock} clock), asking for {page_size} models per page")
            finished_at = taken
            progress.pages += 1
            progress.models += len(page.items)
            progress.total = page.total or progress.total
            buffered.append(items_to_table(page.items))
            rows += len(page.items)
            if rows >= STAGE_ROWS:
                writer.write_table(pa.concat_tables(buffered))
                buffered, rows = [], 0
            if time.monotonic() - last_log >= PROGRESS_EVERY_S:
                log(progress.line())
                last_log = time.monotonic()
        if buffered:
            writer.write_table(pa.concat_tables(buffered))
    assert started_at is not None and finished_at is not None
    log(progress.line() + " (done)")
    return LiveListing(path, started_at, finished_at, progress.pages, progress.models, time.monotonic() - progress.started, clock)
