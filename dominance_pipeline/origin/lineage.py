"""Lineage: from each model to the root base model(s) it descends from.

Base-model links are declared by uploaders (baseModels, cardData.base_model, base_model tags), are
incomplete, and can be wrong (self-references, cycles). The walk is done on the distinct parent nodes only
(the frontier), with joins rather than per-row recursion: at Hub scale a few hundred thousand parents stand
for millions of derivatives, and each hop only touches the walks that are still open.

Weights: a model with k parents gives each parent 1/k, recursively, so a merge's weight is split equally
among its roots and every model's root weights sum to 1.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

MAX_DEPTH = 256

# lineage_status values, also documented in docs/data_dictionary.md
ORIGINAL = "original"  # no declared parent: the model is its own root
RESOLVED = "resolved"  # every walk ended at a root present in the snapshot
EXTERNAL_ROOT = "external_root"  # a walk ended at a parent missing from the snapshot (its namespace still counts)
SELF_REFERENCE = "self_reference"  # the model names itself as its only parent
CYCLE = "cycle"  # a walk entered a cycle; the cycle's entry parent stands as root
DEPTH_CAP = "depth_cap"  # a walk exceeded MAX_DEPTH; the last node reached stands as root

ROOTS_SCHEMA = {"model_id": pl.String, "root_id": pl.String, "weight": pl.Float64, "depth": pl.Int32}


@dataclass(frozen=True)
class LineageResult:
    """Per-model roots (model_id, root_id, weight, depth) and per-model status."""

    roots: pl.DataFrame
    status: pl.DataFrame
    stats: dict[str, int]


def edges(models: pl.DataFrame) -> pl.DataFrame:
    """Distinct (child, parent) links from `model_id` and `base_model_ids`, self-links removed."""
    return (
        models.lazy()
        .select(pl.col("model_id").alias("child"), pl.col("base_model_ids").alias("parent"))
        .explode("parent")
        .filter(pl.col("parent").is_not_null() & (pl.col("parent") != pl.col("child")))
        .unique()
        .collect()
    )


def _parent_weights(e: pl.DataFrame) -> pl.DataFrame:
    return e.with_columns((1.0 / pl.len().over("child")).alias("w"))


def _walk(e: pl.DataFrame, max_depth: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Roots of every distinct parent node: (node, root_id, weight, depth), plus (node, status) for capped walks."""
    ew = _parent_weights(e)
    starts = ew.select(pl.col("parent").unique().alias("start"))
    frontier = starts.select("start", pl.col("start").alias("node"), pl.lit(1.0).alias("weight"), pl.lit(0, pl.Int32).alias("depth"))
    done: list[pl.DataFrame] = []
    for _ in range(max_depth):
        if frontier.is_empty():
            break
        step = frontier.join(ew, left_on="node", right_on="child", how="left")
        done.append(
            step.filter(pl.col("parent").is_null()).select("start", pl.col("node").alias("root_id"), "weight", "depth")
        )
        frontier = (
            step.filter(pl.col("parent").is_not_null())
            .group_by("start", pl.col("parent").alias("node"))
            .agg((pl.col("weight") * pl.col("w")).sum(), (pl.col("depth").max() + 1).cast(pl.Int32))
        )
    if frontier.is_empty():
        status = pl.DataFrame(schema={"node": pl.String, "status": pl.String})
    else:
        on_cycle = pl.Series(sorted(_nodes_on_cycles(ew)), dtype=pl.String).implode()
        # A walk that never ended stands on the node where it was cut: the start itself when it went round
        # a cycle, otherwise the deepest node reached.
        done.append(
            frontier.select(
                "start",
                pl.when(pl.col("node").is_in(on_cycle)).then(pl.col("start")).otherwise(pl.col("node")).alias("root_id"),
                "weight",
                "depth",
            )
        )
        status = frontier.group_by("start").agg(pl.col("node").is_in(on_cycle).any().alias("on_cycle")).select(
            pl.col("start").alias("node"),
            pl.when(pl.col("on_cycle")).then(pl.lit(CYCLE)).otherwise(pl.lit(DEPTH_CAP)).alias("status"),
        )
    roots = (
        pl.concat(done)
        .group_by("start", "root_id")
        .agg(pl.col("weight").sum(), pl.col("depth").max())
        .rename({"start": "node"})
    )
    return roots, status


