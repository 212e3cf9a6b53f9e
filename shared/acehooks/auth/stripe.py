"""Stripe's ``Stripe-Signature`` scheme.

The header reads ``t=<unix seconds>,v1=<hex>[,v1=<hex>...]``. Each ``v1`` is
HMAC-SHA256 of ``{t}.{raw body}`` keyed by the endpoint's signing secret
(``whsec_...``, used as is). During a secret roll Stripe sends one ``v1`` per
active secret, so any ``v1`` matching any configured secret passes.
"""

import hashlib
import hmac
from typing import Literal

from pydantic import Field

from ..errors import AuthError
from .base import (
    DEFAULT_TOLERANCE_SECONDS,
    InboundRequest,
    any_digest_matches,
    check_timestamp,
    parse_timestamp,
    required_header,
)
from .method import SecretMethod

HEADER = "Stripe-Signature"
SCHEME = "v1"


def parse_header(value: str) -> tuple[str, list[bytes]]:
    """Split a Stripe-Signature value into its timestamp and its v1 signatures.

    Raises AuthError when the timestamp or every v1 entry is missing or malformed.
    Entries of other schemes (``v0`` from test webhooks) are ignored.
    """
    timestamp = None
    signatures = []
    for item in value.split(","):
        key, separator, item_value = item.strip().partition("=")
        if not separator:
            raise AuthError("header_malformed", f"header {HEADER} has an entry without '='")
        if key == "t":
            timestamp = item_value
        elif key == SCHEME:
            try:
                signatures.append(bytes.fromhex(item_value))
            except ValueError:
                raise AuthError("signature_malformed", f"a v1 signature in header {HEADER} is not hex") from None

    if timestamp is None:
        raise AuthError("header_malformed", f"header {HEADER} has no t= timestamp")
    if not signatures:
        raise AuthError("signature_missing", f"header {HEADER} has no v1 signature")
    return timestamp, signatures


def compute_signature(secret: bytes, timestamp: str, body: bytes) -> bytes:
    # update() instead of concatenation: no copy of a large body.
    mac = hmac.new(secret, timestamp.encode() + b".", hashlib.sha256)
    mac.update(body)
    return mac.digest()


class StripeAuth(SecretMethod):
    """Verify Stripe webhook signatures; ``secretEnv`` names the ``whsec_`` secrets."""

    method: Literal["stripe"]
    tolerance_seconds: int = Field(DEFAULT_TOLERANCE_SECONDS, gt=0)

    default_event_id = ("path", "id")
    default_event_type = ("path", "type")

    def verify(self, request: InboundRequest) -> None:
        timestamp, received = parse_header(required_header(request, HEADER))
        check_timestamp(parse_timestamp(timestamp, HEADER), self.tolerance_seconds, HEADER)

        expected = [compute_signature(secret, timestamp, request.body) for secret in self.secrets()]
        if not any_digest_matches(expected, received):
            raise AuthError("signature_mismatch", f"no v1 signature in header {HEADER} matches the body")

    def sign(self, body: bytes, url: str, timestamp: int) -> tuple[dict[str, str], str]:
        signature = compute_signature(self.signing_secret(), str(timestamp), body).hex()
        return {HEADER: f"t={timestamp},{SCHEME}={signature}"}, url
