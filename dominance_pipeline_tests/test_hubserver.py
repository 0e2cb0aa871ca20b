"""The local Hub server speaks the Hub's API: checked over HTTP, mostly with the real huggingface_hub client."""

from __future__ import annotations

import datetime as dt
from urllib.parse import parse_qsl, urlsplit

import httpx2
import polars as pl
import pytest
from huggingface_hub import HfApi, HfFileSystem

from dominance_pipeline.hubserver import HubServer
from dominance_pipeline.hubserver.faults import parse_fault
from dominance_pipeline.hubserver.models import ModelCorpus
from dominance_pipeline.hubserver.repos import daily_repo, weekly_repo
from dominance_pipeline_tests.fakehub import synthetic_models, write


@pytest.fixture(scope="module")
def sample_server(sample_path):
    with HubServer(ModelCorpus.from_parquet([sample_path]), page_size=100) as server:
        yield server


def test_expand_returns_only_id_and_requested_keys_with_z_times(sample_server):
    r = httpx2.get(f"{sample_server.url}/api/models", params=[("limit", "3"), ("expand", "createdAt"), ("expand", "author")])
    assert r.status_code == 200
    items = r.json()
    assert len(items) == 3
    for item in items:
        assert set(item) <= {"_id", "id", "createdAt", "author"} and {"_id", "id"} <= set(item)
        assert item["createdAt"].endswith("Z")
    same = httpx2.get(f"{sample_server.url}/api/models", params=[("limit", "3"), ("expand[]", "createdAt"), ("expand[]", "author")])
    assert same.json() == items


def test_unknown_expand_is_400(sample_server):
    r = httpx2.get(f"{sample_server.url}/api/models", params=[("expand", "author"), ("expand", "likes7d")])
    assert r.status_code == 400 and "likes7d" in r.json()["error"]


def test_link_header_is_absolute_and_repeats_the_query(sample_server):
    r = httpx2.get(f"{sample_server.url}/api/models", params=[("limit", "10"), ("sort", "downloads"), ("expand", "downloads"), ("search", "qwen")])
    nxt = r.links["next"]["url"]
    assert nxt.startswith(f"{sample_server.url}/api/models?")
    query = parse_qsl(urlsplit(nxt).query)
    assert [(k, v) for k, v in query if k != "cursor"] == [("limit", "10"), ("sort", "downloads"), ("expand", "downloads"), ("search", "qwen")]
    second = httpx2.get(nxt).json()
    downloads = [m["downloads"] for m in r.json() + second]
    assert downloads == sorted(downloads, reverse=True)
    assert all("qwen" in m["id"].lower() for m in r.json() + second)


def test_real_client_lists_search_and_author_like_the_hub(sample_server, sample_path):
    api = HfApi(endpoint=sample_server.url, token=False)
    sample = pl.read_parquet(sample_path, columns=["id", "downloads", "likes"])
    qwen = {m.id for m in api.list_models(author="Qwen")}
    assert qwen == set(sample.filter(pl.col("id").str.split("/").list.first().str.to_lowercase() == "qwen")["id"])
    top = [m.id for m in api.list_models(sort="likes", limit=5, expand=["likes"])]
    expected = sample.with_row_index().sort(["likes", "index"], descending=[True, False]).head(5)["id"].to_list()
    assert top == expected
    # Without expand, the Hub's default keys: no author, no lastModified.
    first = next(iter(api.list_models(limit=1)))
    assert first.author is None and first.last_modified is None and first.downloads is not None


def test_a_cursor_from_another_query_is_refused(sample_server):
    r = httpx2.get(f"{sample_server.url}/api/models", params={"limit": "5", "sort": "likes"})
    cursor = dict(parse_qsl(urlsplit(r.links["next"]["url"]).query))["cursor"]
    other = httpx2.get(f"{sample_server.url}/api/models", params={"limit": "5", "sort": "downloads", "cursor": cursor})
    assert other.status_code == 400


def test_pages_cover_a_tied_listing_exactly_once():
    corpus = ModelCorpus(synthetic_models(1_000, ties=13))
    with HubServer(corpus, page_size=64) as server:
        ids = [m.id for m in HfApi(endpoint=server.url, token=False).list_models(sort="created_at", expand=["createdAt"])]
        assert server.stats.pages_sent == 16
    assert sorted(ids) == sorted(corpus.frame["id"].to_list())
    assert len(set(ids)) == 1_000


