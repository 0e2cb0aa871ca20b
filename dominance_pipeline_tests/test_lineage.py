"""Lineage on hand-made graphs whose roots and weights can be checked by eye."""

from __future__ import annotations

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dominance_pipeline.origin import lineage


def graph(**parents: list[str]) -> pl.DataFrame:
    return pl.DataFrame(
        {"model_id": list(parents), "base_model_ids": [list(v) for v in parents.values()]},
        schema={"model_id": pl.String, "base_model_ids": pl.List(pl.String)},
    )


def roots_of(result: lineage.LineageResult) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for m, r, w, _ in result.roots.iter_rows():
        out.setdefault(m, {})[r] = w
    return out


def status_of(result: lineage.LineageResult) -> dict[str, str]:
    return dict(result.status.iter_rows())


def test_chain_resolves_to_the_top():
    res = lineage.resolve(graph(**{"a/base": [], "b/ft": ["a/base"], "c/quant": ["b/ft"]}))
    assert roots_of(res)["c/quant"] == {"a/base": 1.0}
    assert status_of(res) == {"a/base": "original", "b/ft": "resolved", "c/quant": "resolved"}
    depth = dict(res.roots.select("model_id", "depth").iter_rows())
    assert depth == {"a/base": 0, "b/ft": 1, "c/quant": 2}


def test_merge_splits_weight_equally_and_recursively():
    res = lineage.resolve(
        graph(**{"cn/base": [], "us/base": [], "m/merge": ["cn/base", "us/base"], "m/child": ["m/merge", "cn/base"]})
    )
    r = roots_of(res)
    assert r["m/merge"] == {"cn/base": 0.5, "us/base": 0.5}
    # child: half through the merge (0.25 + 0.25), half directly to cn/base
    assert r["m/child"] == pytest.approx({"cn/base": 0.75, "us/base": 0.25})


def test_diamond_counts_each_root_once():
    res = lineage.resolve(graph(**{"r/root": [], "a/l": ["r/root"], "a/r": ["r/root"], "a/d": ["a/l", "a/r"]}))
    assert roots_of(res)["a/d"] == {"r/root": pytest.approx(1.0)}


def test_missing_parent_still_gives_its_namespace():
    res = lineage.resolve(graph(**{"x/ft": ["gone/base"]}))
    assert roots_of(res)["x/ft"] == {"gone/base": 1.0}
    assert status_of(res)["x/ft"] == "external_root"


def test_self_reference_is_an_original():
    res = lineage.resolve(graph(**{"s/self": ["s/self"]}))
    assert roots_of(res)["s/self"] == {"s/self": 1.0}
    assert status_of(res)["s/self"] == "self_reference"


def test_cycle_is_detected_and_terminates():
    res = lineage.resolve(graph(**{"c/one": ["c/two"], "c/two": ["c/one"], "k/kid": ["c/one"]}), max_depth=8)
    st = status_of(res)
    assert st == {"c/one": "cycle", "c/two": "cycle", "k/kid": "cycle"}
    for weights in roots_of(res).values():
        assert sum(weights.values()) == pytest.approx(1.0)


def test_depth_cap_is_reported():
    chain = {f"d/m{i}": ([f"d/m{i - 1}"] if i else []) for i in range(10)}
    res = lineage.resolve(graph(**chain), max_depth=4)
    st = status_of(res)
    assert st["d/m9"] == "depth_cap" and st["d/m3"] == "resolved"


def test_a_model_cut_at_the_cap_below_a_cycle_is_depth_cap_and_one_within_it_crosses_the_cycle():
    # x/a <-> x/b is a cycle with no way out (each its own root, depth 0); m/m hangs from it at depth 1, k/k at 2.
    g = graph(**{"x/a": ["x/b"], "x/b": ["x/a"], "m/m": ["x/a"], "k/k": ["m/m"]})
    capped = lineage.resolve(g, max_depth=1)  # k/k exceeds the cap: it stands as its own root, short of the cycle
    assert status_of(capped) == {"x/a": "cycle", "x/b": "cycle", "m/m": "cycle", "k/k": "depth_cap"}
    assert roots_of(capped)["k/k"] == {"k/k": 1.0}
    within = lineage.resolve(g, max_depth=2)
    assert status_of(within)["k/k"] == "cycle" and roots_of(within)["k/k"] == {"x/a": 1.0}


