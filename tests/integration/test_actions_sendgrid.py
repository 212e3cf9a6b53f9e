"""The sendgridEmail action against the local SendGrid stand-in (acehooks.mailcapture).

The endpoint is tests/fixtures/endpoints/action_sendgrid.json; each event
type selects one of its actions through eventTypes.
"""

from acehooks import ids
from conftest import wait_for
from helpers import event_doc, post_token

ENDPOINT = "action_sendgrid"
TEMPLATE_ID = "d-0123456789abcdef0123456789abcdef"


def settled(db, event_id, timeout=30):
    return wait_for(lambda: (event_doc(db, ENDPOINT, event_id) or {}).get("status") in ("succeeded", "failed")
                    and event_doc(db, ENDPOINT, event_id), timeout=timeout)


def order_event(event_id: str, event_type: str, email: str) -> dict:
    return {
        "id": event_id,
        "type": event_type,
        "customer": {"email": email, "name": "Ada Lovelace"},
        "order": {"id": f"ord-{event_id}", "total": 4200, "subject": "Your order", "text": "Thanks for your order.",
                  "html": "<p>Thanks for your order.</p>", "lines": [{"sku": "A-1", "quantity": 2}]},
    }


def test_plain_email_sent_with_all_fields(base_url, db, mail, unique_id):
    event_id = f"plain-{unique_id}"
    email = f"plain-{unique_id}@example.com"
    assert post_token(base_url, ENDPOINT, order_event(event_id, "mail.plain", email)).status_code == 200

    event = settled(db, event_id)
    [captured] = mail.messages(to=email)
    message = captured["message"]

    assert event["status"] == "succeeded"
    result = event["actions"]["plain"]["result"]
    assert result == {"status": 202, "messageId": captured["id"], "recipients": 1}
    assert message["from"] == {"email": "orders@acehooks.test", "name": "Acehooks Shop"}
    assert message["reply_to"] == {"email": "support@acehooks.test"}
    assert message["subject"] == "Your order"
    assert message["content"] == [{"type": "text/plain", "value": "Thanks for your order."},
                                  {"type": "text/html", "value": "<p>Thanks for your order.</p>"}]
    assert message["personalizations"] == [{"to": [{"email": email}]}]
    assert message["custom_args"] == {"acehooksEvent": ids.event_doc_id(ENDPOINT, event_id), "acehooksAction": "plain"}
    assert "template_id" not in message


def test_template_email_carries_template_data(base_url, db, mail, unique_id):
    event_id = f"tmpl-{unique_id}"
    email = f"tmpl-{unique_id}@example.com"
    assert post_token(base_url, ENDPOINT, order_event(event_id, "mail.template", email)).status_code == 200

    event = settled(db, event_id)
    [captured] = mail.messages(to=email)

    assert event["status"] == "succeeded"
    assert event["actions"]["template"]["result"]["templateId"] == TEMPLATE_ID
    assert captured["templateId"] == TEMPLATE_ID
    assert captured["templateData"] == {"name": "Ada Lovelace", "orderId": f"ord-{event_id}", "total": 4200,
                                        "lines": [{"sku": "A-1", "quantity": 2}], "shop": "name"}
    assert captured["subject"] is None
    assert "content" not in captured["message"]
    # The sender comes from ACEHOOKS_EMAIL_FROM when the action sets no from.
    assert captured["message"]["from"] == {"email": "payments@acehooks.test"}


def test_rate_limit_is_retried(base_url, db, mail, unique_id):
    event_id = f"429-{unique_id}"
    email = f"429-{unique_id}@example.com"
    mail.fail_next(429)
    assert post_token(base_url, ENDPOINT, order_event(event_id, "mail.plain", email)).status_code == 200

    event = settled(db, event_id)

    assert event["status"] == "succeeded"
    assert event["attempts"] == 2
    assert event["lastError"] == "ActionError: SendGrid responded 429; will retry"
    assert len(mail.messages(to=email)) == 1


def test_server_error_then_success(base_url, db, mail, unique_id):
    event_id = f"5xx-{unique_id}"
    email = f"5xx-{unique_id}@example.com"
    mail.fail_next(500, 502)
    assert post_token(base_url, ENDPOINT, order_event(event_id, "mail.template", email)).status_code == 200

    event = settled(db, event_id)

    assert event["status"] == "succeeded"
    assert event["attempts"] == 3
    assert event["lastError"] == "ActionError: SendGrid responded 502; will retry"
    assert len(mail.messages(to=email)) == 1


def test_rejection_fails_at_once(base_url, db, mail, unique_id):
    event_id = f"403-{unique_id}"
    email = f"403-{unique_id}@example.com"
    mail.fail_next(403)
    assert post_token(base_url, ENDPOINT, order_event(event_id, "mail.plain", email)).status_code == 200

    event = settled(db, event_id)

    assert event["status"] == "failed"
    assert event["attempts"] == 1
    assert event["lastError"] == ("PermanentError: SendGrid rejected the message with 403: "
                                  '{"errors": [{"message": "injected failure 403"}]}')
    assert mail.messages(to=email) == []


def test_unset_api_key_fails_at_once(base_url, db, mail, unique_id):
    event_id = f"nokey-{unique_id}"
    email = f"nokey-{unique_id}@example.com"
    assert post_token(base_url, ENDPOINT, order_event(event_id, "mail.nokey", email)).status_code == 200

    event = settled(db, event_id)

    assert event["status"] == "failed"
    assert event["attempts"] == 1
    assert event["lastError"] == ("PermanentError: ACTION_TEST_UNSET_SENDGRID_KEY is not set; set it in the "
                                  "worker's environment (from Secret Manager in production)")
    assert mail.messages(to=email) == []


def test_invalid_recipient_fails_at_once(base_url, db, mail, unique_id):
    event_id = f"badto-{unique_id}"
    payload = order_event(event_id, "mail.plain", "not-an-address")
    assert post_token(base_url, ENDPOINT, payload).status_code == 200

    event = settled(db, event_id)

    assert event["status"] == "failed"
    assert event["attempts"] == 1
    assert event["lastError"] == "PermanentError: to 'not-an-address' is not an email address"
