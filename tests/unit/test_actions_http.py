"""The httpRequest action against a recording server on 127.0.0.1: body, headers, signature and status rules."""

import base64
import hashlib
import hmac
import json
import random
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import standardwebhooks

from acehooks.actions import http_request
from acehooks.actions.context import ActionContext
from acehooks.config import EndpointConfig
from acehooks.errors import ActionError, PermanentError

PORT_RANGE = (19500, 19999)  # ports kept for this suite's own servers
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
MODEL = {"orderId": "o-1", "status": "paid", "total": 4200, "missing": None, "tags": ["a", "b"]}
PAYLOAD = {"id": "evt_1", "order": {"id": "o-1", "lines": [{"sku": "A-1"}]}, "note": "Grüße"}


class Recorder(BaseHTTPRequestHandler):
    """Responds with the next queued status (or 200), after ``delay_seconds``; records each request."""

    def log_message(self, format, *args):
        pass

    def handle_any(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.received.append({"method": self.command, "path": self.path,
                                     "headers": {name.lower(): value for name, value in self.headers.items()},
                                     "body": body})
        time.sleep(self.server.delay_seconds)
        status = self.server.statuses.pop(0) if self.server.statuses else 200
        answer = b'{"ok": false}' if status >= 400 else b'{"ok": true}'
        try:
            self.send_response(status)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)
        except (BrokenPipeError, ConnectionResetError):
            pass

    do_POST = do_PUT = do_GET = do_DELETE = do_PATCH = handle_any


def start_server() -> ThreadingHTTPServer:
    for _ in range(50):
        try:
            server = ThreadingHTTPServer(("127.0.0.1", random.randint(*PORT_RANGE)), Recorder)
        except OSError:
            continue
        server.received, server.statuses, server.delay_seconds = [], [], 0.0
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return server
    raise RuntimeError(f"no free port in {PORT_RANGE}")


@pytest.fixture
def server():
    started = start_server()
    yield started
    started.shutdown()
    started.server_close()


def request_action(server, path="/hooks/{orderId}", **fields):
    data = {"endpointName": "orders", "auth": [{"method": "token", "secretEnv": "T"}],
            "model": {name: name for name in MODEL},
            "actions": [{"type": "httpRequest", "id": "notify",
                         "url": f"http://127.0.0.1:{server.server_address[1]}{path}", **fields}]}
    return EndpointConfig.model_validate(data).actions[0]


def make_context() -> ActionContext:
    return ActionContext(endpoint="orders", event_id="evt_1", event_type="order.paid", doc_id="orders-evt_1-abc",
                         payload=PAYLOAD, model=dict(MODEL), params={}, attempt=1, action_id="notify")


def test_payload_forwarded_as_compact_json(server):
    result = http_request.run(request_action(server), make_context(), writes=None)

    [request] = server.received
    assert request["method"] == "POST"
    assert request["path"] == "/hooks/o-1"
    assert request["body"] == json.dumps(PAYLOAD, separators=(",", ":"), ensure_ascii=False).encode()
    assert request["headers"]["content-type"] == "application/json"
    assert request["headers"]["user-agent"].startswith("acehooks/")
    assert request["headers"]["webhook-id"] == "orders-evt_1-abc.notify"
    assert "webhook-signature" not in request["headers"]
    assert result == {"status": 200, "method": "POST", "url": f"http://127.0.0.1:{server.server_address[1]}/hooks/o-1",
                      "webhookId": "orders-evt_1-abc.notify"}


def test_model_body_and_mapped_body(server):
    http_request.run(request_action(server, body="model"), make_context(), writes=None)
    http_request.run(request_action(server, body={"id": "orderId", "sku": "$.order.lines[0].sku",
                                                  "label": {"literal": "status"}, "gone": "missing"}),
                     make_context(), writes=None)

    assert json.loads(server.received[0]["body"]) == MODEL
    assert json.loads(server.received[1]["body"]) == {"id": "o-1", "sku": "A-1", "label": "status", "gone": None}


def test_get_sends_no_body(server):
    http_request.run(request_action(server, method="GET"), make_context(), writes=None)

    [request] = server.received
    assert request["method"] == "GET"
    assert request["body"] == b""
    assert "content-type" not in request["headers"]


def test_headers_from_specs_and_environment(server, monkeypatch):
    monkeypatch.setenv("PARTNER_AUTH", "Bearer partner-secret")
    configured = request_action(server, headers={"X-Status": "status", "X-Total": "total", "X-Tags": "tags",
                                                 "X-Gone": "missing", "X-Fixed": "fixed text"},
                                headerEnv={"Authorization": "PARTNER_AUTH"})

    http_request.run(configured, make_context(), writes=None)

    headers = server.received[0]["headers"]
    assert headers["x-status"] == "paid"
    assert headers["x-total"] == "4200"
    assert headers["x-tags"] == '["a","b"]'
    assert headers["x-fixed"] == "fixed text"
    assert "x-gone" not in headers
    assert headers["authorization"] == "Bearer partner-secret"


def test_unset_header_variable_is_permanent(server):
    configured = request_action(server, headerEnv={"Authorization": "ACTION_UNIT_TEST_UNSET"})

    with pytest.raises(PermanentError, match="headerEnv.Authorization: ACTION_UNIT_TEST_UNSET is not set"):
        http_request.run(configured, make_context(), writes=None)
    assert server.received == []


