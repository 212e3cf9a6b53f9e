"""TwilioAuth: X-Twilio-Signature over publicUrl and parameters, checked against twilio's RequestValidator."""

import base64
import dataclasses
import hashlib
import hmac
from pathlib import Path
from urllib.parse import parse_qsl, urlencode

import pytest
from twilio.request_validator import RequestValidator
from werkzeug.datastructures import Headers

from acehooks.auth.base import InboundRequest
from acehooks.auth.twilio import TwilioAuth, signed_content
from acehooks.config import EndpointConfig
from acehooks.errors import AuthError

SAMPLES = Path(__file__).resolve().parents[2] / "emulator_data" / "twilio"
FORM_BODY = (SAMPLES / "inbound-sms.form").read_bytes()
JSON_BODY = b'{"property": "value", "boolean": true}'

SECRET_VARIABLE = "UNIT_TWILIO_TOKEN"
ROTATED_VARIABLE = "UNIT_TWILIO_TOKEN_NEXT"
SECRET = "unit-twilio-auth-token-4e1a"
ROTATED_SECRET = "unit-twilio-auth-token-rotated-8b2c"
OTHER_SECRET = "unit-twilio-auth-token-unrelated-d3f7"

PUBLIC_URL = "https://hooks.example.com/twilio/sms"
# Cloud Functions receives the request at an internal address, not the public one.
INTERNAL_URL = "http://10.8.0.4:8080/twilio_sms"

# From twilio-python's tests (tests/unit/test_request_validator.py), the values its validator checks.
LIBRARY_TOKEN = "12345"
LIBRARY_URL = "https://mycompany.com/myapp.php"
LIBRARY_QUERY = "foo=1&bar=2"
LIBRARY_PARAMS = {"CallSid": "CA1234567890ABCDE", "Digits": "1234", "From": "+14158675309",
                  "To": "+18005551212", "Caller": "+14158675309"}
LIBRARY_SIGNATURE = "RSOYDt4T1cUTdK1PDd93/VVr8B8="
LIBRARY_BODY_HASH = "0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620"
LIBRARY_BODY_SIGNATURE = "a9nBmqA0ju/hNViExpshrM61xv4="


def form_body(params: dict) -> bytes:
    return urlencode(params).encode()


def request_to(url: str, body: bytes, signature: str | None, **extra) -> InboundRequest:
    headers = Headers(extra)
    if signature is not None:
        headers["X-Twilio-Signature"] = signature
    return InboundRequest(method="POST", url=url, headers=headers, body=body)


def form_signature(token: str, url: str, body: bytes = FORM_BODY) -> str:
    """Return the signature twilio's validator computes for a form delivery to ``url``."""
    return RequestValidator(token).compute_signature(url, dict(parse_qsl(body.decode(), keep_blank_values=True)))


def rejection(auth: TwilioAuth, request: InboundRequest) -> AuthError:
    with pytest.raises(AuthError) as caught:
        auth.verify(request)
    return caught.value


@pytest.fixture
def auth(monkeypatch) -> TwilioAuth:
    monkeypatch.setenv(SECRET_VARIABLE, SECRET)
    monkeypatch.delenv(ROTATED_VARIABLE, raising=False)
    return TwilioAuth(method="twilio", secret_env=[SECRET_VARIABLE], public_url=PUBLIC_URL)


@pytest.fixture
def signed_request() -> InboundRequest:
    """The inbound SMS sample, signed by twilio's library over the public URL, received internally."""
    return request_to(INTERNAL_URL, FORM_BODY, form_signature(SECRET, PUBLIC_URL))


# Published examples


def test_library_form_example_accepted(monkeypatch):
    monkeypatch.setenv(SECRET_VARIABLE, LIBRARY_TOKEN)
    auth = TwilioAuth(method="twilio", secret_env=SECRET_VARIABLE, public_url=LIBRARY_URL)

    request = request_to(f"{INTERNAL_URL}?{LIBRARY_QUERY}", form_body(LIBRARY_PARAMS), LIBRARY_SIGNATURE)

    assert auth.verify(request) is None


def test_library_json_example_accepted(monkeypatch):
    monkeypatch.setenv(SECRET_VARIABLE, LIBRARY_TOKEN)
    auth = TwilioAuth(method="twilio", secret_env=SECRET_VARIABLE, public_url=LIBRARY_URL)

    url = f"{INTERNAL_URL}?{LIBRARY_QUERY}&bodySHA256={LIBRARY_BODY_HASH}"

    assert auth.verify(request_to(url, JSON_BODY, LIBRARY_BODY_SIGNATURE)) is None


