"""worker_auth.authorize: OIDC tokens from Cloud Tasks, and the local stack's shared secret.

Certificates come from a small HTTP server on 127.0.0.1 that serves
``{key id: PEM certificate}`` as Google's certificate endpoint does.
"""

import base64
import datetime
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from google.auth import crypt, jwt

from acehooks import worker_auth
from acehooks.errors import AuthError, ForbiddenError
from acehooks.settings import get_settings

KEY_ID = "unit-key-1"
SERVICE_ACCOUNT = "tasks-invoker@demo-acehooks.iam.gserviceaccount.com"
AUDIENCE = "https://us-central1-demo-acehooks.cloudfunctions.net/process_event"
WORKER_SECRET = "unit-worker-secret-5f3a9c"
TOKEN_LIFETIME_SECONDS = 3600


def generate_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def self_signed_certificate(key: rsa.RSAPrivateKey) -> bytes:
    """Return a PEM certificate for ``key``, valid for a day around now."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "acehooks unit test signer")])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=12))
        .not_valid_after(now + datetime.timedelta(hours=12))
        .sign(key, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.PEM)


def signer_for(key: rsa.RSAPrivateKey, key_id: str = KEY_ID) -> crypt.RSASigner:
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    return crypt.RSASigner.from_string(pem, key_id=key_id)


@pytest.fixture(scope="module")
def google_key() -> rsa.RSAPrivateKey:
    """The key whose certificate the certificate server publishes."""
    return generate_key()


@pytest.fixture(scope="module")
def certs_server(google_key):
    """Serve ``{KEY_ID: PEM}`` on 127.0.0.1 and yield an object with ``url`` and ``requests``, a count of GETs."""
    body = json.dumps({KEY_ID: self_signed_certificate(google_key).decode()}).encode()

    class Server:
        requests = 0

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            Server.requests += 1
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    Server.url = f"http://127.0.0.1:{httpd.server_address[1]}/oauth2/v1/certs"
    yield Server
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=5)


def reset_worker_auth() -> None:
    get_settings.cache_clear()
    worker_auth._certs_cache.update(url=None, certs=None, fetched_at=0.0)


@pytest.fixture
def oidc_settings(monkeypatch, certs_server):
    """Put the worker in production mode: no shared secret, OIDC from SERVICE_ACCOUNT for AUDIENCE."""
    monkeypatch.delenv("ACEHOOKS_WORKER_SECRET", raising=False)
    monkeypatch.setenv("ACEHOOKS_TASKS_SERVICE_ACCOUNT", SERVICE_ACCOUNT)
    monkeypatch.setenv("ACEHOOKS_WORKER_AUDIENCE", AUDIENCE)
    monkeypatch.setenv("ACEHOOKS_OIDC_CERTS_URL", certs_server.url)
    reset_worker_auth()
    yield
    reset_worker_auth()


@pytest.fixture
def now() -> int:
    """Return the current Unix time in seconds, because google-auth checks iat and exp against the real clock."""
    return int(time.time())


@pytest.fixture
def claims(now) -> dict:
    """Return the claims of a valid Cloud Tasks OIDC token."""
    return {
        "iss": "https://accounts.google.com",
        "aud": AUDIENCE,
        "sub": "109876543210987654321",
        "email": SERVICE_ACCOUNT,
        "email_verified": True,
        "iat": now,
        "exp": now + TOKEN_LIFETIME_SECONDS,
    }


def bearer(token: bytes) -> dict:
    return {"Authorization": f"Bearer {token.decode()}"}


def sign(key: rsa.RSAPrivateKey, claims: dict, key_id: str = KEY_ID) -> bytes:
    return jwt.encode(signer_for(key, key_id), claims)


def rejection(headers: dict) -> AuthError:
    with pytest.raises(AuthError) as caught:
        worker_auth.authorize(headers)
    return caught.value


# OIDC mode


def test_valid_token_accepted(oidc_settings, google_key, claims):
    assert worker_auth.authorize(bearer(sign(google_key, claims))) == SERVICE_ACCOUNT


def test_plain_issuer_accepted(oidc_settings, google_key, claims):
    claims["iss"] = "accounts.google.com"

    assert worker_auth.authorize(bearer(sign(google_key, claims))) == SERVICE_ACCOUNT


def test_audience_defaults_to_worker_url(monkeypatch, oidc_settings, google_key, claims):
    monkeypatch.delenv("ACEHOOKS_WORKER_AUDIENCE")
    monkeypatch.setenv("ACEHOOKS_WORKER_URL", "https://worker.example.test/process_event")
    get_settings.cache_clear()
    claims["aud"] = "https://worker.example.test/process_event"

    assert worker_auth.authorize(bearer(sign(google_key, claims))) == SERVICE_ACCOUNT


def test_wrong_audience_rejected(oidc_settings, google_key, claims):
    claims["aud"] = "https://us-central1-demo-acehooks.cloudfunctions.net/other_function"

    error = rejection(bearer(sign(google_key, claims)))

    assert error.reason == "oidc_token_invalid"
    assert error.status == 401


def test_expired_token_rejected(oidc_settings, google_key, claims, now):
    claims["iat"] = now - 2 * TOKEN_LIFETIME_SECONDS
    claims["exp"] = now - TOKEN_LIFETIME_SECONDS

    error = rejection(bearer(sign(google_key, claims)))

    assert error.reason == "oidc_token_invalid"
    assert "expired" in str(error)


def test_future_token_rejected(oidc_settings, google_key, claims, now):
    claims["iat"] = now + 600
    claims["exp"] = now + 600 + TOKEN_LIFETIME_SECONDS

    assert rejection(bearer(sign(google_key, claims))).reason == "oidc_token_invalid"


def test_wrong_issuer_rejected(oidc_settings, google_key, claims):
    claims["iss"] = "https://issuer.example.test"

    error = rejection(bearer(sign(google_key, claims)))

    assert type(error) is AuthError
    assert error.reason == "oidc_issuer_invalid"


def test_other_email_forbidden(oidc_settings, google_key, claims):
    claims["email"] = "someone-else@demo-acehooks.iam.gserviceaccount.com"

    error = rejection(bearer(sign(google_key, claims)))

    assert isinstance(error, ForbiddenError)
    assert error.status == 403
    assert error.reason == "oidc_caller_forbidden"


def test_unverified_email_forbidden(oidc_settings, google_key, claims):
    claims["email_verified"] = False

    error = rejection(bearer(sign(google_key, claims)))

    assert isinstance(error, ForbiddenError)
    assert error.reason == "oidc_caller_forbidden"


def test_missing_email_verified_forbidden(oidc_settings, google_key, claims):
    del claims["email_verified"]

    assert isinstance(rejection(bearer(sign(google_key, claims))), ForbiddenError)


def test_other_key_rejected(oidc_settings, claims):
    error = rejection(bearer(sign(generate_key(), claims)))

    assert type(error) is AuthError
    assert error.reason == "oidc_token_invalid"


def test_unknown_key_id_rejected(oidc_settings, google_key, claims):
    error = rejection(bearer(sign(google_key, claims, key_id="unit-key-unknown")))

    assert error.reason == "oidc_token_invalid"


def test_unsigned_token_rejected(oidc_settings, claims):
    def encode(part: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(part).encode()).rstrip(b"=").decode()

    token = f"{encode({'alg': 'none', 'typ': 'JWT'})}.{encode(claims)}."

    assert rejection({"Authorization": f"Bearer {token}"}).reason == "oidc_token_invalid"


def test_garbage_token_rejected(oidc_settings):
    assert rejection({"Authorization": "Bearer not.a.jwt"}).reason == "oidc_token_invalid"


def test_missing_authorization_rejected(oidc_settings):
    assert rejection({}).reason == "oidc_token_missing"


def test_basic_authorization_rejected(oidc_settings):
    assert rejection({"Authorization": "Basic dXNlcjpwYXNz"}).reason == "oidc_token_missing"


def test_empty_bearer_rejected(oidc_settings):
    assert rejection({"Authorization": "Bearer "}).reason == "oidc_token_missing"


def test_worker_secret_header_ignored(oidc_settings):
    assert rejection({worker_auth.SECRET_HEADER: WORKER_SECRET}).reason == "oidc_token_missing"


def test_certs_fetched_once(oidc_settings, certs_server, google_key, claims):
    before = certs_server.requests

    worker_auth.authorize(bearer(sign(google_key, claims)))
    worker_auth.authorize(bearer(sign(google_key, claims)))

    assert certs_server.requests - before == 1


def test_unconfigured_rejected(monkeypatch, oidc_settings):
    monkeypatch.delenv("ACEHOOKS_TASKS_SERVICE_ACCOUNT")
    get_settings.cache_clear()

    assert rejection({}).reason == "worker_auth_unconfigured"


# Local shared secret mode


@pytest.fixture
def secret_settings(monkeypatch):
    monkeypatch.setenv("ACEHOOKS_WORKER_SECRET", WORKER_SECRET)
    reset_worker_auth()
    yield
    reset_worker_auth()


def test_secret_accepted(secret_settings):
    assert worker_auth.authorize({worker_auth.SECRET_HEADER: WORKER_SECRET}) == "local shared secret"


def test_secret_missing_rejected(secret_settings):
    error = rejection({})

    assert error.reason == "worker_secret_missing"
    assert WORKER_SECRET not in str(error)


def test_secret_mismatch_rejected(secret_settings):
    error = rejection({worker_auth.SECRET_HEADER: WORKER_SECRET + "x"})

    assert error.reason == "worker_secret_mismatch"
    assert WORKER_SECRET not in str(error)


def test_small_clock_skew_accepted(oidc_settings, google_key, claims, now):
    # Google's clock a few seconds ahead of this server's: the token's iat is slightly in the future.
    claims["iat"] = now + 5
    claims["exp"] = now + 5 + TOKEN_LIFETIME_SECONDS

    assert worker_auth.authorize(bearer(sign(google_key, claims))) == SERVICE_ACCOUNT


def test_unreachable_certs_rejected_cleanly(monkeypatch, oidc_settings, google_key, claims):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    monkeypatch.setenv("ACEHOOKS_OIDC_CERTS_URL", f"http://127.0.0.1:{closed_port}/certs")
    reset_worker_auth()

    error = rejection(bearer(sign(google_key, claims)))

    assert error.reason == "oidc_certs_unavailable"
    assert error.status == 401
