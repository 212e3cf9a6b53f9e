"""The SendGrid mail send client and the sendgridEmail action, against a recording server on 127.0.0.1."""

import json
import random
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from acehooks import sendgrid_mail
from acehooks.actions import sendgrid_email
from acehooks.actions.context import ActionContext
from acehooks.config import EndpointConfig
from acehooks.errors import ActionError, PermanentError

PORT_RANGE = (19500, 19999)  # ports kept for this suite's own servers


class Recorder(BaseHTTPRequestHandler):
    """Responds to POST with the next queued (status, headers, body), or 202; records each request on the server."""

    def log_message(self, format, *args):
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.received.append({"path": self.path, "headers": dict(self.headers), "body": body})
        status, headers, answer = self.server.answers.pop(0) if self.server.answers else (202, {}, b"")
        self.send_response(status)
        for name, value in {"X-Message-Id": "msg-1", **headers}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)


def start_server() -> ThreadingHTTPServer:
    for _ in range(50):
        try:
            server = ThreadingHTTPServer(("127.0.0.1", random.randint(*PORT_RANGE)), Recorder)
        except OSError:
            continue
        server.received, server.answers = [], []
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return server
    raise RuntimeError(f"no free port in {PORT_RANGE}")


@pytest.fixture
def sendgrid(monkeypatch):
    server = start_server()
    monkeypatch.setenv("SENDGRID_API_BASE_URL", f"http://127.0.0.1:{server.server_address[1]}")
    monkeypatch.setenv("SENDGRID_API_KEY", "SG.unit-test-key")
    monkeypatch.setenv("ACEHOOKS_EMAIL_FROM", "shop@example.com")
    yield server
    server.shutdown()
    server.server_close()


def sent_json(server) -> dict:
    return json.loads(server.received[-1]["body"])


# sendgrid_mail


def test_send_mail_posts_v3_body(sendgrid):
    result = sendgrid_mail.send_mail(to="buyer@example.com", subject="Hi", text="Plain", html="<p>Rich</p>")

    [request] = sendgrid.received
    assert result == {"status": 202, "messageId": "msg-1"}
    assert request["path"] == "/v3/mail/send"
    assert request["headers"]["Authorization"] == "Bearer SG.unit-test-key"
    assert request["headers"]["Content-Type"] == "application/json"
    assert json.loads(request["body"]) == {
        "personalizations": [{"to": [{"email": "buyer@example.com"}]}],
        "from": {"email": "shop@example.com"},
        "subject": "Hi",
        "content": [{"type": "text/plain", "value": "Plain"}, {"type": "text/html", "value": "<p>Rich</p>"}],
    }


@pytest.mark.parametrize("status", [429, 500, 503])
def test_retryable_status_raises_action_error(sendgrid, status):
    sendgrid.answers.append((status, {}, b"{}"))

    with pytest.raises(ActionError) as caught:
        sendgrid_mail.send_mail(to="buyer@example.com", subject="Hi", text="t")

    assert type(caught.value) is ActionError
    assert str(caught.value) == f"SendGrid responded {status}; will retry"


@pytest.mark.parametrize("status", [400, 401, 403, 413])
def test_client_error_raises_permanent_error(sendgrid, status):
    sendgrid.answers.append((status, {}, b'{"errors": [{"message": "bad"}]}'))

    with pytest.raises(PermanentError) as caught:
        sendgrid_mail.send_mail(to="buyer@example.com", subject="Hi", text="t")

    assert str(caught.value) == f'SendGrid rejected the message with {status}: {{"errors": [{{"message": "bad"}}]}}'


def test_redirect_is_permanent(sendgrid):
    sendgrid.answers.append((301, {"Location": "https://elsewhere.example/v3/mail/send?key=abc"}, b""))

    with pytest.raises(PermanentError) as caught:
        sendgrid_mail.send_mail(to="buyer@example.com", subject="Hi", text="t")

    assert str(caught.value) == ("SendGrid responded 301 redirecting to https://elsewhere.example/v3/mail/send; "
                                 "redirects are not followed, so update the URL")


def test_network_failure_is_retried(sendgrid, monkeypatch):
    closed = start_server()
    port = closed.server_address[1]
    closed.shutdown()
    closed.server_close()
    monkeypatch.setenv("SENDGRID_API_BASE_URL", f"http://127.0.0.1:{port}")

    with pytest.raises(ActionError) as caught:
        sendgrid_mail.send_mail(to="buyer@example.com", subject="Hi", text="t")

    assert str(caught.value) == f"SendGrid request to http://127.0.0.1:{port} failed: ConnectionError"


def test_api_key_never_in_errors(sendgrid):
    sendgrid.answers.append((400, {}, b"rejected"))

    with pytest.raises(PermanentError) as caught:
        sendgrid_mail.send_mail(to="buyer@example.com", subject="Hi", text="t")

    assert "SG.unit-test-key" not in str(caught.value)


