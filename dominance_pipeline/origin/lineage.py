"""Lineage: from each model to the root base model(s) it descends from.

Base-model links are declared by uploaders (baseModels, cardData.base_model, base_model tags), are
incomplete, and can be wrong (self-references, cycles, ids in the wrong case or under a namespace that was
since renamed). Only the distinct parent nodes (the frontier: a few hundred thousand at Hub scale, against
millions of derivatives) are resolved, level by level from the roots down: a parent is resolved as soon as
all of its own parents are, by one join of its links with its parents' roots. Every derivative then gets
its roots with a single join on its parents. Each level touches only the links still pending, never every
row, and the walk cannot loop: when no parent becomes ready, the rest waits on declared cycles, and links
inside them are cut (a member that names another parent resolves through it; a cycle with no way out makes
each member its own root). A chain longer than MAX_DEPTH is cut where it exceeds it.

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
CYCLE = "cycle"  # a walk crossed a declared cycle, which was cut (see _resolve_parents)
DEPTH_CAP = "depth_cap"  # a chain was longer than MAX_DEPTH: the node where it was cut stands as root
STATUSES = (ORIGINAL, RESOLVED, EXTERNAL_ROOT, SELF_REFERENCE, CYCLE, DEPTH_CAP)

# Where a walk was cut, carried along each (node, root) pair to every descendant; the highest code wins.
_NONE, _CAPPED, _CYCLIC = 0, 1, 2
# A model's status from the worst of its roots: cycle > depth cap > external root > resolved.
_BY_CODE = {0: RESOLVED, 1: EXTERNAL_ROOT, 2: DEPTH_CAP, 3: CYCLE}

ROOTS_SCHEMA = {"model_id": pl.String, "root_id": pl.String, "weight": pl.Float64, "depth": pl.Int32}
_NODE_ROOTS = {"node": pl.String, "root_id": pl.String, "weight": pl.Float64, "depth": pl.Int32, "cut": pl.Int8}


@dataclass(frozen=True)
class LineageResult:
    """The roots of the models that declare parents, and what the walk met.

    At Hub scale about 70 % of models declare no parent and are their own root; they are kept implicit
    (`derived` holds only the others) so that callers can skip them. `roots` and `status` give every model.
    """

    # row, model_id, root_id, weight, depth, single_root, lineage_status: one row per root of each model with
    # at least one declared parent (row: its position in the input; single_root: it has exactly one root).
    derived: pl.DataFrame
    self_references: pl.Series  # models whose only declared parent is themselves
    model_ids: pl.Series
    stats: dict[str, object]

    @property
    def roots(self) -> pl.DataFrame:
        """(model_id, root_id, weight, depth) for every model; an original is its own root at depth 0."""
        own = pl.DataFrame({"model_id": self.model_ids}).join(self.derived.select("model_id").unique(), on="model_id", how="anti")
        originals = own.select("model_id", pl.col("model_id").alias("root_id"), pl.lit(1.0).alias("weight"), pl.lit(0, pl.Int32).alias("depth"))
        return pl.concat([self.derived.select(list(ROOTS_SCHEMA)), originals])

    @property
    def status(self) -> pl.DataFrame:
        """(model_id, lineage_status) for every model."""
        return (
            pl.DataFrame({"model_id": self.model_ids})
            .join(self.derived.select("model_id", "lineage_status").unique("model_id"), on="model_id", how="left", maintain_order="left")
            .with_columns(
                pl.when(pl.col("lineage_status").is_not_null())
                .then(pl.col("lineage_status"))
                .when(pl.col("model_id").is_in(self.self_references.implode()))
                .then(pl.lit(SELF_REFERENCE))
                .otherwise(pl.lit(ORIGINAL))
                .alias("lineage_status")
            )
        )


def edges(models: pl.DataFrame) -> pl.DataFrame:
    """Distinct (child, parent, row) links from `model_id` and `base_model_ids`, self-links removed.

    `row` is the child's position in `models`, so that results can be put back in place without a join on
    ids. Model ids are unique in a listing, so de-duplicating each model's own list is enough.
    """
    return (
        models.lazy()
        .with_row_index("row")
        .filter(pl.col("base_model_ids").list.len() > 0)
        .select(pl.col("model_id").alias("child"), pl.col("base_model_ids").list.unique().alias("parent"), "row")
        .explode("parent")
        .filter(pl.col("parent").is_not_null() & (pl.col("parent") != pl.col("child")))
        .collect()
    )


def link_parents(
    e: pl.DataFrame, ids: pl.Series, redirects: pl.DataFrame | None = None
) -> tuple[pl.DataFrame, pl.Series, dict[str, int]]:
    """Point each declared parent id at the model the Hub would serve for it.

    The Hub resolves repo ids case-insensitively and redirects a renamed namespace (THUDM/glm-4-9b is now
    zai-org/glm-4-9b), so a parent id that is not in the snapshot as written is matched, in order: by case,
    then under its namespace's canonical name from `redirects` (columns ns_key, namespace). A parent that
    still matches nothing keeps its id (under the canonical namespace, when renamed): an external root.
    Only the distinct parent ids missing from the snapshot are looked at.

    Returns the re-pointed links, the parents left outside the snapshot, and how many ids were re-pointed.
    """
    parents = e.select(pl.col("parent").unique())
    # Probe the listing against the parents (a few hundred thousand), not the parents against the listing.
    present = pl.DataFrame({"parent": ids}).join(parents, on="parent", how="semi")
    missing = parents.join(present, on="parent", how="anti")
    ns = pl.col("parent").str.split_exact("/", 1)
    cand = missing.with_columns(ns.struct.field("field_0").str.to_lowercase().alias("ns_key"), ns.struct.field("field_1").alias("name"))
    canon = redirects.select("ns_key", pl.col("namespace").alias("canon")) if redirects is not None else pl.DataFrame(schema={"ns_key": pl.String, "canon": pl.String})
    cand = cand.join(canon, on="ns_key", how="left").with_columns(
        pl.when(pl.col("name").is_not_null() & pl.col("canon").is_not_null()).then(pl.format("{}/{}", "canon", "name")).alias("renamed")
    )
    wanted = pl.concat([cand.get_column("parent"), cand.get_column("renamed").drop_nulls()]).str.to_lowercase().unique()
    by_lower = (
        pl.DataFrame({"key": ids.str.to_lowercase(), "model_id": ids})
        .filter(pl.col("key").is_in(wanted.implode()))
        .unique("key", keep="first", maintain_order=True)
    )
    mapped = (
        cand.join(by_lower.rename({"model_id": "by_case"}), left_on=pl.col("parent").str.to_lowercase(), right_on="key", how="left")
        .join(by_lower.rename({"model_id": "by_rename"}), left_on=pl.col("renamed").str.to_lowercase(), right_on="key", how="left")
        .select(
            "parent",
            pl.coalesce("by_case", "by_rename", "renamed", "parent").alias("linked"),
            pl.col("by_case").is_not_null().alias("case"),
            (pl.col("by_case").is_null() & pl.col("renamed").is_not_null() & (pl.col("renamed") != pl.col("parent"))).alias("rename"),
            (pl.col("by_case").is_null() & pl.col("by_rename").is_null()).alias("outside"),
        )
    )
    outside = mapped.filter("outside").get_column("linked").unique()
    notes = {"parents_matched_by_case": int(mapped.get_column("case").sum()), "parents_renamed": int(mapped.get_column("rename").sum())}
    changed = mapped.filter(pl.col("linked") != pl.col("parent")).select("parent", "linked")
    if changed.is_empty():
        return e, outside, notes
    # Only the children of a re-pointed link can end up with a repeated or a self link: de-duplicate those.
    touched = e.filter(pl.col("parent").is_in(changed.get_column("parent").implode())).get_column("row").unique()
    hit = pl.col("row").is_in(touched.implode())
    relinked = (
        e.filter(hit)
        .join(changed, on="parent", how="left")
        .select("child", pl.coalesce("linked", "parent").alias("parent"), "row")
        .filter(pl.col("parent") != pl.col("child"))
        .unique(maintain_order=True)
    )
    return pl.concat([e.filter(~hit), relinked]), outside, notes


def _weighted(e: pl.DataFrame) -> pl.DataFrame:
    return e.with_columns((1.0 / pl.len().over("row")).alias("w"))


def _through(links: pl.DataFrame, node_roots: pl.DataFrame) -> pl.DataFrame:
    """Roots (node, row, root_id, weight, depth, cut) of each child of `links` (child, parent, row, w).

    A child with a single parent takes its parent's roots as they are (most links); only children with
    several parents, whose paths can meet again at a root, are grouped.
    """
    joined = links.join(node_roots, left_on="parent", right_on="node")
    single = joined.filter(pl.col("w") == 1.0).select(
        pl.col("child").alias("node"), "row", "root_id", "weight", (pl.col("depth") + 1).cast(pl.Int32), "cut"
    )
    several = (
        joined.filter(pl.col("w") < 1.0)
        .group_by(pl.col("child").alias("node"), "row", "root_id")
        .agg(
            (pl.col("w") * pl.col("weight")).sum().alias("weight"),
            (pl.col("depth").max() + 1).cast(pl.Int32).alias("depth"),
            pl.col("cut").max(),
        )
    )
    return pl.concat([single, several])


def _own_root(nodes: pl.DataFrame, cut: int) -> pl.DataFrame:
    """Each node of `nodes` as its own root (its other columns, such as row, are kept)."""
    return nodes.with_columns(
        pl.col("node").alias("root_id"), pl.lit(1.0).alias("weight"), pl.lit(0, pl.Int32).alias("depth"), pl.lit(cut, pl.Int8).alias("cut")
    )


def _cap(found: pl.DataFrame, max_depth: int) -> tuple[pl.DataFrame, int]:
    """Nodes whose chain would exceed `max_depth` stand as their own roots; their children count from them."""
    too_deep = found.filter(pl.col("depth") > max_depth).select(pl.exclude("root_id", "weight", "depth", "cut")).unique()
    if too_deep.is_empty():
        return found, 0
    kept = found.join(too_deep.select("node"), on="node", how="anti")
    return pl.concat([kept, _own_root(too_deep, _CAPPED).select(kept.columns)]), too_deep.height


def _cycle_links(pending: pl.DataFrame) -> pl.DataFrame:
    """The links of `pending` whose child and parent lie on one cycle (same strongly connected component).

    `pending` holds only links of nodes that could not be resolved, so it is small: the cycles plus the
    nodes below them. Nodes that no pending node names as parent cannot be on a cycle and are peeled off
    first (vectorised); the rest, usually a handful, go through Tarjan's algorithm.
    """
    stuck = pending.filter(pl.col("parent").is_in(pending.get_column("child").implode()))
    while True:
        named = stuck.select(pl.col("parent").unique().alias("child"))
        peeled = stuck.join(named, on="child", how="semi")
        if peeled.height == stuck.height:
            break
        stuck = peeled
    component = _components(stuck.select("child", "parent").rows())
    return stuck.filter(
        pl.col("child").replace_strict(component, default=None) == pl.col("parent").replace_strict(component, default=None)
    ).select("child", "parent")


def _components(links: list[tuple[str, str]]) -> dict[str, int]:
    """Strongly connected components (iterative Tarjan) of the given links: node -> component number."""
    succ: dict[str, list[str]] = {}
    for child, parent in links:
        succ.setdefault(child, []).append(parent)
        succ.setdefault(parent, [])
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    comp: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components = 0
    for start in succ:
        if start in index:
            continue
        work = [(start, 0)]
        while work:
            node, i = work.pop()
            if i == 0:
                index[node] = low[node] = len(index)
                stack.append(node)
                on_stack.add(node)
            nexts = succ[node]
            if i < len(nexts):
                work.append((node, i + 1))
                nxt = nexts[i]
                if nxt not in index:
                    work.append((nxt, 0))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    comp[member] = components
                    if member == node:
                        break
                components += 1
    return comp


def _resolve_parents(ew: pl.DataFrame, parents: pl.DataFrame, max_depth: int) -> tuple[pl.DataFrame, dict[str, object]]:
    """Roots (node, root_id, weight, depth, cut) of every distinct parent node, resolved from the top down.

    `ew` holds the weighted links (child, parent, w); `parents` the distinct parent ids (column node).
    """
    # Only links between parent nodes matter here: a leaf derivative's roots come from one join at the end.
    pending = ew.join(parents, left_on="child", right_on="node", how="semi")
    tops = parents.join(pending.select(pl.col("child").alias("node")), on="node", how="anti")
    resolved = [_own_root(tops, _NONE)]
    done = tops.with_columns(pl.lit(True).alias("done"))
    levels = capped = 0
    cycle_links = pl.DataFrame(schema={"child": pl.String, "parent": pl.String})
    on_cycle = pl.Series("node", [], pl.String)
    while not pending.is_empty():
        flagged = pending.join(done, left_on="parent", right_on="node", how="left")
        ready = flagged.group_by("child").agg(pl.col("done").is_not_null().all().alias("ok")).filter("ok").select("child")
        if ready.is_empty():
            # Nothing can progress: every pending node waits on a cycle. Members of a cycle that name another
            # parent drop their links inside the cycle and resolve through that parent (the others follow
            # them); in a cycle with no way out every link inside it is cut and each member is its own root.
            inside = _cycle_links(pending)
            members = inside.select(pl.col("child").alias("node")).unique()
            on_cycle = pl.concat([on_cycle, members.get_column("node")])
            outward = pending.join(inside, on=["child", "parent"], how="anti").join(members, left_on="child", right_on="node", how="semi")
            exits = outward.select(pl.col("child").unique())
            cut = inside.join(exits, on="child", how="semi") if exits.height else inside
            cycle_links = pl.concat([cycle_links, cut])
            pending = _weighted(pending.join(cut, on=["child", "parent"], how="anti").drop("w"))
            orphans = cut.select(pl.col("child").unique().alias("node")).join(pending.select(pl.col("child").alias("node")), on="node", how="anti")
            resolved.append(_own_root(orphans, _CYCLIC))
            done = pl.concat([done, orphans.with_columns(pl.lit(True).alias("done"))])
            continue
        levels += 1
        links = pending.join(ready, on="child", how="semi")
        found, n_capped = _cap(_through(links, pl.concat(resolved, rechunk=False)).drop("row"), max_depth)
        if on_cycle.len():
            # A member that keeps other parents resolves through them, but its walk still crossed a cycle.
            crossed = pl.col("node").is_in(on_cycle.implode())
            found = found.with_columns(pl.when(crossed).then(pl.lit(_CYCLIC, pl.Int8)).otherwise(pl.col("cut")).alias("cut"))
        capped += n_capped
        resolved.append(found)
        pending = pending.join(ready, on="child", how="anti")
        done = pl.concat([done, ready.select(pl.col("child").alias("node"), pl.lit(True).alias("done"))])
    stats = {
        "parent_levels": levels,
        "cycle_nodes": on_cycle.n_unique(),
        "cycle_links": cycle_links.height,
        "cycle_examples": sorted(on_cycle.unique().to_list())[:5],
        "depth_capped_nodes": capped,
    }
    return pl.concat(resolved), stats


def resolve(models: pl.DataFrame, max_depth: int = MAX_DEPTH, redirects: pl.DataFrame | None = None) -> LineageResult:
    """Resolve every model in `models` (columns model_id, base_model_ids) to its weighted roots.

    `redirects` (ns_key, namespace) canonicalises parent namespaces (see `link_parents`).
    """
    ids = models.get_column("model_id")
    declared = edges(models)
    e, outside, link_notes = link_parents(declared, ids, redirects)
    children = e.select(pl.col("child").alias("node"))  # not unique: only used to (anti/semi) join on
    self_refs = (
        models.lazy()
        .filter(pl.col("base_model_ids").list.contains(pl.col("model_id")))
        .select(pl.col("model_id").alias("node"))
        .join(children.lazy(), on="node", how="anti")
        .collect()
        .get_column("node")
        .alias("model_id")
    )
    walk: dict[str, object] = {"parent_levels": 0, "cycle_nodes": 0, "cycle_links": 0, "cycle_examples": [], "depth_capped_nodes": 0}
    ew = _weighted(e)
    parents = e.select(pl.col("parent").unique().alias("node"))
    node_roots = pl.DataFrame(schema=_NODE_ROOTS)
    if not e.is_empty():
        node_roots, walk = _resolve_parents(ew, parents, max_depth)
    leaves = ew.join(parents, left_on="child", right_on="node", how="anti")
    leaf_roots, n_capped = _cap(_through(leaves, node_roots), max_depth)
    child_rows = ew.filter(pl.col("row").is_first_distinct()).select(pl.col("child").alias("node"), "row")
    derived = pl.concat([node_roots.join(child_rows, on="node"), leaf_roots], how="diagonal").with_columns(
        (~pl.col("node").is_duplicated()).alias("single_root"),
        pl.when(pl.col("cut") == _CYCLIC)
        .then(pl.lit(3, pl.Int8))
        .when(pl.col("cut") == _CAPPED)
        .then(pl.lit(2, pl.Int8))
        .when(pl.col("root_id").is_in(outside.implode()))
        .then(pl.lit(1, pl.Int8))
        .otherwise(pl.lit(0, pl.Int8))
        .alias("code"),
    )
    # A model's status is the worst of its roots' (cycle > depth cap > external > resolved).
    status = pl.col("code").replace_strict(list(_BY_CODE), list(_BY_CODE.values()), return_dtype=pl.String).alias("lineage_status")
    single = derived.filter("single_root").with_columns(status)
    several = derived.filter(~pl.col("single_root")).with_columns(pl.col("code").max().over("node")).with_columns(status)
    derived = pl.concat([single, several])
    derived_status = pl.concat([single, several.filter(pl.col("node").is_first_distinct())]).select("lineage_status")
    counts = dict(derived_status.get_column("lineage_status").value_counts().iter_rows())
    counts[SELF_REFERENCE] = self_refs.len()
    counts[ORIGINAL] = ids.len() - derived_status.height - self_refs.len()
    stats: dict[str, object] = {
        "status": {s: int(counts.get(s, 0)) for s in STATUSES},
        "links": e.height,
        "parents": parents.height,
        "parents_outside_snapshot": outside.len(),
        "merges": ew.filter(pl.col("w") < 1.0).get_column("child").n_unique(),
        "max_depth": int(derived.get_column("depth").max() or 0),
        **link_notes,
        **walk,
        "depth_capped_nodes": int(walk["depth_capped_nodes"]) + n_capped,  # type: ignore[call-overload]
    }
    return LineageResult(
        derived=derived.select("row", pl.col("node").alias("model_id"), "root_id", "weight", "depth", "single_root", "lineage_status"),
        self_references=self_refs,
        model_ids=ids,
        stats=stats,
    )
