"""Bare baselines for the benchmarks, importing nothing from acehooks at module level.

- ``baseline_ingest``: a bare Stripe receiver that verifies the signature,
  creates one Firestore document and one Cloud Task, and returns 200.
- ``baseline_worker``: a bare worker that reads the event, sends the email,
  and writes the payment and the event's status in one batch.
- ``baseline_ingest_product_document``: a diagnostic that stores the
  product's larger event document, to separate its cost from the code's.

bench/main.py serves them beside the product's entry points; alone, this file
is the memory baseline (``functions-framework --target baseline_ingest --source bench/baseline.py``).
They use clients of their own, configured as acehooks configures its clients.
"""

import hashlib
import hmac
import json
import os
import time
from functools import lru_cache

from flask import jsonify

BASELINE_COLLECTION = "bench_baseline_events"
# A collection of its own: the Firestore emulator's cost per write grows with the documents in the collection.
DIAGNOSTIC_COLLECTION = "bench_baseline_product_documents"
BASELINE_QUEUE = "bench-baseline"
TOLERANCE_SECONDS = 300


@lru_cache(maxsize=1)
def _firestore():
    from google.cloud import firestore

    return firestore.Client(project=os.environ["ACEHOOKS_PROJECT"])


@lru_cache(maxsize=1)
def _tasks():
    import grpc
    from google.cloud import tasks_v2
    from google.cloud.tasks_v2.services.cloud_tasks.transports import CloudTasksGrpcTransport

    channel = grpc.insecure_channel(os.environ["CLOUD_TASKS_EMULATOR_HOST"])
    return tasks_v2.CloudTasksClient(transport=CloudTasksGrpcTransport(channel=channel))


def _queue_path(queue: str) -> str:
    region = os.environ.get("ACEHOOKS_REGION", "us-central1")
    return f"projects/{os.environ['ACEHOOKS_PROJECT']}/locations/{region}/queues/{queue}"


def _stripe_signature_valid(header: str, body: bytes) -> bool:
    """Check a ``t=...,v1=...`` header against STRIPE_WEBHOOK_SECRET: the minimum any Stripe receiver does."""
    fields = [item.partition("=") for item in header.split(",")]
    timestamp = next((value for key, _, value in fields if key == "t"), "")
    signatures = [value for key, _, value in fields if key == "v1"]
    if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > TOLERANCE_SECONDS:
        return False
    secret = os.environ["STRIPE_WEBHOOK_SECRET"].encode()
    expected = hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return any(hmac.compare_digest(expected, signature) for signature in signatures)


def _create_task(event_id: str) -> None:
    """Create one task in the baseline queue, which the benchmarks keep paused."""
    queue = _queue_path(BASELINE_QUEUE)
    task = {
        "name": f"{queue}/tasks/{event_id}",
        "http_request": {
            "http_method": "POST",
            "url": os.environ["ACEHOOKS_WORKER_URL"],
            "headers": {"Content-Type": "application/json"},
            "body": json.dumps({"eventId": event_id}).encode(),
        },
    }
    _tasks().create_task(parent=queue, task=task, timeout=5)


def baseline_ingest(request):
    """Verify the signature, create one document and one task, and return 200."""
    from google.api_core import exceptions
    from google.cloud.firestore import SERVER_TIMESTAMP

    body = request.get_data()
    if not _stripe_signature_valid(request.headers.get("Stripe-Signature", ""), body):
        return jsonify(error="unauthorized"), 401
    payload = json.loads(body)
    event_id = payload["id"]

    try:
        _firestore().collection(BASELINE_COLLECTION).document(event_id).create(
            {"payload": payload, "status": "received", "receivedAt": SERVER_TIMESTAMP}, timeout=5)
    except exceptions.AlreadyExists:
        return jsonify(status="duplicate", eventId=event_id)

    _create_task(event_id)
    return jsonify(status="accepted", eventId=event_id)


def baseline_ingest_product_document(request):
    """Store the product's event document from the bare receiver, which isolates the cost of the document's size.

    A diagnostic, not a baseline: it reads the model with plain dictionary
    lookups where the product evaluates JSONPath expressions.
    """
    from google.api_core import exceptions

    from acehooks import events  # the product's document builder, so the stored fields match

    body = request.get_data()
    if not _stripe_signature_valid(request.headers.get("Stripe-Signature", ""), body):
        return jsonify(error="unauthorized"), 401
    payload = json.loads(body)
    event_id = payload["id"]
    session = payload["data"]["object"]
    model = {"eventType": payload["type"], "sessionId": session["id"], "uid": session.get("client_reference_id"),
             "customerEmail": session["customer_details"]["email"], "amountTotal": session["amount_total"],
             "currency": session["currency"], "paymentStatus": session["payment_status"]}
    document = events.new_event("stripe_webhook", event_id, payload["type"], events.RECEIVED, retention_days=30,
                                contentType=request.content_type, model=model, payload=payload)
    try:
        _firestore().collection(DIAGNOSTIC_COLLECTION).document(event_id).create(document, timeout=5)
    except exceptions.AlreadyExists:
        return jsonify(status="duplicate", eventId=event_id)

    _create_task(event_id)
    return jsonify(status="accepted", eventId=event_id)


def baseline_worker(request):
    """Process one product event without claims, guards or records: read, email, one batch."""
    import requests
    from google.cloud.firestore import SERVER_TIMESTAMP

    task = json.loads(request.get_data())
    db = _firestore()
    ref = db.collection("webhook_events").document(task["docId"])
    event = ref.get().to_dict()
    model = event["model"]

    response = requests.post(
        f"{os.environ['SENDGRID_API_BASE_URL']}/v3/mail/send",
        json={"personalizations": [{"to": [{"email": model["customerEmail"]}]}],
              "from": {"email": os.environ["ACEHOOKS_EMAIL_FROM"]}, "subject": "Payment received",
              "content": [{"type": "text/plain", "value": f"Reference: {event['eventId']}"}]},
        headers={"Authorization": f"Bearer {os.environ['SENDGRID_API_KEY']}"}, timeout=10)
    if response.status_code >= 300:
        return jsonify(status="mail_failed"), 503

    batch = db.batch()
    batch.set(db.collection("bench_baseline_payments").document(model["sessionId"]), model, merge=True)
    batch.update(ref, {"status": "succeeded", "completedAt": SERVER_TIMESTAMP})
    batch.commit()
    return jsonify(status="succeeded")
