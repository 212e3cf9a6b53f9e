"""Every auth preset on the local stack: signed deliveries are stored and processed, bad ones get 401 or 403.

Each preset has a fixture endpoint (tests/fixtures/endpoints/preset_*.json) that saves its model to
RECORDS under ``{endpoint}_{eventId}``. Requests are signed with the provider's own library where it
signs (slack_sdk, twilio, standardwebhooks, svix) and as the provider documents it otherwise.
"""

import base64
import hashlib
import hmac
import http.client
import json
import os
import subprocess
import sys
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import parse_qsl

import pytest
import requests
import standardwebhooks
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from google.cloud.firestore_v1.base_query import FieldFilter
from slack_sdk.signature import SignatureVerifier
from twilio.request_validator import RequestValidator

from acehooks import ids
from conftest import ROOT, wait_for
from helpers import event_doc, events_for

SAMPLES = ROOT / "emulator_data"
RECORDS = "test_preset_records"
TWILIO_PUBLIC_URL = "https://hooks.acehooks.test/twilio/sms"
SQUARE_PUBLIC_URL = "https://hooks.acehooks.test/square?source=acehooks"


def secret(name: str) -> str:
    return os.environ[name]


def hmac_sha256(key: str, content: bytes) -> bytes:
    return hmac.new(key.encode(), content, hashlib.sha256).digest()


def post(base_url: str, endpoint: str, body: bytes, headers: dict, query: str = "",
         content_type: str = "application/json") -> requests.Response:
    url = f"{base_url}/{endpoint}" + (f"?{query}" if query else "")
    return requests.post(url, data=body, headers={"Content-Type": content_type, **headers}, timeout=30)


def wait_for_status(db, endpoint: str, event_id: str, status: str = "succeeded") -> dict:
    return wait_for(lambda: (event_doc(db, endpoint, event_id) or {}).get("status") == status
                    and event_doc(db, endpoint, event_id), timeout=30)


def record(db, endpoint: str, event_id: str) -> dict | None:
    snapshot = db.collection(RECORDS).document(f"{endpoint}_{event_id}").get()
    return snapshot.to_dict() if snapshot.exists else None


def endpoint_event_count(db, endpoint: str) -> int:
    query = db.collection("webhook_events").where(filter=FieldFilter("endpoint", "==", endpoint))
    return len(list(query.stream()))


def assert_unauthorized(response: requests.Response) -> None:
    assert response.status_code == 401
    assert response.json() == {"error": "unauthorized"}


def assert_forbidden(response: requests.Response) -> None:
    assert response.status_code == 403
    assert response.json() == {"error": "forbidden"}


def logged_reasons(functions_log, endpoint: str) -> list[str]:
    """Return the reasons ingest logged for rejected deliveries to ``endpoint`` during this test."""
    def read():
        return [line["reason"] for line in functions_log()
                if line.get("endpoint") == endpoint and line.get("status") in (401, 403)]
    return wait_for(read, timeout=5)


# GitHub


def github_headers(body: bytes, event: str, delivery: str, key: str | None = None) -> dict:
    signature = hmac_sha256(key or secret("GITHUB_WEBHOOK_SECRET"), body).hex()
    return {"X-Hub-Signature-256": f"sha256={signature}", "X-GitHub-Event": event, "X-GitHub-Delivery": delivery}


@pytest.mark.parametrize("file_name, event", [("push.json", "push"), ("issues.opened.json", "issues"),
                                              ("pull_request.opened.json", "pull_request")])
def test_github_sample_processed(base_url, db, file_name, event):
    body = (SAMPLES / "github" / file_name).read_bytes()
    delivery = str(uuid.uuid4())

    response = post(base_url, "preset_github", body, github_headers(body, event, delivery))

    assert response.status_code == 200
    assert response.json() == {"status": "accepted", "eventId": delivery}
    stored = wait_for_status(db, "preset_github", delivery)
    assert stored["eventType"] == event
    payload = json.loads(body)
    saved = record(db, "preset_github", delivery)
    assert saved["repository"] == payload["repository"]["full_name"]
    assert saved["sender"] == payload["sender"]["login"]
    assert saved["action"] == payload.get("action")


