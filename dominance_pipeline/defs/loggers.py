"""A terminal logger that prints one line per message: the CLI's progress, without stack traces.

Dagster's console logger prints every error with its full trace; a user who mistyped a snapshot path needs
the reason, which the CLI prints itself at the end. Traces stay in the run's event log (make ui).
"""

import logging
import sys

import dagster as dg


class _SkipCascade(logging.Filter):
    """Drop the one-per-downstream-step 'Dependencies ... Not executing' lines; the CLI sums them up."""

    def filter(self, record: logging.LogRecord) -> bool:
        meta = getattr(record, "dagster_meta", None) or {}
        return not str(meta.get("orig_message") or record.getMessage()).startswith("Dependencies for step")


class _OneLine(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        meta = getattr(record, "dagster_meta", None) or {}
        step = meta.get("step_key") or ""
        text = str(meta.get("orig_message") or record.getMessage()).strip().splitlines()
        first = text[0] if text else ""
        return f"{self.formatTime(record, '%H:%M:%S')} {record.levelname:<7} {step:<28} {first}"


@dg.logger(
    config_schema={"log_level": dg.Field(str, default_value="INFO")},
    description="One line per message on stderr, no stack traces (the CLI's progress).",
)
def concise_console(init_context: dg.InitLoggerContext) -> logging.Logger:
    logger = logging.getLogger("dominance_pipeline.run")
    logger.handlers.clear()
    logger.propagate = False
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_OneLine())
    handler.addFilter(_SkipCascade())
    logger.addHandler(handler)
    logger.setLevel(init_context.logger_config["log_level"])
    return logger


LOGGERS = {"concise_console": concise_console}
