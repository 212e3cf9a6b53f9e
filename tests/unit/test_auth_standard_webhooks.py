"""StandardWebhooksAuth and SvixAuth, checked against the standardwebhooks and svix libraries."""

import dataclasses
import json
from datetime import datetime, timezone
from pathlib import Path

import pytest
import standardwebhooks
import svix
from werkzeug.datastructures import Headers

from acehooks import clock
from acehooks.auth.base import InboundRequest
from acehooks.auth.standard_webhooks import StandardWebhooksAuth, SvixAuth
from acehooks.config import EndpointConfig
from acehooks.errors import AuthError

SAMPLE = Path(__file__).resolve().parents[2] / "emulator_data" / "standard_webhooks" / "invoice.paid.json"
BODY = SAMPLE.read_bytes()

NOW = 1_767_225_600  # Unix seconds, 2026-01-01T00:00:00Z
TOLERANCE_SECONDS = 300
MESSAGE_ID = "msg_2Lq7bW1w0Hq2yPRXYZ"

SECRET_VARIABLE = "UNIT_WEBHOOK_SECRET"
ROTATED_VARIABLE = "UNIT_WEBHOOK_SECRET_NEXT"
SECRET = "whsec_dW5pdC1zdGFuZGFyZC13ZWJob29rcy1rZXk="
ROTATED_SECRET = "whsec_dW5pdC1yb3RhdGVkLXdlYmhvb2tzLWtleQ=="
OTHER_SECRET = "whsec_dW5pdC11bnJlbGF0ZWQtd2ViaG9va3Mta2V5"

