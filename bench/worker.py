"""Worker throughput and end-to-end latency of the Stripe example on the local stack.

Worker throughput: events are stored through the product's ingest while the
queue is paused, then the queue is purged and /process_event is called
directly, as Cloud Tasks would call it, at each concurrency. The bare worker
in bench/baseline.py processes a disjoint set of the same events, in short
rounds that alternate baseline, product, product, baseline (ABBA).

End to end: with the queue running, each checkout event is posted to
/stripe_webhook and timed until a Firestore listener (``on_snapshot``) on its
event document receives a snapshot with ``status == "succeeded"``. The Cloud
Tasks emulator dispatches one task at a time per queue and sleeps 100 ms
between passes over its queue (gcloud-tasks-emulator 0.6.2), so these
latencies include that wait.

Run from the repository root: ``.venv/bin/python bench/worker.py``.
"""

import argparse
import json
import threading
import time

from common import (BASELINE_QUEUE, BENCH_PORTS, ENDPOINT, PRODUCT_QUEUE, LoadResult, git_revision, machine,
                    process_tree_cpu_seconds, run_load, set_queue_state, signed_requests, start_stack, summarize,
                    write_result)

HANDLERS = {"baseline": "/baseline_worker", "product": "/process_event"}
ROUND_ORDER = ("baseline", "product", "product", "baseline")
COMPONENTS = ("functions", "firestore", "mail")
LISTENER_TIMEOUT_SECONDS = 30
SNAPSHOT_READY_TIMEOUT_SECONDS = 10
MIN_ROUND_EVENTS = 50
ROUND_EVENTS_PER_CLIENT = 4


def store_received_events(stack, prefix: str, count: int) -> list[str]:
    """Post ``count`` events to the product's ingest while its queue is paused; return their document ids."""
    from acehooks import ids

    batch = signed_requests(prefix, count, stack.env["STRIPE_WEBHOOK_SECRET"])
    outcome = run_load(BENCH_PORTS["functions"], f"/{ENDPOINT}", batch, concurrency=8)
    if outcome.statuses != {200: count}:
        raise RuntimeError(f"storing events failed: statuses {outcome.statuses}, errors {outcome.errors}")
    return [ids.event_doc_id(ENDPOINT, json.loads(body)["id"]) for body, _ in batch]


def task_requests(stack, doc_ids: list[str]) -> list[tuple[bytes, dict]]:
    headers = {"Content-Type": "application/json", "X-Acehooks-Worker-Secret": stack.env["ACEHOOKS_WORKER_SECRET"]}
    return [(json.dumps({"endpoint": ENDPOINT, "docId": doc_id}).encode(), headers) for doc_id in doc_ids]


