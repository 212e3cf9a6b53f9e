"""The ingest function: verify, parse, store once, enqueue, answer fast."""

import json
import logging
import time
from typing import Any

from flask import Request, Response, jsonify

from . import dispatch, events, extraction, ids
from .auth import InboundRequest, verify_all
from .config import EndpointConfig
from .errors import AuthError, BackendUnavailable, PayloadError
from .payloads import parse_body, storable_payload
from .settings import get_settings

logger = logging.getLogger(__name__)


def _answer(http_status: int, **body: Any) -> Response:
    response = jsonify(body)
    response.status_code = http_status
    return response


def inbound_request(request: Request) -> InboundRequest:
    """Copy what authentication needs from a Flask request; reads the raw body once."""
    return InboundRequest(
        method=request.method,
        url=request.url,
        headers=request.headers,
        body=request.get_data(cache=True, as_text=False, parse_form_data=False),
        query=request.args,
        remote_addr=request.remote_addr,
    )


def handle(config: EndpointConfig, request: Request) -> Response:
    """Handle one delivery to an endpoint and return the HTTP answer from the design's table."""
    endpoint = config.endpoint_name
    if request.method != "POST":
        logger.info("rejected %s request: only POST is accepted", request.method,
                    extra={"endpoint": endpoint, "reason": "method_not_allowed"})
        response = _answer(405, error="method not allowed")
        response.headers["Allow"] = "POST"
        return response

    started = time.perf_counter()
    inbound = inbound_request(request)
    try:
        verify_all(config.auth, inbound)
    except AuthError as error:
        logger.warning("rejected delivery: %s", error,
                       extra={"endpoint": endpoint, "reason": error.reason, "status": error.status})
        if error.reason == "secret_missing":
            # A configuration fault, not a bad sender: 503 makes the provider retry once the secret is set.
            return _answer(503, error="unavailable")
        return _answer(error.status, error="unauthorized" if error.status == 401 else "forbidden")

    try:
        return _accept(config, inbound, request.content_type, started)
    except BackendUnavailable as error:
        logger.error("backend unavailable, answered 503 so the sender retries: %s", error,
                     extra={"endpoint": endpoint, "reason": "backend_unavailable"})
        return _answer(503, error="unavailable")


def _accept(config: EndpointConfig, inbound: InboundRequest, content_type: str | None, started: float) -> Response:
    """Handle an authenticated delivery: one event, or one per element of a batch."""
    body = inbound.body
    try:
        payload = parse_body(body, content_type)
    except PayloadError as error:
        status, answer = _reject_invalid(config, ids.body_event_id(body), None, error,
                                         {"payloadText": _text_or_none(body), "contentType": content_type})
        return _answer(status, **answer)

    for method in config.auth:
        handshake = method.immediate_response(payload, inbound)
        if handshake is not None:
            logger.info("answered a %s handshake; nothing stored", method.method,
                        extra={"endpoint": config.endpoint_name, "reason": "handshake"})
            return _answer(200, **handshake)

    if config.splits_batches() and isinstance(payload, list):
        results = [_accept_event(config, item, inbound, content_type, json.dumps(item).encode(), started)
                   for item in payload]
        # Every element was stored (or was already): 200, with each element's own outcome.
        return _answer(200, status="batch", events=[answer for _, answer in results])

    status, answer = _accept_event(config, payload, inbound, content_type, body, started)
    return _answer(status, **answer)


def _accept_event(config: EndpointConfig, payload: Any, inbound: InboundRequest, content_type: str | None,
                  body: bytes, started: float) -> tuple[int, dict]:
    """Store and enqueue one event; return the HTTP status and JSON body that describe its outcome."""
    endpoint = config.endpoint_name
    stored_payload = storable_payload(payload, body)

    try:
        event_id = extraction.event_id(config, payload, inbound.headers, body)
        event_type = extraction.event_type(config, payload, inbound.headers)
    except PayloadError as error:
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
    if missing:
        error = PayloadError(422, "required_missing", f"required fields missing: {', '.join(missing)}",
                             details={"missing": missing})
        return _reject_invalid(config, event_id, event_type, error,
                               {**stored_payload, "model": model, "contentType": content_type})

    document = events.new_event(endpoint, event_id, event_type, events.RECEIVED, retention_days=config.retention_days,
                                model=model, contentType=content_type, **stored_payload)
    if not _create(doc_id, document):
        return _handle_duplicate(config, doc_id, document, log_fields)

    logger.info("stored event", extra={**log_fields, "docId": doc_id})
    task_name = dispatch.enqueue(endpoint, doc_id)
    logger.info("enqueued event", extra={**log_fields, "taskName": task_name,
                                         "durationMs": round((time.perf_counter() - started) * 1000, 1)})
    return 200, {"status": "accepted", "eventId": event_id}


def _handle_duplicate(config: EndpointConfig, doc_id: str, document: dict, log_fields: dict) -> tuple[int, dict]:
    """Answer a delivery whose event document exists.

    An event still ``received`` may never have been enqueued (a crash between
    the two steps), so it is enqueued again; the task name makes that safe.
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
    """Record an authenticated but unusable delivery as ``invalid``, then answer 400 or 422."""
    endpoint = config.endpoint_name
    doc_id = ids.event_doc_id(endpoint, event_id)
    document = events.new_event(endpoint, event_id, event_type, events.INVALID, retention_days=config.retention_days,
                                lastError=f"{error.reason}: {error}", **fields)
    _create(doc_id, document)
    logger.warning("rejected delivery: %s", error,
                   extra={"endpoint": endpoint, "eventId": event_id, "reason": error.reason, "status": error.status})
    return error.status, {"error": str(error), "reason": error.reason, "eventId": event_id, **error.details}


def _text_or_none(body: bytes) -> str | None:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _create(doc_id: str, document: dict) -> bool:
    """Create the event document unless it exists; return False when it already did."""
    from google.api_core import exceptions

    try:
        events.event_ref(doc_id).create(document, timeout=get_settings().firestore_timeout_seconds)
        return True
    except exceptions.AlreadyExists:
        return False
    except exceptions.GoogleAPIError as error:
        raise BackendUnavailable(f"Firestore create of {doc_id} failed: {type(error).__name__}: {error}") from error


def _get(doc_id: str) -> dict | None:
    from google.api_core import exceptions

    try:
        snapshot = events.event_ref(doc_id).get(timeout=get_settings().firestore_timeout_seconds)
    except exceptions.GoogleAPIError as error:
        raise BackendUnavailable(f"Firestore read of {doc_id} failed: {type(error).__name__}: {error}") from error
    return snapshot.to_dict() if snapshot.exists else None


def _set(doc_id: str, document: dict) -> None:
    from google.api_core import exceptions

    try:
        events.event_ref(doc_id).set(document, timeout=get_settings().firestore_timeout_seconds)
    except exceptions.GoogleAPIError as error:
        raise BackendUnavailable(f"Firestore write of {doc_id} failed: {type(error).__name__}: {error}") from error
