"""The Great Expectations suites that gate each month: one per asset, built from the thresholds.

A suite is a list of `Expectation`s, each naming the table it runs on: the asset's partition itself, or a
small frame derived from it in polars where the property is about a total or a group (conservation per
view, shares summing to one, coverage per view). GX validates every table, and every result comes back as
the same plain `Outcome` (the expectation, its severity, how many rows broke it, a sample of their ids),
which is what the Dagster checks show (defs/checks.py) and what the tests assert.

Severity is part of each expectation: an ERROR blocks the month, a WARN informs (the check that runs the
suite takes the worst failed severity). Expectations that cannot run this time (no previous month to compare
with) are reported as skipped with the reason, never silently passed.

GX gets only the columns its expectations name (offenders are named from their row positions afterwards):
converting a whole 1M-row partition, list columns and all, to pandas would cost more than every
expectation together (bench/quality_gates.py). `import great_expectations` takes ~4 s, so it happens on
the first validation in a process, never at import time.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import numbers
import os
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Literal

import polars as pl

from dominance_pipeline.metrics.aggregates import MEASURES, VIEWS, is_new, month_bounds
from dominance_pipeline.metrics.indices import DENOMINATORS, FAMILIES
from dominance_pipeline.metrics.leaderboard import TOP
from dominance_pipeline.metrics.timeseries import CROSSOVER_RUN
from dominance_pipeline.origin import lineage
from dominance_pipeline.origin.countries import BLOCS, UNATTRIBUTED, valid_codes
from dominance_pipeline.origin.release_dates import apply_corrections, load_corrections
from dominance_pipeline.quality.config import Thresholds
from dominance_pipeline.schemas import (
    DOMINANCE_CROSSOVER,
    DOMINANCE_INDICES,
    DOMINANCE_TIMESERIES,
    MONTHLY_AGGREGATES,
    MONTHLY_LEADERBOARD,
    ORIGIN_TAGGED_MODELS,
    RAW_HUB_LISTINGS,
    Schema,
)
from dominance_pipeline.sources.normalise import repeated_hashes

Severity = Literal["ERROR", "WARN"]
ERROR: Severity = "ERROR"
WARN: Severity = "WARN"

CUT_LINEAGE = (lineage.CYCLE, lineage.DEPTH_CAP)
BOARDS = ("model", "namespace")  # metrics/leaderboard.py: the two boards of each view
RAW_COUNTS = ("downloads_30d", "downloads_all_time", "likes")
_COLUMN_KWARGS = ("column", "column_A", "column_B")


@dataclass(frozen=True)
class Expectation:
    """One expectation in the project's words; `gx` names a class of `great_expectations.expectations`."""

    name: str
    table: str
    gx: str
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    severity: Severity = ERROR
    skip: str | None = None
    """Why it is not evaluated this time (for example no previous month): reported as skipped, never failed."""
    rows_are_offenders: bool = False
    """A table-level expectation on a table whose every row is an offender (the quarantine): sample from it."""
    hint: str | None = None
    """Where to look when it fails (for example the quarantine file)."""

    def columns(self) -> list[str]:
        cols = [self.kwargs[k] for k in _COLUMN_KWARGS if k in self.kwargs]
        return [*cols, *self.kwargs.get("column_list", [])]


@dataclass(frozen=True)
class Table:
    """A frame GX validates, and the column whose values name an offending row in samples."""

    frame: pl.DataFrame
    id_column: str


@dataclass(frozen=True)
class Outcome:
    """What one expectation found. `unexpected_count` is None for table-level expectations (see `observed`)."""

    name: str
    severity: Severity
    passed: bool
    unexpected_count: int | None = None
    observed: Any = None
    sample: tuple[str, ...] = ()
    gx: str = ""
    table: str = ""
    skipped: bool = False
    note: str | None = None

    def line(self) -> str:
        """One line for a terminal or a check description."""
        if self.skipped:
            return f"SKIPPED {self.name}: {self.note}"
        found = []
        if self.unexpected_count is not None:
            found.append(f"{self.unexpected_count:,} unexpected")
        if self.observed is not None:
            found.append(f"observed {_fmt(self.observed)}")
        if self.sample:
            found.append("e.g. " + ", ".join(self.sample[:3]))
        if self.note:
            found.append(self.note)
        return f"{self.severity} {self.name}: {'; '.join(found) or 'failed'}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "expectation": self.name,
            "severity": self.severity,
            "passed": self.passed,
            "skipped": self.skipped,
            "unexpected_count": self.unexpected_count,
            "observed": None if self.observed is None else _fmt(self.observed),
            "sample": list(self.sample),
            "gx_expectation": self.gx,
            "table": self.table,
            "note": self.note,
        }


@dataclass(frozen=True)
class SuiteResult:
    """Every outcome of one suite on one partition, and how long GX took."""

    suite: str
    rows: int
    outcomes: tuple[Outcome, ...]
    seconds: float

    def failed(self, severity: Severity | None = None) -> list[Outcome]:
        return [o for o in self.outcomes if not o.passed and (severity is None or o.severity == severity)]

    @property
    def skipped(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.skipped]

    @property
    def evaluated(self) -> int:
        return sum(not o.skipped for o in self.outcomes)

    @property
    def worst(self) -> Severity | None:
        """ERROR if an ERROR expectation failed, else WARN if a WARN one did, else None (all passed)."""
        if self.failed(ERROR):
            return ERROR
        return WARN if self.failed(WARN) else None

    def summary(self) -> str:
        """A first line counting failures, then one line per failed or skipped expectation."""
        failed = self.failed()
        head = (
            f"{len(failed)} of {self.evaluated} expectations failed"
            if failed
            else f"all {self.evaluated} expectations passed"
        )
        return "\n".join([head, *(o.line() for o in failed), *(o.line() for o in self.skipped)])

    def failures_markdown(self) -> str:
        """The failed expectations as a Markdown table (the Dagster UI renders it)."""
        failed = self.failed()
        if not failed:
            return "All expectations passed."
        rows = ["| severity | expectation | unexpected | observed | sample of offenders |", "|---|---|---|---|---|"]
        for o in failed:
            unexpected = "" if o.unexpected_count is None else f"{o.unexpected_count:,}"
            observed = "" if o.observed is None else _fmt(o.observed)
            sample = "; ".join(x for x in (", ".join(f"`{s}`" for s in o.sample), o.note) if x)
            rows.append(f"| {o.severity} | {_md(o.name)} | {unexpected} | {_md(observed)} | {_md(sample)} |")
        return "\n".join(rows)