@pytest.mark.parametrize("n", [1, 7])
def test_weights_sum_to_one_per_model(n):
    parents = {f"p/{i}": [] for i in range(n)}
    parents["m/x"] = list(parents)
    res = lineage.resolve(graph(**parents))
    sums = res.roots.group_by("model_id").agg(pl.col("weight").sum())
    assert sums.get_column("weight").to_list() == pytest.approx([1.0] * sums.height)


def test_merge_of_three_splits_in_thirds_and_sums_to_one():
    res = lineage.resolve(graph(**{"a/x": [], "b/y": [], "c/z": [], "m/m": ["a/x", "b/y", "c/z"]}))
    assert roots_of(res)["m/m"] == pytest.approx({"a/x": 1 / 3, "b/y": 1 / 3, "c/z": 1 / 3})
    assert res.stats["merges"] == 1


def test_deep_chain_through_a_merge_keeps_the_split():
    # q/quant -> f/ft -> m/merge -> {cn/base, us/ft -> us/base}
    res = lineage.resolve(
        graph(**{"cn/base": [], "us/base": [], "us/ft": ["us/base"], "m/merge": ["cn/base", "us/ft"], "f/ft": ["m/merge"], "q/quant": ["f/ft"]})
    )
    assert roots_of(res)["q/quant"] == pytest.approx({"cn/base": 0.5, "us/base": 0.5})
    depth = {(m, r): d for m, r, _, d in res.roots.iter_rows()}
    assert depth[("q/quant", "us/base")] == 4 and depth[("q/quant", "cn/base")] == 3


def test_missing_parent_in_a_chain_is_the_root_for_everything_below():
    res = lineage.resolve(graph(**{"a/ft": ["gone/base"], "b/quant": ["a/ft"]}))
    assert roots_of(res)["b/quant"] == {"gone/base": 1.0}
    assert status_of(res)["b/quant"] == "external_root"
    assert res.stats["parents_outside_snapshot"] == 1


def test_a_merge_with_one_missing_parent_is_partly_external():
    res = lineage.resolve(graph(**{"a/base": [], "m/merge": ["a/base", "gone/base"]}))
    assert roots_of(res)["m/merge"] == {"a/base": 0.5, "gone/base": 0.5}
    assert status_of(res)["m/merge"] == "external_root"


def test_self_link_beside_a_real_parent_is_ignored():
    res = lineage.resolve(graph(**{"a/base": [], "s/ft": ["s/ft", "a/base"]}))
    assert roots_of(res)["s/ft"] == {"a/base": 1.0}
    assert status_of(res)["s/ft"] == "resolved"


def test_parent_in_another_case_is_the_model_the_hub_serves():
    res = lineage.resolve(graph(**{"Qwen/Qwen2.5-7B": [], "x/ft": ["qwen/qwen2.5-7b"], "y/ft": ["QWEN/Qwen2.5-7B", "Qwen/Qwen2.5-7B"]}))
    assert roots_of(res)["x/ft"] == {"Qwen/Qwen2.5-7B": 1.0}
    assert status_of(res)["x/ft"] == "resolved"
    # two spellings of one parent are one link, not a merge of the model with itself
    assert roots_of(res)["y/ft"] == {"Qwen/Qwen2.5-7B": 1.0}
    assert res.stats["merges"] == 0 and res.stats["parents_matched_by_case"] == 2


@pytest.mark.parametrize("listed", [["Org/Model", "ORG/model"], ["ORG/model", "Org/Model"]])
def test_a_parent_matching_two_listed_ids_by_case_links_to_the_first_listed(listed):
    # A listing should not hold two ids equal but for case (the Hub refuses the second repo); if one does,
    # the parent matches the first of them, whichever order the listing gives.
    res = lineage.resolve(graph(**{listed[0]: [], listed[1]: [], "x/ft": ["org/MODEL"]}))
    assert roots_of(res)["x/ft"] == {listed[0]: 1.0}
    assert res.stats["parents_matched_by_case"] == 1


RENAMES = pl.DataFrame({"ns_key": ["thudm"], "namespace": ["zai-org"]})


