"""CPU time of each step of the product's ingest for one Stripe checkout event, and of proposed replacements.

Each step runs in this process without a network or emulator. The figure is
the fastest of five repeats of 2,000 calls, in microseconds per call. The
Firestore client's encoding of the event document is included because it
runs in the function's process before the create is sent.

Run from the repository root: ``.venv/bin/python bench/ingest_steps.py``.
"""

import json
import logging
import os
import re
import tempfile
import timeit

from common import ROOT, git_revision, machine, stripe_event, stripe_header, write_result

CALLS = 2000
REPEATS = 5
SECRET = "whsec_bench_steps"
DOTTED_PATH = re.compile(r"^(?:\$\.)?[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*$")


def dotted_lookup(expression: str, payload):
    """Walk dictionaries for a plain dotted path, the proposed fast path; return None to fall back to jsonpath-ng."""
    if not DOTTED_PATH.match(expression):
        return None
    value = payload
    for key in expression.removeprefix("$.").split("."):
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value


def microseconds(function) -> float:
    return round(min(timeit.repeat(function, number=CALLS, repeat=REPEATS)) / CALLS * 1e6, 1)


def main() -> None:
    os.environ.update(STRIPE_WEBHOOK_SECRET=SECRET, ACEHOOKS_CONFIG_DIR=str(ROOT / "functions" / "endpoints"),
                      ACEHOOKS_ACTIONS_MODULE=str(ROOT / "functions" / "actions.py"))
    from google.cloud.firestore import SERVER_TIMESTAMP
    from google.cloud.firestore_v1 import _helpers
    from werkzeug.datastructures import Headers

    from acehooks import dispatch, events, extraction, ids, jsonpaths, logs, payloads, runtime
    from acehooks.auth import InboundRequest, verify_all
    from acehooks.auth.stripe import compute_signature

    logs.configure()
    log_file = tempfile.TemporaryFile("w")
    for handler in logging.getLogger("acehooks").handlers:
        handler.setStream(log_file)  # the deployed function writes to stdout, which is a pipe or a file
    logger = logging.getLogger("acehooks.ingest")

    config = runtime.endpoints()["stripe_webhook"]
    body = stripe_event("evt_steps", "steps@example.com")
    headers = Headers({"Stripe-Signature": stripe_header(body, SECRET), "Content-Type": "application/json"})
    request = InboundRequest(method="POST", url="http://127.0.0.1/stripe_webhook", headers=headers, body=body)
    payload = json.loads(body)
    model, _ = extraction.map_model(config, payload)
    product_document = events.new_event("stripe_webhook", "evt_steps", payload["type"], events.RECEIVED,
                                        retention_days=30, contentType="application/json", model=model,
                                        payload=payload)
    baseline_document = {"payload": payload, "status": "received", "receivedAt": SERVER_TIMESTAMP}
    document_path = "projects/demo-acehooks/databases/(default)/documents/webhook_events/x"
    fields = {"endpoint": "stripe_webhook", "eventId": "evt_steps", "eventType": payload["type"]}
    paths = list(config.model.values())
    assert all(dotted_lookup(path, payload) == jsonpaths.extract(path, payload) for path in paths)

    def streamed_signature() -> bytes:
        import hashlib
        import hmac
        mac = hmac.new(SECRET.encode(), b"1700000000.", hashlib.sha256)
        mac.update(body)
        return mac.digest()

    steps = {
        "verify_all (stripe, one secret)": lambda: verify_all(config.auth, request),
        "parse_body (json.loads)": lambda: payloads.parse_body(body, "application/json"),
        "storable_payload (Firestore limits check)": lambda: payloads.storable_payload(payload, body),
        "event id and type": lambda: (extraction.event_id(config, payload, headers, body),
                                      extraction.event_type(config, payload, headers)),
        f"map_model ({len(paths)} JSONPaths, plain paths walked directly)": lambda: extraction.map_model(config, payload),
        "event_doc_id": lambda: ids.event_doc_id("stripe_webhook", "evt_steps"),
        "new_event": lambda: events.new_event("stripe_webhook", "evt_steps", payload["type"], events.RECEIVED,
                                              retention_days=30, contentType="application/json", model=model,
                                              payload=payload),
        "three info log lines (received, stored, enqueued)": lambda: [
            logger.info(message, extra={**fields, "docId": "x"}) for message in ("received", "stored", "enqueued")],
        "build_task": lambda: dispatch.build_task("stripe_webhook", "x", "x"),
        "encode the product's event document": lambda: _helpers.pbs_for_create(document_path, product_document),
        "encode the baseline's document": lambda: _helpers.pbs_for_create(document_path, baseline_document),
    }
    proposals = {
        "map_model by dictionary walk for dotted paths": lambda: {path: dotted_lookup(path, payload) for path in paths},
        "one info log line per accepted event": lambda: logger.info("accepted event", extra={**fields, "docId": "x"}),
        "Stripe HMAC, acehooks compute_signature (streams the body)": lambda: compute_signature(SECRET.encode(), "1700000000", body),
        "Stripe HMAC, streamed by hand (reference)": streamed_signature,
    }
    results = {"steps_us": {name: microseconds(function) for name, function in steps.items()},
               "proposals_us": {name: microseconds(function) for name, function in proposals.items()}}
    path = write_result("ingest-steps", {"script": "bench/ingest_steps.py", "revision": git_revision(),
                                         "machine": machine(), "body_bytes": len(body), **results})
    for section in ("steps_us", "proposals_us"):
        for name, value in results[section].items():
            print(f"{value:9.1f} us  {name}")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
