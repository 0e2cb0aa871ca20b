"""A live ingestion killed with SIGKILL resumes from its last checkpoint and ends with the same rows as an
uninterrupted run; checkpoints that cannot be trusted are not resumed."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest

from dominance_pipeline.defs.ingest import live_stage_dir
from dominance_pipeline.hubserver import HubServer
from dominance_pipeline.hubserver.faults import parse_fault
from dominance_pipeline.hubserver.models import ModelCorpus
from dominance_pipeline.settings import PROJECT_ROOT
from dominance_pipeline.sources import checkpoint, live
from dominance_pipeline.storage import parquet
from dominance_pipeline_tests.fakehub import materialize_raw, raw_metadata, step_error, synthetic_models

KEY = "2026-05-01"
MAY = dt.date(2026, 5, 1)
JUNE_5 = dt.datetime(2026, 6, 5, tzinfo=dt.UTC)
MODELS = synthetic_models(600)
PAGE, CHECKPOINT = 50, 100  # 12 pages; a checkpoint every second page


def child(data: Path, endpoint: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "dominance_pipeline_tests.raw_child", str(data), KEY, '{"source": "live"}', endpoint, str(PAGE), str(CHECKPOINT)],
        cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def wait_for(condition, proc: subprocess.Popen, timeout: float = 120) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while not condition():
        if proc.poll() is not None:
            raise AssertionError(f"the child ended early ({proc.returncode}): {proc.stderr.read()[-2000:]}")  # type: ignore[union-attr]
        assert time.monotonic() < deadline, "timed out waiting for the child"
        time.sleep(0.05)


def raw(data: Path) -> pl.DataFrame:
    return pl.read_parquet(parquet.partition_file(data / "warehouse", "raw_hub_listings", KEY))


def test_a_killed_live_ingestion_resumes_from_its_checkpoint(tmp_path):
    data = tmp_path / "data"
    stall = parse_fault("slow:after=5,delay=8,times=1")  # the 6th page request hangs: kill the run there
    with HubServer(ModelCorpus(MODELS), faults=[stall], as_of=JUNE_5, page_size=PAGE) as server:
        proc = child(data, server.url)
        state = live_stage_dir(data / "warehouse", KEY) / checkpoint.FILE
        wait_for(lambda: stall.fired == 1, proc)
        assert json.loads(state.read_text())["pages"] == 4  # pages 1-4 checkpointed; page 5 only in memory
        os.kill(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=30)
        assert proc.returncode == -signal.SIGKILL
        assert not parquet.partition_file(data / "warehouse", "raw_hub_listings", KEY).exists()
        sent = server.stats.pages_sent
        server.faults.clear()

        resumed = child(data, server.url)
        out, err = resumed.communicate(timeout=120)
        assert resumed.returncode == 0, err[-3000:]
        resumed_pages = server.stats.pages_sent - sent
        uninterrupted = materialize_raw(tmp_path / "whole", KEY, {"source": "live"}, server.url, page_size=PAGE, checkpoint_rows=CHECKPOINT)
    meta = json.loads(out.strip().splitlines()[-1])["metadata"]
    assert (sent, resumed_pages) == (5, 8)  # the first run read pages 1-5; the second read 5-12 only
    assert meta["listing_resumed_from_page"] == 5 and meta["listing_pages"] == 12 and meta["rows_in"] == 600
    assert uninterrupted.success and raw_metadata(uninterrupted)["listing_resumed_from_page"] is None
    assert raw(data).equals(raw(tmp_path / "whole"))  # same rows, same order, same values
    assert raw(data)["model_id"].n_unique() == 600
    assert not live_stage_dir(data / "warehouse", KEY).exists()  # published: the checkpoint is gone


def stage(server: HubServer, stage_dir: Path, **kwargs: object) -> live.LiveListing:
    return live.stage_listing(endpoint=server.url, token=None, month=MAY, stage_dir=stage_dir, page_size=PAGE, checkpoint_rows=CHECKPOINT, **kwargs)


def interrupted(server: HubServer, stage_dir: Path, after_pages: int = 6) -> None:
    """Stage the listing until the request after `after_pages` fails for good (a 5xx burst beyond the retries)."""
    server.faults[:] = [parse_fault(f"5xx:after={after_pages},burst=6,times=1")]
    with pytest.raises(live.ListingError, match="resume at page 7"):
        stage(server, stage_dir)
    server.faults.clear()


@pytest.fixture
def halfway(tmp_path, monkeypatch):
    """A server and a staging folder holding a listing that failed at page 7 (checkpointed up to page 6)."""
    monkeypatch.setattr("huggingface_hub.utils._http.time.sleep", lambda s: None)
    stage_dir = tmp_path / "stage"
    with HubServer(ModelCorpus(MODELS), as_of=JUNE_5, page_size=PAGE) as server:
        interrupted(server, stage_dir)
        yield server, stage_dir


def test_orphans_of_a_killed_write_are_dropped_and_the_listing_completes(halfway):
    server, stage_dir = halfway
    (stage_dir / "part-00003.parquet").write_bytes(b"a chunk written after the last checkpoint")
    (stage_dir / ".part-00004.parquet.dead.tmp").write_bytes(b"half a chunk")
    sent = server.stats.pages_sent
    listing = stage(server, stage_dir)
    assert server.stats.pages_sent - sent == 6
    ids = pl.concat([pl.read_parquet(f) for f in listing.files])["id"]
    assert listing.resumed_from_page == 7 and ids.len() == ids.n_unique() == 600
    assert sorted(p.name for p in stage_dir.iterdir()) == sorted([checkpoint.FILE, *(f.name for f in listing.files)])


def test_a_stale_checkpoint_or_another_endpoints_is_not_resumed(halfway):
    server, stage_dir = halfway
    lines: list[str] = []
    later = dt.datetime.now(dt.UTC) + checkpoint.RESUME_MAX_AGE + dt.timedelta(minutes=1)
    listing = stage(server, stage_dir, now=lambda: later, log=lines.append)
    assert listing.resumed_from_page is None and "starting again from page 1: the checkpoint is older than 24 hours" in lines[0]
    shutil.rmtree(stage_dir)  # the caller publishes a complete listing, then removes it
    interrupted(server, stage_dir)
    with HubServer(ModelCorpus(MODELS), as_of=JUNE_5, page_size=PAGE) as other:
        listing = live.stage_listing(endpoint=other.url, token=None, month=MAY, stage_dir=stage_dir, page_size=PAGE,
                                     checkpoint_rows=CHECKPOINT, log=lines.append)
    assert listing.resumed_from_page is None and any("another month, endpoint or query" in line for line in lines[1:])
    assert pl.concat([pl.read_parquet(f) for f in listing.files]).height == 600


def test_a_cursor_the_hub_no_longer_accepts_restarts_the_listing(halfway):
    server, stage_dir = halfway
    lines: list[str] = []
    state = json.loads((stage_dir / checkpoint.FILE).read_text())
    state["next_url"] = state["next_url"].split("cursor=")[0] + "cursor=expired"
    (stage_dir / checkpoint.FILE).write_text(json.dumps(state))
    listing = stage(server, stage_dir, log=lines.append)
    assert any("the Hub refused the checkpoint's cursor" in line and "starting again from page 1" in line for line in lines)
    ids = pl.concat([pl.read_parquet(f) for f in listing.files])["id"]
    assert listing.pages == 12 and ids.len() == ids.n_unique() == 600


def test_a_resumed_listing_outside_the_window_is_refused_and_forgotten(halfway):
    server, stage_dir = halfway
    server.as_of = dt.datetime(2026, 6, 9, tzinfo=dt.UTC)  # the Hub's clock now says 8 days after May ended
    with pytest.raises(live.ListingWindowError, match="8 days after 2026-05 ended"):
        stage(server, stage_dir)
    assert not stage_dir.exists()


def test_a_second_live_run_of_the_same_month_is_refused_while_one_holds_it(tmp_path):
    stage_dir = live_stage_dir(tmp_path / "warehouse", KEY)
    with HubServer(ModelCorpus(MODELS), as_of=JUNE_5, page_size=PAGE) as server:
        with checkpoint.locked(stage_dir):  # another run is listing May
            busy = materialize_raw(tmp_path, KEY, {"source": "live"}, server.url, page_size=PAGE)
            assert server.stats.pages_sent == 0
        assert not busy.success
        assert step_error(busy) == f"another run is already listing into {stage_dir}; wait for it to end (or stop it) and run the month again"
        assert materialize_raw(tmp_path, KEY, {"source": "live"}, server.url, page_size=PAGE).success  # released


def through_and_resumed(tmp_path: Path, *, overlap_after: int, checkpoint_rows: int, halt_after: int) -> tuple[live.LiveListing, live.LiveListing]:
    """600 models in pages of 50 whose page `overlap_after` + 1 links 60 rows back: the listing run through,
    and the same listing stopped by a 5xx burst after page `halt_after` (its run fails, naming the page to
    resume at) and run again."""
    kwargs = {"page_size": 50, "checkpoint_rows": checkpoint_rows}
    with HubServer(ModelCorpus(synthetic_models(600)), as_of=JUNE_5, page_size=50) as server:
        server.faults[:] = [parse_fault(f"overlap:after={overlap_after},times=1,rows=60")]
        whole = live.stage_listing(endpoint=server.url, token=None, month=MAY, stage_dir=tmp_path / "whole", **kwargs)
        server.faults[:] = [parse_fault(f"overlap:after={overlap_after},times=1,rows=60"), parse_fault(f"5xx:after={halt_after},burst=6,times=1")]
        with pytest.raises(live.ListingError, match=f"resume at page {halt_after + 1}"):
            live.stage_listing(endpoint=server.url, token=None, month=MAY, stage_dir=tmp_path / "halted", **kwargs)
        server.faults.clear()
        resumed = live.stage_listing(endpoint=server.url, token=None, month=MAY, stage_dir=tmp_path / "halted", **kwargs)
    return whole, resumed


def test_a_resumed_listing_drops_the_same_repeats_as_an_uninterrupted_one(tmp_path, monkeypatch):
    # 600 models in pages of 50, a checkpoint every 100 rows. Page 6 (rows 250-299) links to a page starting 60
    # rows early: page 7 (240-289) holds 10 rows of page 5 (not the page before: kept, left to normalisation)
    # and 40 of page 6 (exact repeats of the page before: dropped); page 8 (290-339) holds the last 10 rows of
    # page 6, which page 7 does not (kept). 14 pages, 660 rows served, 40 repeats, 620 models: the same whether
    # the listing ran through or was stopped after page 6 and resumed at page 7.
    monkeypatch.setattr("huggingface_hub.utils._http.time.sleep", lambda s: None)
    whole, resumed = through_and_resumed(tmp_path, overlap_after=5, checkpoint_rows=100, halt_after=6)
    assert (whole.pages, whole.models, whole.repeats) == (14, 620, 40)
    assert (resumed.resumed_from_page, resumed.pages, resumed.models, resumed.repeats) == (7, 14, 620, 40)

    def ids(listing: live.LiveListing) -> list[str]:
        return pl.concat([pl.read_parquet(f) for f in listing.files])["id"].to_list()

    assert ids(resumed) == ids(whole)


def test_a_checkpoint_of_another_query_is_not_resumed(tmp_path, monkeypatch):
    # A listing staged with other parameters (pages of 50 here; after an upgrade, another `expand` list whose
    # rows lack fields) is not continued by a run asking for pages of 100: it starts again from page 1.
    monkeypatch.setattr("huggingface_hub.utils._http.time.sleep", lambda s: None)
    with HubServer(ModelCorpus(synthetic_models(600)), as_of=JUNE_5) as server:
        server.faults[:] = [parse_fault("5xx:after=6,burst=6,times=1")]
        with pytest.raises(live.ListingError, match="resume at page 7"):
            live.stage_listing(endpoint=server.url, token=None, month=MAY, stage_dir=tmp_path, page_size=50, checkpoint_rows=100)
        server.faults.clear()
        lines: list[str] = []
        listing = live.stage_listing(endpoint=server.url, token=None, month=MAY, stage_dir=tmp_path, page_size=100, log=lines.append)
    assert any("starting again from page 1: the checkpoint belongs to another month, endpoint or query" in line for line in lines), lines
    assert (listing.resumed_from_page, listing.pages, listing.models) == (None, 6, 600)


def test_a_resumed_listing_keeps_the_start_of_the_first_run(halfway):
    # The Hub's clock moved on an hour between the failed run and the resumed one: the listing started with
    # the first run's page 1 and its snapshot is the resumed run's last page.
    server, stage_dir = halfway
    server.as_of = JUNE_5 + dt.timedelta(hours=1)
    listing = stage(server, stage_dir)
    assert listing.resumed_from_page == 7
    assert (listing.started_at, listing.snapshot_at) == (JUNE_5, JUNE_5 + dt.timedelta(hours=1))


def test_a_checkpoint_whose_chunk_is_missing_is_not_resumed(halfway):
    server, stage_dir = halfway
    (stage_dir / "part-00001.parquet").unlink()  # pages 3-4 of the three chunks staged (pages 1-6)
    lines: list[str] = []
    listing = stage(server, stage_dir, log=lines.append)
    assert "starting again from page 1: staged chunks are missing (part-00001.parquet)" in lines[0]
    ids = pl.concat([pl.read_parquet(f) for f in listing.files])["id"]
    assert (listing.resumed_from_page, listing.pages) == (None, 12) and ids.len() == ids.n_unique() == 600


def test_a_checkpoint_of_another_month_is_not_resumed(tmp_path, monkeypatch):
    # April's listing (taken June 5, within a 40-day window) failed at page 7 in the same folder; May's
    # listing does not continue it.
    monkeypatch.setattr("huggingface_hub.utils._http.time.sleep", lambda s: None)
    with HubServer(ModelCorpus(MODELS), as_of=JUNE_5, page_size=PAGE) as server:
        server.faults[:] = [parse_fault("5xx:after=6,burst=6,times=1")]
        with pytest.raises(live.ListingError, match="resume at page 7"):
            live.stage_listing(endpoint=server.url, token=None, month=dt.date(2026, 4, 1), stage_dir=tmp_path, page_size=PAGE,
                               checkpoint_rows=CHECKPOINT, max_lag_days=40)
        server.faults.clear()
        listing = stage(server, tmp_path)
    assert (listing.resumed_from_page, listing.pages, listing.models) == (None, 12, 600)


def test_a_complete_listing_killed_before_publishing_is_published_without_asking_again(tmp_path):
    # stage_listing leaves a complete listing staged for the caller to publish; if the caller dies first, the
    # next run finds the checkpoint marked done and returns the same chunks without a request.
    lines: list[str] = []
    with HubServer(ModelCorpus(MODELS), as_of=JUNE_5, page_size=PAGE) as server:
        first = stage(server, tmp_path / "stage")
        sent = server.stats.pages_sent
        again = stage(server, tmp_path / "stage", log=lines.append)
        assert (sent, server.stats.pages_sent) == (12, 12)
    assert any("is complete (600 models); publishing it" in line for line in lines), lines
    assert (again.files, again.pages, again.models, again.snapshot_at) == (first.files, 12, 600, JUNE_5)


def test_a_loop_back_to_a_page_of_the_earlier_run_is_caught_on_the_first_resumed_page(halfway):
    # Resumed at page 7, whose next link points back to page 5 (read by the failed run, with the same cursor):
    # the checkpoint remembers the cursors read before it, so the loop is seen at once.
    server, stage_dir = halfway
    server.faults[:] = [parse_fault("loop:after=0,times=1,back=3")]
    with pytest.raises(live.ListingError, match=r"page 7 links back to a page already read \(350 models so far\)"):
        stage(server, stage_dir)
    assert not stage_dir.exists()


def test_a_resumed_run_that_fails_at_once_can_still_be_resumed(halfway):
    # The resumed run dies on its first request: the checkpoint of pages 1-6 is still there for the next one.
    server, stage_dir = halfway
    server.faults[:] = [parse_fault("5xx:after=0,burst=6,times=1")]
    with pytest.raises(live.ListingError, match=r"6 pages \(300 models\) are staged: run the month again to resume at page 7$"):
        stage(server, stage_dir)
    server.faults.clear()
    assert stage(server, stage_dir).resumed_from_page == 7


def test_a_resume_after_a_page_of_repeats_keeps_the_repeats_further_away(tmp_path, monkeypatch):
    # Pages of 50, a checkpoint every 60 rows. Page 7 (300-349) links to row 290 (60 rows early): page 8
    # (290-339) repeats 40 rows of page 7 (dropped) and keeps 10 of page 6; the checkpoint falls after page 8.
    # Page 9 (340-389) repeats 340-349 of page 7, two pages back: kept, left to normalisation, whether the
    # listing ran through or resumed at page 9. 14 pages, 660 served, 40 dropped, 620 staged.
    monkeypatch.setattr("huggingface_hub.utils._http.time.sleep", lambda s: None)
    whole, resumed = through_and_resumed(tmp_path, overlap_after=6, checkpoint_rows=60, halt_after=8)
    assert (whole.pages, whole.models, whole.repeats) == (14, 620, 40)
    assert (resumed.resumed_from_page, resumed.pages, resumed.models, resumed.repeats) == (9, 14, 620, 40)


def test_a_cursor_refused_after_the_first_resumed_page_fails_the_run_instead_of_restarting(halfway):
    # Only the checkpoint's own cursor (the resumed run's first request) may have expired; a 400 on page 8,
    # whose cursor the Hub has just handed out, is an error: the run fails and keeps pages 1-7 for the next.
    server, stage_dir = halfway
    server.faults[:] = [parse_fault("5xx:after=1,burst=1,times=1,status=400")]
    with pytest.raises(live.ListingError, match=r"^page 8 of the model listing: the Hub answered 400 Bad Request \(fake Hub: injected 400\); nothing was published"):
        stage(server, stage_dir)
    assert server.stats.statuses[400] == 1
