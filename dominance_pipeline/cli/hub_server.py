"""`dominance-pipeline hub-server`: a local Hugging Face-compatible Hub, for offline runs, demos and benchmarks.

    dominance-pipeline hub-server --port 8765 --snapshot data/sample/hub_stats_2026-05.parquet \\
        --as-of 2026-06-05T00:00:00Z --fault 429:every=4

then `materialize --source live --endpoint http://127.0.0.1:8765`. Stops on Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import datetime as dt
import signal
import sys
from pathlib import Path

from dominance_pipeline.cli.errors import UserError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "hub-server",
        help="serve a local Hugging Face-compatible Hub (model listing, snapshot datasets, faults)",
        description="Serve GET /api/models from snapshot files, and snapshot dataset repos for the archive source.",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=0, help="port to bind (default 0: any free port, printed on start)")
    p.add_argument("--snapshot", nargs="+", action="extend", default=[], metavar="FILE",
                   help="hub-stats-shaped Parquet file(s) whose models /api/models lists")
    p.add_argument("--weekly-snapshot", action="append", default=[], metavar="DATE=FILE",
                   help="add models/DATE/models.parquet to a repo laid out like hfmlsoc/hub_weekly_snapshots")
    p.add_argument("--daily-snapshot", action="append", default=[], metavar="TIME=FILE",
                   help="add a commit at TIME replacing models.parquet in a repo laid out like cfahlgren1/hub-stats")
    p.add_argument("--page-size", type=int, default=1000, help="models per page, and the largest limit honoured (default 1000)")
    p.add_argument("--as-of", metavar="TIME",
                   help="the time the server reports (Date header), e.g. when the served snapshot was taken; default: now")
    p.add_argument("--fault", action="append", default=[], metavar="SPEC",
                   help="inject a fault, NAME[:key=value,...]: 429, 5xx, slow, drop (see hubserver/faults.py)")
    p.add_argument("--ready-file", type=Path, help="write the server's URL to this file once it accepts connections")
    p.add_argument("--log-requests", action="store_true", help="print one line per request")
    p.set_defaults(func=run)


def _pairs(values: list[str], flag: str) -> list[tuple[str, Path]]:
    out = []
    for value in values:
        when, eq, file = value.partition("=")
        if not eq or not Path(file).is_file():
            raise UserError(f"{flag} wants DATE=FILE with an existing file, got {value!r}")
        out.append((when, Path(file)))
    return out


def build_server(args: argparse.Namespace):  # -> HubServer
    import polars as pl
    import pyarrow as pa

    from dominance_pipeline.hubserver import HubServer
    from dominance_pipeline.hubserver.faults import parse_fault
    from dominance_pipeline.hubserver.models import ModelCorpus
    from dominance_pipeline.hubserver.repos import daily_repo, parse_when, weekly_repo

    missing = [f for f in args.snapshot if not Path(f).is_file()]
    if missing:
        raise UserError(f"snapshot file not found: {', '.join(missing)}")
    if args.page_size < 1:
        raise UserError("--page-size must be at least 1")
    try:
        faults = [parse_fault(spec) for spec in args.fault]
        weekly = [(dt.date.fromisoformat(d), f) for d, f in _pairs(args.weekly_snapshot, "--weekly-snapshot")]
        daily = [(parse_when(d), f) for d, f in _pairs(args.daily_snapshot, "--daily-snapshot")]
        as_of = parse_when(args.as_of) if args.as_of else None
    except ValueError as exc:
        raise UserError(str(exc)) from None
    repos = ([weekly_repo(weekly)] if weekly else []) + ([daily_repo(daily)] if daily else [])
    try:
        corpus = ModelCorpus.from_parquet(args.snapshot) if args.snapshot else None
    except (OSError, pa.ArrowException, pl.exceptions.PolarsError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise UserError(f"--snapshot {', '.join(args.snapshot)} is not a readable hub-stats Parquet file: {first}") from None
    if args.ready_file and not Path(args.ready_file).parent.is_dir():
        raise UserError(f"--ready-file {args.ready_file}: its folder does not exist")
    try:
        return HubServer(corpus, repos, faults, host=args.host, port=args.port, page_size=args.page_size,
                         as_of=as_of, log_requests=args.log_requests)
    except OSError as exc:
        raise UserError(f"cannot listen on {args.host}:{args.port}: {exc.strerror}") from None
    except OverflowError as exc:  # a port beyond 65535
        raise UserError(f"cannot listen on {args.host}:{args.port}: {exc}") from None


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def run(args: argparse.Namespace) -> int:
    server = build_server(args)
    signal.signal(signal.SIGTERM, _interrupt)
    models = len(server.corpus) if server.corpus is not None else 0
    print(f"fake Hub on {server.url}: {models:,} models, datasets {sorted(server.repos) or 'none'}, "
          f"faults {[f.name for f in server.faults] or 'none'}" + (f", clock fixed at {server.as_of:%Y-%m-%dT%H:%M:%SZ}" if server.as_of else ""),
          flush=True)
    if args.ready_file:
        args.ready_file.write_text(server.url + "\n")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.httpd.server_close()
        stats = server.stats.as_json()
        print(f"fake Hub stopped: {stats['pages_sent']} pages, {stats['models_sent']:,} models, statuses {stats['statuses']}",
              file=sys.stderr, flush=True)
    return 0
