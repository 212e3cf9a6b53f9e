"""SendGridAuth: ECDSA P-256 Event Webhook signatures, checked against sendgrid's EventWebhook helper."""

import base64
import dataclasses
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from pydantic import ValidationError
from sendgrid.helpers.eventwebhook import EventWebhook
from werkzeug.datastructures import Headers

from acehooks import clock
from acehooks.auth.base import InboundRequest
from acehooks.auth.sendgrid import SendGridAuth
from acehooks.config import EndpointConfig
from acehooks.errors import AuthError, ConfigError

SAMPLE = Path(__file__).resolve().parents[2] / "emulator_data" / "sendgrid" / "events.json"
BODY = SAMPLE.read_bytes()

NOW = 1_767_225_600  # Unix seconds, 2026-01-01T00:00:00Z
TOLERANCE_SECONDS = 300

KEY_VARIABLE = "UNIT_SENDGRID_PUBLIC_KEY"
ROTATED_VARIABLE = "UNIT_SENDGRID_PUBLIC_KEY_NEXT"
SIGNING_VARIABLE = "UNIT_SENDGRID_SIGNING_KEY"

# From sendgrid-python's tests (test/unit/test_eventwebhook.py): a key, a payload and SendGrid's signature.
LIBRARY_PUBLIC_KEY = ("MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE83T4O/n84iotIvIW4mdBgQ/7dAfSmpqIM8kF9mN1flpVKS3GRqe62gw+"
                      "2fNNRaINXvVpiglSI8eNEc6wEA3F+g==")
LIBRARY_OTHER_KEY = ("MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEqTxd43gyp8IOEto2LdIfjRQrIbsd4SXZkLW6jDutdhXSJCWHw8REntlo7aNDt"
                     "hvj+y7GjUuFDb/R1NGe1OPzpA==")
LIBRARY_SIGNATURE = "MEUCIGHQVtGj+Y3LkG9fLcxf3qfI10QysgDWmMOVmxG0u6ZUAiEAyBiXDWzM+uOe5W0JuG+luQAbPIqHh89M15TluLtEZtM="
LIBRARY_BAD_SIGNATURE = ("MEUCIQCtIHJeH93Y+qpYeWrySphQgpNGNr/U+UyUlBkU6n7RAwIgJTz2C+8a8xonZGi6BpSzoQsbVRamr2nlxFDWYNH3"
                         "j/0=")
LIBRARY_TIMESTAMP = 1600112502
LIBRARY_PAYLOAD = json.dumps([{
    "email": "hello@world.com",
    "event": "dropped",
    "reason": "Bounced Address",
    "sg_event_id": "ZHJvcC0xMDk5NDkxOS1MUnpYbF9OSFN0T0doUTRrb2ZTbV9BLTA",
    "sg_message_id": "LRzXl_NHStOGhQ4kofSm_A.filterdrecv-p3mdw1-756b745b58-kmzbl-18-5F5FC76C-9.0",
    "smtp-id": "<LRzXl_NHStOGhQ4kofSm_A@ismtpd0039p1iad1.sendgrid.net>",
    "timestamp": 1600112492,
}], sort_keys=True, separators=(",", ":")).encode() + b"\r\n"


def key_pair(curve=ec.SECP256R1()) -> tuple[ec.EllipticCurvePrivateKey, str]:
    """Return a new private key and its public half as SendGrid shows it: base64 DER."""
    private = ec.generate_private_key(curve)
    der = private.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return private, base64.b64encode(der).decode()


PRIVATE_KEY, PUBLIC_KEY = key_pair()
OTHER_PRIVATE_KEY, OTHER_PUBLIC_KEY = key_pair()


def ecdsa_signature(private: ec.EllipticCurvePrivateKey, timestamp, body: bytes) -> str:
    return base64.b64encode(private.sign(str(timestamp).encode() + body, ec.ECDSA(hashes.SHA256()))).decode()


def request_with(signature: str | None, timestamp, body: bytes = BODY) -> InboundRequest:
    headers = Headers({"Content-Type": "application/json"})
    if signature is not None:
        headers["X-Twilio-Email-Event-Webhook-Signature"] = signature
    if timestamp is not None:
        headers["X-Twilio-Email-Event-Webhook-Timestamp"] = str(timestamp)
    return InboundRequest(method="POST", url="http://127.0.0.1/sendgrid", headers=headers, body=body)


def rejection(auth: SendGridAuth, request: InboundRequest) -> AuthError:
    with pytest.raises(AuthError) as caught:
        auth.verify(request)
    return caught.value


def library_accepts(public_key: str, body: bytes, signature: str, timestamp) -> bool:
    helper = EventWebhook()
    return helper.verify_signature(body.decode(), signature, str(timestamp), helper.convert_public_key_to_ecdsa(public_key))


@pytest.fixture
def now(monkeypatch) -> int:
    monkeypatch.setattr(clock, "now_seconds", lambda: float(NOW))
    return NOW


