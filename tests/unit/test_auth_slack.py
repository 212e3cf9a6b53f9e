"""SlackAuth: v0 signatures, checked against slack_sdk's SignatureVerifier and Slack's documented example."""

import dataclasses
import json
from pathlib import Path

import pytest
from slack_sdk.signature import SignatureVerifier
from werkzeug.datastructures import Headers

from acehooks import clock
from acehooks.auth.base import InboundRequest
from acehooks.auth.slack import SlackAuth
from acehooks.config import EndpointConfig
from acehooks.errors import AuthError

SAMPLES = Path(__file__).resolve().parents[2] / "emulator_data" / "slack"
BODY = (SAMPLES / "event_callback.reaction_added.json").read_bytes()

NOW = 1_767_225_600  # Unix seconds, 2026-01-01T00:00:00Z
TOLERANCE_SECONDS = 300

SECRET_VARIABLE = "UNIT_SLACK_SECRET"
ROTATED_VARIABLE = "UNIT_SLACK_SECRET_NEXT"
SECRET = "unit0slack0signing0secret0c9d2"
ROTATED_SECRET = "unit0slack0signing0secret0rotated"
OTHER_SECRET = "unit0slack0signing0secret0unrelated"

# From Slack's "Verifying requests from Slack" page, as slack_sdk's own tests use it.
DOCS_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
DOCS_TIMESTAMP = 1531420618
DOCS_BODY = (
    b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&"
    b"channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&"
    b"response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&"
    b"trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
)
DOCS_SIGNATURE = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"


class FixedClock:
    """slack_sdk's clock interface, pinned to one instant."""

    def __init__(self, seconds: float):
        self.seconds = seconds

    def now(self) -> float:
        return self.seconds


def slack_signature(secret: str, timestamp: int, body: bytes) -> str:
    """Return the X-Slack-Signature value computed by Slack's own SDK."""
    return SignatureVerifier(secret).generate_signature(timestamp=str(timestamp), body=body)


def request_with(timestamp, signature, body: bytes = BODY, **extra) -> InboundRequest:
    headers = Headers(extra)
    if timestamp is not None:
        headers["X-Slack-Request-Timestamp"] = str(timestamp)
    if signature is not None:
        headers["X-Slack-Signature"] = signature
    return InboundRequest(method="POST", url="http://127.0.0.1/slack", headers=headers, body=body)


def rejection(auth: SlackAuth, request: InboundRequest) -> AuthError:
    with pytest.raises(AuthError) as caught:
        auth.verify(request)
    return caught.value


@pytest.fixture
def now(monkeypatch) -> int:
    monkeypatch.setattr(clock, "now_seconds", lambda: float(NOW))
    return NOW


@pytest.fixture
def auth(monkeypatch) -> SlackAuth:
    monkeypatch.setenv(SECRET_VARIABLE, SECRET)
    monkeypatch.delenv(ROTATED_VARIABLE, raising=False)
    return SlackAuth(method="slack", secret_env=[SECRET_VARIABLE], tolerance_seconds=TOLERANCE_SECONDS)


@pytest.fixture
def signed_request(now) -> InboundRequest:
    return request_with(now, slack_signature(SECRET, now, BODY))


# Published example and Slack's SDK


def test_documented_example_accepted(monkeypatch):
    monkeypatch.setattr(clock, "now_seconds", lambda: float(DOCS_TIMESTAMP))
    monkeypatch.setenv(SECRET_VARIABLE, DOCS_SECRET)
    auth = SlackAuth(method="slack", secret_env=SECRET_VARIABLE)

    assert auth.verify(request_with(DOCS_TIMESTAMP, DOCS_SIGNATURE, DOCS_BODY)) is None


def test_sign_reproduces_documented_example(monkeypatch):
    monkeypatch.setenv(SECRET_VARIABLE, DOCS_SECRET)
    auth = SlackAuth(method="slack", secret_env=SECRET_VARIABLE)

    headers, _ = auth.sign(DOCS_BODY, "http://127.0.0.1/slack", DOCS_TIMESTAMP)

    assert headers == {"X-Slack-Request-Timestamp": str(DOCS_TIMESTAMP), "X-Slack-Signature": DOCS_SIGNATURE}


def test_sdk_signed_request_accepted(auth, signed_request):
    assert auth.verify(signed_request) is None


def test_sign_output_passes_sdk_verifier(auth, now):
    headers, _ = auth.sign(BODY, "http://127.0.0.1/slack", now)

    assert SignatureVerifier(SECRET, clock=FixedClock(now)).is_valid_request(BODY, headers)


# Accepted


def test_rotated_secret_accepted(auth, now, monkeypatch):
    monkeypatch.setenv(ROTATED_VARIABLE, ROTATED_SECRET)
    rotating = SlackAuth(method="slack", secret_env=[SECRET_VARIABLE, ROTATED_VARIABLE])

    assert rotating.verify(request_with(now, slack_signature(ROTATED_SECRET, now, BODY))) is None


def test_retry_header_changes_nothing(auth, signed_request):
    headers = Headers(signed_request.headers)
    headers["X-Slack-Retry-Num"] = "1"
    headers["X-Slack-Retry-Reason"] = "http_timeout"

    assert auth.verify(dataclasses.replace(signed_request, headers=headers)) is None


