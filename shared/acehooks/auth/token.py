"""Shared-secret token in a header (``Authorization: Bearer`` by default) or a query parameter."""

from typing import Literal
from urllib.parse import urlencode, urlsplit, urlunsplit

from pydantic import model_validator

from ..errors import AuthError
from .base import InboundRequest, any_digest_matches, required_header
from .method import SecretMethod


class TokenAuth(SecretMethod):
    """Compare a token sent by the caller with the configured secrets.

    NOTE: a token in a query parameter ends up in proxy and access logs;
    use ``queryParam`` only for senders that cannot set headers.
    """

    method: Literal["token"]
    header: str = "Authorization"
    scheme: str | None = "Bearer"
    query_param: str | None = None

    @model_validator(mode="after")
    def _scheme_only_with_header(self):
        if self.query_param and "scheme" in self.model_fields_set:
            raise ValueError("scheme applies to a header token; remove it when queryParam is set")
        return self

    def verify(self, request: InboundRequest) -> None:
        token = self._received_token(request)
        if not any_digest_matches(self.secrets(), [token.encode()]):
            raise AuthError("token_mismatch", f"token in {self._source()} does not match any configured secret")

    def sign(self, body: bytes, url: str, timestamp: int) -> tuple[dict[str, str], str]:
        token = self.signing_secret().decode()
        if self.query_param:
            parts = urlsplit(url)
            query = "&".join(filter(None, [parts.query, urlencode({self.query_param: token})]))
            return {}, urlunsplit(parts._replace(query=query))
        value = f"{self.scheme} {token}" if self.scheme else token
        return {self.header: value}, url

    def _source(self) -> str:
        return f"query parameter {self.query_param}" if self.query_param else f"header {self.header}"

    def _received_token(self, request: InboundRequest) -> str:
        if self.query_param:
            token = request.query.get(self.query_param)
            if not token:
                raise AuthError("token_missing", f"query parameter {self.query_param} is missing or empty")
            return token

        value = required_header(request, self.header)
        if not self.scheme:
            return value

        scheme, _, token = value.partition(" ")
        if scheme.lower() != self.scheme.lower() or not token.strip():
            raise AuthError("token_malformed", f"header {self.header} is not of the form '{self.scheme} <token>'")
        return token.strip()
