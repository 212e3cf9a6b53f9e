"""ActionContext.once: a side effect runs once per event and action across retries, redeliveries and replays.

The endpoint is tests/fixtures/endpoints/action_once.json; its custom action
``onceEmail`` (tests/fixtures/actions.py) sends one email inside
``context.once("email", ...)`` and can fail before or after it.
"""

import logging
import os
import subprocess
import sys

import pytest
import requests

from acehooks import events, ids
from acehooks.actions.context import ActionContext
from conftest import ROOT, wait_for
from helpers import event_doc, event_ref, post_token

ENDPOINT = "action_once"


def worker_post(base_url, doc_id):
    """Deliver the event's task to the worker directly, as a redelivery by Cloud Tasks would."""
    headers = {"Content-Type": "application/json", "X-Acehooks-Worker-Secret": os.environ["ACEHOOKS_WORKER_SECRET"]}
    return requests.post(f"{base_url}/process_event", json={"endpoint": ENDPOINT, "docId": doc_id},
                         headers=headers, timeout=60)


def settled(db, event_id, timeout=30):
    return wait_for(lambda: (event_doc(db, ENDPOINT, event_id) or {}).get("status") in ("succeeded", "failed")
                    and event_doc(db, ENDPOINT, event_id), timeout=timeout)


def stored_event(db, event_id: str, email: str, **model) -> str:
    """Create an event document with no task behind it, so only this test's worker posts run it."""
    # Every model field is present, as ingest stores it, so a param naming an unset field resolves to None.
    model = {"email": email, "failInside": None, "failAfter": None, **model}
    document = events.new_event(ENDPOINT, event_id, "order", events.RECEIVED, retention_days=1,
                                model=model, payload={"id": event_id, **model})
    event_ref(db, ENDPOINT, event_id).create(document)
    return ids.event_doc_id(ENDPOINT, event_id)


def marker(db, event_id: str) -> dict | None:
    snapshot = event_ref(db, ENDPOINT, event_id).collection("once").document("onceEmail-email").get()
    return snapshot.to_dict() if snapshot.exists else None


def test_redelivered_task_does_not_resend(base_url, db, mail, unique_id):
    event_id = f"redeliver-{unique_id}"
    email = f"redeliver-{unique_id}@example.com"
    doc_id = stored_event(db, event_id, email, failAfter=1)

    first = worker_post(base_url, doc_id)
    second = worker_post(base_url, doc_id)
    third = worker_post(base_url, doc_id)

    assert first.status_code == 503
    assert first.json() == {"status": "retrying"}
    assert second.status_code == 200
    assert second.json() == {"status": "succeeded"}
    assert third.json() == {"status": "succeeded"}
    [captured] = mail.messages(to=email)
    event = event_doc(db, ENDPOINT, event_id)
    assert event["attempts"] == 2
    assert event["actions"]["onceEmail"]["result"] == {
        "email": {"status": 202, "messageId": captured["id"]}, "attempt": 2}
    stored = marker(db, event_id)
    assert stored["status"] == "done"
    assert stored["attempt"] == 1
    assert stored["result"] == {"status": 202, "messageId": captured["id"]}


def test_failure_inside_once_runs_again(base_url, db, mail, unique_id):
    event_id = f"inside-{unique_id}"
    email = f"inside-{unique_id}@example.com"
    assert post_token(base_url, ENDPOINT, {"id": event_id, "email": email, "failInside": 1}).status_code == 200

    event = settled(db, event_id)

    assert event["status"] == "succeeded"
    assert event["attempts"] == 2
    assert event["lastError"] == "RuntimeError: planned failure inside once on attempt 1"
    assert len(mail.messages(to=email)) == 1
    assert marker(db, event_id)["attempt"] == 2


