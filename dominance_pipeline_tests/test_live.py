"""The live source with the real huggingface_hub client over HTTP against the local Hub server."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from dominance_pipeline.hubserver import HubServer
from dominance_pipeline.hubserver.faults import parse_fault
from dominance_pipeline.hubserver.models import ModelCorpus
from dominance_pipeline.sources import live
from dominance_pipeline.sources.normalise import normalise
from dominance_pipeline_tests.fakehub import patch_retry_sleep, synthetic_models

MAY = dt.date(2026, 5, 1)
JUNE_5 = dt.datetime(2026, 6, 5, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def sample_corpus(sample_path):
    return ModelCorpus.from_parquet([sample_path])


def stage(server: HubServer, tmp_path, **kwargs) -> live.LiveListing:
    return live.stage_listing(endpoint=server.url, token=None, month=MAY, stage_dir=tmp_path / "stage", **kwargs)


def staged(listing: live.LiveListing) -> pl.DataFrame:
    return pl.concat([pl.read_parquet(f) for f in listing.files])


def test_a_paged_listing_arrives_with_every_model_exactly_once(sample_corpus, sample_path, tmp_path):
    lines: list[str] = []
    with HubServer(sample_corpus, as_of=JUNE_5) as server:
        listing = stage(server, tmp_path, page_size=300, log=lines.append)
        assert server.stats.pages_sent == 14
    got = staged(listing)
    expected = pl.read_parquet(sample_path, columns=["id", "downloads"])
    assert got.height == expected.height == 4167
    assert sorted(got["id"].to_list()) == sorted(expected["id"].to_list())
    assert got.join(expected, on="id").filter(pl.col("downloads") != pl.col("downloads_right")).is_empty()
    assert (listing.pages, listing.models, listing.snapshot_at, listing.clock) == (14, 4167, JUNE_5, "server")
    assert "page 14, 4,167 models" in lines[-1] and "100% of ~4,167" in lines[-1]


def test_staged_listing_normalises_like_the_same_file_read_locally(sample_corpus, sample_path, tmp_path):
    with HubServer(sample_corpus, as_of=JUNE_5) as server:
        listing = stage(server, tmp_path)
    via_api = normalise(staged(listing), month=MAY, snapshot_at=JUNE_5, source="x").rows
    via_file = normalise(pl.read_parquet(sample_path), month=MAY, snapshot_at=JUNE_5, source="x").rows
    assert via_api.sort("model_id").equals(via_file.sort("model_id"))


def test_429s_5xx_bursts_and_dropped_connections_are_ridden_out(sample_corpus, tmp_path, monkeypatch):
    sleeps = patch_retry_sleep(monkeypatch)
    # 17 pages of 250; counted over all requests (retries too): 429 on requests 4 and 8, 503 on 11-13,
    # connection dropped half-way through the bodies of requests 19 and 22.
    faults = [
        parse_fault("429:every=4,times=2,retry_after=7"),
        parse_fault("5xx:after=10,burst=3,times=1,status=503"),
        parse_fault("drop:after=16,every=3,times=2"),
    ]
    with HubServer(sample_corpus, faults=faults, as_of=JUNE_5, page_size=250) as server:
        listing = stage(server, tmp_path, page_size=250)
        statuses = dict(server.stats.statuses)
    assert listing.models == 4167 and staged(listing)["id"].n_unique() == 4167
    assert statuses == {200: 17 + 2, 429: 2, 503: 3}
    assert [f.fired for f in faults] == [2, 1, 2]
    # huggingface_hub waits t + 1 s on a 429 whose RateLimit header says r=0, backs off 1, 2, 4 s on a 5xx
    # burst, and retries a dropped connection after 1 s.
    assert sleeps.calls == [8, 8, 1, 2, 4, 1, 1]


def test_a_burst_longer_than_the_retries_fails_the_listing(sample_corpus, tmp_path, monkeypatch):
    sleeps = patch_retry_sleep(monkeypatch)
    with HubServer(sample_corpus, faults=[parse_fault("5xx:after=1,burst=6,times=1,status=500")], as_of=JUNE_5) as server:
        with pytest.raises(live.ListingError, match="page 2 of the model listing: the Hub answered 500 Internal Server Error after retrying"):
            stage(server, tmp_path, page_size=1000)
    assert sleeps.calls == [1, 2, 4, 8, 8]


@pytest.mark.parametrize(
    ("taken", "message"),
    [
        (dt.datetime(2026, 5, 31, 23, 59, tzinfo=dt.UTC), "the month ends 2026-06-01 00:00"),
        (dt.datetime(2026, 6, 8, 0, 1, tzinfo=dt.UTC), "7 days after 2026-05 ended"),
        (dt.datetime(2026, 11, 29, tzinfo=dt.UTC), "use the archive source"),
    ],
)
def test_a_listing_outside_the_window_is_refused_naming_the_archive(taken, message):
    with pytest.raises(live.ListingWindowError, match=message):
        live.check_listing_time(MAY, taken, max_lag_days=7)


@pytest.mark.parametrize("taken", [dt.datetime(2026, 6, 1, tzinfo=dt.UTC), dt.datetime(2026, 6, 8, tzinfo=dt.UTC)])
def test_the_window_includes_both_ends(taken):
    live.check_listing_time(MAY, taken, max_lag_days=7)


def test_the_window_is_judged_by_the_servers_clock_after_one_page(sample_corpus, tmp_path):
    with HubServer(sample_corpus, as_of=dt.datetime(2026, 6, 20, tzinfo=dt.UTC)) as server:
        with pytest.raises(live.ListingWindowError, match="19 days after 2026-05 ended"):
            stage(server, tmp_path, page_size=100)
        assert server.stats.pages_sent == 1
        stage(server, tmp_path, page_size=1000, max_lag_days=30)


def test_a_server_clock_in_the_future_is_not_trusted(sample_corpus, tmp_path):
    with HubServer(sample_corpus, as_of=JUNE_5) as server:
        with pytest.raises(live.ListingWindowError, match="ahead of this machine"):
            stage(server, tmp_path, now=lambda: dt.datetime(2026, 6, 2, tzinfo=dt.UTC))


def test_items_of_the_wrong_type_reach_the_quarantine_with_the_item():
    items = [
        {"id": "a/good", "downloads": 5, "createdAt": "2026-01-01T00:00:00.000Z", "gated": False, "safetensors": {"parameters": {"BF16": 8}, "total": 8}},
        {"id": "a/bad", "downloads": "5", "likes": 1},
        {"id": "a/oddtime", "createdAt": 1767225600},
        {"id": "a/hot", "trendingScore": "hot"},
        {"id": "a/oddmodified", "lastModified": {"at": "yesterday"}},
        "not an object",
    ]
    staged = pl.from_arrow(live.items_to_table(items))
    out = normalise(staged, month=MAY, snapshot_at=JUNE_5, source="live")
    assert out.rows["model_id"].to_list() == ["a/good"]
    good = out.rows.row(0, named=True)
    assert (good["gated"], good["params_total"], good["downloads_30d"]) == ("false", 8, 5)
    reasons = {r[0]: r[1:] for r in out.quarantine.select("model_id", "reason", "detail").iter_rows()}
    assert reasons == {
        "a/bad": ("wrong_type", "downloads"),
        "a/oddtime": ("unparseable_date", "createdAt"),
        "a/hot": ("wrong_type", "trendingScore"),
        "a/oddmodified": ("unparseable_date", "lastModified"),
        None: ("wrong_type", "item"),
    }
    assert '\\"downloads\\": \\"5\\"' in out.quarantine.filter(pl.col("model_id") == "a/bad")["row_json"].item()


def paced_waits(budget: int, window: float, calls: tuple[float, ...]) -> list[float]:
    """The waits a Pacer imposes on calls made at the given times (a fake clock that its sleeps advance)."""
    now = [0.0]
    waits: list[float] = []
    pacer = live.Pacer(budget=budget, window=window, clock=lambda: now[0], sleep=lambda s: (waits.append(s), now.__setitem__(0, now[0] + s)))
    for t in calls:
        now[0] = max(now[0], t)
        pacer.wait()
    return waits


def test_the_pacer_waits_for_the_next_window():
    assert paced_waits(3, 300, (0, 10, 20, 30, 40)) == [270.0]


def test_progress_gives_rate_and_eta():
    p = live.Progress(pages=10, models=10_000, total=40_000, started=0.0)
    assert p.line(now=20.0) == "live listing: page 10, 10,000 models, 500 models/s, 25% of ~40,000, ETA 0:01:00"
    assert "ETA" not in live.Progress(pages=1, models=5, started=0.0).line(now=1.0)


def test_request_budget_follows_the_token():
    assert live.request_budget(None) == 450 and live.request_budget("hf_x") == 900 and live.request_budget(None, 2400) == 2400


def test_synthetic_listing_with_many_ties_over_many_pages(tmp_path):
    corpus = ModelCorpus(synthetic_models(3_000, ties=50))
    with HubServer(corpus, as_of=JUNE_5) as server:
        listing = stage(server, tmp_path, page_size=128)
    ids = staged(listing)["id"]
    assert listing.pages == 24 and ids.len() == ids.n_unique() == 3_000


def test_a_parameter_total_that_is_not_an_integer_is_not_read_as_one():
    # A JSON `true` is a bool, which isinstance(..., int) accepts; Arrow would then refuse it in the int64
    # `total` and fail the whole page (and the month) instead of the model arriving without a count.
    items = [
        {"id": "a/bool-total", "safetensors": {"total": True}, "gguf": {"total": False}},
        {"id": "a/int-total", "safetensors": {"total": 8}, "gguf": {"total": 3}},
    ]
    got = live.items_to_table(items).to_pylist()
    assert [(r["id"], r["safetensors"], r["gguf"]) for r in got] == [("a/bool-total", None, None), ("a/int-total", {"total": 8}, '{"total": 3}')]


def test_a_listing_a_few_pages_short_of_the_hubs_total_is_refused(tmp_path):
    # 2,000 models in pages of 10; the Hub drops the next link after page 199: 1,990 arrive, 0.5 % short, more
    # than the 0.1 % deletions during a listing explain.
    with HubServer(ModelCorpus(synthetic_models(2_000)), faults=[parse_fault("end:after=198,times=1")], as_of=JUNE_5) as server:
        with pytest.raises(live.ListingIncompleteError, match="ended after 1,990 models on page 199, but the Hub reports 2,000"):
            stage(server, tmp_path, page_size=10)
    assert not (tmp_path / "stage").exists()  # a refused listing is discarded, not resumable


class _TickingHub(HubServer):
    """A Hub whose clock moves one minute per response (its `Date` header), as a real listing's does."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.ticks = 0

    def now(self) -> dt.datetime:
        self.ticks += 1
        return JUNE_5 + dt.timedelta(minutes=self.ticks)