# The test vector published with the Standard Webhooks specification and in Svix's documentation.
SPEC_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SPEC_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
SPEC_TIMESTAMP = 1614265330
SPEC_BODY = b'{"test": 2432232314}'
SPEC_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def library_signature(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """Return the webhook-signature value the standardwebhooks library computes."""
    return standardwebhooks.Webhook(secret).sign(message_id, datetime.fromtimestamp(timestamp, timezone.utc), body)


class _FrozenDatetime(datetime):
    """Stands in for datetime inside standardwebhooks so its clock reads NOW."""

    @classmethod
    def now(cls, tz=None):
        return datetime.fromtimestamp(NOW, tz)


def request_with(headers: dict, body: bytes = BODY) -> InboundRequest:
    return InboundRequest(method="POST", url="http://127.0.0.1/hooks", headers=Headers(headers), body=body)


def standard_headers(signature: str, timestamp=NOW, message_id: str = MESSAGE_ID) -> dict:
    return {"webhook-id": message_id, "webhook-timestamp": str(timestamp), "webhook-signature": signature}


def rejection(auth: StandardWebhooksAuth, request: InboundRequest) -> AuthError:
    with pytest.raises(AuthError) as caught:
        auth.verify(request)
    return caught.value


@pytest.fixture
def now(monkeypatch) -> int:
    monkeypatch.setattr(clock, "now_seconds", lambda: float(NOW))
    return NOW


@pytest.fixture
def auth(monkeypatch) -> StandardWebhooksAuth:
    monkeypatch.setenv(SECRET_VARIABLE, SECRET)
    monkeypatch.delenv(ROTATED_VARIABLE, raising=False)
    return StandardWebhooksAuth(method="standardWebhooks", secret_env=[SECRET_VARIABLE],
                                tolerance_seconds=TOLERANCE_SECONDS)


@pytest.fixture
def signed_request(now) -> InboundRequest:
    return request_with(standard_headers(library_signature(SECRET, MESSAGE_ID, now, BODY)))


# Published example and the reference libraries


@pytest.mark.parametrize("secret", [SPEC_SECRET, SPEC_SECRET.removeprefix("whsec_")])
def test_spec_vector_accepted(monkeypatch, secret):
    monkeypatch.setattr(clock, "now_seconds", lambda: float(SPEC_TIMESTAMP))
    monkeypatch.setenv(SECRET_VARIABLE, secret)
    auth = StandardWebhooksAuth(method="standardWebhooks", secret_env=SECRET_VARIABLE)

    assert auth.verify(request_with(standard_headers(SPEC_SIGNATURE, SPEC_TIMESTAMP, SPEC_ID), SPEC_BODY)) is None


def test_spec_vector_with_svix_headers_accepted(monkeypatch):
    monkeypatch.setattr(clock, "now_seconds", lambda: float(SPEC_TIMESTAMP))
    monkeypatch.setenv(SECRET_VARIABLE, SPEC_SECRET)
    auth = SvixAuth(method="svix", secret_env=SECRET_VARIABLE)
    headers = {"svix-id": SPEC_ID, "svix-timestamp": str(SPEC_TIMESTAMP), "svix-signature": SPEC_SIGNATURE}

    assert auth.verify(request_with(headers, SPEC_BODY)) is None


def test_library_signed_request_accepted(auth, signed_request):
    assert auth.verify(signed_request) is None


def test_sign_output_passes_library_verify(auth, now, monkeypatch):
    headers, _ = auth.sign(BODY, "http://127.0.0.1/hooks", now)
    monkeypatch.setattr(standardwebhooks.webhooks, "datetime", _FrozenDatetime)

    assert standardwebhooks.Webhook(SECRET).verify(BODY, headers) == json.loads(BODY)
    assert auth.verify(request_with(headers)) is None


def test_svix_sign_output_passes_svix_library(monkeypatch, now):
    monkeypatch.setenv(SECRET_VARIABLE, SECRET)
    auth = SvixAuth(method="svix", secret_env=SECRET_VARIABLE)
    headers, _ = auth.sign(BODY, "http://127.0.0.1/hooks", now)
    monkeypatch.setattr(standardwebhooks.webhooks, "datetime", _FrozenDatetime)

    assert set(headers) == {"svix-id", "svix-timestamp", "svix-signature"}
    svix.Webhook(SECRET).verify(BODY, headers)
    assert auth.verify(request_with(headers)) is None


# Accepted


def test_one_valid_signature_among_several_accepted(auth, now):
    signatures = " ".join([
        library_signature(OTHER_SECRET, MESSAGE_ID, now, BODY),
        "v1a,c29tZSBlZDI1NTE5IHNpZ25hdHVyZQ==",
        library_signature(SECRET, MESSAGE_ID, now, BODY),
    ])

    assert auth.verify(request_with(standard_headers(signatures))) is None


def test_rotated_secret_accepted(auth, now, monkeypatch):
    monkeypatch.setenv(ROTATED_VARIABLE, ROTATED_SECRET)
    rotating = StandardWebhooksAuth(method="standardWebhooks", secret_env=[SECRET_VARIABLE, ROTATED_VARIABLE])

    assert rotating.verify(request_with(standard_headers(library_signature(ROTATED_SECRET, MESSAGE_ID, now, BODY)))) is None


def test_unpadded_secret_accepted(monkeypatch, now):
    monkeypatch.setenv(SECRET_VARIABLE, ROTATED_SECRET.rstrip("="))
    auth = StandardWebhooksAuth(method="standardWebhooks", secret_env=SECRET_VARIABLE)

    assert auth.verify(request_with(standard_headers(library_signature(ROTATED_SECRET, MESSAGE_ID, now, BODY)))) is None


@pytest.mark.parametrize("offset", [-TOLERANCE_SECONDS, TOLERANCE_SECONDS])
def test_timestamp_at_tolerance_edge_accepted(auth, now, offset):
    timestamp = now + offset
    signature = library_signature(SECRET, MESSAGE_ID, timestamp, BODY)

    assert auth.verify(request_with(standard_headers(signature, timestamp))) is None


# Rejected: body, id and secret


def test_tampered_body_rejected(auth, signed_request):
    tampered = BODY.replace(b'"paid"', b'"void"', 1)
    assert tampered != BODY

    assert rejection(auth, dataclasses.replace(signed_request, body=tampered)).reason == "signature_mismatch"


def test_reserialised_json_rejected(auth, signed_request):
    reserialised = json.dumps(json.loads(BODY)).encode()
    assert reserialised != BODY

    assert rejection(auth, dataclasses.replace(signed_request, body=reserialised)).reason == "signature_mismatch"


def test_changed_message_id_rejected(auth, now):
    signature = library_signature(SECRET, MESSAGE_ID, now, BODY)

    assert rejection(auth, request_with(standard_headers(signature, message_id="msg_other"))).reason == (
        "signature_mismatch"
    )


def test_wrong_secret_rejected(auth, now):
    error = rejection(auth, request_with(standard_headers(library_signature(OTHER_SECRET, MESSAGE_ID, now, BODY))))

    assert error.reason == "signature_mismatch"
    assert SECRET not in str(error)


@pytest.mark.parametrize("secret", ["whsec_", "whsec_not base64!", "whsec_é"])
def test_malformed_secret_rejected(monkeypatch, signed_request, secret):
    monkeypatch.setenv(SECRET_VARIABLE, secret)
    auth = StandardWebhooksAuth(method="standardWebhooks", secret_env=SECRET_VARIABLE)

    error = rejection(auth, signed_request)

    assert error.reason == "secret_malformed"
    assert str(error) == f"a secret in {SECRET_VARIABLE} is not 'whsec_' followed by base64"


def test_unset_secret_rejected(auth, signed_request, monkeypatch):
    monkeypatch.delenv(SECRET_VARIABLE)

    assert rejection(auth, signed_request).reason == "secret_missing"


# Rejected: timestamp


def test_stale_timestamp_rejected(auth, now):
    timestamp = now - TOLERANCE_SECONDS - 1
    signature = library_signature(SECRET, MESSAGE_ID, timestamp, BODY)

    assert rejection(auth, request_with(standard_headers(signature, timestamp))).reason == "timestamp_too_old"


def test_future_timestamp_rejected(auth, now):
    timestamp = now + TOLERANCE_SECONDS + 1
    signature = library_signature(SECRET, MESSAGE_ID, timestamp, BODY)

    assert rejection(auth, request_with(standard_headers(signature, timestamp))).reason == "timestamp_too_new"


@pytest.mark.parametrize("value", ["1767225600.0", "yesterday", "-5"])
def test_malformed_timestamp_rejected(auth, now, value):
    error = rejection(auth, request_with(standard_headers(library_signature(SECRET, MESSAGE_ID, now, BODY), value)))

    assert error.reason == "timestamp_malformed"
    assert "webhook-timestamp" in str(error)


# Rejected: headers


@pytest.mark.parametrize("header", ["webhook-id", "webhook-timestamp"])
def test_missing_header_rejected(signed_request, auth, header):
    headers = Headers(signed_request.headers)
    del headers[header]

    error = rejection(auth, dataclasses.replace(signed_request, headers=headers))

    assert error.reason == "header_missing"
    assert header in str(error)


def test_no_headers_rejected_naming_standard_header(auth, now):
    error = rejection(auth, request_with({}))

    assert error.reason == "header_missing"
    assert "webhook-" in str(error)


def test_empty_signature_rejected(auth, now):
    assert rejection(auth, request_with(standard_headers(""))).reason == "header_empty"


@pytest.mark.parametrize("value", ["v1", "g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", "v1,not base64!",
                                   "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE", "v1,Zm9v v1,%%%"])
def test_malformed_signature_rejected(auth, now, value):
    error = rejection(auth, request_with(standard_headers(value)))

    assert error.reason == "signature_malformed"
    assert "webhook-signature" in str(error)


def test_only_other_versions_rejected(auth, now):
    error = rejection(auth, request_with(standard_headers("v1a,c29tZSBlZDI1NTE5IHNpZ25hdHVyZQ== v2,Zm9v")))

    assert error.reason == "signature_missing"


def test_standard_headers_win_over_svix_headers(auth, now):
    good = library_signature(SECRET, MESSAGE_ID, now, BODY)
    headers = {**standard_headers(good), "svix-id": "msg_x", "svix-timestamp": str(now), "svix-signature": "v1,Zm9v"}

    assert auth.verify(request_with(headers)) is None


# Config


def test_event_id_sources():
    standard = EndpointConfig.model_validate({"endpointName": "sw", "auth": [
        {"method": "standardWebhooks", "secretEnv": SECRET_VARIABLE}]})
    svix_config = EndpointConfig.model_validate({"endpointName": "sx", "auth": [
        {"method": "svix", "secretEnv": SECRET_VARIABLE}]})

    assert standard.event_id_source() == ("header", "webhook-id")
    assert svix_config.event_id_source() == ("header", "svix-id")
    assert standard.event_type_source() == ("path", "type")


def test_zero_tolerance_rejected_by_config():
    with pytest.raises(ValueError, match="greater than 0"):
        StandardWebhooksAuth(method="standardWebhooks", secret_env=SECRET_VARIABLE, tolerance_seconds=0)
