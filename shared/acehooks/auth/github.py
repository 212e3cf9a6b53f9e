"""GitHub's webhook signature: ``X-Hub-Signature-256: sha256=<hex>``.

The hex value is HMAC-SHA256 of the raw body keyed by the webhook's secret.
GitHub also sends the legacy ``X-Hub-Signature: sha1=<hex>`` (HMAC-SHA1).
That header is read only with ``allowSha1`` and only when the SHA-256
header is absent, so a request carrying both is checked with SHA-256.

The ``ping`` event GitHub sends when a webhook is created gets a 200 response
with ``{"status": "pong"}`` and is never stored. It carries no data to act on,
and storing it would run the endpoint's actions on a payload they do not expect.
"""

from typing import Literal

from ..errors import AuthError
from .base import InboundRequest, any_digest_matches, required_header
from .hmac_signature import compute_digest, decode_signature
from .method import SecretMethod
from .sending import delivery_uuid, guess_type

SIGNATURE_HEADER = "X-Hub-Signature-256"
LEGACY_SIGNATURE_HEADER = "X-Hub-Signature"
EVENT_HEADER = "X-GitHub-Event"
DELIVERY_HEADER = "X-GitHub-Delivery"
PING_EVENT = "ping"

# Top-level keys that identify common GitHub payloads, checked in order. Only sign() uses them.
EVENT_SHAPES = (
    (("zen", "hook_id"), "ping"),
    (("issue", "comment"), "issue_comment"),
    (("pull_request", "review"), "pull_request_review"),
    (("pull_request", "comment"), "pull_request_review_comment"),
    (("pull_request",), "pull_request"),
    (("issue",), "issues"),
    (("pusher", "commits"), "push"),
    (("release",), "release"),
    (("workflow_run",), "workflow_run"),
    (("workflow_job",), "workflow_job"),
    (("check_run",), "check_run"),
    (("check_suite",), "check_suite"),
)


class GitHubAuth(SecretMethod):
    """Verify GitHub webhook deliveries. ``secretEnv`` names the webhook's secret."""

    method: Literal["github"]
    allow_sha1: bool = False

    default_event_id = ("header", DELIVERY_HEADER)
    default_event_type = ("header", EVENT_HEADER)

    def verify(self, request: InboundRequest) -> None:
        header, algorithm = self._signature_header(request)
        prefix = f"{algorithm}="
        value = required_header(request, header)
        if not value.startswith(prefix):
            raise AuthError("signature_malformed", f"header {header} does not start with {prefix!r}")
        received = decode_signature(value[len(prefix):], "hex", header)

        expected = [compute_digest(algorithm, secret, request.body) for secret in self.secrets()]
        if not any_digest_matches(expected, [received]):
            raise AuthError("signature_mismatch", f"signature in header {header} does not match the body")

    def immediate_response(self, payload, request: InboundRequest) -> dict | None:
        if request.headers.get(EVENT_HEADER) != PING_EVENT:
            return None
        hook_id = payload.get("hook_id") if isinstance(payload, dict) else None
        return {"status": "pong", "hookId": hook_id}

    def sign(self, body: bytes, url: str, timestamp: int) -> tuple[dict[str, str], str]:
        secret = self.signing_secret()
        headers = {
            SIGNATURE_HEADER: "sha256=" + compute_digest("sha256", secret, body).hex(),
            LEGACY_SIGNATURE_HEADER: "sha1=" + compute_digest("sha1", secret, body).hex(),
            DELIVERY_HEADER: delivery_uuid(body),
        }
        event = guess_type(body, EVENT_SHAPES)
        if event:
            headers[EVENT_HEADER] = event
        return headers, url

    def _signature_header(self, request: InboundRequest) -> tuple[str, str]:
        """Return the header to check and its algorithm: SHA-256 unless only SHA-1 is sent and allowed."""
        if self.allow_sha1 and request.headers.get(SIGNATURE_HEADER) is None:
            return LEGACY_SIGNATURE_HEADER, "sha1"
        return SIGNATURE_HEADER, "sha256"
