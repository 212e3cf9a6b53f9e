"""The interface every authentication method implements."""

from typing import ClassVar

from pydantic import Field, field_validator

from ..model_base import ConfigModel
from .base import InboundRequest, read_secrets


class AuthMethod(ConfigModel):
    """One entry of an endpoint's ``auth`` list."""

    # Where a provider puts the event id and type, used when the endpoint config names none.
    # Each is ("path", JSONPath) or ("header", header name).
    default_event_id: ClassVar[tuple[str, str] | None] = None
    default_event_type: ClassVar[tuple[str, str] | None] = None
    # True for senders that post a JSON array of events in one delivery (SendGrid's event webhook).
    splits_batches: ClassVar[bool] = False

    def verify(self, request: InboundRequest) -> None:
        """Raise AuthError (or ForbiddenError) unless ``request`` passes this check."""
        raise NotImplementedError

    def immediate_response(self, payload, request: InboundRequest) -> dict | None:
        """Return a JSON body to respond with at once without storing anything (a handshake such as
        Slack's url_verification), or None for an ordinary event. Called after every check passed."""
        return None

    def sign(self, body: bytes, url: str, timestamp: int) -> tuple[dict[str, str], str]:
        """Return the headers and URL a genuine sender would use for ``body``.

        Used by ``acehooks send`` and by the tests; reads the first secret variable.
        """
        raise NotImplementedError

    def secret_names(self) -> list[str]:
        """Return the environment variables this method reads secrets from."""
        return []


class SecretMethod(AuthMethod):
    """A method keyed by one or more secrets held in environment variables."""

    secret_env: list[str] = Field(min_length=1)

    @field_validator("secret_env", mode="before")
    @classmethod
    def _accept_single_name(cls, value):
        return [value] if isinstance(value, str) else value

    @field_validator("secret_env")
    @classmethod
    def _names_look_like_variables(cls, names: list[str]) -> list[str]:
        for index, name in enumerate(names):
            if not name or not name.replace("_", "a").isalnum() or name[0].isdigit():
                # The rejected value is not repeated: it may be a secret pasted by mistake.
                raise ValueError(
                    f"entry {index} is not an environment variable name (letters, digits and '_'); "
                    "name the variable that holds the secret, never the secret itself"
                )
        return names

    def secret_names(self) -> list[str]:
        return list(self.secret_env)

    def secrets(self) -> list[bytes]:
        """Read every configured secret that is set, for rotation."""
        return read_secrets(self.secret_env)

    def signing_secret(self) -> bytes:
        """Return the first configured secret that is set, the one a sender signs with."""
        return self.secrets()[0]
