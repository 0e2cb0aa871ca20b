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

Weights: a model with k parents gives each parent 1/k, recursively (a merge of a model and a merge of two
others gives its roots 1/2, 1/4 and 1/4), and every model's root weights sum to 1.
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
# Nodes are numbered, so that the walk joins on integers: a model by its row in the input, a parent outside
# the snapshot by the input's height plus its place among those parents.
_NODE = pl.UInt32
_NODE_ROOTS = {"node": _NODE, "root": _NODE, "weight": pl.Float64, "depth": pl.Int32, "cut": pl.Int8}


@dataclass(frozen=True)
class LineageResult:
    """The roots of the models that declare parents, and what the walk met.

    At Hub scale about 70 % of models declare no parent and are their own root; they are kept implicit
    (`derived` holds only the others) so that callers can skip them. `roots` and `status` give every model.
    """

    # row, model_id, root, root_id, weight, depth, single_root, lineage_status: one row per root of each model
    # with at least one declared parent (row: its position in the input; root: the root's node number, its
    # row or, outside the snapshot, the input's height + a number; single_root: it has exactly one root).
    derived: pl.DataFrame
    self_reference_rows: pl.Series  # rows of the models whose only declared parent is themselves
    model_ids: pl.Series
    node_ids: pl.Series  # the id of each node number: model_ids, then the parents outside the snapshot
    stats: dict[str, object]

    @property
    def self_references(self) -> pl.Series:
        """The ids of the models whose only declared parent is themselves."""
        return self.model_ids.gather(self.self_reference_rows).alias("model_id")

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
    """Distinct declared (row, parent) links from `base_model_ids`, self-links included.

    `row` is the child's position in `models` and numbers it as a node (see `link_parents`, which also
    tells self-links apart once parents are numbered). Model ids are unique in a listing, so de-duplicating
    each model's own list is enough.
    """
    return (
        models.lazy()
        .with_row_index("row")
        .filter(pl.col("base_model_ids").list.len() > 0)
        .select("row", pl.col("base_model_ids").list.unique().alias("parent"))
        .explode("parent")
        .filter(pl.col("parent").is_not_null())
        .collect()
    )


@dataclass(frozen=True)
class Links:
    """The declared links with both ends numbered (see `link_parents`)."""

    links: pl.DataFrame  # child, parent: node numbers; self-links removed
    outside: pl.Series  # ids of the parents outside the snapshot: node n + i is outside[i]
    self_rows: pl.Series  # rows that name their own id, as written, among their parents
    notes: dict[str, int]