def test_unfinished_marker_blocks_the_call(base_url, db, mail, functions_log, unique_id):
    event_id = f"crash-{unique_id}"
    email = f"crash-{unique_id}@example.com"
    doc_id = stored_event(db, event_id, email)
    # What a worker killed inside the call leaves behind: a started marker and no result.
    marker_ref = event_ref(db, ENDPOINT, event_id).collection("once").document("onceEmail-email")
    marker_ref.create({"status": "started", "action": "onceEmail", "key": "email", "attempt": 1})

    blocked = worker_post(base_url, doc_id)
    event = event_doc(db, ENDPOINT, event_id)

    assert blocked.status_code == 503
    assert event["status"] == "retrying"
    assert event["lastError"] == (
        "ActionError: once('email') started on attempt 1 and never finished, so whether its side effect happened "
        f"is unknown; check it, then delete {marker_ref.path} to run it again, or set its status to 'done' to skip it")
    assert mail.messages(to=email) == []
    warned = [line for line in functions_log() if line.get("reason") == "once_unfinished"
              and line.get("eventId") == event_id]
    assert warned[0]["severity"] == "WARNING"
    assert warned[0]["action"] == "onceEmail"

    marker_ref.delete()
    recovered = worker_post(base_url, doc_id)

    assert recovered.json() == {"status": "succeeded"}
    assert len(mail.messages(to=email)) == 1


def test_replay_of_all_actions_does_not_resend(base_url, db, mail, unique_id):
    event_id = f"replay-{unique_id}"
    email = f"replay-{unique_id}@example.com"
    assert post_token(base_url, ENDPOINT, {"id": event_id, "email": email}).status_code == 200
    first = settled(db, event_id)
    assert first["status"] == "succeeded"

    replay = subprocess.run([sys.executable, "-m", "acehooks", "replay", "--all-actions", event_id], cwd=ROOT,
                            env=dict(os.environ), capture_output=True, text=True, timeout=60)

    assert replay.returncode == 0, replay.stderr
    event = wait_for(lambda: (event_doc(db, ENDPOINT, event_id) or {}).get("replayCount") == 1
                     and event_doc(db, ENDPOINT, event_id)["status"] == "succeeded"
                     and event_doc(db, ENDPOINT, event_id))
    assert event["actions"]["onceEmail"]["attempt"] == 2
    assert event["actions"]["onceEmail"]["result"]["attempt"] == 2
    assert event["actions"]["onceEmail"]["result"]["email"] == first["actions"]["onceEmail"]["result"]["email"]
    assert len(mail.messages(to=email)) == 1
    assert marker(db, event_id)["attempt"] == 1


# once() called in this process against the stack's Firestore, without the worker


def direct_context(db, unique_id: str, attempt: int = 1) -> ActionContext:
    return ActionContext(endpoint=ENDPOINT, event_id=f"direct-{unique_id}", event_type=None,
                         doc_id=f"direct-{unique_id}", payload={}, model={}, params={}, attempt=attempt,
                         action_id="notify", db=db)


def test_once_in_process_calls_function_once(db, unique_id):
    calls = []

    first = direct_context(db, unique_id, attempt=1).once("charge", lambda: calls.append(1) or {"charged": 5})
    second = direct_context(db, unique_id, attempt=2).once("charge", lambda: calls.append(2) or {"charged": 9})

    assert first == {"charged": 5}
    assert second == {"charged": 5}
    assert calls == [1]
    stored = db.document(f"webhook_events/direct-{unique_id}/once/notify-charge").get().to_dict()
    assert stored["status"] == "done"
    assert stored["attempt"] == 1
    assert stored["key"] == "charge"


def test_once_keys_are_separate(db, unique_id):
    context = direct_context(db, unique_id)

    assert context.once("first", lambda: 1) == 1
    assert context.once("second", lambda: 2) == 2


def test_once_exception_removes_marker(db, unique_id):
    def fail():
        raise RuntimeError("provider down")

    with pytest.raises(RuntimeError, match="provider down"):
        direct_context(db, unique_id, attempt=1).once("charge", fail)

    assert not db.document(f"webhook_events/direct-{unique_id}/once/notify-charge").get().exists
    assert direct_context(db, unique_id, attempt=2).once("charge", lambda: "done on 2") == "done on 2"


def test_once_unstorable_result_stored_as_none(db, unique_id, caplog):
    unstorable = object()

    with caplog.at_level(logging.WARNING, logger="acehooks"):
        returned = direct_context(db, unique_id).once("receipt", lambda: unstorable)

    assert returned is unstorable
    stored = db.document(f"webhook_events/direct-{unique_id}/once/notify-receipt").get().to_dict()
    assert stored["status"] == "done"
    assert stored["result"] is None
    assert [record.reason for record in caplog.records] == ["once_result_unstorable"]
    assert direct_context(db, unique_id, attempt=2).once("receipt", lambda: "again") is None
