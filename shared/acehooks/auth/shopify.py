"""Shopify's webhook signature: ``X-Shopify-Hmac-Sha256: <base64>``.

The value is HMAC-SHA256 of the raw body keyed by the app's client secret
(or, for webhooks created in a store's admin, the key shown on that page).
"""

import datetime
from typing import Literal

from ..errors import AuthError
from .base import InboundRequest, any_digest_matches, required_header
from .hmac_signature import compute_digest, decode_signature, encode_signature
from .method import SecretMethod
from .sending import delivery_uuid, guess_type

SIGNATURE_HEADER = "X-Shopify-Hmac-Sha256"
TOPIC_HEADER = "X-Shopify-Topic"
# The event id is the de-duplication key. Shopify's "Ignore duplicate webhooks" page
# (shopify.dev/docs/apps/build/webhooks/ignore-duplicates) names X-Shopify-Event-Id: the same
# value on two webhooks means the same event. The page adds that two subscriptions to one topic
# send one webhook each for an event, so keying on X-Shopify-Webhook-Id, which names a webhook,
# would store that event twice.
EVENT_ID_HEADER = "X-Shopify-Event-Id"
WEBHOOK_ID_HEADER = "X-Shopify-Webhook-Id"
TRIGGERED_AT_HEADER = "X-Shopify-Triggered-At"

# Top-level keys of the sample payloads' topics, checked in order. Only sign() uses them.
TOPIC_SHAPES = (
    (("order_number", "line_items"), "orders/create"),
    (("variants", "product_type"), "products/update"),
    (("first_name", "last_name", "orders_count"), "customers/create"),
)


class ShopifyAuth(SecretMethod):
    """Verify Shopify webhook deliveries. ``secretEnv`` names the app's client secret."""

    method: Literal["shopify"]

    default_event_id = ("header", EVENT_ID_HEADER)
    default_event_type = ("header", TOPIC_HEADER)

    def verify(self, request: InboundRequest) -> None:
        received = decode_signature(required_header(request, SIGNATURE_HEADER), "base64", SIGNATURE_HEADER)
        expected = [compute_digest("sha256", secret, request.body) for secret in self.secrets()]
        if not any_digest_matches(expected, [received]):
            raise AuthError("signature_mismatch", f"signature in header {SIGNATURE_HEADER} does not match the body")

    def sign(self, body: bytes, url: str, timestamp: int) -> tuple[dict[str, str], str]:
        event_id = delivery_uuid(body)
        headers = {
            SIGNATURE_HEADER: encode_signature(compute_digest("sha256", self.signing_secret(), body), "base64"),
            EVENT_ID_HEADER: event_id,
            WEBHOOK_ID_HEADER: event_id,
            TRIGGERED_AT_HEADER: datetime.datetime.fromtimestamp(timestamp, datetime.timezone.utc).isoformat(),
        }
        topic = guess_type(body, TOPIC_SHAPES)
        if topic:
            headers[TOPIC_HEADER] = topic
        return headers, url
