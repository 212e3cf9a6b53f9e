"""Remove secret values from text before it is logged or stored."""

import os

from .config import EndpointConfig

# Variables whose values are secrets although no endpoint names them in secretEnv.
EXTRA_SECRET_VARIABLES = ("SENDGRID_API_KEY", "ACEHOOKS_WORKER_SECRET")
MAX_ERROR_CHARS = 1000


def redact(text: str, endpoints: list[EndpointConfig] = ()) -> str:
    """Replace every configured secret value found in ``text`` with ``[redacted]`` and cap its length."""
    names = set(EXTRA_SECRET_VARIABLES)
    for endpoint in endpoints:
        names.update(endpoint.secret_names())
        names.update(endpoint.action_secret_names())
    for name in names:
        value = os.environ.get(name)
        if value and len(value) >= 4:
            text = text.replace(value, "[redacted]")
    return text[:MAX_ERROR_CHARS]
