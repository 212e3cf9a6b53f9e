"""Outages while deliveries arrive: no delivery that got a 200 response is lost, none is processed twice.

A second functions process reaches Firestore and Cloud Tasks through TCP
proxies that each test takes down for a while. The npm Firestore emulator
keeps its data only in memory, so stopping it would erase what real
Firestore keeps; cutting the network to it is the faithful outage.
"""

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from acehooks import operations, runtime
from conftest import PORT_BASE, ROOT
from faults import TcpProxy
from helpers import event_doc

DELIVERIES = 200
SENDER_THREADS = 8
SENDER_TRIES = 60  # a provider retries for days; this sender retries 60 times, 0.25 s apart
OUTAGE_SECONDS = 6.0  # longer than the 2 s call timeouts the fault stack sets
REPORT = ROOT / ".acehooks" / "fault-report.json"


@pytest.fixture(scope="module")
def fault_stack(stack):
    """A functions process whose Firestore and Cloud Tasks connections pass through proxies."""
    from acehooks.localstack import LocalStack, Ports

    firestore_proxy = TcpProxy(PORT_BASE + 581, stack.ports.firestore)
    tasks_proxy = TcpProxy(PORT_BASE + 591, stack.ports.tasks)
    firestore_proxy.up()
    tasks_proxy.up()

    functions_port = PORT_BASE + 501
    fault = LocalStack(ROOT, ports=Ports(functions=functions_port, firestore=stack.ports.firestore,
                                         tasks=stack.ports.tasks, mail=stack.ports.mail),
                       log_dir=stack.log_dir / "fault")
    fault.env = dict(stack.env)
    fault.functions_env = {
        "FIRESTORE_EMULATOR_HOST": f"127.0.0.1:{firestore_proxy.port}",
        "CLOUD_TASKS_EMULATOR_HOST": f"127.0.0.1:{tasks_proxy.port}",
        "ACEHOOKS_WORKER_URL": f"http://127.0.0.1:{functions_port}/process_event",
        "ACEHOOKS_FIRESTORE_TIMEOUT_SECONDS": "2",
        "ACEHOOKS_TASKS_TIMEOUT_SECONDS": "2",
    }
    fault.start_functions()
    yield fault, firestore_proxy, tasks_proxy
    fault.stop()
    firestore_proxy.down()
    tasks_proxy.down()


def deliver_all(url: str, prefix: str, proxy: TcpProxy, token: str) -> dict[str, list[int]]:
    """Send DELIVERIES events, cutting ``proxy`` for OUTAGE_SECONDS once a third are accepted."""
    answers: dict[str, list[int]] = {}
    accepted = threading.Semaphore(0)

    def outage():
        for _ in range(DELIVERIES // 3):
            accepted.acquire()
        proxy.down()
        time.sleep(OUTAGE_SECONDS)
        proxy.up()

    def send(index: int) -> None:
        event_id = f"{prefix}-{index}"
        body = {"id": event_id, "email": f"{event_id}@example.com", "failTimes": 0}
        statuses = answers.setdefault(event_id, [])
        for _ in range(SENDER_TRIES):
            try:
                response = requests.post(url, json=body, headers={"Authorization": f"Bearer {token}"}, timeout=15)
                statuses.append(response.status_code)
                if response.status_code == 200:
                    accepted.release()
                    return
            except requests.RequestException:
                statuses.append(0)
            time.sleep(0.25)

    cutter = threading.Thread(target=outage)
    cutter.start()
    with ThreadPoolExecutor(SENDER_THREADS) as pool:
        list(pool.map(send, range(DELIVERIES)))
    cutter.join(timeout=60)
    return answers


def settle(db, event_ids: list[str], deadline_seconds: float = 120) -> dict[str, dict]:
    """Wait until every event succeeded, running the sweeper for stuck ones as production would."""
    configs = runtime.load_all_endpoints()
    deadline = time.monotonic() + deadline_seconds
    documents = {}
    while time.monotonic() < deadline:
        documents = {event_id: event_doc(db, "test_fault", event_id) for event_id in event_ids}
        if all(doc and doc["status"] == "succeeded" for doc in documents.values()):
            break
        operations.sweep(configs, older_than_seconds=3)
        time.sleep(2)
    return documents


def check_outage(fault_stack, db, mail, name: str, proxy_index: int, unique_id: str) -> dict:
    fault, *proxies = fault_stack
    prefix = f"{name}-{unique_id}"
    answers = deliver_all(f"{fault.functions_url}/test_fault", prefix, proxies[proxy_index], "token-for-acehooks-tests")

    answered_200 = [event_id for event_id, statuses in answers.items() if statuses and statuses[-1] == 200]
    documents = settle(db, answered_200)
    succeeded = [event_id for event_id, doc in documents.items() if doc and doc["status"] == "succeeded"]
    emails = {event_id: len(mail.messages(to=f"{event_id}@example.com")) for event_id in answered_200}
    figures = {
        "deliveries": DELIVERIES,
        "answered_200": len(answered_200),
        "answers_503": sum(statuses.count(503) for statuses in answers.values()),
        "connection_errors": sum(statuses.count(0) for statuses in answers.values()),
        "succeeded": len(succeeded),
        "events_emailed_twice": sum(1 for count in emails.values() if count > 1),
        "events_with_more_than_one_attempt": sum(1 for doc in documents.values() if doc and doc["attempts"] > 1),
    }
    report = json.loads(REPORT.read_text()) if REPORT.exists() else {}
    report[name] = figures
    REPORT.write_text(json.dumps(report, indent=2))
    print(name, figures)

    assert figures["answered_200"] == DELIVERIES
    assert figures["answers_503"] + figures["connection_errors"] > 0, "the outage produced no failed delivery"
    assert sorted(succeeded) == sorted(answered_200)
    assert all(count == 1 for count in emails.values()), {k: v for k, v in emails.items() if v != 1}
    return figures


def test_firestore_outage_loses_nothing(fault_stack, db, mail, unique_id):
    check_outage(fault_stack, db, mail, "firestore_outage", 0, unique_id)


def test_cloud_tasks_outage_loses_nothing(fault_stack, db, mail, unique_id):
    check_outage(fault_stack, db, mail, "cloud_tasks_outage", 1, unique_id)
