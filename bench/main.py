"""Functions source for the benchmarks: the product's entry points and bare baselines in one process.

Serve it with ``functions-framework --target bench_router --source bench/main.py``.
Routes, all POST:

- ``/stripe_webhook``: the product's ingest function, as ``functions/main.py`` exports it.
- ``/process_event``: the product's worker.
- ``/baseline_ingest``: a bare Stripe receiver that verifies the signature,
  creates one Firestore document and one Cloud Task, and answers 200.
- ``/baseline_worker``: a bare worker that reads the event, sends the email,
  and writes the payment and the event's status in one batch.

The baselines share the process, the Python interpreter and the emulators
with the product, so a ratio between them measures what acehooks adds.
They use clients of their own, configured as acehooks configures its clients.
"""

import hashlib
import hmac
import json
import os
import time
from functools import lru_cache

from flask import jsonify

from acehooks.runtime import entry_points

PRODUCT = entry_points()
globals().update(PRODUCT)

BASELINE_COLLECTION = "bench_baseline_events"
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


def baseline_ingest(request):
    """Verify, create one document, create one task, answer 200."""
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


ROUTES = {
    "/stripe_webhook": PRODUCT["stripe_webhook"],
    "/process_event": PRODUCT["process_event"],
    "/baseline_ingest": baseline_ingest,
    "/baseline_worker": baseline_worker,
}


def bench_router(request):
    """Send each benchmark path to its handler; 404 for any other path."""
    handler = ROUTES.get(request.path)
    if handler is None:
        return jsonify(error=f"no route {request.path}; routes: {', '.join(ROUTES)}"), 404
    return handler(request)
