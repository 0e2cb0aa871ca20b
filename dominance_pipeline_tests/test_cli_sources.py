"""`materialize --source live|archive` and `hub-server`, run as a user would: subprocesses and real HTTP."""

from __future__ import annotations

import datetime as dt
import os
import re
import signal
import subprocess
import time

import httpx2
import pytest
from huggingface_hub import HfApi

from dominance_pipeline.hubserver import HubServer
from dominance_pipeline.hubserver.models import ModelCorpus
from dominance_pipeline.settings import PROJECT_ROOT
from dominance_pipeline_tests.test_cli import CLI, run_cli


def test_live_month_from_the_command_line(tmp_path, sample_path):
    with HubServer(ModelCorpus.from_parquet([sample_path]), as_of=dt.datetime(2026, 6, 5, tzinfo=dt.UTC)) as server:
        proc = run_cli(tmp_path, "materialize", "--month", "2026-05", "--source", "live", "--endpoint", server.url)
    assert proc.returncode == 0, proc.stderr
    assert "Dominance indices for 2026-05" in proc.stdout
    assert "live listing: page 5, 4,167 models" in proc.stderr


def test_a_refused_live_month_names_the_step_and_the_archive(tmp_path, sample_path):
    with HubServer(ModelCorpus.from_parquet([sample_path])) as server:  # the real clock: months after 2026-05
        proc = run_cli(tmp_path, "materialize", "--month", "2026-05", "--source", "live", "--endpoint", server.url, "--quiet")
    assert proc.returncode == 1
    assert "FAILED raw_hub_listings: a live listing taken" in proc.stderr and "use the archive source" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--source", "live", "--snapshot", "x.parquet"], "--snapshot is for the local source"),
        (["--max-snapshot-lag-days", "3"], "--max-snapshot-lag-days is for the live source"),
        (["--source", "live", "--max-snapshot-lag-days", "-1"], "must be 0 or more"),
        (["--endpoint", "http://127.0.0.1:1"], "--endpoint is for the live and archive sources"),
        (["--source", "archive", "--endpoint", "127.0.0.1:1"], "must be an http(s) URL"),
    ],
)
def test_options_that_do_not_fit_the_source_are_usage_errors(tmp_path, args, message):
    proc = run_cli(tmp_path, "materialize", "--month", "2026-05", *args)
    assert proc.returncode == 2 and message in proc.stderr


def test_hub_server_command_serves_until_terminated(tmp_path, sample_path):
    ready = tmp_path / "url"
    proc = subprocess.Popen(
        [*CLI, "hub-server", "--snapshot", str(sample_path), "--ready-file", str(ready), "--fault", "slow:delay=0.01"],
        cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not ready.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        url = ready.read_text().strip()
        assert len(list(HfApi(endpoint=url, token=False).list_models(search="Qwen/Qwen3"))) > 5
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0
    assert f"fake Hub on {url}: 4,167 models" in out and "fake Hub stopped: 1 pages" in err


def test_hub_server_rejects_a_bad_fault(tmp_path):
    proc = subprocess.run([*CLI, "hub-server", "--fault", "teapot"], capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=120)
    assert proc.returncode == 2 and "unknown fault 'teapot'" in proc.stderr


def test_hub_server_rejects_a_port_out_of_range_in_one_line():
    proc = subprocess.run([*CLI, "hub-server", "--port", "99999"], capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=120)
    assert proc.returncode == 2 and "cannot listen on 127.0.0.1:99999" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--snapshot", "{csv}"), "--snapshot {csv} is not a readable hub-stats Parquet file: Parquet magic bytes not found"),
        (("--snapshot", "{sample}", "--ready-file", "{tmp}/no/such/folder/ready"), "--ready-file {tmp}/no/such/folder/ready: its folder does not exist"),
    ],
    ids=["not-parquet", "ready-file-folder"],
)
def test_hub_server_input_mistakes_are_one_line_not_a_traceback(tmp_path, sample_path, args, message):
    csv = tmp_path / "models.parquet"
    csv.write_text("id,downloads\na/b,1\n")  # a CSV renamed
    fill = {"csv": str(csv), "sample": str(sample_path), "tmp": str(tmp_path)}
    proc = subprocess.run([*CLI, "hub-server", "--port", "0", *(a.format(**fill) for a in args)],
                          capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=120)
    assert proc.returncode == 2 and message.format(**fill) in proc.stderr and "Traceback" not in proc.stderr, proc.stderr


