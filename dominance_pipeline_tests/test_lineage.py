"""Lineage on hand-made graphs whose roots and weights can be checked by eye."""

from __future__ import annotations

import polars as pl
import pytest

from dominance_pipeline.origin import lineage


def graph(**parents: list[str]) -> pl.DataFrame:
    return pl.DataFrame(
        {"model_id": list(parents), "base_model_ids": list(parents.values())},
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


@pytest.mark.parametrize("n", [1, 7])
def test_weights_sum_to_one_per_model(n):
    parents = {f"p/{i}": [] for i in range(n)}
    parents["m/x"] = list(parents)
    res = lineage.resolve(graph(**parents))
    sums = res.roots.group_by("model_id").agg(pl.col("weight").sum())
    assert sums.get_column("weight").to_list() == pytest.approx([1.0] * sums.height)
