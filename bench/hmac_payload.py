"""Verification time of a 1 MiB Stripe delivery against hashing the same bytes with SHA-256.

Three timings of the same 1 MiB body, each the median of several repeats:

- ``sha256``: ``hashlib.sha256(body).digest()``, the baseline.
- ``stripe_verify``: acehooks' ``StripeAuth.verify``, which parses the header,
  checks the timestamp, computes HMAC-SHA256 of ``"{t}." + body`` per
  configured secret and compares in constant time. It runs with one secret
  set, and with two as during a secret rotation.
- ``hmac_streamed``: HMAC-SHA256 fed ``"{t}."`` and the body in two
  ``update`` calls, which skips the 1 MiB copy that concatenating them makes.

Run from the repository root: ``.venv/bin/python bench/hmac_payload.py``.
"""

import hashlib
import hmac
import json
import os
import statistics
import time
import timeit

from common import git_revision, machine, stripe_header, write_result

BODY_BYTES = 1024 * 1024
REPEATS = 9
CALLS_PER_REPEAT = 50
SECRET = "whsec_bench_secret_for_hmac_timing_only"
SECOND_SECRET = "whsec_bench_second_secret_for_hmac_timing"


def megabyte_body() -> bytes:
    """Return a JSON document of exactly BODY_BYTES bytes."""
    head = b'{"id": "evt_bench", "type": "checkout.session.completed", "padding": "'
    tail = b'"}'
    return head + b"x" * (BODY_BYTES - len(head) - len(tail)) + tail


def median_ms(function) -> float:
    runs = timeit.repeat(function, number=CALLS_PER_REPEAT, repeat=REPEATS)
    return round(statistics.median(runs) / CALLS_PER_REPEAT * 1000, 4)


def main() -> None:
    from werkzeug.datastructures import Headers

    from acehooks.auth import InboundRequest
    from acehooks.auth.stripe import StripeAuth

    body = megabyte_body()
    assert len(body) == BODY_BYTES
    header = stripe_header(body, SECRET)
    request = InboundRequest(method="POST", url="http://127.0.0.1/stripe_webhook",
                             headers=Headers({"Stripe-Signature": header}), body=body)
    timestamp = header.split(",")[0][2:]

    os.environ["BENCH_STRIPE_SECRET"] = SECRET
    os.environ["BENCH_STRIPE_SECRET_PREVIOUS"] = SECOND_SECRET
    one_secret = StripeAuth(method="stripe", secret_env=["BENCH_STRIPE_SECRET", "BENCH_UNSET_SECRET"])
    two_secrets = StripeAuth(method="stripe", secret_env=["BENCH_STRIPE_SECRET", "BENCH_STRIPE_SECRET_PREVIOUS"])
    one_secret.verify(request)
    two_secrets.verify(request)

    def streamed() -> bytes:
        mac = hmac.new(SECRET.encode(), timestamp.encode() + b".", hashlib.sha256)
        mac.update(body)
        return mac.digest()

    # Interleave the candidates so background load on the machine falls on each of them.
    timings = {"sha256": [], "stripe_verify_one_secret": [], "stripe_verify_two_secrets": [], "hmac_streamed": []}
    candidates = {
        "sha256": lambda: hashlib.sha256(body).digest(),
        "stripe_verify_one_secret": lambda: one_secret.verify(request),
        "stripe_verify_two_secrets": lambda: two_secrets.verify(request),
        "hmac_streamed": streamed,
    }
    for _ in range(3):
        for name, function in candidates.items():
            timings[name].append(median_ms(function))
    results = {name: statistics.median(values) for name, values in timings.items()}
    baseline = results["sha256"]
    ratios = {name: round(value / baseline, 3) for name, value in results.items()}

    info = machine()
    path = write_result("hmac", {
        "script": "bench/hmac_payload.py", "revision": git_revision(), "machine": info,
        "body_bytes": BODY_BYTES, "milliseconds_per_call": results, "ratio_to_sha256": ratios,
        "throughput_mib_per_second": {name: round(1000 / value, 1) for name, value in results.items()},
        "measured_at": time.strftime("%Y-%m-%d %H:%M:%S"),
    })
    print(json.dumps({"milliseconds_per_call": results, "ratio_to_sha256": ratios}, indent=2))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
