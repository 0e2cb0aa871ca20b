"""Shared by the benchmark scripts: cached synthetic snapshots, isolated worker processes, machine state.

Every measured piece of work runs in a fresh Python process (`python <script> --worker <json>`), because a
process's peak RSS (ru_maxrss) never goes down: measuring two stages in one process would report the larger
of the two for both. The parent also polls the worker's RSS and kills it above a limit, so a runaway stage
ends as a clear "killed" figure instead of taking the shared machine down.
"""

from __future__ import annotations

import hashlib
import json
import os
import resource
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psutil

# Importing the package, as every entry point of the pipeline does before anything imports polars, puts its
# allocator settings (dominance_pipeline/allocator.py) into the environment the worker processes inherit.
from dominance_pipeline.allocator import JEMALLOC_ENV  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
MONTH = "2026-05"  # the month every single-month benchmark partition stands for (the sample's month)
BENCH_DIR = ROOT / "data" / "bench"


def generator_fingerprint() -> str:
    """A hash of the generator's code and org table: a cached snapshot is reused only if they are unchanged."""
    h = hashlib.sha1()
    for path in sorted((ROOT / "dominance_pipeline" / "synth").glob("*")):
        if path.suffix in (".py", ".csv"):
            h.update(path.read_bytes())
    return h.hexdigest()[:10]


def synthetic_dir(models: int, months: int, seed: int, end: str, growth: float | None = None) -> Path:
    tag = f"n{models}-m{months}-s{seed}-e{end}" + (f"-g{growth}" if growth is not None else "")
    return BENCH_DIR / "synth" / generator_fingerprint() / tag


def ensure_synthetic(models: int, months: int = 1, seed: int = 0, end: str = MONTH, growth: float | None = None) -> tuple[Path, float | None]:
    """The folder of cached synthetic snapshots for this config; generated (by the real CLI) when missing.

    Returns the folder and the generation time in seconds (None when reused from the cache).
    """
    out = synthetic_dir(models, months, seed, end, growth)
    done = out / ".complete"
    if done.exists():
        return out, None
    cmd = [PYTHON, "-m", "dominance_pipeline.cli", "synth", "--models", str(models), "--months", str(months),
           "--seed", str(seed), "--end", end, "--out", str(out)]  # fmt: skip
    if growth is not None:
        cmd += ["--growth", str(growth)]
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    seconds = time.perf_counter() - t0
    done.write_text(json.dumps({"seconds": seconds, "cmd": cmd}))
    return out, seconds


# A fixed workload timed before and after a benchmark. A shared machine's speed can drift 10-15 % within an
# hour while its load average stays the same (seen here on 2026-11-29). The same work taking longer tells a
# slow half hour from a regression.
CALIBRATION = """
import time
import numpy as np
import polars as pl
ints = pl.Series(np.random.default_rng(0).integers(0, 1 << 40, 20_000_000))
ids = pl.Series([f"user-{i}/model-{i % 977}" for i in range(1_000_000)])
t = time.perf_counter()
for _ in range(3):
    ints.sort(); ids.str.to_lowercase().str.contains("model-1"); ints.hash()
x = 0
for i in range(3_000_000):
    x += i
print(time.perf_counter() - t)
"""


def calibration_seconds() -> float:
    """Wall seconds of CALIBRATION in a fresh process (about 1.5 s on 2 cores), with polars' own allocator
    settings whatever the pipeline's: the same work on the same settings from run to run."""
    env = {k: v for k, v in os.environ.items() if k != JEMALLOC_ENV}
    done = subprocess.run([PYTHON, "-c", CALIBRATION], capture_output=True, text=True, check=True, cwd=ROOT, env=env)
    return round(float(done.stdout.strip()), 3)


def machine(calibrate: bool = False) -> dict[str, object]:
    """The machine's state; with `calibrate`, also the seconds of the fixed workload (`calibration_s`)."""
    state: dict[str, object] = {
        "cpus": os.cpu_count(),
        "mem_total_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "mem_available_gb": round(psutil.virtual_memory().available / 2**30, 1),
        "load_avg": [round(x, 2) for x in os.getloadavg()],
        "steal_since_boot_s": steal_seconds(),
        # What the workers add to polars' allocator settings (None: polars' own).
        "polars_allocator": os.environ.get(JEMALLOC_ENV),
    }
    if calibrate:
        state["calibration_s"] = calibration_seconds()
    return state


