"""The ``httpRequest`` action: send the event payload, the model or a mapped body to a URL.

The body is JSON. Every request carries ``webhook-id``, the event's
document id and the action id joined by '.', which stays the same across
retries so the receiver can drop repeats. With ``signingSecretEnv`` the
request is also signed as Standard Webhooks: ``webhook-timestamp`` (Unix
seconds) and ``webhook-signature: v1,<base64 HMAC-SHA256 of
id.timestamp.body>``, keyed by the ``whsec_`` secret.

The request is sent when the action runs, before its record is committed,
so it is at-least-once: a timeout on a request the receiver completed, or
a worker that stops before the record is written, sends it again.
"""

import json
import os
from urllib.parse import quote

from .. import __version__, clock, values
from ..auth.hmac_signature import compute_digest, encode_signature
from ..auth.standard_webhooks import VERSION, decode_secret, signed_content
from ..config import HttpRequestAction
from ..errors import ActionError, AuthError, PermanentError
from .context import ActionContext
from .outbound import check_status, display_url

USER_AGENT = f"acehooks/{__version__}"


def render_url(action: HttpRequestAction, context: ActionContext) -> str:
    """Fill the URL template, percent-encoding each value so it stays inside its path segment or query value.

    Raises PermanentError when a placeholder has no value for this event.
    """
    try:
        return values.render_template(action.url, context.event, context.model,
                                      quote=lambda value: quote(value, safe=""))
    except KeyError as error:
        raise PermanentError(f"url: {error.args[0]}; map the field in model or mark it required") from None


def request_body(action: HttpRequestAction, context: ActionContext) -> bytes | None:
    """Return the JSON body to send, or None for GET."""
    if action.method == "GET":
        return None
    if action.body == "payload":
        data = context.payload
    elif action.body == "model":
        data = context.model
    else:
        data = {name: values.resolve(spec, context.model, context.payload) for name, spec in action.body.items()}
    # Compact and fixed, because the signature covers these exact bytes.
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False, default=str).encode()


def header_text(value) -> str:
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"), default=str)


def request_headers(action: HttpRequestAction, context: ActionContext, has_body: bool) -> dict[str, str]:
    """Return the configured headers: value specs resolved (a missing value leaves its header out), then headerEnv.

    Raises PermanentError when a headerEnv variable is unset.
    """
    headers = {"User-Agent": USER_AGENT}
    if has_body:
        headers["Content-Type"] = "application/json"
    for name, spec in action.headers.items():
        value = values.resolve(spec, context.model, context.payload)
        if value is not None:
            headers[name] = header_text(value)
    for name, variable in action.header_env.items():
        value = os.environ.get(variable, "").strip()
        if not value:
            raise PermanentError(f"headerEnv.{name}: {variable} is not set; set it in the worker's environment "
                                 "(from Secret Manager in production)")
        headers[name] = value
    return headers


def sign(message_id: str, timestamp: int, body: bytes, secret_env: str) -> dict[str, str]:
    """Return the Standard Webhooks headers for ``body``.

    Raises PermanentError when ``secret_env`` is unset or not ``whsec_`` followed by base64.
    """
    secret = os.environ.get(secret_env, "").strip()
    if not secret:
        raise PermanentError(f"signingSecretEnv: {secret_env} is not set; set it in the worker's environment "
                             "(from Secret Manager in production)")
    try:
        key = decode_secret(secret.encode(), secret_env)
    except AuthError:
        raise PermanentError(f"signingSecretEnv: {secret_env} is not 'whsec_' followed by base64") from None
    digest = compute_digest("sha256", key, signed_content(message_id, str(timestamp), body))
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": f"{VERSION},{encode_signature(digest, 'base64')}",
    }


def run(action: HttpRequestAction, context: ActionContext, writes) -> dict:
    """Send the request and return its status.

    Raises PermanentError for a 4xx other than 429, a redirect or an invalid
    URL or header, and ActionError for 429, 5xx, a timeout or a network failure.
    """
    import requests

    url = render_url(action, context)
    body = request_body(action, context)
    headers = request_headers(action, context, has_body=body is not None)
    message_id = f"{context.doc_id}.{context.action_id}"
    headers["webhook-id"] = message_id
    if action.signing_secret_env:
        headers.update(sign(message_id, int(clock.now_seconds()), body or b"", action.signing_secret_env))

    target = f"{action.method} {display_url(url)}"
    try:
        response = requests.request(action.method, url, data=body, headers=headers,
                                    timeout=action.timeout_seconds, allow_redirects=False)
    except requests.exceptions.InvalidHeader:
        # The library's message quotes the value, which may come from headerEnv, so it is not repeated.
        raise PermanentError(f"{target}: a header value is invalid (a line break or leading whitespace); "
                             "fix the mapped value or the variable in headerEnv") from None
    except (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema,
            requests.exceptions.InvalidSchema) as error:
        raise PermanentError(f"{target}: invalid URL ({type(error).__name__}); fix url") from None
    except requests.Timeout:
        raise ActionError(f"{target} timed out after {action.timeout_seconds:g} s; will retry") from None
    except requests.RequestException as error:
        raise ActionError(f"{target} failed: {type(error).__name__}; will retry") from None

    check_status(response, target, "the request")
    context.logger.info("%s returned %d", target, response.status_code, extra={"reason": "http_request_sent"})
    return {"status": response.status_code, "method": action.method, "url": display_url(url), "webhookId": message_id}
