"""StripeAuth: Stripe-Signature verification and signing, checked against the stripe library."""

import dataclasses
import hashlib
import hmac
import json
from pathlib import Path

import pytest
import stripe
from werkzeug.datastructures import Headers

from acehooks import clock
from acehooks.auth.base import InboundRequest
from acehooks.auth.stripe import StripeAuth
from acehooks.errors import AuthError

SAMPLE = Path(__file__).resolve().parents[2] / "emulator_data" / "stripe" / "checkout.session.completed.json"
BODY = SAMPLE.read_bytes()

NOW = 1_767_225_600  # Unix seconds, 2026-01-01T00:00:00Z
TOLERANCE_SECONDS = 300

SECRET_VARIABLE = "UNIT_STRIPE_SECRET"
ROTATED_VARIABLE = "UNIT_STRIPE_SECRET_NEXT"
SECRET = "whsec_unit_current_4d6f0a8e2b7c4f19a3e5"
ROTATED_SECRET = "whsec_unit_rotated_9b1c7e3a5d2f4068b8c1"
OTHER_SECRET = "whsec_unit_unrelated_0e2a4c6e8a0c2e4a6c8e"


def signature(secret: str, timestamp, body: bytes) -> str:
    """Return a v1 signature as Stripe documents it: hex HMAC-SHA256 of ``{t}.{body}`` keyed by the secret."""
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def request_with(header: str | None, body: bytes = BODY) -> InboundRequest:
    headers = Headers({"Content-Type": "application/json"})
    if header is not None:
        headers["Stripe-Signature"] = header
    return InboundRequest(method="POST", url="http://127.0.0.1/stripe_webhook", headers=headers, body=body)


@pytest.fixture
def now(monkeypatch) -> int:
    """Fix acehooks' clock at NOW and return it."""
    monkeypatch.setattr(clock, "now_seconds", lambda: float(NOW))
    return NOW


@pytest.fixture
def secret_variables(monkeypatch):
    monkeypatch.setenv(SECRET_VARIABLE, SECRET)
    monkeypatch.delenv(ROTATED_VARIABLE, raising=False)


@pytest.fixture
def auth(secret_variables) -> StripeAuth:
    return StripeAuth(method="stripe", secret_env=[SECRET_VARIABLE], tolerance_seconds=TOLERANCE_SECONDS)


@pytest.fixture
def signed_request(now) -> InboundRequest:
    """One valid delivery of the sample event, signed at NOW with SECRET."""
    return request_with(f"t={now},v1={signature(SECRET, now, BODY)}")


def rejection(auth: StripeAuth, request: InboundRequest) -> AuthError:
    with pytest.raises(AuthError) as caught:
        auth.verify(request)
    return caught.value


# Accepted


def test_valid_request_accepted(auth, signed_request):
    assert auth.verify(signed_request) is None


def test_lowercase_header_name_accepted(auth, signed_request):
    headers = Headers({"stripe-signature": signed_request.headers["Stripe-Signature"]})

    assert auth.verify(dataclasses.replace(signed_request, headers=headers)) is None


def test_rotated_secret_accepted(monkeypatch, now, secret_variables):
    monkeypatch.setenv(ROTATED_VARIABLE, ROTATED_SECRET)
    auth = StripeAuth(method="stripe", secret_env=[SECRET_VARIABLE, ROTATED_VARIABLE])

    assert auth.verify(request_with(f"t={now},v1={signature(ROTATED_SECRET, now, BODY)}")) is None


def test_rotated_secret_alone_accepted(monkeypatch, now):
    monkeypatch.delenv(SECRET_VARIABLE, raising=False)
    monkeypatch.setenv(ROTATED_VARIABLE, ROTATED_SECRET)
    auth = StripeAuth(method="stripe", secret_env=[SECRET_VARIABLE, ROTATED_VARIABLE])

    assert auth.verify(request_with(f"t={now},v1={signature(ROTATED_SECRET, now, BODY)}")) is None


def test_one_of_several_v1_matches(auth, now):
    header = f"t={now},v1={signature(OTHER_SECRET, now, BODY)},v1={signature(SECRET, now, BODY)},v1={'0' * 64}"

    assert auth.verify(request_with(header)) is None


