"""GitHubAuth: X-Hub-Signature-256 (and opt-in SHA-1), checked against GitHub's documented example."""

import dataclasses
import hashlib
import hmac
import json
import uuid
from pathlib import Path

import pytest
from werkzeug.datastructures import Headers

from acehooks.auth.base import InboundRequest
from acehooks.auth.github import GitHubAuth
from acehooks.config import EndpointConfig
from acehooks.errors import AuthError

SAMPLES = Path(__file__).resolve().parents[2] / "emulator_data" / "github"
BODY = (SAMPLES / "push.json").read_bytes()

SECRET_VARIABLE = "UNIT_GITHUB_SECRET"
ROTATED_VARIABLE = "UNIT_GITHUB_SECRET_NEXT"
SECRET = "unit-github-secret-5f1c"
ROTATED_SECRET = "unit-github-secret-rotated-77a0"
OTHER_SECRET = "unit-github-secret-unrelated-0b3e"

# From GitHub's "Validating webhook deliveries" page, section "Testing the webhook payload validation".
DOCS_SECRET = "It's a Secret to Everybody"
DOCS_PAYLOAD = b"Hello, World!"
DOCS_SIGNATURE = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"


def sha256_header(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def sha1_header(secret: str, body: bytes) -> str:
    return "sha1=" + hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()


def request_with(headers: dict, body: bytes = BODY) -> InboundRequest:
    return InboundRequest(method="POST", url="http://127.0.0.1/github", headers=Headers(headers), body=body)


def rejection(auth: GitHubAuth, request: InboundRequest) -> AuthError:
    with pytest.raises(AuthError) as caught:
        auth.verify(request)
    return caught.value


@pytest.fixture
def secret_variables(monkeypatch):
    monkeypatch.setenv(SECRET_VARIABLE, SECRET)
    monkeypatch.delenv(ROTATED_VARIABLE, raising=False)


@pytest.fixture
def auth(secret_variables) -> GitHubAuth:
    return GitHubAuth(method="github", secret_env=[SECRET_VARIABLE])


@pytest.fixture
def sha1_auth(secret_variables) -> GitHubAuth:
    return GitHubAuth(method="github", secret_env=[SECRET_VARIABLE], allow_sha1=True)


@pytest.fixture
def signed_request() -> InboundRequest:
    """The push sample as GitHub delivers it: both signature headers, event and delivery id."""
    return request_with({
        "X-Hub-Signature-256": sha256_header(SECRET, BODY),
        "X-Hub-Signature": sha1_header(SECRET, BODY),
        "X-GitHub-Event": "push",
        "X-GitHub-Delivery": "72d3162e-cc78-11e3-81ab-4c9367dc0958",
    })


def without(request: InboundRequest, name: str) -> InboundRequest:
    headers = Headers(request.headers)
    del headers[name]
    return dataclasses.replace(request, headers=headers)


def replaced(request: InboundRequest, name: str, value: str) -> InboundRequest:
    headers = Headers(request.headers)
    headers[name] = value
    return dataclasses.replace(request, headers=headers)


# Published example


def test_documented_example_accepted(monkeypatch):
    monkeypatch.setenv(SECRET_VARIABLE, DOCS_SECRET)
    auth = GitHubAuth(method="github", secret_env=SECRET_VARIABLE)

    assert auth.verify(request_with({"X-Hub-Signature-256": DOCS_SIGNATURE}, DOCS_PAYLOAD)) is None


def test_sign_reproduces_documented_example(monkeypatch):
    monkeypatch.setenv(SECRET_VARIABLE, DOCS_SECRET)
    auth = GitHubAuth(method="github", secret_env=SECRET_VARIABLE)

    headers, _ = auth.sign(DOCS_PAYLOAD, "http://127.0.0.1/github", 0)

    assert headers["X-Hub-Signature-256"] == DOCS_SIGNATURE


# Accepted


def test_valid_request_accepted(auth, signed_request):
    assert auth.verify(signed_request) is None


def test_lowercase_header_names_accepted(auth, signed_request):
    headers = Headers({"x-hub-signature-256": signed_request.headers["X-Hub-Signature-256"]})

    assert auth.verify(dataclasses.replace(signed_request, headers=headers)) is None


def test_rotated_secret_accepted(monkeypatch, secret_variables):
    monkeypatch.setenv(ROTATED_VARIABLE, ROTATED_SECRET)
    auth = GitHubAuth(method="github", secret_env=[SECRET_VARIABLE, ROTATED_VARIABLE])

    assert auth.verify(request_with({"X-Hub-Signature-256": sha256_header(ROTATED_SECRET, BODY)})) is None


def test_every_sample_signed_by_sign_accepted(auth):
    for path in sorted(SAMPLES.glob("*.json")):
        body = path.read_bytes()
        headers, url = auth.sign(body, "http://127.0.0.1/github", 0)

        assert auth.verify(request_with(headers, body)) is None, path.name
        assert url == "http://127.0.0.1/github"


# Rejected: body and secret


def test_tampered_body_rejected(auth, signed_request):
    tampered = BODY.replace(b'"refs/tags/simple-tag"', b'"refs/tags/simple-taf"', 1)
    assert tampered != BODY

    assert rejection(auth, dataclasses.replace(signed_request, body=tampered)).reason == "signature_mismatch"


def test_reserialised_json_rejected(auth, signed_request):
    reserialised = json.dumps(json.loads(BODY)).encode()
    assert reserialised != BODY

    assert rejection(auth, dataclasses.replace(signed_request, body=reserialised)).reason == "signature_mismatch"


def test_wrong_secret_rejected(auth):
    error = rejection(auth, request_with({"X-Hub-Signature-256": sha256_header(OTHER_SECRET, BODY)}))

    assert error.reason == "signature_mismatch"
    assert "X-Hub-Signature-256" in str(error)
    assert SECRET not in str(error)


def test_unset_secret_rejected(auth, signed_request, monkeypatch):
    monkeypatch.delenv(SECRET_VARIABLE)

    assert rejection(auth, signed_request).reason == "secret_missing"


# Rejected: header


def test_missing_header_rejected(auth, signed_request):
    error = rejection(auth, without(signed_request, "X-Hub-Signature-256"))

    assert error.reason == "header_missing"
    assert "X-Hub-Signature-256" in str(error)


def test_empty_header_rejected(auth, signed_request):
    assert rejection(auth, replaced(signed_request, "X-Hub-Signature-256", "  ")).reason == "header_empty"


def test_header_without_prefix_rejected(auth, signed_request):
    bare = signed_request.headers["X-Hub-Signature-256"].removeprefix("sha256=")

    assert rejection(auth, replaced(signed_request, "X-Hub-Signature-256", bare)).reason == "signature_malformed"


def test_sha1_value_in_sha256_header_rejected(auth, signed_request):
    value = sha1_header(SECRET, BODY)

    assert rejection(auth, replaced(signed_request, "X-Hub-Signature-256", value)).reason == "signature_malformed"


@pytest.mark.parametrize("value", ["sha256=" + "g" * 64, "sha256=abc", "sha256=" + "é" * 64, "sha256=zz"])
def test_malformed_hex_rejected(auth, signed_request, value):
    error = rejection(auth, replaced(signed_request, "X-Hub-Signature-256", value))

    assert error.reason == "signature_malformed"
    assert "X-Hub-Signature-256" in str(error)


def test_prefix_alone_rejected(auth, signed_request):
    assert rejection(auth, replaced(signed_request, "X-Hub-Signature-256", "sha256=")).reason == "signature_mismatch"


def test_truncated_signature_rejected(auth, signed_request):
    value = signed_request.headers["X-Hub-Signature-256"][:-2]

    assert rejection(auth, replaced(signed_request, "X-Hub-Signature-256", value)).reason == "signature_mismatch"


# SHA-1


def test_sha1_only_rejected_by_default(auth, signed_request):
    error = rejection(auth, without(signed_request, "X-Hub-Signature-256"))

    assert error.reason == "header_missing"


def test_sha1_only_accepted_when_allowed(sha1_auth, signed_request):
    assert sha1_auth.verify(without(signed_request, "X-Hub-Signature-256")) is None


def test_wrong_sha1_rejected_when_allowed(sha1_auth):
    error = rejection(sha1_auth, request_with({"X-Hub-Signature": sha1_header(OTHER_SECRET, BODY)}))

    assert error.reason == "signature_mismatch"
    assert "X-Hub-Signature" in str(error)


def test_sha256_checked_when_both_present(sha1_auth, signed_request):
    forged = replaced(signed_request, "X-Hub-Signature-256", sha256_header(OTHER_SECRET, BODY))

    assert rejection(sha1_auth, forged).reason == "signature_mismatch"


def test_no_signature_header_names_sha256(sha1_auth):
    error = rejection(sha1_auth, request_with({}))

    assert error.reason == "header_missing"
    assert "X-Hub-Signature" in str(error)


# Ping, event id and type


def test_ping_answered_with_pong(auth):
    body = (SAMPLES / "ping.json").read_bytes()
    request = request_with({"X-GitHub-Event": "ping"}, body)

    assert auth.immediate_response(json.loads(body), request) == {"status": "pong", "hookId": 109948940}


def test_other_events_not_answered(auth, signed_request):
    assert auth.immediate_response(json.loads(BODY), signed_request) is None


def test_event_id_and_type_come_from_headers(secret_variables):
    config = EndpointConfig.model_validate(
        {"endpointName": "gh", "auth": [{"method": "github", "secretEnv": SECRET_VARIABLE}]}
    )

    assert config.event_id_source() == ("header", "X-GitHub-Delivery")
    assert config.event_type_source() == ("header", "X-GitHub-Event")


@pytest.mark.parametrize("file_name, event", [
    ("ping.json", "ping"),
    ("push.json", "push"),
    ("issues.opened.json", "issues"),
    ("pull_request.opened.json", "pull_request"),
])
def test_sign_names_sample_events(auth, file_name, event):
    headers, _ = auth.sign((SAMPLES / file_name).read_bytes(), "http://127.0.0.1/github", 0)

    assert headers["X-GitHub-Event"] == event


def test_sign_delivery_id_stable_per_body(auth):
    first, _ = auth.sign(BODY, "http://127.0.0.1/github", 0)
    again, _ = auth.sign(BODY, "http://127.0.0.1/github", 99)
    other, _ = auth.sign(BODY + b"\n", "http://127.0.0.1/github", 0)

    assert uuid.UUID(first["X-GitHub-Delivery"]).version == 4
    assert first["X-GitHub-Delivery"] == again["X-GitHub-Delivery"]
    assert first["X-GitHub-Delivery"] != other["X-GitHub-Delivery"]


def test_sign_omits_event_for_unknown_shape(auth):
    headers, _ = auth.sign(b'{"something": "else"}', "http://127.0.0.1/github", 0)

    assert "X-GitHub-Event" not in headers
