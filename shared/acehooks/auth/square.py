"""Square's webhook signature: ``x-square-hmacsha256-signature: <base64>``.

The value is HMAC-SHA256 of the subscription's notification URL followed
by the raw body, keyed by the subscription's signature key. The URL is the
endpoint's ``publicUrl``, used exactly as entered in Square, query included.
"""

from typing import Literal

from pydantic import model_validator

from ..errors import AuthError
from .base import InboundRequest, any_digest_matches, required_header
from .hmac_signature import compute_digest, decode_signature, encode_signature
from .method import SecretMethod
from .public_url import check_public_url

SIGNATURE_HEADER = "x-square-hmacsha256-signature"


class SquareAuth(SecretMethod):
    """Verify Square webhook events. ``secretEnv`` names the subscription's signature key."""

    method: Literal["square"]
    public_url: str | None = None

    default_event_id = ("path", "event_id")
    default_event_type = ("path", "type")

    @model_validator(mode="after")
    def _public_url_set(self):
        check_public_url(self.public_url, "square", "the subscription's notification URL in Square", allow_query=True)
        return self

    def verify(self, request: InboundRequest) -> None:
        received = decode_signature(required_header(request, SIGNATURE_HEADER), "base64", SIGNATURE_HEADER)
        content = self._signed_content(request.body)
        expected = [compute_digest("sha256", secret, content) for secret in self.secrets()]
        if not any_digest_matches(expected, [received]):
            raise AuthError(
                "signature_mismatch", f"signature in header {SIGNATURE_HEADER} does not match publicUrl and body"
            )

    def sign(self, body: bytes, url: str, timestamp: int) -> tuple[dict[str, str], str]:
        digest = compute_digest("sha256", self.signing_secret(), self._signed_content(body))
        return {SIGNATURE_HEADER: encode_signature(digest, "base64")}, url

    def _signed_content(self, body: bytes) -> bytes:
        return self.public_url.encode() + body
