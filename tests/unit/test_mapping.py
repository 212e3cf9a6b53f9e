"""JSONPath extraction, model mapping, event id and type, value specs and templates."""

import copy
import hashlib
import json

import pytest

from acehooks import extraction, jsonpaths, values
from acehooks.config import EndpointConfig
from acehooks.errors import PayloadError

PAYLOAD = {
    "id": "evt_123",
    "type": "order.created",
    "data": {
        "customer": {"email": "buyer@example.com", "phone": None, "visits": 0},
        "total": 4200,
    },
    "items": [{"sku": "A-1", "price": 1500}, {"sku": "B-2", "price": 2700}],
    "tags": [],
}

BODY = json.dumps(PAYLOAD).encode()

CONFIG = {
    "endpointName": "orders",
    "auth": [{"method": "token", "secretEnv": "ORDERS_TOKEN"}],
    "eventIdPath": "id",
    "eventTypePath": "type",
    "model": {
        "email": "data.customer.email",
        "total": "$.data.total",
        "firstPrice": "items[0].price",
        "skus": "items[*].sku",
    },
    "required": ["email"],
}


@pytest.fixture
def payload() -> dict:
    return copy.deepcopy(PAYLOAD)


@pytest.fixture
def config_data() -> dict:
    return copy.deepcopy(CONFIG)


def build(data: dict) -> EndpointConfig:
    return EndpointConfig.model_validate(data)


# jsonpaths.extract


def test_extract_nested_field(payload):
    assert jsonpaths.extract("data.customer.email", payload) == "buyer@example.com"


def test_extract_dollar_prefix_optional(payload):
    assert jsonpaths.extract("$.data.customer.email", payload) == jsonpaths.extract("data.customer.email", payload)


def test_extract_missing_field(payload):
    assert jsonpaths.extract("data.customer.name", payload) is jsonpaths.MISSING


def test_extract_missing_parent(payload):
    assert jsonpaths.extract("shipping.address.city", payload) is jsonpaths.MISSING


def test_extract_null_field(payload):
    assert jsonpaths.extract("data.customer.phone", payload) is None


def test_extract_zero_field(payload):
    assert jsonpaths.extract("data.customer.visits", payload) == 0


def test_extract_array_index(payload):
    assert jsonpaths.extract("items[1].price", payload) == 2700


def test_extract_index_out_of_range(payload):
    assert jsonpaths.extract("items[5].price", payload) is jsonpaths.MISSING


def test_extract_wildcard_list(payload):
    assert jsonpaths.extract("items[*].sku", payload) == ["A-1", "B-2"]


def test_extract_wildcard_one_match_list(payload):
    payload["items"] = payload["items"][:1]

    assert jsonpaths.extract("items[*].sku", payload) == ["A-1"]


def test_extract_wildcard_no_match(payload):
    assert jsonpaths.extract("tags[*].name", payload) is jsonpaths.MISSING


def test_extract_filter(payload):
    assert jsonpaths.extract("items[?price > 2000].sku", payload) == ["B-2"]


def test_extract_quoted_key(payload):
    payload["data"]["customer-id"] = "cus_9"

    assert jsonpaths.extract('data."customer-id"', payload) == "cus_9"


def test_extract_quoted_key_with_colon(payload):
    payload["data"]["urn:id"] = "urn-9"

    assert jsonpaths.extract('data."urn:id"', payload) == "urn-9"


def test_compile_bad_path_names_expression():
    with pytest.raises(ValueError) as caught:
        jsonpaths.compile_path("items[0")

    assert str(caught.value).startswith("JSONPath 'items[0' does not parse: ")


def test_compile_empty_path():
    with pytest.raises(ValueError) as caught:
        jsonpaths.compile_path("  ")

    assert str(caught.value) == "JSONPath is empty; write a path such as 'data.object.id'"


# extraction.map_model


def test_map_model_fields(config_data, payload):
    model, missing = extraction.map_model(build(config_data), payload)

    assert model == {"email": "buyer@example.com", "total": 4200, "firstPrice": 1500, "skus": ["A-1", "B-2"]}
    assert missing == []


def test_map_model_missing_optional(config_data, payload):
    del payload["items"]

    model, missing = extraction.map_model(build(config_data), payload)

    assert model["firstPrice"] is None
    assert model["skus"] is None
    assert missing == []


def test_map_model_missing_required(config_data, payload):
    del payload["data"]["customer"]["email"]

    model, missing = extraction.map_model(build(config_data), payload)

    assert model["email"] is None
    assert missing == ["email"]


def test_map_model_null_required(config_data, payload):
    config_data["model"]["phone"] = "data.customer.phone"
    config_data["required"] = ["email", "phone"]

    model, missing = extraction.map_model(build(config_data), payload)

    assert model["phone"] is None
    assert missing == ["phone"]