def test_renamed_namespace_in_a_parent_id_resolves_to_the_new_home():
    # THUDM/glm-4-9b is served from zai-org/glm-4-9b, which has a parent of its own
    models = graph(**{"zai-org/glm-4-9b-base": [], "zai-org/glm-4-9b": ["zai-org/glm-4-9b-base"], "x/ft": ["THUDM/glm-4-9b"]})
    res = lineage.resolve(models, redirects=RENAMES)
    assert roots_of(res)["x/ft"] == {"zai-org/glm-4-9b-base": 1.0}
    assert status_of(res)["x/ft"] == "resolved"
    assert res.stats["parents_renamed"] == 1
    # without the registry's rename the walk stops at the old id, outside the snapshot
    assert status_of(lineage.resolve(models))["x/ft"] == "external_root"


def test_renamed_parent_missing_from_the_snapshot_keeps_the_new_namespace():
    res = lineage.resolve(graph(**{"x/ft": ["THUDM/chatglm-6b"]}), redirects=RENAMES)
    assert roots_of(res)["x/ft"] == {"zai-org/chatglm-6b": 1.0}
    assert status_of(res)["x/ft"] == "external_root"



def test_old_and_new_name_of_one_missing_parent_are_one_outside_root():
    # both ids name zai-org/chatglm-6b, which is not in the snapshot: one link, one outside parent, weight 1
    res = lineage.resolve(graph(**{"x/ft": ["THUDM/chatglm-6b", "zai-org/chatglm-6b"], "y/ft": ["x/ft"]}), redirects=RENAMES)
    assert roots_of(res)["x/ft"] == {"zai-org/chatglm-6b": 1.0}
    assert roots_of(res)["y/ft"] == {"zai-org/chatglm-6b": 1.0}
    assert status_of(res) == {"x/ft": "external_root", "y/ft": "external_root"}
    assert (res.stats["links"], res.stats["parents"], res.stats["parents_outside_snapshot"], res.stats["merges"]) == (2, 2, 1, 0)


def test_one_missing_parent_written_in_several_cases_is_one_outside_root():
    # The Hub would serve one repo for gone/Base, gone/base and GONE/BASE: one root, not a merge of three.
    res = lineage.resolve(graph(**{"x/ft": ["gone/Base", "gone/base"], "y/ft": ["GONE/BASE"], "z/ft": ["x/ft", "y/ft"]}))
    assert roots_of(res) == {"x/ft": {"GONE/BASE": 1.0}, "y/ft": {"GONE/BASE": 1.0}, "z/ft": {"GONE/BASE": 1.0}}
    assert (res.stats["parents_outside_snapshot"], res.stats["merges"]) == (1, 1)
    assert status_of(res) == {"x/ft": "external_root", "y/ft": "external_root", "z/ft": "external_root"}


def test_a_model_naming_itself_in_another_case_only_is_an_original():
    # "a/B" is served as A/b itself: the link is dropped; not a self-reference, which names the exact id
    res = lineage.resolve(graph(**{"A/b": ["a/B"], "k/kid": ["a/b"]}))
    assert status_of(res) == {"A/b": "original", "k/kid": "resolved"}
    assert roots_of(res)["k/kid"] == {"A/b": 1.0}
    assert res.self_references.to_list() == []

def test_cycle_with_a_way_out_resolves_through_it():
    # a <-> b is a declared cycle, but a also names r/root: a drops its link into the cycle and resolves
    # through r/root, and b (whose only parent is a) follows it
    res = lineage.resolve(graph(**{"r/root": [], "c/a": ["c/b", "r/root"], "c/b": ["c/a"], "k/kid": ["c/b"]}))
    r = roots_of(res)
    assert r["c/a"] == {"r/root": 1.0} and r["c/b"] == {"r/root": 1.0} and r["k/kid"] == {"r/root": 1.0}
    assert status_of(res) == {"r/root": "original", "c/a": "cycle", "c/b": "cycle", "k/kid": "cycle"}
    assert res.stats["cycle_nodes"] == 2 and res.stats["cycle_links"] == 1


def test_three_cycle_and_a_separate_chain():
    res = lineage.resolve(graph(**{"c/1": ["c/3"], "c/2": ["c/1"], "c/3": ["c/2"], "r/root": [], "d/ft": ["r/root"]}), max_depth=8)
    st = status_of(res)
    assert {st[m] for m in ("c/1", "c/2", "c/3")} == {"cycle"} and st["d/ft"] == "resolved"
    assert all(roots_of(res)[m] == {m: 1.0} for m in ("c/1", "c/2", "c/3"))
    assert res.stats["cycle_examples"] == ["c/1", "c/2", "c/3"]


