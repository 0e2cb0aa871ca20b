"""The org registry: which country each Hub namespace belongs to, on what evidence, and since when.

The registry is a reviewed CSV (registry.csv beside this module). Every published share stands on it, so
the loader refuses a file with any inconsistency and names the file and line of each problem rather than
publishing figures built on a typo.

Ownership changes over time (Jina AI was acquired by Elastic in October 2025), so a namespace may have
several rows with non-overlapping validity periods [valid_from, valid_to). A month is attributed with the
rows valid on its last day, because a monthly partition describes the Hub as of the end of the month.

Old names are recorded in one of two ways, never both: an alias (a name with no row of its own that
points at the namespace) or a row of its own with `renamed_to`, when the old name deserves its own source
and note. Either way the canonical namespace is the end of the rename chain, so a month's HHI does not
count THUDM and zai-org as two organisations.
"""

from __future__ import annotations

import calendar
import csv
import datetime as dt
import io
import os
import re
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from dominance_pipeline.origin.countries import UNATTRIBUTED, bloc_of, valid_codes
from dominance_pipeline.settings import REGISTRY_ENV

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

# A Hub namespace (user or organisation name), as huggingface_hub validates it: 1-96 letters, digits, '_', '-'
# and '.', starting and ending with a letter, digit or '_', with no '--' or '..'.
NAMESPACE_PATTERN = re.compile(r"^(?!.*(?:--|\.\.))\w(?:[\w.\-]{0,94}\w)?$")
DATE_PATTERN = re.compile(r"^\d{4}-\d{2}-\d{2}$")

# The lookup every tagger joins on: namespaces match case-insensitively, as on the Hub.
LOOKUP_SCHEMA = {
    "ns_key": pl.String,
    "namespace": pl.String,
    "country": pl.String,
    "is_intermediary": pl.Boolean,
}

ROWS_SCHEMA: dict[str, pl.DataType] = {
    **{c: pl.String for c in COLUMNS},
    "valid_from": pl.Date,
    "valid_to": pl.Date,
    "is_intermediary": pl.Boolean,
    "line": pl.Int64,
}


class RegistryError(ValueError):
    """The registry file is inconsistent; the message names the file and line of every problem."""


@dataclass(frozen=True)
class _Row:
    line: int
    values: dict[str, str]
    valid_from: dt.date | None
    valid_to: dt.date | None

    @property
    def key(self) -> str:
        return self.values["namespace"].lower()

    def valid_on(self, day: dt.date) -> bool:
        return (self.valid_from is None or self.valid_from <= day) and (self.valid_to is None or day < self.valid_to)

    def overlaps(self, other: _Row) -> bool:
        lo = max(self.valid_from or dt.date.min, other.valid_from or dt.date.min)
        hi = min(self.valid_to or dt.date.max, other.valid_to or dt.date.max)
        return lo < hi

    def period(self) -> str:
        return f"[{self.valid_from or '…'}, {self.valid_to or '…'})"


@dataclass(frozen=True)
class Registry:
    """A validated registry: its reviewed rows (one per namespace and validity period) and where it came from."""

    rows: pl.DataFrame
    path: Path
    _rows: tuple[_Row, ...]

    @property
    def namespaces(self) -> int:
        """How many distinct namespaces the registry knows (a namespace with an ownership change has several rows)."""
        return self.rows.get_column("namespace").str.to_lowercase().n_unique()

    def lookup_at(self, day: dt.date) -> pl.DataFrame:
        """The case-insensitive lookup (ns_key, canonical namespace, country, is_intermediary) valid on `day`.

        A namespace's country and intermediary flag come from its own row valid on that day; an alias
        inherits them from the namespace it points at. The canonical name follows `renamed_to` to its end.
        """
        valid = {r.key: r for r in self._rows if r.valid_on(day)}
        entries: dict[str, dict[str, object]] = {}
        for key, row in valid.items():
            entries[key] = {
                "ns_key": key,
                "namespace": _canonical_name(row, valid, self._rows),
                "country": row.values["country"],
                "is_intermediary": row.values["is_intermediary"] == "true",
            }
        for row in valid.values():
            for alias in _aliases(row):
                entries[alias.lower()] = {**entries[row.key], "ns_key": alias.lower()}
        return pl.DataFrame(list(entries.values()), schema=LOOKUP_SCHEMA)


def month_end(month: dt.date) -> dt.date:
    """The last day of `month`: the day a monthly partition is attributed on."""
    return month.replace(day=calendar.monthrange(month.year, month.month)[1])


