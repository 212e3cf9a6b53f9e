"""How firestoreWrite resolves a mapping and splits it into writes, without Firestore."""

import logging

import pytest
from google.cloud import firestore
from google.cloud.firestore_v1.transforms import ArrayRemove, ArrayUnion, Increment

from acehooks.actions import firestore_write, runners
from acehooks.actions.context import ActionContext
from acehooks.actions.firestore_write import Transform, plan_writes
from acehooks.config import EndpointConfig
from acehooks.errors import PermanentError

MODEL = {"uid": "u1", "orderId": "o-1", "delta": -3, "sku": "A-1", "skus": ["A-1", "B-2"], "text": "three",
         "rows": [[1]], "none": None}
PAYLOAD = {"id": "evt_1", "order": {"lines": [{"sku": "A-1"}, {"sku": "C-3"}]}}


def make_context(model=MODEL, event_type="order.paid") -> ActionContext:
    return ActionContext(endpoint="orders", event_id="evt_1", event_type=event_type, doc_id="orders-evt_1-abc",
                         payload=PAYLOAD, model=dict(model), params={}, attempt=1, action_id="write")


def action(**fields):
    data = {"endpointName": "orders", "auth": [{"method": "token", "secretEnv": "T"}],
            "model": {name: name for name in MODEL}, "actions": [{"type": "firestoreWrite", **fields}]}
    return EndpointConfig.model_validate(data).actions[0]


# resolve_field


def test_plain_value_resolved():
    assert firestore_write.resolve_field("uid", "uid", make_context()) == "u1"


def test_increment_resolved_to_number():
    assert firestore_write.resolve_field("count", {"increment": "delta"}, make_context()) == Transform("increment", -3)


def test_increment_of_text_is_permanent():
    with pytest.raises(PermanentError, match=r"mapping.count: increment 'text' resolved to 'three'"):
        firestore_write.resolve_field("count", {"increment": "text"}, make_context())


def test_increment_of_missing_value_is_permanent():
    with pytest.raises(PermanentError, match=r"increment 'none' resolved to None"):
        firestore_write.resolve_field("count", {"increment": "none"}, make_context())


def test_array_elements_flattened_and_nulls_skipped():
    resolved = firestore_write.resolve_field("skus", {"arrayUnion": ["sku", "skus", "none", "$.order.lines[*].sku"]},
                                             make_context())

    assert resolved == Transform("arrayUnion", ["A-1", "A-1", "B-2", "A-1", "C-3"])


def test_array_inside_array_is_permanent():
    with pytest.raises(PermanentError, match="Firestore does not store arrays inside arrays"):
        firestore_write.resolve_field("rows", {"arrayUnion": ["rows"]}, make_context())


# plan_writes


def test_plain_and_increments_share_one_write():
    writes = plan_writes("merge", {"uid": "u1", "count": Transform("increment", 2), "n": Transform("increment", 1)},
                         stored=None)

    assert len(writes) == 1
    operation, data = writes[0]
    assert operation == "merge"
    assert data["uid"] == "u1"
    assert isinstance(data["count"], Increment) and data["count"].value == 2
    assert isinstance(data["n"], Increment)


def test_each_other_transform_gets_its_own_write():
    fields = {"a": Transform("serverTimestamp", True), "b": Transform("serverTimestamp", True),
              "tags": Transform("arrayUnion", ["x"]), "old": Transform("arrayRemove", ["y"]), "count": 1}

    writes = plan_writes("update", fields, stored={"tags": ["w"], "old": ["y", "z"]})

    assert [operation for operation, _ in writes] == ["update"] * 5
    assert writes[0][1] == {"count": 1}
    assert writes[1][1] == {"a": firestore.SERVER_TIMESTAMP}
    assert writes[2][1] == {"b": firestore.SERVER_TIMESTAMP}
    assert isinstance(writes[3][1]["tags"], ArrayUnion) and writes[3][1]["tags"].values == ["x"]
    assert isinstance(writes[4][1]["old"], ArrayRemove) and writes[4][1]["old"].values == ["y"]


