"""ShopifyAuth: X-Shopify-Hmac-Sha256, checked against the value Shopify's own API library tests expect."""

import base64
import dataclasses
import hashlib
import hmac
import json
from pathlib import Path

import pytest
from werkzeug.datastructures import Headers

from acehooks.auth.base import InboundRequest
from acehooks.auth.shopify import ShopifyAuth
from acehooks.config import EndpointConfig
from acehooks.errors import AuthError

SAMPLES = Path(__file__).resolve().parents[2] / "emulator_data" / "shopify"
BODY = (SAMPLES / "orders-create.json").read_bytes()

SECRET_VARIABLE = "UNIT_SHOPIFY_SECRET"
ROTATED_VARIABLE = "UNIT_SHOPIFY_SECRET_NEXT"
SECRET = "unit-shopify-client-secret-a81f"
ROTATED_SECRET = "unit-shopify-client-secret-rotated-3c2d"
OTHER_SECRET = "unit-shopify-client-secret-unrelated-9e4b"

# From Shopify's API library (Shopify/shopify-app-js, packages/apps/shopify-api,
# lib/webhooks/__tests__/validate.test.ts with the apiSecretKey of lib/__tests__/test-config.ts).
LIBRARY_SECRET = "test_secret_key"
LIBRARY_BODY = b'{"foo": "bar"}'
LIBRARY_HMAC = "B23tXN681gZ0qIWNRrgtzBE9XSDo5yaUu6wfmhu3a7g="


