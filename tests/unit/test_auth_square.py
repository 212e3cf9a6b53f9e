"""SquareAuth: x-square-hmacsha256-signature over publicUrl and body, checked with Square's SDK helper."""

import base64
import dataclasses
import hashlib
import hmac
import json
from pathlib import Path

import pytest
from square.utils.webhooks_helper import verify_signature
from werkzeug.datastructures import Headers

from acehooks.auth.base import InboundRequest
from acehooks.auth.square import SquareAuth
from acehooks.config import EndpointConfig
from acehooks.errors import AuthError

SAMPLE = Path(__file__).resolve().parents[2] / "emulator_data" / "square" / "payment.updated.json"
BODY = SAMPLE.read_bytes()

SECRET_VARIABLE = "UNIT_SQUARE_KEY"
ROTATED_VARIABLE = "UNIT_SQUARE_KEY_NEXT"
SECRET = "unit-square-signature-key-6a0b"
ROTATED_SECRET = "unit-square-signature-key-rotated-1d9e"
OTHER_SECRET = "unit-square-signature-key-unrelated-5c7f"

PUBLIC_URL = "https://hooks.example.com/square?source=acehooks"
INTERNAL_URL = "http://10.8.0.4:8080/square_payments"

# From Square's Python SDK tests (square/square-python-sdk, tests/integration/test_webhooks_helper.py).
SDK_BODY = (
    b'{"merchant_id":"MLEFBHHSJGVHD","type":"webhooks.test_notification","event_id":"ac3ac95b-f97d-458c-a6e6-'
    b'18981597e05f","created_at":"2022-07-13T20:30:59.037339943Z","data":{"type":"webhooks","id":"bc368e64-01aa-'
    b'407e-b46e-3231809b1129"}}'
)
SDK_SIGNATURE = "GF4YkrJgGBDZ9NIYbNXBnMzqb2HoL4RW/S6vkZ9/2N4="
SDK_KEY = "Ibxx_5AKakO-3qeNVR61Dw"
SDK_URL = "https://webhook.site/679a4f3a-dcfa-49ee-bac5-9d0edad886b9"


def square_signature(key: str, url: str, body: bytes) -> str:
    return base64.b64encode(hmac.new(key.encode(), url.encode() + body, hashlib.sha256).digest()).decode()


def request_with(signature: str | None, body: bytes = BODY) -> InboundRequest:
    headers = Headers()
    if signature is not None:
        headers["x-square-hmacsha256-signature"] = signature
    return InboundRequest(method="POST", url=INTERNAL_URL, headers=headers, body=body)


def rejection(auth: SquareAuth, request: InboundRequest) -> AuthError:
    with pytest.raises(AuthError) as caught:
        auth.verify(request)
    return caught.value


@pytest.fixture
def auth(monkeypatch) -> SquareAuth:
    monkeypatch.setenv(SECRET_VARIABLE, SECRET)
    monkeypatch.delenv(ROTATED_VARIABLE, raising=False)
    return SquareAuth(method="square", secret_env=[SECRET_VARIABLE], public_url=PUBLIC_URL)


@pytest.fixture
def signed_request() -> InboundRequest:
    return request_with(square_signature(SECRET, PUBLIC_URL, BODY))


# Published example and Square's SDK


def test_sdk_example_accepted(monkeypatch):
    monkeypatch.setenv(SECRET_VARIABLE, SDK_KEY)
    auth = SquareAuth(method="square", secret_env=SECRET_VARIABLE, public_url=SDK_URL)

    assert auth.verify(request_with(SDK_SIGNATURE, SDK_BODY)) is None


def test_sign_output_passes_sdk_helper(auth):
    headers, url = auth.sign(BODY, INTERNAL_URL, 0)

    assert url == INTERNAL_URL
    assert verify_signature(request_body=BODY.decode(), signature_header=headers["x-square-hmacsha256-signature"],
                            signature_key=SECRET, notification_url=PUBLIC_URL)
    assert auth.verify(request_with(headers["x-square-hmacsha256-signature"])) is None


