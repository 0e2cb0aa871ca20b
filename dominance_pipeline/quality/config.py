"""The data-quality thresholds: one YAML file in the package (thresholds.yaml), loaded and validated here.

Every number that decides whether a month passes lives in that file next to the reason for its value, so
changing a threshold is one reviewed edit, and a typo (an unknown key, a fraction of 5) fails when the
file is loaded instead of being silently ignored while the gate keeps its old value.
"""

from __future__ import annotations

from collections.abc import Hashable
from pathlib import Path
from typing import Annotated

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

THRESHOLDS_PATH = Path(__file__).with_name("thresholds.yaml")

Fraction = Annotated[float, Field(ge=0.0, le=1.0)]
Tolerance = Annotated[float, Field(gt=0.0, le=1e-3)]


class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML's safe loader, refusing a key given twice in one mapping (plain YAML keeps the last silently)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        self.flatten_mapping(node)
        seen: set[object] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if not isinstance(key, Hashable):
                continue  # SafeLoader's own construct_mapping refuses it, with its own message
            if key in seen:
                raise yaml.constructor.ConstructorError(None, None, f"key {key!r} is repeated", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


class ThresholdsError(ValueError):
    """The thresholds file is missing, unreadable or invalid; the message names the file and every bad key."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RawThresholds(_Section):
    max_count: int = Field(gt=0)
    max_quarantined_fraction: Fraction
    max_shrink: Fraction
    max_growth: float = Field(ge=0.0)
    max_snapshot_delay_days: float = Field(ge=0.0)


class TaggedThresholds(_Section):
    min_attributed_coverage: Fraction
    warn_attributed_coverage: Fraction
    max_cut_lineage_fraction: Fraction
    weight_tolerance: Tolerance

    @model_validator(mode="after")
    def _warn_above_error(self) -> TaggedThresholds:
        if self.warn_attributed_coverage < self.min_attributed_coverage:
            raise ValueError("warn_attributed_coverage must be at least min_attributed_coverage")
        return self


class AggregatesThresholds(_Section):
    relative_tolerance: Tolerance


class IndicesThresholds(_Section):
    share_sum_tolerance: Tolerance
    bound_tolerance: Tolerance


class LeaderboardThresholds(_Section):
    share_tolerance: Tolerance


class Thresholds(_Section):
    sample_size: int = Field(ge=1, le=100)
    raw_hub_listings: RawThresholds
    origin_tagged_models: TaggedThresholds
    monthly_aggregates: AggregatesThresholds
    dominance_indices: IndicesThresholds
    monthly_leaderboard: LeaderboardThresholds


def load_thresholds(path: str | Path = THRESHOLDS_PATH) -> Thresholds:
    """The validated thresholds in `path`; a `ThresholdsError` listing every problem otherwise."""
    path = Path(path)
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader
    except OSError as exc:
        raise ThresholdsError(f"cannot read thresholds {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise ThresholdsError(f"cannot read thresholds {path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark is not None else str(path)
        what = " ".join(str(getattr(exc, "problem", None) or exc).split())
        raise ThresholdsError(f"cannot read thresholds {where}: not valid YAML ({what})") from None
    try:
        return Thresholds.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or '(file)'}: {e['msg']}" for e in exc.errors())
        raise ThresholdsError(f"invalid thresholds {path}: {problems}") from None