def _fmt(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, numbers.Real) and math.isnan(value):
        return "NaN"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, numbers.Integral):
        return f"{value:,}"
    if isinstance(value, numbers.Real):
        return f"{value:.6g}"
    return str(value)


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


# ---------------------------------------------------------------------------------------------------------
# Running a suite


@cache
def _gx() -> tuple[Any, Any, Any]:
    """great_expectations, its expectations module and ProgressBarsConfig, imported once (it takes ~4 s)."""
    os.environ["GX_ANALYTICS_ENABLED"] = "False"
    import great_expectations as gx
    import great_expectations.expectations as gxe
    from great_expectations.data_context.types.base import ProgressBarsConfig
    from great_expectations.execution_engine import pandas_execution_engine

    # GX fingerprints every pandas batch under 1 GB (md5 over a hash of every cell, twice per validation:
    # 1 s of a 1M-row suite). The fingerprint is only a batch marker; nothing here reads it.
    pandas_execution_engine.HASH_THRESHOLD = 0
    return gx, gxe, ProgressBarsConfig


_warming: threading.Thread | None = None


def warm_up() -> None:
    """Import GX and set up its context in a background thread, once per process.

    For a process that will run the checks after other work, such as the whole chain in one process
    (`dominance-pipeline materialize`, execute_in_process): the ~4 s import overlaps reading the raw
    listing instead of delaying the first check. Pointless in a process that runs no check.

    Nothing may alter `sys.path` while it imports (see `warmed_up`): a run asks for it with `warm_up_later`,
    and its first step starts it (`warm_up_if_asked`), once Dagster has loaded the job.
    """
    global _warming
    if _warming is None:
        # GX and Dagster's SQLite storage both import SQLAlchemy's ORM; imported from two threads at once it
        # can come out half-initialised ("no attribute 'UnmappedClassError' ... circular import").
        import sqlalchemy.orm  # noqa: F401

        _warming = threading.Thread(target=_warm, name="gx-warm-up", daemon=True)
        _warming.start()


_asked = False


def warm_up_later() -> None:
    """Ask for `warm_up` at the next `warm_up_if_asked`."""
    global _asked
    _asked = True


def warm_up_if_asked() -> None:
    """`warm_up` if `warm_up_later` asked for it in this process (the raw listing's step calls this)."""
    if _asked:
        warm_up()


def warmed_up() -> None:
    """Wait for a warm-up still importing GX (returns at once if none was started or it has finished).

    Loading a job alters `sys.path` in place (Dagster's code pointer takes the script's folder out and
    puts it back), and an import in another thread that walks `sys.path` meanwhile can miss an entry:
    the package is then "not found" halfway through GX's import. What that import had finished stays in
    `sys.modules` without its parent package, and an optional dependency found missing stays missing for
    the process, so the retry in the first check met a half-imported GX (`module jsonschema has no
    attribute exceptions`; a month's raw check failed on it in a CLI backfill, 2026-11-30).
    """
    if _warming is not None:
        _warming.join()


def _warm() -> None:
    """`_batch_definition()` ahead of the first check; a failure here is only a lost head start.

    GX's import looks packages up with importlib.metadata, which can fail while another thread imports
    (seen once in a CLI backfill: an "Exception in thread gx-warm-up" traceback on stderr, the run itself
    fine). The first check builds the context again in its own thread, and a real error surfaces there,
    in the check's result.
    """
    try:
        _batch_definition()
    except Exception:  # noqa: BLE001 - retried by the first check, which reports it
        logging.getLogger(__name__).debug("GX warm-up failed; the first check sets GX up itself", exc_info=True)


@cache
def _batch_definition() -> Any:
    """One in-memory GX context and pandas batch definition per process, fed a new frame at each validation.

    Every asset or batch definition added to a GX context re-serialises the context's whole configuration;
    reusing one keeps a small suite's cost in the validation itself.
    """
    gx, _, progress_bars = _gx()
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = progress_bars(globally=False)
    source = context.data_sources.add_pandas("dominance_pipeline")
    return source.add_dataframe_asset("partition_table").add_batch_definition_whole_dataframe("whole_frame")


def run_suite(
    name: str, tables: Mapping[str, Table], expectations: Sequence[Expectation], sample_size: int = 10
) -> SuiteResult:
    """Validate each table with its expectations in an in-memory GX context; one `Outcome` per expectation.

    A GX error inside an expectation (a missing column, a wrong dtype) is a failed outcome carrying the
    error, never a pass: a gate that cannot evaluate must not open.
    """
    warmed_up()  # functools.cache does not stop a second thread from building the context again
    gx, gxe, _ = _gx()
    start = time.perf_counter()
    whole_frame = _batch_definition()
    outcomes: dict[int, Outcome] = {}
    for i, e in enumerate(expectations):
        if e.table not in tables:
            raise ValueError(f"expectation {e.name!r} names table {e.table!r}; suite {name} has {sorted(tables)}")
        if e.skip is not None:
            outcomes[i] = Outcome(e.name, e.severity, passed=True, gx=e.gx, table=e.table, skipped=True, note=e.skip)
    for table_name, table in tables.items():
        todo = [(i, e) for i, e in enumerate(expectations) if e.table == table_name and e.skip is None]
        # GX copies the whole frame (every row of every column) to drop the rows a pair or multi-column
        # expectation ignores, once per metric: each of those gets a frame of its own columns only
        # (at 3 million models, the tagged suite 2.0 -> 1.1 s). Row positions, hence offenders, are the same.
        narrow = [[(i, e)] for i, e in todo if _copies_domain(e)]
        wide = [(i, e) for i, e in todo if not _copies_domain(e)]
        for group in ([wide] if wide else []) + narrow:
            outcomes |= _validate(gx, gxe, whole_frame, f"{name}.{table_name}", table, group, sample_size)
    ordered = tuple(outcomes[i] for i in range(len(expectations)))
    rows = tables["rows"].frame.height if "rows" in tables else 0
    return SuiteResult(name, rows, ordered, time.perf_counter() - start)