def test_duplicate_parameters_signed_as_library_does():
    # twilio-python's duplicate-parameter case: each distinct value, sorted, after its name.
    params = [("Sid", "CA123"), ("SidAccount", "AC123"), ("Digits", "5678"), ("Digits", "1234")]
    digest = hmac.new(LIBRARY_TOKEN.encode(), signed_content(f"{LIBRARY_URL}?{LIBRARY_QUERY}", params), hashlib.sha1)

    assert base64.b64encode(digest.digest()).decode() == "IK+Dwps556ElfBT0I3Rgjkr1wJU="


# Accepted


def test_valid_form_request_accepted(auth, signed_request):
    assert auth.verify(signed_request) is None


def test_query_string_of_request_is_signed(auth):
    signature = form_signature(SECRET, f"{PUBLIC_URL}?tenant=acme&lang=en")

    assert auth.verify(request_to(f"{INTERNAL_URL}?tenant=acme&lang=en", FORM_BODY, signature)) is None


def test_raw_query_with_needless_escape_accepted(auth):
    signature = form_signature(SECRET, f"{PUBLIC_URL}?name=a%7Eb")
    # werkzeug hands over the URL with %7E decoded to '~'; the raw query keeps the bytes Twilio signed.
    request = dataclasses.replace(request_to(f"{INTERNAL_URL}?name=a~b", FORM_BODY, signature),
                                  query_string=b"name=a%7Eb")

    assert auth.verify(request) is None


def test_default_port_variants_accepted(auth):
    for signed_url in ("https://hooks.example.com:443/twilio/sms", PUBLIC_URL):
        assert auth.verify(request_to(INTERNAL_URL, FORM_BODY, form_signature(SECRET, signed_url))) is None


def test_rotated_token_accepted(auth, monkeypatch):
    monkeypatch.setenv(ROTATED_VARIABLE, ROTATED_SECRET)
    rotating = TwilioAuth(method="twilio", secret_env=[SECRET_VARIABLE, ROTATED_VARIABLE], public_url=PUBLIC_URL)

    assert rotating.verify(request_to(INTERNAL_URL, FORM_BODY, form_signature(ROTATED_SECRET, PUBLIC_URL))) is None


def test_sha256_shared_key_accepted(auth):
    settings = "key=webhooks_sharedkey_0001,algorithm=HMAC_SHA256"
    params = dict(parse_qsl(FORM_BODY.decode()))
    signature = RequestValidator(SECRET).compute_signature(PUBLIC_URL, params, algorithm="HMAC_SHA256")
    request = request_to(INTERNAL_URL, FORM_BODY, signature, **{"X-Twilio-Webhooks-Signature-Settings": settings})

    assert auth.verify(request) is None


def test_sign_output_passes_twilio_validator_for_form(auth):
    headers, url = auth.sign(FORM_BODY, INTERNAL_URL, 0)
    params = dict(parse_qsl(FORM_BODY.decode(), keep_blank_values=True))

    assert url == INTERNAL_URL
    assert RequestValidator(SECRET).validate(PUBLIC_URL, params, headers["X-Twilio-Signature"])
    assert auth.verify(request_to(url, FORM_BODY, headers["X-Twilio-Signature"])) is None


def test_sign_output_passes_twilio_validator_for_json(auth):
    headers, url = auth.sign(JSON_BODY, INTERNAL_URL + "?tenant=acme", 0)
    query = url.split("?", 1)[1]

    assert query == f"tenant=acme&bodySHA256={hashlib.sha256(JSON_BODY).hexdigest()}"
    assert RequestValidator(SECRET).validate(f"{PUBLIC_URL}?{query}", JSON_BODY.decode(), headers["X-Twilio-Signature"])
    assert auth.verify(request_to(url, JSON_BODY, headers["X-Twilio-Signature"])) is None


# Rejected


def test_tampered_parameter_rejected(auth, signed_request):
    tampered = FORM_BODY.replace(b"Body=twilio-go+testing%21", b"Body=twilio-go+testing%3F")
    assert tampered != FORM_BODY

    assert rejection(auth, dataclasses.replace(signed_request, body=tampered)).reason == "signature_mismatch"


def test_extra_parameter_rejected(auth, signed_request):
    extended = FORM_BODY + b"&Injected=1"

    assert rejection(auth, dataclasses.replace(signed_request, body=extended)).reason == "signature_mismatch"


