"""The public URL that Twilio and Square sign, configured per endpoint.

Both providers sign the URL they post to. Behind Cloud Functions the request
arrives at an internal URL (another host, sometimes another path), so the
URL a provider signed cannot be rebuilt from the request and must be configured.
"""

from urllib.parse import urlsplit, urlunsplit

from werkzeug.urls import iri_to_uri


def check_public_url(url: str | None, provider: str, console_field: str, allow_query: bool) -> str:
    """Return ``url`` when it is an absolute http(s) URL. Raises ValueError naming the fix otherwise."""
    if not url:
        raise ValueError(
            f"publicUrl is required for {provider}: set it to the URL entered as {console_field}, "
            "because Cloud Functions sees an internal URL that the signature does not cover"
        )
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ValueError(f"publicUrl {url!r} must be an absolute URL such as 'https://example.com/hooks/{provider}'")
    try:
        parts.port
    except ValueError:
        raise ValueError(f"publicUrl {url!r} has a port that is not a number from 0 to 65535") from None
    if parts.fragment:
        raise ValueError(f"publicUrl {url!r} must not contain a '#' fragment; providers do not send it")
    if parts.query and not allow_query:
        raise ValueError(
            f"publicUrl {url!r} must not contain a query string: {provider} signs the query the request "
            "arrives with, which acehooks appends; remove everything from '?'"
        )
    return url


def received_query(request_url: str, raw_query: bytes = b"") -> str:
    """Return the query string exactly as sent, when the raw bytes are known, else rebuilt from the URL.

    werkzeug's ``request.url`` decodes percent-escapes of characters that
    need none (``%7E`` becomes ``~``), and re-encoding cannot restore them,
    so a signature over a rebuilt query can fail where the raw one passes.
    """
    if raw_query:
        return raw_query.decode("latin-1")
    return urlsplit(iri_to_uri(request_url)).query


def with_query(url: str, query: str) -> str:
    """Return ``url`` with its query string replaced by ``query``."""
    return urlunsplit(urlsplit(url)._replace(query=query))
