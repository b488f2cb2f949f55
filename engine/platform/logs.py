"""Logs as one JSON object per line (DHR_LOG_FORMAT=json), for a journal or a log collector.

Each record carries its time (UTC), level, logger and message, whatever the code that is running
bound to the context (a web request binds its id, then its user and case reference as it learns
them; never a personal name), and the `dhr` fields a record was logged with (`extra={"dhr": ...}`).
"""

from __future__ import annotations

import json
import logging
import sys
from contextvars import ContextVar, Token
from datetime import UTC, datetime
from typing import Any

from .errors import SettingsError

FORMATS = ("json", "text")
_context: ContextVar[dict[str, Any] | None] = ContextVar("dhr_log_context", default=None)


def bind(**values: Any) -> Token[dict[str, Any] | None]:
    """Start a context (a request) whose values every record logged in it carries."""
    return _context.set(dict(values))


def note(**values: Any) -> None:
    """Add values to the current context (the signed-in user, the case a request is about)."""
    current = _context.get()
    if current is not None:
        current.update(values)


def context() -> dict[str, Any]:
    return dict(_context.get() or {})


def unbind(token: Token[dict[str, Any] | None]) -> None:
    _context.reset(token)


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "pid": record.process,  # which worker
        }
        entry.update(_context.get() or {})
        entry.update(getattr(record, "dhr", None) or {})
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


# Libraries that tell every step at INFO (APScheduler: each run of a job, every second;
# SpiffWorkflow: each task's change of state, several per unit of work); their warnings and errors
# still show. (SpiffWorkflow's `spiff.task` at DEBUG would also log task data: personal data.)
QUIET = ("apscheduler", "alembic", "spiff")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def formatter(log_format: str) -> logging.Formatter:
    """The formatter for DHR_LOG_FORMAT (`json` or `text`).

    Raises:
        SettingsError: neither.
    """
    if log_format not in FORMATS:
        raise SettingsError(f"DHR_LOG_FORMAT must be json or text, not {log_format!r}")
    return JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT)


def configure(log_format: str, level: int = logging.INFO) -> None:
    """Send every record at `level` and above to stderr, in `log_format`, replacing other handlers."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter(log_format))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for name in QUIET:
        logging.getLogger(name).setLevel(max(level, logging.WARNING))
