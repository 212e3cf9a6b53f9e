"""Claims on an event, so that one worker at a time runs its actions.

A claim is the create-if-absent write of ``{event}/claims/{generation}``,
committed in one batch with the event's new ``attempts`` and ``lease``.
Firestore lets exactly one create of a document succeed, and the local
emulator enforces that too, whereas it does not isolate transactions. So
two workers that both see generation N free race to create N + 1, and one
loses with ALREADY_EXISTS. A worker may claim only when the current lease
has expired or was released, and generations only grow.
"""

import logging
import os
import socket
import uuid
from dataclasses import dataclass

from . import clock, events

logger = logging.getLogger(__name__)

# Seconds before a lease's expiry at which its holder stops starting new actions, which leaves
# room for the writes that record the last one. Leases shorter than 50 s use a tenth of their length.
LEASE_MARGIN_SECONDS = 5

WORKER_ID = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class LeaseHeld(Exception):
    """Another worker holds a live lease on the event, or won the race for it."""


@dataclass(frozen=True)
class Claim:
    doc_id: str
    generation: int
    expires_at: float  # Unix seconds
    lease_seconds: int

    def is_live(self) -> bool:
        """Return True while the holder may still start an action."""
        margin = min(LEASE_MARGIN_SECONDS, self.lease_seconds / 10)
        return clock.now_seconds() < self.expires_at - margin


def lease_is_free(event: dict, now: float) -> bool:
    """Return True when no worker holds a live lease on ``event``."""
    lease = event.get("lease") or {}
    return float(lease.get("expiresAt") or 0) <= now


def lease_expiry(now: float, lease_seconds: int) -> float:
    """Return the Unix time in seconds at which a lease taken at ``now`` expires."""
    return now + lease_seconds


def claim(doc_id: str, event: dict, lease_seconds: int) -> Claim:
    """Take the next lease generation on the event read as ``event``.

    Raises LeaseHeld when a live lease exists or another worker claimed first.
    """
    from google.api_core import exceptions
    from google.cloud.firestore import SERVER_TIMESTAMP

    now = clock.now_seconds()
    if not lease_is_free(event, now):
        raise LeaseHeld(f"lease on {doc_id} is held until {event['lease'].get('expiresAt')}")

    generation = int(event.get("attempts") or 0) + 1
    expires_at = lease_expiry(now, lease_seconds)
    lease = {"generation": generation, "expiresAt": expires_at, "worker": WORKER_ID}

    ref = events.event_ref(doc_id)
    batch = ref._client.batch()
    # expireAt lets the TTL policy delete the claim with its event.
    batch.create(ref.collection("claims").document(str(generation)),
                 {**lease, "claimedAt": SERVER_TIMESTAMP, "expireAt": event.get("expireAt")})
    batch.update(ref, {
        "status": events.PROCESSING,
        "attempts": generation,
        "lease": lease,
        "updatedAt": SERVER_TIMESTAMP,
    })
    try:
        batch.commit()
    except exceptions.AlreadyExists:
        raise LeaseHeld(f"generation {generation} of {doc_id} was claimed by another worker") from None
    return Claim(doc_id=doc_id, generation=generation, expires_at=expires_at, lease_seconds=lease_seconds)


def release_fields() -> dict:
    """Return the event fields that end a lease, so the next delivery may claim at once."""
    return {"lease.expiresAt": 0}
