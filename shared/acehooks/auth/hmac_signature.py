"""Generic HMAC signature over the raw body, optionally with a signed timestamp."""

import base64
import binascii
import hashlib
import hmac
from typing import Literal

from pydantic import Field, field_validator, model_validator

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

ALGORITHMS = {"sha1": hashlib.sha1, "sha256": hashlib.sha256, "sha512": hashlib.sha512}


def signed_content(template: str, body: bytes, timestamp: str | None) -> bytes:
    """Build the signed bytes from a template such as ``{timestamp}.{body}``.

    The body is spliced in as raw bytes, never decoded and re-encoded.
    """
    text = template.replace("{timestamp}", timestamp or "")
    before, _, after = text.partition("{body}")
    return before.encode() + body + after.encode()


def compute_digest(algorithm: str, secret: bytes, content: bytes) -> bytes:
    """Return the raw HMAC digest of ``content``."""
    return hmac.new(secret, content, ALGORITHMS[algorithm]).digest()


def decode_signature(value: str, encoding: str, header: str) -> bytes:
    """Decode one hex or base64 signature, raising AuthError when it is malformed."""
    try:
        if encoding == "hex":
            return bytes.fromhex(value)
        return base64.b64decode(value, validate=True)
    except (ValueError, binascii.Error):
        raise AuthError("signature_malformed", f"signature in header {header} is not valid {encoding}") from None


def encode_signature(digest: bytes, encoding: str) -> str:
    return digest.hex() if encoding == "hex" else base64.b64encode(digest).decode()


class HmacAuth(SecretMethod):
    """HMAC of the raw body (or of a template around it) sent in a header."""

    method: Literal["hmac"]
    header: str
    algorithm: Literal["sha1", "sha256", "sha512"] = "sha256"
    encoding: Literal["hex", "base64"] = "hex"
    prefix: str = ""
    timestamp_header: str | None = None
    signed_content: str = "{body}"
    tolerance_seconds: int = Field(DEFAULT_TOLERANCE_SECONDS, gt=0)

    @field_validator("signed_content")
    @classmethod
    def _template_has_body(cls, template: str) -> str:
        if template.count("{body}") != 1:
            raise ValueError(f"signedContent {template!r} must contain {{body}} exactly once")
        return template

    @model_validator(mode="after")
    def _timestamp_header_matches_template(self):
        uses_timestamp = "{timestamp}" in self.signed_content
        if uses_timestamp and not self.timestamp_header:
            raise ValueError("signedContent uses {timestamp}; set timestampHeader to the header that carries it")
        if self.timestamp_header and not uses_timestamp:
            raise ValueError(
                "timestampHeader is set but signedContent does not include {timestamp}, so the timestamp "
                "would not be signed; use a template such as '{timestamp}.{body}'"
            )
        return self

    def verify(self, request: InboundRequest) -> None:
        value = required_header(request, self.header)
        if not value.startswith(self.prefix):
            raise AuthError("signature_malformed", f"header {self.header} does not start with {self.prefix!r}")
        received = decode_signature(value[len(self.prefix):], self.encoding, self.header)

        timestamp = None
        if self.timestamp_header:
            timestamp = required_header(request, self.timestamp_header)
            check_timestamp(parse_timestamp(timestamp, self.timestamp_header), self.tolerance_seconds, self.timestamp_header)

        content = signed_content(self.signed_content, request.body, timestamp)
        expected = [compute_digest(self.algorithm, secret, content) for secret in self.secrets()]
        if not any_digest_matches(expected, [received]):
            raise AuthError("signature_mismatch", f"signature in header {self.header} does not match the body")

    def sign(self, body: bytes, url: str, timestamp: int) -> tuple[dict[str, str], str]:
        headers = {}
        stamp = None
        if self.timestamp_header:
            stamp = str(timestamp)
            headers[self.timestamp_header] = stamp
        digest = compute_digest(self.algorithm, self.signing_secret(), signed_content(self.signed_content, body, stamp))
        headers[self.header] = self.prefix + encode_signature(digest, self.encoding)
        return headers, url
