"""Structured JSON logs in the shape Cloud Logging parses from stdout.

One JSON object per line with `severity`, `message`, `time`, and, when a request
carried a trace header, `logging.googleapis.com/trace`. Extra keyword fields are
kept as top-level fields (jsonPayload), so they can be filtered in the console.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import json
import sys
from typing import Any

from shared.platform import config

_trace: contextvars.ContextVar[str | None] = contextvars.ContextVar("trace", default=None)
_fields: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar("fields", default=None)


def bind_trace(header: str | None, project: str | None = None) -> None:
    """Bind the trace from an `X-Cloud-Trace-Context` or `traceparent` header."""
    if not header:
        _trace.set(None)
        return
    if header.startswith("00-"):  # W3C traceparent: 00-<trace>-<span>-<flags>
        parts = header.split("-")
        trace_id = parts[1] if len(parts) > 1 else ""
    else:  # X-Cloud-Trace-Context: TRACE_ID/SPAN_ID;o=1
        trace_id = header.split("/")[0]
    project = project or config.trace_project()
    _trace.set(f"projects/{project}/traces/{trace_id}" if trace_id else None)


def bind(**fields: Any) -> None:
    """Attach fields to every later log line of this request (e.g. app, delivery)."""
    current = dict(_fields.get() or {})
    current.update(fields)
    _fields.set(current)


def clear() -> None:
    _fields.set(None)
    _trace.set(None)


LEVELS = {"DEBUG": 10, "INFO": 20, "WARNING": 30, "ERROR": 40}
_to_stderr = False  # for the whole process: a command's worker threads log there too


def to_stderr() -> None:
    """For command-line tools: keep stdout for the command's own output (`-o json`)."""
    global _to_stderr
    _to_stderr = True


def _emit(severity: str, message: str, fields: dict[str, Any]) -> None:
    if LEVELS[severity] < LEVELS.get(config.log_level(), 20):
        return
    entry: dict[str, Any] = {
        "severity": severity,
        "message": message,
        "time": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds"),
    }
    trace = _trace.get()
    if trace:
        entry["logging.googleapis.com/trace"] = trace
    entry.update(_fields.get() or {})
    entry.update(fields)
    stream = sys.stderr if _to_stderr else sys.stdout
    stream.write(json.dumps(entry, default=str, separators=(",", ":")) + "\n")
    stream.flush()


def debug(message: str, **fields: Any) -> None:
    _emit("DEBUG", message, fields)


def info(message: str, **fields: Any) -> None:
    _emit("INFO", message, fields)


def warning(message: str, **fields: Any) -> None:
    _emit("WARNING", message, fields)


def error(message: str, **fields: Any) -> None:
    _emit("ERROR", message, fields)
