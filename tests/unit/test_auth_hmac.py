"""HmacAuth: the generic HMAC method, with and without a signed timestamp."""

import base64
import dataclasses
import hashlib
import hmac
import json

import pytest
from werkzeug.datastructures import Headers

from acehooks import clock
from acehooks.auth.base import InboundRequest
from acehooks.auth.hmac_signature import HmacAuth
from acehooks.errors import AuthError

NOW = 1_767_225_600  # Unix seconds, 2026-01-01T00:00:00Z
TOLERANCE_SECONDS = 120
BODY = b'{"item": {"sku": "A-1", "quantity": 3}, "warehouse": "north"}'

SECRET_VARIABLE = "UNIT_HMAC_SECRET"
ROTATED_VARIABLE = "UNIT_HMAC_SECRET_NEXT"
SECRET = "unit-hmac-secret-61b0"
ROTATED_SECRET = "unit-hmac-secret-rotated-94ce"


def digest(secret: str, content: bytes, algorithm=hashlib.sha256) -> bytes:
    return hmac.new(secret.encode(), content, algorithm).digest()


def request_with(headers: dict, body: bytes = BODY) -> InboundRequest:
    return InboundRequest(method="POST", url="http://127.0.0.1/erp", headers=Headers(headers), body=body)


def rejection(auth: HmacAuth, request: InboundRequest) -> AuthError:
    with pytest.raises(AuthError) as caught:
        auth.verify(request)
    return caught.value


@pytest.fixture
def now(monkeypatch) -> int:
    monkeypatch.setattr(clock, "now_seconds", lambda: float(NOW))
    return NOW


@pytest.fixture(autouse=True)
def secret_variables(monkeypatch):
    monkeypatch.setenv(SECRET_VARIABLE, SECRET)
    monkeypatch.delenv(ROTATED_VARIABLE, raising=False)


@pytest.fixture
def timestamped() -> HmacAuth:
    """The shape of an ERP sender: base64 with a prefix over '{timestamp}.{body}'."""
    return HmacAuth(method="hmac", secret_env=SECRET_VARIABLE, header="X-Signature", encoding="base64",
                    prefix="sha256=", timestamp_header="X-Timestamp", signed_content="{timestamp}.{body}",
                    tolerance_seconds=TOLERANCE_SECONDS)


def timestamped_headers(timestamp, secret: str = SECRET, body: bytes = BODY) -> dict:
    value = base64.b64encode(digest(secret, f"{timestamp}.".encode() + body)).decode()
    return {"X-Signature": f"sha256={value}", "X-Timestamp": str(timestamp)}


@pytest.fixture
def signed_request(now) -> InboundRequest:
    return request_with(timestamped_headers(now))


# Accepted


def test_timestamped_request_accepted(timestamped, signed_request):
    assert timestamped.verify(signed_request) is None


def test_sign_output_accepted(timestamped, now):
    headers, url = timestamped.sign(BODY, "http://127.0.0.1/erp", now)

    assert headers == timestamped_headers(now)
    assert timestamped.verify(request_with(headers)) is None


@pytest.mark.parametrize("algorithm, function", [("sha1", hashlib.sha1), ("sha256", hashlib.sha256),
                                                 ("sha512", hashlib.sha512)])
def test_hex_body_signature_accepted(algorithm, function):
    auth = HmacAuth(method="hmac", secret_env=SECRET_VARIABLE, header="X-Signature", algorithm=algorithm)

    assert auth.verify(request_with({"X-Signature": digest(SECRET, BODY, function).hex()})) is None


def test_template_around_body_accepted(now):
    auth = HmacAuth(method="hmac", secret_env=SECRET_VARIABLE, header="X-Signature", timestamp_header="X-Timestamp",
                    signed_content="v2:{timestamp}:{body}:end")
    value = digest(SECRET, f"v2:{now}:".encode() + BODY + b":end").hex()

    assert auth.verify(request_with({"X-Signature": value, "X-Timestamp": str(now)})) is None


def test_rotated_secret_accepted(now, monkeypatch):
    monkeypatch.setenv(ROTATED_VARIABLE, ROTATED_SECRET)
    auth = HmacAuth(method="hmac", secret_env=[SECRET_VARIABLE, ROTATED_VARIABLE], header="X-Signature",
                    encoding="base64", prefix="sha256=", timestamp_header="X-Timestamp",
                    signed_content="{timestamp}.{body}")

    assert auth.verify(request_with(timestamped_headers(now, ROTATED_SECRET))) is None


