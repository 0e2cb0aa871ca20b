"""The code location: the defs modules assembled into one Definitions object.

`build_definitions(data_dir)` roots every output at another folder (tests use a temporary one);
`defs` is what `dagster dev -w workspace.yaml` and the CLI load.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import dagster as dg

# Per-partition asset checks are the documented way to gate each month (Dagster 1.13 marks them preview).
warnings.filterwarnings("ignore", category=dg.PreviewWarning, message=".*partitions_def on an AssetCheckSpec.*")
# The first month has no previous one; this flag (beta in 1.13) is how a previous-month mapping says so.
warnings.filterwarnings("ignore", category=dg.BetaWarning, message=".*allow_nonexistent_upstream_partitions.*")

from dominance_pipeline.defs.assets import ALL_MONTHS_ASSETS, ASSETS
from dominance_pipeline.defs.checks import CHECKS
from dominance_pipeline.defs.freshness import FRESHNESS_CHECKS
from dominance_pipeline.defs.index_checks import INDEX_CHECKS
from dominance_pipeline.defs.jobs import JOBS
from dominance_pipeline.defs.loggers import LOGGERS
from dominance_pipeline.defs.resources import build_resources
from dominance_pipeline.defs.schedules import SCHEDULES, SENSORS
from dominance_pipeline.settings import paths


def build_definitions(
    data_dir: str | Path | None = None, snapshot_dir: str | Path | None = None, hub_endpoint: str | None = None
) -> dg.Definitions:
    return dg.Definitions(
        assets=[*ASSETS, *ALL_MONTHS_ASSETS],
        asset_checks=[*CHECKS, *INDEX_CHECKS, *FRESHNESS_CHECKS],
        jobs=JOBS,
        schedules=SCHEDULES,
        sensors=SENSORS,
        loggers=LOGGERS,
        # One process per run, not per step: a step process re-imports the code location, and each check's
        # first GX import costs ~4 s, which made a UI run of one month ~5x slower than the same run in the CLI.
        executor=dg.in_process_executor,
        resources=build_resources(paths(data_dir, snapshot_dir), hub_endpoint),
    )


defs = build_definitions()
