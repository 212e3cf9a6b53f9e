"""The Standard Webhooks signature, which Svix also sends under ``svix-`` header names.

Headers: ``webhook-id``, ``webhook-timestamp`` (Unix seconds) and
``webhook-signature``, a space-separated list of ``v1,<base64>`` entries.
Each ``v1`` is HMAC-SHA256 of ``{id}.{timestamp}.{raw body}``; the key is
the secret without its ``whsec_`` prefix, base64-decoded. A sender rolling
its secret sends one entry per active secret, so any valid entry passes.
Entries of other versions (``v1a`` is asymmetric) are skipped.

Svix sends ``svix-id``, ``svix-timestamp`` and ``svix-signature`` unless
its customer chose the ``webhook-`` names; both sets are accepted. The
``svix-`` set is read only when ``svix-signature`` is present and
``webhook-signature`` is not.
"""

import base64
import binascii
from typing import ClassVar, Literal

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
from .hmac_signature import compute_digest, decode_signature, encode_signature
from .method import SecretMethod
from .sending import delivery_uuid

SECRET_PREFIX = "whsec_"
VERSION = "v1"
STANDARD_PREFIX = "webhook"
SVIX_PREFIX = "svix"


def decode_secret(secret: bytes, source: str) -> bytes:
    """Return the HMAC key of a ``whsec_<base64>`` secret (the prefix is optional).

    Raises AuthError naming ``source`` when the rest is not base64 or decodes to nothing.
    """
    text = secret.decode("ascii", errors="replace").strip().removeprefix(SECRET_PREFIX)
    # Some senders show the secret without base64 padding, so restore it before a strict decode.
    padded = text + "=" * (-len(text) % 4)
    try:
        key = base64.b64decode(padded, validate=True)
    except (ValueError, binascii.Error):
        key = b""
    if not key:
        raise AuthError("secret_malformed", f"a secret in {source} is not 'whsec_' followed by base64")
    return key


def signed_content(message_id: str, timestamp: str, body: bytes) -> bytes:
    return f"{message_id}.{timestamp}.".encode() + body


def parse_signatures(value: str, header: str) -> list[bytes]:
    """Return the decoded ``v1`` signatures of a signature header.

    Raises AuthError when an entry has no comma or a ``v1`` entry is not
    base64, or when no ``v1`` entry is present.
    """
    signatures = []
    for entry in value.split():
        version, separator, encoded = entry.partition(",")
        if not separator:
            raise AuthError("signature_malformed", f"an entry of header {header} is not of the form 'v1,<base64>'")
        if version == VERSION:
            signatures.append(decode_signature(encoded, "base64", header))
    if not signatures:
        raise AuthError("signature_missing", f"header {header} has no {VERSION} signature")
    return signatures


def header_prefix(request: InboundRequest) -> str:
    """Return the header set a delivery uses: ``webhook`` unless only ``svix-signature`` is present."""
    standard = request.headers.get(f"{STANDARD_PREFIX}-signature")
    if standard is None and request.headers.get(f"{SVIX_PREFIX}-signature") is not None:
        return SVIX_PREFIX
    return STANDARD_PREFIX


class StandardWebhooksAuth(SecretMethod):
    """Verify Standard Webhooks (and Svix) deliveries. ``secretEnv`` names the ``whsec_`` secrets."""

    method: Literal["standardWebhooks"]
    tolerance_seconds: int = Field(DEFAULT_TOLERANCE_SECONDS, gt=0)

    default_event_id = ("header", f"{STANDARD_PREFIX}-id")
    default_event_type = ("path", "type")
    # The header prefix sign() writes. The Svix preset writes its own.
    sign_prefix: ClassVar[str] = STANDARD_PREFIX

    def verify(self, request: InboundRequest) -> None:
        prefix = header_prefix(request)
        id_header, timestamp_header, signature_header = (f"{prefix}-id", f"{prefix}-timestamp", f"{prefix}-signature")

        message_id = required_header(request, id_header)
        timestamp = required_header(request, timestamp_header)
        received = parse_signatures(required_header(request, signature_header), signature_header)
        check_timestamp(parse_timestamp(timestamp, timestamp_header), self.tolerance_seconds, timestamp_header)

        content = signed_content(message_id, timestamp, request.body)
        source = ", ".join(self.secret_env)
        expected = [compute_digest("sha256", decode_secret(secret, source), content) for secret in self.secrets()]
        if not any_digest_matches(expected, received):
            raise AuthError("signature_mismatch", f"no {VERSION} signature in header {signature_header} matches the body")

    def sign(self, body: bytes, url: str, timestamp: int) -> tuple[dict[str, str], str]:
        message_id = "msg_" + delivery_uuid(body).replace("-", "")
        stamp = str(timestamp)
        key = decode_secret(self.signing_secret(), ", ".join(self.secret_env))
        digest = compute_digest("sha256", key, signed_content(message_id, stamp, body))
        prefix = self.sign_prefix
        return {
            f"{prefix}-id": message_id,
            f"{prefix}-timestamp": stamp,
            f"{prefix}-signature": f"{VERSION},{encode_signature(digest, 'base64')}",
        }, url


class SvixAuth(StandardWebhooksAuth):
    """The Standard Webhooks check for Svix senders, whose event id is in ``svix-id``."""

    method: Literal["svix"]

    default_event_id = ("header", f"{SVIX_PREFIX}-id")
    sign_prefix = SVIX_PREFIX
