"""The Stripe checkout example end to end on the local stack."""

import threading

import requests
from google.cloud.firestore_v1.base_query import FieldFilter

from conftest import wait_for
from helpers import event_doc, event_ref, events_for, post_stripe, stripe_event


def wait_for_status(db, endpoint, event_id, *statuses, timeout=20.0):
    return wait_for(lambda: (event_doc(db, endpoint, event_id) or {}).get("status") in statuses and
                    event_doc(db, endpoint, event_id), timeout=timeout)


def test_checkout_event_becomes_payment_and_email(base_url, db, mail, unique_id):
    event_id = f"evt_{unique_id}"
    email = f"buyer-{unique_id}@example.com"
    response = post_stripe(base_url, stripe_event(event_id, email))

    assert response.status_code == 200
    assert response.json() == {"status": "accepted", "eventId": event_id}

    event = wait_for_status(db, "stripe_webhook", event_id, "succeeded")
    assert event["attempts"] == 1
    assert event["eventType"] == "checkout.session.completed"
    assert event["model"]["customerEmail"] == email
    assert event["actions"]["0_saveToCloud"]["status"] == "succeeded"
    assert event["actions"]["1_customAction"]["status"] == "succeeded"
    assert event["completedAt"] is not None
    assert event["expireAt"] > event["receivedAt"]

    payment = db.collection("payments").document(f"cs_test_{event_id}").get().to_dict()
    assert payment["customerEmail"] == email
    assert payment["amountTotal"] == 3000
    assert payment["currency"] == "usd"
    assert payment["paymentStatus"] == "paid"

    messages = wait_for(lambda: mail.messages(to=email))
    assert len(messages) == 1
    assert "30.00 USD" in messages[0]["message"]["content"][0]["value"]


def test_firebase_url_shape_is_served(base_url, db, unique_id):
    event_id = f"evt_{unique_id}"
    response = post_stripe(base_url, stripe_event(event_id), path="/demo-acehooks/us-central1/stripe_webhook")

    assert response.status_code == 200
    assert wait_for_status(db, "stripe_webhook", event_id, "succeeded")


def test_same_delivery_twice_is_duplicate(base_url, db, mail, unique_id):
    event_id = f"evt_{unique_id}"
    email = f"twice-{unique_id}@example.com"
    body = stripe_event(event_id, email)

    first = post_stripe(base_url, body)
    wait_for_status(db, "stripe_webhook", event_id, "succeeded")
    second = post_stripe(base_url, body)

    assert first.json()["status"] == "accepted"
    assert second.status_code == 200
    assert second.json() == {"status": "duplicate", "eventId": event_id}
    assert len(events_for(db, "stripe_webhook", event_id)) == 1
    assert len(mail.messages(to=email)) == 1


