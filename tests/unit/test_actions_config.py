"""Config validation of the action models: firestoreWrite, sendgridEmail, httpRequest and what every action accepts."""

import copy
import json

import pytest

from acehooks.config import (
    EndpointConfig,
    FirestoreWriteAction,
    HttpRequestAction,
    SaveToCloudAction,
    SendgridEmailAction,
    action_secret_names,
)
from acehooks.errors import ConfigError
from acehooks.loading import load_endpoint

BASE = {
    "endpointName": "orders",
    "auth": [{"method": "token", "secretEnv": "ORDERS_TOKEN"}],
    "eventIdPath": "id",
    "model": {"orderId": "order.id", "uid": "order.uid", "delta": "order.delta", "email": "order.email"},
}


def config_with(*actions: dict) -> dict:
    data = copy.deepcopy(BASE)
    data["actions"] = list(actions)
    return data


def load_error(tmp_path, *actions: dict) -> str:
    path = tmp_path / "orders.json"
    path.write_text(json.dumps(config_with(*actions)))
    with pytest.raises(ConfigError) as caught:
        load_endpoint(path)
    return str(caught.value)


def build(*actions: dict) -> EndpointConfig:
    return EndpointConfig.model_validate(config_with(*actions))


# firestoreWrite and its saveToCloud alias


def test_save_to_cloud_is_firestore_write():
    config = build({"type": "saveToCloud", "collection": "orders"}, {"type": "firestoreWrite", "collection": "orders"})

    assert SaveToCloudAction is FirestoreWriteAction
    assert [type(action) for action in config.actions] == [FirestoreWriteAction, FirestoreWriteAction]
    assert [config.action_id(index) for index in range(2)] == ["0_saveToCloud", "1_firestoreWrite"]
    assert config.actions[0].write == "merge"


def test_transforms_accepted():
    config = build({"type": "firestoreWrite", "collection": "users/{uid}/orders", "documentId": "{orderId}",
                    "write": "update",
                    "mapping": {"count": {"increment": "delta"}, "at": {"serverTimestamp": True},
                                "skus": {"arrayUnion": ["$.order.skus[*]", "orderId"]},
                                "gone": {"arrayRemove": [{"literal": "x"}]}}})

    assert config.actions[0].mapping["count"] == {"increment": "delta"}


def test_map_with_two_keys_is_a_literal_value():
    config = build({"type": "firestoreWrite", "collection": "orders", "write": "set",
                    "mapping": {"box": {"increment": 1, "other": 2}}})

    assert config.actions[0].mapping["box"] == {"increment": 1, "other": 2}


@pytest.mark.parametrize("transform", [{"increment": "delta"}, {"arrayUnion": ["uid"]}, {"arrayRemove": ["uid"]}])
def test_stored_value_transform_rejected_in_set_mode(tmp_path, transform):
    kind = next(iter(transform))

    message = load_error(tmp_path, {"type": "firestoreWrite", "collection": "orders", "write": "set",
                                    "mapping": {"count": transform}})

    assert message.endswith(f"mapping.count: {kind} needs write 'merge' or 'update', because 'set' replaces the "
                            "document and the field would start from nothing")


def test_server_timestamp_allowed_in_set_mode():
    config = build({"type": "firestoreWrite", "collection": "orders", "write": "set",
                    "mapping": {"at": {"serverTimestamp": True}}})

    assert config.actions[0].write == "set"


@pytest.mark.parametrize("transform, expected", [
    ({"serverTimestamp": False}, 'serverTimestamp takes true; write {"serverTimestamp": true}'),
    ({"increment": True}, "increment takes a number or a value spec that resolves to one, not True"),
    ({"increment": {"a": 1}}, "increment takes a number or a value spec that resolves to one, not {'a': 1}"),
    ({"arrayUnion": []}, 'arrayUnion takes a non-empty list of value specs; write {"arrayUnion": ["sku"]}'),
    ({"arrayRemove": "sku"}, 'arrayRemove takes a non-empty list of value specs; write {"arrayRemove": ["sku"]}'),
])
def test_malformed_transform_rejected(tmp_path, transform, expected):
    message = load_error(tmp_path, {"type": "firestoreWrite", "collection": "orders", "mapping": {"field": transform}})

    assert f"mapping: field 'field': {expected}" in message


def test_transform_operand_jsonpath_checked(tmp_path):
    message = load_error(tmp_path, {"type": "firestoreWrite", "collection": "orders",
                                    "mapping": {"count": {"increment": "$5 off"}}})

    assert "JSONPath '$5 off' does not parse" in message


def test_transform_on_dotted_field_name_rejected(tmp_path):
    message = load_error(tmp_path, {"type": "firestoreWrite", "collection": "orders",
                                    "mapping": {"stock.total": {"increment": 1}}})

    assert "mapping.stock.total: a field with increment must be named with letters" in message


def test_reserved_field_name_rejected(tmp_path):
    message = load_error(tmp_path, {"type": "firestoreWrite", "collection": "orders", "mapping": {"__name__": 1}})

    assert "mapping field name '__name__' is empty or of the reserved form __name__; rename it" in message


def test_document_id_with_slash_rejected(tmp_path):
    message = load_error(tmp_path, {"type": "firestoreWrite", "collection": "users", "documentId": "{uid}/orders"})

    assert "documentId '{uid}/orders' must be one path segment without '/'" in message


def test_order_by_must_be_mapped(tmp_path):
    message = load_error(tmp_path, {"type": "firestoreWrite", "collection": "orders", "orderBy": "delta",
                                    "mapping": {"uid": "uid"}})

    assert "orderBy 'delta' is not a mapping field" in message
    assert 'add "delta": "delta" to mapping' in message