def configured_path() -> Path:
    """The registry runs read: the file $DOMINANCE_REGISTRY names, else the package's own."""
    return Path(os.environ.get(REGISTRY_ENV) or REGISTRY_PATH)


def load_registry(path: Path | str = REGISTRY_PATH) -> Registry:
    """Read and validate the registry; raise `RegistryError` listing every problem with its line."""
    path = Path(path)
    rows, problems = _read_rows(path)
    if not rows and not problems:  # every model would be UNATTRIBUTED: indices of nothing, not of the Hub
        raise RegistryError(f"org registry {path}: no organisation rows below the header")
    problems += _check_rows(rows)
    if len(problems) == 1:
        (line, msg), = problems
        raise RegistryError(f"org registry {path}:{line}: {msg}")
    if problems:
        problems.sort()
        shown = "\n".join(f"  {path}:{line}: {msg}" for line, msg in problems[:50])
        more = f"\n  ... and {len(problems) - 50} more" if len(problems) > 50 else ""
        raise RegistryError(f"{len(problems)} problem(s) in the org registry {path}:\n{shown}{more}")
    frame = pl.DataFrame(
        [{**r.values, "valid_from": r.valid_from, "valid_to": r.valid_to, "line": r.line} for r in rows],
        schema={**{c: pl.String for c in COLUMNS}, "valid_from": pl.Date, "valid_to": pl.Date, "line": pl.Int64},
        orient="row",
    ).with_columns(pl.col("is_intermediary").eq("true"))
    return Registry(rows=frame.select(list(ROWS_SCHEMA)), path=path, _rows=tuple(rows))


def _parse_date(text: str, column: str, line: int, problems: list[tuple[int, str]]) -> dt.date | None:
    if not text:
        return None
    try:
        if DATE_PATTERN.match(text):
            return dt.date.fromisoformat(text)
    except ValueError:
        pass
    problems.append((line, f"{column} {text!r} is not a date YYYY-MM-DD"))
    return None


def _read_rows(path: Path) -> tuple[list[_Row], list[tuple[int, str]]]:
    problems: list[tuple[int, str]] = []
    if not path.exists():
        raise RegistryError(f"org registry not found: {path}")
    try:
        text = read_utf8(path)
    except ValueError as exc:
        raise RegistryError(f"org registry {exc}") from None
    try:
        return _parse_rows(path, text, problems)
    except csv.Error as exc:
        raise RegistryError(f"org registry {path}: not a readable CSV file ({exc})") from None


def read_utf8(path: Path) -> str:
    """A reviewed file's text; a ValueError naming `path:line` and the byte where it is not UTF-8."""
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ValueError(f"{path}:{line}: not UTF-8 text (byte 0x{raw[exc.start]:02x}); save the file as UTF-8") from None


def _parse_rows(path: Path, text: str, problems: list[tuple[int, str]]) -> tuple[list[_Row], list[tuple[int, str]]]:
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, None)
    if header is None or tuple(header) != COLUMNS:
        raise RegistryError(f"org registry {path}:1: header must be {','.join(COLUMNS)}, found {','.join(header or [])}")
    rows: list[_Row] = []
    line = reader.line_num + 1  # where the next record starts (a quoted field may hold line breaks)
    for values in reader:
        start, line = line, reader.line_num + 1
        if not values or all(not v.strip() for v in values):
            continue
        if any("\n" in v or "\r" in v for v in values):
            # No registry field holds a line break: a quote left open swallowed the lines after it (their rows
            # would silently be gone if the field count still came out right).
            problems.append((start, f"a field runs over lines {start}-{line - 1}: a quote (\") left open?"))
            continue
        if len(values) != len(COLUMNS):
            problems.append((start, f"expected {len(COLUMNS)} fields, found {len(values)}"))
            continue
        row = {c: v.strip() for c, v in zip(COLUMNS, values, strict=True)}
        valid_from = _parse_date(row["valid_from"], "valid_from", start, problems)
        valid_to = _parse_date(row["valid_to"], "valid_to", start, problems)
        rows.append(_Row(start, row, valid_from, valid_to))
    return rows, problems


def _aliases(row: _Row) -> list[str]:
    return [a.strip() for a in row.values["aliases"].split(";") if a.strip()]