def test_v0_entry_ignored(auth, now):
    header = f"t={now},v0=not-hex-and-not-checked,v1={signature(SECRET, now, BODY)}"

    assert auth.verify(request_with(header)) is None


def test_oldest_timestamp_accepted(auth, now):
    timestamp = now - TOLERANCE_SECONDS

    assert auth.verify(request_with(f"t={timestamp},v1={signature(SECRET, timestamp, BODY)}")) is None


def test_newest_timestamp_accepted(auth, now):
    timestamp = now + TOLERANCE_SECONDS

    assert auth.verify(request_with(f"t={timestamp},v1={signature(SECRET, timestamp, BODY)}")) is None


# Rejected: body and secret


def test_tampered_body_rejected(auth, signed_request):
    index = BODY.index(b"3000")
    tampered = BODY[:index] + b"9" + BODY[index + 1:]
    assert len(tampered) == len(BODY)

    error = rejection(auth, dataclasses.replace(signed_request, body=tampered))

    assert error.reason == "signature_mismatch"


def test_reserialised_json_rejected(auth, signed_request):
    reserialised = json.dumps(json.loads(BODY)).encode()
    assert json.loads(reserialised) == json.loads(BODY)
    assert reserialised != BODY

    error = rejection(auth, dataclasses.replace(signed_request, body=reserialised))

    assert error.reason == "signature_mismatch"


def test_wrong_secret_rejected(auth, now):
    error = rejection(auth, request_with(f"t={now},v1={signature(OTHER_SECRET, now, BODY)}"))

    assert error.reason == "signature_mismatch"


def test_signature_for_other_timestamp_rejected(auth, now):
    error = rejection(auth, request_with(f"t={now},v1={signature(SECRET, now - 1, BODY)}"))

    assert error.reason == "signature_mismatch"


def test_unset_secret_rejected(auth, signed_request, monkeypatch):
    monkeypatch.delenv(SECRET_VARIABLE)

    error = rejection(auth, signed_request)

    assert error.reason == "secret_missing"
    assert SECRET_VARIABLE in str(error)


def test_empty_secret_rejected(auth, signed_request, monkeypatch):
    monkeypatch.setenv(SECRET_VARIABLE, "")

    assert rejection(auth, signed_request).reason == "secret_missing"


# Rejected: timestamp


def test_stale_timestamp_rejected(auth, now):
    timestamp = now - TOLERANCE_SECONDS - 1

    error = rejection(auth, request_with(f"t={timestamp},v1={signature(SECRET, timestamp, BODY)}"))

    assert error.reason == "timestamp_too_old"


def test_future_timestamp_rejected(auth, now):
    timestamp = now + TOLERANCE_SECONDS + 1

    error = rejection(auth, request_with(f"t={timestamp},v1={signature(SECRET, timestamp, BODY)}"))

    assert error.reason == "timestamp_too_new"


def test_default_tolerance_is_300(secret_variables, now):
    auth = StripeAuth(method="stripe", secret_env=SECRET_VARIABLE)
    timestamp = now - 301

    assert auth.tolerance_seconds == 300
    assert rejection(auth, request_with(f"t={timestamp},v1={signature(SECRET, timestamp, BODY)}")).reason == (
        "timestamp_too_old"
    )


# Rejected: malformed header


def test_missing_header_rejected(auth, now):
    assert rejection(auth, request_with(None)).reason == "header_missing"


def test_empty_header_rejected(auth, now):
    assert rejection(auth, request_with("  ")).reason == "header_empty"


def test_header_without_t_rejected(auth, now):
    assert rejection(auth, request_with(f"v1={signature(SECRET, now, BODY)}")).reason == "header_malformed"


def test_header_without_v1_rejected(auth, now):
    assert rejection(auth, request_with(f"t={now},v0={signature(SECRET, now, BODY)}")).reason == "signature_missing"


def test_entry_without_equals_rejected(auth, now):
    header = f"t={now},v1={signature(SECRET, now, BODY)},garbage"

    assert rejection(auth, request_with(header)).reason == "header_malformed"


def test_non_hex_v1_rejected(auth, now):
    assert rejection(auth, request_with(f"t={now},v1=zz{'0' * 62}")).reason == "signature_malformed"


