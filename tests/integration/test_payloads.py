"""Payloads Firestore cannot hold as they are: stored without loss and handed to the worker unchanged."""

import hashlib
import json

import pytest
import requests

from acehooks import ids
from acehooks.payloads import parse_body
from conftest import wait_for
from helpers import event_doc, post_token

ENDPOINT = "test_payloads"


def digest_of(value) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def deliver(base_url, unique_id, body: bytes, content_type="application/json"):
    event_id = f"payload-{unique_id}"
    response = post_token(base_url, ENDPOINT, body, **{"X-Event-Id": event_id, "Content-Type": content_type})
    return event_id, response


def worker_saw(db, event_id) -> dict:
    doc_id = ids.event_doc_id(ENDPOINT, event_id)
    wait_for(lambda: (event_doc(db, ENDPOINT, event_id) or {}).get("status") == "succeeded", timeout=30)
    return db.collection("test_payloads").document(doc_id).get().to_dict()


CASES = {
    "nested_arrays": (b'{"matrix": [[1, 2], [3, [4, 5]]], "ok": true}', "payloadText"),
    "int_beyond_int64": (b'{"id": 123456789012345678901234567890, "neg": -9223372036854775809}', "payloadText"),
    "reserved_key": (b'{"__name__": "x", "a": 1}', "payloadText"),
    "empty_key": (b'{"": "blank", "b": {"": 1}}', "payloadText"),
    "too_deep": (b'{"a":' * 25 + b"1" + b"}" * 25, "payloadText"),
    "dotted_and_slashed_keys": (b'{"a.b": {"c/d": 1, "`q`": 2}}', "payload"),
    "top_level_array": (b'[1, {"a": 2}, "three", null]', "payload"),
    "top_level_scalar": (b'"just a string"', "payload"),
    "shopify_id_in_int64": (b'{"id": 820982911946154508}', "payload"),
    "unicode": ('{"name": "Zoë 😀", "jp": "注文"}'.encode(), "payload"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_unusual_payload_round_trips(case, base_url, db, unique_id):
    body, stored_as = CASES[case]
    event_id, response = deliver(base_url, unique_id, body)

    assert response.status_code == 200, response.text
    event = event_doc(db, ENDPOINT, event_id)
    assert event[stored_as] is not None
    if stored_as == "payloadText":
        assert event["payload"] is None
        assert event["payloadText"] == body.decode()
    assert worker_saw(db, event_id)["sha256"] == digest_of(json.loads(body))


def test_big_int_kept_exactly(base_url, db, unique_id):
    event_id, response = deliver(base_url, unique_id, b'{"id": 820982911946154508}')

    assert response.status_code == 200
    assert event_doc(db, ENDPOINT, event_id)["payload"]["id"] == 820982911946154508


def test_form_with_repeated_keys(base_url, db, unique_id):
    body = b"tag=a&tag=b&name=Zo%C3%AB&empty="
    event_id, response = deliver(base_url, unique_id, body, "application/x-www-form-urlencoded")

    assert response.status_code == 200
    assert event_doc(db, ENDPOINT, event_id)["payload"] == {"tag": ["a", "b"], "name": "Zoë", "empty": ""}
    expected = parse_body(body, "application/x-www-form-urlencoded")
    assert worker_saw(db, event_id)["sha256"] == digest_of(expected)


def test_large_body_split_into_chunks(base_url, db, unique_id):
    payload = {"items": [{"sku": f"SKU-{i}", "note": "x" * 200} for i in range(7000)]}
    body = json.dumps(payload).encode()
    assert 1_048_576 < len(body) < 3_145_728

    event_id, response = deliver(base_url, unique_id, body)

    assert response.status_code == 200
    event = event_doc(db, ENDPOINT, event_id)
    assert event["payloadChunks"] == 2
    assert event["payloadBytes"] == len(body)
    assert event["payloadSha256"] == hashlib.sha256(body).hexdigest()
    assert worker_saw(db, event_id)["sha256"] == digest_of(payload)


def test_body_over_limit_is_413(base_url, db, functions_log, unique_id):
    body = b'{"pad": "' + b"x" * 3_200_000 + b'"}'
    event_id, response = deliver(base_url, unique_id, body)

    assert response.status_code == 413
    assert response.json()["maxBodyBytes"] == 3145728
    assert event_doc(db, ENDPOINT, event_id) is None
    assert any(line.get("reason") == "body_too_large" for line in functions_log())


def test_invalid_utf8_is_400_with_raw_bytes(base_url, db):
    body = b'{"name": "\xff\xfe broken"}'
    response = post_token(base_url, ENDPOINT, body, **{"X-Event-Id": "ignored"})

    assert response.status_code == 400
    assert response.json()["reason"] == "body_not_utf8"
    stored = event_doc(db, ENDPOINT, response.json()["eventId"])
    assert stored["status"] == "invalid"
    import base64
    assert base64.b64decode(stored["payloadBase64"]) == body


def test_nesting_beyond_parser_is_400(base_url, db):
    body = b"[" * 5000 + b"]" * 5000
    response = post_token(base_url, ENDPOINT, body, **{"X-Event-Id": "deep"})

    assert response.status_code == 400
    assert response.json()["reason"] == "body_too_deep"
    assert event_doc(db, ENDPOINT, response.json()["eventId"])["status"] == "invalid"


def test_missing_event_id_header_is_422(base_url, db):
    response = requests.post(f"{base_url}/{ENDPOINT}", data=b'{"a": 1}', timeout=10,
                             headers={"Authorization": "Bearer token-for-acehooks-tests",
                                      "Content-Type": "application/json"})

    assert response.status_code == 422
    assert response.json()["reason"] == "event_id_missing"
