"""The context an action receives: the event, its resolved params, and Firestore and logging tools."""

import logging
import re
from dataclasses import dataclass, field
from typing import Any, Callable, TypeVar

from ..errors import ActionError
from ..settings import get_settings

logger = logging.getLogger(__name__)

T = TypeVar("T")

ONCE_COLLECTION = "once"  # subcollection of the event document holding once() markers
# Keys exclude '-', so "{actionId}-{key}" names one (action, key) pair: the key is what follows the last '-'.
ONCE_KEY = re.compile(r"^[A-Za-z0-9_]{1,100}$")
ONCE_STARTED = "started"
ONCE_DONE = "done"


class EventLogger(logging.LoggerAdapter):
    """A logger adapter whose bound fields (endpoint, eventId, action...) merge with a call's own ``extra``.

    The standard LoggerAdapter of Python 3.11 replaces a call's ``extra``
    with its own, which would drop fields such as ``reason``.
    """

    def process(self, msg, kwargs):
        kwargs["extra"] = {**self.extra, **(kwargs.get("extra") or {})}
        return msg, kwargs


@dataclass
class ActionContext:
    """The event, the action's resolved params, and the tools an action may use.

    ``attempt`` counts worker attempts on this event, the first being 1.
    ``logger`` writes lines that carry the endpoint, event id and action id.
    ``db`` is the Firestore client.
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
    expire_at: Any = None  # the event's expireAt, copied to documents stored under it for the TTL policy

    def __post_init__(self):
        if self.logger is None:
            self.logger = EventLogger(logger, {"endpoint": self.endpoint, "eventId": self.event_id,
                                               "docId": self.doc_id, "action": self.action_id,
                                               "attempt": self.attempt})
        elif type(self.logger) is logging.LoggerAdapter:
            self.logger = EventLogger(self.logger.logger, dict(self.logger.extra or {}))

    @property
    def event(self) -> dict:
        """Return the names templates may use: eventId, eventType and endpoint."""
        return {"eventId": self.event_id, "eventType": self.event_type, "endpoint": self.endpoint}

    def once(self, key: str, function: Callable[[], T]) -> T:
        """Call ``function`` at most once for this event, action and ``key``, and return its result.

        A later call with the same key, by a retry, a redelivered task or a
        replay (``--all-actions`` included), returns the stored result of
        the first call without calling ``function``. The result must be a
        value Firestore can store (JSON-like); another value is stored as None.

        The guard is the create-if-absent marker document
        ``webhook_events/{docId}/once/{actionId}-{key}``, written before the
        call with status ``started`` and set to ``done`` with the result
        after it. So the side effect is at-most-once around a crash: a worker
        that stops between the two writes leaves a ``started`` marker, and no
        later attempt calls ``function`` again, because it cannot tell
        whether the effect happened. Such an attempt raises ActionError, so
        the event is retried (a slow earlier worker may still finish) and
        fails after its last attempt with the marker's path in ``lastError``.

        When ``function`` raises, the marker is deleted and the exception
        propagates, so the next attempt calls it again. A function that can
        raise after its effect took place (a timeout on a request the server
        completed) should catch that case itself.

        Raises ValueError for a key that is not 1 to 100 letters, digits or
        '_', and ActionError when an earlier call started and never finished.
        """
        from google.api_core import exceptions
        from google.cloud.firestore import SERVER_TIMESTAMP

        if not isinstance(key, str) or not ONCE_KEY.match(key):
            raise ValueError(f"once() key {key!r} must be 1 to 100 letters, digits or '_'")

        marker = self._once_ref(key)
        try:
            marker.create({"status": ONCE_STARTED, "action": self.action_id, "key": key,
                           "attempt": self.attempt, "startedAt": SERVER_TIMESTAMP, "expireAt": self.expire_at})
        except exceptions.AlreadyExists:
            return self._once_stored_result(marker, key)

        try:
            result = function()
        except Exception:
            # The function failed before it returned, so its effect most likely did not happen.
            self._once_delete_marker(marker, key)
            raise

        try:
            marker.update({"status": ONCE_DONE, "result": result, "finishedAt": SERVER_TIMESTAMP})
        except (TypeError, ValueError) as error:
            self.logger.warning("once(%r) result of type %s cannot be stored in Firestore (%s); stored None",
                                key, type(result).__name__, error, extra={"reason": "once_result_unstorable"})
            marker.update({"status": ONCE_DONE, "result": None, "finishedAt": SERVER_TIMESTAMP})
        return result

    def _once_ref(self, key: str):
        events = self.db.collection(get_settings().events_collection)
        return events.document(self.doc_id).collection(ONCE_COLLECTION).document(f"{self.action_id}-{key}")

    def _once_stored_result(self, marker, key: str):
        stored = marker.get().to_dict() or {}
        if stored.get("status") == ONCE_DONE:
            self.logger.info("once(%r) already ran on attempt %s; returning its stored result", key,
                             stored.get("attempt"), extra={"reason": "once_done"})
            return stored.get("result")
        self.logger.warning("once(%r) started on attempt %s and never finished; not calling it again", key,
                            stored.get("attempt"), extra={"reason": "once_unfinished"})
        raise ActionError(
            f"once({key!r}) started on attempt {stored.get('attempt')} and never finished, so whether its side "
            f"effect happened is unknown; check it, then delete {marker.path} to run it again, "
            f"or set its status to '{ONCE_DONE}' to skip it"
        )

    def _once_delete_marker(self, marker, key: str) -> None:
        from google.api_core import exceptions

        try:
            marker.delete()
        except exceptions.GoogleAPIError as error:
            # The marker stays 'started', so later attempts raise ActionError instead of calling again.
            self.logger.error("once(%r) failed and its marker %s could not be deleted: %s", key, marker.path,
                              error, extra={"reason": "once_marker_kept"})
