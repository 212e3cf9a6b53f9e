"""Send email through SendGrid's v3 mail send API.

The API base URL comes from SENDGRID_API_BASE_URL, so the local stack and
the tests point it at a local capture server instead of SendGrid.
"""

import os

from .errors import ActionError, PermanentError

DEFAULT_BASE_URL = "https://api.sendgrid.com"
TIMEOUT_SECONDS = 10


def send_mail(to: str, subject: str, text: str, sender: str | None = None, html: str | None = None) -> dict:
    """Send one message and return SendGrid's message id, when it sent one.

    Raises PermanentError on a 4xx other than 429 (a retry would fail the
    same way) and ActionError on 429, 5xx or a network failure.
    """
    import requests

    api_key = os.environ.get("SENDGRID_API_KEY")
    if not api_key:
        raise PermanentError("SENDGRID_API_KEY is not set; set it in the worker's environment")
    sender = sender or os.environ.get("ACEHOOKS_EMAIL_FROM")
    if not sender:
        raise PermanentError("no sender address: pass one or set ACEHOOKS_EMAIL_FROM")

    content = [{"type": "text/plain", "value": text}]
    if html:
        content.append({"type": "text/html", "value": html})
    message = {
        "personalizations": [{"to": [{"email": to}]}],
        "from": {"email": sender},
        "subject": subject,
        "content": content,
    }

    base_url = os.environ.get("SENDGRID_API_BASE_URL", DEFAULT_BASE_URL).rstrip("/")
    try:
        response = requests.post(
            f"{base_url}/v3/mail/send",
            json=message,
            headers={"Authorization": f"Bearer {api_key}"},
            timeout=TIMEOUT_SECONDS,
        )
    except requests.RequestException as error:
        raise ActionError(f"SendGrid request to {base_url} failed: {type(error).__name__}") from None

    if response.status_code == 429 or response.status_code >= 500:
        raise ActionError(f"SendGrid answered {response.status_code}; will retry")
    if response.status_code >= 400:
        raise PermanentError(f"SendGrid rejected the message with {response.status_code}: {response.text[:300]}")
    return {"status": response.status_code, "messageId": response.headers.get("X-Message-Id")}