def test_map_model_zero_required_present(config_data, payload):
    config_data["model"]["visits"] = "data.customer.visits"
    config_data["required"] = ["visits"]

    model, missing = extraction.map_model(build(config_data), payload)

    assert model["visits"] == 0
    assert missing == []


def test_map_model_lists_every_missing(config_data, payload):
    config_data["model"]["phone"] = "data.customer.phone"
    config_data["required"] = ["phone", "email", "total"]
    del payload["data"]

    _, missing = extraction.map_model(build(config_data), payload)

    assert missing == ["phone", "email", "total"]


# extraction.event_id and event_type


def test_event_id_from_path(config_data, payload):
    assert extraction.event_id(build(config_data), payload, {}, BODY) == "evt_123"


def test_event_id_integer_as_text(config_data, payload):
    payload["id"] = 98765

    assert extraction.event_id(build(config_data), payload, {}, BODY) == "98765"


def test_event_id_float_as_text(config_data, payload):
    payload["id"] = 12.5

    assert extraction.event_id(build(config_data), payload, {}, BODY) == "12.5"


def test_event_id_zero_as_text(config_data, payload):
    payload["id"] = 0

    assert extraction.event_id(build(config_data), payload, {}, BODY) == "0"


def test_event_id_whitespace_stripped(config_data, payload):
    payload["id"] = "  evt_123 \n"

    assert extraction.event_id(build(config_data), payload, {}, BODY) == "evt_123"


def test_event_id_missing_rejected(config_data, payload):
    del payload["id"]

    with pytest.raises(PayloadError) as caught:
        extraction.event_id(build(config_data), payload, {}, BODY)

    assert caught.value.status == 422
    assert caught.value.reason == "event_id_missing"
    assert str(caught.value) == "event id not found at path 'id'"


def test_event_id_null_rejected(config_data, payload):
    payload["id"] = None

    with pytest.raises(PayloadError) as caught:
        extraction.event_id(build(config_data), payload, {}, BODY)

    assert caught.value.reason == "event_id_missing"


def test_event_id_empty_rejected(config_data, payload):
    payload["id"] = "   "

    with pytest.raises(PayloadError) as caught:
        extraction.event_id(build(config_data), payload, {}, BODY)

    assert caught.value.reason == "event_id_missing"


def test_event_id_boolean_rejected(config_data, payload):
    payload["id"] = True

    with pytest.raises(PayloadError) as caught:
        extraction.event_id(build(config_data), payload, {}, BODY)

    assert caught.value.status == 422
    assert caught.value.reason == "event_id_invalid"
    assert str(caught.value) == "event id at path 'id' must be a string or number, found bool"


def test_event_id_object_rejected(config_data, payload):
    payload["id"] = {"value": "evt_123"}

    with pytest.raises(PayloadError) as caught:
        extraction.event_id(build(config_data), payload, {}, BODY)

    assert caught.value.reason == "event_id_invalid"


def test_event_id_from_header(config_data, payload):
    del config_data["eventIdPath"]
    config_data["eventIdHeader"] = "X-Delivery-Id"

    event_id = extraction.event_id(build(config_data), payload, {"X-Delivery-Id": "delivery-77"}, BODY)

    assert event_id == "delivery-77"


def test_event_id_header_missing_rejected(config_data, payload):
    del config_data["eventIdPath"]
    config_data["eventIdHeader"] = "X-Delivery-Id"

    with pytest.raises(PayloadError) as caught:
        extraction.event_id(build(config_data), payload, {}, BODY)

    assert caught.value.reason == "event_id_missing"
    assert str(caught.value) == "event id not found at header 'X-Delivery-Id'"


def test_event_id_header_empty_rejected(config_data, payload):
    del config_data["eventIdPath"]
    config_data["eventIdHeader"] = "X-Delivery-Id"

    with pytest.raises(PayloadError) as caught:
        extraction.event_id(build(config_data), payload, {"X-Delivery-Id": ""}, BODY)

    assert caught.value.reason == "event_id_missing"


def test_event_id_body_hash_fallback(config_data, payload):
    del config_data["eventIdPath"]

    event_id = extraction.event_id(build(config_data), payload, {}, BODY)

    assert event_id == "sha256-" + hashlib.sha256(BODY).hexdigest()


def test_event_id_hash_of_raw_bytes(config_data, payload):
    del config_data["eventIdPath"]
    config = build(config_data)
    spaced = json.dumps(PAYLOAD, indent=2).encode()

    assert extraction.event_id(config, payload, {}, spaced) != extraction.event_id(config, payload, {}, BODY)


