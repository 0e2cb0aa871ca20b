"""User mistakes end in one line naming what is wrong and where, with no traceback: on the command line
(exit status 2, before any run starts) and inside a Dagster run (the step's failure, as the CLI and the UI
report it)."""

from __future__ import annotations

import re
import shutil

import pytest

from dominance_pipeline.cli import main
from dominance_pipeline.cli.materialize import failures
from dominance_pipeline.origin.registry import REGISTRY_PATH
from dominance_pipeline.quality.config import THRESHOLDS_PATH
from dominance_pipeline_tests.conftest import run_month
from dominance_pipeline_tests.test_cli import run_cli


def broken_registry(tmp_path, how: str):  # noqa: ANN001
    path = tmp_path / "registry.csv"
    lines = REGISTRY_PATH.read_bytes().splitlines(keepends=True)
    if how == "country":  # line 5 names a country that does not exist
        lines[4] = re.sub(rb",(CN|US|FR|DE|GB|INTL|KR|JP|IL|CA|AE|SG|IN|CH|NL),", b",XX,", lines[4], count=1)
        assert b",XX," in lines[4]
    elif how == "encoding":
        lines[7] = lines[7].replace(b",", b",\xe9", 1)
    path.write_bytes(b"".join(lines))
    return path


def broken_thresholds(tmp_path, how: str):  # noqa: ANN001
    text = THRESHOLDS_PATH.read_text()
    if how == "value":
        text = text.replace("max_shrink: 0.03", "max_shrink: 3")
    elif how == "yaml":
        text = text.replace("max_shrink: 0.03", "max_shrink: [0.03")
    path = tmp_path / "thresholds.yaml"
    path.write_text(text)
    return path


CASES = [
    # (what is broken, how to break it, what the one line must say)
    ("registry", "country", r"^dominance-pipeline materialize: error: org registry .*/registry\.csv:5: .*'XX'"),
    ("registry", "encoding", r"^dominance-pipeline materialize: error: org registry .*/registry\.csv:8: not UTF-8 text \(byte 0xe9\); save the file as UTF-8$"),
    ("thresholds", "value", r"^dominance-pipeline materialize: error: invalid thresholds .*/thresholds\.yaml: raw_hub_listings\.max_shrink: Input should be less than or equal to 1$"),
    ("thresholds", "yaml", r"^dominance-pipeline materialize: error: cannot read thresholds .*/thresholds\.yaml:\d+:\d+: not valid YAML \(.+\)$"),
    ("month", "2026/05", r"^dominance-pipeline materialize: error: month must look like YYYY-MM \(for example 2026-05\), got '2026/05'$"),
    ("lag", "-2", r"^dominance-pipeline materialize: error: --max-snapshot-lag-days must be 0 or more$"),
    ("dagster_home", "a file", r"^dominance-pipeline materialize: error: DAGSTER_HOME .*/home cannot hold the Dagster instance: File exists$"),
    # A run started, then failed at the raw step with "[Errno 20] Not a directory" (exit 1).
    # A run started and failed at the raw step: "Request URL is missing an 'http://' or 'https://' protocol".
    ("hf_endpoint", "garbage", r"^dominance-pipeline materialize: error: HF_ENDPOINT must be an http\(s\) URL, got 'garbage'$"),
    ("data_dir", "a file", r"^dominance-pipeline materialize: error: the warehouse .*/data/warehouse \(DOMINANCE_DATA_DIR=.*/data\) cannot be written: Not a directory \(.*/data is in the way\)$"),
    # The data dir is fine, the warehouse in it is a file: said the same way, without an "in the way" hint.
    ("warehouse", "a file", r"^dominance-pipeline materialize: error: the warehouse .*/data/warehouse \(DOMINANCE_DATA_DIR=.*/data\) cannot be written: Not a directory$"),
    # A mistyped --endpoint is named as the flag, not as the variable.
    ("endpoint", "garbage", r"^dominance-pipeline materialize: error: --endpoint must be an http\(s\) URL, got 'garbage'$"),
    # An edited dagster.yaml Dagster refuses: named, with Dagster's first line, instead of its traceback.
    ("dagster_yaml", "misspelt", r"^dominance-pipeline materialize: error: the Dagster instance in .*/home cannot be opened \(check its dagster\.yaml\): Errors whilst loading dagster instance config at dagster\.yaml\.$"),
]