def _copies_domain(e: Expectation) -> bool:
    """A pair or multi-column expectation: GX filters its domain out of the whole frame (see run_suite)."""
    return "column_A" in e.kwargs or "column_list" in e.kwargs


def _validate(
    gx: Any, gxe: Any, whole_frame: Any, suite_name: str, table: Table, todo: Sequence[tuple[int, Expectation]], sample_size: int
) -> dict[int, Outcome]:
    """The outcomes of expectations `todo` (index, expectation) on one frame of `table` holding their columns."""
    outcomes: dict[int, Outcome] = {}
    if todo:
        columns = [c for _, e in todo for c in e.columns()]
        by_equality = {c for c in columns if all(e.gx in _EQUALITY_ONLY for _, e in todo if c in e.columns())}
        nulls_only = {c for c in columns if all(e.gx == _NOT_NULL for _, e in todo if c in e.columns())}
        kept = _pair_domain(todo[0][1], table.frame) if len(todo) == 1 else None
        kwargs = [e.kwargs for _, e in todo] if kept is None else [{**todo[0][1].kwargs, "ignore_row_if": "neither"}]
        frame = _gx_frame(table.frame, columns, by_equality, nulls_only, rows=kept)
        batch = whole_frame.get_batch(batch_parameters={"dataframe": frame})
        suite = gx.ExpectationSuite(
            name=suite_name,
            expectations=[getattr(gxe, e.gx)(**kw, meta={"index": i}) for (i, e), kw in zip(todo, kwargs, strict=True)],
        )
        result_format = {"result_format": "SUMMARY", "partial_unexpected_count": sample_size}
        validation = batch.validate(suite, result_format=result_format)
        by_index = dict(todo)
        for r in validation.results:
            i = int(r.expectation_config.meta["index"])
            outcomes[i] = _outcome(by_index[i], r, table, sample_size)
    return outcomes


def _pair_domain(e: Expectation, frame: pl.DataFrame) -> pl.Series | None:
    """The positions of the rows a pair expectation's `ignore_row_if` keeps, or None to let GX drop them.

    GX drops those rows (pandas' `dropna`, a copy of the domain) once per metric it computes, five times per
    pair expectation: 0.2-0.5 s at 3 million rows. Dropped here once, and GX told to keep every row it is
    given, it meets the same rows. Missing is pandas' missing: null, or NaN in a float column.
    """
    how = e.kwargs.get("ignore_row_if")
    pair = [e.kwargs.get("column_A"), e.kwargs.get("column_B")]
    if how not in ("both_values_are_missing", "either_value_is_missing") or not all(c in frame.columns for c in pair):
        return None
    missing = [pl.col(c).is_null() | (pl.col(c).is_nan() if frame.schema[c].is_float() else pl.lit(False)) for c in pair]
    dropped = pl.all_horizontal(missing) if how == "both_values_are_missing" else pl.any_horizontal(missing)
    return frame.select(pl.arg_where(~dropped.fill_null(False))).to_series()


# Expectations that only compare values for equality (and nullness): they see the same rows fail on
# integer codes of a column as on its values (see _equality_codes).
_NOT_NULL = "ExpectColumnValuesToNotBeNull"
_EQUALITY_ONLY = frozenset({"ExpectColumnValuesToBeUnique", _NOT_NULL})


def _gx_frame(
    frame: pl.DataFrame,
    columns: Sequence[str],
    by_equality: set[str] | frozenset[str] = frozenset(),
    nulls_only: set[str] | frozenset[str] = frozenset(),
    rows: pl.Series | None = None,
) -> Any:
    """The pandas frame GX validates: only the named columns (present ones: GX reports the missing), UTC
    timestamps without their zone (GX's pandas pair comparisons trip a pandas deprecation on tz-aware ones),
    only the `rows` given (positions, kept as the pandas index: GX names offenders by index label).

    Offenders are named afterwards from their row positions, so the id column is converted only when an
    expectation is about it. A table-level expectation alone still needs the row count: a row-number column.
    String columns in `by_equality` (named only by _EQUALITY_ONLY expectations) go as integer codes:
    "model_id is unique" takes 2.1 s on 3 million strings in pandas, 0.1 s on their codes. String columns
    in `nulls_only` (named only by not-null expectations) go as 0 or null: hashing a column of repeated
    values (an author, a month) would send every row through the codes' collision check (1 s at 3M).
    """
    present = [c for c in dict.fromkeys(columns) if c in frame.columns]
    if not present:
        return pl.DataFrame({"_row": pl.int_range(frame.height, eager=True)}).to_pandas()
    df = frame.select(present) if rows is None else frame.select(present)[rows]
    out = df.with_columns(
        *(
            pl.col(c).dt.convert_time_zone("UTC").dt.replace_time_zone(None)
            for c, t in df.schema.items()
            if isinstance(t, pl.Datetime) and t.time_zone is not None
        ),
        *(
            pl.when(pl.col(c).is_not_null()).then(pl.lit(0, pl.Int8)).alias(c) if c in nulls_only else _equality_codes(df.get_column(c))
            for c in present
            if c in by_equality and df.schema[c] == pl.String
        ),
    ).to_pandas()
    if rows is not None:
        out.index = rows.to_numpy()
    return out


