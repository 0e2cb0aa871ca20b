"""Checks a command makes before it starts a Dagster run: the files and folders the run will read or write.

A broken registry or thresholds file, or a DAGSTER_HOME that is not a folder, is a mistake the user fixes
by editing a file: it is reported as one `UserError` (exit status 2) naming the file and the line or key,
before a half-hour live listing is fetched only to fail at the step that reads the file.
"""

from __future__ import annotations

from pathlib import Path

from dominance_pipeline.cli.errors import UserError


def check_inputs() -> None:
    """Load the registry and thresholds the run's resources point at; a UserError naming each problem."""
    from dominance_pipeline.defs.resources import build_resources
    from dominance_pipeline.origin.registry import RegistryError
    from dominance_pipeline.quality.config import ThresholdsError
    from dominance_pipeline.settings import paths

    where = paths()
    resources = build_resources(where)
    try:
        resources["quality"].thresholds()  # type: ignore[attr-defined]
        resources["registry"].load()  # type: ignore[attr-defined]
    except (RegistryError, ThresholdsError) as exc:
        raise UserError(str(exc)) from None
    check_writable(where.warehouse)


def check_writable(warehouse: Path) -> None:
    """The warehouse folder, or the nearest folder it would be made in, is a folder this process may write:
    a data dir that is a file or read-only is said before a run starts, not as the raw step's failure after
    the listing was read. Nothing is created here."""
    import os

    existing = warehouse
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    problem = "Not a directory" if not existing.is_dir() else None if os.access(existing, os.W_OK | os.X_OK) else "not writable"
    if problem:
        data_dir = os.environ.get("DOMINANCE_DATA_DIR")
        named = f" (DOMINANCE_DATA_DIR={data_dir})" if data_dir else ""
        where = "" if existing == warehouse else f" ({existing} is in the way)"
        raise UserError(f"the warehouse {warehouse}{named} cannot be written: {problem}{where}")


def prepare_instance() -> Path:
    """Make sure the Dagster instance folder exists (ensure_dagster_home), as a UserError if it cannot; return it."""
    import os

    from dominance_pipeline.instance import ensure_dagster_home

    try:
        return ensure_dagster_home()
    except OSError as exc:
        where = exc.filename or os.environ.get("DAGSTER_HOME", "")
        raise UserError(f"DAGSTER_HOME {where} cannot hold the Dagster instance: {exc.strerror or exc}") from None
    except Exception as exc:  # noqa: BLE001 - a dagster.yaml the user edited: name it, with Dagster's first line
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise UserError(f"the Dagster instance in {os.environ.get('DAGSTER_HOME', '')} cannot be opened (check its dagster.yaml): {first}") from None


def check_endpoint(endpoint: str | None, source: str) -> None:
    """The Hub a live or archive run calls, --endpoint or else $HF_ENDPOINT, is an http(s) URL: a mistyped
    variable failed inside the run with "Request URL is missing an 'http://' or 'https://' protocol"."""
    import os

    if source == "local":
        return
    given, name = (endpoint, "--endpoint") if endpoint else (os.environ.get("HF_ENDPOINT"), "HF_ENDPOINT")
    if given and not given.startswith(("http://", "https://")):
        raise UserError(f"{name} must be an http(s) URL, got {given!r}")
