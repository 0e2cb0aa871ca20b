"""Where things live on disk.

Defaults are the project's own `data/` folder, so a fresh clone runs without configuration.
DOMINANCE_DATA_DIR moves every output (warehouse, Dagster instance) at once, which is what tests and
deployments want; the bundled inputs stay where they are unless DOMINANCE_SNAPSHOT_DIR says otherwise.
DOMINANCE_REGISTRY and DOMINANCE_THRESHOLDS point a run at another registry.csv or thresholds.yaml.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DATA_DIR_ENV = "DOMINANCE_DATA_DIR"
SNAPSHOT_DIR_ENV = "DOMINANCE_SNAPSHOT_DIR"
# Another org registry or thresholds file than the package's own (to try an edit before committing it).
REGISTRY_ENV = "DOMINANCE_REGISTRY"
THRESHOLDS_ENV = "DOMINANCE_THRESHOLDS"


@dataclass(frozen=True)
class Paths:
    data: Path
    sample: Path

    @property
    def warehouse(self) -> Path:
        return self.data / "warehouse"

    @property
    def duckdb(self) -> Path:
        return self.warehouse / "dominance.duckdb"

    @property
    def dagster_home(self) -> Path:
        return self.data / "dagster_home"


def paths(data_dir: str | Path | None = None, snapshot_dir: str | Path | None = None) -> Paths:
    """Outputs under `data_dir` (else $DOMINANCE_DATA_DIR, else <project>/data); local snapshots in
    `snapshot_dir` (else $DOMINANCE_SNAPSHOT_DIR, else the bundled <project>/data/sample)."""
    data = data_dir or os.environ.get(DATA_DIR_ENV) or PROJECT_ROOT / "data"
    sample = snapshot_dir or os.environ.get(SNAPSHOT_DIR_ENV) or PROJECT_ROOT / "data" / "sample"
    return Paths(data=Path(data).resolve(), sample=Path(sample).resolve())