def test_the_snapshot_is_timed_by_the_last_page_and_the_start_by_the_first(tmp_path):
    with _TickingHub(ModelCorpus(synthetic_models(30))) as server:
        listing = stage(server, tmp_path, page_size=10)
    assert listing.pages == 3
    assert (listing.started_at, listing.snapshot_at) == (JUNE_5 + dt.timedelta(minutes=1), JUNE_5 + dt.timedelta(minutes=3))


def test_a_relation_declared_only_in_the_card_survives_the_live_listing(tmp_path):
    # No baseModels, no base_model: tags: the card's base_model and base_model_relation are the only declaration.
    frame = pl.DataFrame(
        {
            "id": ["org/child-GGUF", "org/parent"],
            "createdAt": [dt.datetime(2026, 1, 2), dt.datetime(2026, 1, 1)],
            "cardData": ['{"base_model": "org/parent", "base_model_relation": "quantized", "license": "mit"}', None],
        },
        schema_overrides={"createdAt": pl.Datetime("us")},
    )
    with HubServer(ModelCorpus(frame), as_of=JUNE_5) as server:
        listing = stage(server, tmp_path)
    rows = normalise(staged(listing), month=MAY, snapshot_at=JUNE_5, source="live").rows
    child = rows.filter(pl.col("model_id") == "org/child-GGUF").row(0, named=True)
    assert (child["base_model_ids"], child["base_relation"]) == (["org/parent"], "quantized")


