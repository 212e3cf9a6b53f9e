"""Claims and leases: concurrent deliveries, lease takeover, out-of-order events, a worker killed mid-action."""

import os
import signal
import threading
import time

import requests

from acehooks import events, ids
from conftest import wait_for
from helpers import event_doc, event_ref, post_token

WORKER_HEADERS = {"Content-Type": "application/json"}


def worker_post(base_url, endpoint, doc_id):
    headers = {**WORKER_HEADERS, "X-Acehooks-Worker-Secret": os.environ["ACEHOOKS_WORKER_SECRET"]}
    return requests.post(f"{base_url}/process_event", json={"endpoint": endpoint, "docId": doc_id},
                         headers=headers, timeout=60)


def test_fifty_concurrent_deliveries_run_action_once(base_url, db, mail, unique_id):
    event_id = f"conc-{unique_id}"
    email = f"conc-{unique_id}@example.com"
    doc_id = ids.event_doc_id("test_slow", event_id)
    assert post_token(base_url, "test_slow", {"id": event_id, "email": email, "seconds": 0.5}).status_code == 200

    barrier = threading.Barrier(50)
    statuses = [None] * 50

    def deliver(index):
        barrier.wait()
        statuses[index] = worker_post(base_url, "test_slow", doc_id).status_code

    threads = [threading.Thread(target=deliver, args=(i,)) for i in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert set(statuses) <= {200, 409}
    event = wait_for(lambda: (event_doc(db, "test_slow", event_id) or {}).get("status") == "succeeded"
                     and event_doc(db, "test_slow", event_id))
    time.sleep(1.0)
    assert len(mail.messages(to=email)) == 1
    assert event["actions"]["slowEmail"]["status"] == "succeeded"
    claims = list(event_ref(db, "test_slow", event_id).collection("claims").stream())
    assert len(claims) == event["attempts"]


def processing_event(db, endpoint, event_id, lease_expires_in, email):
    document = events.new_event(endpoint, event_id, "order", events.PROCESSING, retention_days=1,
                                model={"email": email, "seconds": 0}, payload={"id": event_id}, attempts=1,
                                lease={"generation": 1, "expiresAt": time.time() + lease_expires_in, "worker": "other"})
    event_ref(db, endpoint, event_id).create(document)
    return ids.event_doc_id(endpoint, event_id)


def test_live_lease_answers_409_then_expires(base_url, db, mail, functions_log, unique_id):
    event_id = f"lease-{unique_id}"
    email = f"lease-{unique_id}@example.com"
    doc_id = processing_event(db, "test_crash", event_id, lease_expires_in=1.5, email=email)

    while_leased = worker_post(base_url, "test_crash", doc_id)
    time.sleep(1.7)
    after_expiry = worker_post(base_url, "test_crash", doc_id)

    assert while_leased.status_code == 409
    assert while_leased.json() == {"status": "lease_held"}
    assert after_expiry.status_code == 200
    event = event_doc(db, "test_crash", event_id)
    assert event["status"] == "succeeded"
    assert event["attempts"] == 2
    assert len(mail.messages(to=email)) == 1
    assert any(line.get("reason") == "lease_held" and line.get("eventId") == event_id for line in functions_log())


def test_out_of_order_event_does_not_overwrite(base_url, db, unique_id):
    sku = f"SKU-{unique_id}"

    def send(version, quantity):
        event_id = f"{sku}-v{version}"
        assert post_token(base_url, "test_ordered", {"id": event_id, "sku": sku, "version": version,
                                                     "quantity": quantity}).status_code == 200
        return wait_for(lambda: (event_doc(db, "test_ordered", event_id) or {}).get("status") == "succeeded"
                        and event_doc(db, "test_ordered", event_id))

    send(2, 20)
    stale = send(1, 10)
    stock = db.collection("test_inventory").document(sku).get().to_dict()

    assert stock["version"] == 2
    assert stock["quantity"] == 20
    assert stale["actions"]["stock"]["status"] == "skipped"
    assert stale["actions"]["stock"]["result"]["reason"] == "out_of_order"
    assert stale["actions"]["stock"]["result"]["stored"] == 2

    send(3, 30)
    assert db.collection("test_inventory").document(sku).get().to_dict()["quantity"] == 30


def test_worker_killed_mid_action_completes_once(stack, base_url, db, mail, unique_id):
    event_id = f"kill-{unique_id}"
    email = f"kill-{unique_id}@example.com"
    assert post_token(base_url, "test_crash", {"id": event_id, "email": email, "seconds": 2}).status_code == 200

    # The first action is recorded, the slow second one (2 s of sleep before its email) is running.
    wait_for(lambda: ((event_doc(db, "test_crash", event_id) or {}).get("actions") or {}).get("record"))
    time.sleep(0.5)
    stack.stop_one("functions", signal.SIGKILL)
    stack.start_functions()

    event = wait_for(lambda: (event_doc(db, "test_crash", event_id) or {}).get("status") == "succeeded"
                     and event_doc(db, "test_crash", event_id), timeout=40)
    assert event["attempts"] == 2
    assert event["actions"]["record"]["attempt"] == 1
    assert event["actions"]["slowEmail"]["attempt"] == 2
    time.sleep(0.5)
    assert len(mail.messages(to=email)) == 1
