"""`acehooks schema`: collections and field types inferred from endpoint configs and sample payloads."""

import argparse
import json
from pathlib import Path

import pytest

from acehooks import schema
from acehooks.config import EndpointConfig
from acehooks.loading import load_endpoints
from acehooks.schema import SchemaError, describe_collections, merge_types, render_table

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "golden"


@pytest.fixture(scope="module")
def description() -> dict:
    return describe_collections(load_endpoints(GOLDEN / "endpoints"), GOLDEN / "samples")


def field_types(description: dict, collection: str) -> dict[str, str]:
    return {name: field["type"] for name, field in description["collections"][collection]["fields"].items()}


def test_direct_mapping_lists_every_model_field(description):
    assert field_types(description, "payments")["sessionId"] == "string"
    assert set(field_types(description, "payments")) == {
        "sessionId", "uid", "customerEmail", "amountTotal", "currency"}


def test_mapping_dict_lists_its_keys_with_types(description):
    assert field_types(description, "orders") == {
        "uid": "string",
        "status": "string",
        "total": "double",
        "skus": "array<string>",
        "shipping": "map",
        "source": "string",
        "warehouse": "string",
        "priority": "integer",
    }


def test_map_field_describes_its_fields(description):
    shipping = description["collections"]["orders"]["fields"]["shipping"]
    assert {name: field["type"] for name, field in shipping["fields"].items()} == {
        "carrier": "string", "tracking": "string", "delivered": "boolean"}
    assert shipping["flutterFlowType"].startswith("Data Type")


def test_flutterflow_types(description):
    fields = description["collections"]["orders"]["fields"]
    assert fields["total"]["flutterFlowType"] == "Double"
    assert fields["skus"]["flutterFlowType"] == "String, Is List on"
    assert fields["priority"]["flutterFlowType"] == "Integer"
    assert description["webhook_events"]["fields"]["receivedAt"]["flutterFlowType"] == "DateTime"


def test_unsubscribed_sample_skipped(description):
    # order.deleted.json has an integer order id and a boolean status; eventTypes excludes it.
    assert description["samples"]["erp_orders"] == [
        str(GOLDEN / "samples" / "erp_orders" / "order.created.json"),
        str(GOLDEN / "samples" / "erp_orders" / "order.updated.json"),
    ]
    assert field_types(description, "orders")["status"] == "string"


def test_provider_samples_found_by_auth_method(description):
    assert description["samples"]["shop_payments"] == [
        str(GOLDEN / "samples" / "stripe" / "checkout.session.completed.json")]
    assert field_types(description, "payments")["uid"] == "string"


def test_two_endpoints_writing_one_collection_merge(description):
    payments = description["collections"]["payments"]
    assert [writer["endpoint"] for writer in payments["writtenBy"]] == ["erp_orders", "shop_payments"]
    amount = payments["fields"]["amountTotal"]
    # erp_orders writes its double total, shop_payments Stripe's integer amount_total: the column must hold both.
    assert amount["type"] == "double"
    assert amount["from"] == ["erp_orders: model.total = order.total",
                              "shop_payments: model.amountTotal = data.object.amount_total"]


def test_source_of_each_mapping_kind(description):
    fields = description["collections"]["orders"]["fields"]
    assert fields["source"]["from"] == ['erp_orders: literal "erp"']
    assert fields["warehouse"]["from"] == ["erp_orders: $.order.warehouse.code"]
    assert fields["priority"]["from"] == ["erp_orders: constant 1"]
    assert fields["uid"]["from"] == ["erp_orders: model.uid = order.customer.firebaseUid"]


def test_written_by_records_action_and_document_id(description):
    assert description["collections"]["orders"]["writtenBy"] == [
        {"endpoint": "erp_orders", "action": "0_saveToCloud", "documentId": "{orderId}", "write": "merge"}]


