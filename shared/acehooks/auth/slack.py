"""Slack's request signature: ``X-Slack-Signature: v0=<hex>``.

The hex value is HMAC-SHA256 of ``v0:{X-Slack-Request-Timestamp}:{raw body}``
keyed by the app's signing secret. Slack retries a delivery it got no 2xx
for with ``X-Slack-Retry-Num`` set and the same ``event_id``, so ingest
stores a retry once and reports it as a duplicate. This check ignores the header.

The Events API's ``url_verification`` request gets a response with its
``challenge`` once the signature has passed, and is never stored.
"""

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
from .hmac_signature import compute_digest, decode_signature
from .method import SecretMethod

SIGNATURE_HEADER = "X-Slack-Signature"
TIMESTAMP_HEADER = "X-Slack-Request-Timestamp"
VERSION = "v0"
URL_VERIFICATION = "url_verification"


def signed_content(timestamp: str, body: bytes) -> bytes:
    return f"{VERSION}:{timestamp}:".encode() + body


class SlackAuth(SecretMethod):
    """Verify Slack requests. ``secretEnv`` names the app's signing secret."""

    method: Literal["slack"]
    tolerance_seconds: int = Field(DEFAULT_TOLERANCE_SECONDS, gt=0)

    # The Events API puts the id beside the event. The inner event's type names what happened
    # (``reaction_added``), while the outer ``type`` is ``event_callback`` for every event.
    default_event_id = ("path", "event_id")
    default_event_type = ("path", "event.type")

    def verify(self, request: InboundRequest) -> None:
        value = required_header(request, SIGNATURE_HEADER)
        version, separator, digest_hex = value.partition("=")
        if version != VERSION or not separator:
            raise AuthError("signature_malformed", f"header {SIGNATURE_HEADER} does not start with '{VERSION}='")
        received = decode_signature(digest_hex, "hex", SIGNATURE_HEADER)

        timestamp = required_header(request, TIMESTAMP_HEADER)
        check_timestamp(parse_timestamp(timestamp, TIMESTAMP_HEADER), self.tolerance_seconds, TIMESTAMP_HEADER)

        content = signed_content(timestamp, request.body)
        expected = [compute_digest("sha256", secret, content) for secret in self.secrets()]
        if not any_digest_matches(expected, [received]):
            raise AuthError("signature_mismatch", f"signature in header {SIGNATURE_HEADER} does not match the body")

    def immediate_response(self, payload, request: InboundRequest) -> dict | None:
        if not isinstance(payload, dict) or payload.get("type") != URL_VERIFICATION:
            return None
        challenge = payload.get("challenge")
        return {"challenge": challenge} if isinstance(challenge, str) else None

    def sign(self, body: bytes, url: str, timestamp: int) -> tuple[dict[str, str], str]:
        stamp = str(timestamp)
        digest = compute_digest("sha256", self.signing_secret(), signed_content(stamp, body))
        return {TIMESTAMP_HEADER: stamp, SIGNATURE_HEADER: f"{VERSION}={digest.hex()}"}, url