@pytest.mark.parametrize("offset", [-TOLERANCE_SECONDS, TOLERANCE_SECONDS])
def test_timestamp_at_tolerance_edge_accepted(auth, now, offset):
    timestamp = now + offset

    assert auth.verify(request_with(timestamp, slack_signature(SECRET, timestamp, BODY))) is None


# Rejected: body and secret


def test_tampered_body_rejected(auth, signed_request):
    tampered = BODY.replace(b'"grinning"', b'"thumbsup"', 1)
    assert tampered != BODY

    assert rejection(auth, dataclasses.replace(signed_request, body=tampered)).reason == "signature_mismatch"


def test_reserialised_json_rejected(auth, signed_request):
    reserialised = json.dumps(json.loads(BODY)).encode()
    assert reserialised != BODY

    assert rejection(auth, dataclasses.replace(signed_request, body=reserialised)).reason == "signature_mismatch"


def test_wrong_secret_rejected(auth, now):
    error = rejection(auth, request_with(now, slack_signature(OTHER_SECRET, now, BODY)))

    assert error.reason == "signature_mismatch"
    assert SECRET not in str(error)


def test_signature_for_other_timestamp_rejected(auth, now):
    assert rejection(auth, request_with(now, slack_signature(SECRET, now - 1, BODY))).reason == "signature_mismatch"


def test_unset_secret_rejected(auth, signed_request, monkeypatch):
    monkeypatch.delenv(SECRET_VARIABLE)

    assert rejection(auth, signed_request).reason == "secret_missing"


# Rejected: timestamp


def test_stale_timestamp_rejected(auth, now):
    timestamp = now - TOLERANCE_SECONDS - 1
    request = request_with(timestamp, slack_signature(SECRET, timestamp, BODY))

    error = rejection(auth, request)

    assert error.reason == "timestamp_too_old"
    assert not SignatureVerifier(SECRET, clock=FixedClock(now)).is_valid_request(BODY, request.headers)


def test_future_timestamp_rejected(auth, now):
    timestamp = now + TOLERANCE_SECONDS + 1

    assert rejection(auth, request_with(timestamp, slack_signature(SECRET, timestamp, BODY))).reason == (
        "timestamp_too_new"
    )


@pytest.mark.parametrize("value", ["soon", "1531420618.5", "-1531420618", "１５３１４２０６１８"])
def test_malformed_timestamp_rejected(auth, now, value):
    error = rejection(auth, request_with(value, slack_signature(SECRET, now, BODY)))

    assert error.reason == "timestamp_malformed"
    assert "X-Slack-Request-Timestamp" in str(error)


def test_missing_timestamp_rejected(auth, now):
    error = rejection(auth, request_with(None, slack_signature(SECRET, now, BODY)))

    assert error.reason == "header_missing"
    assert "X-Slack-Request-Timestamp" in str(error)


def test_default_tolerance_is_300(monkeypatch, now):
    monkeypatch.setenv(SECRET_VARIABLE, SECRET)
    auth = SlackAuth(method="slack", secret_env=SECRET_VARIABLE)
    timestamp = now - 301

    assert auth.tolerance_seconds == 300
    assert rejection(auth, request_with(timestamp, slack_signature(SECRET, timestamp, BODY))).reason == (
        "timestamp_too_old"
    )


# Rejected: signature header


def test_missing_signature_rejected(auth, now):
    error = rejection(auth, request_with(now, None))

    assert error.reason == "header_missing"
    assert "X-Slack-Signature" in str(error)


def test_empty_signature_rejected(auth, now):
    assert rejection(auth, request_with(now, "")).reason == "header_empty"


@pytest.mark.parametrize("value", ["v1=" + "0" * 64, "a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503",
                                   "v0=not-hex", "v0=abc", "v0:" + "0" * 64])
def test_malformed_signature_rejected(auth, now, value):
    error = rejection(auth, request_with(now, value))

    assert error.reason == "signature_malformed"
    assert "X-Slack-Signature" in str(error)


# Handshake, event id and type


def test_url_verification_answered_with_challenge(auth):
    payload = json.loads((SAMPLES / "url_verification.json").read_bytes())

    assert auth.immediate_response(payload, request_with(None, None)) == {"challenge": "valid_challenge_token"}


def test_event_callback_not_answered(auth):
    assert auth.immediate_response(json.loads(BODY), request_with(None, None)) is None


def test_url_verification_without_challenge_not_answered(auth):
    assert auth.immediate_response({"type": "url_verification"}, request_with(None, None)) is None


def test_event_id_and_type_from_body(auth):
    config = EndpointConfig.model_validate(
        {"endpointName": "slack", "auth": [{"method": "slack", "secretEnv": SECRET_VARIABLE}]}
    )

    assert config.event_id_source() == ("path", "event_id")
    assert config.event_type_source() == ("path", "event.type")


def test_zero_tolerance_rejected_by_config():
    with pytest.raises(ValueError, match="tolerance"):
        EndpointConfig.model_validate({"endpointName": "slack", "auth": [
            {"method": "slack", "secretEnv": SECRET_VARIABLE, "toleranceSeconds": 0}]})