def test_depth_cap_cuts_the_chain_where_it_exceeds_the_cap():
    chain = {f"d/m{i}": ([f"d/m{i - 1}"] if i else []) for i in range(10)}
    res = lineage.resolve(graph(**chain), max_depth=4)
    r = roots_of(res)
    # m5 would be 5 hops from m0: it stands as root, and m6..m9 count from it
    assert r["d/m4"] == {"d/m0": 1.0} and r["d/m5"] == {"d/m5": 1.0} and r["d/m9"] == {"d/m5": 1.0}
    assert res.stats["depth_capped_nodes"] == 1 and res.stats["max_depth"] == 4


def test_lineage_status_and_roots_cover_every_model_once():
    res = lineage.resolve(graph(**{"a/x": [], "b/y": ["a/x"], "s/s": ["s/s"], "m/m": ["a/x", "b/y"]}))
    assert sorted(res.status.get_column("model_id")) == ["a/x", "b/y", "m/m", "s/s"]
    assert res.stats["status"] == {"original": 1, "resolved": 2, "external_root": 0, "self_reference": 1, "cycle": 0, "depth_cap": 0}


def test_empty_and_parentless_listings():
    empty = lineage.resolve(graph())
    assert empty.roots.is_empty() and empty.status.is_empty()
    flat = lineage.resolve(graph(**{"a/x": [], "b/y": []}))
    assert status_of(flat) == {"a/x": "original", "b/y": "original"}


def _oracle(parents: dict[str, list[str]]) -> dict[str, dict[str, float]]:
    """Roots by plain recursion over an acyclic graph (no code shared with origin.lineage)."""
    memo: dict[str, dict[str, float]] = {}

    def roots(m: str) -> dict[str, float]:
        if m not in memo:
            ps = [p for p in dict.fromkeys(parents.get(m, [])) if p != m]
            out: dict[str, float] = {} if ps else {m: 1.0}
            for p in ps:
                for root, w in roots(p).items():
                    out[root] = out.get(root, 0.0) + w / len(ps)
            memo[m] = out
        return memo[m]

    return {m: roots(m) for m in parents}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_random_acyclic_graphs_match_a_plain_recursive_walk(data):
    n = data.draw(st.integers(1, 25), label="models")
    parents = {}
    for i in range(n):
        # parents among earlier models (acyclic), or outside the snapshot ("gone/…"), or the model itself
        pool = [f"m/{j}" for j in range(i)] + ["gone/a", "gone/b", f"m/{i}"]
        parents[f"m/{i}"] = data.draw(st.lists(st.sampled_from(pool), max_size=3), label=f"parents of m/{i}")
    res = lineage.resolve(graph(**parents))
    expected = _oracle(parents)
    got = roots_of(res)
    assert set(got) == set(expected)
    for m, roots in expected.items():
        assert got[m] == pytest.approx(roots), m
    st_ = status_of(res)
    for m, roots in expected.items():
        declared = [p for p in parents[m] if p != m]
        want = "original" if not parents[m] else "self_reference" if not declared else "external_root" if any(r.startswith("gone/") for r in roots) else "resolved"
        assert st_[m] == want, m


def _reaches_a_cycle(parents: dict[str, list[str]]) -> set[str]:
    """Models from which following declared parents can come back to a model already on the path."""
    bad: set[str] = set()

    def walk(m: str, path: tuple[str, ...]) -> bool:
        if m in path:
            return True
        return any(walk(p, (*path, m)) for p in parents.get(m, []) if p != m)

    for m in parents:
        if walk(m, ()):
            bad.add(m)
    return bad


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_random_graphs_with_cycles_terminate_and_agree_away_from_the_cycles(data):
    n = data.draw(st.integers(1, 12), label="models")
    ids = [f"m/{i}" for i in range(n)]
    parents = {m: data.draw(st.lists(st.sampled_from([*ids, "gone/x"]), max_size=3), label=m) for m in ids}
    res = lineage.resolve(graph(**parents), max_depth=64)
    got = roots_of(res)
    st_ = status_of(res)
    for m in ids:
        assert sum(got[m].values()) == pytest.approx(1.0)
        assert set(got[m]) <= {*ids, "gone/x"}
    cyclic = _reaches_a_cycle(parents)
    expected = _oracle({m: ps for m, ps in parents.items() if m not in cyclic})
    for m in ids:
        if m in cyclic:
            assert st_[m] == "cycle", m
        else:
            assert got[m] == pytest.approx(expected[m]), m


