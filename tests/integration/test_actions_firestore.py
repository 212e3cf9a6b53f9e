"""The firestoreWrite action (and its saveToCloud alias) on the local stack: modes, paths and field transforms.

The endpoint is tests/fixtures/endpoints/action_firestore.json; each event
type selects one of its actions through eventTypes.
"""

from datetime import datetime

from conftest import wait_for
from helpers import event_doc, post_token

ENDPOINT = "action_firestore"


def settled(db, event_id, timeout=30):
    return wait_for(lambda: (event_doc(db, ENDPOINT, event_id) or {}).get("status") in ("succeeded", "failed")
                    and event_doc(db, ENDPOINT, event_id), timeout=timeout)


def deliver(base_url, db, payload: dict) -> dict:
    assert post_token(base_url, ENDPOINT, payload).status_code == 200
    return settled(db, payload["id"])


def test_set_writes_subcollection_document(base_url, db, unique_id):
    uid, order_id = f"user-{unique_id}", f"order-{unique_id}"

    event = deliver(base_url, db, {"id": f"set-{unique_id}", "type": "order.set", "uid": uid, "orderId": order_id,
                                   "total": 4200})

    assert event["status"] == "succeeded"
    record = event["actions"]["orderSet"]
    assert record["status"] == "succeeded"
    assert record["result"] == {"path": f"action_users/{uid}/orders/{order_id}", "write": "set",
                                "transforms": {"createdAt": "serverTimestamp"}}
    stored = db.document(f"action_users/{uid}/orders/{order_id}").get().to_dict()
    assert stored["total"] == 4200
    assert stored["source"] == "total"
    assert isinstance(stored["createdAt"], datetime)
    assert set(stored) == {"total", "source", "createdAt"}


def test_other_event_types_recorded_as_skipped(base_url, db, unique_id):
    event = deliver(base_url, db, {"id": f"skip-{unique_id}", "type": "order.set", "uid": f"u-{unique_id}",
                                   "orderId": f"o-{unique_id}", "total": 1})

    for action_id in ("counterMerge", "counterUpdate", "versioned", "legacySave"):
        assert event["actions"][action_id]["status"] == "skipped"
        assert event["actions"][action_id]["result"] == {"skipped": True, "reason": "event_type",
                                                         "eventType": "order.set"}


def test_merge_increments_unions_and_stamps(base_url, db, unique_id):
    counter = f"counter-{unique_id}"

    first = deliver(base_url, db, {"id": f"m1-{unique_id}", "type": "counter.merge", "counterId": counter,
                                   "amount": 2, "tag": "a", "tags": ["b", "c"]})
    after_first = db.document(f"action_counters/{counter}").get().to_dict()
    second = deliver(base_url, db, {"id": f"m2-{unique_id}", "type": "counter.merge", "counterId": counter,
                                    "amount": 3, "tag": "b", "tags": ["d"]})
    stored = db.document(f"action_counters/{counter}").get().to_dict()

    assert first["status"] == "succeeded"
    assert second["status"] == "succeeded"
    # The first event meets no tags field: the action writes the array itself, as Firestore's arrayUnion would.
    assert after_first["tags"] == ["a", "b", "c"]
    assert after_first["count"] == 2
    assert stored["count"] == 5
    assert stored["tags"] == ["a", "b", "c", "d"]
    assert stored["lastEvent"] == f"m2-{unique_id}"
    # Two server timestamps in one mapping: the emulator would drop the second if they shared a write.
    assert isinstance(stored["touchedAt"], datetime)
    assert isinstance(stored["seenAt"], datetime)
    assert stored["touchedAt"] > after_first["touchedAt"]
    assert second["actions"]["counterMerge"]["result"]["transforms"] == {
        "count": "increment", "tags": "arrayUnion", "touchedAt": "serverTimestamp", "seenAt": "serverTimestamp"}