def test_signature_over_internal_url_rejected(auth):
    # What a verifier using the request's own URL would accept: a different URL than the one Twilio signs.
    error = rejection(auth, request_to(INTERNAL_URL, FORM_BODY, form_signature(SECRET, INTERNAL_URL)))

    assert error.reason == "signature_mismatch"


def test_changed_query_rejected(auth):
    signature = form_signature(SECRET, f"{PUBLIC_URL}?tenant=acme")

    assert rejection(auth, request_to(f"{INTERNAL_URL}?tenant=evil", FORM_BODY, signature)).reason == (
        "signature_mismatch"
    )


def test_wrong_token_rejected(auth):
    error = rejection(auth, request_to(INTERNAL_URL, FORM_BODY, form_signature(OTHER_SECRET, PUBLIC_URL)))

    assert error.reason == "signature_mismatch"
    assert SECRET not in str(error)


def test_json_body_changed_after_hash_rejected(auth):
    headers, url = auth.sign(JSON_BODY, INTERNAL_URL, 0)
    tampered = JSON_BODY.replace(b"value", b"other")

    error = rejection(auth, request_to(url, tampered, headers["X-Twilio-Signature"]))

    assert error.reason == "body_hash_mismatch"
    assert "bodySHA256" in str(error)


def test_reserialised_json_rejected(auth):
    headers, url = auth.sign(JSON_BODY, INTERNAL_URL, 0)

    error = rejection(auth, request_to(url, b'{"property":"value","boolean":true}', headers["X-Twilio-Signature"]))

    assert error.reason == "body_hash_mismatch"


def test_forged_body_hash_rejected(auth):
    # A forger can put the right hash of a new body in the URL, but the URL is what Twilio signed.
    headers, _ = auth.sign(JSON_BODY, INTERNAL_URL, 0)
    forged_body = b'{"property": "forged"}'
    url = f"{INTERNAL_URL}?bodySHA256={hashlib.sha256(forged_body).hexdigest()}"

    assert rejection(auth, request_to(url, forged_body, headers["X-Twilio-Signature"])).reason == "signature_mismatch"


def test_missing_header_rejected(auth):
    error = rejection(auth, request_to(INTERNAL_URL, FORM_BODY, None))

    assert error.reason == "header_missing"
    assert "X-Twilio-Signature" in str(error)


def test_empty_header_rejected(auth):
    assert rejection(auth, request_to(INTERNAL_URL, FORM_BODY, " ")).reason == "header_empty"


@pytest.mark.parametrize("value", ["RSOYDt4T1cUTdK1PDd93/VVr8B8", "not base64", "Zm9v!"])
def test_malformed_base64_rejected(auth, value):
    error = rejection(auth, request_to(INTERNAL_URL, FORM_BODY, value))

    assert error.reason == "signature_malformed"
    assert "X-Twilio-Signature" in str(error)


def test_unsupported_algorithm_rejected(auth):
    request = request_to(INTERNAL_URL, FORM_BODY, form_signature(SECRET, PUBLIC_URL),
                         **{"X-Twilio-Webhooks-Signature-Settings": "key=k1,algorithm=HMAC_MD5"})

    assert rejection(auth, request).reason == "algorithm_unsupported"


def test_non_utf8_form_body_rejected(auth):
    assert rejection(auth, request_to(INTERNAL_URL, b"Body=\xff\xfe", form_signature(SECRET, PUBLIC_URL))).reason == (
        "body_malformed"
    )


def test_unset_token_rejected(auth, signed_request, monkeypatch):
    monkeypatch.delenv(SECRET_VARIABLE)

    assert rejection(auth, signed_request).reason == "secret_missing"


# Config


def test_public_url_required():
    with pytest.raises(ValueError, match="publicUrl is required for twilio"):
        EndpointConfig.model_validate({"endpointName": "sms", "auth": [{"method": "twilio", "secretEnv": "TOKEN"}]})


@pytest.mark.parametrize("url, message", [
    ("hooks.example.com/sms", "absolute URL"),
    ("https://hooks.example.com/sms?tenant=acme", "query string"),
    ("https://hooks.example.com/sms#x", "fragment"),
    ("https://hooks.example.com:99999/sms", "port"),
])
def test_bad_public_url_rejected(url, message):
    with pytest.raises(ValueError, match=message):
        TwilioAuth(method="twilio", secret_env="TOKEN", public_url=url)


def test_event_id_defaults_to_body_hash():
    config = EndpointConfig.model_validate({"endpointName": "sms", "auth": [
        {"method": "twilio", "secretEnv": "TOKEN", "publicUrl": PUBLIC_URL}]})

    assert config.event_id_source() is None