def test_webhook_events_fixed_fields(description):
    events = description["webhook_events"]["fields"]
    for name in ("endpoint", "eventId", "eventType", "status", "receivedAt", "updatedAt", "completedAt", "payload",
                 "model", "attempts", "lastError", "actions", "expireAt"):
        assert name in events
    assert events["attempts"]["type"] == "integer"
    assert events["status"]["type"] == "string"


def token_endpoint(**overrides) -> EndpointConfig:
    config = {"endpointName": "erp_orders", "auth": [{"method": "token", "secretEnv": "T"}],
              "eventIdPath": "id", "model": {"amount": "amount"},
              "actions": [{"type": "saveToCloud", "collection": "orders", "mapping": "direct"}]}
    return EndpointConfig.model_validate({**config, **overrides})


def test_field_without_sample_is_any(tmp_path):
    description = describe_collections([token_endpoint()], tmp_path)
    assert description["collections"]["orders"]["fields"]["amount"]["type"] == "any"
    assert description["samples"] == {"erp_orders": []}
    assert "No sample payload for erp_orders" in render_table(description)


def test_field_null_in_every_sample_is_any(tmp_path):
    (tmp_path / "erp_orders").mkdir()
    (tmp_path / "erp_orders" / "a.json").write_text('{"id": 1, "amount": null}')
    description = describe_collections([token_endpoint()], tmp_path)
    assert description["collections"]["orders"]["fields"]["amount"]["type"] == "any"


def test_form_sample_fields_are_strings(tmp_path):
    (tmp_path / "erp_orders").mkdir()
    (tmp_path / "erp_orders" / "a.form").write_text("id=1&amount=12.5")
    description = describe_collections([token_endpoint()], tmp_path)
    assert description["collections"]["orders"]["fields"]["amount"]["type"] == "string"


def test_batch_sample_read_per_element(tmp_path):
    (tmp_path / "erp_orders").mkdir()
    (tmp_path / "erp_orders" / "batch.json").write_text('[{"id": 1, "amount": 3}, {"id": 2, "amount": 4.5}]')
    description = describe_collections([token_endpoint(batch=True)], tmp_path)
    assert description["collections"]["orders"]["fields"]["amount"]["type"] == "double"


def test_unparseable_sample_names_file(tmp_path):
    (tmp_path / "erp_orders").mkdir()
    (tmp_path / "erp_orders" / "broken.json").write_text('{"id": ')
    with pytest.raises(SchemaError, match=r"broken\.json: sample payload of endpoint erp_orders does not parse"):
        describe_collections([token_endpoint()], tmp_path)


@pytest.mark.parametrize("observed, expected", [
    (["integer", "integer"], "integer"),
    (["integer", "double"], "double"),
    (["string", None], "string"),
    ([None, None], "any"),
    (["string", "integer"], "any"),
    ([], "any"),
])
def test_merge_types(observed, expected):
    assert merge_types(observed) == expected


def test_table_lists_nested_fields(description):
    table = render_table(description)
    assert "## orders" in table
    assert "| shipping.carrier " in table
    assert "## webhook_events" in table


def test_schema_command_writes_json(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("ACEHOOKS_CONFIG_DIR", str(GOLDEN / "endpoints"))
    monkeypatch.setenv("ACEHOOKS_ACTIONS_MODULE", str(ROOT / "functions" / "actions.py"))
    from acehooks.settings import get_settings

    get_settings.cache_clear()
    try:
        parser = argparse.ArgumentParser(prog="acehooks")
        schema.add_schema_command(parser.add_subparsers(dest="command", required=True))
        out = tmp_path / "schema.json"
        args = parser.parse_args(["schema", "--samples", str(GOLDEN / "samples"), "--out", str(out)])
        assert args.run(args) == 0
    finally:
        get_settings.cache_clear()

    written = json.loads(out.read_text())
    assert set(written["collections"]) == {"orders", "payments"}
    assert "## orders" in capsys.readouterr().out
