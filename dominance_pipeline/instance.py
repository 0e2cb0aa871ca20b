"""The persistent Dagster instance under data/dagster_home, shared by the CLI, `make ui` and the schedule."""

from __future__ import annotations

import os
from pathlib import Path

from dominance_pipeline.settings import paths

DAGSTER_YAML = """\
# Written by dominance_pipeline (instance.py) when missing; edit freely, it is not overwritten.
telemetry:
  enabled: false
"""


def ensure_dagster_home(home: str | Path | None = None) -> Path:
    """Make sure DAGSTER_HOME points at an existing folder with a dagster.yaml; return it.

    An explicit `home` wins, then an existing $DAGSTER_HOME, then <data>/dagster_home.
    """
    chosen = Path(home or os.environ.get("DAGSTER_HOME") or paths().dagster_home).resolve()
    chosen.mkdir(parents=True, exist_ok=True)
    config = chosen / "dagster.yaml"
    if not config.exists():
        config.write_text(DAGSTER_YAML)
    os.environ["DAGSTER_HOME"] = str(chosen)
    _create_storage(chosen)
    return chosen


def _create_storage(home: Path) -> None:
    """Create the instance's SQLite storage (if it is new) while holding a lock on the folder.

    Two runs started at once on a new DAGSTER_HOME would both create the schemas and one would fail
    (`table alembic_version already exists`); under the lock the first creates them and the second finds
    them. Opening an existing instance only checks its schema version.
    """
    import fcntl

    import dagster as dg

    with open(home / ".storage.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            dg.DagsterInstance.from_config(str(home)).dispose()
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
