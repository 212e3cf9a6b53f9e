"""Authentication of inbound webhook requests: one module per method."""

from typing import Annotated, Union

from pydantic import Field

from ..errors import AuthError
from .base import InboundRequest
from .hmac_signature import HmacAuth
from .method import AuthMethod
from .stripe import StripeAuth
from .token import TokenAuth

AUTH_METHODS: tuple[type[AuthMethod], ...] = (TokenAuth, HmacAuth, StripeAuth)

AuthConfig = Annotated[Union[AUTH_METHODS], Field(discriminator="method")]


def verify_all(methods: list[AuthMethod], request: InboundRequest) -> None:
    """Run every configured check in order; the first failure raises AuthError."""
    if not methods:
        raise AuthError("no_auth_configured", "the endpoint has no auth entry")
    for method in methods:
        method.verify(request)


__all__ = ["AUTH_METHODS", "AuthConfig", "AuthMethod", "InboundRequest", "verify_all"]