@pytest.fixture(scope="module")
def repos_server(tmp_path_factory, sample_path):
    tmp = tmp_path_factory.mktemp("repos")
    sample = pl.read_parquet(sample_path, columns=["id", "downloads"])
    weeks = [dt.date(2026, 5, 11), dt.date(2026, 5, 18)]
    weekly = weekly_repo([(w, write(sample.head(10 + i), tmp / f"w{i}.parquet")) for i, w in enumerate(weeks)])
    days = [dt.datetime(2026, 5, d, 13, tzinfo=dt.UTC) for d in (29, 30, 31)]
    daily = daily_repo([(d, write(sample.head(20 + i), tmp / f"d{i}.parquet")) for i, d in enumerate(days)])
    with HubServer(repos=[weekly, daily]) as server:
        yield server, tmp


def test_weekly_layout_lists_dated_folders(repos_server):
    server, _ = repos_server
    fs = HfFileSystem(endpoint=server.url, token=False, skip_instance_cache=True)
    assert fs.ls("datasets/hfmlsoc/hub_weekly_snapshots/models", detail=False) == [
        "datasets/hfmlsoc/hub_weekly_snapshots/models/2026-05-11",
        "datasets/hfmlsoc/hub_weekly_snapshots/models/2026-05-18",
    ]
    assert len(fs.glob("datasets/hfmlsoc/hub_weekly_snapshots/models/*/models.parquet")) == 2


def test_daily_layout_has_one_file_per_commit(repos_server):
    server, _ = repos_server
    api = HfApi(endpoint=server.url, token=False)
    commits = api.list_repo_commits("cfahlgren1/hub-stats", repo_type="dataset")
    assert [c.created_at.day for c in commits] == [31, 30, 29]
    fs = HfFileSystem(endpoint=server.url, token=False, skip_instance_cache=True)
    rows = [pl.read_parquet(fs.open(f"datasets/cfahlgren1/hub-stats@{c.commit_id}/models.parquet", "rb").read()).height for c in commits]
    assert rows == [22, 21, 20]
    assert api.list_repo_commits("cfahlgren1/hub-stats", repo_type="dataset", revision=commits[1].commit_id)[0].commit_id == commits[1].commit_id


def test_resolve_serves_ranges_and_hub_errors(repos_server):
    server, tmp = repos_server
    url = f"{server.url}/datasets/cfahlgren1/hub-stats/resolve/main/models.parquet"
    whole = (tmp / "d2.parquet").read_bytes()
    r = httpx2.get(url, headers={"Range": "bytes=4-11"})
    assert r.status_code == 206 and r.content == whole[4:12]
    assert r.headers["content-range"] == f"bytes 4-11/{len(whole)}"
    assert httpx2.get(url, headers={"Range": "bytes=-4"}).content == whole[-4:] == b"PAR1"
    missing = httpx2.get(f"{server.url}/datasets/cfahlgren1/hub-stats/resolve/main/nothere.parquet")
    assert missing.status_code == 404 and missing.headers["x-error-code"] == "EntryNotFound"
    assert httpx2.get(f"{server.url}/api/datasets/nobody/nothing").headers["x-error-code"] == "RepoNotFound"
    assert httpx2.get(f"{server.url}/api/datasets/cfahlgren1/hub-stats/revision/{'0' * 40}").headers["x-error-code"] == "RevisionNotFound"


def test_faults_fire_on_schedule_with_hub_headers(sample_path):
    with HubServer(ModelCorpus.from_parquet([sample_path]), faults=[parse_fault("429:every=2,retry_after=3"), parse_fault("5xx:after=4,burst=2,times=1,status=502")]) as server:
        statuses = [httpx2.get(f"{server.url}/api/models", params={"limit": "1"}) for _ in range(8)]
    assert [r.status_code for r in statuses] == [200, 429, 200, 429, 502, 429, 200, 429]
    limited = statuses[1]
    assert limited.headers["ratelimit"] == '"api";r=0;t=3' and limited.headers["retry-after"] == "3"
    assert "q=1000;w=300" in limited.headers["ratelimit-policy"]


