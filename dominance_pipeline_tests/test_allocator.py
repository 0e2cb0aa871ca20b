"""Polars' allocator settings: set before polars loads, accepted by jemalloc, and never over the user's own."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from dominance_pipeline import allocator
from dominance_pipeline.settings import PROJECT_ROOT

POLARS_OWN = "dirty_decay_ms:500,muzzy_decay_ms:1000"
# Allocates enough (8M rows, ~64 MB) to initialise jemalloc and use a buffer over its 8 MiB oversize limit.
SCRIPT = """
import os, sys
{first}
import polars as pl
assert pl.int_range(8_000_000, eager=True).sum() == 8_000_000 * 7_999_999 // 2
print(os.environ.get("_RJEM_MALLOC_CONF"))
"""


def run(first: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in (allocator.JEMALLOC_ENV, allocator.SETTING_ENV)}
    return subprocess.run(
        [sys.executable, "-c", SCRIPT.format(first=first)], env={**clean, **env}, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize("first", ["import dominance_pipeline", "import dominance_pipeline.definitions"])
def test_importing_the_package_first_gives_polars_one_arena_per_two_cpus_and_jemalloc_accepts_it(first):
    done = run(first)
    assert done.returncode == 0, done.stderr
    cpus = os.cpu_count() or 1
    arenas = max(1, cpus // 2)
    assert done.stdout.strip() == f"{POLARS_OWN},narenas:{arenas},oversize_threshold:0,dirty_decay_ms:1000"
    # jemalloc names every setting it does not understand on stderr ("<jemalloc>: Invalid conf pair").
    assert "jemalloc" not in done.stderr


def test_jemalloc_runs_with_the_settings_in_effect():
    """What jemalloc itself reports at exit (its `stats_print`, as JSON): polars' decay time overridden by ours,
    since jemalloc keeps the last value of a repeated setting."""
    first = 'import dominance_pipeline; os.environ["_RJEM_MALLOC_CONF"] += ",stats_print:true,stats_print_opts:J"'
    done = run(first)
    assert done.returncode == 0, done.stderr
    opt = json.loads(done.stderr[done.stderr.index("{"):])["jemalloc"]["opt"]
    cpus = os.cpu_count() or 1
    assert (opt["narenas"], opt["oversize_threshold"], opt["dirty_decay_ms"], opt["muzzy_decay_ms"]) == (
        max(1, cpus // 2), 0, allocator.DIRTY_DECAY_MS, 1000,
    )


@pytest.mark.parametrize(
    ("first", "env", "expected"),
    [
        ("import dominance_pipeline", {"_RJEM_MALLOC_CONF": "narenas:3"}, f"{POLARS_OWN},narenas:3"),
        ("import dominance_pipeline", {"DOMINANCE_ALLOCATOR": " Polars "}, POLARS_OWN),
        ("import polars; import dominance_pipeline", {}, POLARS_OWN),
    ],
    ids=["the user's own settings", "polars' settings asked for", "polars imported before"],
)
def test_the_settings_are_left_alone_when_not_ours_to_set(first, env, expected):
    done = run(first, **env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == expected


@pytest.mark.parametrize(("cpus", "arenas"), [(None, 1), (1, 1), (2, 1), (3, 1), (8, 4), (64, 32)])
def test_one_arena_per_two_cpus_and_at_least_one(cpus, arenas):
    assert allocator.jemalloc_conf(cpus) == f"narenas:{arenas},oversize_threshold:0,dirty_decay_ms:1000"
