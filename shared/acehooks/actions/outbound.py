"""Rules shared by actions that call an HTTP API: which responses fail for good and which are retried."""

from urllib.parse import urlsplit, urlunsplit

from ..errors import ActionError, PermanentError

MAX_ERROR_BODY_CHARS = 300  # characters of a rejecting response's body kept in the error


def display_url(url: str) -> str:
    """Return ``url`` without its query, fragment and user info, for logs and errors.

    Queries sometimes carry keys, and the action's record and logs outlive the request.
    """
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def check_status(response, service: str, rejected: str) -> None:
    """Return for a 2xx response; raise ActionError for 429 and 5xx, PermanentError for any other status.

    ``service`` names who responded ("SendGrid", "POST https://..."), and
    ``rejected`` what it rejected ("the message"). A 429 or 5xx may pass on a
    later attempt, but another 4xx or a redirect will not, because the request
    would be the same.
    """
    status = response.status_code
    if 200 <= status < 300:
        return
    if status == 429 or status >= 500:
        raise ActionError(f"{service} responded {status}; will retry")
    if 300 <= status < 400:
        location = display_url(response.headers.get("Location") or "") or "no Location"
        raise PermanentError(f"{service} responded {status} redirecting to {location}; redirects are not followed, "
                             "so update the URL")
    text = " ".join((response.text or "").split())[:MAX_ERROR_BODY_CHARS]
    raise PermanentError(f"{service} rejected {rejected} with {status}: {text}")