def test_github_ping_answered_not_stored(base_url, db):
    body = (SAMPLES / "github" / "ping.json").read_bytes()
    delivery = str(uuid.uuid4())

    response = post(base_url, "preset_github", body, github_headers(body, "ping", delivery))

    assert response.status_code == 200
    assert response.json() == {"status": "pong", "hookId": 109948940}
    assert events_for(db, "preset_github", delivery) == []


def test_github_bad_signature_rejected(base_url, db, functions_log):
    body = (SAMPLES / "github" / "push.json").read_bytes()
    delivery = str(uuid.uuid4())

    response = post(base_url, "preset_github", body, github_headers(body, "push", delivery, key="wrong-secret"))

    assert_unauthorized(response)
    assert events_for(db, "preset_github", delivery) == []
    assert logged_reasons(functions_log, "preset_github") == ["signature_mismatch"]


def test_github_sha1_only_where_allowed(base_url, db):
    body = (SAMPLES / "github" / "push.json").read_bytes()
    delivery = str(uuid.uuid4())
    sha1 = hmac.new(secret("GITHUB_WEBHOOK_SECRET").encode(), body, hashlib.sha1).hexdigest()
    headers = {"X-Hub-Signature": f"sha1={sha1}", "X-GitHub-Event": "push", "X-GitHub-Delivery": delivery}

    assert_unauthorized(post(base_url, "preset_github", body, headers))
    allowed = post(base_url, "preset_github_sha1", body, headers)

    assert allowed.status_code == 200
    assert wait_for_status(db, "preset_github_sha1", delivery)["eventType"] == "push"
    assert events_for(db, "preset_github", delivery) == []


# Shopify


def shopify_headers(body: bytes, event_id: str, key: str | None = None) -> dict:
    signature = base64.b64encode(hmac_sha256(key or secret("SHOPIFY_CLIENT_SECRET"), body)).decode()
    return {"X-Shopify-Hmac-Sha256": signature, "X-Shopify-Topic": "orders/create", "X-Shopify-Event-Id": event_id,
            "X-Shopify-Webhook-Id": str(uuid.uuid4())}


def test_shopify_order_processed(base_url, db):
    body = (SAMPLES / "shopify" / "orders-create.json").read_bytes()
    event_id = str(uuid.uuid4())

    response = post(base_url, "preset_shopify", body, shopify_headers(body, event_id))

    assert response.status_code == 200
    assert wait_for_status(db, "preset_shopify", event_id)["eventType"] == "orders/create"
    saved = record(db, "preset_shopify", event_id)
    assert saved["orderId"] == 820982911946154500
    assert saved["email"] == json.loads(body)["email"]


def test_shopify_retry_with_new_webhook_id_is_duplicate(base_url, db):
    body = (SAMPLES / "shopify" / "orders-create.json").read_bytes()
    event_id = str(uuid.uuid4())

    first = post(base_url, "preset_shopify", body, shopify_headers(body, event_id))
    wait_for_status(db, "preset_shopify", event_id)
    second = post(base_url, "preset_shopify", body, shopify_headers(body, event_id))

    assert first.json()["status"] == "accepted"
    assert second.json() == {"status": "duplicate", "eventId": event_id}
    assert len(events_for(db, "preset_shopify", event_id)) == 1


def test_shopify_bad_signature_rejected(base_url, db):
    body = (SAMPLES / "shopify" / "orders-create.json").read_bytes()
    event_id = str(uuid.uuid4())

    assert_unauthorized(post(base_url, "preset_shopify", body, shopify_headers(body, event_id, key="wrong")))
    assert events_for(db, "preset_shopify", event_id) == []


# Slack


def slack_body(event_id: str) -> bytes:
    body = (SAMPLES / "slack" / "event_callback.reaction_added.json").read_bytes()
    return body.replace(b'"Ev0ACEHOOKS01"', json.dumps(event_id).encode())


def slack_headers(body: bytes, key: str | None = None, **extra) -> dict:
    timestamp = str(int(time.time()))
    signature = SignatureVerifier(key or secret("SLACK_SIGNING_SECRET")).generate_signature(timestamp=timestamp, body=body)
    return {"X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": signature, **extra}