def measure_worker(stack, counts: dict[int, int], run_id: str) -> dict:
    """Drive both workers at each concurrency; ``counts`` maps concurrency to events per handler."""
    needed = sum(counts.values()) * len(HANDLERS)
    doc_ids = store_received_events(stack, f"{run_id}wk", needed)
    set_queue_state(PRODUCT_QUEUE, running=False, purge=True)
    pool = iter(doc_ids)

    results = {}
    for concurrency, count in counts.items():
        totals = {name: LoadResult() for name in HANDLERS}
        cpu = {name: dict.fromkeys(COMPONENTS, 0.0) for name in HANDLERS}
        round_size = max(MIN_ROUND_EVENTS, ROUND_EVENTS_PER_CLIENT * concurrency)
        cycles = max(1, count // (2 * round_size))
        for round_number, name in enumerate(ROUND_ORDER * cycles):
            batch = task_requests(stack, [next(pool) for _ in range(round_size)])
            before = {component: process_tree_cpu_seconds(stack.processes[component].pid) for component in COMPONENTS}
            outcome = run_load(BENCH_PORTS["functions"], HANDLERS[name], batch, concurrency)
            for component in COMPONENTS:
                cpu[name][component] += process_tree_cpu_seconds(stack.processes[component].pid) - before[component]
            totals[name].merge(outcome)
            if outcome.statuses.keys() != {200} or outcome.errors:
                print(f"  worker c={concurrency} {name} round {round_number}: statuses {outcome.statuses}, "
                      f"errors {outcome.errors}", flush=True)
        results[str(concurrency)] = {
            name: {**summarize(total.latencies),
                   "events_per_second": round(len(total.latencies) / total.elapsed_seconds, 1),
                   "cpu_ms_per_event": {component: round(seconds * 1000 / max(1, len(total.latencies)), 3)
                                        for component, seconds in cpu[name].items()},
                   "statuses": {str(status): count for status, count in total.statuses.items()},
                   "errors": total.errors}
            for name, total in totals.items()
        }
        product, baseline = results[str(concurrency)]["product"], results[str(concurrency)]["baseline"]
        results[str(concurrency)]["ratios"] = {
            "p50": round(product["p50_ms"] / baseline["p50_ms"], 3),
            "p99": round(product["p99_ms"] / baseline["p99_ms"], 3),
            "throughput": round(product["events_per_second"] / baseline["events_per_second"], 3),
        }
        print(f"worker c={concurrency}: {results[str(concurrency)]['ratios']}", flush=True)
    return results


class SucceededWatch:
    """Listen to one event document and note the moment a snapshot shows it succeeded."""

    def __init__(self, ref):
        self.ready = threading.Event()
        self.done = threading.Event()
        self.succeeded_at: float | None = None
        self.watch = ref.on_snapshot(self._on_snapshot)

    def _on_snapshot(self, snapshots, changes, read_time) -> None:
        now = time.perf_counter()
        self.ready.set()
        for snapshot in snapshots:
            if snapshot.exists and snapshot.get("status") == "succeeded" and self.succeeded_at is None:
                self.succeeded_at = now
                self.done.set()

    def close(self) -> None:
        self.watch.unsubscribe()


def timeline(events, doc_ids: list[str]) -> dict:
    """Split each event's life by the emulator's server timestamps: waiting in the queue, then in the worker.

    ``receivedAt`` is the ingest's create, ``claimedAt`` (claims/1) the worker's
    claim and ``completedAt`` the commit that marked it succeeded.
    """
    queued, working = [], []
    for doc_id in doc_ids:
        event = events.document(doc_id).get()
        claim = events.document(doc_id).collection("claims").document("1").get()
        if not (event.exists and claim.exists and event.get("completedAt")):
            continue
        received, claimed, completed = event.get("receivedAt"), claim.get("claimedAt"), event.get("completedAt")
        queued.append((claimed - received).total_seconds())
        working.append((completed - claimed).total_seconds())
    return {"received_to_claimed": summarize(queued), "claimed_to_completed": summarize(working)}


def log_bytes_per_event(log_path, doc_ids: set[str]) -> dict:
    """Count the JSON log lines and bytes the functions wrote about the given events, per event.

    Ingest lines name the event by ``eventId``; the worker's lines carry ``docId``.
    """
    from acehooks import ids

    lines = total_bytes = 0
    with open(log_path, "rb") as log:
        for raw in log:
            if not raw.startswith(b"{"):
                continue
            entry = json.loads(raw)
            doc_id = entry.get("docId") or (ids.event_doc_id(entry["endpoint"], entry["eventId"])
                                            if entry.get("endpoint") and entry.get("eventId") else None)
            if doc_id in doc_ids:
                lines += 1
                total_bytes += len(raw)
    events = max(1, len(doc_ids))
    return {"lines_per_event": round(lines / events, 2), "bytes_per_event": round(total_bytes / events, 1)}


def measure_end_to_end(stack, sequential: int, burst: int, burst_concurrency: int, run_id: str) -> dict:
    """Time POST to a listener seeing ``succeeded``: one event at a time, then a burst posted at once."""
    from acehooks import ids
    from acehooks.clients import firestore_client

    db = firestore_client()
    events = db.collection("webhook_events")
    secret = stack.env["STRIPE_WEBHOOK_SECRET"]
    set_queue_state(PRODUCT_QUEUE, running=True, purge=True)

    latencies, ingest_latencies, timeouts, doc_ids = [], [], 0, []
    for body, headers in signed_requests(f"{run_id}e2e", sequential, secret):
        doc_ids.append(ids.event_doc_id(ENDPOINT, json.loads(body)["id"]))
        watch = SucceededWatch(events.document(doc_ids[-1]))
        watch.ready.wait(SNAPSHOT_READY_TIMEOUT_SECONDS)
        sent = time.perf_counter()
        outcome = run_load(BENCH_PORTS["functions"], f"/{ENDPOINT}", [(body, headers)], concurrency=1)
        ingest_latencies.extend(outcome.latencies)
        if watch.done.wait(LISTENER_TIMEOUT_SECONDS):
            latencies.append(watch.succeeded_at - sent)
        else:
            timeouts += 1
        watch.close()

    phases = timeline(events, doc_ids)
    log_bytes = log_bytes_per_event(stack.log_dir / "functions.log", set(doc_ids))

    burst_requests = signed_requests(f"{run_id}burst", burst, secret)
    watches = [SucceededWatch(events.document(ids.event_doc_id(ENDPOINT, json.loads(body)["id"])))
               for body, _ in burst_requests]
    for watch in watches:
        watch.ready.wait(SNAPSHOT_READY_TIMEOUT_SECONDS)
    sent = time.perf_counter()
    outcome = run_load(BENCH_PORTS["functions"], f"/{ENDPOINT}", burst_requests, burst_concurrency)
    deadline = time.perf_counter() + LISTENER_TIMEOUT_SECONDS + burst  # the emulator dispatches one at a time
    for watch in watches:
        watch.done.wait(max(0.0, deadline - time.perf_counter()))
    burst_latencies = [watch.succeeded_at - sent for watch in watches if watch.succeeded_at is not None]
    for watch in watches:
        watch.close()

    return {
        "sequential": {**summarize(latencies), "timeouts": timeouts,
                       "ingest_response": summarize(ingest_latencies), **phases, "log": log_bytes},
        "burst": {**summarize(burst_latencies), "events": burst, "concurrency": burst_concurrency,
                  "posted_in_seconds": round(outcome.elapsed_seconds, 2),
                  "all_succeeded_after_seconds": round(max(burst_latencies), 2) if burst_latencies else None,
                  "events_per_second_through_pipeline":
                      round(len(burst_latencies) / max(burst_latencies), 1) if burst_latencies else None,
                  "timeouts": burst - len(burst_latencies), "ingest_statuses": outcome.statuses},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker-events", type=int, nargs=3, default=[200, 400, 512], metavar=("C1", "C8", "C32"),
                        help="events per handler at concurrency 1, 8 and 32")
    parser.add_argument("--e2e-events", type=int, default=150, help="events sent one at a time end to end")
    parser.add_argument("--burst-events", type=int, default=100, help="events posted at once end to end")
    parser.add_argument("--burst-concurrency", type=int, default=8, help="client threads for the burst")
    args = parser.parse_args()

    info = machine()
    started = time.time()
    stack = start_stack()
    try:
        for queue in (PRODUCT_QUEUE, BASELINE_QUEUE):
            set_queue_state(queue, running=False)
        run_id = time.strftime("%H%M%S")
        counts = dict(zip((1, 8, 32), args.worker_events))
        worker = measure_worker(stack, counts, run_id)
        end_to_end = measure_end_to_end(stack, args.e2e_events, args.burst_events, args.burst_concurrency, run_id)
        worker_pid = stack.processes["functions"].pid
        path = write_result("worker", {
            "script": "bench/worker.py", "revision": git_revision(), "machine": info,
            "duration_seconds": round(time.time() - started, 1),
            "worker_events_per_handler": {str(c): n for c, n in counts.items()},
            "worker": worker, "end_to_end": end_to_end, "functions_pid": worker_pid,
        })
        print(json.dumps(end_to_end, indent=2))
        print(f"wrote {path}")
    finally:
        stack.stop()


if __name__ == "__main__":
    main()