def test_dropped_connection_is_a_protocol_error_for_the_client(sample_path):
    with HubServer(ModelCorpus.from_parquet([sample_path]), faults=[parse_fault("drop:times=1,at=0.3")]) as server:
        with pytest.raises(httpx2.RemoteProtocolError):
            httpx2.get(f"{server.url}/api/models", params={"limit": "50"})
        assert httpx2.get(f"{server.url}/api/models", params={"limit": "50"}).status_code == 200


@pytest.mark.parametrize(("spec", "message"), [("teapot", "unknown fault"), ("429:often=2", "bad parameter"), ("5xx:every=0", "every must be")])
def test_bad_fault_specs_say_what_is_accepted(spec, message):
    with pytest.raises(ValueError, match=message):
        parse_fault(spec)


def test_a_limit_above_the_servers_page_size_is_capped_and_the_rest_is_linked(tmp_path):
    # The Hub serves at most its page size: a client must follow Link rather than trust its own `limit`.
    from dominance_pipeline.sources import live

    with HubServer(ModelCorpus(synthetic_models(25)), page_size=10, as_of=dt.datetime(2026, 6, 5, tzinfo=dt.UTC)) as server:
        r = httpx2.get(f"{server.url}/api/models", params={"limit": "100", "sort": "createdAt"})
        assert len(r.json()) == 10 and "next" in r.links
        listing = live.stage_listing(endpoint=server.url, token=None, month=dt.date(2026, 5, 1), stage_dir=tmp_path / "stage", page_size=100)
        assert server.stats.pages_sent == 1 + 3
    got = pl.concat([pl.read_parquet(f) for f in listing.files])["id"]
    assert listing.pages == 3 and got.len() == got.n_unique() == 25


def test_sort_created_at_lists_newest_first_across_pages():
    # The live source's cursor relies on a stable createdAt order: 12 models created in shuffled order, pages of 5.
    created = [dt.datetime(2025, 1, 1) + dt.timedelta(days=d) for d in (5, 1, 9, 3, 11, 0, 7, 2, 10, 4, 8, 6)]
    frame = pl.DataFrame({"id": [f"o/m{i}" for i in range(12)], "createdAt": created}, schema_overrides={"createdAt": pl.Datetime("us")})
    with HubServer(ModelCorpus(frame), page_size=5) as server:
        url, params, seen = f"{server.url}/api/models", {"sort": "createdAt", "expand": "createdAt", "limit": "5"}, []
        while url:
            r = httpx2.get(url, params=params)
            seen += [m["createdAt"] for m in r.json()]
            url, params = r.links.get("next", {}).get("url"), None
    assert seen == [f"{c:%Y-%m-%dT%H:%M:%S}.000Z" for c in sorted(created, reverse=True)]


def test_author_selects_the_namespace_not_every_id_that_starts_with_it():
    frame = pl.DataFrame({"id": ["org1/a", "org10/b", "org1x/c", "org1/d", "other/org1"]})
    with HubServer(ModelCorpus(frame)) as server:
        got = {m.id for m in HfApi(endpoint=server.url, token=False).list_models(author="org1")}
    assert got == {"org1/a", "org1/d"}


def _ids(response) -> list[str]:  # noqa: ANN001
    return [m["id"] for m in response.json()]


def test_a_cursor_fault_on_the_last_page_still_answers_it():
    # 5 models, pages of 3: the second page is the last; an overlap firing there has no next page to move.
    with HubServer(ModelCorpus(synthetic_models(5)), page_size=3, faults=[parse_fault("overlap:rows=1")]) as server:
        first = httpx2.get(f"{server.url}/api/models")
        last = httpx2.get(first.links["next"]["url"])
    assert last.status_code == 200 and len(last.json()) == 3 and "next" not in last.links  # starts 1 row early: rows 2-4