def test_a_model_served_again_with_other_values_on_the_next_page_is_kept_for_normalisation(tmp_path):
    # Only an exact copy is the same observation twice. org/x ends page 1 and, modified an hour later, starts
    # page 2 (pages of 3, sort createdAt, ties in file order): both copies are staged, normalisation keeps the
    # later one and quarantines the other. No X-Total-Count, as on the real Hub: nothing else would notice a loss.
    day = dt.datetime(2026, 1, 1)
    frame = pl.DataFrame(
        {
            "id": ["org/a", "org/b", "org/x", "org/x", "org/c"],
            "createdAt": [day + dt.timedelta(days=3), day + dt.timedelta(days=2), day + dt.timedelta(days=1), day + dt.timedelta(days=1), day],
            "lastModified": [day] * 3 + [day + dt.timedelta(hours=1), day],
            "downloads": [1, 2, 3, 4, 5],
        },
        schema_overrides={"createdAt": pl.Datetime("us"), "lastModified": pl.Datetime("us")},
    )
    with HubServer(ModelCorpus(frame), faults=[parse_fault("nototal")], as_of=JUNE_5) as server:
        listing = stage(server, tmp_path, page_size=3)
    got = staged(listing)
    assert (listing.pages, listing.models, listing.repeats) == (2, 5, 0)
    assert got.filter(pl.col("id") == "org/x")["downloads"].to_list() == [3, 4]
    out = normalise(got, month=MAY, snapshot_at=JUNE_5, source="live")
    assert out.rows.filter(pl.col("model_id") == "org/x")["downloads_30d"].to_list() == [4]
    assert out.quarantine.select("model_id", "reason").rows() == [("org/x", "duplicate_id")]