def machine_line(before: dict[str, object], after: dict[str, object]) -> str:
    """The report's last line: load average and calibration workload, before and after, and the CPU time the
    host took for other guests in between."""
    line = f"machine load before/after: {before['load_avg']} / {after['load_avg']} ({before['cpus']} CPUs)"
    if "calibration_s" in before and "calibration_s" in after:
        line += f"; calibration workload {before['calibration_s']:.2f} / {after['calibration_s']:.2f} s"
    line += f"; polars allocator: {before.get('polars_allocator') or 'its own settings'}"
    stolen = [state.get("steal_since_boot_s") for state in (before, after)]
    if all(isinstance(v, int | float) for v in stolen):
        line += f"; CPU time stolen by the host meanwhile {float(stolen[1]) - float(stolen[0]):.1f} s"  # type: ignore[arg-type]
    return line


def steal_seconds() -> float | None:
    """CPU time the hypervisor has given to other guests since boot, all CPUs together (/proc/stat `steal`);
    None where the kernel does not report it."""
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()
        return int(fields[8]) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def _peak_mb(usage: resource.struct_rusage) -> float:
    """The process's peak RSS up to `usage` (Linux reports ru_maxrss in KiB)."""
    return usage.ru_maxrss / 1024


@dataclass
class Measure:
    """What a worker reports: the timed block's seconds, its CPU seconds, the peak RSS before and after it, extras.

    CPU seconds are the process's, all threads together: user time over wall time says how many of the cores
    the block kept busy, and system time is mostly the kernel handing out fresh pages (minor faults), which
    grows with the memory a block touches, not with its computation. `steal_s` is the machine's, not the
    process's: CPU time the hypervisor gave to other guests during the block, one sign of a slow run that
    the code did not cause (a host can also slow a guest without stealing from it).
    """

    seconds: float | None = None
    cpu_user_s: float | None = None
    cpu_sys_s: float | None = None
    minor_faults: int | None = None
    steal_s: float | None = None
    rss_before_mb: float | None = None
    peak_rss_mb: float | None = None
    extra: dict[str, object] = field(default_factory=dict)

    @contextmanager
    def clock(self) -> Iterator[None]:
        """Time the block; inputs are loaded before it, so `rss_before_mb` is the stage's input footprint."""
        before, stolen = resource.getrusage(resource.RUSAGE_SELF), steal_seconds()
        self.rss_before_mb = _peak_mb(before)
        t0 = time.perf_counter()
        yield
        self.seconds = time.perf_counter() - t0
        after, now_stolen = resource.getrusage(resource.RUSAGE_SELF), steal_seconds()
        if stolen is not None and now_stolen is not None:
            self.steal_s = now_stolen - stolen
        self.cpu_user_s = after.ru_utime - before.ru_utime
        self.cpu_sys_s = after.ru_stime - before.ru_stime
        self.minor_faults = after.ru_minflt - before.ru_minflt
        self.peak_rss_mb = _peak_mb(after)


def _relay(stream, keep: list[str], echo: bool) -> None:
    """Read a worker's output as it comes (so a chatty worker never blocks on a full pipe); keep the lines."""
    for line in stream:
        keep.append(line.rstrip("\n"))
        if echo:
            print(f"      {line}", end="", file=sys.stderr, flush=True)


def run_worker(
    script: Path, job: dict[str, object], rss_limit_mb: float, timeout_s: float, echo_stderr: bool = False
) -> dict[str, object]:
    """Run `script --worker job` in a fresh process; return its JSON result (with `error` on failure).

    `echo_stderr` shows the worker's progress lines as they come (the backfill prints one per month).
    """
    cmd = [PYTHON, str(script), "--worker", json.dumps(job)]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    err_lines: list[str] = []
    out_lines: list[str] = []
    relays = [
        threading.Thread(target=_relay, args=(proc.stderr, err_lines, echo_stderr), daemon=True),
        threading.Thread(target=_relay, args=(proc.stdout, out_lines, False), daemon=True),
    ]
    for relay in relays:
        relay.start()
    watcher = psutil.Process(proc.pid)
    polled_peak = 0.0
    killed = None
    while proc.poll() is None:
        try:
            rss = watcher.memory_info().rss / 2**20
        except psutil.NoSuchProcess:
            break
        polled_peak = max(polled_peak, rss)
        if rss > rss_limit_mb:
            killed = f"killed: RSS {rss:,.0f} MB over the {rss_limit_mb:,.0f} MB limit"
        elif time.perf_counter() - t0 > timeout_s:
            killed = f"killed: still running after {timeout_s:.0f} s"
        if killed:
            proc.kill()
            break
        time.sleep(0.05)
    proc.wait()
    for relay in relays:
        relay.join()
    wall = time.perf_counter() - t0
    result: dict[str, object] = {"process_seconds": round(wall, 3), "polled_peak_rss_mb": round(polled_peak, 1)}
    lines = [line for line in out_lines if line.startswith("{")]
    if killed:
        result["error"] = killed
    elif proc.returncode != 0 or not lines:
        tail = err_lines[-1] if err_lines else "no output"
        result["error"] = f"exit {proc.returncode}: {tail}"
    else:
        result.update(json.loads(lines[-1]))
    return result