def test_array_transforms_on_missing_field_write_arrays():
    fields = {"tags": Transform("arrayUnion", ["x", "y", "x"]), "old": Transform("arrayRemove", ["y"])}

    writes = plan_writes("merge", fields, stored={"old": "not an array"})

    assert writes == [("merge", {"tags": ["x", "y"], "old": []})]


def test_empty_array_operand_leaves_field_alone():
    assert plan_writes("merge", {"tags": Transform("arrayUnion", [])}, stored=None) == []


def test_set_writes_primary_even_when_empty():
    writes = plan_writes("set", {"at": Transform("serverTimestamp", True)}, stored=None)

    assert writes == [("set", {}), ("merge", {"at": firestore.SERVER_TIMESTAMP})]


def test_update_quotes_dotted_names():
    writes = plan_writes("update", {"a.b": 1, "plain": 2}, stored={})

    assert writes == [("update", {"`a.b`": 1, "plain": 2})]


def test_merge_keeps_dotted_names_literal():
    assert plan_writes("merge", {"a.b": 1}, stored=None) == [("merge", {"a.b": 1})]


# target_path and reads_target


def test_target_path_fills_subcollection():
    configured = action(collection="users/{uid}/orders", documentId="{orderId}")

    assert firestore_write.target_path(configured, make_context()) == "users/u1/orders/o-1"


@pytest.mark.parametrize("uid, problem", [
    ("a/b", "contains '/'"),
    ("..", "is not allowed as a Firestore id"),
    ("__x__", "is not allowed as a Firestore id"),
    ("x" * 1501, "over Firestore's 1500-byte id limit"),
])
def test_target_path_rejects_unsafe_values(uid, problem):
    configured = action(collection="users/{uid}/orders", documentId="{orderId}")

    with pytest.raises(PermanentError, match=problem):
        firestore_write.target_path(configured, make_context({**MODEL, "uid": uid}))


def test_target_path_missing_value_is_permanent():
    configured = action(collection="orders", documentId="{none}")

    with pytest.raises(PermanentError, match=r"\{none\} has no value for this event; map the field in model"):
        firestore_write.target_path(configured, make_context())


@pytest.mark.parametrize("fields, expected", [
    ({"collection": "c"}, False),
    ({"collection": "c", "mapping": {"n": {"increment": 1}, "at": {"serverTimestamp": True}}}, False),
    ({"collection": "c", "mapping": {"tags": {"arrayUnion": ["sku"]}}}, True),
    ({"collection": "c", "write": "update"}, True),
    ({"collection": "c", "orderBy": "delta"}, True),
])
def test_reads_target(fields, expected):
    configured = action(**fields)

    assert firestore_write.reads_target(configured) is expected
    assert runners.needs_transaction(configured) is expected


# What every runner applies first


class RecordingWrites:
    def __init__(self):
        self.calls = []

    def read(self, ref):
        raise AssertionError("no read expected")

    def set(self, ref, data, merge=False):
        self.calls.append(("set", data, merge))


def test_other_event_type_skipped(caplog):
    configured = action(collection="c", eventTypes=["order.created"])
    context = make_context(event_type="order.paid")
    writes = RecordingWrites()

    with caplog.at_level(logging.INFO, logger="acehooks"):
        result = runners.get_runner("firestoreWrite")(configured, context, writes)

    assert result == {"skipped": True, "reason": "event_type", "eventType": "order.paid"}
    assert writes.calls == []
    [record] = [record for record in caplog.records if record.getMessage().startswith("action skipped")]
    assert record.reason == "event_type_not_selected"
    assert record.eventId == "evt_1"
    assert record.action == "write"


def test_missing_required_field_is_permanent():
    configured = action(collection="c", required=["uid", "none"])

    with pytest.raises(PermanentError) as caught:
        runners.get_runner("firestoreWrite")(configured, make_context(), RecordingWrites())

    assert str(caught.value) == "action write requires model fields none, which this event lacks or sets to null"


def test_unknown_type_has_no_runner():
    with pytest.raises(KeyError):
        runners.get_runner("slackMessage")