def _equality_codes(values: pl.Series) -> pl.Series:
    """Integers equal exactly where `values` are equal, null where they are null.

    A 64-bit hash, checked: wherever two rows share a hash their values must be equal, else (a collision,
    about one chance in four million for 3 million distinct ids) the values' dense rank is used instead.
    The repeated hashes are found by a sort (`repeated_hashes`, as for a listing's ids).
    """
    hashes = values.hash().set(values.is_null(), None)
    repeated = repeated_hashes([hashes.drop_nulls()])
    if not repeated.is_empty():
        shared = hashes.is_in(repeated.implode())
        pairs = pl.DataFrame({"h": hashes.filter(shared), "v": values.filter(shared)})
        if pairs.group_by("h").agg(pl.col("v").n_unique()).get_column("v").max() > 1:  # type: ignore[operator]
            return values.rank("dense").alias(values.name)
    return hashes.alias(values.name)


def _offenders(table: Table, positions: list[int], columns: list[str]) -> list[str]:
    """`id (column=value, ...)` for the rows at `positions`, each id once."""
    if not positions:
        return []
    rows = table.frame.select([table.id_column, *(c for c in columns if c in table.frame.columns)])[positions]
    out: list[str] = []
    for row in rows.iter_rows(named=True):
        label = _fmt(row.pop(table.id_column))
        values = ", ".join(f"{k}={_fmt(v)}" for k, v in row.items())
        entry = f"{label} ({values})" if values else label
        if entry not in out:
            out.append(entry)
    return out


def _outcome(e: Expectation, r: Any, table: Table, sample_size: int) -> Outcome:
    result = r.result or {}
    note = None
    info = r.exception_info or {}
    # GX reports an error either directly or keyed by the metric that raised it.
    errors = [info] if "raised_exception" in info else [v for v in info.values() if isinstance(v, dict)]
    raised = [str(x.get("exception_message")) for x in errors if x.get("raised_exception")]
    if raised:
        note = f"could not be evaluated: {raised[0].splitlines()[0]}"
    unexpected = result.get("unexpected_count")
    positions = [int(p) for p in result.get("partial_unexpected_index_list") or []]
    passed = bool(r.success)
    # GX skips a NaN as it skips a null, but a NaN is no number in any range: an offender (a sum over a NaN
    # weight, a conservation error on a NaN count).
    nan = _nan_positions(e, table)
    if nan.len():
        passed, unexpected = False, (unexpected or 0) + nan.len()
        positions = sorted(set(positions) | set(nan.head(sample_size).to_list()))[:sample_size]
    sample = _offenders(table, positions, [c for c in e.columns() if c != table.id_column])
    observed = result.get("observed_value")
    if e.rows_are_offenders and not passed:
        unexpected, observed = table.frame.height, None
        sample = table.frame.get_column(table.id_column).head(sample_size).cast(pl.String).to_list()
    if e.hint and not passed:
        note = f"{note}; {e.hint}" if note else e.hint
    return Outcome(
        name=e.name,
        severity=e.severity,
        passed=passed,
        unexpected_count=None if unexpected is None else int(unexpected),
        observed=observed,
        sample=tuple(sample),
        gx=e.gx,
        table=e.table,
        note=note,
    )


def _nan_positions(e: Expectation, table: Table) -> pl.Series:
    """Row positions of the NaNs in the column of a range expectation (none for any other expectation)."""
    column = e.kwargs.get("column") if e.gx == "ExpectColumnValuesToBeBetween" else None
    values = table.frame.get_column(column) if column in table.frame.columns else None
    if values is None or not values.dtype.is_float():
        return pl.Series(dtype=pl.UInt32)
    return values.is_nan().fill_null(False).arg_true()


# ---------------------------------------------------------------------------------------------------------
# Shared shapes


def _between(name: str, table: str, column: str, lo: float | None, hi: float | None, **extra: Any) -> Expectation:
    severity = extra.pop("severity", ERROR)
    return Expectation(
        name, table, "ExpectColumnValuesToBeBetween", {"column": column, "min_value": lo, "max_value": hi, **extra}, severity
    )


def _not_null(table: str, column: str, name: str | None = None) -> Expectation:
    return Expectation(name or f"{column} is not null", table, "ExpectColumnValuesToNotBeNull", {"column": column})


def _in_set(name: str, table: str, column: str, values: Sequence[str]) -> Expectation:
    return Expectation(name, table, "ExpectColumnValuesToBeInSet", {"column": column, "value_set": sorted(values)})


def schema_table(df: pl.DataFrame, schema: Schema, stored: Mapping[str, pl.DataType] | None = None) -> Table:
    """One row per column, declared or present, with its declared and actual dtype (null where absent).

    `stored` is the schema of the stored partition (its Parquet footer) when `df` holds only some columns.
    """
    declared = {c: str(t) for c, t in schema.columns.items()}
    actual = {c: str(t) for c, t in (df.schema if stored is None else stored).items()}
    names = [*declared, *(c for c in actual if c not in declared)]
    frame = pl.DataFrame(
        {"column": names, "declared": [declared.get(c) for c in names], "actual": [actual.get(c) for c in names]},
        schema={"column": pl.String, "declared": pl.String, "actual": pl.String},
    )
    return Table(frame, "column")


def schema_expectation(schema: Schema) -> Expectation:
    return Expectation(
        f"columns and dtypes are those declared for {schema.name} (schemas.py)",
        "schema",
        "ExpectColumnPairValuesToBeEqual",
        {"column_A": "declared", "column_B": "actual", "ignore_row_if": "both_values_are_missing"},
    )


# ---------------------------------------------------------------------------------------------------------
# raw_hub_listings


@dataclass(frozen=True)
class RawContext:
    """What the raw suite needs besides the partition: its month, quarantine, and the previous month's size."""

    month: dt.date
    quarantine: pl.DataFrame
    previous_rows: int | None = None
    quarantine_file: str | None = None
    # Why the previous month's raw partition, although on disk, is no listing to compare with (it failed
    # its check): storage.verdicts.
    previous_refused: str | None = None


def previous_month(month: dt.date) -> dt.date:
    return (month.replace(day=1) - dt.timedelta(days=1)).replace(day=1)


RAW_CHECK_COLUMNS = ("model_id", "author", "snapshot_at", "created_at", *RAW_COUNTS)
"""The raw columns the raw suite reads besides the schema (the check loads only these)."""