def test_slack_event_processed_and_retry_is_duplicate(base_url, db):
    event_id = f"Ev{uuid.uuid4().hex[:10].upper()}"
    body = slack_body(event_id)

    first = post(base_url, "preset_slack", body, slack_headers(body))
    stored = wait_for_status(db, "preset_slack", event_id)
    retry = post(base_url, "preset_slack", body, slack_headers(body, **{"X-Slack-Retry-Num": "1",
                                                                          "X-Slack-Retry-Reason": "http_timeout"}))

    assert first.json() == {"status": "accepted", "eventId": event_id}
    assert stored["eventType"] == "reaction_added"
    assert record(db, "preset_slack", event_id) == {"user": "U27FFLNF4", "reaction": "grinning"}
    assert retry.status_code == 200
    assert retry.json() == {"status": "duplicate", "eventId": event_id}
    assert len(events_for(db, "preset_slack", event_id)) == 1


def test_slack_url_verification_answered_not_stored(base_url, db):
    body = (SAMPLES / "slack" / "url_verification.json").read_bytes()
    before = endpoint_event_count(db, "preset_slack")

    response = post(base_url, "preset_slack", body, slack_headers(body))

    assert response.status_code == 200
    assert response.json() == {"challenge": "valid_challenge_token"}
    assert event_doc(db, "preset_slack", ids.body_event_id(body)) is None
    assert endpoint_event_count(db, "preset_slack") == before


def test_slack_unsigned_url_verification_rejected(base_url):
    body = (SAMPLES / "slack" / "url_verification.json").read_bytes()

    assert_unauthorized(post(base_url, "preset_slack", body, slack_headers(body, key="wrong-secret")))


def test_slack_stale_timestamp_rejected(base_url, db, functions_log):
    event_id = f"Ev{uuid.uuid4().hex[:10].upper()}"
    body = slack_body(event_id)
    timestamp = str(int(time.time()) - 600)
    signature = SignatureVerifier(secret("SLACK_SIGNING_SECRET")).generate_signature(timestamp=timestamp, body=body)

    response = post(base_url, "preset_slack", body, {"X-Slack-Request-Timestamp": timestamp,
                                                     "X-Slack-Signature": signature})

    assert_unauthorized(response)
    assert events_for(db, "preset_slack", event_id) == []
    assert logged_reasons(functions_log, "preset_slack") == ["timestamp_too_old"]


# Twilio


def twilio_form(message_sid: str) -> bytes:
    body = (SAMPLES / "twilio" / "inbound-sms.form").read_bytes()
    return body.replace(b"SM1521fa559fb923c1ed64f56cd1bed8ef", message_sid.encode())


def test_twilio_form_processed(base_url, db):
    message_sid = f"SM{uuid.uuid4().hex}"
    body = twilio_form(message_sid)
    params = dict(parse_qsl(body.decode(), keep_blank_values=True))
    signature = RequestValidator(secret("TWILIO_AUTH_TOKEN")).compute_signature(f"{TWILIO_PUBLIC_URL}?tenant=acme", params)

    response = post(base_url, "preset_twilio", body, {"X-Twilio-Signature": signature}, query="tenant=acme",
                    content_type="application/x-www-form-urlencoded")

    event_id = ids.body_event_id(body)
    assert response.status_code == 200
    assert response.json() == {"status": "accepted", "eventId": event_id}
    wait_for_status(db, "preset_twilio", event_id)
    assert record(db, "preset_twilio", event_id) == {"from": "+15005550001", "body": "twilio-go testing!",
                                                     "messageSid": message_sid}


def test_twilio_json_body_processed(base_url, db):
    body = json.dumps({"MessageSid": f"SM{uuid.uuid4().hex}", "From": "+15005550001", "Body": "json"}).encode()
    query = f"bodySHA256={hashlib.sha256(body).hexdigest()}"
    signature = RequestValidator(secret("TWILIO_AUTH_TOKEN")).compute_signature(f"{TWILIO_PUBLIC_URL}?{query}", {})

    response = post(base_url, "preset_twilio", body, {"X-Twilio-Signature": signature}, query=query)

    assert response.status_code == 200
    assert wait_for_status(db, "preset_twilio", ids.body_event_id(body))


def test_twilio_signature_over_local_url_rejected(base_url, db, functions_log):
    body = twilio_form(f"SM{uuid.uuid4().hex}")
    params = dict(parse_qsl(body.decode(), keep_blank_values=True))
    signature = RequestValidator(secret("TWILIO_AUTH_TOKEN")).compute_signature(f"{base_url}/preset_twilio", params)

    response = post(base_url, "preset_twilio", body, {"X-Twilio-Signature": signature},
                    content_type="application/x-www-form-urlencoded")

    assert_unauthorized(response)
    assert event_doc(db, "preset_twilio", ids.body_event_id(body)) is None
    assert logged_reasons(functions_log, "preset_twilio") == ["signature_mismatch"]