# Accepted


def test_valid_request_accepted(auth, signed_request):
    assert auth.verify(signed_request) is None


def test_mixed_case_header_name_accepted(auth):
    headers = Headers({"X-Square-HmacSha256-Signature": square_signature(SECRET, PUBLIC_URL, BODY)})

    assert auth.verify(InboundRequest(method="POST", url=INTERNAL_URL, headers=headers, body=BODY)) is None


def test_rotated_key_accepted(auth, monkeypatch):
    monkeypatch.setenv(ROTATED_VARIABLE, ROTATED_SECRET)
    rotating = SquareAuth(method="square", secret_env=[SECRET_VARIABLE, ROTATED_VARIABLE], public_url=PUBLIC_URL)

    assert rotating.verify(request_with(square_signature(ROTATED_SECRET, PUBLIC_URL, BODY))) is None


# Rejected


def test_tampered_body_rejected(auth, signed_request):
    tampered = BODY.replace(b'"COMPLETED"', b'"CANCELED"', 1)
    assert tampered != BODY

    assert rejection(auth, dataclasses.replace(signed_request, body=tampered)).reason == "signature_mismatch"


def test_reserialised_json_rejected(auth, signed_request):
    reserialised = json.dumps(json.loads(BODY)).encode()
    assert reserialised != BODY

    assert rejection(auth, dataclasses.replace(signed_request, body=reserialised)).reason == "signature_mismatch"


def test_signature_over_other_url_rejected(auth):
    for url in (INTERNAL_URL, "https://hooks.example.com/square", "https://hooks.example.com/square?source=other"):
        assert rejection(auth, request_with(square_signature(SECRET, url, BODY))).reason == "signature_mismatch", url


def test_signature_over_body_alone_rejected(auth):
    digest = hmac.new(SECRET.encode(), BODY, hashlib.sha256).digest()

    assert rejection(auth, request_with(base64.b64encode(digest).decode())).reason == "signature_mismatch"


def test_wrong_key_rejected(auth):
    error = rejection(auth, request_with(square_signature(OTHER_SECRET, PUBLIC_URL, BODY)))

    assert error.reason == "signature_mismatch"
    assert "x-square-hmacsha256-signature" in str(error)
    assert not verify_signature(request_body=BODY.decode(), signature_header=square_signature(OTHER_SECRET, PUBLIC_URL, BODY),
                                signature_key=SECRET, notification_url=PUBLIC_URL)


def test_missing_header_rejected(auth):
    error = rejection(auth, request_with(None))

    assert error.reason == "header_missing"
    assert "x-square-hmacsha256-signature" in str(error)


def test_empty_header_rejected(auth):
    assert rejection(auth, request_with("")).reason == "header_empty"


@pytest.mark.parametrize("value", ["GF4YkrJgGBDZ9NIYbNXBnMzqb2HoL4RW/S6vkZ9/2N4", "%%%", "GF4Y krJg"])
def test_malformed_base64_rejected(auth, value):
    assert rejection(auth, request_with(value)).reason == "signature_malformed"


def test_unset_key_rejected(auth, signed_request, monkeypatch):
    monkeypatch.delenv(SECRET_VARIABLE)

    assert rejection(auth, signed_request).reason == "secret_missing"


# Config


def test_public_url_required():
    with pytest.raises(ValueError, match="publicUrl is required for square"):
        EndpointConfig.model_validate({"endpointName": "sq", "auth": [{"method": "square", "secretEnv": "KEY"}]})


def test_public_url_may_carry_query(auth):
    assert auth.public_url.endswith("?source=acehooks")


def test_event_id_and_type_from_body(auth):
    config = EndpointConfig.model_validate({"endpointName": "sq", "auth": [
        {"method": "square", "secretEnv": SECRET_VARIABLE, "publicUrl": PUBLIC_URL}]})

    assert config.event_id_source() == ("path", "event_id")
    assert config.event_type_source() == ("path", "type")
