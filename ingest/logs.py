"""Logging set-up: one line per event, as text or as JSON (for log shippers).

A page's outcome is logged with its fields as `extra` (fields()): the text line reads as before, and a JSON line
carries `source`, `outcome`, `url`, `reason` and `ms` as keys a log shipper can filter on, besides `message`.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

# What every LogRecord has of its own: anything else on a record was given as `extra` and goes into the JSON line.
_OWN = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime", "taskName"}


def fields(*, source: str, outcome: str, url: str, reason: str | None = None, ms: int | None = None) -> dict[str, Any]:
    """The `extra` of a line about one fetched or discovered URL: the same keys on every such line."""
    return {"source": source, "outcome": outcome, "url": url, "reason": reason, "ms": ms}


def pass_fields(*, source: str, outcome: str, reason: str | None = None, ms: int | None = None,
                counts: dict[str, int] | None = None) -> dict[str, Any]:
    """The `extra` of a line about one pass over a source: the page lines' keys (`url` is null), `event` "pass",
    `outcome` the pass's (ok, failed, stopped, queued, error), and its counts, so a shipper alerts on fields."""
    return {**fields(source=source, outcome=outcome, url="", reason=reason, ms=ms), "url": None, "event": "pass",
            **(counts or {})}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the record's `extra` fields, the traceback if any."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(), "logger": record.name, "message": record.getMessage(),
        }
        out.update((k, v) for k, v in vars(record).items() if k not in _OWN and k not in out)
        if record.exc_info:
            out["error"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False, default=str)


def setup_logging(*, json_lines: bool = False, level: int = logging.INFO) -> None:
    """Log to stderr; library loggers that chatter per request are turned down."""
    handler = logging.StreamHandler(sys.stderr)
    if json_lines:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%Y-%m-%dT%H:%M:%S"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("httpx", "httpcore", "apscheduler", "trafilatura", "htmldate", "charset_normalizer"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