def test_unset_api_key_is_permanent(sendgrid, monkeypatch):
    monkeypatch.delenv("SENDGRID_API_KEY")

    with pytest.raises(PermanentError, match="SENDGRID_API_KEY is not set; set it in the worker's environment"):
        sendgrid_mail.send_mail(to="buyer@example.com", subject="Hi", text="t")
    assert sendgrid.received == []


@pytest.mark.parametrize("address", ["plain", "a@b", "two@@example.com", "sp ace@example.com", "@example.com"])
def test_invalid_address_rejected(address):
    with pytest.raises(PermanentError, match="is not an email address"):
        sendgrid_mail.check_address(address, "to")


def test_recipient_list_limits():
    assert sendgrid_mail.recipient_list(["a@example.com", " b@example.com "]) == ["a@example.com", "b@example.com"]
    with pytest.raises(PermanentError, match="to resolved to no address"):
        sendgrid_mail.recipient_list(None)
    with pytest.raises(PermanentError, match="to contains 1001 addresses; SendGrid accepts at most 1000"):
        sendgrid_mail.recipient_list([f"r{index}@example.com" for index in range(1001)])
    with pytest.raises(PermanentError, match=r"to\[1\] 'nope' is not an email address"):
        sendgrid_mail.recipient_list(["a@example.com", "nope"])


def test_sender_needed(monkeypatch):
    monkeypatch.delenv("ACEHOOKS_EMAIL_FROM", raising=False)

    with pytest.raises(PermanentError, match="no sender address: set from in the action, or ACEHOOKS_EMAIL_FROM"):
        sendgrid_mail.build_message(["a@example.com"], subject="s", text="t")


# sendgridEmail action


MODEL = {"email": "buyer@example.com", "copies": ["a@example.com", "b@example.com"], "name": "Ada", "total": 4200,
         "missing": None}
PAYLOAD = {"order": {"id": "o-1", "lines": [{"sku": "A-1"}]}}


def email_action(**fields):
    data = {"endpointName": "orders", "auth": [{"method": "token", "secretEnv": "T"}],
            "model": {name: name for name in MODEL}, "actions": [{"type": "sendgridEmail", **fields}]}
    return EndpointConfig.model_validate(data).actions[0]


def make_context() -> ActionContext:
    return ActionContext(endpoint="orders", event_id="evt_1", event_type="order.paid", doc_id="orders-evt_1-abc",
                         payload=PAYLOAD, model=dict(MODEL), params={}, attempt=1, action_id="mail")


def test_action_sends_template_to_list(sendgrid):
    configured = email_action(to="copies", templateId={"literal": "d-123"}, fromName={"literal": "Shop"},
                              templateData={"name": "name", "total": "total", "lines": "$.order.lines",
                                            "missing": "missing"})

    result = sendgrid_email.run(configured, make_context(), writes=None)

    assert result == {"status": 202, "messageId": "msg-1", "recipients": 2, "templateId": "d-123"}
    assert sent_json(sendgrid) == {
        "personalizations": [{"to": [{"email": "a@example.com"}, {"email": "b@example.com"}],
                              "dynamic_template_data": {"name": "Ada", "total": 4200, "lines": [{"sku": "A-1"}],
                                                        "missing": None}}],
        "from": {"email": "shop@example.com", "name": "Shop"},
        "template_id": "d-123",
        "custom_args": {"acehooksEvent": "orders-evt_1-abc", "acehooksAction": "mail"},
    }


def test_action_uses_its_api_key_variable(sendgrid, monkeypatch):
    monkeypatch.setenv("MARKETING_SENDGRID_KEY", "SG.marketing")
    configured = email_action(to="email", subject="Total {total}", text="total", apiKeyEnv="MARKETING_SENDGRID_KEY")

    sendgrid_email.run(configured, make_context(), writes=None)

    assert sendgrid.received[-1]["headers"]["Authorization"] == "Bearer SG.marketing"
    # "total" is a model field, so the text is its value; the subject is a plain string.
    assert sent_json(sendgrid)["content"] == [{"type": "text/plain", "value": "4200"}]
    assert sent_json(sendgrid)["subject"] == "Total {total}"


def test_action_subject_resolving_to_nothing_is_permanent(sendgrid):
    configured = email_action(to="email", subject="missing", text="t")

    with pytest.raises(PermanentError, match="subject 'missing' resolved to nothing for this event"):
        sendgrid_email.run(configured, make_context(), writes=None)
    assert sendgrid.received == []


def test_action_empty_content_is_permanent(sendgrid):
    configured = email_action(to="email", subject="s", text="missing")

    with pytest.raises(PermanentError, match="text and html both resolved to nothing"):
        sendgrid_email.run(configured, make_context(), writes=None)
