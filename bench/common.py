"""Helpers shared by the benchmark scripts: the machine description, the stack, signed events, the load loop."""

import hashlib
import hmac
import http.client
import itertools
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = ROOT / "bench"
RESULTS_DIR = BENCH_DIR / "results"
STRIPE_SAMPLE = ROOT / "emulator_data" / "stripe" / "checkout.session.completed.json"

# Ports on 127.0.0.1 that the benchmarks use, as offsets from ACEHOOKS_BENCH_PORT_BASE (default 20300).
# The tests use ACEHOOKS_TEST_PORT_BASE (default 15000) plus offsets up to 700, so the two can run side by side.
PORT_BASE = int(os.environ.get("ACEHOOKS_BENCH_PORT_BASE", "20300"))
BENCH_PORTS = {"functions": PORT_BASE + 1, "mail": PORT_BASE + 25, "firestore": PORT_BASE + 80, "tasks": PORT_BASE + 90}
COLD_START_PORT = PORT_BASE + 11
PROCESS_PORTS = (PORT_BASE + 12, PORT_BASE + 13, PORT_BASE + 14)

ENDPOINT = "stripe_webhook"
PRODUCT_QUEUE = "stripe-webhook"
BASELINE_QUEUE = "bench-baseline"
REQUEST_TIMEOUT_SECONDS = 30

# Variables that would point the stack at someone else's emulators or configs; the benchmarks set their own.
FOREIGN_ENV = ("FIRESTORE_EMULATOR_HOST", "CLOUD_TASKS_EMULATOR_HOST", "ACEHOOKS_CONFIG_DIR", "ACEHOOKS_ACTIONS_MODULE",
               "ACEHOOKS_PROJECT", "ACEHOOKS_WORKER_URL", "ACEHOOKS_WORKER_SECRET", "SENDGRID_API_BASE_URL",
               "ACEHOOKS_COUNT_OPS", "ACEHOOKS_COUNT_OPS_FILE")


def machine() -> dict:
    """Describe the machine: cores, CPU model, Python version, load average when the run started."""
    model = "unknown"
    with open("/proc/cpuinfo") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "nproc": os.cpu_count(),
        "cpu_model": model,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_average_at_start": os.getloadavg(),
    }


def percentile(values: list[float], fraction: float) -> float:
    """Return the ``fraction`` quantile of ``values`` by linear interpolation between ranks."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    position = (len(ordered) - 1) * fraction
    lower = int(position)
    upper = min(lower + 1, len(ordered) - 1)
    return ordered[lower] + (ordered[upper] - ordered[lower]) * (position - lower)


def summarize(latencies_seconds: list[float]) -> dict:
    """Return p50, p95, p99, mean and max in milliseconds."""
    milliseconds = [value * 1000 for value in latencies_seconds]
    return {
        "count": len(milliseconds),
        "p50_ms": round(percentile(milliseconds, 0.50), 2),
        "p95_ms": round(percentile(milliseconds, 0.95), 2),
        "p99_ms": round(percentile(milliseconds, 0.99), 2),
        "mean_ms": round(statistics.fmean(milliseconds), 2) if milliseconds else None,
        "max_ms": round(max(milliseconds), 2) if milliseconds else None,
    }


def stripe_event(event_id: str, email: str) -> bytes:
    """Return the sample checkout event with a new event id, session id and email, formatting kept."""
    text = STRIPE_SAMPLE.read_text()
    text = text.replace('"evt_000000000000000000000000"', json.dumps(event_id), 1)
    text = text.replace('"cs_test_0000000000000000000000000000000000000000000000000000000000"',
                        json.dumps(f"cs_test_{event_id}"), 1)
    text = text.replace('"stripe@example.com"', json.dumps(email), 1)
    return text.encode()


def stripe_header(body: bytes, secret: str, timestamp: int | None = None) -> str:
    """Sign as Stripe does: ``t=<seconds>,v1=<hex HMAC-SHA256 of "{t}.{body}">``."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    signature = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={signature}"


def signed_requests(prefix: str, count: int, secret: str) -> list[tuple[bytes, dict]]:
    """Build ``count`` signed checkout events with unique ids ``{prefix}-{n}``."""
    requests = []
    for number in range(count):
        event_id = f"evt_{prefix}_{number:06d}"
        body = stripe_event(event_id, f"{prefix}-{number}@example.com")
        headers = {"Content-Type": "application/json", "Stripe-Signature": stripe_header(body, secret)}
        requests.append((body, headers))
    return requests


@dataclass
class LoadResult:
    latencies: list[float] = field(default_factory=list)  # seconds, one per completed request
    statuses: dict[int, int] = field(default_factory=dict)
    errors: int = 0
    elapsed_seconds: float = 0.0

    def merge(self, other: "LoadResult") -> None:
        self.latencies.extend(other.latencies)
        for status, count in other.statuses.items():
            self.statuses[status] = self.statuses.get(status, 0) + count
        self.errors += other.errors
        self.elapsed_seconds += other.elapsed_seconds