def _nodes_on_cycles(ew: pl.DataFrame) -> set[str]:
    """Nodes that can reach themselves. Called only when some walk hit the cap, so the graph is small in practice."""
    children: dict[str, list[str]] = {}
    for child, parent in ew.select("child", "parent").iter_rows():
        children.setdefault(child, []).append(parent)
    on_cycle: set[str] = set()
    state: dict[str, int] = {}  # 1 = on stack, 2 = finished
    for root in children:
        if state.get(root):
            continue
        stack: list[tuple[str, int]] = [(root, 0)]
        path: list[str] = []
        while stack:
            node, i = stack.pop()
            if i == 0:
                state[node] = 1
                path.append(node)
            nexts = children.get(node, [])
            if i < len(nexts):
                stack.append((node, i + 1))
                nxt = nexts[i]
                if state.get(nxt) == 1:
                    on_cycle.update(path[path.index(nxt) :])
                elif not state.get(nxt):
                    stack.append((nxt, 0))
            else:
                state[node] = 2
                path.pop()
    return on_cycle


def resolve(models: pl.DataFrame, max_depth: int = MAX_DEPTH) -> LineageResult:
    """Resolve every model in `models` (columns model_id, base_model_ids) to its weighted roots."""
    e = edges(models)
    ids = models.select("model_id")
    self_ref = (
        models.lazy()
        .filter(pl.col("base_model_ids").list.contains(pl.col("model_id")))
        .select("model_id")
        .join(e.lazy().select(pl.col("child").alias("model_id")).unique(), on="model_id", how="anti")
        .collect()
    )
    if e.is_empty():
        roots = ids.select("model_id", pl.col("model_id").alias("root_id"), pl.lit(1.0).alias("weight"), pl.lit(0, pl.Int32).alias("depth"))
        status = ids.with_columns(pl.lit(ORIGINAL).alias("lineage_status"))
    else:
        node_roots, node_status = _walk(e, max_depth)
        ew = _parent_weights(e)
        derived = (
            ew.join(node_roots, left_on="parent", right_on="node")
            .group_by(pl.col("child").alias("model_id"), "root_id")
            .agg((pl.col("w") * pl.col("weight")).sum().alias("weight"), (pl.col("depth").max() + 1).cast(pl.Int32).alias("depth"))
        )
        originals = ids.join(derived.select("model_id").unique(), on="model_id", how="anti").select(
            "model_id", pl.col("model_id").alias("root_id"), pl.lit(1.0).alias("weight"), pl.lit(0, pl.Int32).alias("depth")
        )
        roots = pl.concat([derived, originals])
        in_snapshot = ids.get_column("model_id")
        capped_status = (
            ew.join(node_status, left_on="parent", right_on="node")
            .group_by(pl.col("child").alias("model_id"))
            .agg(pl.when((pl.col("status") == CYCLE).any()).then(pl.lit(CYCLE)).otherwise(pl.lit(DEPTH_CAP)).alias("capped"))
        )
        status = (
            ids.join(
                # is_in evaluated row-wise, then aggregated: inside the group_by, polars 2.1 copies the imploded
                # id list into every group (O(models x groups) memory: 45 GB at 100k synthetic models).
                derived.with_columns((~pl.col("root_id").is_in(in_snapshot.implode())).alias("external"))
                .group_by("model_id")
                .agg(pl.col("external").any()),
                on="model_id",
                how="left",
            )
            .join(capped_status, on="model_id", how="left")
            .select(
                "model_id",
                pl.when(pl.col("capped").is_not_null())
                .then(pl.col("capped"))
                .when(pl.col("external").is_null())
                .then(pl.lit(ORIGINAL))
                .when(pl.col("external"))
                .then(pl.lit(EXTERNAL_ROOT))
                .otherwise(pl.lit(RESOLVED))
                .alias("lineage_status"),
            )
        )
    if not self_ref.is_empty():
        status = status.with_columns(
            pl.when(pl.col("model_id").is_in(self_ref.get_column("model_id").implode()))
            .then(pl.lit(SELF_REFERENCE))
            .otherwise(pl.col("lineage_status"))
            .alias("lineage_status")
        )
    roots = roots.select(pl.col("model_id"), pl.col("root_id"), pl.col("weight"), pl.col("depth").cast(pl.Int32))
    counts = status.get_column("lineage_status").value_counts()
    stats = {s: int(n) for s, n in counts.iter_rows()}
    return LineageResult(roots=roots, status=status, stats=stats)
