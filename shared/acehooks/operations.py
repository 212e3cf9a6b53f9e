"""Operating on stored events: list, show, replay and sweep.

Used by the CLI and by the scheduled sweeper function.
"""

import logging
import re
from datetime import datetime, timedelta, timezone

from . import clock, dispatch, events, extraction
from .clients import firestore_client
from .config import EndpointConfig
from .payloads import read_payload, storable_model
from .settings import get_settings

logger = logging.getLogger(__name__)

DEFAULT_SWEEP_AGE_SECONDS = 600  # events untouched this long are considered stuck
SWEEP_LIMIT = 500  # events per status read by one sweep run
RELATIVE_TIME = re.compile(r"^(\d+)([smhd])$")
UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class OperationError(Exception):
    """A replay or lookup cannot be done; the message explains why and what to do."""


def parse_since(text: str) -> datetime:
    """Parse ``2h``, ``30m``, ``1d``, ``45s`` (ago) or an ISO 8601 time; naive times are UTC.

    Raises ValueError naming the value and the accepted forms.
    """
    match = RELATIVE_TIME.match(text.strip())
    if match:
        amount, unit = match.groups()
        return datetime.now(timezone.utc) - timedelta(seconds=int(amount) * UNIT_SECONDS[unit])
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"--since {text!r} is not a time; use 30m, 2h, 1d or an ISO 8601 time") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def events_collection():
    return firestore_client().collection(get_settings().events_collection)


def list_events(endpoint: str | None = None, status: str | None = None, since: datetime | None = None,
                limit: int = 100) -> list[tuple[str, dict]]:
    """Return (doc id, event) pairs, newest first."""
    from google.cloud.firestore import Query
    from google.cloud.firestore_v1.base_query import FieldFilter

    query = events_collection()
    if endpoint:
        query = query.where(filter=FieldFilter("endpoint", "==", endpoint))
    if status:
        query = query.where(filter=FieldFilter("status", "==", status))
    if since:
        query = query.where(filter=FieldFilter("receivedAt", ">=", since))
    query = query.order_by("receivedAt", direction=Query.DESCENDING).limit(limit)
    return [(snapshot.id, snapshot.to_dict()) for snapshot in query.stream()]


def find_event(identifier: str) -> tuple[str, dict]:
    """Find an event by document id, or else by provider event id.

    Raises OperationError when none or several events match.
    """
    from google.cloud.firestore_v1.base_query import FieldFilter

    snapshot = events_collection().document(identifier).get()
    if snapshot.exists:
        return snapshot.id, snapshot.to_dict()

    matches = list(events_collection().where(filter=FieldFilter("eventId", "==", identifier)).limit(10).stream())
    if not matches:
        raise OperationError(f"no event with document id or event id {identifier!r}; list events with `acehooks events list`")
    if len(matches) > 1:
        ids = ", ".join(match.id for match in matches)
        raise OperationError(f"event id {identifier!r} is used by several endpoints ({ids}); pass the document id")
    return matches[0].id, matches[0].to_dict()


