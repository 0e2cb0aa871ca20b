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

Memory. Items are turned into Arrow columns page by page and written in chunks of `STAGE_ROWS`; no more
than one chunk of models is ever held, whatever the size of the Hub.

Faults. 429s, 5xx and dropped connections are retried by huggingface_hub; a 200 whose body is not a JSON
array (cut short by a proxy) is asked for again here. What cannot be ridden out fails the run with a
`ListingError` naming the page; nothing is published, and the pages staged so far are kept with a
checkpoint (sources/checkpoint.py), so the next run resumes at that page. A listing that cannot be trusted
(its cursor loops, it ends with fewer models than the Hub reports, it is outside the snapshot window) is
refused and its staged pages are discarded. Exact repeats of a model on consecutive pages (a cursor that
slipped back) are dropped and counted; any other repeat is left to normalisation (`duplicate_id`).
"""

from __future__ import annotations

import datetime as dt
import email.utils
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx2  # huggingface_hub 2.4's HTTP client: the errors http_backoff re-raises after its last retry
import pyarrow as pa
import pyarrow.compute as pc
from huggingface_hub.errors import HfHubHTTPError
from huggingface_hub.utils import build_hf_headers, hf_raise_for_status, http_backoff

from dominance_pipeline.sources import checkpoint

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


class ListingError(RuntimeError):
    """The listing failed or cannot be trusted; the message says what happened and what a re-run will do."""


class ListingIncompleteError(ListingError):
    """The listing ended with fewer models than the evidence says the Hub has."""


class _CursorRejected(ListingError):
    """The Hub refused a page URL (4xx): on a resumed listing, its cursor has expired."""


# A 200 whose body is not a JSON array (a proxy cut it short, an HTML error page): asked again this many
# times, 1, 2, 4 s apart. huggingface_hub retries statuses and dropped connections, not a bad body.
MAX_BODY_RETRIES = 3
# The Hub's total (when it sends one) is read page by page; models deleted while the listing runs make the
# count a little smaller than the total seen on the first page, never by more than a few in a thousand.
TOTAL_TOLERANCE = 0.001
# A listing that runs past this multiple of the expected number of models is looping with fresh cursors.
RUNAWAY_FACTOR = 2
# What is expected when nothing says how many models there are (no previous month, no total from the Hub,
# as in a warehouse's first live month): about three times the Hub's 3 million models of 2026.
UNKNOWN_TOTAL_CEILING = 10_000_000


@dataclass
class Page:
    items: list
    server_time: dt.datetime | None
    total: int | None
    url: str
    next_url: str | None


def server_time(headers: object) -> dt.datetime | None:
    value = headers.get("date") if hasattr(headers, "get") else None  # type: ignore[union-attr]
    if not value:
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return parsed.astimezone(dt.UTC) if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def parse_items(body: bytes) -> list:
    """A page body as a list of items. Bytes that are not UTF-8 become lone surrogates (surrogateescape), so
    one bad byte quarantines its model (`invalid_text`) instead of failing the page; a body that is not a
    JSON array raises ValueError."""
    try:
        items = json.loads(body.decode("utf-8", errors="surrogateescape"))
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None
    if not isinstance(items, list):
        raise ValueError(f"expected a JSON array of models, got a JSON {type(items).__name__}")
    return items


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def fetch_page(url: str, params: dict | None, headers: dict, number: int) -> Page:
    """Page `number` of the listing, through huggingface_hub's retrying client; a ListingError if it fails."""
    for attempt in range(MAX_BODY_RETRIES + 1):
        try:
            r = http_backoff("GET", url, params=params, headers=headers, timeout=REQUEST_TIMEOUT_S)
            hf_raise_for_status(r)
        except HfHubHTTPError as exc:
            status = exc.response.status_code if exc.response is not None else 0
            kind = _CursorRejected if status in (400, 404, 410, 422) and params is None else ListingError
            retried = " after retrying" if status in RETRIED_STATUSES else ""
            said = " ".join((exc.server_message or "").split())[:300]
            phrase = exc.response.reason_phrase if exc.response is not None else ""
            raise kind(f"page {number:,} of the model listing: the Hub answered {status} {phrase}{retried}" + (f" ({said})" if said else "")) from None
        except (httpx2.HTTPError, OSError) as exc:
            raise ListingError(f"page {number:,} of the model listing: cannot reach the Hub ({_first_line(exc)}) after retrying") from None
        try:
            items = parse_items(r.content)
        except ValueError as exc:
            if attempt == MAX_BODY_RETRIES:
                raise ListingError(
                    f"page {number:,} of the model listing: the Hub sent an unreadable body {MAX_BODY_RETRIES + 1} times "
                    f"({_first_line(exc)}; {len(r.content):,} bytes)"
                ) from None
            time.sleep(2**attempt)
            continue
        total = r.headers.get("x-total-count")
        page_url = str(r.url) if params is not None else url
        return Page(items, server_time(r.headers), int(total) if total and total.isdigit() else None, page_url, r.links.get("next", {}).get("url"))
    raise AssertionError("unreachable")


