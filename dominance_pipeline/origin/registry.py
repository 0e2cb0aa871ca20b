"""The org registry: which country each Hub namespace belongs to, and on what evidence.

The registry is a reviewed CSV (registry.csv beside this module), one row per namespace with its source.
Every published share stands on it, so the loader refuses a file with any inconsistency and names the
file and line of each problem rather than publishing figures built on a typo.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from dominance_pipeline.origin.countries import UNATTRIBUTED, valid_codes

REGISTRY_PATH = Path(__file__).with_name("registry.csv")

COLUMNS = (
    "namespace",
    "org_name",
    "country",
    "org_type",
    "basis",
    "source",
    "aliases",
    "renamed_to",
    "valid_from",
    "valid_to",
    "is_intermediary",
    "note",
)
ORG_TYPES = frozenset({"company", "academic", "nonprofit", "community", "individual"})
BASES = frozenset({"headquarters", "parent company", "legal seat"})

# The lookup every tagger joins on: namespaces match case-insensitively, as on the Hub.
LOOKUP_SCHEMA = {
    "ns_key": pl.String,
    "namespace": pl.String,
    "country": pl.String,
    "is_intermediary": pl.Boolean,
}


class RegistryError(ValueError):
    """The registry file is inconsistent; the message names the file and line of every problem."""


@dataclass(frozen=True)
class Registry:
    """A validated registry: the reviewed rows and the case-insensitive lookup derived from them."""

    rows: pl.DataFrame
    lookup: pl.DataFrame
    path: Path


def load_registry(path: Path | str = REGISTRY_PATH) -> Registry:
    """Read and validate the registry; raise `RegistryError` listing every problem with its line."""
    path = Path(path)
    rows, problems = _read_rows(path)
    problems += _check_rows(rows)
    if problems:
        shown = "\n".join(f"  {path}:{line}: {msg}" for line, msg in problems[:50])
        more = f"\n  ... and {len(problems) - 50} more" if len(problems) > 50 else ""
        raise RegistryError(f"{len(problems)} problem(s) in the org registry:\n{shown}{more}")
    frame = pl.DataFrame(
        [{k: v for k, v in r.items() if k != "_line"} for r in rows],
        schema={c: pl.String for c in COLUMNS},
        orient="row",
    ).with_columns(pl.col("is_intermediary").eq("true"))
    return Registry(rows=frame, lookup=_lookup(rows), path=path)


def _read_rows(path: Path) -> tuple[list[dict[str, str]], list[tuple[int, str]]]:
    problems: list[tuple[int, str]] = []
    if not path.exists():
        raise RegistryError(f"org registry not found: {path}")
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if header is None or tuple(header) != COLUMNS:
            raise RegistryError(f"{path}:1: header must be {','.join(COLUMNS)}, found {','.join(header or [])}")
        rows = []
        for values in reader:
            line = reader.line_num
            if not values or all(not v.strip() for v in values):
                continue
            if len(values) != len(COLUMNS):
                problems.append((line, f"expected {len(COLUMNS)} fields, found {len(values)}"))
                continue
            row = {c: v.strip() for c, v in zip(COLUMNS, values, strict=True)}
            row["_line"] = str(line)
            rows.append(row)
    return rows, problems


def _check_rows(rows: list[dict[str, str]]) -> list[tuple[int, str]]:
    problems: list[tuple[int, str]] = []
    codes = valid_codes()
    first_line: dict[str, int] = {}
    for r in rows:
        line = int(r["_line"])
        ns = r["namespace"]
        if not ns:
            problems.append((line, "empty namespace"))
            continue
        key = ns.lower()
        if key in first_line:
            problems.append((line, f"namespace {ns!r} repeats line {first_line[key]}"))
        first_line.setdefault(key, line)
        if r["country"] not in codes:
            problems.append((line, f"country {r['country']!r} is not ISO 3166-1 alpha-2, INTL or UNATTRIBUTED"))
        if r["org_type"] not in ORG_TYPES:
            problems.append((line, f"org_type {r['org_type']!r} is not one of {sorted(ORG_TYPES)}"))
        if r["basis"] not in BASES:
            problems.append((line, f"basis {r['basis']!r} is not one of {sorted(BASES)}"))
        if not r["source"]:
            problems.append((line, f"namespace {ns!r} has no source"))
        if r["is_intermediary"] not in ("true", "false"):
            problems.append((line, f"is_intermediary must be true or false, found {r['is_intermediary']!r}"))
    by_key = {r["namespace"].lower(): r for r in rows if r["namespace"]}
    for r in rows:
        target = r["renamed_to"]
        if target and target.lower() not in by_key:
            problems.append((int(r["_line"]), f"renamed_to {target!r} has no row of its own"))
    for r in rows:
        seen = [r["namespace"].lower()]
        cur = r
        while cur["renamed_to"]:
            nxt = cur["renamed_to"].lower()
            if nxt in seen:
                problems.append((int(r["_line"]), f"renamed_to cycle: {' -> '.join(seen + [nxt])}"))
                break
            if nxt not in by_key:
                break
            seen.append(nxt)
            cur = by_key[nxt]
    return problems


def _canonical(rows_by_key: dict[str, dict[str, str]], key: str) -> dict[str, str]:
    row = rows_by_key[key]
    while row["renamed_to"] and row["renamed_to"].lower() in rows_by_key:
        row = rows_by_key[row["renamed_to"].lower()]
    return row


def _lookup(rows: list[dict[str, str]]) -> pl.DataFrame:
    by_key = {r["namespace"].lower(): r for r in rows}
    entries: dict[str, dict[str, object]] = {}
    for key in by_key:
        canon = _canonical(by_key, key)
        entries[key] = {
            "ns_key": key,
            "namespace": canon["namespace"],
            "country": canon["country"],
            "is_intermediary": canon["is_intermediary"] == "true",
        }
    for r in rows:
        for alias in filter(None, (a.strip() for a in r["aliases"].split(";"))):
            entries.setdefault(alias.lower(), {**entries[r["namespace"].lower()], "ns_key": alias.lower()})
    return pl.DataFrame(list(entries.values()), schema=LOOKUP_SCHEMA)


def attribute_namespaces(namespaces: pl.Expr, lookup: pl.DataFrame) -> tuple[pl.Expr, pl.Expr, pl.Expr]:
    """Expressions giving the canonical namespace, country and intermediary flag of a namespace column.

    A namespace absent from the registry keeps its own name and is UNATTRIBUTED: never a guess.
    """
    key = namespaces.str.to_lowercase()
    keys = lookup.get_column("ns_key")
    canonical = key.replace_strict(keys, lookup.get_column("namespace"), default=None).fill_null(namespaces)
    country = key.replace_strict(keys, lookup.get_column("country"), default=UNATTRIBUTED)
    intermediary = key.replace_strict(keys, lookup.get_column("is_intermediary"), default=False)
    return canonical, country, intermediary