def test_twenty_concurrent_deliveries_run_once(base_url, db, mail, unique_id):
    event_id = f"evt_{unique_id}"
    email = f"burst-{unique_id}@example.com"
    body = stripe_event(event_id, email)
    barrier = threading.Barrier(20)
    responses = [None] * 20

    def deliver(index):
        barrier.wait()
        responses[index] = post_stripe(base_url, body)

    threads = [threading.Thread(target=deliver, args=(i,)) for i in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert [r.status_code for r in responses] == [200] * 20
    statuses = sorted(r.json()["status"] for r in responses)
    assert statuses.count("accepted") == 1
    assert statuses.count("duplicate") == 19

    wait_for_status(db, "stripe_webhook", event_id, "succeeded")
    assert len(events_for(db, "stripe_webhook", event_id)) == 1
    payments = list(db.collection("payments").where(filter=FieldFilter("sessionId", "==", f"cs_test_{event_id}")).stream())
    assert len(payments) == 1
    # Give stray duplicate tasks time to reach the worker before counting emails.
    wait_for(lambda: len(mail.messages(to=email)) >= 1)
    threading.Event().wait(1.0)
    assert len(mail.messages(to=email)) == 1


def test_listener_sees_received_then_succeeded(base_url, db, unique_id):
    event_id = f"evt_{unique_id}"
    seen = []
    changed = threading.Condition()

    def on_snapshot(snapshots, changes, read_time):
        with changed:
            for snapshot in snapshots:
                if snapshot.exists:
                    seen.append(snapshot.to_dict()["status"])
            changed.notify_all()

    watch = event_ref(db, "stripe_webhook", event_id).on_snapshot(on_snapshot)
    try:
        assert post_stripe(base_url, stripe_event(event_id)).status_code == 200
        with changed:
            changed.wait_for(lambda: "succeeded" in seen, timeout=20)
    finally:
        watch.unsubscribe()

    assert seen[-1] == "succeeded"
    assert seen[0] in ("received", "processing")
    assert seen.index("succeeded") == len(seen) - 1


def test_ignored_type_is_recorded_not_processed(base_url, db, unique_id):
    event_id = f"evt_{unique_id}"
    response = post_stripe(base_url, stripe_event(event_id, event_type="customer.created"))

    assert response.status_code == 200
    assert response.json() == {"status": "ignored", "eventId": event_id, "eventType": "customer.created"}
    event = event_doc(db, "stripe_webhook", event_id)
    assert event["status"] == "ignored"
    assert event["actions"] == {}
    assert not db.collection("payments").document(f"cs_test_{event_id}").get().exists


def test_unparseable_body_is_400_and_recorded(base_url, db, functions_log):
    body = b'{"id": "evt_broken", "type": '
    response = post_stripe(base_url, body)

    assert response.status_code == 400
    assert response.json()["reason"] == "body_not_json"
    stored = wait_for(lambda: event_doc(db, "stripe_webhook", response.json()["eventId"]))
    assert stored["status"] == "invalid"
    assert stored["payloadText"] == body.decode()
    assert any(line.get("reason") == "body_not_json" for line in functions_log())


def test_missing_required_field_is_422_and_recorded(base_url, db, unique_id):
    event_id = f"evt_{unique_id}"
    body = stripe_event(event_id).replace(b'"email": "stripe@example.com"', b'"email": null')
    response = post_stripe(base_url, body)

    assert response.status_code == 422
    assert response.json()["missing"] == ["customerEmail"]
    event = event_doc(db, "stripe_webhook", event_id)
    assert event["status"] == "invalid"
    assert "customerEmail" in event["lastError"]


def test_bad_signature_is_401_and_nothing_stored(base_url, db, functions_log, unique_id):
    event_id = f"evt_{unique_id}"
    response = post_stripe(base_url, stripe_event(event_id), secret="whsec_wrong")

    assert response.status_code == 401
    assert response.json() == {"error": "unauthorized"}
    assert events_for(db, "stripe_webhook", event_id) == []
    rejected = [line for line in functions_log() if line.get("reason") == "signature_mismatch"]
    assert rejected and rejected[0]["severity"] == "WARNING"
    assert "whsec_" not in str(functions_log())


def test_get_is_405(base_url):
    response = requests.get(f"{base_url}/stripe_webhook", timeout=10)

    assert response.status_code == 405
    assert response.headers["Allow"] == "POST"


def test_unknown_path_is_404(base_url):
    response = requests.post(f"{base_url}/no_such_endpoint", data=b"{}", timeout=10)

    assert response.status_code == 404


def test_duplicate_of_unqueued_event_enqueues_it(base_url, db, mail, unique_id):
    from acehooks import events

    event_id = f"evt_{unique_id}"
    email = f"heal-{unique_id}@example.com"
    body = stripe_event(event_id, email)
    # A crash between the store and the enqueue leaves exactly this: a received event with no task.
    stored = events.new_event("stripe_webhook", event_id, "checkout.session.completed", events.RECEIVED,
                              retention_days=1, model={"customerEmail": email, "sessionId": f"cs_test_{event_id}",
                                                       "amountTotal": 3000, "currency": "usd"},
                              payload={"id": event_id})
    event_ref(db, "stripe_webhook", event_id).create(stored)

    response = post_stripe(base_url, body)

    assert response.status_code == 200
    assert response.json() == {"status": "duplicate", "eventId": event_id}
    assert wait_for_status(db, "stripe_webhook", event_id, "succeeded")
    assert len(wait_for(lambda: mail.messages(to=email))) == 1


def test_invalid_record_replaced_by_valid_delivery(base_url, db, unique_id):
    event_id = f"evt_{unique_id}"
    broken = stripe_event(event_id).replace(b'"email": "stripe@example.com"', b'"email": null')
    assert post_stripe(base_url, broken).status_code == 422

    # The provider retries the same event once the data (or the endpoint's config) is fixed.
    response = post_stripe(base_url, stripe_event(event_id))

    assert response.status_code == 200
    assert response.json()["status"] == "accepted"
    assert wait_for_status(db, "stripe_webhook", event_id, "succeeded")