def test_a_looping_cursor_points_back_the_number_of_pages_asked():
    # Pages of 2; the fault fires on the 4th request only (rows 6-7): back=2 links to the previous page (rows 4-5).
    models = synthetic_models(10)
    with HubServer(ModelCorpus(models), page_size=2, faults=[parse_fault("loop:after=3,times=1,back=2")]) as server:
        url, pages = f"{server.url}/api/models?sort=id&direction=1", []
        for _ in range(5):
            r = httpx2.get(url)
            pages.append(_ids(r))
            url = r.links["next"]["url"]
    ordered = sorted(models["id"].to_list())
    assert pages[:4] == [ordered[0:2], ordered[2:4], ordered[4:6], ordered[6:8]]
    assert pages[4] == ordered[4:6]


def test_injected_items_go_first_or_last_as_asked(tmp_path):
    extra = tmp_path / "items.jsonl"
    extra.write_text('{"id": "x/one"}\n\n{"id": "x/two"}\n')
    for at, expected in (("start", ["x/one", "x/two", "a", "b"]), ("end", ["a", "b", "x/one", "x/two"])):
        with HubServer(ModelCorpus(pl.DataFrame({"id": ["a", "b"]})), faults=[parse_fault(f"inject:path={extra},at={at}")]) as server:
            got = httpx2.get(f"{server.url}/api/models", params={"sort": "id", "direction": "1"})
        assert _ids(got) == expected, at


def test_items_injected_into_an_empty_listing_are_valid_json(tmp_path):
    extra = tmp_path / "items.jsonl"
    extra.write_text('{"id": "x/one"}\n{"id": "x/two"}\n')
    with HubServer(faults=[parse_fault(f"inject:path={extra}")]) as server:  # no corpus: an empty listing
        assert _ids(httpx2.get(f"{server.url}/api/models")) == ["x/one", "x/two"]


def test_a_fault_on_an_unknown_route_is_refused_not_silently_idle():
    with pytest.raises(ValueError, match="route must be one of all, commits, info, models, paths-info, resolve, tree"):
        parse_fault("429:route=model")


def test_a_fault_answering_first_sends_its_own_reply_whole():
    # A 429 and a truncated-body fault firing on the same request: the 429's JSON arrives complete.
    faults = [parse_fault("429:retry_after=2"), parse_fault("truncate:at=0.5")]
    with HubServer(ModelCorpus(synthetic_models(5)), faults=faults) as server:
        r = httpx2.get(f"{server.url}/api/models")
    assert r.status_code == 429 and "Retry after 2 seconds" in r.json()["error"]


def test_a_revision_is_found_by_a_seven_character_sha_but_not_a_shorter_one(repos_server):
    server, _ = repos_server
    api = HfApi(endpoint=server.url, token=False)
    (newest, *_) = api.list_repo_commits("cfahlgren1/hub-stats", repo_type="dataset")
    base = f"{server.url}/api/datasets/cfahlgren1/hub-stats/revision"
    assert httpx2.get(f"{base}/{newest.commit_id[:7]}").json()["sha"] == newest.commit_id
    assert httpx2.get(f"{base}/{newest.commit_id[:6]}").headers["x-error-code"] == "RevisionNotFound"


def test_a_folder_that_does_not_exist_is_entry_not_found(repos_server):
    server, _ = repos_server
    r = httpx2.get(f"{server.url}/api/datasets/hfmlsoc/hub_weekly_snapshots/tree/main/models/2026-05-12")
    assert r.status_code == 404 and r.headers["x-error-code"] == "EntryNotFound"
    fs = HfFileSystem(endpoint=server.url, token=False, skip_instance_cache=True)
    assert not fs.exists("datasets/hfmlsoc/hub_weekly_snapshots/models/2026-05-12")


def test_a_path_that_only_starts_a_folder_name_has_no_paths_info(repos_server):
    server, _ = repos_server
    api = HfApi(endpoint=server.url, token=False)
    got = api.get_paths_info("hfmlsoc/hub_weekly_snapshots", ["models/2026-05-1", "models/2026-05-11"], repo_type="dataset")
    assert [(type(i).__name__, i.path) for i in got] == [("RepoFolder", "models/2026-05-11")]


