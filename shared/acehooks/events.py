"""The ``webhook_events`` documents: creating, reading and the status values."""

from datetime import datetime, timedelta, timezone
from typing import Any

from .clients import firestore_client
from .settings import get_settings

RECEIVED = "received"
PROCESSING = "processing"
RETRYING = "retrying"
SUCCEEDED = "succeeded"
FAILED = "failed"
IGNORED = "ignored"
INVALID = "invalid"

# Action record statuses: an action skipped as out of order counts as done.
SKIPPED = "skipped"
ACTION_DONE_STATUSES = frozenset({SUCCEEDED, SKIPPED})

# Statuses after which the worker has nothing left to do.
FINAL_STATUSES = frozenset({SUCCEEDED, FAILED, IGNORED, INVALID})


def event_ref(doc_id: str):
    return firestore_client().collection(get_settings().events_collection).document(doc_id)


def new_event(endpoint: str, event_id: str, event_type: str | None, status: str, *,
              retention_days: int, **fields: Any) -> dict:
    """Build a new event document; Firestore fills the server timestamps.

    ``expireAt`` is the field Firestore's TTL policy deletes the event by.
    """
    from google.cloud.firestore import SERVER_TIMESTAMP

    document = {
        "endpoint": endpoint,
        "eventId": event_id,
        "eventType": event_type,
        "status": status,
        "receivedAt": SERVER_TIMESTAMP,
        "updatedAt": SERVER_TIMESTAMP,
        "completedAt": None,
        "attempts": 0,
        "lastError": None,
        "actions": {},
        # Present from the start because the local emulator rejects ArrayUnion on a missing field.
        "replays": [],
        "expireAt": datetime.now(timezone.utc) + timedelta(days=retention_days),
    }
    document.update(fields)
    return document
