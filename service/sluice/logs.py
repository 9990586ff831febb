"""Structured logs: one JSON object per line, carrying the request id, never a secret."""

from __future__ import annotations

import contextvars
import datetime
import json
import logging
import sys
from typing import Any

# The X-Request-Id of the request being served, for every log line written while serving it.
request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "sluice_request_id", default=None
)

_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.datetime.fromtimestamp(record.created, datetime.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        current = request_id.get()
        if current is not None:
            line["request_id"] = current
        # Fields passed with `extra=` (e.g. status, route) become keys of their own.
        line.update({k: v for k, v in record.__dict__.items() if k not in _STANDARD})
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def configure(level: str = "INFO") -> None:
    """Send every logger (ours, uvicorn's, grpc's) through one JSON handler on stderr."""
    # Skip what our JSON lines never show (the logging HOWTO's "Optimization"): the caller's
    # file and line (a stack walk per record), thread, process and multiprocessing names.
    # Every response writes an access-log line, so this is per-request cost.
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "litestar"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