def test_a_recursive_tree_lists_every_folder_on_the_way_to_each_file(repos_server):
    server, _ = repos_server
    r = httpx2.get(f"{server.url}/api/datasets/hfmlsoc/hub_weekly_snapshots/tree/main", params={"recursive": "true"})
    assert sorted((e["type"], e["path"]) for e in r.json()) == [
        ("directory", "models"),
        ("directory", "models/2026-05-11"),
        ("directory", "models/2026-05-18"),
        ("file", "models/2026-05-11/models.parquet"),
        ("file", "models/2026-05-18/models.parquet"),
    ]
    flat = httpx2.get(f"{server.url}/api/datasets/hfmlsoc/hub_weekly_snapshots/tree/main")
    assert [(e["type"], e["path"]) for e in flat.json()] == [("directory", "models")]


def test_ranges_past_the_end_are_clamped_or_refused_like_http_says(repos_server):
    server, tmp = repos_server
    url = f"{server.url}/datasets/cfahlgren1/hub-stats/resolve/main/models.parquet"
    whole = (tmp / "d2.parquet").read_bytes()
    size = len(whole)
    tail = httpx2.get(url, headers={"Range": f"bytes={size - 3}-{size + 100}"})  # a last byte past the end: clamped
    assert tail.status_code == 206 and tail.content == whole[-3:] and tail.headers["content-range"] == f"bytes {size - 3}-{size - 1}/{size}"
    longer = httpx2.get(url, headers={"Range": f"bytes=-{size + 100}"})  # a suffix longer than the file: all of it
    assert longer.status_code == 206 and longer.content == whole
    beyond = httpx2.get(url, headers={"Range": f"bytes={size}-"})  # starts at the end: nothing to send
    assert beyond.status_code == 416 and beyond.headers["content-range"] == f"bytes */{size}" and beyond.content == b""


def test_a_range_too_large_to_buffer_is_streamed_from_its_start(repos_server, monkeypatch):
    from dominance_pipeline.hubserver import server as hubserver

    monkeypatch.setattr(hubserver, "MAX_BUFFERED_RANGE", 16)
    monkeypatch.setattr(hubserver, "CHUNK", 7)
    server, tmp = repos_server
    whole = (tmp / "d2.parquet").read_bytes()
    before = sum(server.stats.file_bytes.values())
    r = httpx2.get(f"{server.url}/datasets/cfahlgren1/hub-stats/resolve/main/models.parquet", headers={"Range": "bytes=10-59"})
    assert r.status_code == 206 and r.content == whole[10:60]
    assert sum(server.stats.file_bytes.values()) - before == 50


def test_head_of_a_missing_file_sends_no_body_and_keeps_the_connection_usable(repos_server):
    server, _ = repos_server
    url = f"{server.url}/datasets/cfahlgren1/hub-stats/resolve/main/models.parquet"
    with httpx2.Client() as client:  # one keep-alive connection: a body after HEAD would be read as the next answer
        missing = client.head(f"{server.url}/datasets/cfahlgren1/hub-stats/resolve/main/nothere.parquet")
        assert missing.status_code == 404 and missing.headers["x-error-code"] == "EntryNotFound" and missing.content == b""
        assert client.get(url, headers={"Range": "bytes=0-3"}).content == b"PAR1"


def test_head_of_a_file_gives_its_size_so_hf_hub_download_fetches_all_of_it(repos_server, tmp_path):
    # PRODUCT BUG (fails before fix.patch): HEAD answered Content-Length: 0, so the client's file metadata
    # said size 0 and hf_hub_download saved an empty file.
    from huggingface_hub import get_hf_file_metadata, hf_hub_download, hf_hub_url

    server, tmp = repos_server
    whole = (tmp / "d2.parquet").read_bytes()
    head = httpx2.head(f"{server.url}/datasets/cfahlgren1/hub-stats/resolve/main/models.parquet")
    assert head.status_code == 200 and head.headers["content-length"] == str(len(whole)) and head.content == b""
    url = hf_hub_url("cfahlgren1/hub-stats", "models.parquet", repo_type="dataset", endpoint=server.url)
    assert get_hf_file_metadata(url, token=False).size == len(whole)
    path = hf_hub_download("cfahlgren1/hub-stats", "models.parquet", repo_type="dataset", endpoint=server.url, token=False, cache_dir=tmp_path)
    assert open(path, "rb").read() == whole


