"""Failing actions: retried through Cloud Tasks, then marked failed after the last attempt."""

from conftest import wait_for
from helpers import event_doc, post_token


def settled(db, endpoint, event_id):
    return wait_for(lambda: (event_doc(db, endpoint, event_id) or {}).get("status") in ("succeeded", "failed")
                    and event_doc(db, endpoint, event_id), timeout=30)


def test_action_failing_twice_then_succeeding(base_url, db, mail, unique_id):
    event_id = f"flaky-{unique_id}"
    email = f"flaky-{unique_id}@example.com"
    response = post_token(base_url, "test_flaky", {"id": event_id, "type": "order", "email": email, "failTimes": 2})

    assert response.status_code == 200
    event = settled(db, "test_flaky", event_id)
    assert event["status"] == "succeeded"
    assert event["attempts"] == 3
    assert event["actions"]["0_saveToCloud"]["attempt"] == 1
    assert event["actions"]["1_customAction"]["attempt"] == 3
    assert event["actions"]["1_customAction"]["status"] == "succeeded"
    assert "planned failure on attempt 2" in event["lastError"]
    assert len(mail.messages(to=email)) == 1


def test_action_always_failing_ends_failed(base_url, db, functions_log, unique_id):
    event_id = f"fail-{unique_id}"
    assert post_token(base_url, "test_failing", {"id": event_id, "mode": "x"}).status_code == 200

    event = settled(db, "test_failing", event_id)
    assert event["status"] == "failed"
    assert event["attempts"] == 3
    assert event["actions"]["always"]["status"] == "failed"
    assert event["lastError"] == "RuntimeError: this action always fails (attempt 3)"
    assert event["completedAt"] is not None

    gave_up = wait_for(lambda: [line for line in functions_log()
                                if line.get("eventId") == event_id and line.get("status") == "failed"])
    assert gave_up[0]["severity"] == "WARNING"


def test_permanent_error_fails_at_once(base_url, db, unique_id):
    event_id = f"perm-{unique_id}"
    assert post_token(base_url, "test_permanent", {"id": event_id}).status_code == 200

    event = settled(db, "test_permanent", event_id)
    assert event["status"] == "failed"
    assert event["attempts"] == 1
    assert event["lastError"] == "PermanentError: the order does not exist in the ERP"


def test_sendgrid_outage_is_retried(base_url, db, mail, unique_id):
    event_id = f"sg-{unique_id}"
    email = f"sg-{unique_id}@example.com"
    mail.fail_next(503)
    assert post_token(base_url, "test_flaky", {"id": event_id, "type": "order", "email": email, "failTimes": 0}).status_code == 200

    event = settled(db, "test_flaky", event_id)
    assert event["status"] == "succeeded"
    assert event["attempts"] == 2
    assert "SendGrid responded 503" in event["lastError"]
    assert len(mail.messages(to=email)) == 1


def test_sendgrid_rejection_is_permanent(base_url, db, mail, unique_id):
    event_id = f"sg400-{unique_id}"
    email = f"sg400-{unique_id}@example.com"
    mail.fail_next(400)
    assert post_token(base_url, "test_flaky", {"id": event_id, "type": "order", "email": email, "failTimes": 0}).status_code == 200

    event = settled(db, "test_flaky", event_id)
    assert event["status"] == "failed"
    assert event["attempts"] == 1
    assert event["lastError"].startswith("PermanentError: SendGrid rejected the message with 400")