def raw_tables(raw: pl.DataFrame, ctx: RawContext, stored: Mapping[str, pl.DataType] | None = None) -> dict[str, Table]:
    start, end = month_bounds(ctx.month)
    snapshots = (
        raw.select(pl.col("snapshot_at").unique().drop_nulls())
        .with_columns(
            ((pl.col("snapshot_at") - pl.lit(end)).dt.total_seconds() / 86_400).alias("days_after_month_end"),
            ((pl.col("snapshot_at") - pl.lit(start)).dt.total_seconds() / 86_400).alias("days_after_month_start"),
            pl.col("snapshot_at").dt.strftime("%Y-%m-%d %H:%M UTC").alias("snapshot"),
        )
    )
    # Round-robin over reasons, so that a sample of the first rows shows every kind of rejection.
    quarantine = ctx.quarantine.sort(pl.int_range(pl.len()).over("reason"), "reason", maintain_order=True).select(
        pl.format(
            "{} ({})",
            pl.col("model_id").fill_null("<no id>"),
            pl.concat_str("reason", pl.col("detail"), separator=":", ignore_nulls=True),
        ).alias("offender")
    )
    # Every index is a share of 30-day downloads: a listing without them (a source that lacks the column, left
    # null by normalise) is no month to publish, and says so here rather than as null coverage two steps later.
    downloads = raw.select(pl.lit("downloads_30d").alias("column"), pl.col("downloads_30d").is_not_null().sum().alias("reported"))
    return {
        "schema": schema_table(raw, RAW_HUB_LISTINGS, stored),
        "rows": Table(raw, "model_id"),
        "snapshot": Table(snapshots, "snapshot"),
        "quarantine": Table(quarantine, "offender"),
        "downloads": Table(downloads, "column"),
    }


def raw_expectations(th: Thresholds, raw_rows: int, ctx: RawContext) -> list[Expectation]:
    """The raw suite: schema, ids, counts, dates, quarantine volume, size against last month, snapshot time."""
    t = th.raw_hub_listings
    rows_in = raw_rows + ctx.quarantine.height
    allowed_quarantine = math.floor(t.max_quarantined_fraction * rows_in)
    out = [
        schema_expectation(RAW_HUB_LISTINGS),
        # Never a real month of the Hub: a source that answered nothing, not a listing to publish indices from.
        Expectation("the listing has at least one model", "rows", "ExpectTableRowCountToBeBetween", {"min_value": 1}),
        Expectation("model_id is unique", "rows", "ExpectColumnValuesToBeUnique", {"column": "model_id"}),
        _between(
            "the listing reports 30-day downloads (at least one downloads_30d value: the source has the column)",
            "downloads",
            "reported",
            1 if raw_rows else 0,
            None,
        ),
        *(_not_null("rows", c) for c in ("model_id", "author", "snapshot_at")),
        *(_between(f"{c} within [0, {t.max_count:.0e}]", "rows", c, 0, t.max_count) for c in RAW_COUNTS),
        Expectation(
            "created_at <= snapshot_at",
            "rows",
            "ExpectColumnPairValuesAToBeGreaterThanB",
            {"column_A": "snapshot_at", "column_B": "created_at", "or_equal": True, "ignore_row_if": "either_value_is_missing"},
        ),
        Expectation(
            f"quarantined rows <= {t.max_quarantined_fraction:.2%} of the listing ({allowed_quarantine:,} of {rows_in:,})",
            "quarantine",
            "ExpectTableRowCountToBeBetween",
            {"min_value": 0, "max_value": allowed_quarantine},
            rows_are_offenders=True,
            hint=f"every quarantined row with its reason: {ctx.quarantine_file}" if ctx.quarantine_file else None,
        ),
        _row_count_vs_previous(t.max_shrink, t.max_growth, ctx),
        _between(
            "snapshot taken after the month started (else it is another month's file)",
            "snapshot",
            "days_after_month_start",
            0,
            None,
        ),
        _between(
            f"snapshot taken at most {t.max_snapshot_delay_days:g} days after the month end",
            "snapshot",
            "days_after_month_end",
            None,
            t.max_snapshot_delay_days,
            severity=WARN,
        ),
    ]
    return out


def _row_count_vs_previous(max_shrink: float, max_growth: float, ctx: RawContext) -> Expectation:
    prev = previous_month(ctx.month)
    bounds = f"-{max_shrink:.0%}/+{max_growth:.0%}"
    if ctx.previous_rows is None:
        return Expectation(
            f"row count within {bounds} of {prev:%Y-%m}",
            "rows",
            "ExpectTableRowCountToBeBetween",
            skip=f"{ctx.previous_refused}: nothing accepted to compare with"
            if ctx.previous_refused
            else f"no raw partition for {prev:%Y-%m} to compare with",
        )
    lo = math.ceil(ctx.previous_rows * (1 - max_shrink))
    hi = math.floor(ctx.previous_rows * (1 + max_growth))
    return Expectation(
        f"row count within {bounds} of {prev:%Y-%m} ({ctx.previous_rows:,} rows): {lo:,} to {hi:,}",
        "rows",
        "ExpectTableRowCountToBeBetween",
        {"min_value": lo, "max_value": hi},
    )


def validate_raw(raw: pl.DataFrame, ctx: RawContext, th: Thresholds, stored: Mapping[str, pl.DataType] | None = None) -> SuiteResult:
    """`raw` may hold only RAW_CHECK_COLUMNS if `stored` gives the stored partition's schema."""
    return run_suite(
        "raw_hub_listings", raw_tables(raw, ctx, stored), raw_expectations(th, raw.height, ctx), th.sample_size
    )


# ---------------------------------------------------------------------------------------------------------
# origin_tagged_models


TAGGED_CHECK_COLUMNS = (
    "model_id", "org_country", "root_country", "lineage_status", "created_at", "created_at_hub", "downloads_30d", "lineage_roots",
)  # fmt: skip
"""The origin_tagged_models columns the tagged suite reads besides the schema (the check loads only these)."""