def replay(doc_id: str, event: dict, config: EndpointConfig, all_actions: bool = False, by: str = "cli") -> str:
    """Send an event through the worker again and return the new task's name.

    Only the actions not yet recorded as succeeded run again, unless
    ``all_actions``. ``invalid`` and ``ignored`` events are mapped again with
    the current config first, so a fixed config can rescue them. Every replay
    is appended to the event's ``replays``.

    Raises OperationError when the event is being processed or still cannot be mapped.
    """
    from google.cloud.firestore import SERVER_TIMESTAMP, ArrayUnion

    status = event.get("status")
    lease = event.get("lease") or {}
    if status == events.PROCESSING and float(lease.get("expiresAt") or 0) > clock.now_seconds():
        raise OperationError(f"event {doc_id} is being processed now; replay it after it settles")

    number = int(event.get("replayCount") or 0) + 1
    suffix = f"replay{number}"
    ref = events.event_ref(doc_id)
    update = {
        "status": events.RECEIVED,
        "replayCount": number,
        "attemptBase": int(event.get("attempts") or 0),
        "lease.expiresAt": 0,
        "completedAt": None,
        "updatedAt": SERVER_TIMESTAMP,
        "replays": ArrayUnion([{
            "number": number,
            "at": datetime.now(timezone.utc),
            "by": by,
            "previousStatus": status,
            "allActions": all_actions,
        }]),
    }
    if status in (events.INVALID, events.IGNORED):
        update.update(_remap(doc_id, event, config, ref))

    batch = ref._client.batch()
    if all_actions:
        update["actions"] = {}
        for action_id in (event.get("actions") or {}):
            batch.delete(ref.collection("effects").document(action_id))
    batch.update(ref, update)
    batch.commit()

    task_name = dispatch.enqueue(config.endpoint_name, doc_id, suffix=suffix)
    logger.info("replayed event", extra={"endpoint": config.endpoint_name, "eventId": event.get("eventId"),
                                         "docId": doc_id, "taskName": task_name, "reason": "replay"})
    return task_name


def _remap(doc_id: str, event: dict, config: EndpointConfig, ref) -> dict:
    payload = read_payload(event, ref)
    model, missing = extraction.map_model(config, payload)
    if missing:
        raise OperationError(f"event {doc_id} still lacks required fields {', '.join(missing)} under the current "
                             f"config of {config.endpoint_name}; fix the mapping first")
    return {**storable_model(model), "lastError": None}


def sweep(endpoints: dict[str, EndpointConfig], older_than_seconds: float = DEFAULT_SWEEP_AGE_SECONDS,
          now: float | None = None) -> list[tuple[str, str]]:
    """Enqueue again the events that look stuck; return (doc id, status) for each one enqueued.

    Stuck means: ``received``, or ``retrying``, or ``processing`` with an
    expired lease, and untouched (``updatedAt``) and unswept for
    ``older_than_seconds``. Recording ``lastSweptAt`` makes a second run
    right after the first enqueue nothing.
    """
    from google.cloud.firestore import SERVER_TIMESTAMP
    from google.cloud.firestore_v1.base_query import FieldFilter

    now = clock.now_seconds() if now is None else now
    cutoff = now - older_than_seconds
    enqueued = []
    for status in (events.RECEIVED, events.RETRYING, events.PROCESSING):
        query = events_collection().where(filter=FieldFilter("status", "==", status)).limit(SWEEP_LIMIT)
        for snapshot in query.stream():
            event = snapshot.to_dict()
            if not _is_stuck(event, cutoff, now):
                continue
            config = endpoints.get(event.get("endpoint"))
            if config is None:
                logger.warning("stuck event of unknown endpoint %r left alone", event.get("endpoint"),
                               extra={"docId": snapshot.id, "reason": "endpoint_unknown"})
                continue

            number = int(event.get("sweepCount") or 0) + 1
            # An explicit count, not Increment: the local emulator drops an Increment that follows
            # a SERVER_TIMESTAMP field in the same write.
            snapshot.reference.update({"lastSweptAt": SERVER_TIMESTAMP, "sweepCount": number})
            task_name = dispatch.enqueue(config.endpoint_name, snapshot.id, suffix=f"sweep{number}")
            logger.info("sweeper enqueued a stuck event", extra={
                "endpoint": config.endpoint_name, "eventId": event.get("eventId"), "docId": snapshot.id,
                "status": status, "taskName": task_name, "reason": "sweep"})
            enqueued.append((snapshot.id, status))
    return enqueued


def _timestamp(value) -> float:
    return value.timestamp() if isinstance(value, datetime) else 0.0


def _is_stuck(event: dict, cutoff: float, now: float) -> bool:
    if _timestamp(event.get("updatedAt")) > cutoff:
        return False
    if _timestamp(event.get("lastSweptAt")) > cutoff:
        return False
    lease = event.get("lease") or {}
    return float(lease.get("expiresAt") or 0) <= now
