"""The ingest function: verify, parse, store once, enqueue, respond fast."""

import base64
import hashlib
import json
import logging
import time
from typing import Any

from flask import Request, Response, jsonify

from . import dispatch, events, extraction, ids
from .auth import InboundRequest, verify_all
from .config import EndpointConfig
from .errors import AuthError, BackendUnavailable, PayloadError
from .payloads import (
    CHUNKS_COLLECTION,
    CHUNKS_PER_BATCH,
    FORM_MEDIA_TYPE,
    MAX_INLINE_PAYLOAD_BYTES,
    chunk_id,
    is_form,
    parse_body,
    storable_model,
    storable_payload,
)
from .settings import get_settings

logger = logging.getLogger(__name__)


def _answer(http_status: int, **body: Any) -> Response:
    response = jsonify(body)
    response.status_code = http_status
    return response


class BodyTooLarge(Exception):
    """The body is larger than the endpoint's maxBodyBytes."""


def read_body(request: Request, max_bytes: int) -> bytes:
    """Read the raw body, reading at most ``max_bytes`` + 1 bytes; raises BodyTooLarge beyond the limit."""
    if request.content_length is not None and request.content_length > max_bytes:
        raise BodyTooLarge(f"Content-Length {request.content_length} exceeds maxBodyBytes {max_bytes}")
    body = request.stream.read(max_bytes + 1)
    if len(body) > max_bytes:
        raise BodyTooLarge(f"body exceeds maxBodyBytes {max_bytes}")
    return body


def inbound_request(request: Request, body: bytes) -> InboundRequest:
    """Copy what authentication needs from a Flask request."""
    return InboundRequest(
        method=request.method,
        url=request.url,
        headers=request.headers,
        body=body,
        query=request.args,
        query_string=request.query_string,
        remote_addr=request.remote_addr,
    )


def handle(config: EndpointConfig, request: Request) -> Response:
    """Handle one delivery to an endpoint and return its HTTP response (status and small JSON body)."""
    endpoint = config.endpoint_name
    if request.method != "POST":
        logger.info("rejected %s request: only POST is accepted", request.method,
                    extra={"endpoint": endpoint, "reason": "method_not_allowed"})
        response = _answer(405, error="method not allowed")
        response.headers["Allow"] = "POST"
        return response

    started = time.perf_counter()
    try:
        body = read_body(request, config.max_body_bytes)
    except BodyTooLarge as error:
        logger.warning("rejected delivery: %s", error, extra={"endpoint": endpoint, "reason": "body_too_large"})
        return _answer(413, error="payload too large", maxBodyBytes=config.max_body_bytes)
    inbound = inbound_request(request, body)
    try:
        verify_all(config.auth, inbound)
    except AuthError as error:
        logger.warning("rejected delivery: %s", error,
                       extra={"endpoint": endpoint, "reason": error.reason, "status": error.status})
        if error.reason in ("secret_missing", "secret_malformed"):
            # A configuration fault, not a bad sender: 503 makes the provider retry once the secret is set.
            return _answer(503, error="unavailable")
        return _answer(error.status, error="unauthorized" if error.status == 401 else "forbidden")

    try:
        return _accept(config, inbound, request.content_type, started)
    except BackendUnavailable as error:
        logger.error("backend unavailable, responded 503 so the sender retries: %s", error,
                     extra={"endpoint": endpoint, "reason": "backend_unavailable"})
        return _answer(503, error="unavailable")
    except Exception:
        # A bug, not bad input: logged with its stack, and a 500 response makes the sender retry later.
        logger.exception("unexpected error in ingest", extra={"endpoint": endpoint, "reason": "internal_error"})
        return _answer(500, error="internal error")


def _accept(config: EndpointConfig, inbound: InboundRequest, content_type: str | None, started: float) -> Response:
    """Handle an authenticated delivery: one event, or one per element of a batch."""
    body = inbound.body
    try:
        payload = parse_body(body, content_type)
    except PayloadError as error:
        status, answer = _reject_invalid(config, ids.body_event_id(body), None, error,
                                         {**_raw_body_fields(body), "contentType": content_type})
        return _answer(status, **answer)

    for method in config.auth:
        handshake = method.immediate_response(payload, inbound)
        if handshake is not None:
            logger.info("responded to a %s handshake; nothing stored", method.method,
                        extra={"endpoint": config.endpoint_name, "reason": "handshake"})
            return _answer(200, **handshake)

    if config.splits_batches() and isinstance(payload, list):
        results = [_accept_event(config, item, inbound, content_type, json.dumps(item, ensure_ascii=False).encode(), started)
                   for item in payload]
        # Every element was stored (or was already): 200, with each element's own outcome.
        return _answer(200, status="batch", events=[answer for _, answer in results])

    status, answer = _accept_event(config, payload, inbound, content_type, body, started)
    return _answer(status, **answer)


