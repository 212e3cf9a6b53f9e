"""Cold start, peak memory and import time of the functions, against bare baselines.

Cold start: the time from starting ``functions-framework`` to the first 200
response, polling every 5 ms. Three kinds run in alternating order:

- ``product_ingest``: ``--target stripe_webhook --source functions/main.py``, a signed checkout event.
- ``product_worker``: ``--target process_event --source functions/main.py``, an event stored as ``received``.
- ``baseline``: ``bench/coldstart_baseline.py``, whose handler imports only the Firestore client and creates one document.

Peak memory: after the cold starts, one more process of each of
``product_ingest``, ``product_worker`` and ``baseline_ingest`` (bench/baseline.py)
serves a load, and VmHWM is read from /proc for the gunicorn worker process.

Import time: ``python -X importtime`` of functions/main.py, after
functions-framework's own imports, as it happens in a deployed function.

With ``--proposed``, a fourth kind, ``product_ingest_proposed``, runs the
ingest from the copy of acehooks that bench/proposed_package.py builds, and
the import times are measured for that copy too.

Run from the repository root: ``.venv/bin/python bench/coldstart.py``.
"""

import argparse
import http.client
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from common import (BENCH_DIR, BENCH_PORTS, COLD_START_PORT, ENDPOINT, PROCESS_PORTS, PRODUCT_QUEUE, ROOT,
                    BASELINE_QUEUE, git_revision, machine, process_tree_peak_rss, run_load, set_queue_state,
                    signed_requests, start_stack, write_result)
from proposed_package import build as build_proposed_package
from worker import store_received_events, task_requests

FUNCTIONS_FRAMEWORK = str(Path(sys.executable).parent / "functions-framework")
POLL_INTERVAL_SECONDS = 0.005
START_TIMEOUT_SECONDS = 60
MEMORY_INGEST_REQUESTS = 1000
MEMORY_WORKER_EVENTS = 300

KINDS = {
    "product_ingest": ["--target", ENDPOINT, "--source", str(ROOT / "functions" / "main.py")],
    "product_worker": ["--target", "process_event", "--source", str(ROOT / "functions" / "main.py")],
    "baseline": ["--target", "handler", "--source", str(BENCH_DIR / "coldstart_baseline.py")],
}
MEMORY_KINDS = {
    "product_ingest": KINDS["product_ingest"],
    "product_worker": KINDS["product_worker"],
    "baseline_ingest": ["--target", "baseline_ingest", "--source", str(BENCH_DIR / "baseline.py")],
}


def start_function(arguments: list[str], port: int, env: dict, log_path: Path) -> subprocess.Popen:
    with open(log_path, "ab") as log:
        return subprocess.Popen([FUNCTIONS_FRAMEWORK, *arguments, "--host", "127.0.0.1", "--port", str(port)],
                                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)