def tagged_tables(tagged: pl.DataFrame, stored: Mapping[str, pl.DataType] | None = None) -> dict[str, Table]:
    weights = pl.col("lineage_roots").list.eval(pl.element().struct.field("weight")).list.sum()
    rows = tagged.select(
        "model_id",
        "org_country",
        "root_country",
        "lineage_status",
        "created_at",
        "created_at_hub",
        weights.fill_null(0.0).alias("root_weight_sum"),
    )
    roots = (
        tagged.lazy()
        .select("model_id", pl.col("downloads_30d").fill_null(0), "lineage_roots")
        .explode("lineage_roots")
        .select(
            "model_id",
            "downloads_30d",
            pl.col("lineage_roots").struct.field("country").alias("root_country"),
            pl.col("lineage_roots").struct.field("weight").alias("weight"),
        )
        .filter(pl.col("root_country").is_not_null() | pl.col("weight").is_not_null())  # an empty list's row
        .collect()
    )
    return {
        "schema": schema_table(tagged, ORIGIN_TAGGED_MODELS, stored),
        "rows": Table(rows, "model_id"),
        "roots": Table(roots, "model_id"),
        "coverage": Table(_coverage(tagged, roots), "view"),
    }


def _coverage(tagged: pl.DataFrame, roots: pl.DataFrame) -> pl.DataFrame:
    """Share of 30-day downloads attributed to a country, per view (null when the month has no downloads).

    The same definition as tagging.coverage (the asset's metadata), from the roots already exploded here.
    """
    known = pl.col("org_country") != UNATTRIBUTED
    total, direct = tagged.select(
        pl.col("downloads_30d").sum().cast(pl.Float64).alias("total"),
        pl.col("downloads_30d").filter(known).sum().cast(pl.Float64).alias("direct"),
    ).row(0)
    lineage_known = roots.select(
        (pl.col("downloads_30d") * pl.col("weight")).filter(pl.col("root_country") != UNATTRIBUTED).sum()
    ).item()
    values = [None, None] if not total else [direct / total, (lineage_known or 0.0) / total]
    return pl.DataFrame({"view": list(VIEWS), "coverage": values}, schema={"view": pl.String, "coverage": pl.Float64})


def tagged_expectations(th: Thresholds) -> list[Expectation]:
    """Valid countries in both views, every lineage walk closed, few walks cut, release dates only moved later,
    enough downloads attributed."""
    t = th.origin_tagged_models
    codes = sorted(valid_codes())
    tol = t.weight_tolerance
    return [
        schema_expectation(ORIGIN_TAGGED_MODELS),
        *(_not_null("rows", c) for c in ("org_country", "root_country")),
        _in_set("org_country is a valid country code (countries.csv)", "rows", "org_country", codes),
        _in_set("root_country is a valid country code (countries.csv)", "rows", "root_country", codes),
        _not_null("roots", "root_country", "every lineage root has a country"),
        _in_set("every lineage root's country is a valid country code", "roots", "root_country", codes),
        _not_null("roots", "weight", "every lineage root has a weight"),
        _between("every lineage root weight is in (0, 1]", "roots", "weight", 0, 1 + tol, strict_min=True),
        _between(
            "root weights sum to 1 for every model (no lineage walk left open)",
            "rows",
            "root_weight_sum",
            1 - tol,
            1 + tol,
        ),
        _in_set("lineage_status is a known status", "rows", "lineage_status", lineage.STATUSES),
        Expectation(
            "created_at >= created_at_hub (a release-date correction only moves a date later)",
            "rows",
            "ExpectColumnPairValuesAToBeGreaterThanB",
            # Both null is a model without a date; one null without the other is a lost or invented date.
            {"column_A": "created_at", "column_B": "created_at_hub", "or_equal": True, "ignore_row_if": "both_values_are_missing"},
        ),
        Expectation(
            f"lineage walks cut at a cycle or the depth cap <= {t.max_cut_lineage_fraction:.2%} of models",
            "rows",
            "ExpectColumnValuesToNotBeInSet",
            {"column": "lineage_status", "value_set": list(CUT_LINEAGE), "mostly": 1 - t.max_cut_lineage_fraction},
        ),
        Expectation(
            "no lineage walk cut at a cycle or the depth cap (root stands at the cut)",
            "rows",
            "ExpectColumnValuesToNotBeInSet",
            {"column": "lineage_status", "value_set": list(CUT_LINEAGE)},
            severity=WARN,
        ),
        _not_null("coverage", "coverage", "attributed download coverage is defined (the month has downloads)"),
        _between(
            f"attributed download coverage >= {t.min_attributed_coverage:.0%} per view",
            "coverage",
            "coverage",
            t.min_attributed_coverage,
            None,
        ),
        _between(
            f"attributed download coverage >= {t.warn_attributed_coverage:.0%} per view",
            "coverage",
            "coverage",
            t.warn_attributed_coverage,
            None,
            severity=WARN,
        ),
    ]


def validate_tagged(tagged: pl.DataFrame, th: Thresholds, stored: Mapping[str, pl.DataType] | None = None) -> SuiteResult:
    """`tagged` may hold only TAGGED_CHECK_COLUMNS if `stored` gives the stored partition's schema."""
    return run_suite("origin_tagged_models", tagged_tables(tagged, stored), tagged_expectations(th), th.sample_size)


# ---------------------------------------------------------------------------------------------------------
# monthly_aggregates

RAW_TOTAL_COLUMNS = ("model_id", "author", "created_at", "downloads_30d", "downloads_all_time", "likes")
"""The raw columns conservation needs (the check loads only these)."""


def raw_totals(raw: pl.DataFrame, month: dt.date, corrections: pl.DataFrame | None = None) -> dict[str, float]:
    """The Hub totals of each measure, straight from the raw partition.

    A model is new in the month of its public release, as origin_tagged_models dates it: the reviewed
    release-date `corrections` (default: the file shipped in the package) apply here too, or every
    corrected model would look lost from one month's new models and invented in another's.
    """
    dated, _ = apply_corrections(raw.select("model_id", "author", "created_at"), load_corrections() if corrections is None else corrections)
    row = raw.select(
        pl.len().cast(pl.Float64).alias("models"),
        pl.lit(float(dated.select(is_new(month).sum()).item())).alias("new_models"),
        pl.col("downloads_30d").fill_null(0).sum().cast(pl.Float64),
        pl.col("downloads_all_time").sum().cast(pl.Float64),
        pl.col("likes").sum().cast(pl.Float64),
    ).row(0, named=True)
    return {m: float(row[m] or 0.0) for m in MEASURES}


