"""Parse request bodies and keep payloads in a form Firestore accepts.

Firestore rejects arrays directly inside arrays, integers outside int64,
map keys that are empty or of the ``__name__`` form, nesting deeper than
20 maps or arrays, and documents over 1 MiB. The local emulator accepts
some of these, so acehooks checks them itself before writing. A payload
that breaks a rule is stored as its original text instead, and the worker
parses that text back, so it sees the payload unchanged.
"""

import json
import re
from typing import Any
from urllib.parse import parse_qsl

from .errors import PayloadError

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
MAX_DEPTH = 20  # Firestore's limit on nested maps and arrays
RESERVED_KEY = re.compile(r"^__.*__$")
# Room left for the other event fields under Firestore's 1 MiB (1,048,576 bytes) document limit.
MAX_INLINE_PAYLOAD_BYTES = 700_000


def parse_body(body: bytes, content_type: str | None) -> Any:
    """Parse a JSON or form-encoded body.

    Form bodies become a map of strings; a key sent more than once maps to
    the list of its values. Raises PayloadError (400) naming what is wrong.
    """
    media_type = (content_type or "").split(";")[0].strip().lower()
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise PayloadError(400, "body_not_utf8", f"body is not valid UTF-8 (byte {error.start})") from None

    if media_type == "application/x-www-form-urlencoded":
        fields: dict[str, Any] = {}
        for key, value in parse_qsl(text, keep_blank_values=True):
            if key in fields:
                existing = fields[key]
                fields[key] = existing + [value] if isinstance(existing, list) else [existing, value]
            else:
                fields[key] = value
        return fields

    if not text.strip():
        raise PayloadError(400, "body_empty", "body is empty; expected a JSON document")
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise PayloadError(
            400, "body_not_json", f"body is not valid JSON: {error.msg} at line {error.lineno} column {error.colno}"
        ) from None
    except RecursionError:
        raise PayloadError(400, "body_too_deep", "body nests too deeply to parse") from None


def firestore_problem(value: Any, depth: int = 0, inside_array: bool = False) -> str | None:
    """Return why Firestore would reject ``value`` as a field value, or None when it accepts it."""
    if depth > MAX_DEPTH:
        return f"nesting deeper than {MAX_DEPTH}"
    if isinstance(value, bool) or value is None or isinstance(value, (str, float)):
        return None
    if isinstance(value, int):
        return None if INT64_MIN <= value <= INT64_MAX else "integer outside int64"
    if isinstance(value, list):
        if inside_array:
            return "array directly inside an array"
        for item in value:
            problem = firestore_problem(item, depth + 1, inside_array=True)
            if problem:
                return problem
        return None
    if isinstance(value, dict):
        for key, item in value.items():
            if not key or RESERVED_KEY.match(key):
                return f"map key {key!r} is reserved by Firestore"
            problem = firestore_problem(item, depth + 1)
            if problem:
                return problem
        return None
    return f"unsupported type {type(value).__name__}"


def storable_payload(payload: Any, body: bytes) -> dict:
    """Return the event fields that hold the payload: ``payload`` itself, or ``payloadText``.

    ``payloadText`` is the body as received, used when Firestore cannot hold
    the parsed value as it is.
    """
    if len(body) <= MAX_INLINE_PAYLOAD_BYTES and firestore_problem(payload) is None:
        return {"payload": payload}
    # NOTE: bodies over MAX_INLINE_PAYLOAD_BYTES still land in one document as text, so the
    # Firestore 1 MiB limit caps them; splitting large bodies across documents is not built yet.
    return {"payload": None, "payloadText": body.decode("utf-8")}


def read_payload(event: dict, content_type: str | None = None) -> Any:
    """Return the payload of a stored event, parsing ``payloadText`` when the event has it."""
    if event.get("payloadText") is not None:
        return parse_body(event["payloadText"].encode("utf-8"), event.get("contentType"))
    return event.get("payload")