def _accept_event(config: EndpointConfig, payload: Any, inbound: InboundRequest, content_type: str | None,
                  body: bytes, started: float) -> tuple[int, dict]:
    """Store and enqueue one event; return the HTTP status and JSON body that describe its outcome."""
    endpoint = config.endpoint_name
    stored_payload, chunks = storable_payload(payload, body)

    try:
        event_id = extraction.event_id(config, payload, inbound.headers, body)
        event_type = extraction.event_type(config, payload, inbound.headers)
    except PayloadError as error:
        # Say how the body was read: a client that forgot Content-Type sends JSON as a form.
        error = PayloadError(error.status, error.reason, f"{error} (body parsed as {_parsed_as(content_type)})",
                             details=error.details)
        return _reject_invalid(config, ids.body_event_id(body), None, error, {**stored_payload, "contentType": content_type})

    log_fields = {"endpoint": endpoint, "eventId": event_id, "eventType": event_type}
    logger.info("received event", extra=log_fields)
    doc_id = ids.event_doc_id(endpoint, event_id)

    if config.event_types is not None and event_type not in config.event_types:
        document = events.new_event(endpoint, event_id, event_type, events.IGNORED, retention_days=config.retention_days,
                                    contentType=content_type, **stored_payload)
        _create(doc_id, document)
        logger.info("ignored event: type not in eventTypes", extra={**log_fields, "reason": "type_not_subscribed"})
        return 200, {"status": "ignored", "eventId": event_id, "eventType": event_type}

    model, missing = extraction.map_model(config, payload)
    model_fields = storable_model(model)
    if missing:
        error = PayloadError(422, "required_missing", f"required fields missing: {', '.join(missing)}",
                             details={"missing": missing})
        return _reject_invalid(config, event_id, event_type, error,
                               {**stored_payload, **model_fields, "contentType": content_type})

    document = events.new_event(endpoint, event_id, event_type, events.RECEIVED, retention_days=config.retention_days,
                                contentType=content_type, **model_fields, **stored_payload)
    if chunks:
        _store_chunks(doc_id, stored_payload["payloadSha256"], chunks, document["expireAt"])
    if not _create(doc_id, document):
        return _handle_duplicate(config, doc_id, document, log_fields)

    logger.info("stored event", extra={**log_fields, "docId": doc_id})
    task_name = dispatch.enqueue(endpoint, doc_id)
    logger.info("enqueued event", extra={**log_fields, "taskName": task_name,
                                         "durationMs": round((time.perf_counter() - started) * 1000, 1)})
    return 200, {"status": "accepted", "eventId": event_id}


def _handle_duplicate(config: EndpointConfig, doc_id: str, document: dict, log_fields: dict) -> tuple[int, dict]:
    """Respond to a delivery whose event document exists.

    An event still ``received`` may never have been enqueued (a crash between
    the two steps), so it is enqueued again. The task name makes that safe.
    An ``invalid`` record is replaced, so a delivery retried after a config
    fix is processed.
    """
    existing = _get(doc_id)
    status = existing.get("status") if existing else None

    if status == events.INVALID:
        _set(doc_id, document)
        logger.info("replaced invalid record with a valid delivery", extra={**log_fields, "docId": doc_id})
        dispatch.enqueue(config.endpoint_name, doc_id)
        return 200, {"status": "accepted", "eventId": log_fields["eventId"]}

    if status == events.RECEIVED:
        dispatch.enqueue(config.endpoint_name, doc_id)
        logger.info("duplicate delivery of an event not yet processed; enqueued again",
                    extra={**log_fields, "docId": doc_id, "reason": "duplicate"})
    else:
        logger.info("duplicate delivery; already %s", status,
                    extra={**log_fields, "docId": doc_id, "reason": "duplicate", "status": status})
    return 200, {"status": "duplicate", "eventId": log_fields["eventId"]}


