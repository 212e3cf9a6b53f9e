"""Structured JSON log lines in the format Cloud Logging reads from stdout.

Each record becomes one line with ``severity``, ``message`` and, when the
caller passes them through ``extra``, ``endpoint``, ``eventId`` and any other
field listed in ``EVENT_FIELDS``.
"""

import json
import logging
import sys
import time

# Fields copied from a record's ``extra`` into the JSON line when present.
EVENT_FIELDS = (
    "endpoint",
    "eventId",
    "eventType",
    "docId",
    "reason",
    "status",
    "attempt",
    "action",
    "durationMs",
    "taskName",
    "error",
)


class CloudLoggingFormatter(logging.Formatter):
    """Format a record as one JSON object per line, with UTC timestamps."""

    converter = time.gmtime

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "severity": record.levelname,
            "message": record.getMessage(),
            "logger": record.name,
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
        }

        for field in EVENT_FIELDS:
            value = getattr(record, field, None)
            if value is not None:
                entry[field] = value

        if record.exc_info:
            entry["stack_trace"] = self.formatException(record.exc_info)

        return json.dumps(entry, default=str)


def configure(level: int = logging.INFO) -> None:
    """Send acehooks' log records to stdout as JSON lines; safe to call more than once."""
    logger = logging.getLogger("acehooks")
    if any(getattr(handler, "_acehooks", False) for handler in logger.handlers):
        return

    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(CloudLoggingFormatter())
    handler._acehooks = True
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False


def event_fields(endpoint: str, event_id: str | None, **more) -> dict:
    """Build the ``extra`` mapping that ties a log line to one event."""
    fields = {"endpoint": endpoint, "eventId": event_id}
    fields.update(more)
    return fields
