"""Profile one process handling ingest requests, to find where the product spends time the baseline does not.

Starts the bench stack, loads bench/main.py into this process with
functions-framework's ``create_app``, and sends requests through Flask's test
client, so gunicorn and the network are out of the picture. It prints the mean
time per request of each handler and the top functions by cumulative time.

Run from the repository root: ``.venv/bin/python bench/profile_ingest.py [--requests N]``.
"""

import argparse
import cProfile
import io
import logging
import pstats
import time

from common import BASELINE_QUEUE, BENCH_DIR, PRODUCT_QUEUE, set_queue_state, signed_requests, start_stack

HANDLERS = {"baseline": "/baseline_ingest", "product": "/stripe_webhook"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300, help="requests per handler and pass")
    parser.add_argument("--top", type=int, default=30, help="rows of the profile to print")
    args = parser.parse_args()

    stack = start_stack()
    try:
        for queue in (PRODUCT_QUEUE, BASELINE_QUEUE):
            set_queue_state(queue, running=False)
        from functions_framework import create_app

        app = create_app("bench_router", str(BENCH_DIR / "main.py"))
        # The served functions write log lines to a file (LocalStack redirects stdout); so does this process.
        log_file = open(stack.log_dir / "profile.log", "a")
        for handler in logging.getLogger("acehooks").handlers:
            handler.setStream(log_file)
        client = app.test_client()
        secret = stack.env["STRIPE_WEBHOOK_SECRET"]
        run_id = time.strftime("%H%M%S")

        for name, path in HANDLERS.items():  # warm up clients and caches
            for body, headers in signed_requests(f"p{run_id}w{name[0]}", 30, secret):
                client.post(path, data=body, headers=headers)

        for name in ("baseline", "product", "product", "baseline"):
            batch = signed_requests(f"p{run_id}{name}{time.monotonic_ns()}", args.requests, secret)
            started = time.perf_counter()
            for body, headers in batch:
                assert client.post(HANDLERS[name], data=body, headers=headers).status_code == 200
            mean_ms = (time.perf_counter() - started) / len(batch) * 1000
            print(f"{name:8s} {mean_ms:.2f} ms per request in-process", flush=True)

        for name, path in HANDLERS.items():
            batch = signed_requests(f"p{run_id}prof{name}", args.requests, secret)
            profiler = cProfile.Profile()
            profiler.enable()
            for body, headers in batch:
                client.post(path, data=body, headers=headers)
            profiler.disable()
            text = io.StringIO()
            pstats.Stats(profiler, stream=text).sort_stats("cumulative").print_stats(args.top)
            print(f"==== {name}\n{text.getvalue()}")
    finally:
        stack.stop()


if __name__ == "__main__":
    main()