def _reject_invalid(config: EndpointConfig, event_id: str, event_type: str | None,
                    error: PayloadError, fields: dict) -> tuple[int, dict]:
    """Record an authenticated but unusable delivery as ``invalid``, then respond 400 or 422."""
    endpoint = config.endpoint_name
    doc_id = ids.event_doc_id(endpoint, event_id)
    document = events.new_event(endpoint, event_id, event_type, events.INVALID, retention_days=config.retention_days,
                                lastError=f"{error.reason}: {error}", **fields)
    _create(doc_id, document)
    logger.warning("rejected delivery: %s", error,
                   extra={"endpoint": endpoint, "eventId": event_id, "reason": error.reason, "status": error.status})
    return error.status, {"error": str(error), "reason": error.reason, "eventId": event_id, **error.details}


def _parsed_as(content_type: str | None) -> str:
    return f"a form, from Content-Type {FORM_MEDIA_TYPE}" if is_form(content_type) else "JSON"


def _raw_body_fields(body: bytes) -> dict:
    """Keep an unparseable body in the invalid record: as text when it decodes, else as base64."""
    if len(body) > MAX_INLINE_PAYLOAD_BYTES:
        return {"payloadBytes": len(body), "payloadSha256": hashlib.sha256(body).hexdigest()}
    try:
        return {"payloadText": body.decode("utf-8")}
    except UnicodeDecodeError:
        return {"payloadBase64": base64.b64encode(body).decode()}


def _store_chunks(doc_id: str, digest: str, chunks: list[bytes], expire_at) -> None:
    """Write a large body's chunks before its event document, so the event never points at missing data.

    ``set`` makes a repeated delivery of the same body harmless: the chunk ids
    carry the body's digest, so it rewrites identical documents.
    """
    from google.api_core import exceptions

    collection = events.event_ref(doc_id).collection(CHUNKS_COLLECTION)
    try:
        for start in range(0, len(chunks), CHUNKS_PER_BATCH):
            batch = collection._client.batch()
            for index in range(start, min(start + CHUNKS_PER_BATCH, len(chunks))):
                batch.set(collection.document(chunk_id(digest, index)),
                          {"index": index, "data": chunks[index], "expireAt": expire_at})
            batch.commit(**bounded_call_options(get_settings().firestore_timeout_seconds * 4))
    except exceptions.GoogleAPIError as error:
        raise BackendUnavailable(f"Firestore write of payload chunks for {doc_id} failed: {error}") from error


def bounded_call_options(seconds: float) -> dict:
    """Return retry and timeout arguments that bound a client call, retries included, to about ``seconds``.

    The client libraries' default retries can outlast a sender's own
    deadline (Slack waits about 3 s), and a 503 the sender retries is
    better than a response that arrives after it gave up.
    """
    from google.api_core import retry

    return {
        "retry": retry.Retry(initial=0.1, maximum=1.0, multiplier=2.0, timeout=seconds,
                             predicate=retry.if_transient_error),
        "timeout": seconds,
    }


def _create(doc_id: str, document: dict) -> bool:
    """Create the event document unless it exists; return False when it already did."""
    from google.api_core import exceptions

    try:
        events.event_ref(doc_id).create(document, **bounded_call_options(get_settings().firestore_timeout_seconds))
        return True
    except exceptions.AlreadyExists:
        return False
    except exceptions.GoogleAPIError as error:
        raise BackendUnavailable(f"Firestore create of {doc_id} failed: {type(error).__name__}: {error}") from error


def _get(doc_id: str) -> dict | None:
    from google.api_core import exceptions

    try:
        snapshot = events.event_ref(doc_id).get(**bounded_call_options(get_settings().firestore_timeout_seconds))
    except exceptions.GoogleAPIError as error:
        raise BackendUnavailable(f"Firestore read of {doc_id} failed: {type(error).__name__}: {error}") from error
    return snapshot.to_dict() if snapshot.exists else None


def _set(doc_id: str, document: dict) -> None:
    from google.api_core import exceptions

    try:
        events.event_ref(doc_id).set(document, **bounded_call_options(get_settings().firestore_timeout_seconds))
    except exceptions.GoogleAPIError as error:
        raise BackendUnavailable(f"Firestore write of {doc_id} failed: {type(error).__name__}: {error}") from error