@pytest.mark.parametrize(("what", "how", "line"), CASES, ids=[f"{c[0]}-{c[1]}" for c in CASES])
def test_user_mistakes_on_the_command_line_are_one_line(tmp_path, monkeypatch, capsys, what, how, line):
    monkeypatch.setenv("DOMINANCE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    args = ["materialize", "--month", "2026-05"]
    if what == "registry":
        monkeypatch.setenv("DOMINANCE_REGISTRY", str(broken_registry(tmp_path, how)))
    elif what == "thresholds":
        monkeypatch.setenv("DOMINANCE_THRESHOLDS", str(broken_thresholds(tmp_path, how)))
    elif what == "month":
        args = ["materialize", "--month", how]
    elif what == "lag":
        args += ["--source", "live", "--max-snapshot-lag-days", how]
    elif what == "dagster_home":
        (tmp_path / "home").write_text("not a folder")
    elif what == "hf_endpoint":
        monkeypatch.setenv("HF_ENDPOINT", how)
        args += ["--source", "archive"]
    elif what == "data_dir":
        (tmp_path / "data").write_text("not a folder")
    elif what == "warehouse":
        (tmp_path / "data").mkdir()
        (tmp_path / "data" / "warehouse").write_text("not a folder")
    elif what == "endpoint":
        args += ["--source", "live", "--endpoint", how]
    elif what == "dagster_yaml":
        (tmp_path / "home").mkdir()
        (tmp_path / "home" / "dagster.yaml").write_text("storage:\n  sqlite:\n    base_dirr: /tmp\n")
    assert main(args) == 2
    out, err = capsys.readouterr()
    assert out == "" and len(err.strip().splitlines()) == 1, err
    assert re.search(line, err.strip()), err
    assert not (tmp_path / "data" / "warehouse").is_dir()  # nothing ran
    assert not (tmp_path / "home").is_dir() or not list((tmp_path / "home").glob("**/*.db"))  # no run was recorded


def test_a_registry_with_many_problems_lists_each_with_its_line(tmp_path, monkeypatch, capsys):
    path = tmp_path / "registry.csv"
    lines = REGISTRY_PATH.read_text().splitlines(keepends=True)
    path.write_text(lines[0] + lines[1].replace(",false,", ",maybe,") + "a,Org,US\n" + "".join(lines[2:]))
    monkeypatch.setenv("DOMINANCE_REGISTRY", str(path))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    assert main(["materialize", "--month", "2026-05"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[0] == f"dominance-pipeline materialize: error: 2 problem(s) in the org registry {path}:"
    assert err[1].startswith(f"  {path}:2: is_intermediary must be true or false") and err[2] == f"  {path}:3: expected 12 fields, found 3"


def test_a_snapshot_that_is_not_parquet_fails_naming_the_file(tmp_path):
    bad = tmp_path / "models.parquet"
    shutil.copy(REGISTRY_PATH, bad)
    proc = run_cli(tmp_path, "materialize", "--month", "2026-05", "--snapshot", str(bad), "--quiet")
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert f"FAILED raw_hub_listings: the snapshot {bad} is not a readable Parquet file: Parquet magic bytes not found" in proc.stderr


@pytest.mark.parametrize(
    ("config", "env", "step", "reason"),
    [
        ({"source": "live", "max_snapshot_lag_days": -1}, None, "raw_hub_listings", r"^max_snapshot_lag_days must be 0 or more, got -1$"),
        ({"source": "web"}, None, "raw_hub_listings", r"^unknown source 'web': use one of local, live, archive$"),
        # A snapshot file named for the live source would be silently ignored: the run refuses it instead.
        ({"source": "live", "snapshot": "/x/hub_stats_2026-05.parquet"}, None, "raw_hub_listings",
         r"^snapshot='/x/hub_stats_2026-05\.parquet' is only for the local source, not live$"),
        ({"source": "local"}, ("DOMINANCE_THRESHOLDS", "value"), "raw_hub_listings",
         r"^invalid thresholds .*/thresholds\.yaml: raw_hub_listings\.max_shrink: Input should be less than or equal to 1$"),
        ({"source": "local"}, ("DOMINANCE_REGISTRY", "country"), "origin_tagged_models", r"^org registry .*/registry\.csv:5: .*'XX'"),
        # The launchpad has no flags: the way out is named as run config too, and backfill's folder flag.
        ({"source": "local"}, ("DOMINANCE_SNAPSHOT_DIR", "empty"), "raw_hub_listings",
         r"^no local snapshot for 2026-05: looked for .*/hub_stats_2026-05\.parquet; .*--snapshot-dir DIR.*"
         r"`snapshot: FILE` in raw_hub_listings' run config.*`source: archive` in the run config"),
    ],
    ids=["negative-lag", "unknown-source", "snapshot-for-live", "thresholds", "registry", "missing-snapshot"],
)
def test_user_mistakes_inside_a_run_read_as_one_line(tmp_path, monkeypatch, config, env, step, reason):
    """What the UI's launchpad (or a schedule) can get wrong: the step fails with the reason as its first line."""
    snapshot_dir = None
    if env == ("DOMINANCE_SNAPSHOT_DIR", "empty"):
        snapshot_dir = tmp_path / "no_snapshots"
        snapshot_dir.mkdir()
    elif env is not None:
        name, how = env
        broken = broken_thresholds(tmp_path, how) if name == "DOMINANCE_THRESHOLDS" else broken_registry(tmp_path, how)
        monkeypatch.setenv(name, str(broken))
    result = run_month(tmp_path / "data", raw_config=config, snapshot_dir=snapshot_dir)
    assert not result.success
    (failure,) = failures(result)
    assert failure.step == step and re.search(reason, failure.reason), failure.reason


def test_a_max_snapshot_lag_of_zero_days_is_accepted(tmp_path):
    # "0 or more": only a negative lag is a mistake (the local source ignores the lag; the check runs first).
    import dagster as dg

    from dominance_pipeline.definitions import build_definitions
    from dominance_pipeline_tests.conftest import SAMPLE_DIR, SAMPLE_KEY

    job = build_definitions(tmp_path / "data", SAMPLE_DIR).resolve_job_def("monthly_job")
    result = job.execute_in_process(
        partition_key=SAMPLE_KEY, instance=dg.DagsterInstance.ephemeral(),
        run_config={"ops": {"raw_hub_listings": {"config": {"source": "local", "max_snapshot_lag_days": 0}}}},
        asset_selection=[dg.AssetKey("raw_hub_listings")], raise_on_error=False,
    )
    assert result.success, failures(result)


@pytest.mark.parametrize("command", ["report", "registry-gaps"])
def test_a_malformed_month_is_named_before_anything_else(tmp_path, command):
    proc = run_cli(tmp_path, command, "--month", "2026-13")
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.strip() == f"dominance-pipeline {command}: error: month must look like YYYY-MM (for example 2026-05), got '2026-13'"


def test_a_snapshot_without_a_measured_column_warns_and_one_without_gated_does_not(tmp_path):
    # A snapshot without `likes` passed with an INFO line that `--quiet` hid: likes_share was absent for a reason
    # nobody saw. The bundled sample has no `gated` column, which no index reads: that stays an INFO line.
    import logging

    import dagster as dg
    import polars as pl

    from dominance_pipeline_tests.conftest import SAMPLE

    snapshots = tmp_path / "snapshots"
    snapshots.mkdir()
    pl.read_parquet(SAMPLE).drop("likes").write_parquet(snapshots / "hub_stats_2026-05.parquet")
    warnings = {}
    for name, folder in (("without likes", snapshots), ("sample", None)):
        instance = dg.DagsterInstance.ephemeral()
        result = run_month(tmp_path / name, instance=instance, snapshot_dir=folder)
        assert result.success
        warnings[name] = [e.user_message for e in instance.all_logs(result.run_id) if e.level == logging.WARNING and "absent from the source" in e.user_message]
    assert warnings["without likes"] == [
        "columns absent from the source, left null: likes, gated (the indices computed from likes will be absent, each with the reason)"
    ]
    assert warnings["sample"] == []


def concise_run(level: str, raising: bool = True) -> None:
    """A real run of a two-step job logged by the CLI's concise_console logger at `level`."""
    import dagster as dg

    from dominance_pipeline.defs.loggers import concise_console

    @dg.op
    def noisy(context) -> int:
        context.log.info("an info line")
        context.log.warning("the reason, on its first line\nTraceback (most recent call last):\n  File \"x.py\", line 1")
        if raising:
            raise dg.Failure(description="no local snapshot")
        return 1

    @dg.op
    def after(context, value: int) -> None:
        context.log.info(f"got {value}")

    @dg.job(logger_defs={"concise_console": concise_console})
    def two_steps():
        after(noisy())

    run_config = {"loggers": {"concise_console": {"config": {"log_level": level}}}}
    two_steps.execute_in_process(run_config=run_config, raise_on_error=False)


def test_the_cli_logger_prints_one_line_per_message_at_its_level_and_no_skip_cascade(capsys):
    for _ in range(2):  # a backfill runs several months in one process: each line still printed once
        concise_run("WARNING")
        lines = capsys.readouterr().err.splitlines()
        warnings = [line for line in lines if " WARNING " in line]
        assert len(warnings) == 1 and warnings[0].endswith("the reason, on its first line"), lines
        assert re.match(r"^\d\d:\d\d:\d\d WARNING noisy\s+the reason", warnings[0]), warnings[0]
        assert not any("Traceback" in line or "File " in line for line in lines), lines
        assert not any("an info line" in line for line in lines)  # below WARNING: --quiet hides it
        assert not any("Dependencies for step" in line for line in lines), lines  # the CLI sums the skipped steps up
        assert any(" ERROR " in line and "noisy" in line for line in lines), lines
    concise_run("INFO", raising=False)
    lines = capsys.readouterr().err.splitlines()
    assert sum("an info line" in line for line in lines) == 1 and sum("got 1" in line for line in lines) == 1, lines


def test_hf_endpoint_is_checked_only_for_the_sources_that_call_the_hub(monkeypatch):
    from dominance_pipeline.cli.errors import UserError
    from dominance_pipeline.cli.preflight import check_endpoint

    monkeypatch.setenv("HF_ENDPOINT", "garbage")  # set for another tool: a local run reads no Hub
    check_endpoint(None, "local")
    for source in ("live", "archive"):
        with pytest.raises(UserError, match=r"^HF_ENDPOINT must be an http\(s\) URL, got 'garbage'$"):
            check_endpoint(None, source)
    check_endpoint("http://127.0.0.1:1", "live")  # --endpoint wins over the variable
