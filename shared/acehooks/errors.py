"""Exceptions raised by acehooks. Every one derives from AcehooksError."""


class AcehooksError(Exception):
    """Base class of every error acehooks raises on purpose."""


class ConfigError(AcehooksError):
    """An endpoint config file is invalid; the message names the file, the field and the fix."""


class AuthError(AcehooksError):
    """A request failed an authentication check.

    ``reason`` is a short code for logs (``signature_mismatch``,
    ``timestamp_too_old``...). The message may name a header, never a secret
    or an expected signature, and is never sent to the caller.
    """

    status = 401

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


class ForbiddenError(AuthError):
    """The client address is not in the endpoint's allowlist."""

    status = 403


class PayloadError(AcehooksError):
    """The body cannot be parsed, or a field the endpoint needs is missing."""

    def __init__(self, status: int, reason: str, message: str, *, details: dict | None = None):
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.details = details or {}


class BackendUnavailable(AcehooksError):
    """Firestore or Cloud Tasks failed or timed out; the sender should retry."""


class ActionError(AcehooksError):
    """An action failed; the worker retries it on the next attempt."""


class PermanentError(ActionError):
    """An action failed in a way no retry can fix; the event is marked failed at once."""