def stop_function(process: subprocess.Popen) -> None:
    """End the process group this script started, SIGKILL after 10 s."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=10)
    except ProcessLookupError:
        pass
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def first_ok(port: int, path: str, body: bytes, headers: dict, process: subprocess.Popen) -> tuple[float, int]:
    """Poll until a POST gets a status below 500; return the perf_counter time of that response and its status."""
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"function exited with {process.returncode} before its first response")
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            connection.request("POST", path, body=body, headers=headers)
            response = connection.getresponse()
            response.read()
            if response.status < 500:
                return time.perf_counter(), response.status
        except (ConnectionRefusedError, ConnectionResetError, http.client.RemoteDisconnected):
            pass
        finally:
            connection.close()
        time.sleep(POLL_INTERVAL_SECONDS)
    raise RuntimeError(f"no response below 500 on port {port} within {START_TIMEOUT_SECONDS} s")


def first_request(kind: str, stack, doc_ids: list[str]) -> tuple[str, bytes, dict]:
    if kind == "product_ingest":
        body, headers = signed_requests(f"cold{time.time_ns()}", 1, stack.env["STRIPE_WEBHOOK_SECRET"])[0]
        return "/", body, headers
    if kind == "product_worker":
        body, headers = task_requests(stack, [doc_ids.pop()])[0]
        return "/", body, headers
    return "/", b"{}", {"Content-Type": "application/json"}


def measure_cold_starts(stack, trials: int, doc_ids: list[str], log_dir: Path, proposed_path: Path | None) -> dict:
    kinds = dict(KINDS)
    environments = dict.fromkeys(kinds, stack.env)
    if proposed_path is not None:
        kinds["product_ingest_proposed"] = KINDS["product_ingest"]
        environments["product_ingest_proposed"] = {**stack.env, "PYTHONPATH": str(proposed_path)}
    timings: dict[str, list[dict]] = {kind: [] for kind in kinds}
    order = list(kinds)
    for trial in range(trials):
        for kind in (order if trial % 2 == 0 else order[::-1]):
            path, body, headers = first_request(kind.removesuffix("_proposed"), stack, doc_ids)
            started = time.perf_counter()
            process = start_function(kinds[kind], COLD_START_PORT, environments[kind], log_dir / f"cold-{kind}.log")
            try:
                answered, status = first_ok(COLD_START_PORT, path, body, headers, process)
            finally:
                stop_function(process)
            timings[kind].append({"seconds": round(answered - started, 3), "status": status})
            print(f"  cold start {kind:15s} trial {trial}: {answered - started:.3f} s (status {status})", flush=True)

    summary = {}
    for kind, runs in timings.items():
        seconds = sorted(run["seconds"] for run in runs)
        summary[kind] = {"median_seconds": seconds[len(seconds) // 2], "min_seconds": seconds[0],
                         "max_seconds": seconds[-1], "trials": runs}
    baseline = summary["baseline"]["median_seconds"]
    summary["ratios"] = {kind: round(summary[kind]["median_seconds"] / baseline, 3)
                         for kind in kinds if kind != "baseline"}
    return summary


def measure_memory(stack, doc_ids: list[str], log_dir: Path) -> dict:
    """Serve a load from one fresh process per kind and read the peak RSS of each process in its tree."""
    peaks = {}
    secret = stack.env["STRIPE_WEBHOOK_SECRET"]
    for (kind, arguments), port in zip(MEMORY_KINDS.items(), PROCESS_PORTS):
        process = start_function(arguments, port, stack.env, log_dir / f"memory-{kind}.log")
        try:
            if kind == "product_worker":
                requests = task_requests(stack, [doc_ids.pop() for _ in range(MEMORY_WORKER_EVENTS)])
                concurrency = 8
            else:
                requests = signed_requests(f"mem{kind}{time.time_ns()}", MEMORY_INGEST_REQUESTS, secret)
                concurrency = 32
            first_ok(port, "/", *requests[0], process)
            outcome = run_load(port, "/", requests[1:], concurrency)
            tree = process_tree_peak_rss(process.pid)
        finally:
            stop_function(process)
        worker_pids = [pid for pid in tree if pid != process.pid]
        peaks[kind] = {
            "requests": len(requests), "concurrency": concurrency, "statuses": outcome.statuses,
            "gunicorn_worker_vmhwm_kib": tree[worker_pids[0]] if worker_pids else None,
            "gunicorn_arbiter_vmhwm_kib": tree.get(process.pid),
        }
        print(f"  memory {kind:15s}: worker VmHWM {peaks[kind]['gunicorn_worker_vmhwm_kib']} KiB, "
              f"statuses {outcome.statuses}", flush=True)
    return peaks


IMPORT_LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)")


IMPORT_REPEATS = 5


def import_times(env: dict) -> dict:
    """Run ``python -X importtime`` on functions/main.py after functions-framework's imports, IMPORT_REPEATS times.

    Totals are medians over the runs; the largest packages come from the run with the median total.
    """
    runs = sorted((_import_time_once(env) for _ in range(IMPORT_REPEATS)), key=lambda run: run["main_total_ms"])
    median_run = runs[len(runs) // 2]
    return {
        **median_run,
        "main_total_ms_runs": [run["main_total_ms"] for run in runs],
        "first_request_imports_total_ms": sorted(run["first_request_imports_total_ms"] for run in runs)[len(runs) // 2],
    }


def _import_time_once(env: dict) -> dict:
    script = ("import functions_framework, flask, sys; print('--- main ---', file=sys.stderr, flush=True); "
              "sys.path.insert(0, 'functions'); import main; print('--- request ---', file=sys.stderr, flush=True); "
              "from google.cloud import firestore, tasks_v2")
    completed = subprocess.run([sys.executable, "-X", "importtime", "-c", script], cwd=ROOT, env=env,
                               capture_output=True, text=True, timeout=120, check=True)
    sections = {"framework": [], "main": [], "request": []}
    section = "framework"
    for line in completed.stderr.splitlines():
        if line.startswith("--- main"):
            section = "main"
            continue
        if line.startswith("--- request"):
            section = "request"
            continue
        match = IMPORT_LINE.match(line)
        if match:
            self_us, cumulative_us, indent, name = match.groups()
            sections[section].append({"module": name, "depth": len(indent) // 2,
                                      "self_ms": int(self_us) / 1000, "cumulative_ms": int(cumulative_us) / 1000})

    def top_level_total(entries):
        return round(sum(entry["cumulative_ms"] for entry in entries if entry["depth"] == 0), 1)

    def largest(entries, count):
        # Every package below the top level, largest first: the candidates for a deferred import.
        ranked = sorted((entry for entry in entries if entry["depth"] >= 1), key=lambda entry: -entry["cumulative_ms"])
        return [{**entry, "cumulative_ms": round(entry["cumulative_ms"], 1), "self_ms": round(entry["self_ms"], 1)}
                for entry in ranked[:count]]

    return {
        "main_total_ms": top_level_total(sections["main"]),
        "main_top": largest(sections["main"], 25),
        "main_modules": sorted({entry["module"].split(".")[0] for entry in sections["main"]}),
        "first_request_imports_total_ms": top_level_total(sections["request"]),
        "first_request_top": largest(sections["request"], 10),
        "framework_total_ms": top_level_total(sections["framework"]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=7, help="cold starts per kind")
    parser.add_argument("--proposed", action="store_true",
                        help="also measure the package copy with the proposed import changes")
    args = parser.parse_args()
    proposed_path = build_proposed_package() if args.proposed else None

    info = machine()
    started = time.time()
    stack = start_stack()
    try:
        for queue in (PRODUCT_QUEUE, BASELINE_QUEUE):
            set_queue_state(queue, running=False)
        doc_ids = store_received_events(stack, f"{time.strftime('%H%M%S')}cold",
                                        args.trials + MEMORY_WORKER_EVENTS + 5)
        set_queue_state(PRODUCT_QUEUE, running=False, purge=True)
        imports = {"current": import_times(stack.env)}
        if proposed_path is not None:
            imports["proposed"] = import_times({**stack.env, "PYTHONPATH": str(proposed_path)})
        for variant, times in imports.items():
            print(f"  import of functions/main.py ({variant}): {times['main_total_ms']} ms", flush=True)
        cold = measure_cold_starts(stack, args.trials, doc_ids, stack.log_dir, proposed_path)
        memory = measure_memory(stack, doc_ids, stack.log_dir)
        path = write_result("coldstart", {
            "script": "bench/coldstart.py", "revision": git_revision(), "machine": info,
            "duration_seconds": round(time.time() - started, 1),
            "cold_start": cold, "peak_memory": memory, "import_time": imports,
        })
        print(json.dumps({"ratios": cold["ratios"], "medians": {k: v["median_seconds"] for k, v in cold.items()
                                                               if k != "ratios"}}, indent=2))
        print(f"wrote {path}")
    finally:
        stack.stop()


if __name__ == "__main__":
    main()
