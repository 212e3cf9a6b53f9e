"""The worker on the local stack rejects callers without the shared secret and leaves the event alone."""

import pytest
import requests

from acehooks import events, ids
from conftest import wait_for

ENDPOINT = "test_hmac"  # its one action writes test_stock/{sku}
SECRET_HEADER = "X-Acehooks-Worker-Secret"


@pytest.fixture
def worker_secret(stack) -> str:
    return stack.env["ACEHOOKS_WORKER_SECRET"]


@pytest.fixture
def raw_functions_log(stack):
    """Read the functions' log text written during this test, JSON or not."""
    path = stack.log_dir / "functions.log"
    start = path.stat().st_size if path.exists() else 0

    def read() -> str:
        with open(path, "rb") as log:
            log.seek(start)
            return log.read().decode(errors="replace")

    return read


@pytest.fixture
def event(db, unique_id):
    """Store a received event directly, with no task queued, so only the test's requests reach it."""
    event_id = f"worker-auth-{unique_id}"
    sku = f"sku-{unique_id}"
    ref = db.collection("webhook_events").document(ids.event_doc_id(ENDPOINT, event_id))
    ref.create(events.new_event(ENDPOINT, event_id, None, events.RECEIVED, retention_days=1,
                                model={"sku": sku, "quantity": 3},
                                payload={"item": {"sku": sku, "quantity": 3}, "warehouse": "north"},
                                contentType="application/json"))
    return ref


def post_task(base_url: str, event, headers: dict | None = None) -> requests.Response:
    return requests.post(f"{base_url}/process_event", json={"endpoint": ENDPOINT, "docId": event.id},
                         headers=headers or {}, timeout=30)


def rejections(functions_log, reason: str) -> list[dict]:
    return [line for line in functions_log() if line.get("reason") == reason]


def test_task_without_secret_rejected(base_url, db, event, functions_log, raw_functions_log, worker_secret):
    before = event.get()

    response = post_task(base_url, event)

    assert response.status_code == 401
    assert response.json() == {"error": "unauthorized"}
    after = event.get()
    assert after.to_dict() == before.to_dict()
    assert after.update_time == before.update_time
    assert list(event.collection("claims").stream()) == []
    assert not db.collection("test_stock").document(before.get("model")["sku"]).get().exists

    logged = wait_for(lambda: rejections(functions_log, "worker_secret_missing"))
    assert logged[0]["severity"] == "WARNING"
    assert logged[0]["status"] == 401
    assert worker_secret not in raw_functions_log()


def test_task_with_wrong_secret_rejected(base_url, db, event, functions_log, raw_functions_log, worker_secret):
    wrong = "wrong-worker-secret-7c2e"
    before = event.get()

    response = post_task(base_url, event, {SECRET_HEADER: wrong})

    assert response.status_code == 401
    assert response.json() == {"error": "unauthorized"}
    after = event.get()
    assert after.to_dict() == before.to_dict()
    assert after.update_time == before.update_time
    assert list(event.collection("claims").stream()) == []

    logged = wait_for(lambda: rejections(functions_log, "worker_secret_mismatch"))
    assert logged[0]["status"] == 401
    text = raw_functions_log()
    assert worker_secret not in text
    assert wrong not in text


def test_task_with_empty_secret_rejected(base_url, event, functions_log):
    before = event.get()

    response = post_task(base_url, event, {SECRET_HEADER: ""})

    assert response.status_code == 401
    assert event.get().update_time == before.update_time
    assert wait_for(lambda: rejections(functions_log, "worker_secret_missing"))


def test_task_with_secret_runs(base_url, db, event, worker_secret):
    sku = event.get().get("model")["sku"]

    response = post_task(base_url, event, {SECRET_HEADER: worker_secret})

    assert response.status_code == 200
    assert response.json() == {"status": "succeeded"}
    assert event.get().get("status") == "succeeded"
    assert db.collection("test_stock").document(sku).get().to_dict() == {
        "quantity": 3, "source": "erp", "rawWarehouse": "north",
    }
