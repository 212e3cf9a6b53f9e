"""Helpers for ``sign()``: the delivery headers a provider adds beside its signature.

``acehooks send`` posts a payload file as its provider would. Providers give
each delivery an id in a header. Here the id is derived from the body, so
sending the same file twice is a duplicate delivery, as a provider's retry is.
"""

import hashlib
import json
import uuid
from typing import Any


def delivery_uuid(body: bytes) -> str:
    """Return a UUID derived from the body's SHA-256, stable for equal bodies."""
    return str(uuid.UUID(bytes=hashlib.sha256(body).digest()[:16], version=4))


def parse_json_object(body: bytes) -> dict[str, Any]:
    """Return the body as a JSON object, or an empty dict when it is not one."""
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        return {}
    return payload if isinstance(payload, dict) else {}


def guess_type(body: bytes, rules: tuple[tuple[tuple[str, ...], str], ...]) -> str | None:
    """Return the event type of the first rule whose keys all appear at the body's top level.

    NOTE: providers name the event in a header, not in the body, so ``send``
    can only guess it from the payload's shape. An unknown shape sends no type.
    """
    payload = parse_json_object(body)
    for keys, event_type in rules:
        if all(key in payload for key in keys):
            return event_type
    return None
