"""Ingest latency and throughput: the product's stripe_webhook against the bare baseline in the same process.

Both queues are paused for the whole run, so the tasks each request creates
wait in the Cloud Tasks emulator and no worker competes for the two cores.
Each concurrency gets a fresh stack, because the Firestore emulator's cost per
write grows with the number of documents it holds.
Rounds of at least 100 requests alternate baseline, product, product,
baseline (ABBA), repeated until each handler has sent its share, so drift in
the machine's background load falls on both handlers alike. A third handler,
the bare receiver storing the product's larger event document, joins the
rotation unless --no-diagnostic is given: it separates the cost of the
document from the cost of acehooks' code.

Run from the repository root: ``.venv/bin/python bench/ingest.py [--events N] [--concurrency 1 8 32]``.
"""

import argparse
import time

from common import (BASELINE_QUEUE, BENCH_PORTS, PRODUCT_QUEUE, LoadResult, git_revision, machine,
                    process_tree_cpu_seconds, run_load, set_queue_state, signed_requests, start_stack, summarize,
                    write_result)

HANDLERS = {"baseline": "/baseline_ingest", "product": "/stripe_webhook"}
# Unless --no-diagnostic: the bare receiver storing the product's document, separating document size from code.
DIAGNOSTIC = {"baseline_product_document": "/baseline_ingest_product_document"}
ROUND_ORDER = ("baseline", "product", "product", "baseline")
COMPONENTS = ("functions", "firestore", "tasks")
WARMUP_REQUESTS = 40
MIN_ROUND_REQUESTS = 100
ROUND_REQUESTS_PER_CLIENT = 8


def cpu_by_component(stack) -> dict[str, float]:
    return {name: process_tree_cpu_seconds(stack.processes[name].pid) for name in COMPONENTS}


def measure(stack, events: int, concurrencies: list[int], run_id: str, deadline_seconds: float,
            handlers: dict[str, str], round_order: tuple[str, ...]) -> dict:
    secret = stack.env["STRIPE_WEBHOOK_SECRET"]
    port = BENCH_PORTS["functions"]
    results = {}
    for concurrency in concurrencies:
        # Short rounds, repeated in the ABBA order, so a burst of background load lands on every handler.
        round_size = max(MIN_ROUND_REQUESTS, ROUND_REQUESTS_PER_CLIENT * concurrency)
        cycles = max(1, round(events / (round_size * round_order.count(round_order[0]))))
        for name, path in handlers.items():
            warmup = signed_requests(f"{run_id}w{concurrency}{name}", WARMUP_REQUESTS, secret)
            run_load(port, path, warmup, concurrency)

        totals = {name: LoadResult() for name in handlers}
        cpu = {name: dict.fromkeys(COMPONENTS, 0.0) for name in handlers}
        for round_number, name in enumerate(round_order * cycles):
            # Signed just before sending, so every timestamp is well inside Stripe's 300 s tolerance.
            batch = signed_requests(f"{run_id}c{concurrency}r{round_number}{name}", round_size, secret)
            cpu_before = cpu_by_component(stack)
            outcome = run_load(port, handlers[name], batch, concurrency, deadline_seconds=deadline_seconds)
            cpu_after = cpu_by_component(stack)
            for component in COMPONENTS:
                cpu[name][component] += cpu_after[component] - cpu_before[component]
            totals[name].merge(outcome)
            if outcome.statuses.keys() != {200} or outcome.errors:
                print(f"  c={concurrency} {name} round {round_number}: statuses {outcome.statuses}, "
                      f"errors {outcome.errors}", flush=True)

        results[str(concurrency)] = {
            name: {**summarize(total.latencies),
                   "requests_per_second": round(len(total.latencies) / total.elapsed_seconds, 1),
                   "cpu_ms_per_request": {component: round(seconds * 1000 / max(1, len(total.latencies)), 3)
                                          for component, seconds in cpu[name].items()},
                   "statuses": {str(status): count for status, count in total.statuses.items()},
                   "errors": total.errors}
            for name, total in totals.items()
        }
        product, baseline = results[str(concurrency)]["product"], results[str(concurrency)]["baseline"]
        results[str(concurrency)]["ratios"] = {
            "p50": round(product["p50_ms"] / baseline["p50_ms"], 3),
            "p95": round(product["p95_ms"] / baseline["p95_ms"], 3),
            "p99": round(product["p99_ms"] / baseline["p99_ms"], 3),
            "throughput": round(product["requests_per_second"] / baseline["requests_per_second"], 3),
        }
        print(f"c={concurrency}: {results[str(concurrency)]['ratios']}", flush=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2000, help="measured requests per handler and concurrency")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32], help="client threads")
    parser.add_argument("--deadline", type=float, default=180.0, help="seconds after which a round stops early")
    parser.add_argument("--no-diagnostic", dest="diagnostic", action="store_false",
                        help="leave out the third handler, the bare receiver storing the product's document")
    parser.add_argument("--output", default="ingest", help="name of the results file in bench/results")
    parser.add_argument("--acehooks-log-level", default=None,
                        help="diagnostic: log level of the acehooks logger in the functions process (default INFO)")
    args = parser.parse_args()

    handlers = dict(HANDLERS)
    round_order = ROUND_ORDER
    if args.diagnostic:
        handlers.update(DIAGNOSTIC)
        round_order = ("baseline", "product", "baseline_product_document",
                       "baseline_product_document", "product", "baseline")

    info = machine()
    started = time.time()
    results = {}
    for concurrency in args.concurrency:
        # A fresh stack per concurrency: the emulator's cost per write grows with the documents it holds.
        functions_env = {"BENCH_ACEHOOKS_LOG_LEVEL": args.acehooks_log_level} if args.acehooks_log_level else {}
        stack = start_stack(functions_env=functions_env)
        try:
            for queue in (PRODUCT_QUEUE, BASELINE_QUEUE):
                set_queue_state(queue, running=False)
            run_id = time.strftime("%H%M%S")
            results.update(measure(stack, args.events, [concurrency], run_id, args.deadline, handlers, round_order))
        finally:
            stack.stop()
    path = write_result(args.output, {
        "script": "bench/ingest.py", "revision": git_revision(), "machine": info,
        "events_per_handler": args.events, "duration_seconds": round(time.time() - started, 1),
        "worker": "both queues paused in the Cloud Tasks emulator; no task was dispatched",
        "acehooks_log_level": args.acehooks_log_level or "INFO",
        "results": results,
    })
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
