"""Start and stop the local stack: Firestore and Cloud Tasks emulators, mail capture, functions.

Every child runs in its own process group, and ``stop`` ends each group,
so no emulator or gunicorn worker outlives the stack.
"""

import logging
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from .settings import LOCAL_PROJECT

logger = logging.getLogger(__name__)

STARTUP_TIMEOUT_SECONDS = 60
STOP_TIMEOUT_SECONDS = 10
LOCAL_ENV_FILE = Path("emulator_data/local.env")
# Written by `acehooks dev` while it runs, so other commands (events, replay, sweep) reach its stack.
DEV_ENV_FILE = Path(".acehooks/dev.env")
DEV_ENV_NAMES = ("FIRESTORE_EMULATOR_HOST", "CLOUD_TASKS_EMULATOR_HOST", "ACEHOOKS_PROJECT", "ACEHOOKS_WORKER_URL",
                 "ACEHOOKS_WORKER_SECRET", "SENDGRID_API_BASE_URL")
MAX_EMULATOR_RETRIES = 100  # bounds the Cloud Tasks emulator's immediate, back-off-free retries


@dataclass
class Ports:
    functions: int = 5001
    firestore: int = 8080
    tasks: int = 9090
    mail: int = 5025

    @classmethod
    def from_environment(cls) -> "Ports":
        defaults = cls()
        return cls(
            functions=int(os.environ.get("ACEHOOKS_FUNCTIONS_PORT", defaults.functions)),
            firestore=int(os.environ.get("ACEHOOKS_FIRESTORE_PORT", defaults.firestore)),
            tasks=int(os.environ.get("ACEHOOKS_TASKS_PORT", defaults.tasks)),
            mail=int(os.environ.get("ACEHOOKS_MAIL_PORT", defaults.mail)),
        )


def load_env_file(path: Path, environment: dict) -> None:
    """Add ``NAME=value`` lines from ``path`` to ``environment`` without overriding what is set."""
    if not path.is_file():
        return
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        name, _, value = line.partition("=")
        environment.setdefault(name.strip(), value.strip())


def wait_for_port(port: int, process: subprocess.Popen | None, name: str, log_path: Path) -> None:
    """Wait until 127.0.0.1:``port`` accepts connections; raise RuntimeError with the log's tail if not."""
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            break
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    tail = log_path.read_text(errors="replace")[-2000:] if log_path.exists() else "(no log)"
    state = f"exited with {process.returncode}" if process is not None and process.poll() is not None else "timed out"
    raise RuntimeError(f"{name} did not start on port {port} ({state}); log {log_path}:\n{tail}")