RETRIED_STATUSES = (408, 429, 500, 502, 503, 504)


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
    return total if type(total) is int and INT64_MIN <= total <= INT64_MAX else None


def _gated(value: object) -> str | None:
    if isinstance(value, bool):
        return "true" if value else "false"
    return _text(value)


def _card(value: object) -> str | None:
    """Only the card keys the raw schema reads (declared parents): cards can be kilobytes of YAML."""
    if not isinstance(value, dict):
        return None
    kept = {k: value[k] for k in CARD_KEYS if k in value}
    return json.dumps(kept, ensure_ascii=False) if kept else None


INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
FLOAT_MAX = int(sys.float_info.max)
# Item keys whose text reaches the staged table: a value there that is not valid Unicode quarantines the row.
TEXT_KEYS = ("id", "author", "createdAt", "lastModified", "pipeline_tag", "library_name", "gated", "tags", "baseModels", "cardData")


def _invalid_text(value: object) -> bool:
    """True if a string anywhere in `value` holds a lone surrogate (an invalid UTF-8 byte, or a `\\ud800` escape)."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return True
        return False
    if isinstance(value, list):
        return any(_invalid_text(v) for v in value)
    if isinstance(value, dict):
        return any(_invalid_text(k) or _invalid_text(v) for k, v in value.items())
    return False


def _invalid_text_key(item: object) -> str | None:
    if not isinstance(item, dict):
        return None
    return next((k for k in TEXT_KEYS if k in item and _invalid_text(item[k])), None)


def items_to_table(items: list) -> pa.Table:
    """One page of `/api/models` items as Arrow columns in STAGE_SCHEMA.

    A value of the wrong JSON type is never guessed at: an id that is not a string, a non-integer count or a
    non-numeric trending score marks the row for quarantine (`_reject`, with the item as received in
    `_orig_item`), as does an integer count beyond 64 bits (`absurd_count`/`negative_count`) and text that is
    not valid Unicode (`invalid_text`); a timestamp that is not a string is kept as JSON text, so
    normalisation quarantines it as unparseable; other malformed fields become null.
    """
    try:
        return _items_table(items, {})
    except UnicodeEncodeError:
        # Rare: find the items whose text Arrow cannot hold (only then is every item inspected).
        bad = {i: key for i, item in enumerate(items) if (key := _invalid_text_key(item))}
        return _items_table(items, bad)


def _items_table(items: list, invalid_text: dict[int, str]) -> pa.Table:
    cols: dict[str, list] = {name: [] for name in STAGE_SCHEMA.names}
    for i, item in enumerate(items):
        if not isinstance(item, dict) or i in invalid_text:
            for name in STAGE_SCHEMA.names:
                cols[name].append(None)
            reason = f"invalid_text:{invalid_text[i]}" if i in invalid_text else "wrong_type:item"
            cols["_reject"][-1], cols["_orig_item"][-1] = reason, json.dumps(item)
            if i in invalid_text and invalid_text[i] != "id":
                cols["id"][-1] = _text(item.get("id"))  # name the model in the quarantine when its id is readable
            continue
        reject = None
        for name in COUNTS:
            value = item.get(name)
            if value is not None and type(value) is not int:
                reject, value = reject or f"wrong_type:{name}", None
            elif value is not None and not INT64_MIN <= value <= INT64_MAX:
                reject, value = reject or f"{'absurd' if value > 0 else 'negative'}_count:{name}", None
            cols[name].append(value)
        model_id = item.get("id")
        if model_id is not None and not isinstance(model_id, str):
            reject = reject or "wrong_type:id"
        cols["id"].append(_text(model_id))
        for name in TEXT:
            cols[name].append(_text(item.get(name)))
        cols["createdAt"].append(_time(item.get("createdAt")))
        cols["lastModified"].append(_time(item.get("lastModified")))
        score = item.get("trendingScore")
        if score is not None and (isinstance(score, bool) or not isinstance(score, int | float)):
            reject, score = reject or "wrong_type:trendingScore", None
        elif isinstance(score, int) and not -FLOAT_MAX <= score <= FLOAT_MAX:  # float() of it would raise
            reject, score = reject or "non_finite:trendingScore", None
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


def _expected(expected_total: int | None, hub_total: int | None) -> tuple[int, str]:
    """How many models the listing should hold, and what says so: last month's count, else the Hub's total,
    else UNKNOWN_TOTAL_CEILING (a bound on a loop that renews its cursor, not an estimate)."""
    if expected_total:
        return expected_total, "last month's count"
    if hub_total:
        return hub_total, "the Hub's total"
    return UNKNOWN_TOTAL_CEILING, "no count to go by: the ceiling live.UNKNOWN_TOTAL_CEILING"


def drop_repeats(page: pa.Table, previous: pa.Table | None) -> tuple[pa.Table, int]:
    """`page` without the models the previous page already held with exactly the same values, and how many.

    A cursor that slips back (ties on the sort key, a shifted offset) serves the end of a page again at the
    start of the next one. Such a copy is the same observation twice, not bad data: it is dropped here and
    counted (`listing_repeats`). A repeat whose values differ, or one further away, reaches normalisation,
    which keeps the most recently modified copy and quarantines the other as `duplicate_id`.
    """
    if previous is None or page.num_rows == 0 or previous.num_rows == 0:
        return page, 0
    again = pc.fill_null(pc.is_in(page["id"], value_set=previous["id"]), False)
    if not pc.any(again).as_py():
        return page, 0
    before: dict[str, list[dict]] = {}
    for row in previous.filter(pc.fill_null(pc.is_in(previous["id"], value_set=page["id"]), False)).to_pylist():
        before.setdefault(row["id"], []).append(row)
    positions = pc.indices_nonzero(again).to_pylist()
    candidates = page.take(positions).to_pylist()
    dropped = {p for p, row in zip(positions, candidates, strict=True) if row in before.get(row["id"], [])}
    if not dropped:
        return page, 0
    keep = pa.array([i not in dropped for i in range(page.num_rows)])
    return page.filter(keep), len(dropped)


@dataclass
class Progress:
    """Pages, models and rate so far; `total` when the Hub (or the caller's estimate) gives one. `base` is what
    an earlier run had staged when this one resumed (not counted in the rate)."""

    pages: int = 0
    models: int = 0
    total: int | None = None
    base: int = 0
    started: float = field(default_factory=time.monotonic)

    def line(self, now: float | None = None) -> str:
        elapsed = max((now or time.monotonic()) - self.started, 1e-9)
        rate = (self.models - self.base) / elapsed
        text = f"live listing: page {self.pages:,}, {self.models:,} models, {rate:,.0f} models/s"
        if self.total:
            left = max(self.total - self.models, 0)
            eta = dt.timedelta(seconds=round(left / rate)) if rate > 0 else None
            text += f", {min(self.models / self.total, 1):.0%} of ~{self.total:,}" + (f", ETA {eta}" if eta is not None else "")
        return text


@dataclass
class LiveListing:
    """What the listing fetched and when: `snapshot_at` is the server's time at the last page; `files` are the
    staged chunks in listing order."""

    files: list[Path]
    started_at: dt.datetime
    snapshot_at: dt.datetime
    pages: int
    models: int
    seconds: float
    clock: str
    repeats: int = 0
    resumed_from_page: int | None = None

    def metadata(self) -> dict[str, object]:
        return {
            "listing_started_at": self.started_at.isoformat(),
            "listing_pages": self.pages,
            "listing_models": self.models,
            "listing_repeats": self.repeats,
            "listing_resumed_from_page": self.resumed_from_page,
            "listing_seconds": round(self.seconds, 1),
            "listing_models_per_s": round(self.models / self.seconds, 1) if self.seconds else None,
            "listing_clock": self.clock,
        }


def check_complete(models: int, month: dt.date, previous_rows: int | None, previous_month: dt.date, max_shrink: float) -> None:
    """Raise ListingIncompleteError if a listing of `models` is more than `max_shrink` smaller than last month's
    raw partition (`previous_rows`): the Hub only grows by a few percent a month, so such a listing ended early.

    The raw check applies the same bound (raw_hub_listings.max_shrink) after publishing; here it runs before,
    so a truncated listing never replaces a good partition. Without a previous month there is no evidence.
    """
    if previous_rows is None:
        return
    floor = previous_rows * (1 - max_shrink)
    if models < floor:
        raise ListingIncompleteError(
            f"the live listing for {month:%Y-%m} ended after {models:,} models, {1 - models / previous_rows:.1%} fewer than "
            f"{previous_month:%Y-%m}'s {previous_rows:,} (at most {max_shrink:.0%} allowed): the Hub's pagination stopped early; "
            "nothing was published, run the month again"
        )


def stage_listing(
    *,
    endpoint: str,
    token: str | None,
    month: dt.date,
    stage_dir: Path,
    max_lag_days: int = 7,
    page_size: int = DEFAULT_PAGE_SIZE,
    requests_per_5min: int | None = None,
    expected_total: int | None = None,
    checkpoint_rows: int = STAGE_ROWS,
    log: Callable[[str], None] = lambda line: None,
    pacer: Pacer | None = None,
    now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
) -> LiveListing:
    """Fetch the whole listing into chunks in `stage_dir`, resuming a checkpoint left there by an earlier run.

    Refuses a listing that cannot stand for `month`, one whose cursor loops, and one that ends with fewer
    models than the Hub's own total (when it sends one). `expected_total` (e.g. last month's model count)
    gives an ETA and a bound past which the listing is taken to be looping. The staged chunks are left in
    `stage_dir` for the caller to publish, then remove. The token is only ever passed to the HTTP headers.
    """
    if page_size < 1:
        raise ValueError("page_size must be at least 1")
    if checkpoint_rows < 1:
        raise ValueError("checkpoint_rows must be at least 1")
    pacer = pacer or Pacer(request_budget(token, requests_per_5min))
    pacer.on_pause = lambda s: log(f"live listing: pausing {s:.0f} s to stay within {pacer.budget} API calls per 5 minutes")
    headers = build_hf_headers(token=token or False, library_name="dominance_pipeline")
    first_url = f"{endpoint.rstrip('/')}/api/models"
    query = {"limit": page_size, "sort": SORT, "expand": list(LIVE_EXPAND)}
    area = checkpoint.StagingArea(stage_dir)
    fresh = checkpoint.Checkpoint(month=month.isoformat(), endpoint=endpoint.rstrip("/"), query=query)
    state, why = area.load(fresh, now())
    if state is None:
        if why != "no checkpoint":
            log(f"live listing: starting again from page 1: {why}")
        area.reset()
        state = fresh
    else:
        area.drop_orphans(state)
    resumed_from = state.pages + 1 if state.pages else None
    started = time.monotonic()
    if state.done:
        log(f"live listing: the listing staged at {state.last_page_at} is complete ({state.models:,} models); publishing it")
        return _listing(area, state, started, resumed_from)
    if resumed_from:
        log(f"live listing: resuming at page {resumed_from:,} ({state.models:,} models staged by an earlier run, last page at {state.last_page_at} UTC)")
    try:
        return _fetch(area, state, headers, first_url, query, month, max_lag_days, expected_total, checkpoint_rows, pacer, log, now, started, resumed_from)
    except (ListingWindowError, ListingIncompleteError, _Looping):
        area.remove()  # the staged pages cannot stand for the month: a re-run must start again
        raise
    except ListingError as exc:
        saved, _ = area.load(fresh, now())
        kept = (
            f"; {saved.pages:,} page{'s' if saved.pages > 1 else ''} ({saved.models:,} models) {'are' if saved.pages > 1 else 'is'} staged: "
            f"run the month again to resume at page {saved.pages + 1:,}"
            if saved is not None and saved.pages
            else ""
        )
        raise ListingError(f"{exc}; nothing was published{kept}") from None


class _Looping(ListingError):
    """The listing is going round in circles."""


def _fetch(
    area: checkpoint.StagingArea,
    state: checkpoint.Checkpoint,
    headers: dict,
    first_url: str,
    query: dict,
    month: dt.date,
    max_lag_days: int,
    expected_total: int | None,
    checkpoint_rows: int,
    pacer: Pacer,
    log: Callable[[str], None],
    now: Callable[[], dt.datetime],
    started: float,
    resumed_from: int | None,
) -> LiveListing:
    progress = Progress(pages=state.pages, models=state.models, total=expected_total, base=state.models, started=started)
    seen = set(state.cursors)
    previous = area.last_rows(state)
    url, params = (state.next_url, None) if state.next_url else (first_url, query)
    buffered: list[pa.Table] = []
    rows = 0
    first_of_run = True
    last_log = started
    while True:
        pacer.wait()
        try:
            page = fetch_page(url, params, headers, state.pages + 1)  # type: ignore[arg-type]
        except _CursorRejected as exc:
            if not (first_of_run and resumed_from):
                raise
            log(f"live listing: the Hub refused the checkpoint's cursor ({exc}); starting again from page 1")
            area.reset()
            fresh = checkpoint.Checkpoint(month=state.month, endpoint=state.endpoint, query=state.query)
            return _fetch(area, fresh, headers, first_url, query, month, max_lag_days, expected_total, checkpoint_rows, pacer, log, now, time.monotonic(), None)
        taken = page.server_time
        if taken is None:
            taken, state.clock = now(), "local"
        if first_of_run:
            if taken - now() > MAX_CLOCK_AHEAD:
                raise ListingWindowError(
                    f"the Hub's clock ({taken:%Y-%m-%d %H:%M} UTC) is more than a day ahead of this machine's; "
                    "refusing to date a snapshot by it"
                )
            check_listing_time(month, taken, max_lag_days)
            if state.started_at is None:
                state.started_at = taken.isoformat()
                log(f"live listing from {state.endpoint} started {taken:%Y-%m-%d %H:%M:%S} UTC ({state.clock} clock), asking for {query['limit']} models per page")
            first_of_run = False
        seen.add(checkpoint.url_key(page.url))
        served = items_to_table(page.items)
        table, repeats = drop_repeats(served, previous)
        previous = served
        state.pages += 1
        state.models += table.num_rows
        state.repeats += repeats
        state.last_page_at = taken.isoformat()
        if page.total is not None:
            state.min_total = page.total if state.min_total is None else min(state.min_total, page.total)
        progress.pages, progress.models = state.pages, state.models
        progress.total = state.min_total or progress.total
        buffered.append(table)
        rows += table.num_rows
        state.next_url = page.next_url
        if page.next_url is not None and checkpoint.url_key(page.next_url) in seen:
            raise _Looping(
                f"the Hub's model listing loops: page {state.pages:,} links back to a page already read "
                f"({state.models:,} models so far); nothing was published, run the month again later"
            )
        # Models served, with the repeats dropped: a cursor renewed on the same page serves only repeats.
        expected, why, served_total = *_expected(expected_total, state.min_total), state.models + state.repeats
        if served_total > RUNAWAY_FACTOR * expected:
            raise _Looping(
                f"the live listing has run past {served_total:,} models, {RUNAWAY_FACTOR}x the {expected:,} expected ({why}): "
                "its cursor is going round in circles; nothing was published"
            )
        if page.next_url is None:
            _check_total(state, month)
            state.done = True
        if rows >= checkpoint_rows or state.done:
            area.write_chunk(state, pa.concat_tables(buffered))
            buffered, rows = [], 0
            state.last_page_rows = table.num_rows
            state.cursors = sorted(seen)
            area.save(state, now())
        if time.monotonic() - last_log >= PROGRESS_EVERY_S:
            log(progress.line())
            last_log = time.monotonic()
        if state.done:
            log(progress.line() + " (done)")
            return _listing(area, state, started, resumed_from)
        url, params = page.next_url, None


def _check_total(state: checkpoint.Checkpoint, month: dt.date) -> None:
    if state.min_total is not None and state.models < state.min_total * (1 - TOTAL_TOLERANCE):
        raise ListingIncompleteError(
            f"the live listing for {month:%Y-%m} ended after {state.models:,} models on page {state.pages:,}, but the Hub "
            f"reports {state.min_total:,}: its pagination stopped early; nothing was published, run the month again"
        )


def _listing(area: checkpoint.StagingArea, state: checkpoint.Checkpoint, started: float, resumed_from: int | None) -> LiveListing:
    assert state.started_at is not None and state.last_page_at is not None
    return LiveListing(
        files=area.files(state),
        started_at=dt.datetime.fromisoformat(state.started_at),
        snapshot_at=dt.datetime.fromisoformat(state.last_page_at),
        pages=state.pages,
        models=state.models,
        seconds=time.monotonic() - started,
        clock=state.clock,
        repeats=state.repeats,
        resumed_from_page=resumed_from,
    )