def _check_rows(rows: list[_Row]) -> list[tuple[int, str]]:
    problems: list[tuple[int, str]] = []
    rows = [r for r in rows if _check_fields(r, problems)]
    by_key: dict[str, list[_Row]] = {}
    for r in rows:
        for earlier in by_key.get(r.key, []):
            if r.overlaps(earlier):
                problems.append(
                    (r.line, f"namespace {r.values['namespace']!r} {r.period()} overlaps line {earlier.line} {earlier.period()}")
                )
        by_key.setdefault(r.key, []).append(r)
    problems += _check_aliases(rows, by_key)
    problems += _check_renames(rows, by_key)
    return problems


def _check_fields(r: _Row, problems: list[tuple[int, str]]) -> bool:
    """Per-row checks; False when the row is too broken to take part in the cross-row checks."""
    v, line = r.values, r.line
    ns = v["namespace"]
    if not ns:
        problems.append((line, "empty namespace"))
        return False
    if not NAMESPACE_PATTERN.match(ns):
        problems.append((line, f"namespace {ns!r} is not a Hub namespace (letters, digits, '-', '_', '.')"))
    if v["country"] not in valid_codes():
        problems.append((line, f"country {v['country']!r} is not ISO 3166-1 alpha-2, INTL or UNATTRIBUTED"))
    elif v["country"] == UNATTRIBUTED and v["is_intermediary"] != "true":
        problems.append(
            (line, f"{ns!r} is UNATTRIBUTED but not an intermediary: leave a namespace whose country is unknown out of the registry")
        )
    if v["org_type"] not in ORG_TYPES:
        problems.append((line, f"org_type {v['org_type']!r} is not one of {sorted(ORG_TYPES)}"))
    if v["basis"] not in BASES:
        problems.append((line, f"basis {v['basis']!r} is not one of {sorted(BASES)}"))
    if not v["source"]:
        problems.append((line, f"namespace {ns!r} has no source"))
    if v["is_intermediary"] not in ("true", "false"):
        problems.append((line, f"is_intermediary must be true or false, found {v['is_intermediary']!r}"))
    if r.valid_from and r.valid_to and r.valid_from >= r.valid_to:
        problems.append((line, f"valid_from {r.valid_from} is not before valid_to {r.valid_to}"))
    for alias in _aliases(r):
        if not NAMESPACE_PATTERN.match(alias):
            problems.append((line, f"alias {alias!r} is not a Hub namespace"))
    return True


def _check_aliases(rows: list[_Row], by_key: dict[str, list[_Row]]) -> list[tuple[int, str]]:
    problems: list[tuple[int, str]] = []
    owner: dict[str, _Row] = {}
    for r in rows:
        for alias in _aliases(r):
            key = alias.lower()
            if key == r.key:
                problems.append((r.line, f"alias {alias!r} is the namespace itself"))
            elif key in by_key:
                problems.append(
                    (
                        r.line,
                        f"alias {alias!r} is also a namespace (line {by_key[key][0].line}): "
                        f"keep either the alias or that row with renamed_to {r.values['namespace']!r}",
                    )
                )
            elif key in owner and owner[key].key != r.key:
                problems.append((r.line, f"alias {alias!r} is also an alias of {owner[key].values['namespace']!r} (line {owner[key].line})"))
            owner.setdefault(key, r)
    return problems


def _check_renames(rows: list[_Row], by_key: dict[str, list[_Row]]) -> list[tuple[int, str]]:
    problems: list[tuple[int, str]] = []
    for r in rows:
        target = r.values["renamed_to"]
        if not target:
            continue
        if target.lower() not in by_key:
            problems.append((r.line, f"renamed_to {target!r} has no row of its own"))
            continue
        for t in by_key[target.lower()]:
            if r.overlaps(t) and t.values["country"] != r.values["country"]:
                problems.append(
                    (
                        r.line,
                        f"renamed_to {target!r} (line {t.line}) has country {t.values['country']}, this row "
                        f"{r.values['country']}: a rename keeps the owner; record a change of owner with validity dates",
                    )
                )
    return problems + _rename_cycles(rows)


def _rename_cycles(rows: list[_Row]) -> list[tuple[int, str]]:
    """A chain of renames that comes back on itself on some day, followed as lookup_at follows it that day.

    Each day between two validity dates reads the same rows, so checking every such date (and the time
    before the first) checks every day; a namespace renamed differently in two periods is followed in each.
    """
    problems: dict[int, str] = {}
    days = sorted({dt.date.min, *(d for r in rows for d in (r.valid_from, r.valid_to) if d)})
    every = tuple(rows)
    for day in days:
        valid = {r.key: r for r in rows if r.valid_on(day)}
        for r in valid.values():
            _, cycle = _follow(r, valid, every)
            if cycle and r.line not in problems:
                when = "" if day == dt.date.min else f" from {day}"
                problems[r.line] = f"renamed_to cycle{when}: {' -> '.join(cycle)}"
    return sorted(problems.items())


