"""SendGrid's signed Event Webhook: an ECDSA P-256 signature with SHA-256.

SendGrid signs ``{X-Twilio-Email-Event-Webhook-Timestamp}{raw body}`` with
a private key it keeps, and sends the DER signature, base64-encoded, in
``X-Twilio-Email-Event-Webhook-Signature``. ``secretEnv`` names variables
holding the verification (public) key shown in SendGrid's settings: base64
DER as SendGrid shows it, or PEM. Several variables allow a key rotation.

One delivery is a JSON array of events; ingest stores one event per
element, keyed by its ``sg_event_id``.

``sign()`` needs the private key, which only SendGrid has for real
deliveries, so ``acehooks send`` and the tests read a test key pair's
private half from the variable named by ``signingKeyEnv`` (PEM, or base64
PKCS#8 DER). Without that variable, sending to a SendGrid endpoint fails.
"""

import base64
import binascii
import os
from typing import Literal

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric import ec
from pydantic import Field, field_validator

from ..errors import AuthError, ConfigError
from .base import DEFAULT_TOLERANCE_SECONDS, InboundRequest, check_timestamp, parse_timestamp, required_header
from .hmac_signature import decode_signature
from .method import SecretMethod

SIGNATURE_HEADER = "X-Twilio-Email-Event-Webhook-Signature"
TIMESTAMP_HEADER = "X-Twilio-Email-Event-Webhook-Timestamp"
PEM_MARKER = b"-----BEGIN"


def _key_bytes(value: bytes) -> tuple[bytes, bool]:
    """Return the key as PEM or DER bytes, and whether it is PEM. Raises ValueError if it is neither."""
    text = value.strip()
    if text.startswith(PEM_MARKER):
        return text, True
    try:
        return base64.b64decode(b"".join(text.split()), validate=True), False
    except binascii.Error:
        raise ValueError("not PEM and not base64") from None


def load_public_key(value: bytes) -> "ec.EllipticCurvePublicKey":
    """Load a P-256 public key from PEM or base64 DER. Raises AuthError when it is neither."""
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    try:
        data, is_pem = _key_bytes(value)
        key = serialization.load_pem_public_key(data) if is_pem else serialization.load_der_public_key(data)
    except (ValueError, UnsupportedAlgorithm):
        key = None
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
        raise AuthError("secret_malformed", "a configured verification key is not a P-256 public key in PEM or base64 DER")
    return key


def load_private_key(value: bytes, variable: str) -> "ec.EllipticCurvePrivateKey":
    """Load the P-256 signing key used by ``sign()``. Raises ConfigError naming the variable."""
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    try:
        data, is_pem = _key_bytes(value)
        if is_pem:
            key = serialization.load_pem_private_key(data, password=None)
        else:
            key = serialization.load_der_private_key(data, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        key = None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
        raise ConfigError(f"{variable} is not an unencrypted P-256 private key in PEM or base64 PKCS#8 DER")
    return key


class SendGridAuth(SecretMethod):
    """Verify SendGrid's signed Event Webhook. ``secretEnv`` names the verification key."""

    method: Literal["sendgrid"]
    tolerance_seconds: int = Field(DEFAULT_TOLERANCE_SECONDS, gt=0)
    signing_key_env: str | None = None

    default_event_id = ("path", "sg_event_id")
    default_event_type = ("path", "event")
    splits_batches = True

    @field_validator("signing_key_env")
    @classmethod
    def _signing_key_env_is_variable(cls, name: str | None) -> str | None:
        if name is not None and not (name.replace("_", "a").isalnum() and not name[0].isdigit()):
            # The rejected value is not repeated: it may be a private key pasted by mistake.
            raise ValueError(
                "signingKeyEnv is not an environment variable name (letters, digits and '_'); "
                "name the variable that holds the test signing key, never the key itself"
            )
        return name

    def verify(self, request: InboundRequest) -> None:
        # cryptography loads only when a SendGrid endpoint is called, off every other cold start.
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec

        signature = decode_signature(required_header(request, SIGNATURE_HEADER), "base64", SIGNATURE_HEADER)
        timestamp = required_header(request, TIMESTAMP_HEADER)
        # NOTE: SendGrid documents no replay window, so this is the other presets' default. Raise
        # toleranceSeconds if SendGrid's retries after an outage are rejected as too old.
        check_timestamp(parse_timestamp(timestamp, TIMESTAMP_HEADER), self.tolerance_seconds, TIMESTAMP_HEADER)

        content = timestamp.encode() + request.body
        for key in [load_public_key(value) for value in self.secrets()]:
            try:
                key.verify(signature, content, ec.ECDSA(hashes.SHA256()))
                return
            except InvalidSignature:
                continue
        raise AuthError("signature_mismatch", f"signature in header {SIGNATURE_HEADER} does not verify with any configured key")

    def sign(self, body: bytes, url: str, timestamp: int) -> tuple[dict[str, str], str]:
        if not self.signing_key_env or not os.environ.get(self.signing_key_env):
            raise ConfigError(
                "signing a SendGrid delivery needs a private key: set signingKeyEnv in the endpoint's sendgrid "
                "auth entry and put a P-256 test key in that variable (SendGrid never shares its own key)"
            )
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec

        key = load_private_key(os.environ[self.signing_key_env].encode(), self.signing_key_env)
        stamp = str(timestamp)
        signature = key.sign(stamp.encode() + body, ec.ECDSA(hashes.SHA256()))
        return {SIGNATURE_HEADER: base64.b64encode(signature).decode(), TIMESTAMP_HEADER: stamp}, url
