"""Sample which Python code holds the GIL in the functions process, product ingest against the baseline.

Starts the bench stack, loads each handler in turn at concurrency 8, and runs
``py-spy record --gil`` on the gunicorn worker process meanwhile. Samples are
taken only while a thread holds the GIL, so their count per request is the
Python time per request. The time spent in gRPC's C code and in the kernel is
not in it. Writes bench/results/gil-profile.json with the time per request and the
functions whose inclusive time differs most between the two handlers.

py-spy (requirements-bench.txt) must be allowed to attach to the process
(ptrace), which needs root or CAP_SYS_PTRACE in most containers.

Run from the repository root: ``.venv/bin/python bench/profile_gil.py``.
"""

import argparse
import collections
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import (BASELINE_QUEUE, BENCH_PORTS, PRODUCT_QUEUE, git_revision, machine, run_load, set_queue_state,
                    signed_requests, start_stack, write_result)

HANDLERS = {"product": "/stripe_webhook", "baseline": "/baseline_ingest"}
SAMPLE_RATE_HZ = 200
CONCURRENCY = 8
FRAME = re.compile(r"(.*) \((.*):(\d+)\)")


def gunicorn_worker_pid(arbiter_pid: int) -> int:
    children = subprocess.run(["pgrep", "-P", str(arbiter_pid)], capture_output=True, text=True).stdout.split()
    if not children:
        raise RuntimeError(f"no gunicorn worker under process {arbiter_pid}")
    return int(children[0])


def inclusive_samples(raw_path: Path) -> tuple[int, collections.Counter]:
    """Return the number of samples and, per function, the samples in which it is on the stack."""
    total, inclusive = 0, collections.Counter()
    for line in raw_path.read_text().splitlines():
        frames, _, count = line.rpartition(" ")
        if not frames:
            continue
        total += int(count)
        names = set()
        for frame in frames.split(";"):
            match = FRAME.match(frame)
            names.add(f"{match.group(1)} ({match.group(2).split('site-packages/')[-1]})" if match else frame)
        for name in names:
            inclusive[name] += int(count)
    return total, inclusive


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=12, help="seconds of sampling per handler; default 12")
    args = parser.parse_args()
    py_spy = str(Path(sys.executable).parent / "py-spy")

    stack = start_stack()
    profiles = {}
    try:
        for queue in (PRODUCT_QUEUE, BASELINE_QUEUE):
            set_queue_state(queue, running=False)
        secret = stack.env["STRIPE_WEBHOOK_SECRET"]
        for name, path in HANDLERS.items():
            run_load(BENCH_PORTS["functions"], path, signed_requests(f"gilw{name}{time.time_ns()}", 200, secret),
                     CONCURRENCY)
            worker = gunicorn_worker_pid(stack.processes["functions"].pid)
            requests = signed_requests(f"gil{name}{time.time_ns()}", 5000, secret)
            with tempfile.TemporaryDirectory() as directory:
                raw_path = Path(directory) / "samples.txt"
                sampler = subprocess.Popen([py_spy, "record", "--pid", str(worker), "--duration", str(args.seconds),
                                            "--rate", str(SAMPLE_RATE_HZ), "--format", "raw", "--gil",
                                            "--nonblocking", "--output", str(raw_path)],
                                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                time.sleep(0.5)
                outcome = run_load(BENCH_PORTS["functions"], path, requests, CONCURRENCY,
                                   deadline_seconds=args.seconds - 1)
                sampler.wait()
                total, inclusive = inclusive_samples(raw_path)
            served = len(outcome.latencies)
            profiles[name] = {"requests": served, "samples": total,
                              "python_ms_per_request": round(total / SAMPLE_RATE_HZ / served * 1000, 3),
                              "inclusive": inclusive}
            print(f"{name}: {served} requests, {profiles[name]['python_ms_per_request']} ms of Python per request")
    finally:
        stack.stop()

    def per_request_ms(name: str, function: str) -> float:
        return profiles[name]["inclusive"].get(function, 0) / SAMPLE_RATE_HZ / profiles[name]["requests"] * 1000

    functions = set(profiles["product"]["inclusive"]) | set(profiles["baseline"]["inclusive"])
    ranked = sorted(functions, key=lambda function: per_request_ms("baseline", function)
                    - per_request_ms("product", function))
    differences = [{"function": function, "product_ms": round(per_request_ms("product", function), 3),
                    "baseline_ms": round(per_request_ms("baseline", function), 3)} for function in ranked[:30]]
    path = write_result("gil-profile", {
        "script": "bench/profile_gil.py", "revision": git_revision(), "machine": machine(),
        "concurrency": CONCURRENCY, "sample_rate_hz": SAMPLE_RATE_HZ,
        "python_ms_per_request": {name: profile["python_ms_per_request"] for name, profile in profiles.items()},
        "largest_differences": differences,
    })
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