def test_ctrl_c_during_a_live_month_reports_it_interrupted_with_status_130(tmp_path, sample_path):
    from dominance_pipeline.hubserver.faults import parse_fault

    slow = parse_fault("slow:delay=3")  # five pages, 3 s each: the signal lands inside the listing
    with HubServer(ModelCorpus.from_parquet([sample_path]), faults=[slow], as_of=dt.datetime(2026, 6, 5, tzinfo=dt.UTC)) as server:
        env = {**os.environ, "DOMINANCE_DATA_DIR": str(tmp_path / "data"), "DAGSTER_HOME": str(tmp_path / "home")}
        proc = subprocess.Popen(
            [*CLI, "materialize", "--month", "2026-05", "--source", "live", "--endpoint", server.url],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=PROJECT_ROOT,
        )
        try:
            deadline = time.monotonic() + 120
            while slow.fired < 2 and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.1)
            proc.send_signal(signal.SIGINT)
            out, err = proc.communicate(timeout=120)
        finally:
            proc.kill()
    assert proc.returncode == 130, err
    assert "INTERRUPTED raw_hub_listings: interrupted (Ctrl-C or a stop signal) before the month was finished; run the month again" in err
    assert re.search(r"^run \S+ interrupted; details: make ui, then Runs$", err, re.M), err
    assert "InterruptedError" not in out + err and "FAILED" not in err


def test_the_hub_is_the_endpoint_flag_then_hf_endpoint_then_huggingface_co(monkeypatch):
    from dominance_pipeline.defs.resources import hub_api_resource

    monkeypatch.setenv("HF_ENDPOINT", "http://mirror.invalid:8080/")
    assert hub_api_resource("http://127.0.0.1:9/").base_url == "http://127.0.0.1:9"  # --endpoint, without its slash
    assert hub_api_resource().base_url == "http://mirror.invalid:8080"
    monkeypatch.delenv("HF_ENDPOINT")
    assert hub_api_resource().base_url == "https://huggingface.co"


def hub_server(*argv: str):  # -> HubServer, bound but not started
    from dominance_pipeline.cli import build_parser
    from dominance_pipeline.cli.hub_server import build_server

    return build_server(build_parser().parse_args(["hub-server", *argv]))


def test_hub_server_serves_both_snapshot_datasets_at_the_dates_given(tmp_path, sample_path):
    with hub_server("--weekly-snapshot", f"2026-05-25={sample_path}", "--daily-snapshot", f"2026-05-31T13:00:00Z={sample_path}",
                    "--as-of", "2026-06-05") as server:
        api = HfApi(endpoint=server.url, token=False)
        weekly = api.list_repo_tree("hfmlsoc/hub_weekly_snapshots", "models", repo_type="dataset")
        assert [f.path for f in weekly] == ["models/2026-05-25"]
        (commit,) = api.list_repo_commits("hfmlsoc/hub_weekly_snapshots", repo_type="dataset")
        assert commit.created_at == dt.datetime(2026, 6, 1, tzinfo=dt.UTC)  # the week's data is complete a week later
        (daily,) = api.list_repo_commits("cfahlgren1/hub-stats", repo_type="dataset")
        assert daily.created_at == dt.datetime(2026, 5, 31, 13, tzinfo=dt.UTC)
        assert httpx2.get(f"{server.url}/api/models").headers["date"] == "Fri, 05 Jun 2026 00:00:00 GMT"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--page-size", "0"), "--page-size must be at least 1"),
        (("--weekly-snapshot", "2026-05-25={tmp}/missing.parquet"), "--weekly-snapshot wants DATE=FILE with an existing file, got '2026-05-25={tmp}/missing.parquet'"),
        (("--daily-snapshot", "{sample}"), "--daily-snapshot wants DATE=FILE with an existing file"),
        (("--weekly-snapshot", "2026-05-25T10:00={sample}"), "Invalid isoformat string: '2026-05-25T10:00'"),
    ],
    ids=["page-size-0", "missing-weekly-file", "no-date", "weekly-date-with-a-time"],
)
def test_hub_server_option_mistakes_are_user_errors(tmp_path, sample_path, args, message):
    from dominance_pipeline.cli.errors import UserError

    fill = {"tmp": str(tmp_path), "sample": str(sample_path)}
    with pytest.raises(UserError) as err:
        hub_server(*(a.format(**fill) for a in args))
    assert message.format(**fill) in str(err.value)


def test_a_snapshot_lag_of_zero_days_is_passed_to_the_run_not_dropped(monkeypatch):
    import argparse

    from dominance_pipeline.cli.materialize import raw_config

    monkeypatch.delenv("HF_ENDPOINT", raising=False)
    args = argparse.Namespace(source="live", snapshot=None, endpoint=None, max_snapshot_lag_days=0)
    assert raw_config(args) == {"source": "live", "max_snapshot_lag_days": 0}  # 0: the listing must be taken on the month end
