"""Parse request bodies and keep payloads in a form Firestore accepts.

Firestore rejects arrays directly inside arrays, integers outside int64,
map keys that are empty or of the ``__name__`` form, nesting deeper than
20 maps or arrays, and documents over 1 MiB. The local emulator accepts
some of these, so acehooks checks them itself before writing. A payload
that breaks a rule is stored as its original text instead. The worker
parses that text back, so it receives the payload unchanged.
"""

import hashlib
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
CHUNK_BYTES = 900_000  # bytes of body per chunk document, under the 1 MiB document limit
CHUNKS_PER_BATCH = 8  # keeps one commit under Firestore's 10 MiB request limit
CHUNKS_COLLECTION = "payload_chunks"
DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024


FORM_MEDIA_TYPE = "application/x-www-form-urlencoded"


def is_form(content_type: str | None) -> bool:
    """Return True when the Content-Type makes the body a form; any other type is read as JSON."""
    return (content_type or "").split(";")[0].strip().lower() == FORM_MEDIA_TYPE


def parse_body(body: bytes, content_type: str | None) -> Any:
    """Parse a JSON or form-encoded body.

    Form bodies become a map of strings; a key sent more than once maps to
    the list of its values. Raises PayloadError (400) naming what is wrong.
    """
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise PayloadError(400, "body_not_utf8", f"body is not valid UTF-8 (byte {error.start})") from None

    if is_form(content_type):
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


def storable_payload(payload: Any, body: bytes) -> tuple[dict, list[bytes]]:
    """Return the event fields that hold the payload, and the body chunks to store beside it.

    The first form that fits is chosen. ``payload`` is the parsed value itself,
    when Firestore can hold it. ``payloadText`` is the body as received, when
    the parsed value breaks a Firestore rule. ``payloadChunks`` counts the
    CHUNK_BYTES pieces of a body too large for one document; the pieces sit in
    the ``payload_chunks`` subcollection, checked by ``payloadSha256``.
    """
    if len(body) <= MAX_INLINE_PAYLOAD_BYTES:
        if firestore_problem(payload) is None:
            return {"payload": payload}, []
        return {"payload": None, "payloadText": body.decode("utf-8")}, []

    chunks = [body[offset:offset + CHUNK_BYTES] for offset in range(0, len(body), CHUNK_BYTES)]
    digest = hashlib.sha256(body).hexdigest()
    fields = {"payload": None, "payloadChunks": len(chunks), "payloadSha256": digest, "payloadBytes": len(body)}
    return fields, chunks


def storable_model(model: dict) -> dict:
    """Return the event fields that hold the mapped model: ``model``, or ``modelJson`` text when Firestore cannot hold it."""
    if firestore_problem(model) is None:
        return {"model": model}
    return {"model": None, "modelJson": json.dumps(model)}


def read_model(event: dict) -> dict:
    if event.get("modelJson") is not None:
        return json.loads(event["modelJson"])
    return event.get("model") or {}


def chunk_id(digest: str, index: int) -> str:
    """Return a chunk's document id; the digest keeps chunks of different bodies apart."""
    return f"{digest[:16]}-{index:04d}"


def read_payload(event: dict, event_ref=None) -> Any:
    """Return the payload of a stored event, whichever form it was stored in.

    Raises PayloadError when stored chunks are missing or do not match ``payloadSha256``.
    """
    if event.get("payloadChunks"):
        return parse_body(_read_chunks(event, event_ref), event.get("contentType"))
    if event.get("payloadText") is not None:
        return parse_body(event["payloadText"].encode("utf-8"), event.get("contentType"))
    return event.get("payload")


def _read_chunks(event: dict, event_ref) -> bytes:
    digest = event["payloadSha256"]
    collection = event_ref.collection(CHUNKS_COLLECTION)
    refs = [collection.document(chunk_id(digest, index)) for index in range(event["payloadChunks"])]
    snapshots = {snapshot.id: snapshot for snapshot in event_ref._client.get_all(refs)}
    parts = []
    for ref in refs:
        snapshot = snapshots.get(ref.id)
        if snapshot is None or not snapshot.exists:
            raise PayloadError(500, "payload_chunk_missing", f"payload chunk {ref.id} of {event_ref.id} is missing")
        parts.append(snapshot.get("data"))
    body = b"".join(parts)
    if hashlib.sha256(body).hexdigest() != digest:
        raise PayloadError(500, "payload_chunk_corrupt", f"payload chunks of {event_ref.id} do not match payloadSha256")
    return body