def aggregates_tables(
    aggregates: pl.DataFrame, raw: pl.DataFrame, month: dt.date, corrections: pl.DataFrame | None = None
) -> dict[str, Table]:
    totals = raw_totals(raw, month, corrections)
    expected = pl.DataFrame(
        [(v, m, totals[m]) for v in VIEWS for m in MEASURES],
        schema={"view": pl.String, "measure": pl.String, "raw_total": pl.Float64},
        orient="row",
    )
    summed = aggregates.group_by("view").agg(pl.col(m).sum() for m in MEASURES).unpivot(
        index="view", variable_name="measure", value_name="aggregated"
    )
    error = (pl.col("aggregated") - pl.col("raw_total")).abs() / pl.max_horizontal(pl.col("raw_total").abs(), pl.lit(1.0))
    conservation = expected.join(summed, on=["view", "measure"], how="left").select(
        pl.format("{} / {}", "view", "measure").alias("total"),
        "raw_total",
        "aggregated",
        # A view or measure with no rows at all has no total to compare: an infinite error, not a skipped one.
        error.fill_null(float("inf")).alias("relative_error"),
    )
    rows = aggregates.with_columns(
        pl.format("{} / {}", "view", "country").alias("label"),
        pl.min_horizontal(*MEASURES).alias("smallest_count"),
    )
    return {
        "schema": schema_table(aggregates, MONTHLY_AGGREGATES),
        "conservation": Table(conservation, "total"),
        "rows": Table(rows, "label"),
    }


def aggregates_expectations(th: Thresholds) -> list[Expectation]:
    """Conservation per view and measure, one row per (view, country), valid countries and blocs."""
    tol = th.monthly_aggregates.relative_tolerance
    return [
        schema_expectation(MONTHLY_AGGREGATES),
        _between(
            f"conservation: per view and measure, the totals across countries equal the raw totals (relative error <= {tol:g})",
            "conservation",
            "relative_error",
            0,
            tol,
        ),
        Expectation(
            "one row per (view, country)", "rows", "ExpectCompoundColumnsToBeUnique", {"column_list": ["view", "country"]}
        ),
        _in_set("view is direct or lineage", "rows", "view", VIEWS),
        _in_set("country is a valid country code", "rows", "country", sorted(valid_codes())),
        _in_set("bloc is a known bloc", "rows", "bloc", BLOCS),
        _between("every count >= 0 (models, new models, downloads, likes)", "rows", "smallest_count", 0, None),
    ]


def validate_aggregates(
    aggregates: pl.DataFrame, raw: pl.DataFrame, month: dt.date, th: Thresholds, corrections: pl.DataFrame | None = None
) -> SuiteResult:
    tables = aggregates_tables(aggregates, raw, month, corrections)
    return run_suite("monthly_aggregates", tables, aggregates_expectations(th), th.sample_size)


# ---------------------------------------------------------------------------------------------------------
# dominance_indices (one month) and dominance_timeseries (every month): the same rules, groups per month


def indices_tables(ix: pl.DataFrame, schema: Schema = DOMINANCE_INDICES) -> dict[str, Table]:
    index, value = pl.col("index"), pl.col("value")
    is_share = index.str.contains("share")

    def only(rows: pl.Expr) -> pl.Expr:
        # Null outside its kind of index: GX's column expectations skip nulls, so each applies to its rows only.
        return pl.when(rows).then(value)

    rows = ix.with_columns(
        pl.format(
            "{} {} {} {} {}", pl.col("month").dt.strftime("%Y-%m"), "index", "view", "denominator", pl.col("country").fill_null("-")
        ).alias("label"),
        only(is_share).alias("share"),
        only(index.str.starts_with("hhi")).alias("hhi"),
        only(index.str.contains(r"^cr\d+_org$") | (index == "gini_org")).alias("cr_or_gini"),
        only(index == "effective_orgs").alias("effective_orgs"),
        only(index.str.starts_with("china_us_ratio")).alias("china_us_ratio"),
        only(index.str.starts_with("china_us_gap")).alias("china_us_gap"),
        (is_share == pl.col("country").is_not_null()).alias("country_set_iff_share"),
        pl.when(pl.col("denominator") == "attributed").then(pl.col("country")).alias("attributed_country"),
    )
    sums = (
        ix.filter(is_share)
        .group_by("month", "index", "view", "denominator")
        .agg(pl.col("value").sum().alias("total"))
        .with_columns(pl.format("{} {} {} {}", pl.col("month").dt.strftime("%Y-%m"), "index", "view", "denominator").alias("group"))
        .sort("group")
    )
    return {
        "schema": schema_table(ix, schema),
        "rows": Table(rows, "label"),
        "share_sums": Table(sums, "group"),
    }


def indices_expectations(th: Thresholds, schema: Schema = DOMINANCE_INDICES) -> list[Expectation]:
    """Every value a number, one row per key, shares in [0, 1] summing to 1 per group, every index in its range."""
    t = th.dominance_indices
    tol, eps = t.share_sum_tolerance, t.bound_tolerance
    return [
        schema_expectation(schema),
        _not_null("rows", "value", "every value is a number (not null, not NaN)"),
        Expectation(
            "one row per (month, index, view, denominator, country)",
            "rows",
            "ExpectCompoundColumnsToBeUnique",
            {"column_list": ["month", "index", "view", "denominator", "country"]},
        ),
        _in_set("view is direct or lineage", "rows", "view", VIEWS),
        _in_set("denominator is all or attributed", "rows", "denominator", DENOMINATORS),
        _in_set("country is a valid country code", "rows", "country", sorted(valid_codes())),
        _in_set("country is set exactly on the *_share rows", "rows", "country_set_iff_share", [True]),
        Expectation(
            "the attributed denominator has no UNATTRIBUTED row",
            "rows",
            "ExpectColumnValuesToNotBeInSet",
            {"column": "attributed_country", "value_set": [UNATTRIBUTED]},
        ),
        _between("every share is within [0, 1]", "rows", "share", 0, 1),
        _between(
            f"shares sum to 1 within {tol:g} per (month, index, view, denominator)", "share_sums", "total", 1 - tol, 1 + tol
        ),
        _between("HHI within [0, 10,000]", "rows", "hhi", 0, 10_000),
        _between("cr*_org and gini_org within [0, 1]", "rows", "cr_or_gini", -eps, 1 + eps),
        _between("effective_orgs >= 1", "rows", "effective_orgs", 1 - eps, None),
        _between("china_us_ratio* >= 0", "rows", "china_us_ratio", 0, None),
        _between("china_us_gap* within [-1, 1]", "rows", "china_us_gap", -1 - eps, 1 + eps),
    ]