@pytest.fixture
def auth(monkeypatch) -> SendGridAuth:
    monkeypatch.setenv(KEY_VARIABLE, PUBLIC_KEY)
    monkeypatch.delenv(ROTATED_VARIABLE, raising=False)
    private_der = PRIVATE_KEY.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                            serialization.NoEncryption())
    monkeypatch.setenv(SIGNING_VARIABLE, base64.b64encode(private_der).decode())
    return SendGridAuth(method="sendgrid", secret_env=[KEY_VARIABLE], signing_key_env=SIGNING_VARIABLE,
                        tolerance_seconds=TOLERANCE_SECONDS)


@pytest.fixture
def signed_request(now) -> InboundRequest:
    return request_with(ecdsa_signature(PRIVATE_KEY, now, BODY), now)


# Published example and SendGrid's helper


def test_library_example_accepted(monkeypatch):
    monkeypatch.setattr(clock, "now_seconds", lambda: float(LIBRARY_TIMESTAMP))
    monkeypatch.setenv(KEY_VARIABLE, LIBRARY_PUBLIC_KEY)
    auth = SendGridAuth(method="sendgrid", secret_env=KEY_VARIABLE)

    assert auth.verify(request_with(LIBRARY_SIGNATURE, LIBRARY_TIMESTAMP, LIBRARY_PAYLOAD)) is None


def test_library_bad_signature_rejected(monkeypatch):
    monkeypatch.setattr(clock, "now_seconds", lambda: float(LIBRARY_TIMESTAMP))
    monkeypatch.setenv(KEY_VARIABLE, LIBRARY_PUBLIC_KEY)
    auth = SendGridAuth(method="sendgrid", secret_env=KEY_VARIABLE)

    error = rejection(auth, request_with(LIBRARY_BAD_SIGNATURE, LIBRARY_TIMESTAMP, LIBRARY_PAYLOAD))

    assert error.reason == "signature_mismatch"


def test_library_example_with_other_key_rejected(monkeypatch):
    monkeypatch.setattr(clock, "now_seconds", lambda: float(LIBRARY_TIMESTAMP))
    monkeypatch.setenv(KEY_VARIABLE, LIBRARY_OTHER_KEY)
    auth = SendGridAuth(method="sendgrid", secret_env=KEY_VARIABLE)

    assert rejection(auth, request_with(LIBRARY_SIGNATURE, LIBRARY_TIMESTAMP, LIBRARY_PAYLOAD)).reason == (
        "signature_mismatch"
    )


def test_sign_output_passes_library_helper(auth, now):
    headers, url = auth.sign(BODY, "http://127.0.0.1/sendgrid", now)

    assert url == "http://127.0.0.1/sendgrid"
    assert headers["X-Twilio-Email-Event-Webhook-Timestamp"] == str(now)
    assert library_accepts(PUBLIC_KEY, BODY, headers["X-Twilio-Email-Event-Webhook-Signature"], now)
    assert auth.verify(request_with(headers["X-Twilio-Email-Event-Webhook-Signature"], now)) is None


# Accepted


def test_valid_request_accepted(auth, signed_request):
    assert auth.verify(signed_request) is None


def test_pem_public_key_accepted(auth, signed_request, monkeypatch):
    pem = PRIVATE_KEY.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    monkeypatch.setenv(KEY_VARIABLE, pem.decode())

    assert auth.verify(signed_request) is None


def test_pem_signing_key_accepted(auth, now, monkeypatch):
    pem = PRIVATE_KEY.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
    monkeypatch.setenv(SIGNING_VARIABLE, pem.decode())

    headers, _ = auth.sign(BODY, "http://127.0.0.1/sendgrid", now)

    assert auth.verify(request_with(headers["X-Twilio-Email-Event-Webhook-Signature"], now)) is None


def test_rotated_key_accepted(auth, now, monkeypatch):
    monkeypatch.setenv(ROTATED_VARIABLE, OTHER_PUBLIC_KEY)
    rotating = SendGridAuth(method="sendgrid", secret_env=[KEY_VARIABLE, ROTATED_VARIABLE])

    assert rotating.verify(request_with(ecdsa_signature(OTHER_PRIVATE_KEY, now, BODY), now)) is None


# Rejected: body and key


def test_tampered_body_rejected(auth, signed_request):
    tampered = BODY.replace(b'"delivered"', b'"bounce"', 1)
    assert tampered != BODY

    assert rejection(auth, dataclasses.replace(signed_request, body=tampered)).reason == "signature_mismatch"


def test_reserialised_json_rejected(auth, signed_request):
    reserialised = json.dumps(json.loads(BODY)).encode()
    assert reserialised != BODY

    assert rejection(auth, dataclasses.replace(signed_request, body=reserialised)).reason == "signature_mismatch"


def test_signature_by_other_key_rejected(auth, now):
    error = rejection(auth, request_with(ecdsa_signature(OTHER_PRIVATE_KEY, now, BODY), now))

    assert error.reason == "signature_mismatch"
    assert "X-Twilio-Email-Event-Webhook-Signature" in str(error)


def test_signature_for_other_timestamp_rejected(auth, now):
    assert rejection(auth, request_with(ecdsa_signature(PRIVATE_KEY, now - 1, BODY), now)).reason == (
        "signature_mismatch"
    )


