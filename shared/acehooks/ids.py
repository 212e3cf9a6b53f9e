"""Document ids and task ids derived from an endpoint and an event id.

Firestore document ids may not contain ``/``, be ``.`` or ``..``, match
``__.*__`` or exceed 1,500 bytes. Cloud Tasks task ids allow only letters,
digits, ``-`` and ``_``, up to 500 characters. One id fits both: a readable
part (endpoint and event id with other characters replaced by ``_``) and a
SHA-256 prefix of the exact pair, so ids that differ only in replaced
characters still get different documents.
"""

import hashlib
import re

UNSAFE = re.compile(r"[^A-Za-z0-9_-]")
READABLE_LENGTH = 120  # characters of the event id kept in the readable part
HASH_LENGTH = 16  # hex characters of SHA-256 (64 bits)


def body_event_id(body: bytes) -> str:
    """Return the event id used when the endpoint has no id source: SHA-256 of the raw body."""
    return "sha256-" + hashlib.sha256(body).hexdigest()


def event_doc_id(endpoint: str, event_id: str) -> str:
    """Return the ``webhook_events`` document id for one endpoint's event; it is also the idempotency key."""
    digest = hashlib.sha256(f"{endpoint}\x00{event_id}".encode()).hexdigest()[:HASH_LENGTH]
    readable = UNSAFE.sub("_", event_id)[:READABLE_LENGTH]
    return f"{endpoint}-{readable}-{digest}"


def task_id(doc_id: str, suffix: str | None = None) -> str:
    """Return the Cloud Tasks task id for an event; each replay or sweep passes its own suffix.

    Cloud Tasks rejects a task name reused within about nine days of the
    first task with that name, even after it completed, so a second run of
    an event needs a new name such as ``{doc_id}-replay1``.
    """
    return doc_id if not suffix else f"{doc_id}-{suffix}"


def queue_id(endpoint: str) -> str:
    """Return the endpoint's queue id (Cloud Tasks queue ids allow letters, digits and '-')."""
    return endpoint.replace("_", "-")