def test_a_history_longer_than_a_page_of_commits_is_listed_whole(tmp_path):
    # The Hub pages commits 50 at a time (Link: rel="next"); 120 daily uploads are 3 pages.
    local = write(pl.DataFrame({"id": ["a/b"]}), tmp_path / "m.parquet")
    days = [dt.datetime(2026, 1, 1, 13, tzinfo=dt.UTC) + dt.timedelta(days=d) for d in range(120)]
    with HubServer(repos=[daily_repo([(d, local) for d in days])]) as server:
        commits = HfApi(endpoint=server.url, token=False).list_repo_commits("cfahlgren1/hub-stats", repo_type="dataset")
        assert server.stats.requests["commits"] == 3
    assert [c.created_at for c in commits] == sorted(days, reverse=True)


def test_a_fault_on_the_tree_route_hits_tree_listings_only(repos_server):
    server, _ = repos_server
    base = f"{server.url}/api/datasets/hfmlsoc/hub_weekly_snapshots"
    server.faults.append(parse_fault("5xx:route=tree,burst=1,times=1,status=500"))
    try:
        assert httpx2.get(f"{base}/revision/main").status_code == 200  # repo info is another route
        assert [httpx2.get(f"{base}/tree/main/models").status_code for _ in range(2)] == [500, 200]
    finally:
        server.faults.clear()


def test_search_is_a_case_insensitive_literal_substring_of_the_id():
    frame = pl.DataFrame({"id": ["Org/Qwen-7B", "org/qwen2", "x/other", "a/v1.5-model", "a/v1x5-model", "a/qwen+plus"]})
    with HubServer(ModelCorpus(frame)) as server:
        api = HfApi(endpoint=server.url, token=False)
        found = {q: {m.id for m in api.list_models(search=q)} for q in ("QWEN", "v1.5", "qwen+")}
    assert found == {"QWEN": {"Org/Qwen-7B", "org/qwen2", "a/qwen+plus"}, "v1.5": {"a/v1.5-model"}, "qwen+": {"a/qwen+plus"}}


def test_filter_keeps_models_with_every_tag_and_pipeline_tag_narrows_further():
    frame = pl.DataFrame(
        {
            "id": ["a/1", "a/2", "a/3", "a/4"],
            "tags": [["gguf", "text"], ["gguf"], ["text"], ["gguf", "text"]],
            "pipeline_tag": ["text-generation", "text-generation", "image-to-text", "image-to-text"],
        }
    )
    with HubServer(ModelCorpus(frame)) as server:
        api = HfApi(endpoint=server.url, token=False)
        assert {m.id for m in api.list_models(filter=["gguf", "text"])} == {"a/1", "a/4"}
        assert {m.id for m in api.list_models(filter="text")} == {"a/1", "a/3", "a/4"}
        assert {m.id for m in api.list_models(pipeline_tag="text-generation")} == {"a/1", "a/2"}
        assert {m.id for m in api.list_models(filter=["gguf", "text"], pipeline_tag="image-to-text")} == {"a/4"}
    # A corpus without a tags column has no model with any tag.
    with HubServer(ModelCorpus(frame.drop("tags"))) as server:
        assert list(HfApi(endpoint=server.url, token=False).list_models(filter="gguf")) == []


def test_a_cursor_with_a_negative_offset_is_refused_not_read_from_the_end(sample_server):
    import base64

    r = httpx2.get(f"{sample_server.url}/api/models", params={"limit": "5", "sort": "likes"})
    cursor = dict(parse_qsl(urlsplit(r.links["next"]["url"]).query))["cursor"]
    offset, rest = base64.urlsafe_b64decode(cursor).decode().split(":", 1)
    assert offset == "5"
    forged = base64.urlsafe_b64encode(f"-2:{rest}".encode()).decode()
    bad = httpx2.get(f"{sample_server.url}/api/models", params={"limit": "5", "sort": "likes", "cursor": forged})
    assert bad.status_code == 400 and "Invalid cursor" in bad.json()["error"]