@pytest.mark.parametrize("value", ["not base64!", "MEUCIGHQVtGj+Y3LkG9fLcxf3qfI10QysgDWmMOVmxG0u6ZUAiEAyBiXDWzM+uOe5W0JuG"])
def test_malformed_base64_rejected(auth, now, value):
    error = rejection(auth, request_with(value, now))

    assert error.reason == "signature_malformed"
    assert "X-Twilio-Email-Event-Webhook-Signature" in str(error)


def test_base64_that_is_not_der_rejected(auth, now):
    assert rejection(auth, request_with(base64.b64encode(b"not a DER signature").decode(), now)).reason == (
        "signature_mismatch"
    )


@pytest.mark.parametrize("value", ["not a key", base64.b64encode(b"not DER").decode()])
def test_malformed_public_key_rejected(auth, signed_request, monkeypatch, value):
    monkeypatch.setenv(KEY_VARIABLE, value)

    assert rejection(auth, signed_request).reason == "secret_malformed"


def test_public_key_of_other_curve_rejected(auth, signed_request, monkeypatch):
    monkeypatch.setenv(KEY_VARIABLE, key_pair(ec.SECP384R1())[1])

    assert rejection(auth, signed_request).reason == "secret_malformed"


def test_rsa_public_key_rejected(auth, signed_request, monkeypatch):
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    der = rsa_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    monkeypatch.setenv(KEY_VARIABLE, base64.b64encode(der).decode())

    assert rejection(auth, signed_request).reason == "secret_malformed"


def test_unset_key_rejected(auth, signed_request, monkeypatch):
    monkeypatch.delenv(KEY_VARIABLE)

    assert rejection(auth, signed_request).reason == "secret_missing"


# Rejected: timestamp and headers


def test_stale_timestamp_rejected(auth, now):
    timestamp = now - TOLERANCE_SECONDS - 1

    assert rejection(auth, request_with(ecdsa_signature(PRIVATE_KEY, timestamp, BODY), timestamp)).reason == (
        "timestamp_too_old"
    )


def test_future_timestamp_rejected(auth, now):
    timestamp = now + TOLERANCE_SECONDS + 1

    assert rejection(auth, request_with(ecdsa_signature(PRIVATE_KEY, timestamp, BODY), timestamp)).reason == (
        "timestamp_too_new"
    )


def test_malformed_timestamp_rejected(auth, now):
    assert rejection(auth, request_with(ecdsa_signature(PRIVATE_KEY, now, BODY), "now")).reason == (
        "timestamp_malformed"
    )


@pytest.mark.parametrize("missing", ["signature", "timestamp"])
def test_missing_header_rejected(auth, now, missing):
    signature = None if missing == "signature" else ecdsa_signature(PRIVATE_KEY, now, BODY)
    timestamp = None if missing == "timestamp" else now

    error = rejection(auth, request_with(signature, timestamp))

    assert error.reason == "header_missing"
    assert f"X-Twilio-Email-Event-Webhook-{missing.title()}" in str(error)


def test_empty_signature_rejected(auth, now):
    assert rejection(auth, request_with("", now)).reason == "header_empty"


# Signing key and config


def test_sign_without_signing_key_env_fails(monkeypatch, now):
    monkeypatch.setenv(KEY_VARIABLE, PUBLIC_KEY)
    auth = SendGridAuth(method="sendgrid", secret_env=KEY_VARIABLE)

    with pytest.raises(ConfigError, match="signingKeyEnv"):
        auth.sign(BODY, "http://127.0.0.1/sendgrid", now)


def test_sign_with_unset_signing_key_fails(auth, now, monkeypatch):
    monkeypatch.delenv(SIGNING_VARIABLE)

    with pytest.raises(ConfigError, match="private key"):
        auth.sign(BODY, "http://127.0.0.1/sendgrid", now)


def test_sign_with_public_key_as_signing_key_fails(auth, now, monkeypatch):
    monkeypatch.setenv(SIGNING_VARIABLE, PUBLIC_KEY)

    with pytest.raises(ConfigError, match=SIGNING_VARIABLE):
        auth.sign(BODY, "http://127.0.0.1/sendgrid", now)


def test_signing_key_is_not_a_required_secret(auth):
    assert auth.secret_names() == [KEY_VARIABLE]


def test_batches_split_with_ids_from_each_event():
    config = EndpointConfig.model_validate({"endpointName": "sg", "auth": [
        {"method": "sendgrid", "secretEnv": KEY_VARIABLE}]})

    assert config.splits_batches() is True
    assert config.event_id_source() == ("path", "sg_event_id")
    assert config.event_type_source() == ("path", "event")


def test_bad_signing_key_env_name_rejected():
    with pytest.raises(ValidationError) as caught:
        SendGridAuth(method="sendgrid", secret_env=KEY_VARIABLE, signing_key_env="-----BEGIN PRIVATE KEY-----")

    message = caught.value.errors()[0]["msg"]
    assert "signingKeyEnv is not an environment variable name" in message
    assert "BEGIN" not in message