# Rejected


def test_tampered_body_rejected(timestamped, signed_request):
    tampered = BODY.replace(b'"quantity": 3', b'"quantity": 9')

    assert rejection(timestamped, dataclasses.replace(signed_request, body=tampered)).reason == "signature_mismatch"


def test_reserialised_json_rejected(timestamped, signed_request):
    reserialised = json.dumps(json.loads(BODY), separators=(",", ":")).encode()
    assert reserialised != BODY

    assert rejection(timestamped, dataclasses.replace(signed_request, body=reserialised)).reason == "signature_mismatch"


def test_wrong_secret_rejected(timestamped, now):
    error = rejection(timestamped, request_with(timestamped_headers(now, "other-secret")))

    assert error.reason == "signature_mismatch"
    assert "X-Signature" in str(error)


def test_changed_timestamp_rejected(timestamped, now):
    headers = timestamped_headers(now)
    headers["X-Timestamp"] = str(now - 1)

    assert rejection(timestamped, request_with(headers)).reason == "signature_mismatch"


def test_stale_timestamp_rejected(timestamped, now):
    timestamp = now - TOLERANCE_SECONDS - 1

    assert rejection(timestamped, request_with(timestamped_headers(timestamp))).reason == "timestamp_too_old"


def test_future_timestamp_rejected(timestamped, now):
    timestamp = now + TOLERANCE_SECONDS + 1

    assert rejection(timestamped, request_with(timestamped_headers(timestamp))).reason == "timestamp_too_new"


def test_missing_timestamp_rejected(timestamped, now):
    headers = timestamped_headers(now)
    del headers["X-Timestamp"]

    error = rejection(timestamped, request_with(headers))

    assert error.reason == "header_missing"
    assert "X-Timestamp" in str(error)


def test_missing_signature_rejected(timestamped, now):
    assert rejection(timestamped, request_with({"X-Timestamp": str(now)})).reason == "header_missing"


def test_empty_signature_rejected(timestamped, now):
    assert rejection(timestamped, request_with({"X-Signature": "", "X-Timestamp": str(now)})).reason == "header_empty"


def test_missing_prefix_rejected(timestamped, now):
    headers = timestamped_headers(now)
    headers["X-Signature"] = headers["X-Signature"].removeprefix("sha256=")

    assert rejection(timestamped, request_with(headers)).reason == "signature_malformed"


@pytest.mark.parametrize("value", ["sha256=@@@", "sha256=YWJ", "sha256=é"])
def test_malformed_base64_rejected(timestamped, now, value):
    error = rejection(timestamped, request_with({"X-Signature": value, "X-Timestamp": str(now)}))

    assert error.reason == "signature_malformed"
    assert "X-Signature" in str(error)


def test_short_valid_base64_rejected(timestamped, now):
    assert rejection(timestamped, request_with({"X-Signature": "sha256=YWJj", "X-Timestamp": str(now)})).reason == (
        "signature_mismatch"
    )


@pytest.mark.parametrize("value", ["xyz", "abc", "é" * 4])
def test_malformed_hex_rejected(value):
    auth = HmacAuth(method="hmac", secret_env=SECRET_VARIABLE, header="X-Signature")

    assert rejection(auth, request_with({"X-Signature": value})).reason == "signature_malformed"


# Config


@pytest.mark.parametrize("fields, message", [
    ({"signed_content": "{timestamp}"}, "must contain {body} exactly once"),
    ({"signed_content": "{body}{body}"}, "must contain {body} exactly once"),
    ({"signed_content": "{timestamp}.{body}"}, "set timestampHeader"),
    ({"timestamp_header": "X-Timestamp"}, "would not be signed"),
    ({"timestamp_header": "X-Timestamp", "signed_content": "{timestamp}.{body}", "tolerance_seconds": 0},
     "greater than 0"),
])
def test_invalid_config_rejected(fields, message):
    with pytest.raises(ValueError, match=message):
        HmacAuth(method="hmac", secret_env=SECRET_VARIABLE, header="X-Signature", **fields)