def test_signature_verifies_with_standardwebhooks(server, monkeypatch):
    monkeypatch.setenv("PARTNER_SIGNING_SECRET", SECRET)

    http_request.run(request_action(server, signingSecretEnv="PARTNER_SIGNING_SECRET"), make_context(), writes=None)

    [request] = server.received
    assert standardwebhooks.Webhook(SECRET).verify(request["body"], request["headers"]) == PAYLOAD


def test_signature_matches_published_algorithm(server, monkeypatch):
    monkeypatch.setenv("PARTNER_SIGNING_SECRET", SECRET)
    monkeypatch.setattr("acehooks.clock.now_seconds", lambda: 1_700_000_000.7)

    http_request.run(request_action(server, signingSecretEnv="PARTNER_SIGNING_SECRET"), make_context(), writes=None)

    headers = server.received[0]["headers"]
    key = base64.b64decode(SECRET.removeprefix("whsec_"))
    content = b"orders-evt_1-abc.notify.1700000000." + server.received[0]["body"]
    expected = base64.b64encode(hmac.new(key, content, hashlib.sha256).digest()).decode()
    assert headers["webhook-timestamp"] == "1700000000"
    assert headers["webhook-signature"] == f"v1,{expected}"


@pytest.mark.parametrize("value, message", [
    (None, "signingSecretEnv: PARTNER_SIGNING_SECRET is not set; set it in the worker's environment "
           "(from Secret Manager in production)"),
    ("whsec_!!!not-base64", "signingSecretEnv: PARTNER_SIGNING_SECRET is not 'whsec_' followed by base64"),
])
def test_bad_signing_secret_is_permanent(server, monkeypatch, value, message):
    if value is None:
        monkeypatch.delenv("PARTNER_SIGNING_SECRET", raising=False)
    else:
        monkeypatch.setenv("PARTNER_SIGNING_SECRET", value)

    with pytest.raises(PermanentError) as caught:
        http_request.run(request_action(server, signingSecretEnv="PARTNER_SIGNING_SECRET"), make_context(), None)

    assert str(caught.value) == message
    assert server.received == []


def test_url_values_percent_encoded(server):
    context = make_context()
    context.model["orderId"] = "a/b c?d=e&f"

    http_request.run(request_action(server, path="/hooks/{orderId}?ref={orderId}&source={endpoint}"), context, None)

    assert server.received[0]["path"] == "/hooks/a%2Fb%20c%3Fd%3De%26f?ref=a%2Fb%20c%3Fd%3De%26f&source=orders"


def test_missing_url_value_is_permanent(server):
    with pytest.raises(PermanentError, match=r"url: template .*\{missing\} has no value for this event"):
        http_request.run(request_action(server, path="/hooks/{missing}"), make_context(), writes=None)


@pytest.mark.parametrize("status", [429, 500, 502, 503])
def test_retryable_status(server, status):
    server.statuses.append(status)

    with pytest.raises(ActionError) as caught:
        http_request.run(request_action(server), make_context(), writes=None)

    assert type(caught.value) is ActionError
    assert str(caught.value) == f"POST http://127.0.0.1:{server.server_address[1]}/hooks/o-1 responded {status}; will retry"


@pytest.mark.parametrize("status", [400, 401, 404, 409, 422])
def test_client_error_is_permanent(server, status):
    server.statuses.append(status)

    with pytest.raises(PermanentError) as caught:
        http_request.run(request_action(server), make_context(), writes=None)

    assert str(caught.value) == (f"POST http://127.0.0.1:{server.server_address[1]}/hooks/o-1 rejected the request "
                                 f'with {status}: {{"ok": false}}')


def test_timeout_is_retried(server):
    server.delay_seconds = 1.0

    with pytest.raises(ActionError) as caught:
        http_request.run(request_action(server, timeoutSeconds=0.2), make_context(), writes=None)

    assert type(caught.value) is ActionError
    assert str(caught.value).endswith("/hooks/o-1 timed out after 0.2 s; will retry")


def test_refused_connection_is_retried(server):
    closed = start_server()
    configured = request_action(closed)
    closed.shutdown()
    closed.server_close()

    with pytest.raises(ActionError) as caught:
        http_request.run(configured, make_context(), writes=None)

    assert str(caught.value) == (f"POST http://127.0.0.1:{closed.server_address[1]}/hooks/o-1 failed: "
                                 "ConnectionError; will retry")


def test_header_value_with_line_break_is_permanent(server, monkeypatch):
    monkeypatch.setenv("PARTNER_AUTH", "Bearer abc\r\nX-Injected: 1")
    configured = request_action(server, headerEnv={"Authorization": "PARTNER_AUTH"})

    with pytest.raises(PermanentError) as caught:
        http_request.run(configured, make_context(), writes=None)

    assert "a header value is invalid (a line break or leading whitespace)" in str(caught.value)
    assert "abc" not in str(caught.value)
    assert server.received == []


def test_query_left_out_of_result_and_errors(server):
    server.statuses.append(400)
    configured = request_action(server, path="/hooks/{orderId}?apiKey=secret-in-query")

    with pytest.raises(PermanentError) as caught:
        http_request.run(configured, make_context(), writes=None)

    assert "secret-in-query" not in str(caught.value)
