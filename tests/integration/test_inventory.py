"""The inventory example end to end: an ERP posts stock levels and adjustments to erp_inventory.

functions/endpoints/erp_inventory.json updates ``products/{productId}``: a
``stock.level`` event sets the quantity (older sequences are skipped), a
``stock.adjustment`` event increments it by ``delta``, once per event.
An app receives the change through a Firestore listener, as FlutterFlow does.
"""

import json
import os
import subprocess
import sys
import threading

import pytest
import requests

from acehooks import ids
from acehooks.seeds import load_seeds, seed_emulator
from conftest import ROOT, wait_for
from helpers import event_doc, event_ref, post_token

ENDPOINT = "erp_inventory"
LISTENER_TIMEOUT_SECONDS = 20.0


def post_erp(base_url, payload):
    return post_token(base_url, ENDPOINT, payload, token=os.environ["ERP_TOKEN"])


def settled(db, event_id, timeout=30):
    return wait_for(lambda: (event_doc(db, ENDPOINT, event_id) or {}).get("status") in ("succeeded", "failed")
                    and event_doc(db, ENDPOINT, event_id), timeout=timeout)


def worker_post(base_url, doc_id):
    headers = {"Content-Type": "application/json", "X-Acehooks-Worker-Secret": os.environ["ACEHOOKS_WORKER_SECRET"]}
    return requests.post(f"{base_url}/process_event", json={"endpoint": ENDPOINT, "docId": doc_id},
                         headers=headers, timeout=60)


def acehooks_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "acehooks", *args], cwd=ROOT, env=dict(os.environ),
                          capture_output=True, text=True, timeout=60)


def adjustment(event_id: str, product_id: str, delta: int, warehouse: str = "BER-1") -> dict:
    return {"eventId": event_id, "type": "stock.adjustment", "sequence": 1, "warehouse": warehouse,
            "productId": product_id, "delta": delta, "reason": "sale"}


def level(event_id: str, product_id: str, quantity, sequence: int, warehouse: str = "BER-1") -> dict:
    return {"eventId": event_id, "type": "stock.level", "sequence": sequence, "warehouse": warehouse,
            "productId": product_id, "quantity": quantity}


@pytest.fixture
def product(db, tmp_path, unique_id) -> str:
    """Seed one product with quantity 40 through load_seeds and return its id."""
    product_id = f"SKU-{unique_id}"
    seeds = tmp_path / "seeds.json"
    seeds.write_text(json.dumps({f"products/{product_id}": {"sku": product_id, "name": "Test beans", "quantity": 40}}))
    assert load_seeds(db, seeds) == [f"products/{product_id}"]
    return product_id


class QuantityListener:
    """Listen to one product document and keep every quantity it reports, as an app's listener would."""

    def __init__(self, ref):
        self.quantities: list = []
        self.changed = threading.Condition()
        self.watch = ref.on_snapshot(self._on_snapshot)

    def _on_snapshot(self, snapshots, changes, read_time):
        with self.changed:
            for snapshot in snapshots:
                self.quantities.append(snapshot.get("quantity") if snapshot.exists else None)
            self.changed.notify_all()

    def wait_for(self, quantity) -> None:
        with self.changed:
            assert self.changed.wait_for(lambda: quantity in self.quantities, timeout=LISTENER_TIMEOUT_SECONDS), (
                f"listener saw {self.quantities}, never {quantity}")

    def close(self) -> None:
        self.watch.unsubscribe()


@pytest.fixture
def listener(db, product):
    watching = QuantityListener(db.document(f"products/{product}"))
    watching.wait_for(40)
    yield watching
    watching.close()


def test_listener_sees_adjustment(base_url, db, product, listener, unique_id):
    event_id = f"adj-{unique_id}"

    response = post_erp(base_url, adjustment(event_id, product, -3))

    assert response.status_code == 200
    listener.wait_for(37)
    event = settled(db, event_id)
    assert event["status"] == "succeeded"
    assert event["actions"]["stockAdjustment"]["result"]["transforms"] == {
        "quantity": "increment", "stockUpdatedAt": "serverTimestamp", "warehouses": "arrayUnion"}
    assert event["actions"]["stockLevel"]["status"] == "skipped"
    stored = db.document(f"products/{product}").get().to_dict()
    assert stored["quantity"] == 37
    assert stored["warehouses"] == ["BER-1"]
    assert stored["stockEventId"] == event_id
    assert stored["stockUpdatedAt"] is not None
    assert stored["name"] == "Test beans"


def test_redelivered_adjustment_applies_once(base_url, db, product, listener, functions_log, unique_id):
    event_id = f"redo-{unique_id}"
    doc_id = ids.event_doc_id(ENDPOINT, event_id)
    assert post_erp(base_url, adjustment(event_id, product, -5)).status_code == 200
    listener.wait_for(35)
    assert settled(db, event_id)["status"] == "succeeded"

    duplicate = post_erp(base_url, adjustment(event_id, product, -5))
    redelivered = worker_post(base_url, doc_id)
    # A worker that never saw the action's record, such as one whose lease was taken over mid-run.
    event_ref(db, ENDPOINT, event_id).update({"status": "retrying", "actions": {}})
    stale = worker_post(base_url, doc_id)

    assert duplicate.json() == {"status": "duplicate", "eventId": event_id}
    assert redelivered.json() == {"status": "succeeded"}
    assert stale.json() == {"status": "succeeded"}
    assert db.document(f"products/{product}").get().get("quantity") == 35
    assert [line for line in functions_log() if line.get("reason") == "effect_exists"
            and line.get("eventId") == event_id and line.get("action") == "stockAdjustment"]
    assert 30 not in listener.quantities