def link_parents(e: pl.DataFrame, ids: pl.Series, redirects: pl.DataFrame | None = None) -> Links:
    """Point each declared parent id at the model the Hub would serve for it, and number it.

    The Hub resolves repo ids case-insensitively and redirects a renamed namespace (THUDM/glm-4-9b is now
    zai-org/glm-4-9b), so a parent id that is not in the snapshot as written is matched, in order: by case,
    then under its namespace's canonical name from `redirects` (columns ns_key, namespace). A parent that
    still matches nothing keeps its id (under the canonical namespace, when renamed): an external root, one
    for all the ways its id is written (in case).
    Only the distinct parent ids missing from the snapshot are looked at. The links come back as node
    numbers (a model its row, an outside parent n + its place in `outside`), so that the walk joins on
    integers instead of ids.
    """
    n = ids.len()
    # One probe of the listing against the links numbers every parent present as written (by its row).
    e = e.with_row_index("link")
    present = pl.DataFrame({"parent": ids}).with_row_index("node").join(e.select("link", "parent"), on="parent", how="inner")
    node = pl.repeat(None, e.height, dtype=_NODE, eager=True).scatter(present.get_column("link"), present.get_column("node"))
    lost = e.filter(node.is_null())
    missing = lost.select(pl.col("parent").unique())
    ns = pl.col("parent").str.split_exact("/", 1)
    cand = missing.with_columns(ns.struct.field("field_0").str.to_lowercase().alias("ns_key"), ns.struct.field("field_1").alias("name"))
    canon = redirects.select("ns_key", pl.col("namespace").alias("canon")) if redirects is not None else pl.DataFrame(schema={"ns_key": pl.String, "canon": pl.String})
    cand = cand.join(canon, on="ns_key", how="left").with_columns(
        pl.when(pl.col("name").is_not_null() & pl.col("canon").is_not_null()).then(pl.format("{}/{}", "canon", "name")).alias("renamed")
    )
    wanted = pl.concat([cand.get_column("parent"), cand.get_column("renamed").drop_nulls()]).str.to_lowercase().unique()
    # Lower-casing every id is the cost (3M ids: 0.17 s on one core); the streaming engine spreads it over the
    # cores and keeps only the matches. Sorted again by node, so that the first listed of a case wins.
    by_lower = (
        pl.DataFrame({"key": ids})
        .lazy()
        .with_row_index("node")
        .filter(pl.col("key").str.to_lowercase().is_in(wanted.implode()))
        .collect(engine="streaming")
        .with_columns(pl.col("key").str.to_lowercase())
        .sort("node")
        .unique("key", keep="first", maintain_order=True)
    )
    mapped = (
        cand.join(by_lower.rename({"node": "by_case"}), left_on=pl.col("parent").str.to_lowercase(), right_on="key", how="left")
        .join(by_lower.rename({"node": "by_rename"}), left_on=pl.col("renamed").str.to_lowercase(), right_on="key", how="left")
        .select(
            "parent",
            pl.coalesce("by_case", "by_rename").alias("node"),
            pl.coalesce("renamed", "parent").alias("linked"),
            pl.col("by_case").is_not_null().alias("case"),
            (pl.col("by_case").is_null() & pl.col("renamed").is_not_null() & (pl.col("renamed") != pl.col("parent"))).alias("rename"),
        )
    )
    notes = {"parents_matched_by_case": int(mapped.get_column("case").sum()), "parents_renamed": int(mapped.get_column("rename").sum())}
    # One node per parent outside the snapshot whatever the case it is written in (the Hub would serve one
    # repo for all of them), under the first of its spellings in sort order.
    ext = mapped.filter(pl.col("node").is_null()).select(pl.col("linked").unique()).with_columns(pl.col("linked").str.to_lowercase().alias("key"))
    spelled = ext.group_by("key").agg(pl.col("linked").min().alias("spelled")).sort("key").with_row_index("ext", offset=n)
    outside = spelled.get_column("spelled").alias("linked")
    numbered = ext.join(spelled, on="key").select("linked", "ext", "spelled")
    mapped = lost.join(mapped.join(numbered, on="linked", how="left"), on="parent", how="left").select(
        "link",
        pl.coalesce("node", "ext").alias("node"),
        # Re-pointed at another id: only such a link can repeat another of its child's links or point at the child.
        (pl.col("node").is_not_null() | (pl.coalesce("spelled", "linked") != pl.col("parent"))).alias("changed"),
    )
    at = mapped.get_column("link")
    exact = node.is_not_null()
    links = e.select(
        pl.col("row").alias("child"),
        node.scatter(at, mapped.get_column("node")).alias("parent"),
        exact.alias("exact"),
        pl.repeat(False, e.height, eager=True).scatter(at, mapped.get_column("changed")).alias("changed"),
    )
    looped = pl.col("parent") == pl.col("child")
    self_rows = links.filter(looped & pl.col("exact")).get_column("child").unique(maintain_order=True)
    links = links.filter(~looped)
    if mapped.get_column("changed").any():
        # Only the children of a re-pointed link can end up with a repeated link: de-duplicate those.
        touched = links.filter("changed").get_column("child").unique()
        hit = pl.col("child").is_in(touched.implode())
        links = pl.concat([links.filter(~hit), links.filter(hit).unique(["child", "parent"], maintain_order=True)])
    return Links(links=links.select("child", "parent"), outside=outside, self_rows=self_rows, notes=notes)


def _weighted(e: pl.DataFrame) -> pl.DataFrame:
    return e.with_columns((1.0 / pl.len().over("child")).alias("w"))


def _through(links: pl.DataFrame, node_roots: pl.DataFrame) -> pl.DataFrame:
    """Roots (node, root, weight, depth, cut) of each child of `links` (child, parent, w).

    A child with a single parent takes its parent's roots as they are (most links); only children with
    several parents, whose paths can meet again at a root, are grouped. A root reached by several paths
    sums their weights in sorted order: the join hands the paths over in an order that varies from run to
    run, and summed in that order two equal weights could differ in their last bit and swap which root is
    the heaviest (the model's `root_model_id`) between two runs on the same listing.
    """
    joined = links.join(node_roots, left_on="parent", right_on="node")
    single = joined.filter(pl.col("w") == 1.0).select(
        pl.col("child").alias("node"), "root", "weight", (pl.col("depth") + 1).cast(pl.Int32), "cut"
    )
    several = (
        joined.filter(pl.col("w") < 1.0)
        .group_by(pl.col("child").alias("node"), "root")
        .agg(
            (pl.col("w") * pl.col("weight")).sort().sum().alias("weight"),
            (pl.col("depth").max() + 1).cast(pl.Int32).alias("depth"),
            pl.col("cut").max(),
        )
    )
    return pl.concat([single, several])


def _own_root(nodes: pl.DataFrame, cut: int) -> pl.DataFrame:
    """Each node of `nodes` as its own root."""
    return nodes.with_columns(
        pl.col("node").alias("root"), pl.lit(1.0).alias("weight"), pl.lit(0, pl.Int32).alias("depth"), pl.lit(cut, pl.Int8).alias("cut")
    )


def _cap(found: pl.DataFrame, max_depth: int) -> tuple[pl.DataFrame, int]:
    """Nodes whose chain would exceed `max_depth` stand as their own roots; their children count from them."""
    too_deep = found.filter(pl.col("depth") > max_depth).select("node").unique()
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