def test_odd_length_v1_rejected(auth, now):
    assert rejection(auth, request_with(f"t={now},v1=abc")).reason == "signature_malformed"


def test_non_numeric_t_rejected(auth, now):
    header = f"t=yesterday,v1={signature(SECRET, 'yesterday', BODY)}"

    assert rejection(auth, request_with(header)).reason == "timestamp_malformed"


def test_negative_t_rejected(auth, now):
    header = f"t=-{now},v1={signature(SECRET, f'-{now}', BODY)}"

    assert rejection(auth, request_with(header)).reason == "timestamp_malformed"


# Messages never carry the secret or the expected signature

BAD_HEADERS = {
    "tampered_body": lambda t: (f"t={t},v1={signature(SECRET, t, BODY)}", BODY + b" "),
    "wrong_secret": lambda t: (f"t={t},v1={signature(OTHER_SECRET, t, BODY)}", BODY),
    "stale": lambda t: (f"t={t - 301},v1={signature(SECRET, t - 301, BODY)}", BODY),
    "future": lambda t: (f"t={t + 301},v1={signature(SECRET, t + 301, BODY)}", BODY),
    "no_t": lambda t: (f"v1={signature(SECRET, t, BODY)}", BODY),
    "no_v1": lambda t: (f"t={t}", BODY),
    "non_hex": lambda t: (f"t={t},v1=xyz", BODY),
    "non_numeric_t": lambda t: ("t=soon,v1=00", BODY),
}


@pytest.mark.parametrize("case", sorted(BAD_HEADERS))
def test_message_hides_secret(auth, now, case):
    header, body = BAD_HEADERS[case](now)

    error = rejection(auth, request_with(header, body))

    assert error.status == 401
    assert SECRET not in str(error)
    assert signature(SECRET, now, body) not in str(error)
    assert signature(SECRET, now, BODY) not in str(error)


# sign() and the stripe library


def test_sign_matches_documented_scheme(auth, now):
    headers, url = auth.sign(BODY, "http://127.0.0.1/stripe_webhook", now)

    assert headers == {"Stripe-Signature": f"t={now},v1={signature(SECRET, now, BODY)}"}
    assert url == "http://127.0.0.1/stripe_webhook"


def test_sign_uses_first_set_secret(monkeypatch, now):
    monkeypatch.delenv(SECRET_VARIABLE, raising=False)
    monkeypatch.setenv(ROTATED_VARIABLE, ROTATED_SECRET)
    auth = StripeAuth(method="stripe", secret_env=[SECRET_VARIABLE, ROTATED_VARIABLE])

    headers, _ = auth.sign(BODY, "http://127.0.0.1/stripe_webhook", now)

    assert headers["Stripe-Signature"] == f"t={now},v1={signature(ROTATED_SECRET, now, BODY)}"


def test_sign_then_verify(auth, now):
    headers, _ = auth.sign(BODY, "http://127.0.0.1/stripe_webhook", now)

    assert auth.verify(request_with(headers["Stripe-Signature"])) is None


def test_stripe_library_accepts_sign(auth, now):
    headers, _ = auth.sign(BODY, "http://127.0.0.1/stripe_webhook", now)

    # tolerance=None: stripe compares the timestamp with the real clock, which the tests do not fix.
    event = stripe.Webhook.construct_event(BODY, headers["Stripe-Signature"], SECRET, tolerance=None)

    assert event.id == "evt_000000000000000000000000"
    assert event.type == "checkout.session.completed"


def test_stripe_rejects_other_secret(auth, now):
    headers, _ = auth.sign(BODY, "http://127.0.0.1/stripe_webhook", now)

    with pytest.raises(stripe.SignatureVerificationError):
        stripe.WebhookSignature.verify_header(BODY, headers["Stripe-Signature"], OTHER_SECRET, tolerance=None)


def test_stripe_library_header_accepted(auth, now):
    header = stripe.WebhookSignature.generate_signature_header(BODY.decode(), SECRET, timestamp=now)

    assert auth.verify(request_with(header)) is None


def test_stripe_header_other_body_rejected(auth, now):
    header = stripe.WebhookSignature.generate_signature_header(BODY.decode() + " ", SECRET, timestamp=now)

    assert rejection(auth, request_with(header)).reason == "signature_mismatch"