def test_models_without_a_value_for_the_sort_key_come_last_in_either_direction():
    frame = pl.DataFrame({"id": ["o/none1", "o/five", "o/none2", "o/nine", "o/one"], "downloads": [None, 5, None, 9, 1]})
    with HubServer(ModelCorpus(frame)) as server:
        url = f"{server.url}/api/models"
        down = httpx2.get(url, params={"sort": "downloads", "expand": "downloads"})
        up = httpx2.get(url, params={"sort": "downloads", "direction": "1", "expand": "downloads"})
    assert _ids(down) == ["o/nine", "o/five", "o/one", "o/none1", "o/none2"]
    assert _ids(up) == ["o/one", "o/five", "o/nine", "o/none1", "o/none2"]
    assert "downloads" not in down.json()[-1]  # unknown: the key is left out, not sent as null


def test_a_cursor_is_refused_by_a_query_that_differs_only_in_its_filters(sample_server):
    url = f"{sample_server.url}/api/models"
    base = {"limit": "2", "sort": "downloads", "search": "qwen"}
    cursor = dict(parse_qsl(urlsplit(httpx2.get(url, params=base).links["next"]["url"]).query))["cursor"]
    assert httpx2.get(url, params={**base, "cursor": cursor}).status_code == 200
    for change in ({"search": "llama"}, {"author": "Qwen"}, {"direction": "1"}, {"filter": "gguf"}, {"pipeline_tag": "text-generation"}):
        assert httpx2.get(url, params={**base, **change, "cursor": cursor}).status_code == 400, change


@pytest.mark.parametrize(
    ("params", "message"),
    [({"sort": "stars"}, 'Invalid sort "stars"'), ({"limit": "0"}, "limit must be a positive integer"), ({"limit": "-5"}, "limit must be a positive integer"), ({"limit": "ten"}, 'Invalid limit "ten"')],
)
def test_a_bad_sort_or_limit_is_a_400_naming_it(sample_server, params, message):
    r = httpx2.get(f"{sample_server.url}/api/models", params=params)
    assert r.status_code == 400 and message in r.json()["error"]


def test_private_is_false_by_default_when_the_snapshot_has_no_private_column():
    # Hub-stats files carry no `private`; the Hub's default listing always says "private": false.
    with HubServer(ModelCorpus(pl.DataFrame({"id": ["a/x", "b/y"], "downloads": [1, 2]}))) as server:
        url = f"{server.url}/api/models"
        assert [m["private"] for m in httpx2.get(url).json()] == [False, False]
        assert [m["private"] for m in httpx2.get(url, params={"expand": "private"}).json()] == [False, False]
        assert all("private" not in m for m in httpx2.get(url, params={"expand": "downloads"}).json())


