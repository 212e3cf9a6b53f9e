"""Ingest latency and throughput: the product's stripe_webhook against the bare baseline in the same process.

Both queues are paused for the whole run, so the tasks each request creates
wait in the Cloud Tasks emulator and no worker competes for the two cores.
Rounds alternate baseline, product, product, baseline (ABBA), so drift in
the machine's background load falls on both handlers alike.

Run from the repository root: ``.venv/bin/python bench/ingest.py [--events N] [--concurrency 1 8 32]``.
"""

import argparse
import time

from common import (BASELINE_QUEUE, BENCH_PORTS, PRODUCT_QUEUE, LoadResult, git_revision, machine, run_load,
                    set_queue_state, signed_requests, start_stack, summarize, write_result)

HANDLERS = {"baseline": "/baseline_ingest", "product": "/stripe_webhook"}
ROUND_ORDER = ("baseline", "product", "product", "baseline")
WARMUP_REQUESTS = 40


def measure(stack, events: int, concurrencies: list[int], run_id: str, deadline_seconds: float) -> dict:
    secret = stack.env["STRIPE_WEBHOOK_SECRET"]
    port = BENCH_PORTS["functions"]
    round_size = max(1, events // 2)  # each handler runs two rounds of ABBA per concurrency
    results = {}
    for concurrency in concurrencies:
        for name, path in HANDLERS.items():
            warmup = signed_requests(f"{run_id}w{concurrency}{name[0]}", WARMUP_REQUESTS, secret)
            run_load(port, path, warmup, concurrency)

        totals = {name: LoadResult() for name in HANDLERS}
        for round_number, name in enumerate(ROUND_ORDER):
            # Signed just before sending, so every timestamp is well inside Stripe's 300 s tolerance.
            batch = signed_requests(f"{run_id}c{concurrency}r{round_number}{name[0]}", round_size, secret)
            outcome = run_load(port, HANDLERS[name], batch, concurrency, deadline_seconds=deadline_seconds)
            totals[name].merge(outcome)
            print(f"  c={concurrency} {name:8s} round {round_number}: {len(outcome.latencies)} requests in "
                  f"{outcome.elapsed_seconds:.1f} s, statuses {outcome.statuses}, errors {outcome.errors}", flush=True)

        results[str(concurrency)] = {
            name: {**summarize(total.latencies),
                   "requests_per_second": round(len(total.latencies) / total.elapsed_seconds, 1),
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
    args = parser.parse_args()

    info = machine()
    stack = start_stack()
    try:
        for queue in (PRODUCT_QUEUE, BASELINE_QUEUE):
            set_queue_state(queue, running=False)
        run_id = time.strftime("%H%M%S")
        started = time.time()
        results = measure(stack, args.events, args.concurrency, run_id, args.deadline)
        path = write_result("ingest", {
            "script": "bench/ingest.py", "revision": git_revision(), "machine": info,
            "events_per_handler": args.events, "duration_seconds": round(time.time() - started, 1),
            "worker": "both queues paused in the Cloud Tasks emulator; no task was dispatched",
            "results": results,
        })
        print(f"wrote {path}")
    finally:
        stack.stop()


if __name__ == "__main__":
    main()
