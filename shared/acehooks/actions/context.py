"""What an action receives about the event it runs for."""

import logging
from dataclasses import dataclass, field
from typing import Any


@dataclass
class ActionContext:
    """The event, the action's resolved params, and the tools an action may use.

    ``attempt`` counts worker attempts on this event, the first being 1.
    """

    endpoint: str
    event_id: str
    event_type: str | None
    doc_id: str
    payload: Any
    model: dict
    params: dict
    attempt: int
    action_id: str
    db: Any = None
    logger: logging.LoggerAdapter = field(default=None)

    @property
    def event(self) -> dict:
        """Return the names templates may use: eventId, eventType and endpoint."""
        return {"eventId": self.event_id, "eventType": self.event_type, "endpoint": self.endpoint}
