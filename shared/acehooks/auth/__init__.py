"""Authentication of inbound webhook requests: one module per method."""

from typing import Annotated, Union

from pydantic import Field

from ..errors import AuthError
from .base import InboundRequest
from .github import GitHubAuth
from .hmac_signature import HmacAuth
from .ip_allowlist import IpAllowlistAuth
from .method import AuthMethod
from .sendgrid import SendGridAuth
from .shopify import ShopifyAuth
from .slack import SlackAuth
from .square import SquareAuth
from .standard_webhooks import StandardWebhooksAuth, SvixAuth
from .stripe import StripeAuth
from .token import TokenAuth
from .twilio import TwilioAuth

AUTH_METHODS: tuple[type[AuthMethod], ...] = (
    TokenAuth,
    HmacAuth,
    IpAllowlistAuth,
    StripeAuth,
    GitHubAuth,
    ShopifyAuth,
    SlackAuth,
    TwilioAuth,
    StandardWebhooksAuth,
    SvixAuth,
    SquareAuth,
    SendGridAuth,
)

AuthConfig = Annotated[Union[AUTH_METHODS], Field(discriminator="method")]


def verify_all(methods: list[AuthMethod], request: InboundRequest) -> None:
    """Run every configured check in order; the first failure raises AuthError."""
    if not methods:
        raise AuthError("no_auth_configured", "the endpoint has no auth entry")
    for method in methods:
        method.verify(request)


__all__ = ["AUTH_METHODS", "AuthConfig", "AuthMethod", "InboundRequest", "verify_all"]
