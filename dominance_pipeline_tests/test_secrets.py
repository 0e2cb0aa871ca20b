"""The user's Hub token is used (the server sees it) and leaks nowhere: not in the run's event log, asset
metadata, Parquet, DuckDB, exceptions, stdout or stderr, through a successful run and a failing one; and
the local servers bind 127.0.0.1."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import duckdb
import httpx2
import polars as pl
import pyarrow.parquet as pq

from dominance_pipeline.hubserver import HubServer
from dominance_pipeline.hubserver.faults import parse_fault
from dominance_pipeline.hubserver.models import ModelCorpus
from dominance_pipeline.settings import PROJECT_ROOT
from dominance_pipeline_tests.test_cli import CLI

JUNE_5 = dt.datetime(2026, 6, 5, tzinfo=dt.UTC)


def forms(token: str) -> list[bytes]:
    """The token as bytes, and base64-encoded at each of the three alignments it could fall on."""
    raw = token.encode()
    return [raw] + [base64.b64encode(b"x" * pad + raw)[4 * ((pad + 2) // 3):-4] for pad in range(3)]


def leaks(root: Path, token: str) -> list[str]:
    """Every file under `root` whose bytes, or (for Parquet) whose decoded values, hold the token."""
    found = []
    needles = forms(token)
    for path in root.rglob("*"):
        if not path.is_file():
            continue
        data = path.read_bytes()
        if any(n in data for n in needles):
            found.append(str(path))
        elif data[:4] == b"PAR1" and path.suffix in (".parquet", ".tmp", ""):
            text = pl.read_parquet(path).write_ndjson() + str(pq.read_metadata(path).metadata)
            if token in text:
                found.append(f"{path} (decoded)")
    return found


def test_the_token_is_sent_to_the_hub_and_kept_out_of_everything_else(tmp_path, sample_path):
    token = "hf_canary" + secrets.token_hex(16)
    env = {**os.environ, "HF_TOKEN": token, "DOMINANCE_DATA_DIR": str(tmp_path / "data"), "DAGSTER_HOME": str(tmp_path / "home")}
    outputs = []
    with HubServer(ModelCorpus.from_parquet([sample_path]), as_of=JUNE_5, page_size=1000) as server:
        # A good month, then one the Hub refuses half-way (401: the token expired), where an error message
        # quoting the request would show the token.
        for faults in ([], [parse_fault("5xx:after=2,burst=1,times=1,status=401")]):
            server.faults[:] = faults
            proc = subprocess.run([*CLI, "materialize", "--month", "2026-05", "--source", "live", "--endpoint", server.url],
                                  capture_output=True, text=True, env=env, cwd=PROJECT_ROOT, timeout=600)
            outputs.append(proc)
        # The server never echoes it, on a good answer, an error or an injected fault.
        server.faults[:] = [parse_fault("429:times=1")]
        for path in ("/api/models", "/api/models?limit=1&expand=author", "/no/such/route"):
            r = httpx2.get(server.url + path, headers={"Authorization": f"Bearer {token}"})
            assert token not in r.text and token not in str(r.headers)
        assert server.stats.authorized >= 5 + 3 + 3
        assert server.stats.token_sha256 == {hashlib.sha256(token.encode()).hexdigest()}  # the client signed in with it

    good, bad = outputs
    assert good.returncode == 0, good.stderr[-3000:]
    assert bad.returncode == 1 and "FAILED raw_hub_listings: page 3 of the model listing: the Hub answered 401 Unauthorized (fake Hub: injected 401); nothing was published" in bad.stderr
    for proc in outputs:
        assert token not in proc.stdout and token not in proc.stderr
    assert (tmp_path / "home" / "history" / "runs.db").is_file() and list((tmp_path / "data" / "warehouse").rglob("*.parquet"))
    assert leaks(tmp_path, token) == []
    with duckdb.connect(str(tmp_path / "data" / "warehouse" / "dominance.duckdb"), read_only=True) as con:
        assert all(token not in sql for (sql,) in con.execute("SELECT sql FROM duckdb_views() WHERE NOT internal").fetchall())


def test_leaks_finds_a_planted_token(tmp_path):
    token = "hf_canary" + secrets.token_hex(16)
    (tmp_path / "a.log").write_text(f"Authorization: Bearer {base64.b64encode(token.encode()).decode()}")
    pl.DataFrame({"x": [token]}).write_parquet(tmp_path / "b.parquet", compression="zstd")
    (tmp_path / "c.txt").write_text("nothing here")
    assert sorted(Path(p.split(" ")[0]).name for p in leaks(tmp_path, token)) == ["a.log", "b.parquet"]


def test_local_servers_bind_the_loopback_address():
    dry = subprocess.run(["make", "-n", "ui"], capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=60)
    assert dry.returncode == 0, dry.stderr
    (line,) = [x for x in dry.stdout.splitlines() if re.search(r"dagster(-webserver)? dev|dagster-webserver|dg dev", x)]
    assert re.search(r"(-h|--host)[ =]127\.0\.0\.1(\s|$)", line), line
    assert "0.0.0.0" not in dry.stdout
    from dominance_pipeline.cli import build_parser

    assert build_parser().parse_args(["hub-server"]).host == "127.0.0.1"
    assert sys.executable  # the parser above is the installed CLI's


def test_the_code_location_shows_the_tokens_variable_not_its_value(tmp_path, monkeypatch):
    # What the UI reads of the code location (resources and their config): HF_TOKEN by name only.
    from dagster._core.remote_representation.external_data import RepositorySnap
    from dagster_shared.serdes import serialize_value

    from dominance_pipeline.definitions import build_definitions

    token = "hf_canary" + secrets.token_hex(16)
    monkeypatch.setenv("HF_TOKEN", token)
    snap = serialize_value(RepositorySnap.from_def(build_definitions(tmp_path).get_repository_def()))
    assert token not in snap
    assert '"HF_TOKEN"' in snap
