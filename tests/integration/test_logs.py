"""Structured logs: one JSON line per stage, each tied to its endpoint and event, with no secret or payload."""

import os

from conftest import wait_for
from helpers import event_doc, post_stripe, stripe_event

STAGES = ["stored event", "enqueued event", "claimed event",
          "action 0_saveToCloud succeeded", "action 1_customAction succeeded", "event succeeded"]


def test_each_stage_logs_one_line(base_url, db, functions_log, unique_id):
    event_id = f"evt_logs_{unique_id}"
    body = stripe_event(event_id, email=f"logs-{unique_id}@example.com")
    post_stripe(base_url, body)
    wait_for(lambda: (event_doc(db, "stripe_webhook", event_id) or {}).get("status") == "succeeded")
    post_stripe(base_url, body)

    lines = wait_for(lambda: [line for line in functions_log() if line.get("eventId") == event_id
                              and line.get("reason") == "duplicate"] and
                     [line for line in functions_log() if line.get("eventId") == event_id])
    messages = [line["message"] for line in lines]

    assert messages.count("received event") == 2
    for stage in STAGES:
        assert messages.count(stage) == 1, stage
    assert all(line["endpoint"] == "stripe_webhook" for line in lines)
    assert all(line["severity"] in ("INFO", "WARNING", "ERROR") for line in lines)
    assert any(line.get("attempt") == 1 and "durationMs" in line for line in lines if line["message"].startswith("action"))


def test_logs_hold_no_secret_or_payload(base_url, db, functions_log, unique_id):
    event_id = f"evt_secret_{unique_id}"
    post_stripe(base_url, stripe_event(event_id))
    post_stripe(base_url, stripe_event(f"evt_bad_{unique_id}"), secret="whsec_attacker_guess")
    wait_for(lambda: (event_doc(db, "stripe_webhook", event_id) or {}).get("status") == "succeeded")

    text = "\n".join(str(line) for line in functions_log())

    assert os.environ["STRIPE_WEBHOOK_SECRET"] not in text
    assert "whsec_attacker_guess" not in text
    assert os.environ["ACEHOOKS_WORKER_SECRET"] not in text
    assert "customer_details" not in text
    assert "payment_method_types" not in text