def test_models_created_while_the_listing_runs_do_not_make_it_incomplete(tmp_path):
    # Newest first, models created during the listing land on pages already read: the Hub's total grows
    # (100 on page 1, then 110, ..., 190) while this listing holds the 100 there were when it started.
    from dataclasses import dataclass, replace

    from dominance_pipeline.hubserver.faults import Fault

    @dataclass
    class GrowingTotal(Fault):
        name = "growing"

        def page(self, page):  # noqa: ANN001, ANN202
            return replace(page, total=page.total + 10 * (self.fired - 1))

    with HubServer(ModelCorpus(synthetic_models(100)), faults=[GrowingTotal()], as_of=JUNE_5) as server:
        listing = stage(server, tmp_path, page_size=10)
    assert (listing.pages, listing.models) == (10, 100)


def test_a_december_listing_may_be_taken_in_the_first_days_of_january():
    # December ends at 2027-01-01 00:00 UTC: the year rolls over with the month.
    live.check_listing_time(dt.date(2026, 12, 1), dt.datetime(2027, 1, 3, tzinfo=dt.UTC), max_lag_days=7)
    with pytest.raises(live.ListingWindowError, match="the month ends 2027-01-01 00:00"):
        live.check_listing_time(dt.date(2026, 12, 1), dt.datetime(2026, 12, 31, 23, 59, tzinfo=dt.UTC), max_lag_days=7)


def test_a_budget_or_page_size_below_one_is_refused_before_any_request(tmp_path):
    with HubServer(ModelCorpus(synthetic_models(10)), as_of=JUNE_5) as server:
        with pytest.raises(ValueError, match="requests_per_5min must be at least 1"):
            stage(server, tmp_path, requests_per_5min=0)
        with pytest.raises(ValueError, match="page_size must be at least 1"):
            stage(server, tmp_path, page_size=0)
        assert server.stats.pages_sent == 0