def _components(links: list[tuple[int, int]]) -> dict[int, int]:
    """Strongly connected components (iterative Tarjan) of the given links: node -> component number."""
    succ: dict[int, list[int]] = {}
    for child, parent in links:
        succ.setdefault(child, []).append(parent)
        succ.setdefault(parent, [])
    index: dict[int, int] = {}
    low: dict[int, int] = {}
    comp: dict[int, int] = {}
    stack: list[int] = []
    on_stack: set[int] = set()
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


def _resolve_parents(ew: pl.DataFrame, parents: pl.DataFrame, max_depth: int) -> tuple[pl.DataFrame, pl.DataFrame, dict[str, object]]:
    """Roots (node, root, weight, depth, cut) of every distinct parent node, resolved from the top down.

    `ew` holds the weighted links (child, parent, w); `parents` the distinct parent nodes (column node).
    Returns the roots of the parents that declare no parent of their own (the tops, each its own root),
    those of the other parents, and what the walk met.
    """
    # Only links between parent nodes matter here: a leaf derivative's roots come from one join at the end.
    pending = ew.join(parents, left_on="child", right_on="node", how="semi")
    tops = parents.join(pending.select(pl.col("child").alias("node")), on="node", how="anti")
    resolved = [_own_root(tops, _NONE)]
    done = tops.with_columns(pl.lit(True).alias("done"))
    levels = capped = 0
    cycle_links = pl.DataFrame(schema={"child": _NODE, "parent": _NODE})
    on_cycle = pl.Series("node", [], _NODE)
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
        found, n_capped = _cap(_through(links, pl.concat(resolved, rechunk=False)), max_depth)
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
        "cycle_examples": on_cycle.unique(),  # node numbers: `resolve` names them
        "depth_capped_nodes": capped,
    }
    return resolved[0], pl.concat(resolved[1:]) if len(resolved) > 1 else pl.DataFrame(schema=_NODE_ROOTS), stats


def resolve(models: pl.DataFrame, max_depth: int = MAX_DEPTH, redirects: pl.DataFrame | None = None) -> LineageResult:
    """Resolve every model in `models` (columns model_id, base_model_ids) to its weighted roots.

    `redirects` (ns_key, namespace) canonicalises parent namespaces (see `link_parents`).
    """
    ids = models.get_column("model_id").rechunk()  # gathers from a Parquet read's many chunks are ten times slower
    n = ids.len()
    linked = link_parents(edges(models), ids, redirects)
    e = linked.links
    self_rows = linked.self_rows.to_frame("child").join(e.select("child"), on="child", how="anti").get_column("child")
    walk: dict[str, object] = {"parent_levels": 0, "cycle_nodes": 0, "cycle_links": 0, "cycle_examples": pl.Series([], dtype=_NODE), "depth_capped_nodes": 0}
    ew = _weighted(e)
    parents = e.select(pl.col("parent").unique().alias("node"))
    tops = parent_roots = pl.DataFrame(schema=_NODE_ROOTS)
    if not e.is_empty():
        tops, parent_roots, walk = _resolve_parents(ew, parents, max_depth)
    leaves = ew.join(parents, left_on="child", right_on="node", how="anti")
    leaf_roots, n_capped = _cap(_through(leaves, pl.concat([tops, parent_roots])), max_depth)
    derived = pl.concat([parent_roots, leaf_roots]).with_columns(
        (~pl.col("node").is_duplicated()).alias("single_root"),
        pl.when(pl.col("cut") == _CYCLIC)
        .then(pl.lit(3, pl.Int8))
        .when(pl.col("cut") == _CAPPED)
        .then(pl.lit(2, pl.Int8))
        .when(pl.col("root") >= n)
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
    counts[SELF_REFERENCE] = self_rows.len()
    counts[ORIGINAL] = n - derived_status.height - self_rows.len()
    every_id = pl.concat([ids, linked.outside.alias(ids.name)], rechunk=True)
    stats: dict[str, object] = {
        "status": {s: int(counts.get(s, 0)) for s in STATUSES},
        "links": e.height,
        "parents": parents.height,
        "parents_outside_snapshot": linked.outside.len(),
        "merges": ew.filter(pl.col("w") < 1.0).get_column("child").n_unique(),
        "max_depth": int(derived.get_column("depth").max() or 0),
        **linked.notes,
        **walk,
        "cycle_examples": sorted(ids.gather(walk["cycle_examples"]).to_list())[:5],  # type: ignore[arg-type]
        "depth_capped_nodes": int(walk["depth_capped_nodes"]) + n_capped,  # type: ignore[call-overload]
    }
    return LineageResult(
        derived=derived.select(
            pl.col("node").alias("row"),
            ids.gather(derived.get_column("node")).alias("model_id"),
            "root",
            every_id.gather(derived.get_column("root")).alias("root_id"),
            "weight",
            "depth",
            "single_root",
            "lineage_status",
        ),
        self_reference_rows=self_rows,
        model_ids=ids,
        node_ids=every_id,
        stats=stats,
    )