def test_unknown_write_mode_rejected(tmp_path):
    message = load_error(tmp_path, {"type": "firestoreWrite", "collection": "orders", "write": "upsert"})

    assert "'set', 'merge' or 'update'" in message


def test_unknown_action_type_lists_types(tmp_path):
    message = load_error(tmp_path, {"type": "slackMessage"})

    assert "'slackMessage' is not a known value" in message
    for name in ("firestoreWrite", "saveToCloud", "customAction", "sendgridEmail", "httpRequest"):
        assert f"'{name}'" in message


# What every action accepts


def test_action_id_with_slash_rejected(tmp_path):
    message = load_error(tmp_path, {"type": "customAction", "id": "a/b", "name": "x"})

    assert "action id 'a/b' must be 1 to 100 letters, digits, '_' or '-'" in message


def test_event_types_and_required_parsed():
    config = build({"type": "customAction", "name": "x", "eventTypes": ["order.paid"], "required": ["email"]})

    assert config.actions[0].event_types == ["order.paid"]
    assert config.actions[0].required == ["email"]


# sendgridEmail


def test_sendgrid_plain_email():
    action = build({"type": "sendgridEmail", "to": "email", "from": {"literal": "shop@example.com"},
                    "subject": "Hello", "text": "Hi"}).actions[0]

    assert isinstance(action, SendgridEmailAction)
    assert action.from_ == {"literal": "shop@example.com"}
    assert action.api_key_env == "SENDGRID_API_KEY"
    assert action.secret_names() == ["SENDGRID_API_KEY"]


@pytest.mark.parametrize("fields, expected", [
    ({"subject": "s"}, "without templateId, set subject and text or html"),
    ({"text": "t"}, "without templateId, set subject and text or html"),
    ({"templateId": "d-1", "text": "t"}, "set templateId or text/html, not both"),
    ({"subject": "s", "text": "t", "templateData": {"a": "uid"}}, "templateData needs templateId"),
])
def test_sendgrid_content_rules(tmp_path, fields, expected):
    message = load_error(tmp_path, {"type": "sendgridEmail", "to": "email", **fields})

    assert expected in message


def test_sendgrid_api_key_env_must_be_a_name(tmp_path):
    message = load_error(tmp_path, {"type": "sendgridEmail", "to": "email", "templateId": "d-1",
                                    "apiKeyEnv": "SG.abc-def"})

    assert "apiKeyEnv is not an environment variable name" in message
    assert "SG.abc-def" not in message


# httpRequest


def test_http_request_defaults():
    action = build({"type": "httpRequest", "url": "https://partner.example/orders/{orderId}"}).actions[0]

    assert isinstance(action, HttpRequestAction)
    assert (action.method, action.body, action.timeout_seconds) == ("POST", "payload", 10)
    assert action.templates() == ["https://partner.example/orders/{orderId}"]


@pytest.mark.parametrize("url", ["https://{uid}.example/x", "ftp://example.com/x", "partner.example/x",
                                 "http://{host}/x", "https:///x"])
def test_http_url_host_must_be_fixed(tmp_path, url):
    message = load_error(tmp_path, {"type": "httpRequest", "url": url})

    assert "must start with http:// or https:// and a host without placeholders" in message


@pytest.mark.parametrize("header", ["Authorization", "X-Api-Key", "X-Shop-Token", "Cookie", "X-Client-Secret"])
def test_http_credential_header_needs_header_env(tmp_path, header):
    message = load_error(tmp_path, {"type": "httpRequest", "url": "https://p.example/x",
                                    "headers": {header: {"literal": "Bearer abc"}}})

    assert f"headers.{header} looks like a credential" in message
    assert f'"headerEnv": {{"{header}": "VARIABLE_NAME"}}' in message


def test_http_reserved_header_rejected(tmp_path):
    message = load_error(tmp_path, {"type": "httpRequest", "url": "https://p.example/x",
                                    "headers": {"Webhook-Signature": "uid"}})

    assert "header 'Webhook-Signature' is set by the action itself; remove it" in message


def test_http_get_with_body_rejected(tmp_path):
    message = load_error(tmp_path, {"type": "httpRequest", "url": "https://p.example/x", "method": "GET",
                                    "body": {"id": "orderId"}})

    assert "a GET request sends no body; remove body or use POST" in message


def test_http_timeout_bounds(tmp_path):
    assert "timeoutSeconds" in load_error(tmp_path, {"type": "httpRequest", "url": "https://p.example/x",
                                                     "timeoutSeconds": 0})
    assert "timeoutSeconds" in load_error(tmp_path, {"type": "httpRequest", "url": "https://p.example/x",
                                                     "timeoutSeconds": 301})


def test_http_header_in_both_places_rejected(tmp_path):
    message = load_error(tmp_path, {"type": "httpRequest", "url": "https://p.example/x",
                                    "headers": {"X-Shop": "uid"}, "headerEnv": {"x-shop": "SHOP_HEADER"}})

    assert "headers x-shop are set in both headers and headerEnv; keep one" in message


def test_action_secret_names_collected():
    config = build({"type": "httpRequest", "url": "https://p.example/x", "headerEnv": {"Authorization": "P_AUTH"},
                    "signingSecretEnv": "P_SIGNING"},
                   {"type": "sendgridEmail", "to": "email", "templateId": "d-1", "apiKeyEnv": "SG_KEY"},
                   {"type": "sendgridEmail", "to": "email", "templateId": "d-2", "apiKeyEnv": "SG_KEY"})

    assert action_secret_names(config.actions) == ["P_AUTH", "P_SIGNING", "SG_KEY"]