# Standard Webhooks and Svix


def invoice_body(invoice_id: str) -> bytes:
    body = (SAMPLES / "standard_webhooks" / "invoice.paid.json").read_bytes()
    return body.replace(b'"invoice_WF7WtCLFFtd8ubcTgboSFNql"', json.dumps(invoice_id).encode())


def webhook_signature(key: str, message_id: str, body: bytes) -> tuple[str, str]:
    now = datetime.now(timezone.utc)
    return str(int(now.timestamp())), standardwebhooks.Webhook(key).sign(message_id, now, body)


@pytest.mark.parametrize("endpoint, prefix", [("preset_standard_webhooks", "webhook"), ("preset_svix", "svix")])
def test_standard_webhooks_processed(base_url, db, endpoint, prefix):
    message_id = f"msg_{uuid.uuid4().hex}"
    invoice_id = f"invoice_{uuid.uuid4().hex[:12]}"
    body = invoice_body(invoice_id)
    timestamp, signature = webhook_signature(secret("STANDARD_WEBHOOKS_SECRET"), message_id, body)
    headers = {f"{prefix}-id": message_id, f"{prefix}-timestamp": timestamp, f"{prefix}-signature": signature}

    response = post(base_url, endpoint, body, headers)

    assert response.json() == {"status": "accepted", "eventId": message_id}
    assert wait_for_status(db, endpoint, message_id)["eventType"] == "invoice.paid"
    assert record(db, endpoint, message_id) == {"invoiceId": invoice_id}


def test_standard_webhooks_wrong_secret_rejected(base_url, db):
    message_id = f"msg_{uuid.uuid4().hex}"
    body = invoice_body("invoice_wrong")
    timestamp, signature = webhook_signature("whsec_" + base64.b64encode(b"another key").decode(), message_id, body)
    headers = {"webhook-id": message_id, "webhook-timestamp": timestamp, "webhook-signature": signature}

    assert_unauthorized(post(base_url, "preset_standard_webhooks", body, headers))
    assert events_for(db, "preset_standard_webhooks", message_id) == []


# Square


def square_body(event_id: str) -> bytes:
    body = (SAMPLES / "square" / "payment.updated.json").read_bytes()
    return body.replace(b'"6a8f5f28-54a1-4eb0-a98a-3111513fd4fc"', json.dumps(event_id).encode())


def square_headers(url: str, body: bytes) -> dict:
    signature = base64.b64encode(hmac_sha256(secret("SQUARE_SIGNATURE_KEY"), url.encode() + body)).decode()
    return {"x-square-hmacsha256-signature": signature}


def test_square_payment_processed(base_url, db):
    event_id = str(uuid.uuid4())
    body = square_body(event_id)

    response = post(base_url, "preset_square", body, square_headers(SQUARE_PUBLIC_URL, body))

    assert response.json() == {"status": "accepted", "eventId": event_id}
    assert wait_for_status(db, "preset_square", event_id)["eventType"] == "payment.updated"
    assert record(db, "preset_square", event_id) == {"paymentId": "KkAkhdMsgzn59SM8A89WgKwekxLZY",
                                                     "status": "COMPLETED"}


def test_square_signature_over_local_url_rejected(base_url, db):
    event_id = str(uuid.uuid4())
    body = square_body(event_id)

    assert_unauthorized(post(base_url, "preset_square", body, square_headers(f"{base_url}/preset_square", body)))
    assert events_for(db, "preset_square", event_id) == []


# SendGrid


def sendgrid_batch(suffix: str) -> bytes:
    events = json.loads((SAMPLES / "sendgrid" / "events.json").read_bytes())
    for event in events:
        event["sg_event_id"] = f"{event['sg_event_id'].rstrip('=')}-{suffix}"
    return json.dumps(events).encode()


