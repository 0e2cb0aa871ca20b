"""The registry against Epoch AI's organisation countries, for every namespace both know.

Epoch AI ("Notable AI Models", data/reference/epoch/) gives each model's organisation and that
organisation's country. Which Hub namespaces an Epoch organisation publishes under is an explicit, reviewed
table (data/reference/epoch/namespace_map.csv, matched on Epoch's exact Organization string), never a
fuzzy match made here. Every registry row of a mapped namespace must carry one of Epoch's countries for
that organisation, or say in its note why it does not (the note names Epoch).
"""

from __future__ import annotations

import polars as pl
import pytest

from dominance_pipeline.origin.registry import load_registry
from dominance_pipeline.settings import PROJECT_ROOT

EPOCH = PROJECT_ROOT / "data" / "reference" / "epoch"


@pytest.fixture(scope="module")
def epoch() -> pl.DataFrame:
    return pl.read_csv(EPOCH / "notable_ai_models.csv", infer_schema_length=0).select(
        pl.col("Organization").alias("org"), pl.col("Country (of organization)").alias("countries")
    )


@pytest.fixture(scope="module")
def mapping() -> pl.DataFrame:
    return pl.read_csv(EPOCH / "namespace_map.csv", infer_schema_length=0)


@pytest.fixture(scope="module")
def codes() -> dict[str, str]:
    return dict(pl.read_csv(EPOCH / "country_codes.csv", infer_schema_length=0).iter_rows())


def test_mapping_names_real_organisations_and_registered_namespaces(epoch, mapping):
    orgs = set(epoch.get_column("org").drop_nulls())
    registered = set(load_registry().rows.get_column("namespace"))
    unknown_orgs = sorted(set(mapping.get_column("epoch_organization")) - orgs)
    unknown_ns = sorted(set(mapping.get_column("namespace")) - registered)
    assert not unknown_orgs, f"namespace_map.csv names organisations Epoch does not have: {unknown_orgs}"
    assert not unknown_ns, f"namespace_map.csv names namespaces the registry does not have: {unknown_ns}"
    assert mapping.select(pl.col("namespace").n_unique()).item() >= 100
    assert not mapping.is_duplicated().any()


def test_every_epoch_country_name_has_a_code(epoch, codes):
    names = set(epoch.get_column("countries").drop_nulls().str.split(",").explode().str.strip_chars())
    assert names <= set(codes), f"add to country_codes.csv: {sorted(names - set(codes))}"


def disagreements(rows: pl.DataFrame, epoch: pl.DataFrame, mapping: pl.DataFrame, codes: dict[str, str]) -> list[str]:
    """Registry rows of mapped namespaces whose country Epoch does not give and whose note does not name Epoch."""
    per_org: dict[str, set[str]] = {}
    for org, countries in epoch.drop_nulls().iter_rows():
        per_org.setdefault(org, set()).update(codes[c.strip()] for c in countries.split(","))
    out = []
    for org, ns, _ in mapping.iter_rows():
        for r in rows.filter(pl.col("namespace") == ns).iter_rows(named=True):
            if r["country"] not in per_org[org] and "epoch" not in r["note"].lower():
                out.append(f"{ns} (registry line {r['line']}): {r['country']}, Epoch AI's {org!r}: {sorted(per_org[org])}")
    return out


def test_registry_agrees_with_epoch_or_explains_why(epoch, mapping, codes):
    unexplained = disagreements(load_registry().rows, epoch, mapping, codes)
    assert not unexplained, "registry disagrees with Epoch AI without a note naming Epoch:\n" + "\n".join(unexplained)


def test_explained_disagreements_are_the_known_ones(epoch, mapping, codes):
    """Where the registry departs from Epoch on purpose (each with a note): a reviewer sees the list change."""
    rows = load_registry().rows.with_columns(pl.lit("").alias("note"))
    explained = {line.split(" ")[0] for line in disagreements(rows, epoch, mapping, codes)}
    assert explained == {"EleutherAI", "bigscience", "bigcode", "intfloat", "sensenova", "sentence-transformers"}


def test_the_check_catches_an_unexplained_disagreement(epoch, mapping, codes):
    """A registry that moves DeepSeek to the US without a note fails the check."""
    rows = load_registry().rows.with_columns(
        pl.when(pl.col("namespace") == "deepseek-ai").then(pl.lit("US")).otherwise(pl.col("country")).alias("country")
    )
    found = disagreements(rows, epoch, mapping, codes)
    assert len(found) == 1 and found[0].startswith("deepseek-ai") and "['CN']" in found[0]
