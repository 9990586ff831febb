"""Structured logs: one JSON object per line, carrying the request id, never a secret."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import datetime
import json
import logging
import sys
import time
from typing import Any, TextIO

# The X-Request-Id of the request being served, for every log line written while serving it.
request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "sluice_request_id", default=None
)

# Record attributes that are not a line's own fields. uvicorn's `color_message` repeats the
# message with ANSI colour escapes, which have no place in JSON lines.
_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "color_message"}


_second_text: tuple[int, str] = (-1, "")


def iso_time(timestamp: float) -> str:
    """`2026-11-23T17:20:00.123+00:00` (UTC, milliseconds); the seconds part is formatted once
    per second, not per line."""
    global _second_text
    second = int(timestamp)
    if _second_text[0] != second:
        text = datetime.datetime.fromtimestamp(second, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S")
        _second_text = (second, text)
    return f"{_second_text[1]}.{int((timestamp - second) * 1000):03d}+00:00"


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": iso_time(record.created),
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


# grpc's loggers (grpc._cython.cygrpc writes a DEBUG line per event-loop poll) and asyncio's,
# which SLUICE_LOG_LEVEL=debug would otherwise flood; SLUICE_GRPC_LOG_LEVEL sets them.
GRPC_LOGGERS = ("grpc", "asyncio")


def configure(level: str = "INFO", grpc_level: str = "WARNING") -> None:
    """Send every logger (ours, uvicorn's, grpc's) through one JSON handler on stderr; grpc's
    own (and asyncio's) at grpc_level, so DEBUG shows Sluice's lines, not the event loop's."""
    # Skip what our JSON lines never show (the logging HOWTO's "Optimization"): the caller's
    # file and line (a stack walk per record), thread, process and multiprocessing names.
    # Every response writes an access-log line, so this is per-request cost.
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    global _access_stream
    _access_stream = sys.stderr
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "litestar"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    for name in GRPC_LOGGERS:
        logging.getLogger(name).setLevel(grpc_level)


_access_log = logging.getLogger("sluice.access")
# Where access lines go once configure() has run; before that they take the logging path.
_access_stream: TextIO | None = None
# Lines made during the current turn of each event loop, written at the turn's end.
_access_lines: dict[asyncio.AbstractEventLoop, list[str]] = {}


def access(fields: dict[str, Any]) -> None:
    """One access-log line (the same JSON shape as every other line) for a response.

    Every response writes one, so it skips the logging module's per-record work (a
    LogRecord, handler locks, a write and flush per line: a large share of a 1-event
    request's cost), and the lines of one event-loop turn are written together at its end.
    The `sluice.access` logger's level still switches it on and off.
    """
    stream = _access_stream
    if stream is None:
        _access_log.info("request", extra=fields)
        return
    if not _access_log.isEnabledFor(logging.INFO):
        return
    line = {"time": iso_time(time.time()), "level": "info", "logger": _access_log.name}
    text = json.dumps({**line, "message": "request", **fields}, default=str)
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:  # no loop: write it now
        _write_lines(stream, [text])
        return
    waiting = _access_lines.get(loop)
    if waiting is None:
        waiting = _access_lines[loop] = []
        loop.call_soon(_write_access_lines, stream, loop)
    waiting.append(text)


def _write_access_lines(stream: TextIO, loop: asyncio.AbstractEventLoop) -> None:
    _write_lines(stream, _access_lines.pop(loop, []))


def _write_lines(stream: TextIO, lines: list[str]) -> None:
    with contextlib.suppress(OSError, ValueError):  # stderr closed or gone: lose the lines
        stream.write("".join(f"{line}\n" for line in lines))
        stream.flush()