def test_the_pacers_next_window_starts_when_the_pause_ends():
    # Budget 2 per 300 s: the third call at t=0 waits until t=300, which opens the next window [300, 600);
    # calls at 310 and 320 are its second and third, so the one at 320 waits until 600 (280 s).
    assert paced_waits(2, 300, (0, 0, 0, 310, 320)) == [300.0, 280.0]


def test_a_cursor_renewed_on_the_same_page_is_stopped_though_it_serves_only_repeats(tmp_path):
    # 100 models in pages of 10; from request 3 on, each page links to itself with a fresh cursor (30 times),
    # so every page served after page 3 is an exact repeat of the page before: dropped, the model count stays
    # at 30. The served count (repeats included) passes 2x the Hub's 100 on page 21 (210 served).
    with HubServer(ModelCorpus(synthetic_models(100)), faults=[parse_fault("loop:after=2,back=1,fresh=1,times=30")], as_of=JUNE_5) as server:
        with pytest.raises(live.ListingError, match="run past 210 models, 2x the 100 expected \\(the Hub's total\\)"):
            stage(server, tmp_path, page_size=10)
        assert server.stats.pages_sent == 21
    assert not (tmp_path / "stage").exists()  # a looping listing is discarded, not resumed into the loop


def test_last_months_count_bounds_a_loop_before_the_hubs_total(tmp_path):
    # The caller's expected_total (last month's 60) wins over the Hub's X-Total-Count (100): a loop with fresh
    # cursors over pages of 10 is stopped once more than 120 models were served, on page 13.
    with HubServer(ModelCorpus(synthetic_models(100)), faults=[parse_fault("loop:after=4,back=2,fresh=1,times=40")], as_of=JUNE_5) as server:
        with pytest.raises(live.ListingError, match="run past 130 models, 2x the 60 expected \\(last month's count\\)"):
            stage(server, tmp_path, page_size=10, expected_total=60)
        assert server.stats.pages_sent == 13


def test_without_a_token_the_machines_hf_token_is_not_sent(tmp_path, monkeypatch):
    # token=None means anonymous: huggingface_hub would otherwise fall back to HF_TOKEN or the stored login.
    monkeypatch.setenv("HF_TOKEN", "hf_not_for_this_listing")
    with HubServer(ModelCorpus(synthetic_models(30)), as_of=JUNE_5) as server:
        stage(server, tmp_path, page_size=10)
        assert (server.stats.pages_sent, server.stats.authorized) == (3, 0)


def test_a_total_header_that_is_not_a_count_is_ignored(tmp_path):
    # X-Total-Count is read only when it is a plain count; anything else ("about 30", "-1") says nothing.
    from dataclasses import dataclass, replace

    from dominance_pipeline.hubserver.faults import Fault

    @dataclass
    class OddTotal(Fault):
        name = "oddtotal"

        def page(self, page):  # noqa: ANN001, ANN202
            return replace(page, total="about 30" if self.fired % 2 else "-1")

    with HubServer(ModelCorpus(synthetic_models(30)), faults=[OddTotal()], as_of=JUNE_5) as server:
        listing = stage(server, tmp_path, page_size=10)
    assert (listing.pages, listing.models) == (3, 30)


def test_repeats_dropped_on_the_way_do_not_count_towards_the_hubs_total(tmp_path):
    # 100 models in pages of 10. Page 2 (10-19) links to row 15: page 3 (15-24) repeats 5 models (dropped).
    # Page 10 (85-94) has no next link: 95 distinct models staged, 5 short of the Hub's 100, though 100 were served.
    faults = [parse_fault("overlap:after=1,times=1,rows=5"), parse_fault("end:after=9,times=1")]
    with HubServer(ModelCorpus(synthetic_models(100)), faults=faults, as_of=JUNE_5) as server:
        with pytest.raises(live.ListingIncompleteError, match="ended after 95 models on page 10, but the Hub reports 100"):
            stage(server, tmp_path, page_size=10)