def test_depth_cap_applies_to_a_leaf_that_is_the_first_to_exceed_it():
    # A chain m0 <- m1 <- m2 <- m3 with a cap of 2: m3, which no model names as parent, is the first beyond it.
    g = pl.DataFrame(
        {"model_id": ["d/m0", "d/m1", "d/m2", "d/m3"], "base_model_ids": [[], ["d/m0"], ["d/m1"], ["d/m2"]]},
        schema={"model_id": pl.String, "base_model_ids": pl.List(pl.String)},
    )
    res = lineage.resolve(g, max_depth=2)
    roots = {(m, r): (w, d) for m, r, w, d in res.roots.iter_rows()}
    status = dict(res.status.iter_rows())
    assert roots[("d/m2", "d/m0")] == (1.0, 2)
    assert roots[("d/m3", "d/m3")] == (1.0, 0)  # cut where it exceeds the cap: its own root
    assert (status["d/m2"], status["d/m3"]) == ("resolved", "depth_cap")
    assert res.stats["depth_capped_nodes"] == 1


def test_depth_of_a_root_reached_by_two_paths_is_the_longer_one():
    # m/m merges a/x and b/y, a finetune of a/x: a/x is one hop away and two hops away.
    g = pl.DataFrame(
        {"model_id": ["a/x", "b/y", "m/m"], "base_model_ids": [[], ["a/x"], ["a/x", "b/y"]]},
        schema={"model_id": pl.String, "base_model_ids": pl.List(pl.String)},
    )
    res = lineage.resolve(g)
    got = {m: (r, w, d) for m, r, w, d in res.roots.iter_rows()}
    # weight 1/2 directly + 1/2 through b/y = 1; lineage_depth is the hops to the deepest root: 2
    assert got["m/m"] == ("a/x", pytest.approx(1.0), 2)
    assert res.stats["max_depth"] == 2


def test_a_null_parent_id_is_no_link():
    g = pl.DataFrame(
        {"model_id": ["a/x", "b/y", "c/z"], "base_model_ids": [[None], ["a/x", None], []]},
        schema={"model_id": pl.String, "base_model_ids": pl.List(pl.String)},
    )
    res = lineage.resolve(g)
    assert roots_of(res) == {"a/x": {"a/x": 1.0}, "b/y": {"a/x": 1.0}, "c/z": {"c/z": 1.0}}
    assert status_of(res) == {"a/x": "original", "b/y": "resolved", "c/z": "original"}
    assert (res.stats["links"], res.stats["parents_outside_snapshot"], res.stats["merges"]) == (1, 0, 0)


def test_a_match_by_case_comes_before_the_renamed_namespace():
    # thudm/glm-4 is not in the snapshot as written; THUDM/glm-4 (its case) and zai-org/glm-4 (its new home) are:
    # the case is tried first, as the Hub serves the repo that exists under the id before following a rename
    res = lineage.resolve(graph(**{"THUDM/glm-4": [], "zai-org/glm-4": [], "x/ft": ["thudm/glm-4"]}), redirects=RENAMES)
    assert roots_of(res)["x/ft"] == {"THUDM/glm-4": 1.0}
    assert (res.stats["parents_matched_by_case"], res.stats["parents_renamed"]) == (1, 0)


def test_a_renamed_parent_written_in_another_case_resolves_to_the_new_home():
    # thudm/GLM-4-9B: old namespace and the name's case both differ from zai-org/glm-4-9b in the snapshot
    res = lineage.resolve(graph(**{"zai-org/glm-4-9b": [], "x/ft": ["thudm/GLM-4-9B"]}), redirects=RENAMES)
    assert roots_of(res)["x/ft"] == {"zai-org/glm-4-9b": 1.0}
    assert status_of(res)["x/ft"] == "resolved"
    # matched through the rename, not by case alone
    assert (res.stats["parents_matched_by_case"], res.stats["parents_renamed"], res.stats["parents_outside_snapshot"]) == (0, 1, 0)