def test_replay_skips_done_adjustment(base_url, db, product, unique_id):
    event_id = f"replay-{unique_id}"
    assert post_erp(base_url, adjustment(event_id, product, 2)).status_code == 200
    assert settled(db, event_id)["status"] == "succeeded"

    replayed = acehooks_cli("replay", ids.event_doc_id(ENDPOINT, event_id))

    assert replayed.returncode == 0, replayed.stderr
    event = wait_for(lambda: (event_doc(db, ENDPOINT, event_id) or {}).get("replayCount") == 1
                     and event_doc(db, ENDPOINT, event_id)["status"] == "succeeded"
                     and event_doc(db, ENDPOINT, event_id))
    assert event["actions"]["stockAdjustment"]["attempt"] == 1
    assert db.document(f"products/{product}").get().get("quantity") == 42


def test_replay_of_all_actions_applies_adjustment_again(base_url, db, product, unique_id):
    # Documented behaviour: --all-actions runs every action again, increments included.
    event_id = f"replayall-{unique_id}"
    assert post_erp(base_url, adjustment(event_id, product, 2)).status_code == 200
    assert settled(db, event_id)["status"] == "succeeded"

    replayed = acehooks_cli("replay", "--all-actions", ids.event_doc_id(ENDPOINT, event_id))

    assert replayed.returncode == 0, replayed.stderr
    wait_for(lambda: (event_doc(db, ENDPOINT, event_id) or {}).get("replayCount") == 1
             and event_doc(db, ENDPOINT, event_id)["status"] == "succeeded")
    assert db.document(f"products/{product}").get().get("quantity") == 44


def test_level_sets_quantity_and_skips_older(base_url, db, product, listener, unique_id):
    assert post_erp(base_url, level(f"l5-{unique_id}", product, 30, sequence=5, warehouse="HAM-2")).status_code == 200
    listener.wait_for(30)
    assert settled(db, f"l5-{unique_id}")["status"] == "succeeded"

    assert post_erp(base_url, level(f"l4-{unique_id}", product, 99, sequence=4)).status_code == 200
    stale = settled(db, f"l4-{unique_id}")

    assert stale["actions"]["stockLevel"]["status"] == "skipped"
    assert stale["actions"]["stockLevel"]["result"]["reason"] == "out_of_order"
    stored = db.document(f"products/{product}").get().to_dict()
    assert stored["quantity"] == 30
    assert stored["stockSequence"] == 5
    assert stored["warehouses"] == ["HAM-2"]
    assert 99 not in listener.quantities


def test_unknown_product_fails_at_once(base_url, db, unique_id):
    event_id = f"unknown-{unique_id}"
    product_id = f"SKU-missing-{unique_id}"

    assert post_erp(base_url, adjustment(event_id, product_id, 1)).status_code == 200
    event = settled(db, event_id)

    assert event["status"] == "failed"
    assert event["attempts"] == 1
    assert event["lastError"] == (f"PermanentError: document products/{product_id} not found; write 'update' changes "
                                  "existing documents only, so create it first or use write 'merge'")
    assert not db.document(f"products/{product_id}").get().exists


def test_level_without_quantity_fails_at_once(base_url, db, product, unique_id):
    event_id = f"noqty-{unique_id}"

    assert post_erp(base_url, level(event_id, product, None, sequence=9)).status_code == 200
    event = settled(db, event_id)

    assert event["status"] == "failed"
    assert event["lastError"] == ("PermanentError: action stockLevel requires model fields quantity, which this "
                                  "event lacks or sets to null")
    assert db.document(f"products/{product}").get().get("quantity") == 40


def test_wrong_token_rejected(base_url, db, product, unique_id):
    response = post_token(base_url, ENDPOINT, adjustment(f"bad-{unique_id}", product, -1), token="not-the-erp-token")

    assert response.status_code == 401
    assert event_doc(db, ENDPOINT, f"bad-{unique_id}") is None


def test_sample_batch_with_seeds(base_url, db):
    # The repository's own seeds and sample, sent the way `acehooks send` sends them; only this test uses them.
    assert "products/SKU-1001" in load_seeds(db, ROOT / "emulator_data" / "seeds.json")
    assert load_seeds(db, ROOT / "emulator_data" / "seeds.json")  # a second load writes the same documents

    sent = acehooks_cli("send", ENDPOINT, "emulator_data/erp_inventory/stock-levels.json", "--url", base_url)

    assert sent.returncode == 0, sent.stdout + sent.stderr
    answer = json.loads(sent.stdout.split("\n", 1)[1])
    assert answer["status"] == "batch"
    assert [event["status"] for event in answer["events"]] == ["accepted", "accepted"]
    for event_id in ("erp-stock-2025-01-15-000101", "erp-stock-2025-01-15-000102"):
        assert settled(db, event_id)["status"] == "succeeded"
    first = db.document("products/SKU-1001").get().to_dict()
    second = db.document("products/SKU-1002").get().to_dict()
    assert first["quantity"] == 37
    assert first["name"] == "Espresso beans, 1 kg"
    assert second["quantity"] == 118
    assert second["stockSequence"] == 102


def test_seed_emulator_for_dev(db, tmp_path, unique_id):
    seeds = tmp_path / "seeds.json"
    seeds.write_text(json.dumps({f"products/DEV-{unique_id}": {"quantity": 3}}))
    host, project = os.environ["FIRESTORE_EMULATOR_HOST"], os.environ["ACEHOOKS_PROJECT"]

    assert seed_emulator(host, project, seeds) == [f"products/DEV-{unique_id}"]
    assert seed_emulator(host, project, tmp_path / "absent.json") == []
    assert db.document(f"products/DEV-{unique_id}").get().to_dict() == {"quantity": 3}
    assert os.environ["FIRESTORE_EMULATOR_HOST"] == host
