"""The ``webhook_events`` documents: creating, reading and the status values."""

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

# Statuses after which the worker has nothing left to do.
FINAL_STATUSES = frozenset({SUCCEEDED, FAILED, IGNORED, INVALID})


def event_ref(doc_id: str):
    return firestore_client().collection(get_settings().events_collection).document(doc_id)


def new_event(endpoint: str, event_id: str, event_type: str | None, status: str, **fields: Any) -> dict:
    """Build a new event document; Firestore fills the server timestamps."""
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
    }
    document.update(fields)
    return document
