"""Property tests over ingest: random bodies, headers, encodings and sizes never make acehooks fail.

Every response has one of the statuses the design lists for bad input, never
a 5xx; no request that fails authentication stores anything; and the
functions log no unexpected error.
"""

import json

import pytest
import requests
from google.cloud.firestore_v1.base_query import FieldFilter
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=12), children, max_size=5),
    max_leaves=30,
)
BODIES = st.one_of(
    st.binary(max_size=2048),
    JSON_VALUES.map(lambda value: json.dumps(value).encode()),
    st.text(max_size=500).map(lambda text: text.encode("utf-8", "surrogatepass")),
)
CONTENT_TYPES = st.sampled_from([
    "application/json", "application/json; charset=utf-8", "application/x-www-form-urlencoded",
    "text/plain", "multipart/form-data; boundary=x", "", "application/octet-stream",
])
# requests rejects header values with leading or trailing spaces before sending, so they are stripped.
HEADER_VALUES = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=80).map(str.strip)
ALLOWED_UNAUTHENTICATED = {401, 403, 405, 413}
ALLOWED_AUTHENTICATED = {200, 400, 413, 422}
FUZZ_SETTINGS = settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck))


@pytest.fixture(scope="module", autouse=True)
def log_start(stack):
    """Remember where the functions log stood before this module's requests."""
    path = stack.log_dir / "functions.log"
    return path.stat().st_size if path.exists() else 0


def stored_count(db, endpoint: str) -> int:
    query = db.collection("webhook_events").where(filter=FieldFilter("endpoint", "==", endpoint))
    return query.count().get()[0][0].value


@FUZZ_SETTINGS
@given(endpoint=st.sampled_from(["stripe_webhook", "test_hmac", "test_payloads"]), body=BODIES,
       content_type=CONTENT_TYPES, authorization=HEADER_VALUES, signature=HEADER_VALUES, method=st.sampled_from(["POST", "PUT", "GET"]))
def test_unauthenticated_requests_store_nothing(base_url, db, endpoint, body, content_type, authorization, signature, method):
    before = stored_count(db, endpoint)
    headers = {"Content-Type": content_type, "Authorization": authorization, "Stripe-Signature": signature,
               "X-Signature": signature, "X-Timestamp": signature[:12]}

    response = requests.request(method, f"{base_url}/{endpoint}", data=body, headers=headers, timeout=30)

    assert response.status_code in ALLOWED_UNAUTHENTICATED, response.text
    assert stored_count(db, endpoint) == before


@FUZZ_SETTINGS
@given(body=BODIES, content_type=CONTENT_TYPES, event_id=HEADER_VALUES)
def test_authenticated_random_bodies_never_5xx(base_url, body, content_type, event_id):
    headers = {"Content-Type": content_type, "Authorization": "Bearer token-for-acehooks-tests", "X-Event-Id": event_id}

    response = requests.post(f"{base_url}/test_payloads", data=body, headers=headers, timeout=30)

    assert response.status_code in ALLOWED_AUTHENTICATED, response.text
    assert response.headers["Content-Type"] == "application/json"


def test_fuzz_left_no_unexpected_error(stack, log_start):
    """Runs after the property tests in this module: the functions logged no internal error during them."""
    with open(stack.log_dir / "functions.log", "rb") as file:
        file.seek(log_start)
        log = file.read().decode(errors="replace")
    lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]

    assert [line for line in lines if line.get("reason") == "internal_error"] == []
    assert "Traceback" not in log