def sendgrid_headers(body: bytes, key_variable: str = "SENDGRID_WEBHOOK_SIGNING_KEY") -> dict:
    private_key = serialization.load_der_private_key(base64.b64decode(secret(key_variable)), password=None)
    timestamp = str(int(time.time()))
    signature = private_key.sign(timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    return {"X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(signature).decode(),
            "X-Twilio-Email-Event-Webhook-Timestamp": timestamp}


def test_sendgrid_batch_becomes_events_once(base_url, db, unique_id):
    body = sendgrid_batch(unique_id)
    event_ids = [event["sg_event_id"] for event in json.loads(body)]

    first = post(base_url, "preset_sendgrid", body, sendgrid_headers(body))
    for event_id in event_ids:
        wait_for_status(db, "preset_sendgrid", event_id)
    again = post(base_url, "preset_sendgrid", body, sendgrid_headers(body))

    assert first.status_code == 200
    assert first.json()["status"] == "batch"
    assert [answer["status"] for answer in first.json()["events"]] == ["accepted"] * 3
    assert again.status_code == 200
    assert [answer["status"] for answer in again.json()["events"]] == ["duplicate"] * 3
    for event_id, event_type in zip(event_ids, ["processed", "delivered", "open"]):
        assert len(events_for(db, "preset_sendgrid", event_id)) == 1
        assert event_doc(db, "preset_sendgrid", event_id)["eventType"] == event_type
        assert record(db, "preset_sendgrid", event_id) == {"email": "buyer@example.com", "event": event_type}


def test_sendgrid_bad_signature_rejected(base_url, db, unique_id, functions_log):
    body = sendgrid_batch(unique_id)
    headers = sendgrid_headers(body)
    other_key = ec.generate_private_key(ec.SECP256R1())
    forged = other_key.sign(headers["X-Twilio-Email-Event-Webhook-Timestamp"].encode() + body, ec.ECDSA(hashes.SHA256()))
    headers["X-Twilio-Email-Event-Webhook-Signature"] = base64.b64encode(forged).decode()

    assert_unauthorized(post(base_url, "preset_sendgrid", body, headers))
    for event in json.loads(body):
        assert events_for(db, "preset_sendgrid", event["sg_event_id"]) == []
    assert logged_reasons(functions_log, "preset_sendgrid") == ["signature_mismatch"]


# Token in a query parameter


def test_query_token_accepted_and_wrong_one_rejected(base_url, db, unique_id):
    body = json.dumps({"id": f"q-{unique_id}"}).encode()

    good = post(base_url, "preset_token_query", body, {}, query=f"token={secret('TEST_TOKEN')}")
    bad = post(base_url, "preset_token_query", json.dumps({"id": f"q-bad-{unique_id}"}).encode(), {},
               query="token=wrong")

    assert good.status_code == 200
    assert wait_for_status(db, "preset_token_query", f"q-{unique_id}")
    assert_unauthorized(bad)
    assert events_for(db, "preset_token_query", f"q-bad-{unique_id}") == []


# IP allowlist, combined with a token


def token_post(base_url, endpoint: str, event_id: str, token: str | None = None, **headers) -> requests.Response:
    body = json.dumps({"id": event_id}).encode()
    auth = {"Authorization": f"Bearer {token or secret('TEST_TOKEN')}"}
    return post(base_url, endpoint, body, {**auth, **headers})


def test_local_peer_allowed_whatever_forwarded_for_says(base_url, db, unique_id):
    response = token_post(base_url, "preset_ip_local", f"ip-{unique_id}", **{"X-Forwarded-For": "192.0.2.66"})

    assert response.status_code == 200
    assert wait_for_status(db, "preset_ip_local", f"ip-{unique_id}")


def test_spoofed_forwarded_for_without_proxy_forbidden(base_url, db, unique_id, functions_log):
    # preset_ip_remote allows only 10.0.0.0/8 and trusts no proxy: the socket peer is 127.0.0.1.
    response = token_post(base_url, "preset_ip_remote", f"ip-{unique_id}", **{"X-Forwarded-For": "10.1.2.3"})

    assert_forbidden(response)
    assert events_for(db, "preset_ip_remote", f"ip-{unique_id}") == []
    assert logged_reasons(functions_log, "preset_ip_remote") == ["address_not_allowed"]


@pytest.mark.parametrize("forwarded", ["203.0.113.5", "198.18.0.1, 203.0.113.5", "2001:db8::7",
                                       "10.9.9.9, 2001:db8:abcd::1"])
def test_proxied_client_allowed(base_url, db, unique_id, forwarded):
    event_id = f"ip-{unique_id}"

    response = token_post(base_url, "preset_ip_proxied", event_id, **{"X-Forwarded-For": forwarded})

    assert response.status_code == 200
    assert wait_for_status(db, "preset_ip_proxied", event_id)


@pytest.mark.parametrize("forwarded, reason", [
    ("203.0.113.5, 192.0.2.66", "address_not_allowed"),
    ("2001:db9::7", "address_not_allowed"),
    ("203.0.113.5:443", "client_address_malformed"),
    ("garbage", "client_address_malformed"),
    (None, "forwarded_for_short"),
])
def test_proxied_client_forbidden(base_url, db, unique_id, functions_log, forwarded, reason):
    event_id = f"ip-{unique_id}"
    headers = {} if forwarded is None else {"X-Forwarded-For": forwarded}

    assert_forbidden(token_post(base_url, "preset_ip_proxied", event_id, **headers))
    assert events_for(db, "preset_ip_proxied", event_id) == []
    assert logged_reasons(functions_log, "preset_ip_proxied") == [reason]


@pytest.mark.parametrize("lines, status", [(["198.18.0.1", "203.0.113.5"], 200), (["203.0.113.5", "198.18.0.1"], 403)])
def test_repeated_forwarded_for_lines_read_in_order(base_url, unique_id, lines, status):
    # requests cannot send one header twice; http.client can, as a chain of proxies may.
    event_id = f"ip-{unique_id}"
    host, port = base_url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    body = json.dumps({"id": event_id}).encode()
    try:
        connection.putrequest("POST", "/preset_ip_proxied")
        for name, value in [("Content-Type", "application/json"), ("Content-Length", str(len(body))),
                            ("Authorization", f"Bearer {secret('TEST_TOKEN')}")]:
            connection.putheader(name, value)
        for line in lines:
            connection.putheader("X-Forwarded-For", line)
        connection.endheaders(body)
        response = connection.getresponse()
    finally:
        connection.close()

    assert response.status == status


def test_allowed_address_with_wrong_token_unauthorized(base_url, db, unique_id):
    event_id = f"ip-{unique_id}"

    response = token_post(base_url, "preset_ip_proxied", event_id, token="wrong", **{"X-Forwarded-For": "203.0.113.5"})

    assert_unauthorized(response)
    assert events_for(db, "preset_ip_proxied", event_id) == []


# The send command


def run_send(stack, endpoint: str, path: Path, base_url: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "acehooks", "send", endpoint, str(path), "--url", base_url],
                          cwd=ROOT, env=dict(os.environ), capture_output=True, text=True, timeout=60)


