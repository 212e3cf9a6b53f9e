"""Failed events, replay and the sweeper, through the CLI against the local stack."""

import json
import os
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone

from acehooks import events, ids
from conftest import ROOT, wait_for
from helpers import event_doc, event_ref, post_token


def acehooks_cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "acehooks", *args], cwd=ROOT, env=dict(os.environ),
                          capture_output=True, text=True, timeout=60, input=stdin)


def settled(db, endpoint, event_id, timeout=30):
    return wait_for(lambda: (event_doc(db, endpoint, event_id) or {}).get("status") in ("succeeded", "failed")
                    and event_doc(db, endpoint, event_id), timeout=timeout)


def settled_flaky_event(base_url, db, unique_id, fail_times=3, expected="failed"):
    event_id = f"replay-{unique_id}"
    email = f"replay-{unique_id}@example.com"
    payload = {"id": event_id, "type": "order", "email": email, "failTimes": fail_times}
    assert post_token(base_url, "test_flaky", payload).status_code == 200
    event = settled(db, "test_flaky", event_id)
    assert event["status"] == expected
    return event_id, email


def test_events_list_and_show(base_url, db, unique_id):
    event_id, _ = settled_flaky_event(base_url, db, unique_id)

    listed = acehooks_cli("events", "list", "--endpoint", "test_flaky", "--status", "failed", "--since", "10m")
    show_result = acehooks_cli("events", "show", event_id)

    assert listed.returncode == 0
    assert ids.event_doc_id("test_flaky", event_id) in listed.stdout
    assert "last error: RuntimeError: planned failure on attempt 3" in listed.stdout
    assert show_result.returncode == 0
    details = json.loads(show_result.stdout)
    assert details["status"] == "failed"
    assert details["attempts"] == 3
    assert details["payload"]["email"] == f"replay-{unique_id}@example.com"
    assert details["actions"]["1_customAction"]["status"] == "failed"


def test_replay_runs_only_unfinished_actions(base_url, db, mail, unique_id):
    event_id, email = settled_flaky_event(base_url, db, unique_id)

    result = acehooks_cli("replay", event_id)

    assert result.returncode == 0, result.stderr
    assert "replay1" in result.stdout
    event = wait_for(lambda: (event_doc(db, "test_flaky", event_id) or {}).get("status") == "succeeded"
                     and event_doc(db, "test_flaky", event_id))
    assert event["attempts"] == 4
    assert event["actions"]["0_saveToCloud"]["attempt"] == 1
    assert event["actions"]["1_customAction"]["attempt"] == 4
    assert event["replayCount"] == 1
    assert event["replays"][0]["previousStatus"] == "failed"
    assert event["replays"][0]["allActions"] is False
    assert len(mail.messages(to=email)) == 1


def test_replay_all_actions_reruns_everything(base_url, db, mail, unique_id):
    event_id, email = settled_flaky_event(base_url, db, unique_id, fail_times=0, expected="succeeded")
    first = event_doc(db, "test_flaky", event_id)
    assert first["status"] == "succeeded"

    result = acehooks_cli("replay", "--all-actions", event_id)

    assert result.returncode == 0, result.stderr
    event = wait_for(lambda: (event_doc(db, "test_flaky", event_id) or {}).get("replayCount") == 1
                     and event_doc(db, "test_flaky", event_id)["status"] == "succeeded"
                     and event_doc(db, "test_flaky", event_id))
    assert event["actions"]["0_saveToCloud"]["attempt"] == 2
    assert event["actions"]["1_customAction"]["attempt"] == 2
    assert len(mail.messages(to=email)) == 2


def test_bulk_replay_needs_yes(base_url, db, unique_id):
    event_id = f"bulk-{unique_id}"
    assert post_token(base_url, "test_failing", {"id": event_id}).status_code == 200
    settled(db, "test_failing", event_id)

    without_yes = acehooks_cli("replay", "--status", "failed", "--endpoint", "test_failing", "--since", "5m")
    with_yes = acehooks_cli("replay", "--status", "failed", "--endpoint", "test_failing", "--since", "5m", "--yes")

    assert without_yes.returncode == 2
    assert "--yes" in without_yes.stderr
    assert with_yes.returncode == 0, with_yes.stderr
    assert ids.event_doc_id("test_failing", event_id) in with_yes.stdout
    event = wait_for(lambda: (event_doc(db, "test_failing", event_id) or {}).get("replayCount") == 1
                     and event_doc(db, "test_failing", event_id)["status"] == "failed"
                     and event_doc(db, "test_failing", event_id))
    assert event["attempts"] == 6


def test_replay_of_unknown_event_fails_clearly():
    result = acehooks_cli("replay", "no-such-event")

    assert result.returncode == 1
    assert "no event with document id or event id 'no-such-event'" in result.stderr


def stuck_event(db, unique_id, status, **fields):
    """Store an event as a crash would leave it: never enqueued, untouched for two minutes."""
    event_id = f"stuck-{unique_id}"
    document = events.new_event("test_flaky", event_id, "order", status, retention_days=1,
                                model={"email": f"stuck-{unique_id}@example.com", "failTimes": 0},
                                payload={"id": event_id}, **fields)
    document["updatedAt"] = datetime.now(timezone.utc) - timedelta(seconds=120)
    event_ref(db, "test_flaky", event_id).create(document)
    return event_id


def test_sweep_enqueues_received_event_once(db, mail, unique_id):
    event_id = stuck_event(db, unique_id, "received")

    first = acehooks_cli("sweep", "--older-than", "60")
    second = acehooks_cli("sweep", "--older-than", "60")

    doc_id = ids.event_doc_id("test_flaky", event_id)
    assert first.returncode == 0, first.stderr
    assert f"enqueued {doc_id} (was received)" in first.stdout
    assert doc_id not in second.stdout
    event = settled(db, "test_flaky", event_id)
    assert event["status"] == "succeeded"
    assert event["sweepCount"] == 1
    assert len(mail.messages(to=f"stuck-{unique_id}@example.com")) == 1


def test_sweep_takes_over_expired_lease(db, unique_id):
    expired = {"generation": 1, "expiresAt": time.time() - 30, "worker": "crashed"}
    event_id = stuck_event(db, unique_id, "processing", attempts=1, lease=expired)

    result = acehooks_cli("sweep", "--older-than", "60")

    assert result.returncode == 0, result.stderr
    event = settled(db, "test_flaky", event_id)
    assert event["status"] == "succeeded"
    assert event["attempts"] == 2


def test_sweep_leaves_live_lease_alone(db, unique_id):
    live = {"generation": 1, "expiresAt": time.time() + 300, "worker": "busy"}
    event_id = stuck_event(db, unique_id, "processing", attempts=1, lease=live)

    result = acehooks_cli("sweep", "--older-than", "60")

    assert ids.event_doc_id("test_flaky", event_id) not in result.stdout
    assert event_doc(db, "test_flaky", event_id)["status"] == "processing"


def test_sweeper_function_requires_worker_secret(base_url):
    import requests

    without_yes = requests.post(f"{base_url}/sweep_events", timeout=10)
    allowed = requests.post(f"{base_url}/sweep_events?olderThan=3600", timeout=30,
                            headers={"X-Acehooks-Worker-Secret": os.environ["ACEHOOKS_WORKER_SECRET"]})

    assert without_yes.status_code == 401
    assert allowed.status_code == 200
    assert "swept" in allowed.json()