def test_update_increments_and_removes(base_url, db, unique_id):
    counter = f"counter-{unique_id}"
    db.document(f"action_counters/{counter}").set({"count": 10, "tags": ["a", "b"], "kept": True})

    event = deliver(base_url, db, {"id": f"u-{unique_id}", "type": "counter.update", "counterId": counter,
                                   "amount": -4, "tag": "a"})
    stored = db.document(f"action_counters/{counter}").get().to_dict()

    assert event["status"] == "succeeded"
    assert event["actions"]["counterUpdate"]["result"]["write"] == "update"
    assert stored["count"] == 6
    assert stored["tags"] == ["b"]
    assert stored["kept"] is True
    assert stored["lastEvent"] == f"u-{unique_id}"
    assert isinstance(stored["touchedAt"], datetime)


def test_update_of_missing_document_fails_at_once(base_url, db, unique_id):
    counter = f"absent-{unique_id}"

    event = deliver(base_url, db, {"id": f"um-{unique_id}", "type": "counter.update", "counterId": counter,
                                   "amount": 1, "tag": "a"})

    assert event["status"] == "failed"
    assert event["attempts"] == 1
    assert event["lastError"] == (
        f"PermanentError: document action_counters/{counter} not found; write 'update' changes existing "
        "documents only, so create it first or use write 'merge'")
    assert not db.document(f"action_counters/{counter}").get().exists


def test_order_by_skips_older_event(base_url, db, unique_id):
    counter = f"versioned-{unique_id}"

    deliver(base_url, db, {"id": f"v2-{unique_id}", "type": "counter.version", "counterId": counter,
                           "version": 2, "total": 20})
    stale = deliver(base_url, db, {"id": f"v1-{unique_id}", "type": "counter.version", "counterId": counter,
                                   "version": 1, "total": 10})

    assert stale["actions"]["versioned"]["status"] == "skipped"
    assert stale["actions"]["versioned"]["result"]["reason"] == "out_of_order"
    assert db.document(f"action_counters/{counter}").get().to_dict() == {"version": 2, "total": 20}


def test_save_to_cloud_alias_writes_model(base_url, db, unique_id):
    order_id = f"legacy-{unique_id}"

    event = deliver(base_url, db, {"id": f"l-{unique_id}", "type": "legacy.save", "orderId": order_id,
                                   "total": 7, "tags": ["x"]})

    assert event["actions"]["legacySave"]["type"] == "saveToCloud"
    assert event["actions"]["legacySave"]["result"] == {"path": f"action_legacy/{order_id}", "write": "merge"}
    stored = db.document(f"action_legacy/{order_id}").get().to_dict()
    assert stored["orderId"] == order_id
    assert stored["total"] == 7
    assert stored["tags"] == ["x"]


def test_slash_in_path_value_fails_at_once(base_url, db, unique_id):
    event = deliver(base_url, db, {"id": f"slash-{unique_id}", "type": "order.set", "uid": "a/b",
                                   "orderId": f"o-{unique_id}", "total": 1})

    assert event["status"] == "failed"
    assert event["attempts"] == 1
    assert event["lastError"].startswith("PermanentError: document path of collection 'action_users/{uid}/orders'")
    assert "'a/b' contains '/', which would change the document path" in event["lastError"]
    assert event["actions"]["orderSet"]["status"] == "failed"


def test_missing_required_field_fails_at_once(base_url, db, unique_id):
    event = deliver(base_url, db, {"id": f"req-{unique_id}", "type": "counter.merge", "amount": 1})

    assert event["status"] == "failed"
    assert event["attempts"] == 1
    assert event["lastError"] == ("PermanentError: action counterMerge requires model fields counterId, "
                                  "which this event lacks or sets to null")


def test_increment_of_text_fails_at_once(base_url, db, unique_id):
    counter = f"text-{unique_id}"

    event = deliver(base_url, db, {"id": f"txt-{unique_id}", "type": "counter.merge", "counterId": counter,
                                   "amount": "three", "tag": "a"})

    assert event["status"] == "failed"
    assert event["attempts"] == 1
    assert event["lastError"] == ("PermanentError: mapping.count: increment 'amount' resolved to 'three', which is "
                                  "not a number; map it to a numeric field or mark that field required")
    assert not db.document(f"action_counters/{counter}").get().exists