def test_send_command_signs_for_each_preset(stack, base_url, db, tmp_path, unique_id):
    files = {
        "preset_github": ("push.json", (SAMPLES / "github" / "push.json").read_bytes().replace(
            b'"refs/tags/simple-tag"', json.dumps(f"refs/tags/{unique_id}").encode())),
        "preset_slack": ("slack.json", slack_body(f"EvSEND{unique_id}")),
        "preset_square": ("square.json", square_body(f"send-{unique_id}")),
        "preset_sendgrid": ("sendgrid.json", sendgrid_batch(f"send-{unique_id}")),
        "preset_standard_webhooks": ("invoice.json", invoice_body(f"invoice_send_{unique_id}")),
        "preset_twilio": ("sms.form", twilio_form(f"SMsend{unique_id}")),
        "preset_shopify": ("order.json", (SAMPLES / "shopify" / "orders-create.json").read_bytes().replace(
            b'"jon@example.com"', json.dumps(f"{unique_id}@example.com").encode(), 1)),
    }
    for endpoint, (name, body) in files.items():
        path = tmp_path / name
        path.write_bytes(body)

        result = run_send(stack, endpoint, path, base_url)

        assert result.returncode == 0, f"{endpoint}: {result.stdout} {result.stderr}"
        assert result.stdout.splitlines()[0] == "200", endpoint
        answer = json.loads("\n".join(result.stdout.splitlines()[1:]))
        assert answer["status"] in ("accepted", "batch"), endpoint

    assert wait_for_status(db, "preset_slack", f"EvSEND{unique_id}")
    assert wait_for_status(db, "preset_square", f"send-{unique_id}")
