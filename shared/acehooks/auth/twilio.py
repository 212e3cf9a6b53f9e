"""Twilio's request signature: ``X-Twilio-Signature: <base64>``.

The value is HMAC-SHA1, keyed by the account's Auth Token, of the full URL
Twilio requested followed by every POST parameter, sorted by name, written
as name then value with no separator. A JSON body is not split into
parameters: Twilio adds ``bodySHA256=<hex SHA-256 of the body>`` to the URL
query instead, and the URL (with that parameter) is what gets signed.

The URL is the endpoint's configured ``publicUrl`` plus the query string
the request arrived with. Twilio's own validators accept the URL with and
without its default port (443 or 80), because Twilio is not consistent
about including it. This check does the same.

When a Twilio webhook rule signs with a shared key instead of the Auth
Token, Twilio names the algorithm in ``X-Twilio-Webhooks-Signature-Settings``
(``key=...,algorithm=HMAC_SHA256``); put that key in ``secretEnv`` as well.
"""

import base64
import hashlib
import hmac
import json
from typing import Literal
from urllib.parse import parse_qs, parse_qsl, urlencode, urlsplit, urlunsplit

from pydantic import model_validator

from ..errors import AuthError
from .base import InboundRequest, any_digest_matches, required_header
from .hmac_signature import decode_signature
from .method import SecretMethod
from .public_url import check_public_url, received_query, with_query

SIGNATURE_HEADER = "X-Twilio-Signature"
SETTINGS_HEADER = "X-Twilio-Webhooks-Signature-Settings"
BODY_HASH_PARAMETER = "bodySHA256"
ALGORITHMS = {"HMAC_SHA1": hashlib.sha1, "HMAC_SHA256": hashlib.sha256}
DEFAULT_ALGORITHM = "HMAC_SHA1"
DEFAULT_PORTS = {"https": 443, "http": 80}


def signed_content(url: str, parameters: list[tuple[str, str]]) -> bytes:
    """Build the signed string: the URL, then each parameter as name + value, sorted.

    A name sent several times contributes each distinct value in sorted
    order, as Twilio's helper libraries compute it.
    """
    values: dict[str, set[str]] = {}
    for name, value in parameters:
        values.setdefault(name, set()).add(value)
    text = url + "".join(name + value for name in sorted(values) for value in sorted(values[name]))
    return text.encode()


def url_variants(url: str) -> list[str]:
    """Return ``url`` as given, with a port written out (the default one if it has none), and without a port."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    if parts.username or parts.password:
        # Credentials in a webhook URL are kept as given, because port variants would need them rebuilt.
        return [url]
    with_port = urlunsplit(parts._replace(netloc=f"{host}:{parts.port or DEFAULT_PORTS.get(parts.scheme, 443)}"))
    without_port = urlunsplit(parts._replace(netloc=host))
    return list(dict.fromkeys([url, with_port, without_port]))


def algorithm_from_settings(value: str | None) -> str:
    """Return the algorithm named in the settings header, or HMAC_SHA1 when the header or name is absent."""
    for part in (value or "").split(","):
        name, separator, algorithm = part.strip().partition("=")
        if separator and name.strip() == "algorithm" and algorithm.strip():
            return algorithm.strip().upper()
    return DEFAULT_ALGORITHM


class TwilioAuth(SecretMethod):
    """Verify Twilio webhook requests. ``secretEnv`` names the Auth Token (and any shared keys)."""

    method: Literal["twilio"]
    public_url: str | None = None

    @model_validator(mode="after")
    def _public_url_set(self):
        check_public_url(self.public_url, "twilio", "the webhook URL in the Twilio Console", allow_query=False)
        return self

    def verify(self, request: InboundRequest) -> None:
        received = decode_signature(required_header(request, SIGNATURE_HEADER), "base64", SIGNATURE_HEADER)
        algorithm = algorithm_from_settings(request.headers.get(SETTINGS_HEADER))
        if algorithm not in ALGORITHMS:
            raise AuthError("algorithm_unsupported", f"header {SETTINGS_HEADER} names an unsupported algorithm")

        query = received_query(request.url, request.query_string)
        parameters = self._signed_parameters(request, query)
        url = with_query(self.public_url, query)
        expected = [
            hmac.new(secret, signed_content(variant, parameters), ALGORITHMS[algorithm]).digest()
            for secret in self.secrets()
            for variant in url_variants(url)
        ]
        if not any_digest_matches(expected, [received]):
            raise AuthError(
                "signature_mismatch",
                f"signature in header {SIGNATURE_HEADER} does not match publicUrl, query and parameters",
            )

    def sign(self, body: bytes, url: str, timestamp: int) -> tuple[dict[str, str], str]:
        query = urlsplit(url).query
        parameters: list[tuple[str, str]] = []
        if _is_json(body):
            body_hash = hashlib.sha256(body).hexdigest()
            query = "&".join(filter(None, [query, urlencode({BODY_HASH_PARAMETER: body_hash})]))
        else:
            parameters = parse_qsl(body.decode("utf-8"), keep_blank_values=True)
        content = signed_content(with_query(self.public_url, query), parameters)
        signature = base64.b64encode(hmac.new(self.signing_secret(), content, hashlib.sha1).digest()).decode()
        return {SIGNATURE_HEADER: signature}, with_query(url, query)

    def _signed_parameters(self, request: InboundRequest, query: str) -> list[tuple[str, str]]:
        """Return the POST parameters Twilio signed, checking the body hash for JSON bodies."""
        body_hashes = parse_qs(query).get(BODY_HASH_PARAMETER)
        if body_hashes:
            computed = hashlib.sha256(request.body).hexdigest().encode()
            if not hmac.compare_digest(computed, body_hashes[0].lower().encode()):
                raise AuthError("body_hash_mismatch", f"query parameter {BODY_HASH_PARAMETER} does not match the body")
            return []
        try:
            text = request.body.decode("utf-8")
        except UnicodeDecodeError:
            raise AuthError("body_malformed", "form body is not UTF-8, so its parameters cannot be checked") from None
        return parse_qsl(text, keep_blank_values=True)


def _is_json(body: bytes) -> bool:
    """Return True for a JSON object or array, because a form body such as ``5`` also parses as JSON."""
    if not body.lstrip().startswith((b"{", b"[")):
        return False
    try:
        json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        return False
    return True
