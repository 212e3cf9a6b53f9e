"""Helpers every authentication method shares: the request view, secrets, timestamps."""

import hmac
import os
from dataclasses import dataclass, field
from typing import Mapping

from .. import clock
from ..errors import AuthError

# Default tolerance, in seconds, between a signed timestamp and this server's clock.
DEFAULT_TOLERANCE_SECONDS = 300


@dataclass(frozen=True)
class InboundRequest:
    """The parts of an HTTP request that authentication reads.

    ``headers`` must look names up case-insensitively (werkzeug's headers do).
    ``body`` is the raw body exactly as received.
    """

    method: str
    url: str
    headers: Mapping[str, str]
    body: bytes
    query: Mapping[str, str] = field(default_factory=dict)
    remote_addr: str | None = None
    query_string: bytes = b""  # the raw query, as sent, for schemes that sign the URL


def read_secrets(secret_env: list[str]) -> list[bytes]:
    """Read the secrets named by ``secret_env``, skipping unset or empty variables.

    Raises AuthError when none is set, so a missing secret fails closed.
    """
    # Surrounding whitespace is dropped: a secret saved with a trailing newline would fail every check.
    secrets = [os.environ[name].strip().encode() for name in secret_env if os.environ.get(name, "").strip()]
    if not secrets:
        raise AuthError(
            "secret_missing",
            f"none of the secret variables {', '.join(secret_env)} is set; set one in the function's environment",
        )
    return secrets


def required_header(request: InboundRequest, name: str) -> str:
    """Return a header's value, raising AuthError when it is missing or empty."""
    value = request.headers.get(name)
    if value is None:
        raise AuthError("header_missing", f"header {name} is missing")
    value = value.strip()
    if not value:
        raise AuthError("header_empty", f"header {name} is empty")
    return value


def parse_timestamp(value: str, header: str) -> int:
    """Parse a Unix timestamp in whole seconds, raising AuthError when it is not one."""
    if not value.isascii() or not value.isdigit() or len(value) > 12:
        raise AuthError("timestamp_malformed", f"header {header} is not a Unix timestamp in seconds")
    return int(value)


def check_timestamp(timestamp: int, tolerance_seconds: int, header: str) -> None:
    """Reject a signed timestamp further than ``tolerance_seconds`` from now, in either direction."""
    age = clock.now_seconds() - timestamp
    if age > tolerance_seconds:
        raise AuthError("timestamp_too_old", f"timestamp in {header} is older than {tolerance_seconds} s")
    if age < -tolerance_seconds:
        raise AuthError("timestamp_too_new", f"timestamp in {header} is more than {tolerance_seconds} s in the future")


def any_digest_matches(expected: list[bytes], received: list[bytes]) -> bool:
    """Compare every expected digest with every received one in constant time.

    All pairs are compared even after a match, so the time taken does not
    depend on which secret or which signature matched.
    """
    matched = False
    for candidate in expected:
        for signature in received:
            matched |= hmac.compare_digest(candidate, signature)
    return matched