def shopify_hmac(secret: str, body: bytes) -> str:
    """Return the header value as Shopify documents it: base64 of HMAC-SHA256 over the raw body."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def request_with(headers: dict, body: bytes = BODY) -> InboundRequest:
    return InboundRequest(method="POST", url="http://127.0.0.1/shopify", headers=Headers(headers), body=body)


def with_signature(value: str | None, body: bytes = BODY) -> InboundRequest:
    headers = {"X-Shopify-Topic": "orders/create", "X-Shopify-Event-Id": "98880550-7158-44d4-b7cd-2c97c8a091b5"}
    if value is not None:
        headers["X-Shopify-Hmac-Sha256"] = value
    return request_with(headers, body)


def rejection(auth: ShopifyAuth, request: InboundRequest) -> AuthError:
    with pytest.raises(AuthError) as caught:
        auth.verify(request)
    return caught.value


@pytest.fixture
def auth(monkeypatch) -> ShopifyAuth:
    monkeypatch.setenv(SECRET_VARIABLE, SECRET)
    monkeypatch.delenv(ROTATED_VARIABLE, raising=False)
    return ShopifyAuth(method="shopify", secret_env=[SECRET_VARIABLE])


@pytest.fixture
def signed_request() -> InboundRequest:
    return with_signature(shopify_hmac(SECRET, BODY))


# Published example


def test_library_example_accepted(monkeypatch):
    monkeypatch.setenv(SECRET_VARIABLE, LIBRARY_SECRET)
    auth = ShopifyAuth(method="shopify", secret_env=SECRET_VARIABLE)

    assert auth.verify(with_signature(LIBRARY_HMAC, LIBRARY_BODY)) is None


def test_sign_reproduces_library_example(monkeypatch):
    monkeypatch.setenv(SECRET_VARIABLE, LIBRARY_SECRET)
    auth = ShopifyAuth(method="shopify", secret_env=SECRET_VARIABLE)

    headers, _ = auth.sign(LIBRARY_BODY, "http://127.0.0.1/shopify", 0)

    assert headers["X-Shopify-Hmac-Sha256"] == LIBRARY_HMAC


# Accepted


def test_valid_request_accepted(auth, signed_request):
    assert auth.verify(signed_request) is None


def test_lowercase_header_name_accepted(auth):
    assert auth.verify(request_with({"x-shopify-hmac-sha256": shopify_hmac(SECRET, BODY)})) is None


def test_rotated_secret_accepted(auth, monkeypatch):
    monkeypatch.setenv(ROTATED_VARIABLE, ROTATED_SECRET)
    rotating = ShopifyAuth(method="shopify", secret_env=[SECRET_VARIABLE, ROTATED_VARIABLE])

    assert rotating.verify(with_signature(shopify_hmac(ROTATED_SECRET, BODY))) is None


def test_both_samples_signed_by_sign_accepted(auth):
    for path in sorted(SAMPLES.glob("*.json")):
        body = path.read_bytes()
        headers, _ = auth.sign(body, "http://127.0.0.1/shopify", 1_767_225_600)

        assert auth.verify(request_with(headers, body)) is None, path.name


# Rejected


def test_tampered_body_rejected(auth, signed_request):
    tampered = BODY.replace(b'"currency": "USD"', b'"currency": "EUR"', 1)
    assert tampered != BODY

    assert rejection(auth, dataclasses.replace(signed_request, body=tampered)).reason == "signature_mismatch"


def test_reserialised_json_rejected(auth, signed_request):
    reserialised = json.dumps(json.loads(BODY), separators=(",", ":")).encode()
    assert reserialised != BODY

    assert rejection(auth, dataclasses.replace(signed_request, body=reserialised)).reason == "signature_mismatch"


def test_wrong_secret_rejected(auth):
    error = rejection(auth, with_signature(shopify_hmac(OTHER_SECRET, BODY)))

    assert error.reason == "signature_mismatch"
    assert "X-Shopify-Hmac-Sha256" in str(error)


def test_hex_digest_instead_of_base64_rejected(auth):
    hex_value = hmac.new(SECRET.encode(), BODY, hashlib.sha256).hexdigest()

    assert rejection(auth, with_signature(hex_value)).reason == "signature_mismatch"


def test_missing_header_rejected(auth):
    error = rejection(auth, with_signature(None))

    assert error.reason == "header_missing"
    assert "X-Shopify-Hmac-Sha256" in str(error)


def test_empty_header_rejected(auth):
    assert rejection(auth, with_signature("")).reason == "header_empty"


@pytest.mark.parametrize("value", ["not base64!", "B23tXN681gZ0qIWNRrgtzBE9XSDo5yaUu6wfmhu3a7g", "é=="])
def test_malformed_base64_rejected(auth, value):
    error = rejection(auth, with_signature(value))

    assert error.reason == "signature_malformed"
    assert "X-Shopify-Hmac-Sha256" in str(error)


def test_unset_secret_rejected(auth, signed_request, monkeypatch):
    monkeypatch.delenv(SECRET_VARIABLE)

    assert rejection(auth, signed_request).reason == "secret_missing"


# Event id and type


def test_event_id_from_event_id_header(auth):
    config = EndpointConfig.model_validate(
        {"endpointName": "shop", "auth": [{"method": "shopify", "secretEnv": SECRET_VARIABLE}]}
    )

    assert config.event_id_source() == ("header", "X-Shopify-Event-Id")
    assert config.event_type_source() == ("header", "X-Shopify-Topic")


@pytest.mark.parametrize("file_name, topic", [("orders-create.json", "orders/create"),
                                              ("products-update.json", "products/update")])
def test_sign_names_sample_topics(auth, file_name, topic):
    headers, _ = auth.sign((SAMPLES / file_name).read_bytes(), "http://127.0.0.1/shopify", 0)

    assert headers["X-Shopify-Topic"] == topic
    assert headers["X-Shopify-Event-Id"] == headers["X-Shopify-Webhook-Id"]


def test_sign_event_id_stable_per_body(auth):
    first, _ = auth.sign(BODY, "http://127.0.0.1/shopify", 0)
    again, _ = auth.sign(BODY, "http://127.0.0.1/shopify", 5)

    assert first["X-Shopify-Event-Id"] == again["X-Shopify-Event-Id"]
    assert again["X-Shopify-Triggered-At"] == "1970-01-01T00:00:05+00:00"