def _follow(row: _Row, valid: dict[str, _Row], rows: tuple[_Row, ...]) -> tuple[str, list[str] | None]:
    """Follow renamed_to to the last name (a target without a row valid that day still names it, through its
    first row); and the chain's keys if it comes back on itself (else None)."""
    name, target, seen = row.values["namespace"], row.values["renamed_to"], [row.key]
    while target:
        if target.lower() in seen:
            return name, [*seen, target.lower()]
        seen.append(target.lower())
        nxt = valid.get(target.lower()) or next((r for r in rows if r.key == target.lower()), None)
        name = nxt.values["namespace"] if nxt else target
        target = nxt.values["renamed_to"] if nxt else ""
    return name, None


def _canonical_name(row: _Row, valid: dict[str, _Row], rows: tuple[_Row, ...]) -> str:
    """Follow renamed_to (validated acyclic) to the last name."""
    return _follow(row, valid, rows)[0]


def attribute(namespaces: pl.Series, lookup: pl.DataFrame) -> pl.DataFrame:
    """The canonical namespace, country, bloc and intermediary flag of each namespace, in order.

    `lookup` is `Registry.lookup_at(day)`. A namespace absent from it keeps its own name and is
    UNATTRIBUTED: never a guess. The same as `attributed`, on one Series: only the few namespaces the
    registry knows are joined and written at their positions (3 million namespaces: 0.2 CPU-s, against 0.4
    for a left join and four columns filled over every row).
    """
    table = _table(lookup).collect()
    hits = namespaces.str.to_lowercase().to_frame("_key").with_row_index("_row").join(table, left_on="_key", right_on="ns_key")
    rows = hits.get_column("_row")
    n = namespaces.len()
    return pl.DataFrame(
        [
            namespaces.clone().scatter(rows, hits.get_column("_canonical")).alias("namespace"),
            pl.repeat(UNATTRIBUTED, n, eager=True).scatter(rows, hits.get_column("country")).alias("country"),
            pl.repeat(UNATTRIBUTED, n, eager=True).scatter(rows, hits.get_column("bloc")).alias("bloc"),
            pl.repeat(False, n, eager=True).scatter(rows, hits.get_column("is_intermediary")).alias("is_intermediary"),
        ]
    )


def _table(lookup: pl.DataFrame) -> pl.LazyFrame:
    """The lookup with each namespace's bloc, its canonical name as _canonical (no nulls but in _canonical)."""
    return (
        lookup.lazy()
        .with_columns(bloc_of(pl.col("country")).alias("bloc"))
        .rename({"namespace": "_canonical"})
        .with_columns(pl.col("country").fill_null(UNATTRIBUTED), pl.col("bloc").fill_null(UNATTRIBUTED), pl.col("is_intermediary").fill_null(False))
    )


ATTRIBUTION = ("namespace", "country", "bloc", "is_intermediary")


def attributed(frame: pl.LazyFrame, namespace: str, lookup: pl.DataFrame) -> pl.LazyFrame:
    """`frame` with the ATTRIBUTION columns of its column `namespace` (replaced if it is called `namespace`).

    Matching is case-insensitive: one lazy join of the lower-cased names on the lookup's keys, so that
    polars spreads it over the cores and a query keeps only the columns it uses (0.3 s for 3 million
    namespaces, 0.1 s when only the country is kept).
    """
    table = _table(lookup)
    # Columns the attribution writes are replaced, never joined beside (a join would rename the registry's).
    own = [c for c in (*ATTRIBUTION, "_key", "_canonical") if c != namespace and c in frame.collect_schema()]
    return (
        frame.drop(own)
        .with_columns(pl.col(namespace).str.to_lowercase().alias("_key"))
        .join(table, left_on="_key", right_on="ns_key", how="left", maintain_order="left")
        .with_columns(
            pl.coalesce("_canonical", namespace).alias("namespace"),
            pl.col("country").fill_null(UNATTRIBUTED),
            pl.col("bloc").fill_null(UNATTRIBUTED),
            pl.col("is_intermediary").fill_null(False),
        )
        .drop("_key", "_canonical")
    )
