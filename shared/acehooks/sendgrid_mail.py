"""Send email through SendGrid's v3 mail send API.

The API base URL comes from SENDGRID_API_BASE_URL, so the local stack and
the tests point it at a local capture server instead of SendGrid.

This module posts with ``requests`` instead of the ``sendgrid`` library,
because a mail send is one POST and ``requests`` is already a dependency.
Calling it directly keeps the timeout, the base URL and the mapping of each
HTTP status to a retry or a permanent failure in view here. The library
would add two packages and its own exception classes to translate.
"""

import json
import logging
import os

from .actions.outbound import check_status
from .errors import ActionError, PermanentError

logger = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.sendgrid.com"
BASE_URL_ENV = "SENDGRID_API_BASE_URL"
DEFAULT_API_KEY_ENV = "SENDGRID_API_KEY"
SENDER_ENV = "ACEHOOKS_EMAIL_FROM"
SEND_PATH = "/v3/mail/send"
TIMEOUT_SECONDS = 10
MAX_RECIPIENTS = 1000  # SendGrid's limit of addresses in one personalization
MAX_ADDRESS_CHARS = 320  # maximum address length: 64 local + '@' + 255 domain characters


def check_address(value, field: str) -> str:
    """Return ``value`` when it looks like one email address; raise PermanentError naming ``field`` if not."""
    if not isinstance(value, str):
        raise PermanentError(f"{field} resolved to {value!r}, which is not an email address; map it to a string")
    address = value.strip()
    local, separator, domain = address.partition("@")
    if (not separator or not local or "." not in domain or "@" in domain or len(address) > MAX_ADDRESS_CHARS
            or any(character.isspace() for character in address)):
        raise PermanentError(f"{field} {value!r} is not an email address")
    return address


def recipient_list(value, field: str = "to") -> list[str]:
    """Return the addresses of ``value``: one address or a list of them, each checked.

    Raises PermanentError when there is none, more than SendGrid accepts, or one is not an address.
    """
    addresses = value if isinstance(value, list) else [value]
    if not addresses or value is None:
        raise PermanentError(f"{field} resolved to no address; map it to an email address or a list of them")
    if len(addresses) > MAX_RECIPIENTS:
        raise PermanentError(f"{field} contains {len(addresses)} addresses; SendGrid accepts at most {MAX_RECIPIENTS}")
    return [check_address(address, f"{field}[{index}]" if isinstance(value, list) else field)
            for index, address in enumerate(addresses)]


def build_message(to: list[str], *, sender: str | None = None, sender_name: str | None = None,
                  reply_to: str | None = None, subject: str | None = None, text: str | None = None,
                  html: str | None = None, template_id: str | None = None, template_data: dict | None = None,
                  custom_args: dict[str, str] | None = None) -> dict:
    """Build a v3 mail send body for one personalization.

    ``sender`` defaults to ACEHOOKS_EMAIL_FROM. With ``template_id`` the
    dynamic template supplies the content, filled from ``template_data``.
    Raises PermanentError when no sender is known or an address is invalid.
    """
    sender = sender or os.environ.get(SENDER_ENV)
    if not sender:
        raise PermanentError(f"no sender address: set from in the action, or {SENDER_ENV} in the worker's environment")

    personalization: dict = {"to": [{"email": address} for address in to]}
    if template_id and template_data:
        personalization["dynamic_template_data"] = template_data

    sender_field = {"email": check_address(sender, "from")}
    if sender_name:
        sender_field["name"] = sender_name
    message: dict = {"personalizations": [personalization], "from": sender_field}
    if reply_to:
        message["reply_to"] = {"email": check_address(reply_to, "replyTo")}
    if subject is not None:
        message["subject"] = subject
    if template_id:
        message["template_id"] = template_id
    else:
        # SendGrid requires text/plain, when present, before text/html.
        content = []
        if text is not None:
            content.append({"type": "text/plain", "value": text})
        if html is not None:
            content.append({"type": "text/html", "value": html})
        message["content"] = content
    if custom_args:
        message["custom_args"] = custom_args
    return message


def send_message(message: dict, api_key_env: str = DEFAULT_API_KEY_ENV) -> dict:
    """Post one v3 mail send body and return the status and SendGrid's message id.

    Raises PermanentError when the API key variable is unset or SendGrid
    responds with a 4xx other than 429 (a retry would fail the same way), and
    ActionError on 429, 5xx or a network failure.
    """
    import requests

    api_key = os.environ.get(api_key_env, "").strip()
    if not api_key:
        raise PermanentError(f"{api_key_env} is not set; set it in the worker's environment "
                             "(from Secret Manager in production)")

    base_url = os.environ.get(BASE_URL_ENV, DEFAULT_BASE_URL).rstrip("/")
    body = json.dumps(message, ensure_ascii=False, default=str).encode()
    try:
        response = requests.post(
            f"{base_url}{SEND_PATH}",
            data=body,
            headers={"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"},
            timeout=TIMEOUT_SECONDS,
            allow_redirects=False,
        )
    except requests.RequestException as error:
        raise ActionError(f"SendGrid request to {base_url} failed: {type(error).__name__}") from None

    check_status(response, "SendGrid", "the message")
    return {"status": response.status_code, "messageId": response.headers.get("X-Message-Id")}


def send_mail(to: str, subject: str, text: str, sender: str | None = None, html: str | None = None) -> dict:
    """Send one plain message to one address and return SendGrid's message id, when it sent one.

    Raises PermanentError on a 4xx other than 429 (a retry would fail the
    same way) and ActionError on 429, 5xx or a network failure.
    """
    message = build_message([check_address(to, "to")], sender=sender, subject=subject, text=text, html=html)
    return send_message(message)
