"""`dominance-pipeline`: the command line. Each subcommand lives in its own module and registers itself here.

User mistakes (a bad month, a missing file) end with one line on stderr and exit status 2; a pipeline
failure ends with the failing step and its reason and exit status 1.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

from dominance_pipeline.cli import backfill, hub_server, materialize, registry_gaps, report, synth
from dominance_pipeline.cli.errors import UserError

# Each module exposes `register(subparsers) -> None`, setting `func` on its parser.
COMMANDS: list[Callable[[argparse._SubParsersAction], None]] = [
    materialize.register, report.register, registry_gaps.register, hub_server.register, synth.register,
    backfill.register,
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dominance-pipeline",
        description="Monthly dominance indices of open models on the Hugging Face Hub, by country.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for register in COMMANDS:
        register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except UserError as exc:
        print(f"dominance-pipeline {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader (head, less) stopped early: not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
