"""What the local Firestore emulator does and does not do.

These tests state facts about @firestore-emulator/server 0.3.15 as reached
through google-cloud-firestore 2.34, not about Firestore. Each test asserts
what the emulator does today, so an upgrade or a patch of the emulator shows
up here as a failing test. A ``test_emulator_has_...`` test covers a Firestore
behaviour the emulator reproduces, and a ``test_emulator_lacks_...`` test one
it does not.

acehooks' concurrency control rests only on what both enforce: create-if-absent
documents and batches. Firestore commits a batch atomically. The emulator
applies a batch's writes in order and stops at the first failing one, keeping
the writes before it. So a batch behaves the same on both only when its
create-if-absent write comes first.
"""

import threading
import time
import uuid
from datetime import datetime, timezone

import pytest
from google.api_core import exceptions
from google.cloud import firestore
from google.cloud.firestore_v1.base_query import FieldFilter

THREADS = 20
WAIT_SECONDS = 10.0
ONE_MIB = 1024 * 1024


@pytest.fixture
def collection(db):
    """Return a collection no other test or run uses."""
    return db.collection(f"fidelity_{uuid.uuid4().hex[:12]}")


def run_in_threads(target, count: int = THREADS) -> list:
    """Run ``target(index)`` in ``count`` threads released together, and return each result or exception."""
    barrier = threading.Barrier(count)
    results = [None] * count

    def run(index):
        barrier.wait(timeout=WAIT_SECONDS)
        try:
            results[index] = target(index)
        except Exception as error:  # the caller counts outcomes by type
            results[index] = error

    threads = [threading.Thread(target=run, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


# Writes and preconditions


def test_emulator_has_create_if_absent(collection):
    ref = collection.document("contested")

    results = run_in_threads(lambda index: ref.create({"writer": index}))

    created = [result for result in results if not isinstance(result, Exception)]
    rejected = [result for result in results if isinstance(result, exceptions.AlreadyExists)]
    assert len(created) == 1
    assert len(rejected) == THREADS - 1
    assert ref.get().exists


def test_emulator_has_update_not_found(collection):
    ref = collection.document("missing")

    with pytest.raises(exceptions.NotFound):
        ref.update({"field": 1})
    assert not ref.get().exists


def test_emulator_lacks_batch_atomicity(db, collection):
    collection.document("existing").set({"value": 1})
    batch = db.batch()
    batch.set(collection.document("written_before"), {"value": 1})
    batch.create(collection.document("existing"), {"value": 2})

    with pytest.raises(exceptions.AlreadyExists):
        batch.commit()

    # Firestore would commit nothing, but the emulator keeps the write before the failing one.
    assert collection.document("written_before").get().exists
    assert collection.document("existing").get().to_dict() == {"value": 1}


def test_emulator_has_batch_stop_at_failing_write(db, collection):
    collection.document("existing").set({"value": 1})
    batch = db.batch()
    batch.create(collection.document("existing"), {"value": 2})
    batch.set(collection.document("written_after"), {"value": 1})
    batch.update(collection.document("existing"), {"value": 3})

    with pytest.raises(exceptions.AlreadyExists):
        batch.commit()

    assert not collection.document("written_after").get().exists
    assert collection.document("existing").get().to_dict() == {"value": 1}


def test_emulator_lacks_transaction_isolation(db, collection):
    ref = collection.document("counter")
    ref.set({"count": 0})
    # Every transaction reads before any writes, so Firestore would abort and retry all but one.
    all_read = threading.Barrier(THREADS)

    def increment(index):
        first_attempt = [True]

        @firestore.transactional
        def read_then_write(transaction):
            count = ref.get(transaction=transaction).get("count")
            if first_attempt[0]:
                first_attempt[0] = False
                all_read.wait(timeout=WAIT_SECONDS)
            transaction.update(ref, {"count": count + 1})

        read_then_write(db.transaction())

    results = run_in_threads(increment)

    assert [result for result in results if isinstance(result, Exception)] == []
    assert ref.get().get("count") == 1


def test_emulator_lacks_update_time_precondition(db, collection):
    ref = collection.document("versioned")
    first = ref.set({"value": 1})
    time.sleep(0.01)  # the emulator's update times have millisecond resolution
    second = ref.set({"value": 2})
    assert first.update_time < second.update_time

    ref.update({"value": 3}, option=db.write_option(last_update_time=first.update_time))

    # Firestore would raise FailedPrecondition for the stale update time.
    assert ref.get().get("value") == 3


def test_emulator_lacks_nested_delete_field(collection):
    ref = collection.document("nested")
    ref.set({"map": {"kept": 1, "deleted": 2}})

    ref.update({"map.deleted": firestore.DELETE_FIELD})

    assert ref.get().to_dict() == {"map": {"kept": 1, "deleted": 2}}


def test_emulator_lacks_top_level_delete_field(collection):
    ref = collection.document("flat")
    ref.set({"kept": 1, "deleted": 2})

    ref.update({"deleted": firestore.DELETE_FIELD})

    assert ref.get().to_dict() == {"kept": 1, "deleted": 2}


def test_emulator_lacks_set_overwrite(collection):
    ref = collection.document("replaced")
    ref.set({"old": 1, "map": {"a": 1, "b": 2}})

    ref.set({"map": {"a": 3}})

    # Firestore would store {"map": {"a": 3}}, but the emulator keeps top-level fields the new data lacks.
    assert ref.get().to_dict() == {"old": 1, "map": {"a": 3}}


def test_emulator_lacks_document_size_limit(collection):
    ref = collection.document("large")
    text = "x" * (ONE_MIB + 50_000)

    ref.set({"text": text})

    assert ref.get().get("text") == text


def test_emulator_has_int64_beyond_2_53(collection):
    # Unpatched 0.3.15 fails this write with "Something went wrong". tools/firestore-emulator/patches fixes it.
    ref = collection.document("integers")
    values = {"max": 2**63 - 1, "min": -(2**63), "above_2_53": 2**53 + 1}

    ref.set(values)

    assert ref.get().to_dict() == values


def test_emulator_lacks_nested_array_check(collection):
    ref = collection.document("arrays")

    ref.set({"rows": [[1, 2], [3]]})

    assert ref.get().get("rows") == [[1, 2], [3]]


# Server timestamps


def test_emulator_has_top_level_server_timestamp(collection):
    ref = collection.document("stamped")

    ref.set({"at": firestore.SERVER_TIMESTAMP})

    stamp = ref.get().get("at")
    assert isinstance(stamp, datetime)
    assert abs((stamp - datetime.now(timezone.utc)).total_seconds()) < 60


def test_emulator_lacks_nested_server_timestamp_in_update(collection):
    ref = collection.document("stamped")
    ref.set({"map": {"kept": 1}, "count": 0})

    with pytest.raises(exceptions.Unknown, match="Something went wrong"):
        ref.update({"map.at": firestore.SERVER_TIMESTAMP, "count": 1})

    # Not atomic: the plain field of the failed write is stored.
    assert ref.get().to_dict() == {"map": {"kept": 1}, "count": 1}


def test_emulator_lacks_server_timestamp_in_map(collection):
    ref = collection.document("stamped")

    with pytest.raises(exceptions.Unknown, match="Something went wrong"):
        ref.set({"map": {"at": firestore.SERVER_TIMESTAMP}, "count": 1})

    # Not atomic: the document is created with the plain field only.
    assert ref.get().to_dict() == {"count": 1}


def test_emulator_lacks_nested_server_timestamp_in_merge(collection):
    ref = collection.document("stamped")
    ref.set({"count": 0})

    with pytest.raises(exceptions.Unknown, match="Something went wrong"):
        ref.set({"map": {"at": firestore.SERVER_TIMESTAMP}, "count": 1}, merge=True)

    assert ref.get().to_dict() == {"count": 1}


# Queries


@pytest.fixture
def numbered(collection):
    """Return a collection of documents n0..n4 with ``n`` 0..4 and ``tag`` a/b alternating."""
    for number in range(5):
        collection.document(f"n{number}").set({"n": number, "tag": "ab"[number % 2]})
    return collection


def ids(query) -> list[str]:
    return [snapshot.id for snapshot in query.stream()]


def test_emulator_has_order_and_limit(numbered):
    query = numbered.order_by("n", direction=firestore.Query.DESCENDING).limit(2)

    assert ids(query) == ["n4", "n3"]


def test_emulator_has_in_filter(numbered):
    query = numbered.where(filter=FieldFilter("n", "in", [1, 3]))

    assert sorted(ids(query)) == ["n1", "n3"]


def test_emulator_has_limit_to_last(numbered):
    query = numbered.order_by("n").limit_to_last(2)

    assert [snapshot.id for snapshot in query.get()] == ["n3", "n4"]


def test_emulator_lacks_start_after_cursor(numbered):
    cursor = numbered.document("n1").get()

    query = numbered.order_by("n").start_after(cursor).limit(2)

    # Firestore would return n2, n3.
    assert ids(query) == ["n0", "n1"]


def test_emulator_lacks_start_at_cursor(numbered):
    query = numbered.order_by("n").start_at({"n": 3})

    assert ids(query) == ["n0", "n1", "n2", "n3", "n4"]


def test_emulator_lacks_end_before_cursor(numbered):
    query = numbered.order_by("n").end_before({"n": 2})

    assert ids(query) == ["n0", "n1", "n2", "n3", "n4"]


def test_emulator_lacks_offset(numbered):
    query = numbered.order_by("n").offset(2)

    assert ids(query) == ["n0", "n1", "n2", "n3", "n4"]


def test_emulator_lacks_order_by_missing_field_filter(numbered):
    numbered.document("no_n").set({"tag": "a"})

    # Firestore leaves out documents without the order_by field.
    assert ids(numbered.order_by("n")) == ["n0", "n1", "n2", "n3", "n4", "no_n"]


def test_emulator_lacks_collection_group_query(db):
    name = f"fidelity_group_{uuid.uuid4().hex[:12]}"
    db.collection("fidelity_parents").document("parent").collection(name).document("child").set({"value": 1})

    assert list(db.collection_group(name).stream()) == []


def test_emulator_has_count(numbered):
    assert numbered.count().get()[0][0].value == 5
    assert numbered.where(filter=FieldFilter("tag", "==", "a")).count().get()[0][0].value == 3


def test_emulator_has_get_all(db, numbered):
    refs = [numbered.document("n1"), numbered.document("n2"), numbered.document("absent")]

    found = {snapshot.id: snapshot.exists for snapshot in db.get_all(refs)}

    assert found == {"n1": True, "n2": True, "absent": False}


def test_emulator_has_subcollections(collection):
    child = collection.document("parent").collection("children").document("child")

    child.set({"value": 1})

    assert [snapshot.to_dict() for snapshot in collection.document("parent").collection("children").stream()] == [
        {"value": 1}
    ]


# Field transforms and merge


def test_emulator_has_increment(collection):
    ref = collection.document("counter")
    ref.set({"count": 2})

    ref.update({"count": firestore.Increment(5)})

    assert ref.get().get("count") == 7


def test_emulator_has_array_union(collection):
    ref = collection.document("array")
    ref.set({"items": [1, 2]})

    ref.update({"items": firestore.ArrayUnion([2, 3])})

    assert ref.get().get("items") == [1, 2, 3]


def test_emulator_lacks_array_union_on_missing_field(collection):
    ref = collection.document("array")
    ref.set({"other": 1})

    # Firestore creates the array; the emulator fails the write, so event documents start with replays: [].
    with pytest.raises(exceptions.Unknown):
        ref.update({"items": firestore.ArrayUnion([1])})

    assert "items" not in ref.get().to_dict()


def test_emulator_lacks_increment_after_server_timestamp(collection):
    ref = collection.document("counter")
    ref.set({"other": 1})

    # Firestore sets the missing field to 1. The emulator drops an Increment whose field sorts after
    # a server timestamp's field in the same write, so the sweeper writes its count explicitly.
    ref.update({"a_touched": firestore.SERVER_TIMESTAMP, "b_count": firestore.Increment(1)})

    stored = ref.get().to_dict()
    assert stored["a_touched"] is not None
    assert "b_count" not in stored


def test_emulator_has_array_remove(collection):
    ref = collection.document("array")
    ref.set({"items": [1, 2, 3]})

    ref.update({"items": firestore.ArrayRemove([1])})

    assert ref.get().get("items") == [2, 3]


def test_emulator_has_merge(collection):
    ref = collection.document("merged")
    ref.set({"map": {"a": 1}, "top": 1})

    ref.set({"map": {"b": 2}}, merge=True)

    assert ref.get().to_dict() == {"map": {"a": 1, "b": 2}, "top": 1}


# Listeners


def test_emulator_has_document_listener(collection):
    ref = collection.document("watched")
    ref.set({"value": 1})
    seen = []
    first = threading.Event()
    updated = threading.Event()

    def on_snapshot(snapshots, changes, read_time):
        for snapshot in snapshots:
            seen.append(snapshot.to_dict() if snapshot.exists else None)
        first.set()
        if {"value": 2} in seen:
            updated.set()

    watch = ref.on_snapshot(on_snapshot)
    try:
        assert first.wait(WAIT_SECONDS)
        ref.update({"value": 2})
        assert updated.wait(WAIT_SECONDS)
    finally:
        watch.unsubscribe()

    assert seen[0] == {"value": 1}
    assert seen[-1] == {"value": 2}


def test_emulator_has_query_listener(numbered):
    seen = []
    first = threading.Event()
    added = threading.Event()

    def on_snapshot(snapshots, changes, read_time):
        seen.append(sorted(snapshot.id for snapshot in snapshots))
        first.set()
        if "n9" in seen[-1]:
            added.set()

    watch = numbered.where(filter=FieldFilter("tag", "==", "a")).on_snapshot(on_snapshot)
    try:
        assert first.wait(WAIT_SECONDS)
        numbered.document("n9").set({"n": 9, "tag": "a"})
        numbered.document("n8").set({"n": 8, "tag": "b"})
        assert added.wait(WAIT_SECONDS)
    finally:
        watch.unsubscribe()

    assert seen[0] == ["n0", "n2", "n4"]
    assert seen[-1] == ["n0", "n2", "n4", "n9"]