def run_load(port: int, path: str, requests: list[tuple[bytes, dict]], concurrency: int,
             deadline_seconds: float = 300.0) -> LoadResult:
    """POST every request to 127.0.0.1:``port``/``path`` from ``concurrency`` threads with keep-alive connections.

    Latency is measured per request, from sending it to reading the whole
    response. The loop stops at ``deadline_seconds`` even when requests remain.
    """
    counter = itertools.count()
    lock = threading.Lock()
    result = LoadResult()
    started = time.perf_counter()
    stop_at = started + deadline_seconds

    def client() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT_SECONDS)
        latencies, statuses, errors = [], {}, 0
        while time.perf_counter() < stop_at:
            index = next(counter)
            if index >= len(requests):
                break
            body, headers = requests[index]
            sent = time.perf_counter()
            try:
                connection.request("POST", path, body=body, headers=headers)
                response = connection.getresponse()
                response.read()
            except (OSError, http.client.HTTPException):
                errors += 1
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT_SECONDS)
                continue
            latencies.append(time.perf_counter() - sent)
            statuses[response.status] = statuses.get(response.status, 0) + 1
        connection.close()
        with lock:
            result.latencies.extend(latencies)
            for status, count in statuses.items():
                result.statuses[status] = result.statuses.get(status, 0) + count
            result.errors += errors

    threads = [threading.Thread(target=client) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    result.elapsed_seconds = time.perf_counter() - started
    return result


def scrub_environment() -> None:
    """Drop variables that would send the benchmark's clients to other emulators."""
    for name in FOREIGN_ENV:
        os.environ.pop(name, None)


def require_free_ports(ports) -> None:
    """Raise RuntimeError naming the first port on 127.0.0.1 that something already listens on.

    LocalStack waits for a port to accept connections, so a process left
    listening there would otherwise receive the benchmark's requests.
    """
    import socket

    for port in ports:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            # SO_REUSEADDR lets the bind succeed over connections in TIME_WAIT; only a listener makes it fail.
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                raise RuntimeError(f"port {port} on 127.0.0.1 is in use; stop what listens there or set "
                                   "ACEHOOKS_BENCH_PORT_BASE to another base") from None


def start_stack(count_ops_file: Path | None = None, functions_env: dict | None = None):
    """Start Firestore, Cloud Tasks, mail capture and bench/main.py on BENCH_PORTS; return the stack.

    The driver's own clients then use the same emulators through os.environ.
    """
    from acehooks.clients import reset_clients
    from acehooks.localstack import LocalStack, Ports
    from acehooks.settings import get_settings

    class BenchStack(LocalStack):
        def start_functions(self) -> None:
            env = {**self.env, **self.functions_env}
            if count_ops_file is not None:
                env.update(ACEHOOKS_COUNT_OPS="1", ACEHOOKS_COUNT_OPS_FILE=str(count_ops_file))
                command = [sys.executable, "-m", "acehooks.opcount"]
            else:
                command = [str(Path(sys.executable).parent / "functions-framework")]
            command += ["--target", "bench_router", "--source", str(BENCH_DIR / "main.py"),
                        "--host", "127.0.0.1", "--port", str(self.ports.functions)]
            self._spawn("functions", command, self.ports.functions, env=env)

        def start_mail(self) -> None:
            # Message files are not kept: thousands of them would only fill the disk.
            command = [sys.executable, "-m", "acehooks.mailcapture", "--port", str(self.ports.mail)]
            self._spawn("mail", command, self.ports.mail)

    require_free_ports([*BENCH_PORTS.values(), COLD_START_PORT, *PROCESS_PORTS])
    scrub_environment()
    # `timeout` and CI send SIGTERM; turning it into SystemExit runs the callers' `finally: stack.stop()`.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    stack = BenchStack(ROOT, ports=Ports(**BENCH_PORTS), log_dir=ROOT / ".acehooks" / "bench-logs",
                       functions_env=dict(functions_env or {}))
    for log in stack.log_dir.glob("*.log"):
        log.unlink()
    stack.start()
    for name in ("FIRESTORE_EMULATOR_HOST", "CLOUD_TASKS_EMULATOR_HOST", "ACEHOOKS_PROJECT", "ACEHOOKS_WORKER_URL",
                 "ACEHOOKS_WORKER_SECRET", "SENDGRID_API_BASE_URL", "STRIPE_WEBHOOK_SECRET"):
        os.environ[name] = stack.env[name]
    get_settings.cache_clear()
    reset_clients()
    return stack


def queue_path(name: str) -> str:
    from acehooks.settings import get_settings

    settings = get_settings()
    return f"projects/{settings.project}/locations/{settings.region}/queues/{name}"


def set_queue_state(name: str, running: bool, purge: bool = False) -> None:
    """Pause or resume a queue in the Cloud Tasks emulator, creating it when missing; optionally drop its tasks."""
    from google.api_core import exceptions

    from acehooks.clients import tasks_client

    client = tasks_client()
    path = queue_path(name)
    try:
        client.create_queue(parent=path.rsplit("/queues/", 1)[0], queue={"name": path})
    except exceptions.AlreadyExists:
        pass
    if purge:
        client.purge_queue(name=path)
    if running:
        client.resume_queue(name=path)
    else:
        client.pause_queue(name=path)


def process_tree_peak_rss(pid: int) -> dict:
    """Return VmHWM (peak RSS, KiB) of a process and each of its children, keyed by pid."""
    peaks = {}
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
        except FileNotFoundError:
            continue
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                peaks[current] = int(line.split()[1])
        for task in Path(f"/proc/{current}/task").iterdir():
            children = (task / "children").read_text().split()
            pending.extend(int(child) for child in children)
    return peaks


def process_tree_cpu_seconds(pid: int) -> float:
    """Return user plus system CPU seconds used so far by a process and its descendants that are alive."""
    ticks_per_second = os.sysconf("SC_CLK_TCK")
    total = 0
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            tasks = list(Path(f"/proc/{current}/task").iterdir())
        except FileNotFoundError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime and stime, in clock ticks
        for task in tasks:
            try:
                pending.extend(int(child) for child in (task / "children").read_text().split())
            except FileNotFoundError:
                continue
    return total / ticks_per_second


def write_result(name: str, data: dict) -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"
    path.write_text(json.dumps(data, indent=2) + "\n")
    return path


def git_revision() -> str:
    try:
        return subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, timeout=10).stdout.strip()
    except OSError:
        return "unknown"