def test_event_id_stripe_preset(payload):
    config = build({"endpointName": "pay", "auth": [{"method": "stripe", "secretEnv": "STRIPE_SECRET"}]})

    assert extraction.event_id(config, payload, {}, BODY) == "evt_123"


def test_event_type_from_path(config_data, payload):
    assert extraction.event_type(build(config_data), payload, {}) == "order.created"


def test_event_type_from_header(config_data, payload):
    del config_data["eventTypePath"]
    config_data["eventTypeHeader"] = "X-Topic"

    assert extraction.event_type(build(config_data), payload, {"X-Topic": "orders/create"}) == "orders/create"


def test_event_type_missing_is_none(config_data, payload):
    del payload["type"]

    assert extraction.event_type(build(config_data), payload, {}) is None


def test_event_type_without_source_is_none(config_data, payload):
    del config_data["eventTypePath"]

    assert extraction.event_type(build(config_data), payload, {}) is None


def test_event_type_numeric_as_text(config_data, payload):
    payload["type"] = 7

    assert extraction.event_type(build(config_data), payload, {}) == "7"


# values.resolve

MODEL = {"email": "buyer@example.com", "total": 4200, "phone": None}


def test_resolve_model_field(payload):
    assert values.resolve("email", MODEL, payload) == "buyer@example.com"


def test_resolve_null_model_field(payload):
    assert values.resolve("phone", MODEL, payload) is None


def test_resolve_model_field_before_payload(payload):
    model = {**MODEL, "type": "from-model"}

    assert values.resolve("type", model, payload) == "from-model"


def test_resolve_jsonpath(payload):
    assert values.resolve("$.items[1].sku", MODEL, payload) == "B-2"


def test_resolve_jsonpath_wildcard(payload):
    assert values.resolve("$.items[*].price", MODEL, payload) == [1500, 2700]


def test_resolve_missing_jsonpath(payload):
    assert values.resolve("$.data.customer.name", MODEL, payload) is None


def test_resolve_unparseable_jsonpath_raises(payload):
    with pytest.raises(ValueError):
        values.resolve("$5 off", MODEL, payload)


def test_resolve_literal_field_name(payload):
    assert values.resolve({"literal": "email"}, MODEL, payload) == "email"


def test_resolve_literal_dollar(payload):
    assert values.resolve({"literal": "$5 off"}, MODEL, payload) == "$5 off"


def test_resolve_literal_map(payload):
    assert values.resolve({"literal": {"email": "x"}}, MODEL, payload) == {"email": "x"}


def test_resolve_other_string(payload):
    assert values.resolve("data.customer.email", MODEL, payload) == "data.customer.email"


@pytest.mark.parametrize("spec", [42, 1.5, True, None, [1, "email"], {"email": "email"}, {"literal": 1, "x": 2}])
def test_resolve_other_value_unchanged(payload, spec):
    assert values.resolve(spec, MODEL, payload) == spec


def test_resolve_params(payload):
    params = {"to": "email", "sku": "$.items[0].sku", "source": {"literal": "total"}, "count": 3}

    assert values.resolve_params(params, MODEL, payload) == {
        "to": "buyer@example.com", "sku": "A-1", "source": "total", "count": 3,
    }


# values.render_template

EVENT = {"eventId": "evt_123", "eventType": "order.created", "endpoint": "orders"}


def test_template_event_names():
    assert values.render_template("{endpoint}/{eventType}/{eventId}", EVENT, MODEL) == "orders/order.created/evt_123"


def test_template_model_field():
    assert values.render_template("users/{email}/totals/{total}", EVENT, MODEL) == "users/buyer@example.com/totals/4200"


def test_template_event_name_before_model():
    assert values.render_template("{eventId}", EVENT, {"eventId": "from-model"}) == "evt_123"


def test_template_zero_value():
    assert values.render_template("n-{count}", EVENT, {"count": 0}) == "n-0"


def test_template_without_placeholders():
    assert values.render_template("payments", EVENT, MODEL) == "payments"


def test_template_missing_placeholder():
    with pytest.raises(KeyError) as caught:
        values.render_template("orders/{orderId}", EVENT, MODEL)

    assert caught.value.args[0] == "template 'orders/{orderId}': {orderId} has no value for this event"


def test_template_null_placeholder():
    with pytest.raises(KeyError) as caught:
        values.render_template("{phone}", EVENT, MODEL)

    assert "{phone}" in caught.value.args[0]


def test_template_empty_placeholder():
    with pytest.raises(KeyError) as caught:
        values.render_template("{name}", EVENT, {"name": ""})

    assert "{name}" in caught.value.args[0]


def test_template_names():
    assert values.template_names("users/{uid}/orders/{eventId}") == ["uid", "eventId"]
