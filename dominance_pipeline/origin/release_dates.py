"""Release-date corrections: models whose Hub repo was created before the model was publicly released.

A lab often creates the repo days or weeks before launch (Kimi-K2.5: 26 days), so the Hub's createdAt
would count the model as new in the wrong month. The reviewed list (release_date_corrections.csv, from the
ATOM Project) gives the public release date; the tagged listing uses it as `created_at` where, and only
where, the Hub's createdAt precedes it, and keeps the Hub's own value in `created_at_hub` so every
correction can be audited. A release date before the Hub's createdAt is not applied: the weights could not
be downloaded from the Hub before the repo existed.
"""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import polars as pl

from dominance_pipeline.origin.registry import DATE_PATTERN, read_utf8
from dominance_pipeline.schemas import UTC_TS

CORRECTIONS_PATH = Path(__file__).with_name("release_date_corrections.csv")
COLUMNS = ("model_id", "hf_created_at", "actual_release_date", "notes")
CORRECTIONS_SCHEMA = {
    "model_id": pl.String,
    "hf_created_at": pl.Date,
    "actual_release_date": pl.Date,
    "notes": pl.String,
    "line": pl.Int64,
}


class CorrectionsError(ValueError):
    """The corrections file is inconsistent; the message names the file and line of every problem."""


def load_corrections(path: Path | str = CORRECTIONS_PATH) -> pl.DataFrame:
    """Read and validate the corrections (lines starting with # are comments)."""
    path = Path(path)
    if not path.exists():
        raise CorrectionsError(f"release-date corrections not found: {path}")
    problems: list[str] = []
    rows: list[dict[str, object]] = []
    seen: dict[str, int] = {}
    try:
        text = read_utf8(path)
    except ValueError as exc:
        raise CorrectionsError(str(exc)) from None
    numbered = enumerate(text.splitlines(), start=1)
    lines = [(n, line) for n, line in numbered if line.strip() and not line.lstrip().startswith("#")]
    if not lines or next(csv.reader([lines[0][1]])) != list(COLUMNS):
        raise CorrectionsError(f"{path}:{lines[0][0] if lines else 1}: header must be {','.join(COLUMNS)}")
    for n, text in lines[1:]:
        values = next(csv.reader([text]))
        if text.count('"') % 2:  # one record a line: a quote left open would hide the problem, not span lines
            problems.append(f"{path}:{n}: a quote (\") is left open")
            continue
        if len(values) != len(COLUMNS):
            problems.append(f"{path}:{n}: expected {len(COLUMNS)} fields, found {len(values)}")
            continue
        model_id, created, released, notes = (v.strip() for v in values)
        if model_id.count("/") != 1:
            problems.append(f"{path}:{n}: model_id {model_id!r} is not namespace/name")
        if model_id.lower() in seen:
            problems.append(f"{path}:{n}: model_id {model_id!r} repeats line {seen[model_id.lower()]}")
        seen.setdefault(model_id.lower(), n)
        dates = []
        for column, value in (("hf_created_at", created), ("actual_release_date", released)):
            try:
                if not DATE_PATTERN.match(value):  # fromisoformat also reads 2025-W01-1 and 20250102
                    raise ValueError(value)
                dates.append(dt.date.fromisoformat(value))
            except ValueError:
                problems.append(f"{path}:{n}: {column} {value!r} is not a date YYYY-MM-DD")
        if len(dates) == 2:
            rows.append({"model_id": model_id, "hf_created_at": dates[0], "actual_release_date": dates[1], "notes": notes, "line": n})
    if problems:
        raise CorrectionsError(f"{len(problems)} problem(s) in the release-date corrections:\n  " + "\n  ".join(problems))
    return pl.DataFrame(rows, schema=CORRECTIONS_SCHEMA)


def apply_corrections(frame: pl.DataFrame, corrections: pl.DataFrame) -> tuple[pl.DataFrame, dict[str, object]]:
    """`frame` with `created_at` set to the public release where the Hub's createdAt precedes it, and `created_at_hub`.

    Model ids match case-insensitively, as on the Hub; only rows of the corrected namespaces are
    compared, so this stays cheap on a full snapshot. Returns what was applied and what was not.
    """
    keys = corrections.select(
        pl.col("model_id").str.to_lowercase().alias("key"),
        pl.col("actual_release_date").cast(pl.Datetime("us")).dt.replace_time_zone("UTC").cast(UTC_TS).alias("released"),
    )
    namespaces = keys.get_column("key").str.split("/").list.first().unique()
    listed = (
        frame.lazy()
        .with_row_index("row")
        .filter(pl.col("author").str.to_lowercase().is_in(namespaces.implode()))
        .with_columns(pl.col("model_id").str.to_lowercase().alias("key"))
        .join(keys.lazy(), on="key", how="inner")
        .select("row", "model_id", "created_at", "released")
        .collect()
    )
    applies = pl.col("created_at").is_not_null() & (pl.col("created_at") < pl.col("released"))
    applied = listed.filter(applies)
    notes: dict[str, object] = {
        "listed_in_snapshot": listed.height,
        "applied": applied.get_column("model_id").sort().to_list(),
        "not_applied": listed.filter(~applies).get_column("model_id").sort().to_list(),
    }
    hub = frame.get_column("created_at")
    corrected = hub.clone().scatter(applied.get_column("row"), applied.get_column("released")) if applied.height else hub
    return frame.with_columns(hub.alias("created_at_hub"), corrected.alias("created_at")), notes