def test_timestamps_keep_their_milliseconds_and_are_sent_in_utc():
    naive = dt.datetime(2025, 3, 4, 5, 6, 7, 891_000)
    paris = dt.datetime(2025, 3, 4, 6, 6, 7, 891_000, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    frame = pl.DataFrame(
        {"id": ["a/naive"], "createdAt": [naive], "lastModified": [paris]},
        schema_overrides={"createdAt": pl.Datetime("us"), "lastModified": pl.Datetime("us", "Europe/Paris")},
    )
    with HubServer(ModelCorpus(frame)) as server:
        (item,) = httpx2.get(f"{server.url}/api/models", params=[("expand", "createdAt"), ("expand", "lastModified")]).json()
    # 06:06 in Paris in March (UTC+1) is 05:06 UTC; a naive time is taken as UTC.
    assert (item["createdAt"], item["lastModified"]) == ("2025-03-04T05:06:07.891Z", "2025-03-04T05:06:07.891Z")


def test_json_text_columns_are_sent_as_json_and_an_empty_text_is_left_out():
    frame = pl.DataFrame({"id": ["a/card", "a/empty", "a/null"], "cardData": ['{"license": "mit"}', "", None]})
    with HubServer(ModelCorpus(frame)) as server:
        r = httpx2.get(f"{server.url}/api/models", params={"expand": "cardData"})
    assert r.status_code == 200
    without_ids = [{k: v for k, v in m.items() if k != "_id"} for m in r.json()]
    assert without_ids == [{"id": "a/card", "cardData": {"license": "mit"}}, {"id": "a/empty"}, {"id": "a/null"}]


def test_gated_text_is_sent_as_the_hubs_false_or_its_mode():
    frame = pl.DataFrame({"id": ["a/open", "a/auto", "a/manual", "a/yes"], "gated": ["false", "auto", "manual", "true"]})
    with HubServer(ModelCorpus(frame)) as server:
        got = [m["gated"] for m in httpx2.get(f"{server.url}/api/models", params={"expand": "gated"}).json()]
    assert got == [False, "auto", "manual", True]


def test_safetensors_lists_only_the_dtypes_a_model_has():
    # A Parquet struct has a field for every dtype in the file: null where a model has none of it.
    frame = pl.DataFrame(
        {"id": ["a/bf16", "a/both"], "safetensors": [{"parameters": {"BF16": 8, "F32": None}, "total": 8}, {"parameters": {"BF16": 2, "F32": 3}, "total": 5}]}
    )
    with HubServer(ModelCorpus(frame)) as server:
        got = [m["safetensors"] for m in httpx2.get(f"{server.url}/api/models", params={"expand": "safetensors"}).json()]
        infos = list(HfApi(endpoint=server.url, token=False).list_models(expand=["safetensors"]))
    assert got == [{"parameters": {"BF16": 8}, "total": 8}, {"parameters": {"BF16": 2, "F32": 3}, "total": 5}]
    assert [(i.safetensors.parameters, i.safetensors.total) for i in infos] == [({"BF16": 8}, 8), ({"BF16": 2, "F32": 3}, 5)]


def test_a_corpus_from_several_files_with_different_columns_lists_them_all_in_file_order(tmp_path):
    first = write(pl.DataFrame({"id": ["a/1", "a/2"], "likes": [3, 4], "extra": ["x", "y"]}), tmp_path / "one.parquet")
    second = write(pl.DataFrame({"id": ["b/1"], "downloads": [7]}), tmp_path / "two.parquet")
    corpus = ModelCorpus.from_parquet([first, second])
    assert "extra" not in corpus.frame.columns  # only what the API can serve is read
    with HubServer(corpus) as server:  # no trendingScore column: the default sort keeps the files' order
        got = httpx2.get(f"{server.url}/api/models", params=[("expand", "likes"), ("expand", "downloads")]).json()
    assert [{k: v for k, v in m.items() if k != "_id"} for m in got] == [
        {"id": "a/1", "likes": 3}, {"id": "a/2", "likes": 4}, {"id": "b/1", "downloads": 7}
    ]
    assert len({m["_id"] for m in got}) == 3


def test_the_next_link_is_built_on_the_host_the_client_used_and_carries_one_cursor(sample_server):
    # Behind a proxy or a port mapping the client's Host is not the server's own address: links must follow it.
    first = httpx2.get(f"{sample_server.url}/api/models", params={"limit": "3", "search": "qwen"}, headers={"Host": "hub.example:8443"})
    nxt = first.links["next"]["url"]
    assert nxt.startswith("http://hub.example:8443/api/models?")
    second = httpx2.get(f"{sample_server.url}/api/models?{urlsplit(nxt).query}")
    query = parse_qsl(urlsplit(second.links["next"]["url"]).query)
    assert [k for k, _ in query] == ["limit", "search", "cursor"] and dict(query)["search"] == "qwen"
    assert set(_ids(first)).isdisjoint(_ids(second))


def test_timestamps_stored_as_text_are_parsed_and_an_unreadable_one_is_left_out():
    frame = pl.DataFrame({"id": ["a/text", "a/garbage", "a/none"], "createdAt": ["2025-01-02T03:04:05.678Z", "last tuesday", None]})
    with HubServer(ModelCorpus(frame)) as server:
        got = httpx2.get(f"{server.url}/api/models", params={"expand": "createdAt"}).json()
    assert [m.get("createdAt") for m in got] == ["2025-01-02T03:04:05.678Z", None, None]
    assert ["createdAt" in m for m in got] == [True, False, False]


def test_without_sort_the_listing_is_by_trending_score_highest_first():
    frame = pl.DataFrame({"id": ["o/a", "o/b", "o/c"], "trendingScore": [1.0, 3.0, 2.0], "downloads": [9, 1, 5]})
    with HubServer(ModelCorpus(frame)) as server:
        assert _ids(httpx2.get(f"{server.url}/api/models")) == ["o/b", "o/c", "o/a"]
        assert [m.id for m in HfApi(endpoint=server.url, token=False).list_models()] == ["o/b", "o/c", "o/a"]