def worker_main(handlers: dict[str, Callable[[dict[str, object], Measure], None]]) -> None:
    """Entry point of a worker process: run one handler, print its Measure as one JSON line."""
    job = json.loads(sys.argv[sys.argv.index("--worker") + 1])
    m = Measure()
    handlers[str(job["task"])](job, m)
    print(
        json.dumps(
            {
                "seconds": None if m.seconds is None else round(m.seconds, 4),
                "cpu_user_s": None if m.cpu_user_s is None else round(m.cpu_user_s, 3),
                "cpu_sys_s": None if m.cpu_sys_s is None else round(m.cpu_sys_s, 3),
                "minor_faults": m.minor_faults,
                "steal_s": None if m.steal_s is None else round(m.steal_s, 2),
                "rss_before_mb": None if m.rss_before_mb is None else round(m.rss_before_mb, 1),
                "peak_rss_mb": None if m.peak_rss_mb is None else round(m.peak_rss_mb, 1),
                "extra": m.extra,
            },
            default=str,
        )
    )


def dagster_env(data_dir: Path, snapshot_dir: Path) -> None:
    """Point a worker process at its own warehouse, instance and snapshot folder (before importing the code)."""
    os.environ["DOMINANCE_DATA_DIR"] = str(data_dir)
    os.environ["DOMINANCE_SNAPSHOT_DIR"] = str(snapshot_dir)
    os.environ["DAGSTER_HOME"] = str(data_dir / "dagster_home")
    os.environ.setdefault("DAGSTER_DISABLE_TELEMETRY", "1")
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")


def monthly_job(data_dir: Path, snapshot_dir: Path) -> dict[str, str]:
    """Where the real monthly_job writes (data_dir) and reads snapshots (snapshot_dir): run_monthly_job's
    location. The job is loaded here once, as by a backfill daemon; each run reuses what Dagster keeps."""
    from dominance_pipeline.cli.inprocess import job_for
    from dominance_pipeline.instance import ensure_dagster_home

    ensure_dagster_home(data_dir / "dagster_home")
    location = {"data_dir": str(data_dir), "snapshot_dir": str(snapshot_dir)}
    job_for("monthly_job", **location)
    return location


def run_monthly_job(location: dict[str, str], key: str):  # -> (dg.JobExecutionResult, seconds)
    """One real run of monthly_job for partition `key` in the persistent instance ($DAGSTER_HOME), as
    `dominance-pipeline materialize` runs it (in this process, no output kept in memory; GX imported in the
    background while the listing is read)."""
    import dagster as dg

    from dominance_pipeline.cli.inprocess import run_job

    run_config = {
        "ops": {"raw_hub_listings": {"config": {"source": "local"}}},
        "loggers": {"concise_console": {"config": {"log_level": "WARNING"}}},
    }
    with dg.DagsterInstance.get() as instance:
        t0 = time.perf_counter()
        result = run_job("monthly_job", instance, partition_key=key, run_config=run_config, warm_up_checks=True, **location)
        return result, time.perf_counter() - t0


def step_seconds(result) -> dict[str, float]:
    """Seconds per Dagster step (asset or check) from the run's STEP_SUCCESS/STEP_FAILURE events."""
    out: dict[str, float] = {}
    for event in result.all_events:
        if event.event_type_value in ("STEP_SUCCESS", "STEP_FAILURE") and event.step_key:
            duration = getattr(event.event_specific_data, "duration_ms", None)
            if duration is not None:
                out[event.step_key] = round(duration / 1000, 3)
    return out
