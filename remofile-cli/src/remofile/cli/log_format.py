"""How `run` and `start` write their log: lines for people, or JSON for collectors.

With ``--log-format json`` each record is one JSON object on one line: ``time`` (UTC,
ISO 8601), ``level``, ``logger`` and ``message``, plus, for the session lines of
remofile.server.session_log, every fact of the session as its own key (``peer``,
``token``, ``end``, ``duration_s``, ``bytes_up``...), so nothing has to be parsed
out of the message.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timezone

from remofile.server.session_log import RECORD_ATTRIBUTE

#: The logger of the one-line-per-session records, shown at every verbosity.
SESSIONS_LOGGER = "remofile.server.sessions"

#: The text layout of a record.
TEXT_FORMAT = "%(asctime)s %(levelname)s %(message)s"


class JsonFormatter(logging.Formatter):
    """One JSON object per record."""

    def format(self, record: logging.LogRecord) -> str:
        when = datetime.fromtimestamp(record.created, tz=timezone.utc)
        entry: dict[str, object] = {
            "time": when.isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        facts = getattr(record, RECORD_ATTRIBUTE, None)
        if isinstance(facts, dict):
            entry.update(facts)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, sort_keys=False)


def configure_logging(verbose: int, log_format: str) -> None:
    """Warnings (-v: operations, -vv: every request), and one line per session always."""
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    handler = logging.StreamHandler()
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    logging.getLogger(SESSIONS_LOGGER).setLevel(min(level, logging.INFO))