@dataclass
class LocalStack:
    """The local processes, rooted at the project directory ``root``."""

    root: Path
    ports: Ports = field(default_factory=Ports.from_environment)
    log_dir: Path | None = None
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    env: dict = field(default_factory=dict)
    # Variables that differ for the functions process alone (tests route it through fault proxies).
    functions_env: dict = field(default_factory=dict)

    def __post_init__(self):
        self.root = self.root.resolve()
        self.log_dir = (self.log_dir or self.root / ".acehooks" / "logs").resolve()
        self.log_dir.mkdir(parents=True, exist_ok=True)

    @property
    def functions_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.functions}"

    def build_env(self) -> dict:
        """Return the environment the functions run with: emulator hosts, local secrets and URLs."""
        env = dict(os.environ)
        load_env_file(self.root / LOCAL_ENV_FILE, env)
        env.setdefault("FIRESTORE_EMULATOR_HOST", f"127.0.0.1:{self.ports.firestore}")
        env["CLOUD_TASKS_EMULATOR_HOST"] = f"127.0.0.1:{self.ports.tasks}"
        env.setdefault("ACEHOOKS_PROJECT", LOCAL_PROJECT)
        env.setdefault("GOOGLE_CLOUD_PROJECT", env["ACEHOOKS_PROJECT"])
        env["ACEHOOKS_WORKER_URL"] = f"{self.functions_url}/process_event"
        env.setdefault("ACEHOOKS_WORKER_SECRET", secrets.token_urlsafe(24))
        env["SENDGRID_API_BASE_URL"] = f"http://127.0.0.1:{self.ports.mail}"
        env.setdefault("ACEHOOKS_CONFIG_DIR", str(self.root / "functions" / "endpoints"))
        env.setdefault("ACEHOOKS_ACTIONS_MODULE", str(self.root / "functions" / "actions.py"))
        env.setdefault("THREADS", "32")  # functions-framework's gunicorn threads per process
        env["PYTHONUNBUFFERED"] = "1"
        return env

    def _spawn(self, name: str, command: list[str], port: int, env: dict | None = None) -> None:
        log_path = self.log_dir / f"{name}.log"
        log_file = open(log_path, "ab")
        process = subprocess.Popen(
            command, cwd=self.root, env=env or self.env, stdout=log_file, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )
        log_file.close()
        self.processes[name] = process
        wait_for_port(port, process, name, log_path)

    def start_firestore(self) -> None:
        if "FIRESTORE_EMULATOR_HOST" in os.environ:
            print(f"using the Firestore emulator at {os.environ['FIRESTORE_EMULATOR_HOST']}", flush=True)
            return
        server = self.root / "tools" / "firestore-emulator" / "server.js"
        self._spawn("firestore", ["node", str(server), str(self.ports.firestore)], self.ports.firestore)

    def start_tasks(self) -> None:
        binary = self.root / ".acehooks" / "tasks-venv" / "bin" / "gcloud-tasks-emulator"
        if not binary.exists():
            raise RuntimeError(f"{binary} not found; run scripts/install.sh first")
        command = [str(binary), "start", "-p", str(self.ports.tasks), "-q", "-r", str(MAX_EMULATOR_RETRIES)]
        self._spawn("tasks", command, self.ports.tasks)

    def start_mail(self) -> None:
        command = [sys.executable, "-m", "acehooks.mailcapture", "--port", str(self.ports.mail),
                   "--dir", str(self.log_dir / "mail")]
        self._spawn("mail", command, self.ports.mail)

    def start_functions(self) -> None:
        binary = Path(sys.executable).parent / "functions-framework"
        command = [str(binary), "--target", "acehooks_local", "--source", str(self.root / "functions" / "main.py"),
                   "--host", "127.0.0.1", "--port", str(self.ports.functions)]
        self._spawn("functions", command, self.ports.functions, env={**self.env, **self.functions_env})

    def create_queues(self) -> list[str]:
        """Create one Cloud Tasks queue per endpoint in the emulator, as deploy does in Google Cloud."""
        from . import dispatch, runtime
        from .clients import reset_clients
        from .settings import get_settings

        saved = dict(os.environ)
        os.environ.update({key: self.env[key] for key in ("CLOUD_TASKS_EMULATOR_HOST", "ACEHOOKS_PROJECT",
                                                          "ACEHOOKS_CONFIG_DIR", "ACEHOOKS_ACTIONS_MODULE")})
        get_settings.cache_clear()
        reset_clients()
        try:
            names = list(runtime.load_all_endpoints())
            for name in names:
                dispatch.ensure_queue(name)
            return names
        finally:
            os.environ.clear()
            os.environ.update(saved)
            get_settings.cache_clear()
            reset_clients()

    def start(self) -> None:
        """Start every process and create the queues; on failure stop what started and re-raise."""
        self.env = self.build_env()
        try:
            self.start_firestore()
            self.start_tasks()
            self.start_mail()
            self.endpoints = self.create_queues()
            self.start_functions()
        except BaseException:
            self.stop()
            raise

    def write_env_file(self) -> None:
        """Write the stack's addresses and worker secret to DEV_ENV_FILE (mode 600); ``stop`` removes it."""
        path = self.root / DEV_ENV_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        lines = [f"{name}={self.env[name]}" for name in DEV_ENV_NAMES if name in self.env]
        path.touch(mode=0o600)
        path.write_text("\n".join(lines) + "\n")
        self._env_file = path

    def stop(self) -> None:
        """Send SIGTERM to every child's process group, then SIGKILL to any still running."""
        for process in self.processes.values():
            _signal_group(process, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
        for process in self.processes.values():
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _signal_group(process, signal.SIGKILL)
                process.wait()
        self.processes.clear()
        env_file = getattr(self, "_env_file", None)
        if env_file is not None and env_file.exists():
            env_file.unlink()

    def restart(self, name: str) -> None:
        """Stop and start one child (tests use it to simulate an outage)."""
        self.stop_one(name)
        getattr(self, f"start_{name}")()

    def stop_one(self, name: str, signum: int = signal.SIGTERM) -> None:
        """Stop one child; tests pass SIGKILL to simulate a crash."""
        process = self.processes.pop(name, None)
        if process is None:
            return
        _signal_group(process, signum)
        try:
            process.wait(timeout=STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            _signal_group(process, signal.SIGKILL)
            process.wait()

    def describe(self) -> str:
        lines = [f"functions      {self.functions_url}"]
        for name in getattr(self, "endpoints", []):
            lines.append(f"  endpoint     {self.functions_url}/{name}  (also /{self.env['ACEHOOKS_PROJECT']}/"
                         f"{self.env.get('ACEHOOKS_REGION', 'us-central1')}/{name})")
        lines.append(f"  worker       {self.functions_url}/process_event")
        lines.append(f"firestore      {self.env['FIRESTORE_EMULATOR_HOST']}")
        lines.append(f"cloud tasks    {self.env['CLOUD_TASKS_EMULATOR_HOST']}")
        lines.append(f"mail capture   http://127.0.0.1:{self.ports.mail}/messages")
        lines.append(f"logs           {self.log_dir}")
        return "\n".join(lines)


def _signal_group(process: subprocess.Popen, signum: int) -> None:
    try:
        os.killpg(process.pid, signum)
    except ProcessLookupError:
        pass
