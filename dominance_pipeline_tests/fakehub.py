"""Helpers for tests against the project's local Hub server: corpora, snapshot files, retry-sleep capture."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import polars as pl

os.environ["NO_PROXY"] = ",".join(filter(None, ["127.0.0.1,localhost", os.environ.get("NO_PROXY")]))



def synthetic_models(n: int, ties: int = 7) -> pl.DataFrame:
    """`n` hub-stats-shaped models whose creation times repeat in groups of `ties` (to test tie-breaking)."""
    base = dt.datetime(2025, 1, 1)
    return pl.DataFrame(
        {
            "id": [f"org{k % 37}/model-{k}" for k in range(n)],
            "author": [f"org{k % 37}" for k in range(n)],
            "createdAt": [base + dt.timedelta(hours=k // ties) for k in range(n)],
            "lastModified": [base + dt.timedelta(hours=k // ties, minutes=5) for k in range(n)],
            "downloads": [(k * 7919) % 100_000 for k in range(n)],
            "downloadsAllTime": [(k * 7919) % 100_000 * 3 for k in range(n)],
            "likes": [k % 50 for k in range(n)],
            "trendingScore": [float(k % 11) for k in range(n)],
            "tags": [["transformers", "region:us"] for _ in range(n)],
            "pipeline_tag": ["text-generation"] * n,
            "library_name": ["transformers"] * n,
        },
        schema_overrides={"createdAt": pl.Datetime("us"), "lastModified": pl.Datetime("us"), "tags": pl.List(pl.String)},
    )


def with_marker(sample: pl.DataFrame, marker: str) -> pl.DataFrame:
    """The sample plus one model whose id names the snapshot, so a test can tell which file was read."""
    row = sample.head(1).with_columns(pl.lit(f"marker/{marker}").alias("id"), pl.lit("marker").alias("author"))
    return pl.concat([sample, row])


def write(df: pl.DataFrame, path: Path, row_group_size: int | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    df.write_parquet(path, row_group_size=row_group_size)
    return path


class Sleeps:
    """Records the retry waits huggingface_hub asks for instead of sleeping (its `time.sleep` is patched)."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


def patch_retry_sleep(monkeypatch) -> Sleeps:  # noqa: ANN001 - pytest fixture object
    sleeps = Sleeps()
    monkeypatch.setattr("huggingface_hub.utils._http.time.sleep", sleeps)
    return sleeps


def materialize_raw(data_dir: Path, key: str, config: dict, endpoint: str | None = None, **hub_api: object):
    """Materialize raw_hub_listings alone for partition `key` (no checks, nothing downstream), through Dagster,
    with outputs under `data_dir`; `hub_api` overrides HubApiResource settings (page_size, checkpoint_rows)."""
    import dagster as dg

    from dominance_pipeline.defs.ingest import raw_hub_listings
    from dominance_pipeline.defs.resources import HubApiResource, build_resources
    from dominance_pipeline.settings import paths

    resources = build_resources(paths(data_dir), hub_endpoint=endpoint)
    if hub_api:
        resources["hub_api"] = HubApiResource(endpoint=endpoint or "http://127.0.0.1:1", **hub_api)  # type: ignore[arg-type]
    return dg.materialize(
        [raw_hub_listings], partition_key=key, resources=resources, raise_on_error=False,
        run_config={"ops": {"raw_hub_listings": {"config": config}}}, instance=dg.DagsterInstance.ephemeral(),
    )


def step_error(result) -> str:  # noqa: ANN001 - a dagster ExecuteInProcessResult
    """The innermost error message of the run's failed step, as the CLI reports it."""
    from dominance_pipeline.cli.materialize import failures

    (failure,) = failures(result)
    return failure.reason


def raw_metadata(result) -> dict:  # noqa: ANN001
    """The raw asset's materialization metadata as plain values."""
    event = next(e for e in result.get_asset_materialization_events() if e.asset_key.to_user_string() == "raw_hub_listings")
    return {k: v.value for k, v in event.materialization.metadata.items()}
