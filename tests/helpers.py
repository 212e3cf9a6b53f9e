"""Helpers that build deliveries the way providers do, and read what acehooks stored."""

import hashlib
import hmac
import json
import os
import time
from pathlib import Path

import requests
from google.cloud.firestore_v1.base_query import FieldFilter

from acehooks import ids

ROOT = Path(__file__).resolve().parent.parent
STRIPE_SAMPLE = ROOT / "emulator_data" / "stripe" / "checkout.session.completed.json"


def stripe_header(body: bytes, secret: str, timestamp: int | None = None) -> str:
    """Build a Stripe-Signature header value as Stripe does: t=<seconds>,v1=<hex HMAC-SHA256 of 't.body'>."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    signature = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={signature}"


def stripe_event(event_id: str, email: str = "stripe@example.com", event_type: str = "checkout.session.completed",
                 session_id: str | None = None) -> bytes:
    """Return the sample checkout event's bytes with a new event id, session id and email, formatting kept."""
    text = STRIPE_SAMPLE.read_text()
    text = text.replace('"evt_000000000000000000000000"', json.dumps(event_id), 1)
    text = text.replace('"cs_test_0000000000000000000000000000000000000000000000000000000000"',
                        json.dumps(session_id or f"cs_test_{event_id}"), 1)
    text = text.replace('"stripe@example.com"', json.dumps(email), 1)
    text = text.replace('"checkout.session.completed"', json.dumps(event_type), 1)
    return text.encode()


def post_stripe(base_url: str, body: bytes, secret: str | None = None, timestamp: int | None = None,
                header: str | None = None, path: str = "/stripe_webhook") -> requests.Response:
    secret = secret or os.environ["STRIPE_WEBHOOK_SECRET"]
    headers = {"Content-Type": "application/json",
               "Stripe-Signature": header if header is not None else stripe_header(body, secret, timestamp)}
    return requests.post(base_url + path, data=body, headers=headers, timeout=30)


def post_token(base_url: str, endpoint: str, payload, token: str | None = None, **headers) -> requests.Response:
    token = token or os.environ["TEST_TOKEN"]
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return requests.post(f"{base_url}/{endpoint}", data=body, timeout=30,
                         headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}", **headers})


def event_ref(db, endpoint: str, event_id: str):
    return db.collection("webhook_events").document(ids.event_doc_id(endpoint, event_id))


def event_doc(db, endpoint: str, event_id: str) -> dict | None:
    snapshot = event_ref(db, endpoint, event_id).get()
    return snapshot.to_dict() if snapshot.exists else None


def events_for(db, endpoint: str, event_id: str) -> list[dict]:
    """Return every event document with this endpoint and event id (there should be at most one)."""
    query = (db.collection("webhook_events")
             .where(filter=FieldFilter("endpoint", "==", endpoint))
             .where(filter=FieldFilter("eventId", "==", event_id)))
    return [snapshot.to_dict() for snapshot in query.stream()]
