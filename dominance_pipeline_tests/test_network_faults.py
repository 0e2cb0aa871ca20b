"""Network faults, through the local Hub server's fault modes, the real huggingface_hub client and a real
Dagster run of raw_hub_listings: each either completes with every model exactly once, or fails with a
one-line error naming the page and the cause. Either way no partial partition is published: after a
failure the month's previous raw partition and quarantine are byte for byte what they were.
"""

from __future__ import annotations

import datetime as dt
import re
import hashlib
import shutil
from pathlib import Path

import polars as pl
import pytest

from dominance_pipeline.hubserver import HubServer
from dominance_pipeline.hubserver.faults import parse_fault
from dominance_pipeline.hubserver.models import ModelCorpus
from dominance_pipeline.storage import parquet
from dominance_pipeline_tests.fakehub import materialize_raw, patch_retry_sleep, raw_metadata, step_error, synthetic_models

KEY = "2026-05-01"
JUNE_5 = dt.datetime(2026, 6, 5, tzinfo=dt.UTC)
N, PAGE = 600, 50  # 12 pages
MODELS = synthetic_models(N)
RAW = ("raw_hub_listings",)


def files(warehouse: Path) -> dict[str, str]:
    """SHA-256 of the month's raw partition and quarantine, and of every other file in their folders."""
    out = {}
    for folder in (parquet.partition_dir(warehouse, *RAW, KEY), parquet.partition_dir(warehouse / "quarantine", *RAW, KEY)):
        for path in sorted(folder.iterdir()):
            out[str(path.relative_to(warehouse))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


@pytest.fixture(scope="module")
def previous(tmp_path_factory) -> Path:
    """A warehouse whose 2026-05 raw partition is a good earlier run of a different listing (the first 590
    models), so a faulty run that published anything would show."""
    data = tmp_path_factory.mktemp("previous")
    with HubServer(ModelCorpus(MODELS.head(590)), as_of=JUNE_5) as server:
        assert materialize_raw(data, KEY, {"source": "live"}, server.url, page_size=PAGE).success
    return data


def run(tmp_path: Path, previous: Path, specs: list[str], april_rows: int | None = None):
    """Copy the previous warehouse, run the month against a server with `specs`; return (result, data, server)."""
    data = tmp_path / "data"
    shutil.copytree(previous, data)
    if april_rows is not None:
        april = pl.read_parquet(parquet.partition_file(data / "warehouse", *RAW, KEY)).head(april_rows)
        parquet.write_partition(april.with_columns(pl.lit(dt.date(2026, 4, 1)).alias("month")), data / "warehouse", *RAW, "2026-04-01")
    faults = [parse_fault(s) for s in specs]
    with HubServer(ModelCorpus(MODELS), faults=faults, as_of=JUNE_5) as server:
        result = materialize_raw(data, KEY, {"source": "live"}, server.url, page_size=PAGE, checkpoint_rows=PAGE)
    return result, data / "warehouse", server


def assert_every_model_once(warehouse: Path) -> None:
    raw = pl.read_parquet(parquet.partition_file(warehouse, *RAW, KEY))
    assert raw.height == raw["model_id"].n_unique() == N
    assert set(raw["model_id"]) == set(MODELS["id"])
    assert pl.read_parquet(parquet.partition_file(warehouse / "quarantine", *RAW, KEY)).height == 0


COMPLETES = [
    # (case, fault specs, retry sleeps huggingface_hub and the live source asked for)
    ("429 storm within the client's retries", ["429:after=2,times=5,retry_after=3"], [4, 4, 4, 4, 4]),
    ("5xx burst", ["5xx:after=3,burst=4,times=1,status=502"], [1, 2, 4, 8]),
    ("connection dropped mid-page", ["drop:after=2,every=2,times=3,at=0.4"], [1, 1, 1]),
    ("truncated JSON body", ["truncate:after=4,times=2,at=0.7"], [1, 2]),
]


@pytest.mark.parametrize(("case", "specs", "sleeps"), COMPLETES, ids=[c[0] for c in COMPLETES])
def test_faults_that_are_ridden_out_give_every_model_exactly_once(tmp_path, previous, monkeypatch, case, specs, sleeps):
    slept = patch_retry_sleep(monkeypatch)
    result, warehouse, server = run(tmp_path, previous, specs)
    assert result.success, step_error(result)
    assert all(f.fired for f in server.faults)
    assert slept.calls == sleeps
    assert_every_model_once(warehouse)
    meta = raw_metadata(result)
    assert (meta["listing_pages"], meta["rows_in"], meta["quarantined"]) == (12, N, 0)


def test_the_same_models_on_two_pages_are_kept_once(tmp_path, previous, monkeypatch):
    patch_retry_sleep(monkeypatch)
    result, warehouse, server = run(tmp_path, previous, ["overlap:after=1,every=3,rows=5"])
    assert result.success, step_error(result)
    # Requests 4, 7, 10 and 13 fire; each but the last (which has no next page) starts the next page 5 rows
    # early: pages start at 0, 50, 100, 150, 195, 245, 295, 340, 390, 440, 485, 535, 585 -> 13 pages, 15 repeats.
    (overlap,) = server.faults
    assert overlap.fired == 4
    assert_every_model_once(warehouse)
    meta = raw_metadata(result)
    assert (meta["listing_pages"], meta["listing_repeats"], meta["rows_in"]) == (13, 15, N)


FAILS = [
    # (case, fault specs, April's raw rows or None, the one-line reason the run reports)
    ("429 storm longer than the retries", ["429:after=2,retry_after=1"], None,
     r"^page 3 of the model listing: the Hub answered 429 Too Many Requests after retrying \(You have exceeded our hourly quotas for action 'api'\. You have reached your 'api' rate limit \(fake Hub\)\. Retry after 1 seconds\.\); nothing was published; 2 pages \(100 models\) are staged: run the month again to resume at page 3$"),
    ("5xx burst longer than the retries", ["5xx:after=3,burst=6,times=1,status=503"], None,
     r"^page 4 of the model listing: the Hub answered 503 Service Unavailable after retrying \(fake Hub: injected 503\); nothing was published; 3 pages \(150 models\) are staged: run the month again to resume at page 4$"),
    ("truncated JSON on every attempt", ["truncate:after=4"], None,
     r"^page 5 of the model listing: the Hub sent an unreadable body 4 times \(.*char.*; [\d,]+ bytes\); nothing was published"),
    ("cursor that loops", ["loop:after=4,times=1,back=2"], None,
     r"^the Hub's model listing loops: page 5 links back to a page already read"),
    ("cursor that loops with fresh cursors, last month's count", ["loop:after=4,back=2,fresh=1", "nototal"], 590,
     r"^the live listing has run past 1,200 models, 2x the 590 expected \(last month's count\): its cursor is going round in circles; nothing was published"),
    ("cursor that loops with fresh cursors, the Hub's total", ["loop:after=4,back=2,fresh=1"], None,
     r"^the live listing has run past 1,250 models, 2x the 600 expected \(the Hub's total\)"),
    ("listing that ends early, the Hub reporting a total", ["end:after=4,times=1"], None,
     r"^the live listing for 2026-05 ended after 250 models on page 5, but the Hub reports 600"),
    ("listing that ends early, no total, last month's count", ["end:after=4,times=1", "nototal"], 590,
     r"^the live listing for 2026-05 ended after 250 models, 57.6% fewer than 2026-04's 590 \(at most 3% allowed\)"),
]


@pytest.mark.parametrize(("case", "specs", "april", "reason"), FAILS, ids=[c[0] for c in FAILS])
def test_faults_that_cannot_be_ridden_out_fail_clearly_and_publish_nothing(tmp_path, previous, monkeypatch, case, specs, april, reason):
    patch_retry_sleep(monkeypatch)
    before = files(previous / "warehouse")
    result, warehouse, server = run(tmp_path, previous, specs, april)
    assert not result.success
    assert all(f.fired for f in server.faults)
    message = step_error(result)
    assert re.search(reason, message), message
    assert "\n" not in message and "Traceback" not in message
    assert files(warehouse) == before  # the previous partition and quarantine, byte for byte, and nothing beside them


def test_a_loop_with_fresh_cursors_ends_even_with_nothing_to_say_how_many_models_there_are(tmp_path, previous, monkeypatch):
    # No previous month and no total from the Hub (the real Hub sends none): a warehouse's first live month.
    # The loop still ends, at the ceiling (shrunk here from 10 million, so the run takes 9 pages).
    from dominance_pipeline.sources import live

    patch_retry_sleep(monkeypatch)
    monkeypatch.setattr(live, "UNKNOWN_TOTAL_CEILING", 200)
    before = files(previous / "warehouse")
    result, warehouse, server = run(tmp_path, previous, ["loop:after=4,back=2,fresh=1", "nototal"])
    assert not result.success
    assert server.stats.pages_sent == 9
    assert re.search(
        r"^the live listing has run past 450 models, 2x the 200 expected \(no count to go by: the ceiling live.UNKNOWN_TOTAL_CEILING\)",
        step_error(result),
    ), step_error(result)
    assert files(warehouse) == before


def test_an_unreachable_hub_fails_clearly(tmp_path, previous, monkeypatch):
    slept = patch_retry_sleep(monkeypatch)
    before = files(previous / "warehouse")
    data = tmp_path / "data"
    shutil.copytree(previous, data)
    result = materialize_raw(data, KEY, {"source": "live"}, "http://127.0.0.1:9", page_size=PAGE)
    assert not result.success
    assert step_error(result).startswith("page 1 of the model listing: cannot reach the Hub (") and slept.calls == [1, 2, 4, 8, 8]
    assert files(data / "warehouse") == before


def test_a_storm_that_failed_the_run_is_resumed_by_the_next_one(tmp_path, previous, monkeypatch):
    patch_retry_sleep(monkeypatch)
    data = tmp_path / "data"
    shutil.copytree(previous, data)
    storm = parse_fault("429:after=6,retry_after=1")
    with HubServer(ModelCorpus(MODELS), faults=[storm], as_of=JUNE_5) as server:
        first = materialize_raw(data, KEY, {"source": "live"}, server.url, page_size=PAGE, checkpoint_rows=PAGE)
        assert not first.success and step_error(first).startswith("page 7 of the model listing: the Hub answered 429")
        sent = server.stats.pages_sent
        server.faults.clear()  # the rate limit window has passed
        second = materialize_raw(data, KEY, {"source": "live"}, server.url, page_size=PAGE, checkpoint_rows=PAGE)
        resumed = server.stats.pages_sent - sent
    assert second.success
    assert (sent, resumed) == (6, 6)  # pages 1-6, then only pages 7-12
    assert raw_metadata(second)["listing_resumed_from_page"] == 7
    assert_every_model_once(data / "warehouse")
    assert not (data / "warehouse" / ".staging" / "live" / f"month={KEY}").exists()
