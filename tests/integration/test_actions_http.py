"""The httpRequest action against a recording HTTP server on 127.0.0.1, which can respond with chosen statuses.

The endpoint is tests/fixtures/endpoints/action_http.json, whose URLs point
at RECEIVER_PORT; each event type selects one of its actions.
"""

import json
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import standardwebhooks

from acehooks import ids
from conftest import wait_for
from helpers import event_doc, post_token

ENDPOINT = "action_http"
RECEIVER_PORT = 19473  # fixed because the fixture config names it; in the range kept for this suite's own servers
SLOW_SECONDS = 2.5  # longer than the slow action's timeoutSeconds of 1


class Receiver:
    """Records every request; responds with the statuses queued in ``statuses``, then 200."""

    def __init__(self):
        self.requests: list[dict] = []
        self.statuses: list[int] = []
        self.slow_requests = 0
        self.lock = threading.Lock()

    def matching(self, path_prefix: str) -> list[dict]:
        with self.lock:
            return [request for request in self.requests if request["path"].startswith(path_prefix)]


def make_handler(receiver: Receiver):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format, *args):  # the tests read receiver.requests
            pass

        def handle_any(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            with receiver.lock:
                receiver.requests.append({"method": self.command, "path": self.path,
                                          "headers": {name.lower(): value for name, value in self.headers.items()},
                                          "body": body})
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                slow = self.path.startswith("/slow/") and receiver.slow_requests > 0
                if slow:
                    receiver.slow_requests -= 1
            if slow:
                time.sleep(SLOW_SECONDS)
            data = json.dumps({"received": True}).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the slow case: the action gave up waiting and closed the connection

        do_POST = do_PUT = do_PATCH = do_DELETE = do_GET = handle_any

    return Handler


@pytest.fixture(scope="module")
def receiver_server():
    server = ThreadingHTTPServer(("127.0.0.1", RECEIVER_PORT), make_handler(Receiver()))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def receiver(receiver_server) -> Receiver:
    """Return a fresh Receiver for this test; the server builds each request's handler around it."""
    fresh = Receiver()
    receiver_server.RequestHandlerClass = make_handler(fresh)
    return fresh


def settled(db, event_id, timeout=30):
    return wait_for(lambda: (event_doc(db, ENDPOINT, event_id) or {}).get("status") in ("succeeded", "failed")
                    and event_doc(db, ENDPOINT, event_id), timeout=timeout)


def order_event(event_id: str, event_type: str, order_id: str) -> dict:
    return {"id": event_id, "type": event_type,
            "order": {"id": order_id, "status": "paid", "total": 4200, "lines": [{"sku": "A-1"}, {"sku": "B-2"}]}}


def test_forward_sends_signed_payload(base_url, db, receiver, unique_id):
    event_id = f"fwd-{unique_id}"
    payload = order_event(event_id, "http.forward", f"ord-{unique_id}")
    assert post_token(base_url, ENDPOINT, payload).status_code == 200

    event = settled(db, event_id)
    [request] = receiver.matching("/hooks/")
    headers = request["headers"]
    webhook_id = f"{ids.event_doc_id(ENDPOINT, event_id)}.forward"

    assert event["status"] == "succeeded"
    assert request["method"] == "POST"
    assert request["path"] == f"/hooks/ord-{unique_id}?source=action_http"
    assert json.loads(request["body"]) == payload
    assert headers["content-type"] == "application/json"
    assert headers["authorization"] == os.environ["TEST_TOKEN"]
    assert headers["x-order-status"] == "paid"
    assert headers["webhook-id"] == webhook_id
    assert abs(int(headers["webhook-timestamp"]) - time.time()) < 60
    verified = standardwebhooks.Webhook(os.environ["STANDARD_WEBHOOKS_SECRET"]).verify(request["body"], headers)
    assert verified == payload
    assert event["actions"]["forward"]["result"] == {
        "status": 200, "method": "POST", "url": f"http://127.0.0.1:{RECEIVER_PORT}/hooks/ord-{unique_id}",
        "webhookId": webhook_id}


def test_signature_fails_with_other_secret(base_url, db, receiver, unique_id):
    event_id = f"sig-{unique_id}"
    assert post_token(base_url, ENDPOINT, order_event(event_id, "http.forward", f"o-{unique_id}")).status_code == 200
    settled(db, event_id)
    [request] = receiver.matching("/hooks/")

    other = standardwebhooks.Webhook("whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
    with pytest.raises(standardwebhooks.webhooks.WebhookVerificationError):
        other.verify(request["body"], request["headers"])


def test_url_values_are_percent_encoded(base_url, db, receiver, unique_id):
    event_id = f"enc-{unique_id}"
    order_id = f"A/1 ?x={unique_id}"
    assert post_token(base_url, ENDPOINT, order_event(event_id, "http.forward", order_id)).status_code == 200

    event = settled(db, event_id)
    [request] = receiver.matching("/hooks/")

    assert event["status"] == "succeeded"
    assert request["path"] == f"/hooks/A%2F1%20%3Fx%3D{unique_id}?source=action_http"


def test_mapped_body_with_put(base_url, db, receiver, unique_id):
    event_id = f"map-{unique_id}"
    assert post_token(base_url, ENDPOINT, order_event(event_id, "http.mapped", f"m-{unique_id}")).status_code == 200

    event = settled(db, event_id)
    [request] = receiver.matching("/orders/")

    assert event["status"] == "succeeded"
    assert request["method"] == "PUT"
    assert request["path"] == f"/orders/m-{unique_id}"
    assert json.loads(request["body"]) == {"id": f"m-{unique_id}", "total": 4200, "firstSku": "A-1",
                                           "origin": "status"}
    assert request["headers"]["webhook-id"] == f"{ids.event_doc_id(ENDPOINT, event_id)}.mapped"
    assert "webhook-signature" not in request["headers"]
    assert "authorization" not in request["headers"]


@pytest.mark.parametrize("status", [429, 503])
def test_retryable_status_then_success(base_url, db, receiver, unique_id, status):
    event_id = f"retry{status}-{unique_id}"
    receiver.statuses = [status]
    assert post_token(base_url, ENDPOINT, order_event(event_id, "http.mapped", f"r-{unique_id}")).status_code == 200

    event = settled(db, event_id)
    requests_seen = receiver.matching("/orders/")

    assert event["status"] == "succeeded"
    assert event["attempts"] == 2
    assert event["lastError"] == (
        f"ActionError: PUT http://127.0.0.1:{RECEIVER_PORT}/orders/r-{unique_id} responded {status}; will retry")
    assert len(requests_seen) == 2
    assert requests_seen[0]["headers"]["webhook-id"] == requests_seen[1]["headers"]["webhook-id"]


def test_client_error_fails_at_once(base_url, db, receiver, unique_id):
    event_id = f"404-{unique_id}"
    receiver.statuses = [404]
    assert post_token(base_url, ENDPOINT, order_event(event_id, "http.mapped", f"n-{unique_id}")).status_code == 200

    event = settled(db, event_id)

    assert event["status"] == "failed"
    assert event["attempts"] == 1
    assert event["lastError"] == (f"PermanentError: PUT http://127.0.0.1:{RECEIVER_PORT}/orders/n-{unique_id} "
                                  'rejected the request with 404: {"received": true}')
    assert len(receiver.matching("/orders/")) == 1


def test_timeout_is_retried(base_url, db, receiver, unique_id):
    event_id = f"slow-{unique_id}"
    receiver.slow_requests = 1
    assert post_token(base_url, ENDPOINT, order_event(event_id, "http.slow", f"s-{unique_id}")).status_code == 200

    event = settled(db, event_id)

    assert event["status"] == "succeeded"
    assert event["attempts"] == 2
    assert event["lastError"] == (
        f"ActionError: POST http://127.0.0.1:{RECEIVER_PORT}/slow/s-{unique_id} timed out after 1 s; will retry")
    assert len(receiver.matching("/slow/")) == 2
