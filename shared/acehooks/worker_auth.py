"""Caller authentication of the worker and sweeper: Cloud Tasks' OIDC token, or the local stack's shared secret."""

import hmac
import json
import threading
import time
import urllib.request

from .errors import AuthError
from .settings import get_settings

SECRET_HEADER = "X-Acehooks-Worker-Secret"
GOOGLE_ISSUERS = ("accounts.google.com", "https://accounts.google.com")
CLOCK_SKEW_SECONDS = 10  # tolerated difference between Google's clock and this server's for iat and exp
CERTS_CACHE_SECONDS = 300  # Google rotates its signing keys over days; five minutes keeps fetches rare

_certs_lock = threading.Lock()
_certs_cache: dict = {"url": None, "certs": None, "fetched_at": 0.0}


def authorize(headers, audience: str | None = None) -> str:
    """Return a label for the verified caller, or raise AuthError (401) or ForbiddenError (403).

    ``audience`` overrides the expected OIDC audience (the sweeper has its own URL).
    """
    settings = get_settings()
    if settings.worker_secret:
        received = headers.get(SECRET_HEADER, "")
        if not received:
            raise AuthError("worker_secret_missing", f"header {SECRET_HEADER} is missing")
        if not hmac.compare_digest(received.encode(), settings.worker_secret.encode()):
            raise AuthError("worker_secret_mismatch", f"header {SECRET_HEADER} does not match ACEHOOKS_WORKER_SECRET")
        return "local shared secret"

    if not settings.tasks_service_account:
        raise AuthError(
            "worker_auth_unconfigured",
            "set ACEHOOKS_TASKS_SERVICE_ACCOUNT (production) or ACEHOOKS_WORKER_SECRET (local stack)",
        )
    return _verify_oidc(headers, settings, audience)


def _verify_oidc(headers, settings, audience: str | None = None) -> str:
    from google.auth import exceptions, jwt

    from .errors import ForbiddenError

    scheme, _, token = (headers.get("Authorization") or "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise AuthError("oidc_token_missing", "Authorization header has no Bearer token")

    audience = audience or settings.worker_audience or settings.worker_url
    try:
        certs = _google_certs(settings.oidc_certs_url)
    except (OSError, ValueError) as error:
        # Not the caller's fault, but unverifiable: a non-2xx response makes Cloud Tasks retry later.
        raise AuthError("oidc_certs_unavailable", f"fetching token certificates failed: {error}") from None
    try:
        claims = jwt.decode(token, certs=certs, audience=audience, clock_skew_in_seconds=CLOCK_SKEW_SECONDS)
    except (exceptions.GoogleAuthError, ValueError) as error:
        raise AuthError("oidc_token_invalid", f"OIDC token rejected: {error}") from None

    if claims.get("iss") not in GOOGLE_ISSUERS:
        raise AuthError("oidc_issuer_invalid", f"OIDC token issuer {claims.get('iss')!r} is not Google")
    if claims.get("email") != settings.tasks_service_account or not claims.get("email_verified"):
        raise ForbiddenError("oidc_caller_forbidden", f"OIDC token email {claims.get('email')!r} is not the queue's service account")
    return claims["email"]


def _google_certs(url: str) -> dict:
    """Return Google's token-signing certificates, fetched at most every CERTS_CACHE_SECONDS."""
    with _certs_lock:
        fresh = time.monotonic() - _certs_cache["fetched_at"] < CERTS_CACHE_SECONDS
        if _certs_cache["url"] == url and _certs_cache["certs"] and fresh:
            return _certs_cache["certs"]
        with urllib.request.urlopen(url, timeout=5) as response:
            certs = json.load(response)
        _certs_cache.update(url=url, certs=certs, fetched_at=time.monotonic())
        return certs
