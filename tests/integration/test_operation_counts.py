"""Firestore and Cloud Tasks operations per Stripe checkout event, counted in the functions process.

A second functions process serves the same configs under ``python -m
acehooks.opcount``, which records every RPC the Firestore and Cloud Tasks
clients make (reads and writes as Firestore bills them). Its tasks target its
own worker, so one event's ingest and worker operations all land in its file.
The counts are exact: a change that adds an operation per event fails here,
and the numbers in docs/benchmarks.md change with them.
"""

import json
import os
import signal
import subprocess
import sys

import pytest

from acehooks import ids, opcount
from acehooks.localstack import wait_for_port
from conftest import PORT_BASE, ROOT, wait_for
from helpers import event_doc, post_stripe, stripe_event

COUNTING_PORT = PORT_BASE + 401
ENDPOINT = "stripe_webhook"


@pytest.fixture(scope="module")
def counting(stack, tmp_path_factory):
    """Start the counting functions process; yield its base URL and counts file."""
    counts_file = tmp_path_factory.mktemp("opcount") / "operations.jsonl"
    counts_file.touch()
    url = f"http://127.0.0.1:{COUNTING_PORT}"
    env = {**stack.env, "ACEHOOKS_COUNT_OPS": "1", "ACEHOOKS_COUNT_OPS_FILE": str(counts_file),
           "ACEHOOKS_WORKER_URL": f"{url}/process_event"}
    log_path = stack.log_dir / "functions-opcount.log"
    command = [sys.executable, "-m", "acehooks.opcount", "--target", "acehooks_local",
               "--source", str(ROOT / "functions" / "main.py"), "--host", "127.0.0.1", "--port", str(COUNTING_PORT)]
    with open(log_path, "ab") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        wait_for_port(COUNTING_PORT, process, "counting functions", log_path)
        yield url, counts_file
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=10)


class Recorder:
    """Read the operations recorded since this recorder was made."""

    def __init__(self, path):
        self.path = path
        self.offset = path.stat().st_size

    def entries(self) -> list[dict]:
        with open(self.path, "rb") as file:
            file.seek(self.offset)
            lines = file.read().decode().splitlines()
        return [json.loads(line) for line in lines if line.strip()]


def written_documents(entries: list[dict], path: str) -> list[str]:
    return [name for entry in entries if entry["path"] == path for name in entry.get("documents", [])
            if entry["writes"]]


def deliver_and_settle(url: str, db, event_id: str, email: str) -> dict:
    response = post_stripe(url, stripe_event(event_id, email))
    assert response.status_code == 200
    assert response.json()["status"] == "accepted"
    return wait_for(lambda: (event_doc(db, ENDPOINT, event_id) or {}).get("status") == "succeeded"
                    and event_doc(db, ENDPOINT, event_id), timeout=60)


def test_ingest_costs_one_write_and_one_task(counting, db, unique_id):
    url, counts_file = counting
    recorder = Recorder(counts_file)

    deliver_and_settle(url, db, f"evt_ops_{unique_id}", f"ops-{unique_id}@example.com")
    ingest = opcount.totals(recorder.entries(), f"/{ENDPOINT}")

    assert ingest["firestore_writes"] == 1
    assert ingest["firestore_reads"] == 0
    assert ingest["firestore_calls"] == 1
    assert ingest["tasks_calls"] == 1


def test_worker_costs_one_read_and_seven_writes(counting, db, unique_id):
    url, counts_file = counting
    recorder = Recorder(counts_file)
    event_id = f"evt_opw_{unique_id}"
    doc_id = ids.event_doc_id(ENDPOINT, event_id)

    deliver_and_settle(url, db, event_id, f"opw-{unique_id}@example.com")
    entries = recorder.entries()
    worker = opcount.totals(entries, "/process_event")

    assert worker["firestore_reads"] == 1
    assert worker["firestore_writes"] == 7
    assert worker["firestore_calls"] == 4  # one get, then the claim's batch and one batch per action
    assert worker["tasks_calls"] == 0
    # Of the seven, one is the saveToCloud action's own write. The other six are acehooks' bookkeeping.
    assert sorted(written_documents(entries, "/process_event")) == sorted([
        f"webhook_events/{doc_id}/claims/1",
        f"webhook_events/{doc_id}",
        f"webhook_events/{doc_id}/effects/0_saveToCloud",
        f"payments/cs_test_{event_id}",
        f"webhook_events/{doc_id}",
        f"webhook_events/{doc_id}/effects/1_customAction",
        f"webhook_events/{doc_id}",
    ])


def test_counted_writes_exist_in_firestore(counting, db, unique_id):
    url, counts_file = counting
    recorder = Recorder(counts_file)
    event_id = f"evt_opx_{unique_id}"

    deliver_and_settle(url, db, event_id, f"opx-{unique_id}@example.com")
    names = set(written_documents(recorder.entries(), "/process_event"))
    names |= set(written_documents(recorder.entries(), f"/{ENDPOINT}"))

    assert len(names) == 5
    for name in names:
        assert db.document(name).get().exists, name


def test_duplicate_costs_rejected_create_and_read(counting, db, unique_id):
    url, counts_file = counting
    event_id = f"evt_opd_{unique_id}"
    email = f"opd-{unique_id}@example.com"
    deliver_and_settle(url, db, event_id, email)
    recorder = Recorder(counts_file)

    response = post_stripe(url, stripe_event(event_id, email))
    duplicate = opcount.totals(recorder.entries(), f"/{ENDPOINT}")

    assert response.json()["status"] == "duplicate"
    # The create is rejected with ALREADY_EXISTS and the stored status is read. Nothing is enqueued.
    assert duplicate["firestore_calls"] == 2
    assert duplicate["firestore_writes"] == 1
    assert duplicate["firestore_reads"] == 1
    assert duplicate["tasks_calls"] == 0