def test_nested_cycles_count_each_member_once():
    # {c/a, c/b, c/c} is one strongly connected set (a <-> b <-> c); only c/a names a parent outside it.
    # c/a drops a->b and resolves through r/root; b <-> c then still wait on each other, b names c/a (now
    # outside the rest of the cycle): b drops b->c. 3 members on cycles, 2 links cut.
    res = lineage.resolve(graph(**{"r/root": [], "c/a": ["c/b", "r/root"], "c/b": ["c/a", "c/c"], "c/c": ["c/b"], "k/kid": ["c/c"]}))
    assert all(roots_of(res)[m] == {"r/root": 1.0} for m in ("c/a", "c/b", "c/c", "k/kid"))
    assert status_of(res) == {"r/root": "original", "c/a": "cycle", "c/b": "cycle", "c/c": "cycle", "k/kid": "cycle"}
    assert (res.stats["cycle_nodes"], res.stats["cycle_links"]) == (3, 2)
    assert res.stats["status"]["cycle"] == 4


def test_a_model_between_two_cycles_is_not_cut_as_a_cycle_member():
    # a1 <-> a2 has no way out (each is its own root); x names a1 and sits on no cycle; b1 <-> b2 leaves
    # through x (b1 names x). x, b1, b2 all descend from a1 alone.
    res = lineage.resolve(graph(**{"c/a1": ["c/a2"], "c/a2": ["c/a1"], "x/x": ["c/a1"], "c/b1": ["c/b2", "x/x"], "c/b2": ["c/b1"]}))
    r = roots_of(res)
    assert r["c/a1"] == {"c/a1": 1.0} and r["c/a2"] == {"c/a2": 1.0}
    assert r["x/x"] == {"c/a1": 1.0} and r["c/b1"] == {"c/a1": 1.0} and r["c/b2"] == {"c/a1": 1.0}
    assert set(status_of(res).values()) == {"cycle"}
    assert res.stats["cycle_nodes"] == 4


def test_self_link_beside_a_real_parent_is_counted_as_resolved_not_self_reference():
    res = lineage.resolve(graph(**{"a/base": [], "s/ft": ["s/ft", "a/base"]}))
    assert res.stats["status"] == {"original": 1, "resolved": 1, "external_root": 0, "self_reference": 0, "cycle": 0, "depth_cap": 0}
    assert res.self_references.to_list() == []


def test_cycle_examples_are_the_first_five_ids_in_sort_order():
    ids = [f"c/{i}" for i in range(7)]
    res = lineage.resolve(graph(**{m: [ids[(i + 1) % 7]] for i, m in enumerate(ids)}))
    assert res.stats["cycle_examples"] == ["c/0", "c/1", "c/2", "c/3", "c/4"]
    assert res.stats["cycle_nodes"] == 7


def test_stats_count_links_distinct_parents_and_parent_levels():
    # d/b and d/c are resolved in two levels below the top a/x (d/b, then d/c); m/m merges a/x and d/c;
    # f/ft and z/z name a/x too: 6 links (b->x, c->b, m->x, m->c, f->x, z->x) to 3 distinct parents (x, b, c)
    res = lineage.resolve(
        graph(**{"a/x": [], "d/b": ["a/x"], "d/c": ["d/b"], "m/m": ["a/x", "d/c"], "f/ft": ["a/x"], "z/z": ["a/x"]})
    )
    assert (res.stats["links"], res.stats["parents"], res.stats["merges"]) == (6, 3, 1)
    assert res.stats["parent_levels"] == 2


def test_a_merge_that_reaches_a_capped_root_through_a_cycle_is_a_cycle():
    # d/a3 is 3 hops from d/a0, beyond the cap of 2: it stands as root (depth_cap). c/x <-> c/y is a cycle
    # that leaves through d/a3. m/m reaches d/a3 directly and through c/x: the stronger status, cycle, wins.
    g = {"d/a0": [], "d/a1": ["d/a0"], "d/a2": ["d/a1"], "d/a3": ["d/a2"], "c/x": ["c/y", "d/a3"], "c/y": ["c/x"], "m/m": ["c/x", "d/a3"]}
    res = lineage.resolve(graph(**g), max_depth=2)
    assert roots_of(res)["m/m"] == {"d/a3": 1.0}
    st_ = status_of(res)
    assert (st_["d/a3"], st_["c/x"], st_["m/m"]) == ("depth_cap", "cycle", "cycle")