def validate_indices(ix: pl.DataFrame, th: Thresholds) -> SuiteResult:
    return run_suite("dominance_indices", indices_tables(ix), indices_expectations(th), th.sample_size)


def validate_timeseries(ts: pl.DataFrame, th: Thresholds) -> SuiteResult:
    """Every month of the series under the monthly rules; offenders and share groups are named with their month."""
    schema = DOMINANCE_TIMESERIES
    return run_suite(schema.name, indices_tables(ts, schema), indices_expectations(th, schema), th.sample_size)


# ---------------------------------------------------------------------------------------------------------
# monthly_leaderboard


def leaderboard_tables(board: pl.DataFrame) -> dict[str, Table]:
    rows = board.with_columns(
        pl.format("{} {} #{} {}", "board", "view", "rank", "name").alias("label"),
        # Competition rank from the downloads alone: 1 + the entries of the board with more downloads. The
        # board holds everything above its cut, so ranking within it is ranking within the month.
        pl.col("downloads_30d").rank("min", descending=True).over("month", "board", "view").cast(pl.Int32).alias("competition_rank"),
        (pl.col("previous_rank") - pl.col("rank")).alias("previous_rank_minus_rank"),
    )
    return {"schema": schema_table(board, MONTHLY_LEADERBOARD), "rows": Table(rows, "label")}


def leaderboard_expectations(th: Thresholds, top: int) -> list[Expectation]:
    """Ranks are competition ranks within the top `top`, one entry per name, shares in [0, 1], consistent changes."""
    tol = th.monthly_leaderboard.share_tolerance
    return [
        schema_expectation(MONTHLY_LEADERBOARD),
        Expectation(
            "rank = 1 + entries with more downloads (ties share a rank)",
            "rows",
            "ExpectColumnPairValuesToBeEqual",
            {"column_A": "rank", "column_B": "competition_rank"},
        ),
        _between(f"ranks within the top {top}", "rows", "rank", 1, top),
        Expectation(
            "one entry per name per board and view",
            "rows",
            "ExpectCompoundColumnsToBeUnique",
            {"column_list": ["month", "board", "view", "name"]},
        ),
        _in_set("board is model or namespace", "rows", "board", BOARDS),
        _in_set("view is direct or lineage", "rows", "view", VIEWS),
        _in_set("country is a valid country code", "rows", "country", sorted(valid_codes())),
        _between("downloads_30d >= 0", "rows", "downloads_30d", 0, None),
        _between("share within [0, 1]", "rows", "share", 0, 1 + tol),
        _between("previous_rank >= 1", "rows", "previous_rank", 1, None),
        # Both null (no previous rank) is fine; one null without the other is not, and neither is a wrong value.
        Expectation(
            "rank_change = previous_rank - rank",
            "rows",
            "ExpectColumnPairValuesToBeEqual",
            {"column_A": "rank_change", "column_B": "previous_rank_minus_rank", "ignore_row_if": "both_values_are_missing"},
        ),
    ]


def validate_leaderboard(board: pl.DataFrame, th: Thresholds, top: int = TOP) -> SuiteResult:
    return run_suite("monthly_leaderboard", leaderboard_tables(board), leaderboard_expectations(th, top), th.sample_size)


# ---------------------------------------------------------------------------------------------------------
# dominance_crossover


def crossover_tables(cross: pl.DataFrame) -> dict[str, Table]:
    rows = cross.with_columns(
        pl.format("{} {}", "family", "view").alias("label"),
        pl.col("crossover_month").dt.offset_by(f"{CROSSOVER_RUN - 1}mo").alias("crossover_run_end"),
    )
    return {"schema": schema_table(cross, DOMINANCE_CROSSOVER), "rows": Table(rows, "label")}


def crossover_expectations() -> list[Expectation]:
    """One row per (family, view); a crossover month lies in the series with its whole run of led months."""

    def after(name: str, later: str, earlier: str) -> Expectation:
        kwargs = {"column_A": later, "column_B": earlier, "or_equal": True, "ignore_row_if": "either_value_is_missing"}
        return Expectation(name, "rows", "ExpectColumnPairValuesAToBeGreaterThanB", kwargs)

    return [
        schema_expectation(DOMINANCE_CROSSOVER),
        Expectation("one row per (family, view)", "rows", "ExpectCompoundColumnsToBeUnique", {"column_list": ["family", "view"]}),
        _in_set("family is a share family of the index set", "rows", "family", sorted(FAMILIES)),
        _in_set("view is direct or lineage", "rows", "view", VIEWS),
        _between("months_observed >= 1", "rows", "months_observed", 1, None),
        after("last_month >= first_month", "last_month", "first_month"),
        after("crossover_month >= first_month", "crossover_month", "first_month"),
        after(
            f"the crossover's {CROSSOVER_RUN} led months end by last_month", "last_month", "crossover_run_end"
        ),
        _between("latest_ratio >= 0", "rows", "latest_ratio", 0, None),
    ]


def validate_crossover(cross: pl.DataFrame, th: Thresholds) -> SuiteResult:
    return run_suite("dominance_crossover", crossover_tables(cross), crossover_expectations(), th.sample_size)
